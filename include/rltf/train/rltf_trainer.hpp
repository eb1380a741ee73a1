#pragma once
/// \file
/// rltf::RltfTrainer — online RLTF (docs/training.md, docs/feedback.md): unit-test feedback turned into token-level
/// rewards, a FIFO buffer, and the loss
///
///     r_it = (R_i − b_i) + token_it          (token_it = α_i·R_fine·m_it from the feedbacks)
///     L_RL = −(1/ΣT_i) Σ r_it · log π(w_it),   L = L_RL + λ_sl · L_SL
///
/// where L_SL is the token-mean cross-entropy on ground-truth solutions and b_i is a baseline
/// (none, the latest greedy decode's reward, the historical best, or the group mean).
///
/// \code
/// rltf::EigenPolicy policy{rltf::CharTokenizer::bytes(), {}};
/// rltf::PythonExecutor executor;
/// auto feedback = rltf::sum(rltf::AdaptiveFeedback{}, rltf::FineGrainedFeedback{});
/// rltf::RltfTrainer trainer{policy, executor, feedback, problems,
///                           rltf::RltfOptions{.learner = {.steps = 100, .optimizer = {.lr = 1e-3F}}}};
/// trainer.train();
/// \endcode

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/algo/advantages.hpp"
#include "rltf/algo/grad.hpp"
#include "rltf/algo/padded.hpp"
#include "rltf/algo/rltf_loss.hpp"
#include "rltf/buffer/online_buffer.hpp"
#include "rltf/core/error.hpp"
#include "rltf/core/problem.hpp"
#include "rltf/detail/random.hpp"
#include "rltf/exec/python_executor.hpp"
#include "rltf/feedback/rltf_feedback.hpp"
#include "rltf/train/diagnostics.hpp"
#include "rltf/train/online_trainer.hpp"
#include "rltf/train/options.hpp"
#include "rltf/train/rollout.hpp"
#include "rltf/train/sft.hpp"
#include "rltf/train/trainable_policy.hpp"

namespace rltf {

/// RLTF's objective: baselines, r_it, and L = L_RL + λ_sl·L_SL. Its state (the per-problem
/// greedy and best rewards) is checkpointed.
class RltfObjective {
public:
  /// `supervised` are the ground-truth targets of L_SL (see supervised_samples()).
  explicit RltfObjective(RltfLossOptions options = {}, std::vector<Sample> supervised = {})
      : options_(options), supervised_(std::move(supervised)) {
    if (options_.sl_coef < 0.0F) throw invalid_argument("RltfObjective: sl_coef must be ≥ 0");
    if (options_.sl_coef > 0.0F && options_.sl_batch_size == 0)
      throw invalid_argument("RltfObjective: sl_batch_size must be ≥ 1");
    if (options_.ratio_clip < 0.0F) throw invalid_argument("RltfObjective: ratio_clip must be ≥ 0");
    if (options_.norm_length < 0.0F) throw invalid_argument("RltfObjective: norm_length must be ≥ 0");
  }

  /// Sets baseline and r_it for one problem's rollouts of a round: R − b from the baseline, or
  /// for leave_one_out and group_norm the group estimators of algo::group_advantages (RLOO, GRPO).
  void assign(std::span<Rollout> group, const Rollout* greedy) {
    if (group.empty()) return;
    std::vector<float> rewards;
    rewards.reserve(group.size());
    for (const auto& r : group) rewards.push_back(r.reward);
    const float b = baselines_.update(group[0].sample.problem, rewards,
                                      greedy != nullptr ? std::optional<float>(greedy->reward) : std::nullopt);
    std::vector<float> adv;
    if (options_.baseline == Baseline::leave_one_out)
      adv = algo::group_advantages(rewards, rewards.size(), algo::AdvantageEstimator::rloo);
    else if (options_.baseline == Baseline::group_norm)
      adv = algo::group_advantages(rewards, rewards.size(), algo::AdvantageEstimator::grpo);
    for (std::size_t i = 0; i < group.size(); ++i) {
      Rollout& r = group[i];
      r.baseline = b;
      const float a = adv.empty() ? r.reward - b : adv[i];
      for (auto& w : r.weights) w += a;
    }
  }

  /// Nothing to prepare.
  template <class P>
  void prepare(P&, std::span<Rollout>) {}

  /// L_RL on `batch` (and λ_sl·L_SL on ground-truth targets), back-propagated into the policy.
  template <TrainablePolicy P>
  LossReport learn(P& policy, std::span<const Rollout> batch, std::size_t step, Rng& rng) {
    using B = typename P::backend;
    const bool with_sl = options_.sl_coef > 0.0F && !supervised_.empty();
    const bool alternate = with_sl && options_.sl_mode == SupervisedMode::alternate;
    const bool do_rl = !alternate || step % 2 == 0;
    const bool do_sl = with_sl && (!alternate || step % 2 == 1);
    LossReport report;
    if (do_rl && !batch.empty()) {
      std::vector<Sample> samples;
      std::vector<std::vector<float>> weights;
      samples.reserve(batch.size());
      double reward = 0.0;
      for (const auto& r : batch) {
        samples.push_back(r.sample);
        weights.push_back(r.weights);
        reward += r.reward;
      }
      const auto logp = policy.log_probs(samples);
      const auto t_max = static_cast<std::size_t>(B::shape(logp).at(1));
      const auto mask = algo::completion_mask<B>(samples);
      const auto w = algo::padded_to<B>(weights, t_max);
      const auto behaviour = behaviour_logprobs<B>(batch, t_max);
      const algo::LossGrad<B> lg = [&] {
        if (options_.ratio_clip == 0.0F)
          return algo::policy_gradient_loss_grad<B>(logp, w, mask, options_.reduction, options_.norm_length);
        // π_old: the behaviour policy for stale rollouts, the learner itself (ρ = 1) for fresh ones.
        const auto current = B::values(B::detach(logp));
        auto old = B::values(behaviour);
        for (std::size_t i = 0; i < batch.size(); ++i)
          if (batch[i].version >= step)
            std::copy_n(current.begin() + static_cast<std::ptrdiff_t>(i * t_max), t_max,
                        old.begin() + static_cast<std::ptrdiff_t>(i * t_max));
        const auto o = B::from_values(old, B::shape(logp));
        report.parts["clip_fraction"] = algo::ppo_clip_fraction<B>(B::detach(logp), o, mask, options_.ratio_clip);
        return algo::clipped_surrogate_grad<B>(logp, o, w, mask, options_.ratio_clip, options_.reduction,
                                               options_.norm_length);
      }();
      backward_logprobs(policy, samples, logp, lg.grad);
      const float rl = B::item(lg.loss);
      report.loss += rl;
      report.parts["rl"] = rl;
      batch_diagnostics<B>(logp, behaviour, mask, batch, step, report.parts);
      report.parts["kl"] = report.parts["kl_behavior"];
      report.parts["batch_reward"] = static_cast<float>(reward / static_cast<double>(batch.size()));
    }
    if (do_sl) {
      std::vector<Sample> targets;
      for (std::size_t i = 0; i < options_.sl_batch_size; ++i)
        targets.push_back(supervised_[rltf::detail::uniform_index(rng, supervised_.size())]);
      const auto logp = policy.log_probs(targets);
      const auto mask = algo::completion_mask<B>(targets);
      const auto lg = options_.sl_coef * algo::cross_entropy_grad<B>(logp, mask, algo::Reduction::token_mean);
      backward_logprobs(policy, targets, logp, lg.grad);
      const float sl = B::item(lg.loss);
      report.loss += sl;
      report.parts["sl"] = sl / options_.sl_coef;
    }
    return report;
  }

  /// The per-problem baseline state as JSON (no files).
  [[nodiscard]] nlohmann::json save(const std::filesystem::path&) const { return baselines_.to_json(); }
  /// `dir` is the checkpoint's objective/ folder; `state` is the "objective" field of its
  /// trainer.json. A state written with another baseline is refused (rltf::checkpoint_mismatch).
  void load(const std::filesystem::path& dir, const nlohmann::json& state) {
    const auto file = (dir.parent_path() / "trainer.json").string();
    auto restored = algo::BaselineTracker::from_json(state, file);
    if (restored.kind() != options_.baseline)
      throw checkpoint_mismatch(file, 0, "objective.kind",
                                "the checkpoint was made with the '" + std::string(to_string(restored.kind())) +
                                    "' baseline, this run asks for '" + std::string(to_string(options_.baseline)) +
                                    "'");
    baselines_ = std::move(restored);
  }

  [[nodiscard]] const RltfLossOptions& options() const noexcept { return options_; }
  [[nodiscard]] const std::vector<Sample>& supervised() const noexcept { return supervised_; }
  /// The reward of the latest greedy decode of a problem, if any.
  [[nodiscard]] std::optional<float> last_greedy(std::size_t problem) const { return baselines_.last_greedy(problem); }
  /// The best reward seen for a problem, if any.
  [[nodiscard]] std::optional<float> best(std::size_t problem) const { return baselines_.best(problem); }

private:
  RltfLossOptions options_;
  std::vector<Sample> supervised_;
  algo::BaselineTracker baselines_{options_.baseline};
};

/// The online RLTF trainer: OnlineTrainer with RltfObjective, built from one RltfOptions. The
/// executor, feedback and buffer default to RLTF's (rltf::Rltf<P> names that composition).
template <TrainablePolicy P, Executor E = PythonExecutor, Feedback F = RltfFeedback, Buffer Buf = OnlineBuffer<Rollout>>
class RltfTrainer : public OnlineTrainer<P, E, F, Buf, RltfObjective> {
  using base = OnlineTrainer<P, E, F, Buf, RltfObjective>;

public:
  /// Trains `policy` on `problems` (tests are what RL needs). The supervised term uses the
  /// reference solutions of `supervised` — by default, those of `problems`.
  RltfTrainer(P& policy, E& executor, F feedback, std::vector<Problem> problems, RltfOptions options = {},
              std::span<const Problem> supervised = {})
      : base(policy, executor, std::move(feedback), problems, options.rollout, options.learner, options.run,
             RltfObjective(with_norm_length(options.loss, options.rollout),
                           supervised_samples(policy.tokenizer(),
                                              supervised.empty() ? std::span<const Problem>(problems) : supervised)),
             make_buffer<Buf>(options.learner)) {
    if (options.loss.baseline == Baseline::greedy && !options.rollout.greedy_baseline)
      throw invalid_argument("RltfTrainer: the greedy baseline needs rollout.greedy_baseline = true");
  }

private:
  /// seq_mean_token_sum_norm's L defaults to the generation budget (Dr. GRPO's constant).
  static RltfLossOptions with_norm_length(RltfLossOptions loss, const RolloutOptions& rollout) {
    if (loss.reduction == algo::Reduction::seq_mean_token_sum_norm && loss.norm_length == 0.0F)
      loss.norm_length = static_cast<float>(rollout.sampling.max_new_tokens);
    return loss;
  }
};

/// RLTF's common composition: the online trainer with the Python executor, the RLTF feedback
/// (adaptive + fine-grained) and the FIFO buffer.
///
///     rltf::PythonExecutor executor;
///     rltf::Rltf<MyPolicy> trainer{policy, executor, rltf::RltfFeedback{}, problems, options};
template <TrainablePolicy P>
using Rltf = RltfTrainer<P, PythonExecutor, RltfFeedback, OnlineBuffer<Rollout>>;

} // namespace rltf
