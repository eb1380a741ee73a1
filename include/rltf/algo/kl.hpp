#pragma once
/// \file
/// Per-token KL estimators between the policy and a reference (Schulman's k1, k2, k3) and the
/// adaptive KL coefficient controller of PPO-RLHF.

#include <algorithm>
#include <string>
#include <string_view>

#include "rltf/core/backend.hpp"
#include "rltf/core/error.hpp"
#include "rltf/core/shape.hpp"

namespace rltf::algo {

/// Estimators of KL(π ‖ π_ref) from samples of π, with log r = log π_ref − log π.
enum class KlEstimator {
  k1, ///< −log r = log π − log π_ref (unbiased, high variance, can be negative)
  k2, ///< ½ (log r)² (biased, low variance)
  k3, ///< r − 1 − log r (unbiased, non-negative; GRPO's choice)
};

[[nodiscard]] constexpr std::string_view to_string(KlEstimator k) noexcept {
  switch (k) {
  case KlEstimator::k1:
    return "k1";
  case KlEstimator::k2:
    return "k2";
  case KlEstimator::k3:
    return "k3";
  }
  return "?";
}

/// The per-token KL estimate; `logprobs` and `ref_logprobs` have equal shapes.
template <Backend B>
[[nodiscard]] tensor_t<B> kl(const tensor_t<B>& logprobs, const tensor_t<B>& ref_logprobs, KlEstimator estimator) {
  rltf::detail::require_same_shape("rltf::algo::kl", B::shape(logprobs), B::shape(ref_logprobs), "logprobs",
                                   "ref_logprobs");
  const auto log_r = B::sub(ref_logprobs, logprobs);
  switch (estimator) {
  case KlEstimator::k1:
    return B::neg(log_r);
  case KlEstimator::k2:
    return B::mul(B::square(log_r), 0.5F);
  case KlEstimator::k3:
    return B::sub(B::add(B::exp(log_r), -1.0F), log_r);
  }
  throw invalid_argument("rltf::algo::kl: unknown estimator");
}

/// Options of the KL coefficient β (docs/training.md).
struct KlControlOptions {
  float initial = 0.05F;    ///< starting β
  bool adaptive = false;    ///< fixed β when false
  float target = 6.0F;      ///< target KL per sequence (adaptive only)
  float horizon = 10000.0F; ///< adaptation horizon in samples (adaptive only)
};

/// β, fixed or adapted: e = clip(KL/target − 1, −0.2, 0.2), β ← β (1 + e·n/horizon).
class KlController {
public:
  explicit KlController(KlControlOptions options = {}) : options_(options), beta_(options.initial) {
    if (options.initial < 0.0F) throw invalid_argument("rltf::algo::KlController: initial β must be ≥ 0");
    if (options.adaptive && (options.target <= 0.0F || options.horizon <= 0.0F))
      throw invalid_argument("rltf::algo::KlController: target and horizon must be > 0");
  }

  [[nodiscard]] float beta() const noexcept { return beta_; }

  /// Updates β after a batch of `n` samples whose mean KL was `kl`.
  void update(float kl, float n) noexcept {
    if (!options_.adaptive) return;
    const float e = std::clamp(kl / options_.target - 1.0F, -0.2F, 0.2F);
    beta_ *= 1.0F + e * n / options_.horizon;
  }

private:
  KlControlOptions options_;
  float beta_;
};

} // namespace rltf::algo
