#pragma once
// Small random models shared by the LibTorch tests (decoder, LoRA, reward model).

#include <cstdint>

#include <rltf/torch/decoder.hpp>

namespace torch_test {

/// A 2-layer Qwen2 (32 wide, 4 query / 2 key-value heads, tied embeddings) for `vocab` ids.
inline rltf::DecoderConfig small_qwen2(std::int64_t vocab, std::int64_t mlp = 48, std::int64_t positions = 64) {
  return {.family = rltf::DecoderFamily::qwen2,
          .vocab_size = vocab,
          .hidden_size = 32,
          .intermediate_size = mlp,
          .num_hidden_layers = 2,
          .num_attention_heads = 4,
          .num_key_value_heads = 2,
          .max_position_embeddings = positions,
          .tie_word_embeddings = true,
          .initializer_range = 0.1};
}

} // namespace torch_test
