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

#include "rltf/algo/grad.hpp"
#include "rltf/algo/padded.hpp"
#include "rltf/algo/rltf_loss.hpp"
#include "rltf/buffer/online_buffer.hpp"
#include "rltf/core/error.hpp"
#include "rltf/core/problem.hpp"
#include "rltf/detail/random.hpp"
#include "rltf/exec/python_executor.hpp"
#include "rltf/feedback/rltf_feedback.hpp"
#include "rltf/train/online_trainer.hpp"
#include "rltf/train/options.hpp"
#include "rltf/train/rollout.hpp"
#include "rltf/train/trainable_policy.hpp"

namespace rltf {

/// Supervised targets: one Sample per (problem, reference solution), tokenised as the policy
/// sees them — prompt tokens, then the solution's tokens followed by eos.
template <Tokenizer T>
[[nodiscard]] std::vector<Sample> supervised_samples(const T& tokenizer, std::span<const Problem> problems) {
  std::vector<Sample> out;
  for (std::size_t i = 0; i < problems.size(); ++i)
    for (const auto& solution : problems[i].solutions) {
      Sample s;
      s.problem = i;
      s.task_id = problems[i].task_id;
      s.prompt = problems[i].prompt;
      s.prompt_tokens = tokenizer.encode(problems[i].prompt);
      s.tokens = tokenizer.encode(solution);
      s.tokens.push_back(static_cast<token_id>(tokenizer.eos_id()));
      s.text = solution;
      out.push_back(std::move(s));
    }
  return out;
}

namespace detail {
template <Backend B>
[[nodiscard]] tensor_t<B> train_mask(std::span<const Sample> samples) {
  std::vector<std::size_t> lengths;
  std::size_t t_max = 0;
  for (const auto& s : samples) {
    lengths.push_back(s.tokens.size());
    t_max = std::max(t_max, s.tokens.size());
  }
  return algo::length_mask<B>(lengths, t_max);
}
/// Pads rows to exactly `t_max` columns.
template <Backend B>
[[nodiscard]] tensor_t<B> train_padded(const std::vector<std::vector<float>>& rows, std::size_t t_max) {
  std::vector<float> v(rows.size() * t_max, 0.0F);
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::copy_n(rows[i].begin(), std::min(rows[i].size(), t_max), v.begin() + static_cast<std::ptrdiff_t>(i * t_max));
  return B::from_values(v, Shape{static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(t_max)});
}
} // namespace detail

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
  }

  /// Sets baseline and r_it for one problem's rollouts of a round.
  void assign(std::span<Rollout> group, const Rollout* greedy) {
    if (group.empty()) return;
    std::vector<float> rewards;
    rewards.reserve(group.size());
    for (const auto& r : group) rewards.push_back(r.reward);
    const float b = baselines_.update(group[0].sample.problem, rewards,
                                      greedy != nullptr ? std::optional<float>(greedy->reward) : std::nullopt);
    for (auto& r : group) {
      r.baseline = b;
      for (auto& w : r.weights) w += r.reward - b;
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
      const auto mask = detail::train_mask<B>(samples);
      const auto w = detail::train_padded<B>(weights, t_max);
      const auto lg = algo::policy_gradient_loss_grad<B>(logp, w, mask, options_.reduction);
      backward_logprobs(policy, samples, logp, lg.grad);
      const float rl = B::item(lg.loss);
      report.loss += rl;
      report.parts["rl"] = rl;
      report.parts["batch_reward"] = static_cast<float>(reward / static_cast<double>(batch.size()));
    }
    if (do_sl) {
      std::vector<Sample> targets;
      for (std::size_t i = 0; i < options_.sl_batch_size; ++i)
        targets.push_back(supervised_[rltf::detail::uniform_index(rng, supervised_.size())]);
      const auto logp = policy.log_probs(targets);
      const auto mask = detail::train_mask<B>(targets);
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
             RltfObjective(options.loss,
                           supervised_samples(policy.tokenizer(),
                                              supervised.empty() ? std::span<const Problem>(problems) : supervised)),
             make_buffer<Buf>(options.learner)) {
    if (options.loss.baseline == Baseline::greedy && !options.rollout.greedy_baseline)
      throw invalid_argument("RltfTrainer: the greedy baseline needs rollout.greedy_baseline = true");
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
