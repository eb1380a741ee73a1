#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "rltf/core/error.hpp"
#include "rltf/tokenize/chat.hpp"

// The expected strings are derived by reading the templates: Qwen3's from
// data/models/qwen2-tokenizer/tokenizer_config.json (on disk); ChatML/Qwen2.5 and Llama 3's from
// their published tokenizer_config.json templates (Qwen2-7B-Instruct, Qwen2.5-Coder-*-Instruct,
// Meta-Llama-3-8B-Instruct), which are not bundled here.

namespace {
std::filesystem::path qwen_config() {
  return std::filesystem::path(RLTF_SOURCE_DIR) / "data" / "models" / "qwen2-tokenizer" / "tokenizer_config.json";
}
} // namespace

TEST_CASE("ChatFormat: Qwen3's template, recognised from tokenizer_config.json") {
  const auto f = rltf::ChatFormat::from_tokenizer_config(qwen_config());
  CHECK(f.family == "qwen3");
  CHECK(f.render({{"system", "Be brief."}, {"user", "Fix this."}}, true) ==
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nFix this.<|im_end|>\n<|im_start|>assistant\n");
  CHECK(f.render({{"user", "Hi"}}, false) == "<|im_start|>user\nHi<|im_end|>\n");
  // History before the last user turn loses its reasoning; the final reply keeps a <think> block.
  CHECK(f.render({{"user", "a"}, {"assistant", "<think>\nhmm\n</think>\n\nA"}, {"user", "b"}, {"assistant", "B"}},
                 false) ==
        "<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n<|im_start|>user\nb<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n\n</think>\n\nB<|im_end|>\n");
  CHECK(f.render({{"user", "b"}, {"assistant", "<think>\nwhy\n</think>\n\nB"}}, false) ==
        "<|im_start|>user\nb<|im_end|>\n<|im_start|>assistant\n<think>\nwhy\n</think>\n\nB<|im_end|>\n");
  auto no_think = f;
  no_think.enable_thinking = false;
  CHECK(no_think.render({{"user", "b"}}, true) ==
        "<|im_start|>user\nb<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  CHECK(f.render({{"system", "s"}, {"user", "u"}, {"system", "t"}}, false) ==
        "<|im_start|>system\ns<|im_end|>\n<|im_start|>user\nu<|im_end|>\n<|im_start|>system\nt<|im_end|>\n");
}

TEST_CASE("ChatFormat: ChatML, Qwen2.5 and Llama 3") {
  const std::vector<rltf::ChatMessage> conv = {
      {"user", "  Sort a list.\n"}, {"assistant", "sorted(x)"}, {"user", "Why?"}};
  CHECK(rltf::ChatFormat::chatml().render(conv, true) ==
        "<|im_start|>user\n  Sort a list.\n<|im_end|>\n<|im_start|>assistant\nsorted(x)<|im_end|>\n"
        "<|im_start|>user\nWhy?<|im_end|>\n<|im_start|>assistant\n");
  CHECK(rltf::ChatFormat::qwen2_5().render({{"user", "Hi"}}, true) ==
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  CHECK(rltf::ChatFormat::qwen2_5().render({{"system", "S"}, {"user", "Hi"}}, false) ==
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
  CHECK(rltf::ChatFormat::llama3().render(conv, true) ==
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nSort a list.<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nsorted(x)<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWhy?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  CHECK(rltf::ChatFormat::for_family("Qwen2.5").family == "qwen2.5");
  CHECK(rltf::ChatFormat::for_family("llama3").bos == "<|begin_of_text|>");
  CHECK_THROWS_WITH_AS(static_cast<void>(rltf::ChatFormat::for_family("gemma")),
                       doctest::Contains("unknown family 'gemma'"), rltf::invalid_argument);
}

TEST_CASE("ChatFormat: templates are recognised by their markers; others are refused") {
  const std::string llama3 =
      "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
      "message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 "
      "%}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}";
  CHECK(rltf::ChatFormat::from_template(llama3).family == "llama3");
  CHECK(rltf::ChatFormat::from_template("{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>' }}").family ==
        "qwen2");
  CHECK_THROWS_WITH_AS(static_cast<void>(rltf::ChatFormat::from_template(llama3 + "Cutting Knowledge Date")),
                       doctest::Contains("Llama 3.1+"), rltf::invalid_argument);
  CHECK_THROWS_WITH_AS(static_cast<void>(rltf::ChatFormat::from_template("{{ '<start_of_turn>' }}")),
                       doctest::Contains("unrecognised chat template"), rltf::invalid_argument);
  CHECK_THROWS_WITH_AS(static_cast<void>(rltf::ChatFormat::chatml().render({{"tool", "x"}}, false)),
                       doctest::Contains("messages[0].role is 'tool'"), rltf::invalid_argument);
}
