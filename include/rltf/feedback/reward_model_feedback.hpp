#pragma once
/// \file
/// rltf::RewardModelFeedback — a rltf::RewardModel as a rltf::Feedback (RLAIF for code,
/// docs/rlaif.md): the sequence reward is `scale · model.score(instruction, completion) + offset`,
/// with the instruction read from the sample (its prompt, unless an `instruction_of` function says
/// otherwise); no token-level rewards. Composes with the unit-test feedbacks in one line:
///
///     auto reward = rltf::sum(rltf::RewardModelFeedback(reward_model), rltf::Coarse{});
///
/// The model is held by reference and must outlive the feedback; its score() is called from the
/// trainer's thread only.

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "rltf/core/error.hpp"
#include "rltf/core/execution_result.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/core/sample.hpp"
#include "rltf/feedback/feedback.hpp"
#include "rltf/feedback/reward_model.hpp"

namespace rltf {

/// Options of RewardModelFeedback.
struct RewardModelFeedbackOptions {
  float scale = 1.0F;  ///< R = scale · score + offset
  float offset = 0.0F; ///< e.g. minus the SFT policy's mean score, to centre the reward
};
RLTF_OPTIONS_JSON(RewardModelFeedbackOptions, scale, offset)

template <RewardModel M>
class RewardModelFeedback {
public:
  /// The instruction a sample answers: its prompt by default.
  using InstructionOf = std::function<std::string(const Sample&)>;

  explicit RewardModelFeedback(M& model, RewardModelFeedbackOptions options = {}, InstructionOf instruction_of = {})
      : model_(&model), options_(options), instruction_of_(std::move(instruction_of)) {}

  [[nodiscard]] TokenRewards operator()(const Sample& sample, const ExecutionResult&, const TokenOffsets&) const {
    const float score = instruction_of_ ? static_cast<float>(model_->score(instruction_of_(sample), sample.text))
                                        : static_cast<float>(model_->score(sample.prompt, sample.text));
    return TokenRewards{options_.scale * score + options_.offset, {}};
  }

  [[nodiscard]] const RewardModelFeedbackOptions& options() const noexcept { return options_; }

private:
  M* model_;
  RewardModelFeedbackOptions options_;
  InstructionOf instruction_of_;
};

static_assert(Feedback<RewardModelFeedback<archetypes::reward_model>>);

} // namespace rltf
