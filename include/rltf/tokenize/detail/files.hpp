#pragma once
/// \file
/// Reading tokenizer files (vocab.json / encoder.json, merges.txt / vocab.bpe, tokenizer.json) into
/// plain lists, with rltf::parse_error naming the file, line and field at fault. Internal.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/core/span.hpp"

namespace rltf::tokenize::detail {

/// The whole file as bytes; io_error when it cannot be read.
[[nodiscard]] inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error("cannot open '" + path.string() + "' for reading");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw io_error("error while reading '" + path.string() + "'");
  return text;
}

/// 1-based line of byte offset `byte` in `text`.
[[nodiscard]] inline std::size_t line_of(std::string_view text, std::size_t byte) {
  std::size_t line = 1;
  for (std::size_t i = 0; i < byte && i < text.size(); ++i)
    if (text[i] == '\n') ++line;
  return line;
}

/// Parses JSON, turning nlohmann's errors into parse_error with the file and line.
[[nodiscard]] inline nlohmann::json parse_json(const std::string& text, const std::string& file) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw parse_error(file, line_of(text, e.byte == 0 ? 0 : e.byte - 1), "", std::string("invalid JSON: ") + e.what());
  } catch (const nlohmann::json::exception& e) { // a number out of range (1e999)
    throw parse_error(file, 0, "", std::string("invalid JSON: ") + e.what());
  }
}

/// One vocabulary entry as written in the file: the byte-level token string and its id.
struct vocab_entry {
  std::string token;
  token_id id = 0;
};

/// One merge rule as written in the file, with its 1-based line (0 when not line-oriented).
struct merge_entry {
  std::string left;
  std::string right;
  std::size_t line = 0;
};

/// Reads a {"token": id, ...} object (vocab.json, encoder.json, tokenizer.json's model.vocab).
/// `field` names the object in error messages.
[[nodiscard]] inline std::vector<vocab_entry> read_vocab_object(const nlohmann::json& object, const std::string& file,
                                                                const std::string& field) {
  if (!object.is_object())
    throw parse_error(file, 0, field,
                      "expected a JSON object mapping token strings to ids, got " + std::string(object.type_name()));
  std::vector<vocab_entry> out;
  out.reserve(object.size());
  for (const auto& [key, value] : object.items()) {
    if (!value.is_number_integer())
      throw parse_error(file, 0, field.empty() ? key : field + "[\"" + key + "\"]",
                        "token id must be an integer, got " + std::string(value.type_name()));
    const auto id = value.get<std::int64_t>();
    if (id < 0 || id > std::numeric_limits<token_id>::max())
      throw parse_error(file, 0, field.empty() ? key : field + "[\"" + key + "\"]",
                        "token id " + std::to_string(id) + " is outside [0, 2^31)");
    out.push_back({key, static_cast<token_id>(id)});
  }
  return out;
}

/// Reads merges.txt / vocab.bpe: an optional "#version" first line, then "left right" per line.
[[nodiscard]] inline std::vector<merge_entry> read_merges_text(std::string_view text, const std::string& file) {
  std::vector<merge_entry> out;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line_no == 1 && line.starts_with("#version")) continue;
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos)
      throw parse_error(file, line_no, "merge",
                        "expected two tokens separated by one space, got '" + std::string(line) + "'");
    out.push_back({std::string(line.substr(0, space)), std::string(line.substr(space + 1)), line_no});
  }
  return out;
}

/// The parts of a Hugging Face tokenizer.json that a byte-level BPE needs.
struct tokenizer_json_contents {
  std::vector<vocab_entry> vocab;
  std::vector<merge_entry> merges;
  std::vector<vocab_entry> special; ///< added_tokens with "special": true (content, id)
  std::vector<vocab_entry> added;   ///< added_tokens with "special": false
};

/// Reads tokenizer.json, checking that it describes a GPT-2-style byte-level BPE.
[[nodiscard]] inline tokenizer_json_contents read_tokenizer_json(const std::string& text, const std::string& file) {
  const nlohmann::json doc = parse_json(text, file);
  if (!doc.is_object()) throw parse_error(file, 0, "", "expected a JSON object at the top level");
  const auto field = [&](const nlohmann::json& parent, const char* key,
                         const std::string& path) -> const nlohmann::json& {
    if (!parent.is_object() || !parent.contains(key)) throw parse_error(file, 0, path, "missing");
    return parent.at(key);
  };
  tokenizer_json_contents out;
  const auto& model = field(doc, "model", "model");
  if (model.contains("type") && !(model.at("type").is_string() && model.at("type").get<std::string>() == "BPE"))
    throw parse_error(file, 0, "model.type", "expected \"BPE\", got " + model.at("type").dump());
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(key) && !model.at(key).is_null() && model.at(key) != "")
      throw parse_error(file, 0, std::string("model.") + key,
                        "byte-level BPE with a subword prefix/suffix is not supported, got " + model.at(key).dump());
  if (model.contains("dropout") && !model.at("dropout").is_null() && model.at("dropout") != 0.0)
    throw parse_error(file, 0, "model.dropout", "BPE dropout is not supported, got " + model.at("dropout").dump());
  if (doc.contains("normalizer") && !doc.at("normalizer").is_null())
    throw parse_error(file, 0, "normalizer",
                      "a normalizer is not supported (GPT-2 has none), got " + doc.at("normalizer").dump());
  const auto& pre = field(doc, "pre_tokenizer", "pre_tokenizer");
  if (!pre.is_object() || pre.value("type", std::string()) != "ByteLevel")
    throw parse_error(file, 0, "pre_tokenizer.type", "expected a ByteLevel pre-tokenizer (GPT-2), got " + pre.dump());
  if (pre.value("add_prefix_space", false))
    throw parse_error(file, 0, "pre_tokenizer.add_prefix_space",
                      "add_prefix_space=true is not supported: it breaks decode(encode(text)) == text");
  if (!pre.value("use_regex", true))
    throw parse_error(file, 0, "pre_tokenizer.use_regex", "use_regex=false is not supported");

  out.vocab = read_vocab_object(field(model, "vocab", "model.vocab"), file, "model.vocab");
  const auto& merges = field(model, "merges", "model.merges");
  if (!merges.is_array()) throw parse_error(file, 0, "model.merges", "expected an array");
  out.merges.reserve(merges.size());
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const auto& m = merges[i];
    const std::string path = "model.merges[" + std::to_string(i) + "]";
    if (m.is_string()) {
      const auto s = m.get<std::string>();
      const std::size_t space = s.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == s.size() ||
          s.find(' ', space + 1) != std::string::npos)
        throw parse_error(file, 0, path, "expected \"left right\", got " + m.dump());
      out.merges.push_back({s.substr(0, space), s.substr(space + 1), 0});
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      out.merges.push_back({m[0].get<std::string>(), m[1].get<std::string>(), 0});
    } else {
      throw parse_error(file, 0, path, "expected \"left right\" or [\"left\", \"right\"], got " + m.dump());
    }
  }
  if (doc.contains("added_tokens") && !doc.at("added_tokens").is_null()) {
    const auto& added = doc.at("added_tokens");
    if (!added.is_array()) throw parse_error(file, 0, "added_tokens", "expected an array");
    for (std::size_t i = 0; i < added.size(); ++i) {
      const std::string path = "added_tokens[" + std::to_string(i) + "]";
      const auto& a = added[i];
      if (!a.is_object() || !a.contains("id") || !a.at("id").is_number_integer() || !a.contains("content") ||
          !a.at("content").is_string())
        throw parse_error(file, 0, path, "expected {\"id\": integer, \"content\": string, ...}, got " + a.dump());
      const auto id = a.at("id").get<std::int64_t>();
      if (id < 0 || id > std::numeric_limits<token_id>::max())
        throw parse_error(file, 0, path + ".id", "token id " + std::to_string(id) + " is outside [0, 2^31)");
      vocab_entry e{a.at("content").get<std::string>(), static_cast<token_id>(id)};
      (a.value("special", false) ? out.special : out.added).push_back(std::move(e));
    }
  }
  return out;
}

} // namespace rltf::tokenize::detail
