#pragma once
// Small random models shared by the LibTorch tests (decoder, LoRA, reward model).

#include <cstdint>
#include <string>
#include <vector>

#include <rltf/core/problem.hpp>
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

/// `count` problems "def f():\n    return " whose one test asks for the digit 0, 1, …
inline std::vector<rltf::Problem> digit_problems(int count) {
  std::vector<rltf::Problem> out;
  for (int d = 0; d < count; ++d) {
    rltf::Problem p;
    p.task_id = "digit/" + std::to_string(d);
    p.prompt = "def f():\n    return ";
    p.entry_point = "f";
    p.prompt_is_code = true;
    p.tests.tests = {{rltf::TestKind::assertion, "assert f() == " + std::to_string(d), {}, {}}};
    out.push_back(p);
  }
  return out;
}

} // namespace torch_test
