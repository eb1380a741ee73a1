#pragma once
/// \file
/// rltf::PpoTrainer — Proximal Policy Optimisation (RLAIF for code's trainer; docs/rlaif.md) on the
/// same rollout machinery as RLTF and GRPO. The policy carries a value head (rltf::ValuePolicy);
/// each round's rewards become per-token rewards
///
///     r_t = s·w_t − β·k(log π_old(w_t) − log π_ref(w_t)) + [t = T−1]·R
///
/// (R: the feedback's sequence reward — a reward model's logit through rltf::RewardModelFeedback,
/// the unit-test feedback, or their sum; w_t: its token-level rewards; β: fixed or adapted by
/// KlControlOptions), GAE turns them into advantages A_t and returns G_t = A_t + V_old(s_t)
/// (γ = 1, λ = 0.95), the advantages are whitened over the round, and the learner takes
/// `round_every` minibatch steps over the round (epochs × minibatches) on
///
///     L = reduce(max(−A·ρ, −A·clip(ρ, 1 ± ε)))  +  c_v · ½ reduce(max((V − G)², (V_c − G)²))
///
/// with ρ = π/π_old, V_c = V_old + clip(V − V_old, ±ε_v). Gradients with respect to log π and V
/// come from rltf/algo/grad.hpp; the policy back-propagates both (rltf::backward_with_values).
/// Checkpoints hold the policy (value head included), the reference, β and the buffer, so a run
/// killed with SIGKILL resumes exactly.
///
/// Whitening and the adaptive β use each rank's own round in a data-parallel run.

#include <algorithm>
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
#include "rltf/algo/kl.hpp"
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
#include "rltf/train/value_policy.hpp"

namespace rltf {

/// PPO's objective (see the file comment). `reference` may be null when the KL coefficient is 0
/// and not adaptive.
template <ValuePolicy P>
class PpoObjective {
public:
  PpoObjective(std::shared_ptr<P> reference, PpoObjectiveOptions options = {})
      : reference_(std::move(reference)), options_(options), kl_coef_(options.kl.coef) {
    const auto& kl = options_.kl;
    if (kl.coef < 0.0F) throw invalid_argument("PpoObjective: kl.coef must be ≥ 0");
    if (!reference_ && (kl.coef != 0.0F || kl.adaptive))
      throw invalid_argument("PpoObjective: a KL penalty (kl.coef ≠ 0 or kl.adaptive) needs a reference policy");
    if (kl.adaptive && !(kl.target > 0.0F && kl.horizon > 0.0F))
      throw invalid_argument("PpoObjective: the adaptive KL controller needs kl.target > 0 and kl.horizon > 0");
    if (!(options_.clip > 0.0F) || !(options_.value_clip > 0.0F))
      throw invalid_argument("PpoObjective: clip and value_clip must be > 0");
    if (options_.value_coef < 0.0F) throw invalid_argument("PpoObjective: value_coef must be ≥ 0");
    if (options_.reduction == algo::Reduction::seq_mean_token_sum_norm)
      throw invalid_argument("PpoObjective: seq_mean_token_sum_norm is GRPO's (Dr. GRPO); use another reduction");
  }

  /// The environment's per-token reward: the scaled token-level rewards plus R at the last token.
  void assign(std::span<Rollout> group, const Rollout*) {
    for (auto& r : group) {
      r.baseline = 0.0F;
      for (auto& w : r.weights) w *= options_.token_reward_scale;
      if (!r.weights.empty()) r.weights.back() += r.reward;
    }
  }

  /// Reference log-probs, the value head's V_old, the KL penalty, GAE, whitening and the adaptive
  /// β, for the round just sampled (the policy's weights are the ones that sampled it).
  void prepare(P& policy, std::span<Rollout> round) {
    using B = typename P::backend;
    if (round.empty()) return;
    const bool penalise = reference_ && (kl_coef_ != 0.0F || options_.kl.adaptive);
    if (penalise) reference_.log_probs_of(round);
    std::vector<Sample> samples;
    samples.reserve(round.size());
    std::vector<std::vector<float>> env, old, ref;
    for (const auto& r : round) {
      samples.push_back(r.sample);
      env.push_back(r.weights);
      old.push_back(r.sample.logprobs);
      ref.push_back(penalise ? r.ref_logprobs : r.sample.logprobs);
    }
    const auto values = B::detach(policy.values(samples));
    const auto t_max = static_cast<std::size_t>(B::shape(values).at(1));
    const auto mask = algo::completion_mask<B>(samples);
    const auto kl = B::mul(
        algo::kl<B>(algo::padded_to<B>(old, t_max), algo::padded_to<B>(ref, t_max), options_.kl.estimator), mask);
    const auto rewards = B::sub(algo::padded_to<B>(env, t_max), B::mul(kl, kl_coef_));
    const auto g = algo::gae<B>(rewards, values, mask, options_.gae);
    const float tokens = B::item(B::sum(mask));
    const auto adv = options_.whiten_advantages && tokens > 1.0F ? algo::whiten<B>(g.advantages, mask) : g.advantages;
    const auto a = B::values(adv), ret = B::values(g.returns), v = B::values(values), k = B::values(kl);
    double kl_sum = 0.0, score_sum = 0.0;
    for (std::size_t i = 0; i < round.size(); ++i) {
      const std::size_t len = round[i].sample.tokens.size();
      const auto row = [&](const std::vector<float>& x) {
        return std::vector<float>(x.begin() + static_cast<std::ptrdiff_t>(i * t_max),
                                  x.begin() + static_cast<std::ptrdiff_t>(i * t_max + len));
      };
      round[i].weights = row(a);
      round[i].values = row(v);
      round[i].returns = row(ret);
      for (std::size_t t = 0; t < len; ++t) kl_sum += k[i * t_max + t];
      score_sum += round[i].reward;
    }
    const double n = static_cast<double>(round.size());
    last_round_ = {{"rollout_kl", kl_sum / n},
                   {"score", score_sum / n},
                   {"kl_coef", kl_coef_},
                   {"values_mean", B::item(B::masked_mean(values, mask))},
                   {"returns_mean", B::item(B::masked_mean(g.returns, mask))}};
    if (options_.kl.adaptive) {
      // Ziegler et al. (2019): proportional control of β towards the target KL.
      const double e = std::clamp(kl_sum / n / static_cast<double>(options_.kl.target) - 1.0, -0.2, 0.2);
      kl_coef_ = static_cast<float>(static_cast<double>(kl_coef_) * (1.0 + e * n / options_.kl.horizon));
    }
  }

  /// The PPO loss on a minibatch, both gradients back-propagated into the policy.
  LossReport learn(P& policy, std::span<const Rollout> batch, std::size_t step, Rng&) {
    using B = typename P::backend;
    std::vector<Sample> samples;
    std::vector<std::vector<float>> adv, old, v_old, ret, ref;
    for (const auto& r : batch) {
      if (r.values.size() != r.sample.tokens.size() || r.returns.size() != r.sample.tokens.size())
        throw invalid_argument("PpoObjective::learn: a rollout has no values or returns (was it prepared by PPO?)");
      samples.push_back(r.sample);
      adv.push_back(r.weights);
      old.push_back(r.sample.logprobs);
      v_old.push_back(r.values);
      ret.push_back(r.returns);
      ref.push_back(r.ref_logprobs.empty() ? r.sample.logprobs : r.ref_logprobs);
    }
    const auto pv = log_probs_and_values(policy, samples);
    const auto t_max = static_cast<std::size_t>(B::shape(pv.log_probs).at(1));
    const auto mask = algo::completion_mask<B>(samples);
    const auto a = algo::padded_to<B>(adv, t_max);
    const auto o = algo::padded_to<B>(old, t_max);
    const auto vo = algo::padded_to<B>(v_old, t_max);
    const auto g = algo::padded_to<B>(ret, t_max);
    const auto& opt = options_;
    const auto pg = algo::clipped_surrogate_grad<B>(pv.log_probs, o, a, mask, opt.clip, opt.reduction);
    const auto vg = algo::clipped_value_loss_grad<B>(pv.values, vo, g, mask, opt.value_clip, opt.reduction);
    backward_with_values(policy, samples, pv, pg.grad, B::mul(vg.grad, opt.value_coef));
    LossReport report;
    const float policy_loss = B::item(pg.loss), value_loss = B::item(vg.loss);
    report.loss = policy_loss + opt.value_coef * value_loss;
    const auto lp = B::detach(pv.log_probs);
    const auto vals = B::detach(pv.values);
    report.parts = last_round_;
    report.parts["policy_loss"] = policy_loss;
    report.parts["value_loss"] = value_loss;
    report.parts["clip_fraction"] = algo::ppo_clip_fraction<B>(lp, o, mask, opt.clip);
    report.parts["value_clip_fraction"] =
        B::item(B::masked_mean(B::greater(B::abs(B::sub(vals, vo)), B::scalar(opt.value_clip)), mask));
    if (reference_)
      report.parts["kl"] = B::item(
          algo::reduce<B>(algo::kl<B>(lp, algo::padded_to<B>(ref, t_max), opt.kl.estimator), mask, opt.reduction));
    report.parts["explained_variance"] = explained_variance<B>(vo, g, mask);
    batch_diagnostics<B>(pv.log_probs, o, mask, batch, step, report.parts);
    return report;
  }

  /// Writes the reference into `dir/reference`; the state holds β and the last round's statistics.
  [[nodiscard]] nlohmann::json save(const std::filesystem::path& dir) const {
    nlohmann::json state = reference_.save(dir);
    state["kl_coef"] = kl_coef_;
    state["last_round"] = last_round_;
    return state;
  }
  void load(const std::filesystem::path& dir, const nlohmann::json& state) {
    reference_.load(dir, state, "PpoObjective");
    kl_coef_ = state.at("kl_coef").get<float>();
    last_round_ = state.at("last_round");
  }

  [[nodiscard]] const PpoObjectiveOptions& options() const noexcept { return options_; }
  [[nodiscard]] const P* reference() const noexcept { return reference_.get(); }
  /// β now (it moves between rounds when adaptive).
  [[nodiscard]] float kl_coef() const noexcept { return kl_coef_; }

private:
  /// 1 − Var(G − V)/Var(G) over the masked tokens (0 when the returns do not vary).
  template <Backend B>
  [[nodiscard]] static float explained_variance(const tensor_t<B>& values, const tensor_t<B>& returns,
                                                const tensor_t<B>& mask) {
    const auto var = [&](const tensor_t<B>& x) {
      const auto centred = B::sub(x, B::masked_mean(x, mask));
      return B::item(B::masked_mean(B::square(centred), mask));
    };
    const float total = var(returns);
    return total > 0.0F ? 1.0F - var(B::sub(returns, values)) / total : 0.0F;
  }

  train::detail::Reference<P> reference_;
  PpoObjectiveOptions options_;
  float kl_coef_;
  nlohmann::json last_round_ = nlohmann::json::object();
};

/// The PPO trainer: OnlineTrainer with PpoObjective, built from one PpoOptions.
template <ValuePolicy P, Executor E = PythonExecutor, Feedback F = RltfFeedback, Buffer Buf = OnlineBuffer<Rollout>>
class PpoTrainer : public OnlineTrainer<P, E, F, Buf, PpoObjective<P>> {
  using base = OnlineTrainer<P, E, F, Buf, PpoObjective<P>>;

public:
  /// The reference policy is `frozen_reference(policy)` when found (by argument-dependent
  /// lookup), else a copy of `policy` as it is now.
  PpoTrainer(P& policy, E& executor, F feedback, std::vector<Problem> problems,
             PpoOptions options = {}) requires std::copy_constructible<P>
      : PpoTrainer(policy, train::detail::default_reference(policy), executor, std::move(feedback), std::move(problems),
                   std::move(options)) {}

  /// With an explicit frozen reference policy (null: no KL penalty, kl.coef must be 0).
  PpoTrainer(P& policy, std::shared_ptr<P> reference, E& executor, F feedback, std::vector<Problem> problems,
             PpoOptions options = {})
      : base(policy, executor, std::move(feedback), std::move(problems), checked(policy, options).rollout,
             options.learner, options.run, PpoObjective<P>(std::move(reference), options.objective),
             make_buffer<Buf>(options.learner)) {}

private:
  static const PpoOptions& checked(const P& policy, const PpoOptions& options) {
    if constexpr (requires { policy.has_value_head(); })
      if (!policy.has_value_head())
        throw invalid_argument("PpoTrainer: the policy has no value head (EigenPolicyOptions::value_head, or a "
                               "LibTorch model loaded with value_head = true)");
    if (options.rollout.drop_zero_advantage_groups)
      throw invalid_argument("PpoTrainer: rollout.drop_zero_advantage_groups is for group-relative advantages "
                             "(GRPO); PPO's advantages come from the value head");
    return options;
  }
};

} // namespace rltf
