#pragma once
/// \file
/// Closed-form derivatives of rltf's losses with respect to the per-token log-probabilities.
///
/// Every loss a trainer optimises here is a function of the [B, T] tensor of log π(w_t) (the
/// policy's `log_probs(samples)`): the RLTF / REINFORCE term, the supervised cross-entropy, the
/// clipped-ratio surrogate of PPO/GRPO and the KL penalty to a reference policy. Each function
/// below returns the loss (a rank-0 tensor, computed by the generic numerics of rltf/algo/) and
/// its gradient dL/d log π (a [B, T] tensor, zero on padding), so that a policy only has to
/// back-propagate that gradient into its parameters (rltf::TrainablePolicy::backward): on
/// LibTorch `torch::autograd::backward({logp}, {grad})`, on the Eigen policy analytically. The
/// derivatives are written once against the Backend concept and checked against finite
/// differences on every CPU backend (tests/train/grad.cpp).
///
/// With weights w_it from the reduction (token_mean: m_it / Σ m; sequence_mean:
/// m_it / (B · Σ_t m_it)) and ℓ = log π:
/// - policy gradient  L = −Σ w r ℓ                          dL/dℓ = −w r
/// - cross-entropy    L = −Σ w ℓ                            dL/dℓ = −w
/// - clipped ratio    L = Σ w max(−Aρ, −A clamp(ρ, 1±ε)), ρ = exp(ℓ − ℓ_old)
///                                                          dL/dℓ = −w A ρ where the unclipped term
///                                                          is the max, else 0
/// - KL to reference  L = β Σ w k(ℓ, ℓ_ref); with u = ℓ_ref − ℓ: k1 = −u, k2 = u²/2,
///                    k3 = eᵘ − 1 − u                        dk1 = 1, dk2 = −u, dk3 = 1 − eᵘ
///
/// and, for PPO's value head, of the clipped value loss with respect to the values V
/// (clipped_value_loss_grad): L = ½ Σ w max((V − R)², (V_c − R)²), V_c = V_old + clamp(V − V_old, ±ε),
///                                                          dL/dV = w (V − R) where the unclipped term
///                                                          is the max, else w (V_c − R) inside the
///                                                          clip range and 0 outside it

#include <cstddef>
#include <cstdint>
#include <vector>

#include "rltf/algo/kl.hpp"
#include "rltf/algo/policy_gradient.hpp"
#include "rltf/algo/ppo.hpp"
#include "rltf/core/backend.hpp"
#include "rltf/core/error.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/core/shape.hpp"

namespace rltf::algo {

/// A loss and its gradient with respect to the per-token log-probabilities.
template <Backend B>
struct LossGrad {
  tensor_t<B> loss; ///< rank 0
  tensor_t<B> grad; ///< dL/d log π, the shape of the log-probabilities

  /// The sum of two losses over the same log-probabilities (gradients add).
  friend LossGrad operator+(const LossGrad& a, const LossGrad& b) {
    rltf::detail::require_same_shape("rltf::algo::LossGrad::operator+", B::shape(a.grad), B::shape(b.grad), "lhs grad",
                                     "rhs grad");
    return {B::add(a.loss, b.loss), B::add(a.grad, b.grad)};
  }
  /// The loss scaled by `s` (and its gradient).
  friend LossGrad operator*(float s, const LossGrad& a) { return {B::mul(a.loss, s), B::mul(a.grad, s)}; }
};

/// The weight of each token in a reduction: reduce(x, mask, reduction, norm_length) = Σ w·x.
/// A [B, T] tensor: token_mean m/Σm; seq_mean_token_mean m/(B·max(Σ_t m, 1)); seq_mean_token_sum
/// m/B; seq_mean_token_sum_norm m/(B·L).
template <Backend B>
[[nodiscard]] tensor_t<B> reduction_weights(const tensor_t<B>& mask, Reduction reduction, float norm_length = 0.0F) {
  const Shape shape = B::shape(mask);
  rltf::detail::require_rank("rltf::algo::reduction_weights", shape, 2, "mask");
  if (reduction == Reduction::token_mean) return B::div(mask, B::maximum(B::sum(mask), B::scalar(1.0F)));
  const auto rows = static_cast<std::size_t>(shape[0]);
  const auto cols = static_cast<std::size_t>(shape[1]);
  const float b = rows > 0 ? static_cast<float>(rows) : 1.0F;
  if (reduction == Reduction::seq_mean_token_sum) return B::mul(mask, 1.0F / b);
  if (reduction == Reduction::seq_mean_token_sum_norm)
    return B::mul(mask, 1.0F / (b * norm_length_or(norm_length, shape)));
  std::vector<float> m = B::values(mask);
  for (std::size_t i = 0; i < rows; ++i) {
    float len = 0.0F;
    for (std::size_t t = 0; t < cols; ++t) len += m[i * cols + t];
    const float scale = 1.0F / (static_cast<float>(rows) * (len > 1.0F ? len : 1.0F));
    for (std::size_t t = 0; t < cols; ++t) m[i * cols + t] *= scale;
  }
  return B::from_values(m, shape);
}

/// REINFORCE / RLTF's RL term with per-token rewards r (constants): L = −reduce(r·log π).
template <Backend B>
[[nodiscard]] LossGrad<B>
policy_gradient_loss_grad(const tensor_t<B>& logprobs, const tensor_t<B>& rewards, const tensor_t<B>& mask,
                          Reduction reduction = Reduction::token_mean, float norm_length = 0.0F) {
  const auto lp = B::detach(logprobs);
  auto loss = policy_gradient_loss<B>(lp, rewards, mask, reduction, norm_length);
  auto grad = B::neg(B::mul(B::detach(rewards), reduction_weights<B>(mask, reduction, norm_length)));
  return {std::move(loss), std::move(grad)};
}

/// Supervised cross-entropy on ground-truth tokens: L = −reduce(log π).
template <Backend B>
[[nodiscard]] LossGrad<B> cross_entropy_grad(const tensor_t<B>& logprobs, const tensor_t<B>& mask,
                                             Reduction reduction = Reduction::token_mean, float norm_length = 0.0F) {
  auto loss = cross_entropy<B>(B::detach(logprobs), mask, reduction, norm_length);
  auto grad = B::neg(reduction_weights<B>(mask, reduction, norm_length));
  return {std::move(loss), std::move(grad)};
}

/// The clipped-ratio surrogate of PPO/GRPO (rltf::algo::ppo_policy_loss) and its gradient.
template <Backend B>
[[nodiscard]] LossGrad<B> clipped_surrogate_grad(const tensor_t<B>& logprobs, const tensor_t<B>& old_logprobs,
                                                 const tensor_t<B>& advantages, const tensor_t<B>& mask,
                                                 float clip = 0.2F, Reduction reduction = Reduction::token_mean,
                                                 float norm_length = 0.0F) {
  const auto lp = B::detach(logprobs);
  auto loss = ppo_policy_loss<B>(lp, old_logprobs, advantages, mask, clip, reduction, norm_length);
  const auto adv = B::detach(advantages);
  const auto ratio = B::exp(B::sub(lp, B::detach(old_logprobs)));
  const auto unclipped = B::neg(B::mul(adv, ratio));
  const auto clipped = B::neg(B::mul(adv, B::clamp(ratio, 1.0F - clip, 1.0F + clip)));
  // The clipped term is the maximum (and has zero slope) where it exceeds the unclipped one.
  const auto active = B::sub(B::scalar(1.0F), B::greater(clipped, unclipped));
  auto grad = B::mul(B::mul(unclipped, active), reduction_weights<B>(mask, reduction, norm_length));
  return {std::move(loss), std::move(grad)};
}

/// β · reduce(KL estimate of π against a frozen reference) and its gradient.
template <Backend B>
[[nodiscard]] LossGrad<B> kl_penalty_grad(const tensor_t<B>& logprobs, const tensor_t<B>& ref_logprobs,
                                          const tensor_t<B>& mask, float beta, KlEstimator estimator = KlEstimator::k3,
                                          Reduction reduction = Reduction::token_mean, float norm_length = 0.0F) {
  const auto lp = B::detach(logprobs);
  const auto ref = B::detach(ref_logprobs);
  rltf::detail::require_same_shape("rltf::algo::kl_penalty_grad", B::shape(lp), B::shape(mask), "logprobs", "mask");
  auto loss = B::mul(reduce<B>(kl<B>(lp, ref, estimator), mask, reduction, norm_length), beta);
  const auto u = B::sub(ref, lp);
  tensor_t<B> dk = B::full(B::shape(lp), 1.0F);
  switch (estimator) {
  case KlEstimator::k1:
    break;
  case KlEstimator::k2:
    dk = B::neg(u);
    break;
  case KlEstimator::k3:
    dk = B::sub(dk, B::exp(u));
    break;
  }
  auto grad = B::mul(B::mul(dk, reduction_weights<B>(mask, reduction, norm_length)), beta);
  return {std::move(loss), std::move(grad)};
}

/// PPO's clipped value loss (rltf::algo::ppo_value_loss) and its gradient with respect to the
/// values V (not the log-probabilities): w·(V − R) where the unclipped term is the larger, else
/// w·(V_c − R) inside the clip range (|V − V_old| ≤ ε, where V_c moves with V) and 0 outside it.
template <Backend B>
[[nodiscard]] LossGrad<B> clipped_value_loss_grad(const tensor_t<B>& values, const tensor_t<B>& old_values,
                                                  const tensor_t<B>& returns, const tensor_t<B>& mask,
                                                  float clip = 0.2F, Reduction reduction = Reduction::token_mean,
                                                  float norm_length = 0.0F) {
  const auto v = B::detach(values);
  auto loss = ppo_value_loss<B>(v, old_values, returns, mask, clip, reduction, norm_length);
  const auto old = B::detach(old_values);
  const auto target = B::detach(returns);
  const auto diff = B::sub(v, target);
  const auto moved = B::sub(v, old);
  const auto clipped_diff = B::sub(B::add(old, B::clamp(moved, -clip, clip)), target);
  const auto one = B::scalar(1.0F);
  const auto clipped_wins = B::greater(B::square(clipped_diff), B::square(diff));
  const auto inside = B::sub(one, B::greater(B::abs(moved), B::scalar(clip)));
  const auto slope =
      B::add(B::mul(B::sub(one, clipped_wins), diff), B::mul(B::mul(clipped_wins, inside), clipped_diff));
  auto grad = B::mul(slope, reduction_weights<B>(mask, reduction, norm_length));
  return {std::move(loss), std::move(grad)};
}

/// Options of the GRPO loss (docs/training.md).
struct GrpoLossOptions {
  float clip = 0.2F;                                    ///< ε of the clipped ratio
  float kl_coef = 0.04F;                                ///< β of the KL term (0 disables it)
  KlEstimator kl_estimator = KlEstimator::k3;           ///< GRPO's choice
  Reduction reduction = Reduction::seq_mean_token_mean; ///< GRPO averages per sequence, then over the group
  /// L of Reduction::seq_mean_token_sum_norm (0: the trainer's rollout.sampling.max_new_tokens)
  float norm_length = 0.0F;
};
RLTF_OPTIONS_JSON(GrpoLossOptions, clip, kl_coef, kl_estimator, reduction, norm_length)

/// GRPO: the clipped surrogate with advantages A_it plus β · KL(π ‖ π_ref), and its gradient.
template <Backend B>
[[nodiscard]] LossGrad<B> grpo_loss_grad(const tensor_t<B>& logprobs, const tensor_t<B>& old_logprobs,
                                         const tensor_t<B>& ref_logprobs, const tensor_t<B>& advantages,
                                         const tensor_t<B>& mask, const GrpoLossOptions& options = {}) {
  auto out = clipped_surrogate_grad<B>(logprobs, old_logprobs, advantages, mask, options.clip, options.reduction,
                                       options.norm_length);
  if (options.kl_coef != 0.0F)
    out = out + kl_penalty_grad<B>(logprobs, ref_logprobs, mask, options.kl_coef, options.kl_estimator,
                                   options.reduction, options.norm_length);
  return out;
}

} // namespace rltf::algo
