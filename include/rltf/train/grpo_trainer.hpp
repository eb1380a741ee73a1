#pragma once
/// \file
/// rltf::GrpoTrainer — Group Relative Policy Optimisation on the same rollout machinery as RLTF
/// (docs/training.md): G samples per prompt; each sample's sequence reward R (from any feedback — the
/// RLTF feedbacks plug in unchanged) becomes the advantage A = (R − mean_g)/(std_g + 1e-4) on
/// every token (or Dr. GRPO's R − mean_g, or RLOO's leave-one-out: GrpoObjectiveOptions::advantage),
/// to which the feedback's token-level rewards (e.g. the fine-grained penalty on
/// the offending line) are added; the loss is the clipped-ratio surrogate plus β·KL(π ‖ π_ref)
/// with the k3 estimator against a frozen reference policy:
///
///     L = (1/G) Σ_i (1/T_i) Σ_t [ −min(ρ_it A_it, clip(ρ_it, 1 ± ε) A_it) + β k3_it ]
///
/// where ρ = π/π_old and π_old is the policy that sampled (its log-probs are recorded at
/// sampling time). Gradients come from rltf/algo/grad.hpp.
///
/// The reference defaults to `frozen_reference(policy)` where the policy's namespace offers one
/// (a LibTorch policy with LoRA adapters: the shared base with the adapters off), else to a copy
/// of the policy's initial weights taken at construction — for policies with value semantics
/// (rltf::EigenPolicy). A LibTorch policy trained in full needs a separately loaded reference:
/// pass it to the constructor.

#include <cmath>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/algo/advantages.hpp"
#include "rltf/algo/grad.hpp"
#include "rltf/algo/padded.hpp"
#include "rltf/algo/ppo.hpp"
#include "rltf/buffer/online_buffer.hpp"
#include "rltf/core/error.hpp"
#include "rltf/exec/python_executor.hpp"
#include "rltf/feedback/rltf_feedback.hpp"
#include "rltf/train/detail/reference.hpp"
#include "rltf/train/diagnostics.hpp"
#include "rltf/train/online_trainer.hpp"
#include "rltf/train/options.hpp"
#include "rltf/train/rollout.hpp"
#include "rltf/train/trainable_policy.hpp"

namespace rltf {

/// GRPO's objective: group-normalised advantages, clipped ratio, k3 KL to a frozen reference.
template <TrainablePolicy P>
class GrpoObjective {
public:
  /// `reference` is the frozen reference policy (its weights are checkpointed with the run).
  GrpoObjective(std::shared_ptr<P> reference, GrpoObjectiveOptions options = {})
      : reference_(std::move(reference)), options_(options) {
    if (!reference_ && options_.loss.kl_coef != 0.0F)
      throw invalid_argument("GrpoObjective: a KL term (kl_coef ≠ 0) needs a reference policy");
    if (options_.std_eps < 0.0F) throw invalid_argument("GrpoObjective: std_eps must be ≥ 0");
  }

  /// A from the group's rewards by `options.advantage` — (R − mean_g)/(std_g + eps) (GRPO),
  /// R − mean_g (Dr. GRPO) or R − mean of the others (RLOO) — plus the scaled token-level
  /// rewards; the greedy decode is not part of the group.
  void assign(std::span<Rollout> group, const Rollout*) {
    std::vector<float> rewards;
    rewards.reserve(group.size());
    double mean = 0.0;
    for (const auto& r : group) {
      rewards.push_back(r.reward);
      mean += r.reward;
    }
    mean /= static_cast<double>(group.empty() ? 1 : group.size());
    const auto adv = algo::group_advantages(rewards, group.size(), options_.advantage,
                                            algo::GroupNormOptions{options_.std_eps, options_.unbiased_std});
    for (std::size_t i = 0; i < group.size(); ++i) {
      group[i].baseline = static_cast<float>(mean);
      for (auto& w : group[i].weights) w = adv[i] + options_.token_reward_scale * w;
    }
  }

  /// Records the reference log-probabilities of the round's samples.
  void prepare(P&, std::span<Rollout> round) {
    if (options_.loss.kl_coef != 0.0F) reference_.log_probs_of(round);
  }

  /// The GRPO loss on a batch, back-propagated into the policy.
  LossReport learn(P& policy, std::span<const Rollout> batch, std::size_t step, Rng&) {
    using B = typename P::backend;
    std::vector<Sample> samples;
    std::vector<std::vector<float>> adv, old, ref;
    for (const auto& r : batch) {
      samples.push_back(r.sample);
      adv.push_back(r.weights);
      old.push_back(r.sample.logprobs);
      ref.push_back(r.ref_logprobs.empty() ? r.sample.logprobs : r.ref_logprobs);
    }
    const auto logp = policy.log_probs(samples);
    const auto t_max = static_cast<std::size_t>(B::shape(logp).at(1));
    const auto mask = algo::completion_mask<B>(samples);
    const auto a = algo::padded_to<B>(adv, t_max);
    const auto o = algo::padded_to<B>(old, t_max);
    const auto rf = algo::padded_to<B>(ref, t_max);
    const auto lg = algo::grpo_loss_grad<B>(logp, o, rf, a, mask, options_.loss);
    backward_logprobs(policy, samples, logp, lg.grad);
    LossReport report;
    report.loss = B::item(lg.loss);
    const auto lp = B::detach(logp);
    const auto& l = options_.loss;
    report.parts["kl"] =
        B::item(algo::reduce<B>(algo::kl<B>(lp, rf, l.kl_estimator), mask, l.reduction, l.norm_length));
    report.parts["clip_fraction"] = algo::ppo_clip_fraction<B>(lp, o, mask, l.clip);
    report.parts["surrogate"] = B::item(algo::ppo_policy_loss<B>(lp, o, a, mask, l.clip, l.reduction, l.norm_length));
    batch_diagnostics<B>(logp, o, mask, batch, step, report.parts);
    return report;
  }

  /// Writes the reference policy into `dir/reference`.
  [[nodiscard]] nlohmann::json save(const std::filesystem::path& dir) const { return reference_.save(dir); }
  void load(const std::filesystem::path& dir, const nlohmann::json& state) {
    reference_.load(dir, state, "GrpoObjective");
  }

  [[nodiscard]] const GrpoObjectiveOptions& options() const noexcept { return options_; }
  [[nodiscard]] const P* reference() const noexcept { return reference_.get(); }

private:
  train::detail::Reference<P> reference_;
  GrpoObjectiveOptions options_;
};

/// The GRPO trainer: OnlineTrainer with GrpoObjective, built from one GrpoOptions.
template <TrainablePolicy P, Executor E = PythonExecutor, Feedback F = RltfFeedback, Buffer Buf = OnlineBuffer<Rollout>>
class GrpoTrainer : public OnlineTrainer<P, E, F, Buf, GrpoObjective<P>> {
  using base = OnlineTrainer<P, E, F, Buf, GrpoObjective<P>>;

public:
  /// The reference policy is `frozen_reference(policy)` when found (by argument-dependent
  /// lookup), else a copy of `policy` as it is now (P must be copy-constructible with value
  /// semantics; otherwise use the other constructor).
  GrpoTrainer(P& policy, E& executor, F feedback, std::vector<Problem> problems,
              GrpoOptions options = {}) requires std::copy_constructible<P>
      : GrpoTrainer(policy, train::detail::default_reference(policy), executor, std::move(feedback),
                    std::move(problems), std::move(options)) {}

  /// With an explicit frozen reference policy.
  GrpoTrainer(P& policy, std::shared_ptr<P> reference, E& executor, F feedback, std::vector<Problem> problems,
              GrpoOptions options = {})
      : base(policy, executor, std::move(feedback), std::move(problems), options.rollout, options.learner, options.run,
             GrpoObjective<P>(std::move(reference), with_norm_length(options.objective, options.rollout)),
             make_buffer<Buf>(options.learner)) {
    if (options.rollout.sampling.num_samples < 2)
      throw invalid_argument("GrpoTrainer: the group size (sampling.num_samples) must be ≥ 2");
  }

private:
  /// seq_mean_token_sum_norm's L defaults to the generation budget (Dr. GRPO's constant).
  static GrpoObjectiveOptions with_norm_length(GrpoObjectiveOptions o, const RolloutOptions& rollout) {
    if (o.loss.reduction == algo::Reduction::seq_mean_token_sum_norm && o.loss.norm_length == 0.0F)
      o.loss.norm_length = static_cast<float>(rollout.sampling.max_new_tokens);
    return o;
  }
};

} // namespace rltf
