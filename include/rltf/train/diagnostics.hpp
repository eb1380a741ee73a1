#pragma once
/// \file
/// The diagnostics every online trainer logs (docs/training.md, "Diagnostics"), one shared piece:
///
/// - round_diagnostics(): after the objective assigned a round's weights — the advantages' mean
///   and std over completion tokens, the share of groups with no learning signal (every token
///   weight 0) and of groups whose rewards are all equal, the policy's entropy, and the mean
///   length of passing and failing samples;
/// - batch_diagnostics(): inside an objective's learn() — KL (k3) between the learner and the
///   behaviour policy that sampled the batch (its log-probs are stored at sampling time, so no
///   reference copy is needed), the share of stale rollouts and their mean staleness.
///
/// The entropy is the Monte Carlo estimate −mean log π(w_t) over the sampled tokens, with the
/// log-probs recorded at sampling time (the model's own, temperature 1): exact in expectation
/// when sampling at temperature 1 without top-p/top-k truncation; a policy need not expose its
/// full distributions for it.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/algo/kl.hpp"
#include "rltf/algo/padded.hpp"
#include "rltf/core/backend.hpp"
#include "rltf/core/outcome.hpp"
#include "rltf/train/metrics.hpp"
#include "rltf/train/rollout.hpp"

namespace rltf {

/// Whether a rollout's learner weights are all zero (it contributes no policy gradient).
[[nodiscard]] inline bool zero_weights(const Rollout& r) noexcept {
  for (const float w : r.weights)
    if (w != 0.0F) return false;
  return true;
}

/// Whether every rollout of a group has all-zero learner weights.
[[nodiscard]] inline bool zero_advantage_group(std::span<const Rollout> group) noexcept {
  for (const auto& r : group)
    if (!zero_weights(r)) return false;
  return true;
}

/// Fills the round diagnostics of `m` (adv_mean, adv_std, frac_zero_adv_groups,
/// frac_reward_zero_std, entropy, len_mean, len_pass, len_fail) from a round's rollouts, in
/// consecutive groups of `group_size` (one problem each), after the objective's assign().
inline void round_diagnostics(std::span<const Rollout> rollouts, std::size_t group_size, StepMetrics& m) {
  double w_sum = 0.0, w_sq = 0.0, lp_sum = 0.0;
  std::size_t tokens = 0, lp_tokens = 0;
  double len_pass = 0.0, len_fail = 0.0;
  std::size_t n_pass = 0, n_fail = 0;
  for (const auto& r : rollouts) {
    for (const float w : r.weights) {
      w_sum += w;
      w_sq += static_cast<double>(w) * w;
    }
    tokens += r.weights.size();
    for (const float lp : r.sample.logprobs) lp_sum += lp;
    lp_tokens += r.sample.logprobs.size();
    const auto len = static_cast<double>(r.sample.tokens.size());
    if (r.outcome == Outcome::pass) {
      len_pass += len;
      ++n_pass;
    } else {
      len_fail += len;
      ++n_fail;
    }
  }
  const double mean = tokens > 0 ? w_sum / static_cast<double>(tokens) : 0.0;
  const double var = tokens > 0 ? std::max(0.0, w_sq / static_cast<double>(tokens) - mean * mean) : 0.0;
  m.adv_mean = static_cast<float>(mean);
  m.adv_std = static_cast<float>(std::sqrt(var));
  m.entropy = lp_tokens > 0 ? static_cast<float>(-lp_sum / static_cast<double>(lp_tokens)) : 0.0F;
  const std::size_t n = rollouts.size();
  m.len_mean = n > 0 ? static_cast<float>((len_pass + len_fail) / static_cast<double>(n)) : 0.0F;
  m.len_pass = n_pass > 0 ? static_cast<float>(len_pass / static_cast<double>(n_pass)) : -1.0F;
  m.len_fail = n_fail > 0 ? static_cast<float>(len_fail / static_cast<double>(n_fail)) : -1.0F;
  std::size_t groups = 0, zero_adv = 0, zero_std = 0;
  if (group_size > 0)
    for (std::size_t g = 0; g + group_size <= n; g += group_size) {
      const auto group = rollouts.subspan(g, group_size);
      ++groups;
      zero_adv += zero_advantage_group(group);
      bool equal = true;
      for (const auto& r : group) equal = equal && r.reward == group.front().reward;
      zero_std += equal;
    }
  m.frac_zero_adv_groups =
      groups > 0 ? static_cast<float>(static_cast<double>(zero_adv) / static_cast<double>(groups)) : 0.0F;
  m.frac_reward_zero_std =
      groups > 0 ? static_cast<float>(static_cast<double>(zero_std) / static_cast<double>(groups)) : 0.0F;
}

/// The behaviour policy's log-probs of a batch (recorded at sampling time), padded to `t_max`.
template <Backend B>
[[nodiscard]] tensor_t<B> behaviour_logprobs(std::span<const Rollout> batch, std::size_t t_max) {
  std::vector<std::vector<float>> rows;
  rows.reserve(batch.size());
  for (const auto& r : batch) rows.push_back(r.sample.logprobs);
  return algo::padded_to<B>(rows, t_max);
}

/// Adds the batch diagnostics to an objective's loss parts: "kl_behavior" (token mean of k3
/// between the learner's `logp` and the behaviour log-probs `old`, both [B, T] over `mask`),
/// "stale_frac" (share of rollouts sampled by weights older than the learner's at `step`) and
/// "staleness" (mean optimiser steps between sampling and this step).
template <Backend B>
void batch_diagnostics(const tensor_t<B>& logp, const tensor_t<B>& old, const tensor_t<B>& mask,
                       std::span<const Rollout> batch, std::uint64_t step, nlohmann::json& parts) {
  const auto lp = B::detach(logp);
  parts["kl_behavior"] = B::item(B::masked_mean(algo::kl<B>(lp, old, algo::KlEstimator::k3), mask));
  std::size_t stale = 0;
  double age = 0.0;
  for (const auto& r : batch) {
    const std::uint64_t a = step > r.version ? step - r.version : 0;
    stale += a > 0;
    age += static_cast<double>(a);
  }
  const double n = batch.empty() ? 1.0 : static_cast<double>(batch.size());
  parts["stale_frac"] = static_cast<float>(static_cast<double>(stale) / n);
  parts["staleness"] = static_cast<float>(age / n);
}

} // namespace rltf
