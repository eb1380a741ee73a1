#pragma once
/// \file
/// The ValuePolicy concept: a TrainablePolicy with a value head, as PPO needs (rltf::PpoTrainer,
/// docs/rlaif.md). The head shares the policy's backbone (TRL's `AutoModelForCausalLMWithValueHead`):
/// V(s_t) is read from the hidden state that predicts completion token t, so one set of
/// parameters — and one optimiser step — serves the policy and the critic.
///
/// | expression                    | meaning                                                           |
/// |-------------------------------|-------------------------------------------------------------------|
/// | `p.values(samples)`           | V of the state before each completion token: a `backend::tensor` shaped like
/// `p.log_probs(samples)`, 0 past each completion | | `p.backward_values(samples, g)` | adds Σ_it g_it · ∂V_it/∂θ to
/// the gradients (g shaped like `values`) |
///
/// Optional fast path: `p.log_probs_and_values(samples)` returning a rltf::PolicyValues from one
/// forward pass, and `p.backward(samples, pv, g_logp, g_values)` back-propagating both gradients
/// through it. rltf::log_probs_and_values and rltf::backward_with_values use it when present and
/// fall back to the separate calls otherwise.

#include <concepts>
#include <span>

#include "rltf/core/sample.hpp"
#include "rltf/train/trainable_policy.hpp"

namespace rltf {

/// Per-token log-probabilities and values of a batch, both [B, T_max].
template <class Tensor>
struct PolicyValues {
  Tensor log_probs;
  Tensor values;
};

template <class P>
concept ValuePolicy = TrainablePolicy<P> &&
    requires(P& p, std::span<const Sample> samples, const typename P::backend::tensor& grad) {
  { p.values(samples) } -> std::same_as<typename P::backend::tensor>;
  p.backward_values(samples, grad);
};

/// log π and V of `samples`: from one forward pass when the policy offers it.
template <ValuePolicy P>
[[nodiscard]] PolicyValues<typename P::backend::tensor> log_probs_and_values(P& policy,
                                                                             std::span<const Sample> samples) {
  if constexpr (requires {
                  { policy.log_probs_and_values(samples) } -> std::same_as<PolicyValues<typename P::backend::tensor>>;
                })
    return policy.log_probs_and_values(samples);
  else
    return {policy.log_probs(samples), policy.values(samples)};
}

/// Adds Σ g_logp · ∂ log π/∂θ + Σ g_values · ∂V/∂θ to the policy's gradients, where `pv` is what
/// rltf::log_probs_and_values returned for `samples`.
template <ValuePolicy P>
void backward_with_values(P& policy, std::span<const Sample> samples,
                          const PolicyValues<typename P::backend::tensor>& pv,
                          const typename P::backend::tensor& grad_logp,
                          const typename P::backend::tensor& grad_values) {
  if constexpr (requires { policy.backward(samples, pv, grad_logp, grad_values); }) {
    policy.backward(samples, pv, grad_logp, grad_values);
  } else {
    backward_logprobs(policy, samples, pv.log_probs, grad_logp);
    policy.backward_values(samples, grad_values);
  }
}

namespace archetypes {
/// The minimal model of ValuePolicy.
struct value_policy : trainable_policy {
  backend::tensor values(std::span<const Sample>);
  void backward_values(std::span<const Sample>, const backend::tensor&);
};
} // namespace archetypes

static_assert(ValuePolicy<archetypes::value_policy>);
static_assert(!ValuePolicy<archetypes::trainable_policy>);

/// Evaluates to true; fails with a readable message when P does not model ValuePolicy.
template <class P>
constexpr bool assert_value_policy() {
  static_assert(TrainablePolicy<P>,
                "rltf: a ValuePolicy is first a TrainablePolicy; see rltf/train/trainable_policy.hpp");
  static_assert(ValuePolicy<P>,
                "rltf: this type is not a ValuePolicy (PPO's policy with a value head). Besides being an "
                "rltf::TrainablePolicy it needs `backend::tensor values(std::span<const rltf::Sample>)` and "
                "`backward_values(std::span<const rltf::Sample>, const backend::tensor& dL_dV)`; see "
                "rltf/train/value_policy.hpp (EigenPolicy: EigenPolicyOptions::value_head; LibTorch: a model "
                "loaded with a value head)");
  return true;
}

} // namespace rltf
