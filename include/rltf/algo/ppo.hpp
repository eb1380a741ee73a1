#pragma once
/// \file
/// PPO's clipped surrogate and clipped value loss, written once against the Backend concept.

#include "rltf/algo/policy_gradient.hpp"
#include "rltf/core/backend.hpp"
#include "rltf/core/error.hpp"
#include "rltf/core/shape.hpp"

namespace rltf::algo {

/// Clipped surrogate: with ρ = exp(log π − log π_old),
/// L = reduce(max(−A·ρ, −A·clamp(ρ, 1 − ε, 1 + ε))). All inputs [B, T]; advantages and old
/// log-probs are constants.
template <Backend B>
[[nodiscard]] tensor_t<B> ppo_policy_loss(const tensor_t<B>& logprobs, const tensor_t<B>& old_logprobs,
                                          const tensor_t<B>& advantages, const tensor_t<B>& mask, float clip = 0.2F,
                                          Reduction reduction = Reduction::token_mean, float norm_length = 0.0F) {
  constexpr const char* op = "rltf::algo::ppo_policy_loss";
  if (clip <= 0.0F) throw invalid_argument(std::string(op) + ": clip must be > 0");
  const Shape shape = B::shape(logprobs);
  rltf::detail::require_same_shape(op, shape, B::shape(old_logprobs), "logprobs", "old_logprobs");
  rltf::detail::require_same_shape(op, shape, B::shape(advantages), "logprobs", "advantages");
  rltf::detail::require_same_shape(op, shape, B::shape(mask), "logprobs", "mask");
  const auto adv = B::detach(advantages);
  const auto ratio = B::exp(B::sub(logprobs, B::detach(old_logprobs)));
  const auto unclipped = B::neg(B::mul(adv, ratio));
  const auto clipped = B::neg(B::mul(adv, B::clamp(ratio, 1.0F - clip, 1.0F + clip)));
  return reduce<B>(B::maximum(unclipped, clipped), mask, reduction, norm_length);
}

/// Fraction of masked tokens whose ratio left [1 − ε, 1 + ε] (a diagnostic).
template <Backend B>
[[nodiscard]] float ppo_clip_fraction(const tensor_t<B>& logprobs, const tensor_t<B>& old_logprobs,
                                      const tensor_t<B>& mask, float clip = 0.2F) {
  rltf::detail::require_same_shape("rltf::algo::ppo_clip_fraction", B::shape(logprobs), B::shape(old_logprobs),
                                   "logprobs", "old_logprobs");
  const auto ratio = B::exp(B::sub(B::detach(logprobs), old_logprobs));
  const auto outside = B::greater(B::abs(B::add(ratio, -1.0F)), B::scalar(clip));
  return B::item(B::masked_mean(outside, mask));
}

/// Clipped value loss: V_c = V_old + clamp(V − V_old, −ε, ε),
/// L = ½ reduce(max((V − R)², (V_c − R)²)).
template <Backend B>
[[nodiscard]] tensor_t<B> ppo_value_loss(const tensor_t<B>& values, const tensor_t<B>& old_values,
                                         const tensor_t<B>& returns, const tensor_t<B>& mask, float clip = 0.2F,
                                         Reduction reduction = Reduction::token_mean, float norm_length = 0.0F) {
  constexpr const char* op = "rltf::algo::ppo_value_loss";
  if (clip <= 0.0F) throw invalid_argument(std::string(op) + ": clip must be > 0");
  const Shape shape = B::shape(values);
  rltf::detail::require_same_shape(op, shape, B::shape(old_values), "values", "old_values");
  rltf::detail::require_same_shape(op, shape, B::shape(returns), "values", "returns");
  rltf::detail::require_same_shape(op, shape, B::shape(mask), "values", "mask");
  const auto old = B::detach(old_values);
  const auto target = B::detach(returns);
  const auto clipped = B::add(old, B::clamp(B::sub(values, old), -clip, clip));
  const auto loss = B::maximum(B::square(B::sub(values, target)), B::square(B::sub(clipped, target)));
  return B::mul(reduce<B>(loss, mask, reduction, norm_length), 0.5F);
}

} // namespace rltf::algo
