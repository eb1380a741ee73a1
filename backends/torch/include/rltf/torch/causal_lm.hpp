#pragma once
/// \file
/// The CausalLM concept: the one interface every LibTorch language-model family of rltf offers
/// (rltf::Gpt2Model, rltf::DecoderModel for Llama and Qwen2), so that generate(), CausalLMPolicy
/// and through it every trainer, reward model and judge take any of them unchanged. Also the KV
/// cache they share, rltf::KvCache.
///
/// Requirements (m: M, cm: const M, ids/mask/hidden: torch::Tensor, cache: KvCache*):
/// | expression                           | meaning                                                       |
/// |--------------------------------------|---------------------------------------------------------------|
/// | `m->transformer(ids, mask, cache)`   | final hidden states [B, T, E] of int64 ids [B, T]; `mask` [B, T] marks real
/// tokens (left padding; undefined: all real), positions count real tokens only; with a cache, the new keys/values are
/// appended and attention covers it | | `m->lm_logits(hidden)`               | next-token logits [..., V] of hidden
/// states [..., E]          | | `m->values(hidden)`                  | value-head estimates [B, T] (throws without a
/// value head)     | | `m->rewards(hidden, mask)`           | reward-head scalar at each row's last real token [B] | |
/// `cm->make_cache(batch, capacity)`    | an empty KvCache on the model's device and dtype              | |
/// `cm->context_length()`               | positions the model can attend to (n_positions, max_position_embeddings) | |
/// `cm->vocab_size()`, `cm->bos_token_id()` | the vocabulary size, the id an empty prompt starts from  | |
/// `cm->has_value_head()`, `cm->has_reward_head()` | which optional heads exist                         | |
/// `cm->device()`, `cm->dtype()`        | where the weights live and their type                         | |
/// `save_pretrained(cm, dir)`           | writes a Hugging Face checkpoint directory (found by ADL)     | |
/// `load_pretrained_weights(m, dir)`    | copies `dir`'s weights into the existing parameters (device and dtype stay) |
///
/// plus torch::nn::Module's `parameters()`, `train(bool)`, `eval()`, `is_training()` and
/// `to(device, dtype)` through `->`.

#include <torch/torch.h>

#include <concepts>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "rltf/core/span.hpp"

namespace rltf {

/// Keys and values of every layer for the tokens seen so far, preallocated to a capacity (no
/// concatenation per step). Rows may be left-padded: `mask` marks the real tokens, `real` counts
/// them per row.
struct KvCache {
  std::vector<torch::Tensor> keys;   ///< per layer [B, kv_heads, capacity, head_dim]
  std::vector<torch::Tensor> values; ///< per layer [B, kv_heads, capacity, head_dim]
  torch::Tensor mask;                ///< [B, capacity] bool: a real token sits here
  torch::Tensor real;                ///< [B] int64: real tokens per row so far (next position)
  std::int64_t length = 0;           ///< slots filled
  std::int64_t capacity = 0;

  [[nodiscard]] bool empty() const noexcept { return keys.empty(); }

  /// An empty cache of `layers` layers on `options`' device and dtype.
  [[nodiscard]] static KvCache make(std::int64_t layers, std::int64_t batch, std::int64_t kv_heads,
                                    std::int64_t capacity, std::int64_t head_dim, torch::TensorOptions options) {
    KvCache cache;
    options = options.requires_grad(false);
    for (std::int64_t l = 0; l < layers; ++l) {
      cache.keys.push_back(torch::zeros({batch, kv_heads, capacity, head_dim}, options));
      cache.values.push_back(torch::zeros({batch, kv_heads, capacity, head_dim}, options));
    }
    cache.mask = torch::zeros({batch, capacity}, torch::TensorOptions().dtype(torch::kBool).device(options.device()));
    cache.real = torch::zeros({batch}, torch::TensorOptions().dtype(torch::kInt64).device(options.device()));
    cache.capacity = capacity;
    return cache;
  }

  /// Writes layer `layer`'s new keys/values [B, kv_heads, T, head_dim] at the current length and
  /// returns views of everything cached so far, (keys, values) [B, kv_heads, length + T, head_dim].
  std::pair<torch::Tensor, torch::Tensor> append(std::size_t layer, const torch::Tensor& k, const torch::Tensor& v) {
    const auto t = k.size(2);
    keys[layer].narrow(2, length, t).copy_(k);
    values[layer].narrow(2, length, t).copy_(v);
    return {keys[layer].narrow(2, 0, length + t), values[layer].narrow(2, 0, length + t)};
  }

  /// Keeps only the given rows (e.g. to drop finished sequences from a batch).
  void select_rows(const torch::Tensor& rows) {
    for (auto& k : keys) k = k.index_select(0, rows);
    for (auto& v : values) v = v.index_select(0, rows);
    mask = mask.index_select(0, rows);
    real = real.index_select(0, rows);
  }
};

template <class M>
concept CausalLM = requires(M& m, const M& cm, const torch::Tensor& t, KvCache* cache, std::int64_t n,
                            const std::filesystem::path& dir, torch::Device device, torch::ScalarType dtype) {
  { m->transformer(t, t, cache) } -> std::same_as<torch::Tensor>;
  { m->lm_logits(t) } -> std::same_as<torch::Tensor>;
  { m->values(t) } -> std::same_as<torch::Tensor>;
  { m->rewards(t, t) } -> std::same_as<torch::Tensor>;
  { cm->make_cache(n, n) } -> std::same_as<KvCache>;
  { cm->context_length() } -> std::convertible_to<std::int64_t>;
  { cm->vocab_size() } -> std::convertible_to<std::int64_t>;
  { cm->bos_token_id() } -> std::convertible_to<token_id>;
  { cm->has_value_head() } -> std::convertible_to<bool>;
  { cm->has_reward_head() } -> std::convertible_to<bool>;
  { cm->device() } -> std::same_as<torch::Device>;
  { cm->dtype() } -> std::same_as<torch::ScalarType>;
  { cm->parameters() } -> std::same_as<std::vector<torch::Tensor>>;
  { cm->is_training() } -> std::convertible_to<bool>;
  m->train(true);
  m->eval();
  m->to(device, dtype);
  save_pretrained(cm, dir);
  load_pretrained_weights(m, dir);
};

namespace archetypes {
/// The minimal model of CausalLM (declarations only: it checks the concept, nothing runs).
struct causal_lm_impl {
  torch::Tensor transformer(const torch::Tensor&, const torch::Tensor&, KvCache*);
  torch::Tensor lm_logits(const torch::Tensor&);
  torch::Tensor values(const torch::Tensor&);
  torch::Tensor rewards(const torch::Tensor&, const torch::Tensor&);
  KvCache make_cache(std::int64_t, std::int64_t) const;
  std::int64_t context_length() const;
  std::int64_t vocab_size() const;
  token_id bos_token_id() const;
  bool has_value_head() const;
  bool has_reward_head() const;
  torch::Device device() const;
  torch::ScalarType dtype() const;
  std::vector<torch::Tensor> parameters() const;
  bool is_training() const;
  void train(bool);
  void eval();
  void to(torch::Device, torch::ScalarType);
};
struct causal_lm {
  causal_lm_impl* operator->();
  const causal_lm_impl* operator->() const;
};
void save_pretrained(const causal_lm&, const std::filesystem::path&);
void load_pretrained_weights(causal_lm&, const std::filesystem::path&);
} // namespace archetypes

static_assert(CausalLM<archetypes::causal_lm>);

/// Evaluates to true; fails with a readable message when M does not model CausalLM.
template <class M>
constexpr bool assert_causal_lm() {
  static_assert(CausalLM<M>, "rltf: this type is not a CausalLM (a LibTorch model handle with transformer(), "
                             "lm_logits(), values(), rewards(), make_cache(), context_length(), vocab_size(), "
                             "bos_token_id(), has_value_head(), has_reward_head(), device(), dtype(), and "
                             "save_pretrained / load_pretrained_weights found by ADL); see rltf/torch/causal_lm.hpp");
  return true;
}

} // namespace rltf
