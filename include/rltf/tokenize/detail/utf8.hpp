#pragma once
/// \file
/// UTF-8 decoding, code-point classes and GPT-2's byte ↔ unicode map. Internal to rltf's tokenizers.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "rltf/tokenize/detail/unicode_tables.hpp"

namespace rltf::tokenize::detail {

using unicode::char_class;

/// One decoded code point: its value, its length in bytes, and whether the bytes were valid UTF-8.
/// An invalid byte decodes as a one-byte code point of value 0xFFFD with `valid == false`.
struct code_point {
  char32_t value = 0;
  std::uint8_t length = 1;
  bool valid = true;
};

/// Decodes the code point starting at byte `i` of `s` (i < s.size()). Strict: overlong forms,
/// surrogates and values above U+10FFFF are invalid and decode as one byte.
[[nodiscard]] inline code_point decode_utf8(std::string_view s, std::size_t i) noexcept {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1, true};
  const code_point invalid{0xFFFD, 1, false};
  std::size_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return invalid;
  }
  if (i + len > s.size()) return invalid;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return invalid;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return invalid;
  return {cp, static_cast<std::uint8_t>(len), true};
}

/// Appends the UTF-8 encoding of `cp` (a valid scalar value) to `out`.
inline void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// The class of ASCII code points, precomputed from the generated table.
[[nodiscard]] inline const std::array<char_class, 128>& ascii_classes() noexcept {
  static const std::array<char_class, 128> table = [] {
    std::array<char_class, 128> t{};
    for (const auto& r : unicode::class_ranges) {
      if (r.first >= 128) break;
      for (char32_t c = r.first; c <= r.last && c < 128; ++c) t[c] = r.cls;
    }
    return t;
  }();
  return table;
}

/// The class of a code point (letter \p{L}, number \p{N}, space White_Space, or other).
[[nodiscard]] inline char_class classify(char32_t cp) noexcept {
  if (cp < 128) return ascii_classes()[cp];
  std::size_t lo = 0;
  std::size_t hi = unicode::class_range_count;
  while (lo < hi) { // first range with last >= cp
    const std::size_t mid = lo + (hi - lo) / 2;
    if (unicode::class_ranges[mid].last < cp)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < unicode::class_range_count && unicode::class_ranges[lo].first <= cp) return unicode::class_ranges[lo].cls;
  return char_class::other;
}

/// GPT-2's `bytes_to_unicode()`: byte b is written in vocab files as code point `byte_to_unicode()[b]`
/// (printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onwards, in order).
[[nodiscard]] inline const std::array<char32_t, 256>& byte_to_unicode() noexcept {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 256;
    for (unsigned b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      t[b] = printable ? static_cast<char32_t>(b) : next++;
    }
    return t;
  }();
  return table;
}

/// The inverse of byte_to_unicode() over U+0000..U+0143; -1 for code points that are no byte.
[[nodiscard]] inline const std::array<int, 324>& unicode_to_byte() noexcept {
  static const std::array<int, 324> table = [] {
    std::array<int, 324> t{};
    t.fill(-1);
    for (unsigned b = 0; b < 256; ++b) t[byte_to_unicode()[b]] = static_cast<int>(b);
    return t;
  }();
  return table;
}

/// Decodes a byte-level token string (as written in vocab.json / merges.txt) into raw bytes.
/// Returns false when `s` contains a character that is not a byte-level character.
[[nodiscard]] inline bool byte_level_decode(std::string_view s, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < s.size();) {
    const code_point c = decode_utf8(s, i);
    if (!c.valid || c.value >= unicode_to_byte().size() || unicode_to_byte()[c.value] < 0) return false;
    out += static_cast<char>(static_cast<unsigned char>(unicode_to_byte()[c.value]));
    i += c.length;
  }
  return true;
}

/// Encodes raw bytes as a byte-level token string (the inverse of byte_level_decode).
[[nodiscard]] inline std::string byte_level_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char ch : bytes) append_utf8(out, byte_to_unicode()[static_cast<unsigned char>(ch)]);
  return out;
}

} // namespace rltf::tokenize::detail
