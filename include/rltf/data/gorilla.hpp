#pragma once
/// \file
/// Gorilla APIBench, Hugging Face part (arXiv 2305.15334; data/gorilla/, Apache-2.0): the API
/// database (`huggingface_api.jsonl`, 936 records) and the eval set (`huggingface_eval.json`, JSON
/// Lines, 911 records), plain or gzipped, and a seeded SFT / RL / held-out split of the examples.
///
/// ```cpp
/// auto apis = rltf::load_gorilla_apis(RLTF_SOURCE_DIR "/data/gorilla/huggingface_api.jsonl.gz");
/// auto examples = rltf::load_gorilla_examples(RLTF_SOURCE_DIR "/data/gorilla/huggingface_eval.jsonl.gz");
/// auto split = rltf::split_gorilla(examples, {.sft = 0.5, .rl = 0.4, .seed = 1}); // rest held out
/// ```
///
/// Fields whose JSON type varies upstream (api_arguments: dict, list, string or null;
/// python_environment_requirements: list, string or dict; example_code: string, list, dict or null;
/// functionality: a list once) are kept as text: a string as it is, null as "", anything else as its
/// compact JSON.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "rltf/core/error.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/core/rng.hpp"
#include "rltf/data/detail/json.hpp"
#include "rltf/detail/random.hpp"

namespace rltf {

/// One record of the Gorilla API database.
struct GorillaApi {
  std::string domain;        ///< "Natural Language Processing Feature Extraction"
  std::string framework;     ///< "Hugging Face Transformers"
  std::string functionality; ///< "Feature Extraction"
  std::string api_name;      ///< "YituTech/conv-bert-base" (usually the model id)
  std::string api_call;      ///< one line of Python: "AutoModel.from_pretrained('YituTech/conv-bert-base')"
  std::string api_arguments; ///< as text (see the file comment)
  std::string python_environment_requirements; ///< as text
  std::string example_code;                    ///< as text
  std::string description;
};

/// One eval record: the instruction and the reference answer, parsed from the `code` field
/// (`###Instruction: …\n###Output: <<<domain>>>: …<<<api_call>>>: …<<<code>>>: …`).
struct GorillaExample {
  std::size_t question_id = 0; ///< 1-based line of the eval file (upstream's question_id)
  std::string instruction;     ///< between "###Instruction:" (when present) and "###Output:", trimmed
  std::string code;            ///< after "<<<code>>>:", trimmed, a ``` fence removed; "" when absent
  std::string api_call;        ///< the record's api_call
  std::string api_name;        ///< api_data.api_name
  std::string domain;          ///< api_data.domain
  std::string provider;        ///< the record's provider ("Hugging Face Transformers", "Joblib", …)
  GorillaApi api;              ///< api_data
};

namespace data::detail {

[[nodiscard]] inline std::string gorilla_text(const nlohmann::json& obj, const char* key, json_where w) {
  const auto& v = require_field(obj, key, w);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return {};
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

[[nodiscard]] inline GorillaApi gorilla_api(const nlohmann::json& j, json_where w, const std::string& prefix = {}) {
  const auto field = [&](const char* key) { return prefix + key; };
  if (!j.is_object())
    throw parse_error(w.file, w.line, prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1),
                      "expected an object, got " + json_type(j));
  const auto text = [&](const char* key) {
    try {
      return gorilla_text(j, key, w);
    } catch (const parse_error& e) {
      throw parse_error(w.file, w.line, field(key), e.what());
    }
  };
  const auto string = [&](const char* key) {
    const auto it = j.find(key);
    if (it == j.end()) throw parse_error(w.file, w.line, field(key), "missing");
    if (!it->is_string()) throw parse_error(w.file, w.line, field(key), "expected a string, got " + json_type(*it));
    return it->get<std::string>();
  };
  GorillaApi a;
  a.domain = string("domain");
  a.framework = string("framework");
  a.functionality = text("functionality");
  a.api_name = string("api_name");
  a.api_call = string("api_call");
  a.api_arguments = text("api_arguments");
  a.python_environment_requirements = text("python_environment_requirements");
  a.example_code = text("example_code");
  a.description = text("description");
  return a;
}

[[nodiscard]] inline std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

/// The reference code of an eval record's `code` text: after "<<<code>>>:", without a ``` fence.
[[nodiscard]] inline std::string gorilla_reference_code(std::string_view text) {
  constexpr std::string_view marker = "<<<code>>>:";
  const auto at = text.find(marker);
  if (at == std::string_view::npos) return {};
  std::string_view code = trim(text.substr(at + marker.size()));
  if (code.starts_with("```")) {
    const auto nl = code.find('\n');
    code = nl == std::string_view::npos ? std::string_view{} : code.substr(nl + 1);
  }
  code = trim(code);
  if (code.ends_with("```")) code = trim(code.substr(0, code.size() - 3));
  return std::string(code);
}

/// The instruction of an eval record's `code` text.
[[nodiscard]] inline std::string gorilla_instruction(std::string_view text) {
  constexpr std::string_view head = "###Instruction:";
  const auto begin = text.find(head);
  std::string_view s = begin == std::string_view::npos ? text : text.substr(begin + head.size());
  const auto end = s.find("###Output:");
  if (end != std::string_view::npos) s = s.substr(0, end);
  return std::string(trim(s));
}

} // namespace data::detail

/// Loads the API database (JSON Lines, plain or gzipped). Errors name the file, line and field.
[[nodiscard]] inline std::vector<GorillaApi> load_gorilla_apis(const std::filesystem::path& path) {
  namespace dd = data::detail;
  const std::string file = path.string();
  std::vector<GorillaApi> apis;
  dd::for_each_jsonl(dd::read_text_file(path), file, [&](const nlohmann::json& j, std::size_t line) {
    apis.push_back(dd::gorilla_api(j, dd::json_where{file, line}));
  });
  if (apis.empty()) throw parse_error(file, 0, "", "no API records");
  return apis;
}

/// Loads the eval set (`huggingface_eval.json`: JSON Lines, plain or gzipped; fields code, api_call,
/// provider, api_data). Errors name the file, line and field ("api_data.api_call" for nested ones).
[[nodiscard]] inline std::vector<GorillaExample> load_gorilla_examples(const std::filesystem::path& path) {
  namespace dd = data::detail;
  const std::string file = path.string();
  std::vector<GorillaExample> out;
  dd::for_each_jsonl(dd::read_text_file(path), file, [&](const nlohmann::json& j, std::size_t line) {
    const dd::json_where w{file, line};
    GorillaExample x;
    x.question_id = line;
    const std::string text = dd::require_string(j, "code", w);
    x.api_call = dd::require_string(j, "api_call", w);
    x.provider = dd::require_string(j, "provider", w);
    x.api = dd::gorilla_api(dd::require_field(j, "api_data", w), w, "api_data.");
    x.instruction = dd::gorilla_instruction(text);
    if (x.instruction.empty()) throw parse_error(file, line, "code", "no instruction before ###Output:");
    x.code = dd::gorilla_reference_code(text);
    x.api_name = x.api.api_name;
    x.domain = x.api.domain;
    out.push_back(std::move(x));
  });
  if (out.empty()) throw parse_error(file, 0, "", "no eval records");
  return out;
}

/// Fractions of a Gorilla split; what `sft` and `rl` leave is held out.
struct GorillaSplitOptions {
  double sft = 0.5;       ///< supervised fine-tuning
  double rl = 0.3;        ///< reinforcement learning (RLAIF)
  std::uint64_t seed = 0; ///< the shuffle's seed
};
RLTF_OPTIONS_JSON(GorillaSplitOptions, sft, rl, seed)

/// The three parts of a split, each in the input's order.
struct GorillaSplit {
  std::vector<GorillaExample> sft, rl, heldout;
};

/// A seeded split: the examples are shuffled (rltf::detail::shuffle, seeded by `seed`), the first
/// round(sft·n) go to SFT, the next round(rl·n) to RL, the rest are held out; each part keeps the
/// input's order. Throws rltf::invalid_argument unless 0 ≤ sft, rl and sft + rl ≤ 1.
[[nodiscard]] inline GorillaSplit split_gorilla(const std::vector<GorillaExample>& examples,
                                                const GorillaSplitOptions& o = {}) {
  if (!(o.sft >= 0.0 && o.rl >= 0.0 && o.sft + o.rl <= 1.0 + 1e-12))
    throw invalid_argument("rltf::split_gorilla: need 0 <= sft, 0 <= rl, sft + rl <= 1; got sft " +
                           std::to_string(o.sft) + ", rl " + std::to_string(o.rl));
  const std::size_t n = examples.size();
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  Rng rng(o.seed);
  rltf::detail::shuffle(order, rng);
  const auto n_sft = std::min(n, static_cast<std::size_t>(std::llround(o.sft * static_cast<double>(n))));
  const auto n_rl = std::min(n - n_sft, static_cast<std::size_t>(std::llround(o.rl * static_cast<double>(n))));
  std::vector<int> part(n, 2);
  for (std::size_t k = 0; k < n_sft + n_rl; ++k) part[order[k]] = k < n_sft ? 0 : 1;
  GorillaSplit s;
  for (std::size_t i = 0; i < n; ++i) (part[i] == 0 ? s.sft : part[i] == 1 ? s.rl : s.heldout).push_back(examples[i]);
  return s;
}

} // namespace rltf
