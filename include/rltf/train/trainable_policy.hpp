#pragma once
/// \file
/// The TrainablePolicy concept: a Policy that a trainer can optimise and checkpoint.
///
/// rltf's trainers compute every loss as a function of the per-token log-probabilities
/// `p.log_probs(samples)` and obtain its gradient dL/d log π in closed form (rltf/algo/grad.hpp).
/// A trainable policy only has to push that gradient into its parameters and take an optimiser
/// step — the same interface on every backend:
///
/// | expression                          | meaning                                                    |
/// |-------------------------------------|------------------------------------------------------------|
/// | `p.zero_grad()`                     | clears the accumulated parameter gradients                 |
/// | `p.backward(samples, g)`            | adds Σ_it g_it · ∂ log π(w_it)/∂θ to the gradients; `g` is a
/// `P::backend::tensor` of the shape `p.log_probs(samples)` returns | | `p.step(options)`                   | one
/// optimiser (AdamW) step with the gradients; returns their global norm before clipping | | `p.save_checkpoint(dir)` |
/// writes parameters *and* optimiser state into the existing directory `dir` | | `p.load_checkpoint(dir)`            |
/// restores them; afterwards the policy behaves bit for bit like the one saved | | `p.tokenizer()` | the policy's
/// rltf::Tokenizer (the trainer maps error lines to tokens with it) |
///
/// On LibTorch `backward` is `torch::autograd::backward({log_probs(samples)}, {g})`; the Eigen
/// policy (rltf/eigen/policy.hpp) back-propagates analytically.
///
/// Optional fast path: a policy may also offer `p.backward(samples, logp, g)`, where `logp` is
/// the tensor its own `log_probs(samples)` just returned, to reuse that computation (on
/// LibTorch: its autograd graph) instead of recomputing it. The trainers call it through
/// rltf::backward_logprobs, which falls back to `p.backward(samples, g)`.
///
/// Samples the trainer builds itself (supervised targets) have `prompt_tokens` and `tokens`
/// produced by `p.tokenizer().encode`, the completion ending with `eos_id()`.

#include <concepts>
#include <filesystem>
#include <span>
#include <type_traits>

#include "rltf/core/options_json.hpp"
#include "rltf/core/policy.hpp"
#include "rltf/core/sample.hpp"
#include "rltf/tokenize/tokenizer.hpp"

namespace rltf {

/// AdamW hyper-parameters. The defaults are RLTF's for real checkpoints (lr 2e-6); tiny models
/// trained from scratch want a far larger rate (e.g. 1e-3).
struct OptimizerOptions {
  float lr = 2e-6F;           ///< learning rate
  float beta1 = 0.9F;         ///< first-moment decay
  float beta2 = 0.999F;       ///< second-moment decay
  float eps = 1e-8F;          ///< added to the root of the second moment
  float weight_decay = 0.0F;  ///< decoupled weight decay (AdamW)
  float max_grad_norm = 1.0F; ///< clip the gradients' global norm to this; 0 disables clipping
};
RLTF_OPTIONS_JSON(OptimizerOptions, lr, beta1, beta2, eps, weight_decay, max_grad_norm)

template <class P>
concept TrainablePolicy = Policy<P> &&
    requires(P& p, const P& cp, std::span<const Sample> samples, const typename P::backend::tensor& grad,
             const OptimizerOptions& options, const std::filesystem::path& dir) {
  p.zero_grad();
  p.backward(samples, grad);
  { p.step(options) } -> std::convertible_to<float>;
  cp.save_checkpoint(dir);
  p.load_checkpoint(dir);
  requires Tokenizer<std::remove_cvref_t<decltype(cp.tokenizer())>>;
};

/// Adds dL/dθ = Σ g · ∂ log π/∂θ to the policy's gradients, where `logp` is what
/// `policy.log_probs(samples)` returned: through the policy's `backward(samples, logp, g)` when
/// it has one (reusing the forward pass), else through `backward(samples, g)`.
template <TrainablePolicy P>
void backward_logprobs(P& policy, std::span<const Sample> samples, const typename P::backend::tensor& logp,
                       const typename P::backend::tensor& grad) {
  if constexpr (requires { policy.backward(samples, logp, grad); })
    policy.backward(samples, logp, grad);
  else
    policy.backward(samples, grad);
}

/// Starts the policy's optimiser afresh (moments and step count zero) through its optional
/// `reset_optimizer()` member; returns false when it has none. Reinforcement learning after
/// supervised training should not inherit the supervised optimiser's second moments: they are
/// those of a converged loss, far smaller than RL gradients, and would inflate Adam's first steps.
template <class P>
bool reset_optimizer(P& policy) {
  if constexpr (requires { policy.reset_optimizer(); }) {
    policy.reset_optimizer();
    return true;
  } else {
    return false;
  }
}

namespace archetypes {
/// The minimal model of TrainablePolicy.
struct trainable_policy : policy {
  void zero_grad();
  void backward(std::span<const Sample>, const backend::tensor&);
  float step(const OptimizerOptions&);
  void save_checkpoint(const std::filesystem::path&) const;
  void load_checkpoint(const std::filesystem::path&);
  const archetypes::tokenizer& tokenizer() const;
};
} // namespace archetypes

static_assert(TrainablePolicy<archetypes::trainable_policy>);

/// Evaluates to true; fails with a readable message when P does not model TrainablePolicy.
template <class P>
constexpr bool assert_trainable_policy() {
  static_assert(TrainablePolicy<P>,
                "rltf: this type is not a TrainablePolicy. Besides being an rltf::Policy it needs zero_grad(), "
                "backward(std::span<const rltf::Sample>, const backend::tensor& dL_dlogp), float "
                "step(const rltf::OptimizerOptions&), save_checkpoint(const std::filesystem::path&) const, "
                "load_checkpoint(const std::filesystem::path&) and tokenizer() returning an rltf::Tokenizer; see "
                "rltf/train/trainable_policy.hpp");
  return true;
}

} // namespace rltf
