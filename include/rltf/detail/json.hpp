#pragma once
/// \file
/// Typed access to JSON fields with errors that name the file, line and field (rltf::parse_error),
/// and JSON parsing that reports the line of a syntax error. The one set of these checks, used by
/// the dataset loaders (data/), the tokenizer files (tokenize/) and safetensors headers (formats/).
/// Internal; shared by several folders.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"

namespace rltf::detail {

/// JSON type name for messages ("string", "number", ...).
[[nodiscard]] inline std::string json_type(const nlohmann::json& j) { return j.type_name(); }

/// A JSON value for an error message, cut to a readable length.
[[nodiscard]] inline std::string json_brief(const nlohmann::json& value, std::size_t max_chars = 64) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > max_chars && max_chars > 3) text = text.substr(0, max_chars - 3) + "...";
  return text;
}

/// 1-based line of byte offset `byte` in `text`.
[[nodiscard]] inline std::size_t line_of(std::string_view text, std::size_t byte) noexcept {
  std::size_t line = 1;
  for (std::size_t i = 0; i < byte && i < text.size(); ++i)
    if (text[i] == '\n') ++line;
  return line;
}

/// Parses a whole JSON document; a syntax error throws rltf::parse_error with `file` and the line
/// of the offending byte.
[[nodiscard]] inline nlohmann::json parse_json(std::string_view text, const std::string& file) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw parse_error(file, line_of(text, e.byte == 0 ? 0 : e.byte - 1), "", std::string("invalid JSON: ") + e.what());
  } catch (const nlohmann::json::exception& e) { // a number out of range (1e999)
    throw parse_error(file, 0, "", std::string("invalid JSON: ") + e.what());
  }
}

/// Where a field is read from, for error messages: the file and its 1-based line (0: not line-oriented).
struct json_where {
  const std::string& file;
  std::size_t line;
};

/// `obj[key]`; parse_error "missing" naming `field` (default: `key`) when `obj` is not an object
/// or has no such key.
[[nodiscard]] inline const nlohmann::json& require_field(const nlohmann::json& obj, std::string_view key, json_where w,
                                                         std::string_view field = {}) {
  const std::string name(field.empty() ? key : field);
  if (!obj.is_object()) throw parse_error(w.file, w.line, name, "missing");
  const auto it = obj.find(key);
  if (it == obj.end()) throw parse_error(w.file, w.line, name, "missing");
  return *it;
}

/// `value` as a string; parse_error naming `field` otherwise.
[[nodiscard]] inline std::string expect_string(const nlohmann::json& value, json_where w, const std::string& field) {
  if (!value.is_string()) throw parse_error(w.file, w.line, field, "expected a string, got " + json_type(value));
  return value.get<std::string>();
}

[[nodiscard]] inline std::string require_string(const nlohmann::json& obj, const char* key, json_where w) {
  return expect_string(require_field(obj, key, w), w, key);
}

/// A string field that may be absent or null (then `fallback`).
[[nodiscard]] inline std::string optional_string(const nlohmann::json& obj, const char* key, json_where w,
                                                 std::string fallback = {}) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  return expect_string(*it, w, key);
}

/// A string or integer id, as a string ("HumanEval/0", 11).
[[nodiscard]] inline std::string require_id(const nlohmann::json& obj, const char* key, json_where w) {
  const auto& v = require_field(obj, key, w);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  throw parse_error(w.file, w.line, key, "expected a string or an integer, got " + json_type(v));
}

/// `value` as an array; parse_error naming `field` otherwise.
[[nodiscard]] inline const nlohmann::json& expect_array(const nlohmann::json& value, json_where w,
                                                        const std::string& field) {
  if (!value.is_array()) throw parse_error(w.file, w.line, field, "expected an array, got " + json_type(value));
  return value;
}

[[nodiscard]] inline const nlohmann::json& require_array(const nlohmann::json& obj, const char* key, json_where w) {
  return expect_array(require_field(obj, key, w), w, key);
}

/// An array of strings; a bad element is named `key[i]`.
[[nodiscard]] inline std::vector<std::string> require_strings(const nlohmann::json& obj, const char* key,
                                                              json_where w) {
  const auto& v = require_array(obj, key, w);
  std::vector<std::string> out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i)
    out.push_back(expect_string(v[i], w, std::string(key) + "[" + std::to_string(i) + "]"));
  return out;
}

/// A number (integer or float), or a string holding one (some dataset releases store numbers as text).
[[nodiscard]] inline double require_number(const nlohmann::json& obj, const char* key, json_where w) {
  const auto& v = require_field(obj, key, w);
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    try {
      std::size_t used = 0;
      const double d = std::stod(v.get<std::string>(), &used);
      if (used == v.get<std::string>().size()) return d;
    } catch (const std::exception&) {
    }
  }
  throw parse_error(w.file, w.line, key, "expected a number, got " + json_type(v));
}

/// `value` as a non-negative integer that fits in 64 bits; parse_error naming `field` otherwise.
[[nodiscard]] inline std::uint64_t expect_unsigned(const nlohmann::json& value, json_where w,
                                                   const std::string& field) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer())
    throw parse_error(w.file, w.line, field, "must not be negative, got " + json_brief(value));
  throw parse_error(w.file, w.line, field, "must be a non-negative integer, got " + json_brief(value));
}

} // namespace rltf::detail
