#pragma once
/// \file
/// The RewardModel and TrainableRewardModel concepts.
///
/// Requirements (m: M, instruction, code: std::string_view, data: span<const LabelledExample>):
/// - `m.score(instruction, code)` returns a float: higher is better (for a trained classifier,
///   the logit of "accepted");
/// - TrainableRewardModel additionally: `m.train(data)` fits the model on labelled examples and
///   returns its RewardModelReport.

#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace rltf {

/// An (instruction, code) pair labelled accepted or rejected (RLAIF, docs/training.md).
struct LabelledExample {
  std::string instruction;
  std::string code;
  bool accepted = false;
};

/// What training a reward model reports.
struct RewardModelReport {
  double final_loss = 0.0;
  double train_accuracy = 0.0;
  double heldout_accuracy = 0.0;
  double heldout_auc = 0.0; ///< ROC AUC on the held-out part (0 when there is none or it has one class)
  std::size_t heldout = 0;  ///< examples held out of training
  std::size_t steps = 0;
};

template <class M>
concept RewardModel = requires(M& m, std::string_view instruction, std::string_view code) {
  { m.score(instruction, code) } -> std::convertible_to<float>;
};

template <class M>
concept TrainableRewardModel = RewardModel<M> && requires(M& m, std::span<const LabelledExample> data) {
  { m.train(data) } -> std::same_as<RewardModelReport>;
};

/// Evaluates to true; fails with a readable message when M does not model RewardModel.
template <class M>
constexpr bool assert_reward_model() {
  static_assert(RewardModel<M>,
                "rltf: this type is not a RewardModel. A reward model needs `float score(std::string_view instruction, "
                "std::string_view code)`; see rltf/feedback/reward_model.hpp");
  return true;
}

namespace archetypes {
/// The minimal model of TrainableRewardModel (and so of RewardModel).
struct reward_model {
  float score(std::string_view, std::string_view);
  RewardModelReport train(std::span<const LabelledExample>);
};
} // namespace archetypes

static_assert(TrainableRewardModel<archetypes::reward_model>);

} // namespace rltf
