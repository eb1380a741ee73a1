#pragma once
/// \file
/// Token-level policy-gradient numerics written once against the Backend concept: masked means,
/// token log-probabilities, entropy, cross-entropy and the REINFORCE loss with per-token rewards.

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "rltf/core/backend.hpp"
#include "rltf/core/error.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/core/shape.hpp"

namespace rltf::algo {

/// How per-token terms are aggregated into a scalar over a ragged batch of B sequences with
/// masks m_it (verl's `loss_agg_mode`, TRL's `loss_type`; docs/training.md):
enum class Reduction {
  token_mean,          ///< Σ_it x m / Σ_it m — every token weighs the same (RLTF's 1/ΣT_i; TRL "bnpo"/"dapo")
  seq_mean_token_mean, ///< (1/B) Σ_i (Σ_t x m / Σ_t m) — every sequence weighs the same (GRPO; TRL "grpo")
  seq_mean_token_sum,  ///< (1/B) Σ_i Σ_t x m — a sequence weighs by its length
  /// (1/B) Σ_i Σ_t x m / L with a constant L (Dr. GRPO; TRL "dr_grpo": L = max_completion_length)
  seq_mean_token_sum_norm,
  sequence_mean = seq_mean_token_mean, ///< the former name of seq_mean_token_mean
};

/// Reduction by name (verl's names with underscores); "sequence_mean" is accepted for
/// seq_mean_token_mean.
inline constexpr std::pair<std::string_view, Reduction> reductions[] = {
    {"token_mean", Reduction::token_mean},
    {"seq_mean_token_mean", Reduction::seq_mean_token_mean},
    {"seq_mean_token_sum", Reduction::seq_mean_token_sum},
    {"seq_mean_token_sum_norm", Reduction::seq_mean_token_sum_norm},
    {"sequence_mean", Reduction::seq_mean_token_mean}};
RLTF_ENUM_JSON(Reduction, reductions)

/// The canonical name (the first in `reductions`).
[[nodiscard]] constexpr std::string_view to_string(Reduction r) noexcept {
  for (const auto& [name, v] : reductions)
    if (v == r) return name;
  return "?";
}

/// Parses a name of `reductions`; nullopt otherwise.
[[nodiscard]] constexpr std::optional<Reduction> reduction_from_string(std::string_view s) noexcept {
  for (const auto& [name, r] : reductions)
    if (name == s) return r;
  return std::nullopt;
}

/// Σ_t x·m / max(Σ_t m, 1) per row of [B, T] tensors: a [B] tensor.
template <Backend B>
[[nodiscard]] tensor_t<B> masked_sequence_mean(const tensor_t<B>& x, const tensor_t<B>& mask) {
  rltf::detail::require_same_shape("rltf::algo::masked_sequence_mean", B::shape(x), B::shape(mask), "x", "mask");
  rltf::detail::require_rank("rltf::algo::masked_sequence_mean", B::shape(x), 2, "x");
  const auto lengths = B::maximum(B::sum_last(mask), B::scalar(1.0F));
  return B::div(B::sum_last(B::mul(x, mask)), lengths);
}

/// The constant L of seq_mean_token_sum_norm: `norm_length` when > 0, else the mask's width T
/// (verl's loss_mask.shape[-1]; pass the generation budget to keep it constant across batches).
/// Throws rltf::invalid_argument when negative.
[[nodiscard]] inline float norm_length_or(float norm_length, const Shape& mask_shape) {
  if (norm_length < 0.0F) throw invalid_argument("rltf::algo::reduce: norm_length must be >= 0");
  if (norm_length > 0.0F) return norm_length;
  const auto t = mask_shape.empty() ? 1 : mask_shape.back();
  return t > 0 ? static_cast<float>(t) : 1.0F;
}

/// Reduces masked per-token values [B, T] to a scalar. `norm_length` is L of
/// seq_mean_token_sum_norm (0: the width T); the other reductions ignore it.
template <Backend B>
[[nodiscard]] tensor_t<B> reduce(const tensor_t<B>& x, const tensor_t<B>& mask, Reduction reduction,
                                 float norm_length = 0.0F) {
  rltf::detail::require_same_shape("rltf::algo::reduce", B::shape(x), B::shape(mask), "x", "mask");
  switch (reduction) {
  case Reduction::token_mean:
    return B::masked_mean(x, mask);
  case Reduction::seq_mean_token_mean:
    return B::mean(masked_sequence_mean<B>(x, mask));
  case Reduction::seq_mean_token_sum:
    rltf::detail::require_rank("rltf::algo::reduce", B::shape(x), 2, "x");
    return B::mean(B::sum_last(B::mul(x, mask)));
  case Reduction::seq_mean_token_sum_norm:
    rltf::detail::require_rank("rltf::algo::reduce", B::shape(x), 2, "x");
    return B::mul(B::mean(B::sum_last(B::mul(x, mask))), 1.0F / norm_length_or(norm_length, B::shape(mask)));
  }
  throw invalid_argument("rltf::algo::reduce: unknown reduction");
}

/// log π(target_t) from logits [B, T, V] and targets [B, T]: a [B, T] tensor.
template <Backend B>
[[nodiscard]] tensor_t<B> token_log_probs(const tensor_t<B>& logits, const typename B::index_tensor& targets) {
  rltf::detail::require_rank("rltf::algo::token_log_probs", B::shape(logits), 3, "logits");
  return B::gather_last(B::log_softmax(logits), targets);
}

/// Entropy −Σ_v p_v log p_v of the distributions given by logits [..., V]: one value per position.
template <Backend B>
[[nodiscard]] tensor_t<B> entropy(const tensor_t<B>& logits) {
  const auto logp = B::log_softmax(logits);
  return B::neg(B::sum_last(B::mul(B::exp(logp), logp)));
}

/// Cross-entropy −log π(target) averaged over the masked tokens (supervised term of RLTF).
template <Backend B>
[[nodiscard]] tensor_t<B> cross_entropy(const tensor_t<B>& logprobs, const tensor_t<B>& mask,
                                        Reduction reduction = Reduction::token_mean, float norm_length = 0.0F) {
  rltf::detail::require_same_shape("rltf::algo::cross_entropy", B::shape(logprobs), B::shape(mask), "logprobs", "mask");
  return B::neg(reduce<B>(logprobs, mask, reduction, norm_length));
}

/// REINFORCE with per-token rewards: L = −reduce(r_t · log π(w_t)) over the masked tokens.
/// `logprobs`, `rewards` and `mask` are [B, T]; rewards are treated as constants.
template <Backend B>
[[nodiscard]] tensor_t<B> policy_gradient_loss(const tensor_t<B>& logprobs, const tensor_t<B>& rewards,
                                               const tensor_t<B>& mask, Reduction reduction = Reduction::token_mean,
                                               float norm_length = 0.0F) {
  constexpr const char* op = "rltf::algo::policy_gradient_loss";
  rltf::detail::require_rank(op, B::shape(logprobs), 2, "logprobs");
  rltf::detail::require_same_shape(op, B::shape(logprobs), B::shape(rewards), "logprobs", "rewards");
  rltf::detail::require_same_shape(op, B::shape(logprobs), B::shape(mask), "logprobs", "mask");
  return B::neg(reduce<B>(B::mul(B::detach(rewards), logprobs), mask, reduction, norm_length));
}

} // namespace rltf::algo
