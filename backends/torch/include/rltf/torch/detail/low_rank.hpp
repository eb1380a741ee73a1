#pragma once
/// \file
/// Internals of rltf/torch/lora.hpp that the model families need: the low-rank update one
/// projection may carry (LoRA's lora_A / lora_B pair) and the slot a projection holds it in.

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <utility>

namespace rltf::detail {

/// y += scaling · B(A(dropout(x))): lora_A [r, in] and lora_B [out, r], as PEFT's
/// `lora_A.weight` / `lora_B.weight`. Kept in float32 whatever the base's dtype (PEFT's
/// autocast_adapter_dtype); the input is cast to it and the update back to the output's dtype.
class LowRankUpdateImpl : public torch::nn::Module {
public:
  LowRankUpdateImpl(std::int64_t in, std::int64_t out, std::int64_t rank, double scaling, double dropout)
      : scaling_(scaling), dropout_(dropout) {
    lora_A = register_parameter("lora_A", torch::empty({rank, in}, torch::kFloat32));
    lora_B = register_parameter("lora_B", torch::zeros({out, rank}, torch::kFloat32));
  }

  /// PEFT's default initialisation: A ~ kaiming_uniform(a = √5) (uniform ±1/√in), B = 0, so
  /// the adapted model starts exactly as the base.
  void reset(torch::Generator& gen) {
    torch::NoGradGuard no_grad;
    const double bound = 1.0 / std::sqrt(static_cast<double>(lora_A.size(1)));
    lora_A.copy_(torch::empty(lora_A.sizes(), torch::kFloat32).uniform_(-bound, bound, gen));
    lora_B.zero_();
  }

  /// The update for input `x` [..., in], in `like`'s dtype; dropout only when `training`.
  [[nodiscard]] torch::Tensor delta(const torch::Tensor& x, const torch::Tensor& like, bool training) const {
    torch::Tensor h = x.to(lora_A.scalar_type());
    if (training && dropout_ > 0) h = torch::dropout(h, dropout_, true);
    return (torch::matmul(torch::matmul(h, lora_A.t()), lora_B.t()) * scaling_).to(like.scalar_type());
  }

  /// scaling · B·A, [out, in] in float32 (what merging adds to a Linear weight).
  [[nodiscard]] torch::Tensor product() const { return torch::matmul(lora_B, lora_A) * scaling_; }

  [[nodiscard]] double scaling() const noexcept { return scaling_; }
  [[nodiscard]] std::int64_t rank() const { return lora_A.size(0); }

  bool enabled = true; ///< false: the projection computes its base value only
  torch::Tensor lora_A, lora_B;

private:
  double scaling_;
  double dropout_;
};
TORCH_MODULE(LowRankUpdate);

/// Where a projection keeps an optional low-rank update: `apply(x, y)` returns y plus the
/// update of x when one is attached and enabled, y itself otherwise (one branch, no cost).
class AdapterSlot {
public:
  [[nodiscard]] torch::Tensor apply(const torch::Tensor& x, torch::Tensor y, bool training) const {
    if (!update_ || !update_->enabled) return y;
    return y + update_->delta(x, y, training);
  }
  void attach(LowRankUpdate update) { update_ = std::move(update); }
  void detach() { update_ = LowRankUpdate(nullptr); }
  [[nodiscard]] bool attached() const noexcept { return static_cast<bool>(update_); }

private:
  LowRankUpdate update_{nullptr};
};

} // namespace rltf::detail
