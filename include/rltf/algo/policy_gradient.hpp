#pragma once
/// \file
/// Token-level policy-gradient numerics written once against the Backend concept: masked means,
/// token log-probabilities, entropy, cross-entropy and the REINFORCE loss with per-token rewards.

#include <string>
#include <string_view>
#include <utility>

#include "rltf/core/backend.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/core/shape.hpp"

namespace rltf::algo {

/// How per-token terms are averaged over a ragged batch.
enum class Reduction {
  token_mean,    ///< Σ_it x_it m_it / Σ_it m_it — every token weighs the same (RLTF: 1/ΣT_i)
  sequence_mean, ///< (1/B) Σ_i (Σ_t x_it m_it / Σ_t m_it) — every sequence weighs the same
};

/// Reduction by name, for configuration files.
inline constexpr std::pair<std::string_view, Reduction> reductions[] = {{"token_mean", Reduction::token_mean},
                                                                        {"sequence_mean", Reduction::sequence_mean}};
RLTF_ENUM_JSON(Reduction, reductions)

[[nodiscard]] constexpr std::string_view to_string(Reduction r) noexcept {
  for (const auto& [name, v] : reductions)
    if (v == r) return name;
  return "?";
}

/// Σ_t x·m / max(Σ_t m, 1) per row of [B, T] tensors: a [B] tensor.
template <Backend B>
[[nodiscard]] tensor_t<B> masked_sequence_mean(const tensor_t<B>& x, const tensor_t<B>& mask) {
  rltf::detail::require_same_shape("rltf::algo::masked_sequence_mean", B::shape(x), B::shape(mask), "x", "mask");
  rltf::detail::require_rank("rltf::algo::masked_sequence_mean", B::shape(x), 2, "x");
  const auto lengths = B::maximum(B::sum_last(mask), B::scalar(1.0F));
  return B::div(B::sum_last(B::mul(x, mask)), lengths);
}

/// Reduces masked per-token values [B, T] to a scalar.
template <Backend B>
[[nodiscard]] tensor_t<B> reduce(const tensor_t<B>& x, const tensor_t<B>& mask, Reduction reduction) {
  rltf::detail::require_same_shape("rltf::algo::reduce", B::shape(x), B::shape(mask), "x", "mask");
  if (reduction == Reduction::token_mean) return B::masked_mean(x, mask);
  return B::mean(masked_sequence_mean<B>(x, mask));
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
                                        Reduction reduction = Reduction::token_mean) {
  rltf::detail::require_same_shape("rltf::algo::cross_entropy", B::shape(logprobs), B::shape(mask), "logprobs", "mask");
  return B::neg(reduce<B>(logprobs, mask, reduction));
}

/// REINFORCE with per-token rewards: L = −reduce(r_t · log π(w_t)) over the masked tokens.
/// `logprobs`, `rewards` and `mask` are [B, T]; rewards are treated as constants.
template <Backend B>
[[nodiscard]] tensor_t<B> policy_gradient_loss(const tensor_t<B>& logprobs, const tensor_t<B>& rewards,
                                               const tensor_t<B>& mask, Reduction reduction = Reduction::token_mean) {
  constexpr const char* op = "rltf::algo::policy_gradient_loss";
  rltf::detail::require_rank(op, B::shape(logprobs), 2, "logprobs");
  rltf::detail::require_same_shape(op, B::shape(logprobs), B::shape(rewards), "logprobs", "rewards");
  rltf::detail::require_same_shape(op, B::shape(logprobs), B::shape(mask), "logprobs", "mask");
  return B::neg(reduce<B>(B::mul(B::detach(rewards), logprobs), mask, reduction));
}

} // namespace rltf::algo
