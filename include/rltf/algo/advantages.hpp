#pragma once
/// \file
/// Advantage estimation: GAE, masked whitening, and the group estimators of GRPO, Dr. GRPO and RLOO.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rltf/core/backend.hpp"
#include "rltf/core/error.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/core/shape.hpp"

namespace rltf::algo {

/// Options of generalised advantage estimation (docs/training.md: γ = 1, λ = 0.95).
struct GaeOptions {
  float gamma = 1.0F;
  float lambda = 0.95F;
};
RLTF_OPTIONS_JSON(GaeOptions, gamma, lambda)

/// GAE results, both [B, T] and zero on padding.
template <Backend B>
struct GaeResult {
  tensor_t<B> advantages;
  tensor_t<B> returns; ///< advantages + values: the value head's regression target
};

/// GAE over right-padded [B, T] rewards and values: δ_t = r_t + γ V_{t+1} − V_t (V past the end
/// is 0), A_t = δ_t + γλ A_{t+1}. Computed on the host (the inputs are constants); the mask must
/// be a prefix of ones in each row.
template <Backend B>
[[nodiscard]] GaeResult<B> gae(const tensor_t<B>& rewards, const tensor_t<B>& values, const tensor_t<B>& mask,
                               GaeOptions options = {}) {
  constexpr const char* op = "rltf::algo::gae";
  const Shape shape = B::shape(rewards);
  rltf::detail::require_rank(op, shape, 2, "rewards");
  rltf::detail::require_same_shape(op, shape, B::shape(values), "rewards", "values");
  rltf::detail::require_same_shape(op, shape, B::shape(mask), "rewards", "mask");
  const auto r = B::values(rewards);
  const auto v = B::values(B::detach(values));
  const auto m = B::values(mask);
  const auto rows = static_cast<std::size_t>(shape[0]);
  const auto cols = static_cast<std::size_t>(shape[1]);
  std::vector<float> adv(r.size(), 0.0F);
  std::vector<float> ret(r.size(), 0.0F);
  for (std::size_t i = 0; i < rows; ++i) {
    std::size_t len = 0;
    while (len < cols && m[i * cols + len] != 0.0F) ++len;
    for (std::size_t t = len; t < cols; ++t)
      if (m[i * cols + t] != 0.0F)
        throw invalid_argument(std::string(op) + ": row " + std::to_string(i) +
                               " of the mask is not a prefix of ones (right padding expected)");
    float next_value = 0.0F;
    float next_adv = 0.0F;
    for (std::size_t t = len; t-- > 0;) {
      const std::size_t k = i * cols + t;
      const float delta = r[k] + options.gamma * next_value - v[k];
      next_adv = delta + options.gamma * options.lambda * next_adv;
      adv[k] = next_adv;
      ret[k] = next_adv + v[k];
      next_value = v[k];
    }
  }
  return {B::from_values(adv, shape), B::from_values(ret, shape)};
}

/// Whitens masked values: (x − mean) / sqrt(var + 1e-8), with the mean and the unbiased
/// (Bessel-corrected) variance taken over the masked entries; padding is set to 0. With
/// `shift_mean = false` the mean is added back (only the scale changes).
template <Backend B>
[[nodiscard]] tensor_t<B> whiten(const tensor_t<B>& x, const tensor_t<B>& mask, bool shift_mean = true) {
  rltf::detail::require_same_shape("rltf::algo::whiten", B::shape(x), B::shape(mask), "x", "mask");
  const float n = B::item(B::sum(mask));
  const auto mean = B::masked_mean(x, mask);
  const auto centered = B::sub(x, mean);
  auto var = B::masked_mean(B::square(centered), mask);
  if (n > 1.0F) var = B::mul(var, n / (n - 1.0F));
  auto out = B::div(centered, B::sqrt(B::add(var, 1e-8F)));
  if (!shift_mean) out = B::add(out, mean);
  return B::mul(out, mask);
}

/// Options of group-normalised advantages.
struct GroupNormOptions {
  float eps = 1e-4F;        ///< added to the standard deviation (docs/training.md)
  bool unbiased_std = true; ///< divide by G − 1 (as torch.std does) rather than G
};
RLTF_OPTIONS_JSON(GroupNormOptions, eps, unbiased_std)

/// GRPO advantages: rewards come in consecutive groups of `group_size` samples of one prompt;
/// each becomes (r − mean_g) / (std_g + eps).
[[nodiscard]] inline std::vector<float>
group_normalized_advantages(std::span<const float> rewards, std::size_t group_size, GroupNormOptions options = {}) {
  if (group_size == 0) throw invalid_argument("rltf::algo::group_normalized_advantages: group_size must be > 0");
  if (rewards.size() % group_size != 0)
    throw invalid_argument("rltf::algo::group_normalized_advantages: " + std::to_string(rewards.size()) +
                           " rewards do not split into groups of " + std::to_string(group_size));
  std::vector<float> out(rewards.size());
  for (std::size_t g = 0; g < rewards.size(); g += group_size) {
    double mean = 0.0;
    for (std::size_t i = 0; i < group_size; ++i) mean += rewards[g + i];
    mean /= static_cast<double>(group_size);
    double ss = 0.0;
    for (std::size_t i = 0; i < group_size; ++i) ss += (rewards[g + i] - mean) * (rewards[g + i] - mean);
    const double dof =
        options.unbiased_std && group_size > 1 ? static_cast<double>(group_size - 1) : static_cast<double>(group_size);
    const double std = std::sqrt(ss / dof);
    for (std::size_t i = 0; i < group_size; ++i)
      out[g + i] = static_cast<float>((rewards[g + i] - mean) / (std + options.eps));
  }
  return out;
}

/// Outcome advantage estimators over groups of samples of one prompt (verl's `adv_estimator`,
/// docs/training.md). With the group's rewards r_1..r_G, mean m and standard deviation s:
enum class AdvantageEstimator {
  grpo,    ///< (r_i − m)/(s + eps): group-normalised (GRPO; verl "grpo")
  dr_grpo, ///< r_i − m: group-centred without the std (Dr. GRPO; verl "grpo" with norm_adv_by_std_in_grpo=False)
  rloo,    ///< r_i − (Σ_{j≠i} r_j)/(G − 1): leave-one-out (RLOO; verl "rloo"); a group of one keeps r_i
};

/// AdvantageEstimator by name.
inline constexpr std::pair<std::string_view, AdvantageEstimator> advantage_estimators[] = {
    {"grpo", AdvantageEstimator::grpo}, {"dr_grpo", AdvantageEstimator::dr_grpo}, {"rloo", AdvantageEstimator::rloo}};
RLTF_ENUM_JSON(AdvantageEstimator, advantage_estimators)

[[nodiscard]] constexpr std::string_view to_string(AdvantageEstimator a) noexcept {
  for (const auto& [name, v] : advantage_estimators)
    if (v == a) return name;
  return "grpo";
}

/// Parses a name of `advantage_estimators`; nullopt otherwise.
[[nodiscard]] constexpr std::optional<AdvantageEstimator> advantage_estimator_from_string(std::string_view s) noexcept {
  for (const auto& [name, a] : advantage_estimators)
    if (name == s) return a;
  return std::nullopt;
}

/// Advantages of consecutive groups of `group_size` rewards by `estimator` (GroupNormOptions
/// apply to grpo only). Throws rltf::invalid_argument when the rewards do not split into groups.
[[nodiscard]] inline std::vector<float> group_advantages(std::span<const float> rewards, std::size_t group_size,
                                                         AdvantageEstimator estimator, GroupNormOptions options = {}) {
  if (estimator == AdvantageEstimator::grpo) return group_normalized_advantages(rewards, group_size, options);
  if (group_size == 0) throw invalid_argument("rltf::algo::group_advantages: group_size must be > 0");
  if (rewards.size() % group_size != 0)
    throw invalid_argument("rltf::algo::group_advantages: " + std::to_string(rewards.size()) +
                           " rewards do not split into groups of " + std::to_string(group_size));
  std::vector<float> out(rewards.size());
  for (std::size_t g = 0; g < rewards.size(); g += group_size) {
    double sum = 0.0;
    for (std::size_t i = 0; i < group_size; ++i) sum += rewards[g + i];
    const double n = static_cast<double>(group_size);
    for (std::size_t i = 0; i < group_size; ++i) {
      const double r = rewards[g + i];
      if (estimator == AdvantageEstimator::dr_grpo)
        out[g + i] = static_cast<float>(r - sum / n);
      else
        out[g + i] = group_size == 1 ? static_cast<float>(r) : static_cast<float>(r - (sum - r) / (n - 1.0));
    }
  }
  return out;
}

/// Whether a group's rewards are all equal (its group-relative advantages are all zero: DAPO's
/// dynamic sampling drops such groups; TRL logs their share as frac_reward_zero_std).
[[nodiscard]] inline bool zero_std_group(std::span<const float> rewards) noexcept {
  for (const float r : rewards)
    if (r != rewards.front()) return false;
  return true;
}

/// Spreads one value per sequence over its tokens: a [B, T] tensor equal to `per_sequence[i]`
/// where mask is 1 and 0 elsewhere.
template <Backend B>
[[nodiscard]] tensor_t<B> broadcast_over_tokens(std::span<const float> per_sequence, const tensor_t<B>& mask) {
  const Shape shape = B::shape(mask);
  rltf::detail::require_rank("rltf::algo::broadcast_over_tokens", shape, 2, "mask");
  if (static_cast<std::int64_t>(per_sequence.size()) != shape[0])
    throw shape_error("rltf::algo::broadcast_over_tokens: " + std::to_string(per_sequence.size()) +
                      " values for a mask of shape " + rltf::to_string(shape));
  const auto cols = static_cast<std::size_t>(shape[1]);
  std::vector<float> out(per_sequence.size() * cols);
  for (std::size_t i = 0; i < per_sequence.size(); ++i)
    for (std::size_t t = 0; t < cols; ++t) out[i * cols + t] = per_sequence[i];
  return B::mul(B::from_values(out, shape), mask);
}

} // namespace rltf::algo
