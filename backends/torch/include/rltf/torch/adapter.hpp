#pragma once
/// \file
/// The AdaptableLM concept: a rltf::CausalLM whose projections can carry low-rank adapters
/// (rltf/torch/lora.hpp). Both families model it: rltf::Gpt2Model (c_attn, c_proj, c_fc: Conv1D,
/// weights [in, out]) and rltf::DecoderModel (q/k/v/o_proj, gate/up/down_proj: Linear, [out, in]).
///
/// | expression             | meaning                                                            |
/// |------------------------|--------------------------------------------------------------------|
/// | `m->adapter_targets()` | every adaptable projection, as a std::vector<rltf::AdapterTarget>: its
/// Hugging Face module name, sizes, base weight and the slot an adapter goes in |

#include <torch/torch.h>

#include <concepts>
#include <cstdint>
#include <string>
#include <vector>

#include "rltf/torch/causal_lm.hpp"
#include "rltf/torch/detail/low_rank.hpp"

namespace rltf {

/// One projection an adapter can attach to.
struct AdapterTarget {
  std::string name;            ///< the Hugging Face module name, e.g. `model.layers.0.self_attn.q_proj`
  std::int64_t in = 0;         ///< input features
  std::int64_t out = 0;        ///< output features
  bool fan_in_fan_out = false; ///< the weight is stored [in, out] (GPT-2's Conv1D), not [out, in]
  torch::Tensor weight;        ///< the base weight (shares storage with the model's parameter)
  detail::AdapterSlot* slot = nullptr;
};

template <class M>
concept AdaptableLM = CausalLM<M> && requires(M& m) {
  { m->adapter_targets() } -> std::same_as<std::vector<AdapterTarget>>;
};

namespace archetypes {
/// The minimal model of AdaptableLM (declarations only).
struct adaptable_lm_impl : causal_lm_impl {
  std::vector<AdapterTarget> adapter_targets();
};
struct adaptable_lm {
  adaptable_lm_impl* operator->();
  const adaptable_lm_impl* operator->() const;
};
void save_pretrained(const adaptable_lm&, const std::filesystem::path&);
void load_pretrained_weights(adaptable_lm&, const std::filesystem::path&);
} // namespace archetypes

static_assert(AdaptableLM<archetypes::adaptable_lm>);

/// Evaluates to true; fails with a readable message when M does not model AdaptableLM.
template <class M>
constexpr bool assert_adaptable_lm() {
  static_assert(AdaptableLM<M>, "rltf: this type is not an AdaptableLM (a CausalLM whose adapter_targets() lists "
                                "its projections); see rltf/torch/adapter.hpp");
  return true;
}

} // namespace rltf
