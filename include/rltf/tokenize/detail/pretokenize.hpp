#pragma once
/// \file
/// GPT-2's pre-tokenizer, hand-compiled from its regex. Internal to rltf's tokenizers.
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// with \p{L}, \p{N} and \s (White_Space) from the generated Unicode tables. The pieces tile the
/// text. Bytes that are not valid UTF-8 count as one-byte "other" characters, so every byte string
/// is accepted (the regex engines of the reference implementations only see valid UTF-8).

#include <cstddef>
#include <string_view>

#include "rltf/tokenize/detail/utf8.hpp"

namespace rltf::tokenize::detail {

/// A code point's byte length and class.
struct classified {
  std::size_t length;
  char_class cls;
};

[[nodiscard]] inline classified classify_at(std::string_view text, std::size_t i) noexcept {
  const auto b = static_cast<unsigned char>(text[i]);
  if (b < 0x80) return {1, ascii_classes()[b]};
  const code_point c = decode_utf8(text, i);
  return {c.length, c.valid ? classify(c.value) : char_class::other};
}

/// Length of the contraction ('s 't 're 've 'm 'll 'd, lower case) starting at i, or 0.
[[nodiscard]] inline std::size_t contraction_at(std::string_view text, std::size_t i) noexcept {
  if (text[i] != '\'' || i + 1 >= text.size()) return 0;
  const char a = text[i + 1];
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 >= text.size()) return 0;
  const char b = text[i + 2];
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

/// Calls `piece(begin, end)` for each piece of `text`, in order; the pieces tile the text.
template <class F>
void gpt2_pretokenize(std::string_view text, F&& piece) {
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    if (const std::size_t c = contraction_at(text, i); c != 0) {
      piece(i, i + c);
      i += c;
      continue;
    }
    const classified first = classify_at(text, i);
    // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": an optional ASCII space, then a run of one class.
    std::size_t run_begin = i;
    char_class run_class = first.cls;
    if (text[i] == ' ' && i + 1 < n) {
      const classified next = classify_at(text, i + 1);
      if (next.cls != char_class::space) {
        run_begin = i + 1;
        run_class = next.cls;
      }
    }
    if (run_class != char_class::space) {
      std::size_t k = run_begin;
      while (k < n) {
        const classified c = classify_at(text, k);
        if (c.cls != run_class) break;
        k += c.length;
      }
      piece(i, k);
      i = k;
      continue;
    }
    // "\s+(?!\S)|\s+": a whitespace run; when a non-space follows, leave its last character to the
    // next piece (it may become the " " of " word") unless the run is a single character.
    std::size_t k = i;
    std::size_t last = i;
    while (k < n) {
      const classified c = classify_at(text, k);
      if (c.cls != char_class::space) break;
      last = k;
      k += c.length;
    }
    const std::size_t end = (k == n || last == i) ? k : last;
    piece(i, end);
    i = end;
  }
}

} // namespace rltf::tokenize::detail
