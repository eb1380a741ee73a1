#pragma once
/// \file
/// Reading a Hugging Face tokenizer.json that describes a byte-level BPE (Qwen2, Llama 3, GPT-2)
/// into a plain description, refusing what rltf::HfTokenizer does not implement with a
/// parse_error naming the JSON path. Internal.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/core/span.hpp"
#include "rltf/tokenize/detail/files.hpp"
#include "rltf/tokenize/detail/regex.hpp"

namespace rltf::tokenize::detail {

/// One entry of tokenizer.json's `added_tokens`.
struct hf_added_token {
  std::string content;
  token_id id = 0;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

/// HF's SplitDelimiterBehavior.
enum class split_behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

/// One splitting pre-tokenizer step.
struct hf_split_step {
  enum class kind {
    regex,   ///< Split with pattern.Regex
    literal, ///< Split with pattern.String
    gpt2,    ///< ByteLevel with use_regex: GPT-2's regex, Isolated
  };
  kind type = kind::regex;
  std::shared_ptr<const regex> re; ///< kind::regex
  std::string literal;             ///< kind::literal
  split_behavior behavior = split_behavior::isolated;
  bool invert = false;
};

/// What HfTokenizer needs from tokenizer.json.
struct hf_description {
  std::vector<vocab_entry> vocab;
  std::vector<merge_entry> merges;
  std::vector<hf_added_token> added;
  bool nfc = false;                 ///< the normalizer is NFC
  std::vector<hf_split_step> steps; ///< the pre-tokenizer's splitting steps, in order
  bool ignore_merges = false;
  std::vector<token_id> prefix_ids; ///< TemplateProcessing `single`: special tokens before $A
  std::vector<token_id> suffix_ids; ///< ... and after $A
};

namespace hf_json {

[[noreturn]] inline void fail(const std::string& file, const std::string& path, const std::string& what) {
  throw parse_error(file, 0, path, what);
}

inline const nlohmann::json& member(const nlohmann::json& parent, const char* key, const std::string& file,
                                    const std::string& path) {
  if (!parent.is_object() || !parent.contains(key)) fail(file, path, "missing");
  return parent.at(key);
}

inline std::string type_of(const nlohmann::json& node, const std::string& file, const std::string& path) {
  if (!node.is_object()) fail(file, path, "expected an object, got " + std::string(node.type_name()));
  const auto& t = member(node, "type", file, path + ".type");
  if (!t.is_string()) fail(file, path + ".type", "expected a string, got " + t.dump());
  return t.get<std::string>();
}

inline bool flag(const nlohmann::json& node, const char* key, bool fallback, const std::string& file,
                 const std::string& path) {
  if (!node.contains(key) || node.at(key).is_null()) return fallback;
  if (!node.at(key).is_boolean()) fail(file, path + "." + key, "expected true or false, got " + node.at(key).dump());
  return node.at(key).get<bool>();
}

[[noreturn]] inline void unsupported(const std::string& file, const std::string& path, const std::string& type,
                                     const std::string& supported) {
  fail(file, path + ".type", "unsupported \"" + type + "\" (rltf::HfTokenizer supports " + supported + ")");
}

inline void read_normalizer(const nlohmann::json& node, const std::string& file, const std::string& path,
                            hf_description& out) {
  if (node.is_null()) return;
  const std::string type = type_of(node, file, path);
  if (type == "NFC") {
    out.nfc = true;
  } else if (type == "Sequence") {
    const auto& list = member(node, "normalizers", file, path + ".normalizers");
    if (!list.is_array()) fail(file, path + ".normalizers", "expected an array");
    for (std::size_t i = 0; i < list.size(); ++i)
      read_normalizer(list[i], file, path + ".normalizers[" + std::to_string(i) + "]", out);
  } else {
    unsupported(file, path, type, "NFC, or a Sequence of NFC, or none");
  }
}

inline split_behavior read_behavior(const nlohmann::json& node, const std::string& file, const std::string& path) {
  const auto& b = member(node, "behavior", file, path + ".behavior");
  const std::string s = b.is_string() ? b.get<std::string>() : std::string();
  if (s == "Removed") return split_behavior::removed;
  if (s == "Isolated") return split_behavior::isolated;
  if (s == "MergedWithPrevious") return split_behavior::merged_with_previous;
  if (s == "MergedWithNext") return split_behavior::merged_with_next;
  if (s == "Contiguous") return split_behavior::contiguous;
  fail(file, path + ".behavior",
       "expected \"Removed\", \"Isolated\", \"MergedWithPrevious\", \"MergedWithNext\" or \"Contiguous\", got " +
           b.dump());
}

/// One pre-tokenizer; `last` says whether it is the last of the sequence (ByteLevel must be).
inline void read_pre_tokenizer(const nlohmann::json& node, const std::string& file, const std::string& path, bool last,
                               bool& byte_level_seen, hf_description& out) {
  const std::string type = type_of(node, file, path);
  if (byte_level_seen)
    fail(file, path + ".type",
         "\"" + type + "\" after ByteLevel is not supported: ByteLevel must be the last pre-tokenizer");
  if (type == "Sequence") {
    const auto& list = member(node, "pretokenizers", file, path + ".pretokenizers");
    if (!list.is_array()) fail(file, path + ".pretokenizers", "expected an array");
    for (std::size_t i = 0; i < list.size(); ++i)
      read_pre_tokenizer(list[i], file, path + ".pretokenizers[" + std::to_string(i) + "]",
                         last && i + 1 == list.size(), byte_level_seen, out);
  } else if (type == "Split") {
    hf_split_step step;
    const auto& pattern = member(node, "pattern", file, path + ".pattern");
    if (pattern.is_object() && pattern.contains("Regex") && pattern.at("Regex").is_string()) {
      step.type = hf_split_step::kind::regex;
      try {
        step.re = std::make_shared<const regex>(pattern.at("Regex").get<std::string>());
      } catch (const invalid_argument& e) {
        fail(file, path + ".pattern.Regex", e.what());
      }
    } else if (pattern.is_object() && pattern.contains("String") && pattern.at("String").is_string()) {
      step.type = hf_split_step::kind::literal;
      step.literal = pattern.at("String").get<std::string>();
      if (step.literal.empty()) fail(file, path + ".pattern.String", "an empty split string is not supported");
    } else {
      fail(file, path + ".pattern", "expected {\"Regex\": string} or {\"String\": string}, got " + pattern.dump());
    }
    step.behavior = read_behavior(node, file, path);
    step.invert = flag(node, "invert", false, file, path);
    out.steps.push_back(std::move(step));
  } else if (type == "ByteLevel") {
    if (!last)
      fail(file, path + ".type", "ByteLevel must be the last pre-tokenizer (rltf applies it to the final pieces)");
    byte_level_seen = true;
    if (flag(node, "add_prefix_space", false, file, path))
      fail(file, path + ".add_prefix_space",
           "add_prefix_space=true is not supported: it breaks decode(encode(text)) == text");
    // trim_offsets only changes the offsets HF's post-processor reports; pre-tokenization ignores it.
    (void)flag(node, "trim_offsets", false, file, path);
    if (flag(node, "use_regex", true, file, path))
      out.steps.push_back({hf_split_step::kind::gpt2, nullptr, {}, split_behavior::isolated, false});
  } else {
    unsupported(file, path, type, "Sequence, Split and ByteLevel");
  }
}

inline void read_post_processor(const nlohmann::json& node, const std::string& file, const std::string& path,
                                hf_description& out) {
  if (node.is_null()) return;
  const std::string type = type_of(node, file, path);
  if (type == "ByteLevel") return; // adds no tokens; its trim_offsets is not applied (rltf's offsets tile)
  if (type == "Sequence") {
    const auto& list = member(node, "processors", file, path + ".processors");
    if (!list.is_array()) fail(file, path + ".processors", "expected an array");
    for (std::size_t i = 0; i < list.size(); ++i)
      read_post_processor(list[i], file, path + ".processors[" + std::to_string(i) + "]", out);
    return;
  }
  if (type != "TemplateProcessing") unsupported(file, path, type, "ByteLevel, TemplateProcessing and Sequence");
  const auto& single = member(node, "single", file, path + ".single");
  const auto& specials = member(node, "special_tokens", file, path + ".special_tokens");
  if (!single.is_array()) fail(file, path + ".single", "expected an array");
  bool seen_sequence = false;
  for (std::size_t i = 0; i < single.size(); ++i) {
    const std::string at = path + ".single[" + std::to_string(i) + "]";
    const auto& piece = single[i];
    if (piece.is_object() && piece.contains("Sequence")) {
      if (seen_sequence) fail(file, at, "a single-sequence template may hold $A only once");
      seen_sequence = true;
    } else if (piece.is_object() && piece.contains("SpecialToken") && piece.at("SpecialToken").is_object() &&
               piece.at("SpecialToken").contains("id") && piece.at("SpecialToken").at("id").is_string()) {
      const std::string name = piece.at("SpecialToken").at("id").get<std::string>();
      if (!specials.is_object() || !specials.contains(name))
        fail(file, at, "special token \"" + name + "\" is not in " + path + ".special_tokens");
      const auto& ids = member(specials.at(name), "ids", file, path + ".special_tokens." + name + ".ids");
      if (!ids.is_array()) fail(file, path + ".special_tokens." + name + ".ids", "expected an array of ids");
      for (const auto& id : ids) {
        if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
            id.get<std::int64_t>() > std::numeric_limits<token_id>::max())
          fail(file, path + ".special_tokens." + name + ".ids", "expected token ids, got " + id.dump());
        (seen_sequence ? out.suffix_ids : out.prefix_ids).push_back(static_cast<token_id>(id.get<std::int64_t>()));
      }
    } else {
      fail(file, at, "expected {\"Sequence\": ...} or {\"SpecialToken\": {\"id\": ...}}, got " + piece.dump());
    }
  }
}

} // namespace hf_json

/// Parses tokenizer.json (its text) for HfTokenizer.
[[nodiscard]] inline hf_description read_hf_tokenizer_json(const std::string& text, const std::string& file) {
  using namespace hf_json;
  const nlohmann::json doc = parse_json(text, file);
  if (!doc.is_object()) fail(file, "", "expected a JSON object at the top level");
  hf_description out;

  const auto& model = member(doc, "model", file, "model");
  const std::string type = model.contains("type") ? type_of(model, file, "model") : std::string("BPE");
  if (type != "BPE") fail(file, "model.type", "unsupported \"" + type + "\" (rltf::HfTokenizer supports \"BPE\")");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(key) && !model.at(key).is_null() && model.at(key) != "")
      fail(file, std::string("model.") + key,
           "byte-level BPE with a subword prefix/suffix is not supported, got " + model.at(key).dump());
  if (model.contains("dropout") && !model.at("dropout").is_null() && model.at("dropout") != 0.0)
    fail(file, "model.dropout", "BPE dropout is not supported, got " + model.at("dropout").dump());
  if (flag(model, "byte_fallback", false, file, "model"))
    fail(file, "model.byte_fallback", "byte_fallback=true is not supported (byte-level BPE needs no fallback)");
  out.ignore_merges = flag(model, "ignore_merges", false, file, "model");
  out.vocab = read_vocab_object(member(model, "vocab", file, "model.vocab"), file, "model.vocab");
  const auto& merges = member(model, "merges", file, "model.merges");
  if (!merges.is_array()) fail(file, "model.merges", "expected an array");
  out.merges.reserve(merges.size());
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const auto& m = merges[i];
    const std::string path = "model.merges[" + std::to_string(i) + "]";
    if (m.is_string()) {
      const auto& s = m.get_ref<const std::string&>();
      const std::size_t space = s.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == s.size() ||
          s.find(' ', space + 1) != std::string::npos)
        fail(file, path, "expected \"left right\", got " + m.dump());
      out.merges.push_back({s.substr(0, space), s.substr(space + 1), 0});
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      out.merges.push_back({m[0].get<std::string>(), m[1].get<std::string>(), 0});
    } else {
      fail(file, path, "expected \"left right\" or [\"left\", \"right\"], got " + m.dump());
    }
  }

  if (doc.contains("added_tokens") && !doc.at("added_tokens").is_null()) {
    const auto& added = doc.at("added_tokens");
    if (!added.is_array()) fail(file, "added_tokens", "expected an array");
    for (std::size_t i = 0; i < added.size(); ++i) {
      const std::string path = "added_tokens[" + std::to_string(i) + "]";
      const auto& a = added[i];
      if (!a.is_object()) fail(file, path, "expected an object, got " + a.dump());
      const auto& id = member(a, "id", file, path + ".id");
      const auto& content = member(a, "content", file, path + ".content");
      if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
          id.get<std::int64_t>() > std::numeric_limits<token_id>::max())
        fail(file, path + ".id", "expected a token id in [0, 2^31), got " + id.dump());
      if (!content.is_string() || content.get_ref<const std::string&>().empty())
        fail(file, path + ".content", "expected a non-empty string, got " + content.dump());
      hf_added_token t;
      t.content = content.get<std::string>();
      t.id = static_cast<token_id>(id.get<std::int64_t>());
      t.special = flag(a, "special", false, file, path);
      t.lstrip = flag(a, "lstrip", false, file, path);
      t.rstrip = flag(a, "rstrip", false, file, path);
      t.single_word = flag(a, "single_word", false, file, path);
      t.normalized = flag(a, "normalized", !t.special, file, path);
      out.added.push_back(std::move(t));
    }
  }

  read_normalizer(doc.contains("normalizer") ? doc.at("normalizer") : nlohmann::json(), file, "normalizer", out);
  const auto& pre = member(doc, "pre_tokenizer", file, "pre_tokenizer");
  bool byte_level = false;
  read_pre_tokenizer(pre, file, "pre_tokenizer", true, byte_level, out);
  if (!byte_level)
    fail(file, "pre_tokenizer", "no ByteLevel pre-tokenizer: rltf::HfTokenizer supports byte-level BPE only");
  const auto& decoder = member(doc, "decoder", file, "decoder");
  if (const std::string d = type_of(decoder, file, "decoder"); d != "ByteLevel")
    unsupported(file, "decoder", d, "the ByteLevel decoder");
  read_post_processor(doc.contains("post_processor") ? doc.at("post_processor") : nlohmann::json(), file,
                      "post_processor", out);
  return out;
}

} // namespace rltf::tokenize::detail
