#pragma once
/// \file
/// Reading dataset files: whole files (gzip-compressed or plain), JSON Lines with line-accurate
/// errors, and Python's non-finite numbers; the typed field checks are rltf/detail/json.hpp's. Internal.

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/data/detail/gzip.hpp"
#include "rltf/detail/file.hpp"
#include "rltf/detail/json.hpp"

namespace rltf::data::detail {

/// Dataset files are read whole; this bounds what one file may hold (APPS, the largest, is ~1.3 GB).
inline constexpr std::size_t max_dataset_file_bytes = std::size_t{4} << 30;

/// The contents of a file, decompressed when it is gzip data (recognised by its magic bytes).
[[nodiscard]] inline std::string read_text_file(const std::filesystem::path& path) {
  std::string data = rltf::detail::read_file(path, max_dataset_file_bytes);
  if (is_gzip(data)) return gunzip(data, path.string());
  return data;
}

// The typed field checks are rltf/detail/json.hpp's, shared with tokenize/ and formats/.
using rltf::detail::json_type;
using rltf::detail::json_where;
using rltf::detail::optional_string;
using rltf::detail::parse_json;
using rltf::detail::require_array;
using rltf::detail::require_field;
using rltf::detail::require_id;
using rltf::detail::require_number;
using rltf::detail::require_string;
using rltf::detail::require_strings;

/// Python's json module writes the non-standard numbers NaN, Infinity and -Infinity (EvalPlus inputs
/// contain them). This returns `row` with those bare tokens (outside strings) replaced by marker
/// strings "\u0001rltf-nonfinite:TOKEN" so that nlohmann::json can parse the line (for validation;
/// values handed to Python are taken from the raw text, see json_raw_member()).
[[nodiscard]] inline std::string mark_nonfinite(std::string_view row) {
  std::string out;
  out.reserve(row.size() + 32);
  bool in_string = false;
  for (std::size_t i = 0; i < row.size(); ++i) {
    const char c = row[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < row.size()) {
        out += row[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      out += c;
      continue;
    }
    bool replaced = false;
    for (std::string_view token :
         {std::string_view("-Infinity"), std::string_view("Infinity"), std::string_view("NaN")}) {
      if (row.substr(i, token.size()) == token) {
        out += "\"\\u0001rltf-nonfinite:";
        out += token;
        out += '"';
        i += token.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

/// Parses one JSON value, accepting Python's NaN / Infinity / -Infinity (see mark_nonfinite()).
[[nodiscard]] inline nlohmann::json parse_python_json(std::string_view text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error&) {
    if (text.find("Infinity") == std::string_view::npos && text.find("NaN") == std::string_view::npos) throw;
    return nlohmann::json::parse(mark_nonfinite(text));
  }
}

/// Raw JSON text access, for values that must reach Python untouched (big integers, which
/// nlohmann::json would turn into doubles, and NaN/Infinity). The text must be valid JSON (it is
/// parsed first); these only find where values begin and end.
[[nodiscard]] inline std::size_t json_skip_ws(std::string_view t, std::size_t pos) noexcept {
  while (pos < t.size() && (t[pos] == ' ' || t[pos] == '\t' || t[pos] == '\n' || t[pos] == '\r')) ++pos;
  return pos;
}

/// Index just past the JSON value starting at `pos`.
[[nodiscard]] inline std::size_t json_value_end(std::string_view t, std::size_t pos) noexcept {
  if (pos >= t.size()) return pos;
  if (t[pos] == '"') {
    for (++pos; pos < t.size(); ++pos) {
      if (t[pos] == '\\')
        ++pos;
      else if (t[pos] == '"')
        return pos + 1;
    }
    return t.size();
  }
  if (t[pos] == '[' || t[pos] == '{') {
    int depth = 0;
    for (; pos < t.size(); ++pos) {
      const char c = t[pos];
      if (c == '"') {
        pos = json_value_end(t, pos) - 1;
      } else if (c == '[' || c == '{') {
        ++depth;
      } else if (c == ']' || c == '}') {
        if (--depth == 0) return pos + 1;
      }
    }
    return t.size();
  }
  while (pos < t.size() && t[pos] != ',' && t[pos] != ']' && t[pos] != '}' && t[pos] != ' ' && t[pos] != '\t' &&
         t[pos] != '\n' && t[pos] != '\r')
    ++pos;
  return pos;
}

/// The raw text of the top-level member `key` of the JSON object `t`; empty when absent.
[[nodiscard]] inline std::string_view json_raw_member(std::string_view t, std::string_view key) noexcept {
  std::size_t pos = json_skip_ws(t, 0);
  if (pos >= t.size() || t[pos] != '{') return {};
  pos = json_skip_ws(t, pos + 1);
  while (pos < t.size() && t[pos] == '"') {
    const std::size_t key_end = json_value_end(t, pos);
    const std::string_view k = t.substr(pos + 1, key_end - pos - 2);
    pos = json_skip_ws(t, key_end);
    if (pos >= t.size() || t[pos] != ':') return {};
    pos = json_skip_ws(t, pos + 1);
    const std::size_t value_end = json_value_end(t, pos);
    if (k == key) return t.substr(pos, value_end - pos);
    pos = json_skip_ws(t, value_end);
    if (pos < t.size() && t[pos] == ',') pos = json_skip_ws(t, pos + 1);
  }
  return {};
}

/// The raw texts of the elements of the JSON array `t` (empty for anything else).
[[nodiscard]] inline std::vector<std::string_view> json_raw_elements(std::string_view t) {
  std::vector<std::string_view> out;
  std::size_t pos = json_skip_ws(t, 0);
  if (pos >= t.size() || t[pos] != '[') return out;
  pos = json_skip_ws(t, pos + 1);
  while (pos < t.size() && t[pos] != ']') {
    const std::size_t end = json_value_end(t, pos);
    out.push_back(t.substr(pos, end - pos));
    pos = json_skip_ws(t, end);
    if (pos < t.size() && t[pos] == ',') pos = json_skip_ws(t, pos + 1);
  }
  return out;
}

/// Calls f(json object, 1-based line, raw text of the line) for each non-blank line of JSON Lines
/// `text`; f may also take only the first two.
template <class F>
void for_each_jsonl(std::string_view text, const std::string& file, F&& f) {
  std::size_t line = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    ++line;
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view row = text.substr(pos, end - pos);
    pos = end + 1;
    if (row.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    nlohmann::json j;
    try {
      j = parse_python_json(row);
    } catch (const nlohmann::json::exception& e) { // syntax, or a number out of range (1e999)
      throw parse_error(file, line, "", std::string("invalid JSON: ") + e.what());
    }
    if (!j.is_object()) throw parse_error(file, line, "", "expected a JSON object, got " + json_type(j));
    if constexpr (std::is_invocable_v<F&, nlohmann::json&&, std::size_t, std::string_view>)
      f(std::move(j), line, row);
    else
      f(std::move(j), line);
  }
}

/// A JSON value as a Python string literal (JSON string syntax is valid Python for these escapes).
[[nodiscard]] inline std::string python_literal(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace rltf::data::detail
