#pragma once
/// \file
/// rltf::CharTokenizer — one token per byte, or per character of a given alphabet: a small
/// vocabulary for tiny models trained from scratch.
///
///     auto bytes = rltf::CharTokenizer::bytes();                 // 256 byte tokens + eos + pad
///     rltf::CharTokenizer abc("abcdefghijklmnopqrstuvwxyz ():\n"); // the alphabet's characters + eos + pad
///     auto fitted = rltf::CharTokenizer::from_texts(corpus);     // the characters the corpus uses
///
/// Ids 0..n-1 are the characters (in alphabet order), n is eos and n+1 is pad. eos and pad decode to
/// nothing (an empty byte range in offsets()).

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rltf/core/error.hpp"
#include "rltf/core/span.hpp"
#include "rltf/tokenize/detail/pieces.hpp"
#include "rltf/tokenize/detail/utf8.hpp"
#include "rltf/tokenize/tokenizer.hpp"

namespace rltf {

/// A character-level tokenizer. Models rltf::Tokenizer.
class CharTokenizer {
public:
  /// Every byte is a token (id = byte value); 256 is eos, 257 pad. Encodes any input.
  [[nodiscard]] static CharTokenizer bytes() {
    CharTokenizer t;
    t.byte_mode_ = true;
    t.chars_.reserve(256);
    for (unsigned b = 0; b < 256; ++b) t.chars_.emplace_back(1, static_cast<char>(b));
    return t;
  }

  /// One token per character (code point) of `alphabet`, a UTF-8 string, in order. Throws
  /// rltf::invalid_argument when the alphabet is empty, is not valid UTF-8, or repeats a character.
  explicit CharTokenizer(std::string_view alphabet) {
    if (alphabet.empty()) throw invalid_argument("CharTokenizer: the alphabet is empty");
    ascii_.fill(-1);
    for (std::size_t i = 0; i < alphabet.size();) {
      const auto c = tokenize::detail::decode_utf8(alphabet, i);
      if (!c.valid)
        throw invalid_argument("CharTokenizer: the alphabet is not valid UTF-8 at byte " + std::to_string(i));
      const auto id = static_cast<token_id>(chars_.size());
      const bool fresh = c.value < 128 ? ascii_[c.value] < 0 : !other_.contains(c.value);
      if (!fresh)
        throw invalid_argument("CharTokenizer: the alphabet repeats " + describe(c.value) + " at byte " +
                               std::to_string(i));
      if (c.value < 128)
        ascii_[c.value] = id;
      else
        other_.emplace(c.value, id);
      chars_.emplace_back(alphabet.substr(i, c.length));
      i += c.length;
    }
  }

  /// The characters the texts use, sorted by code point. Throws rltf::invalid_argument when a text is
  /// not valid UTF-8 or all texts are empty.
  [[nodiscard]] static CharTokenizer from_texts(std::span<const std::string> texts) {
    std::vector<char32_t> seen;
    for (const auto& text : texts)
      for (std::size_t i = 0; i < text.size();) {
        const auto c = tokenize::detail::decode_utf8(text, i);
        if (!c.valid)
          throw invalid_argument("CharTokenizer::from_texts: text is not valid UTF-8 at byte " + std::to_string(i));
        seen.push_back(c.value);
        i += c.length;
      }
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    std::string alphabet;
    for (const char32_t c : seen) tokenize::detail::append_utf8(alphabet, c);
    return CharTokenizer(alphabet);
  }

  /// One id per character. Throws rltf::invalid_argument for a character outside the alphabet (or
  /// for invalid UTF-8, in alphabet mode), naming it and its byte offset.
  [[nodiscard]] std::vector<token_id> encode(std::string_view text) const {
    std::vector<token_id> out;
    out.reserve(text.size());
    if (byte_mode_) {
      for (const char ch : text) out.push_back(static_cast<token_id>(static_cast<unsigned char>(ch)));
      return out;
    }
    for (std::size_t i = 0; i < text.size();) {
      const auto b = static_cast<unsigned char>(text[i]);
      if (b < 128 && ascii_[b] >= 0) {
        out.push_back(ascii_[b]);
        ++i;
        continue;
      }
      const auto c = tokenize::detail::decode_utf8(text, i);
      if (!c.valid) throw invalid_argument("CharTokenizer::encode: invalid UTF-8 at byte " + std::to_string(i));
      const auto it = c.value < 128 ? other_.end() : other_.find(c.value);
      if (it == other_.end())
        throw invalid_argument("CharTokenizer::encode: " + describe(c.value) + " at byte " + std::to_string(i) +
                               " is not in the alphabet");
      out.push_back(it->second);
      i += c.length;
    }
    return out;
  }

  /// The characters of the ids; eos and pad give nothing. Throws rltf::invalid_argument for an
  /// id outside [0, vocab_size()).
  [[nodiscard]] std::string decode(std::span<const token_id> ids) const {
    return tokenize::detail::decode_pieces(ids, [this](token_id id) { return token_text(id); });
  }

  /// The byte range of decode(ids) each id produced (empty for eos and pad).
  [[nodiscard]] TokenOffsets offsets(std::span<const token_id> ids) const {
    return tokenize::detail::piece_offsets(ids, [this](token_id id) { return token_text(id); });
  }

  /// Characters + 2 (eos, pad).
  [[nodiscard]] std::size_t vocab_size() const noexcept { return chars_.size() + 2; }
  /// The end-of-text id (the number of characters).
  [[nodiscard]] token_id eos_id() const noexcept { return static_cast<token_id>(chars_.size()); }
  /// The padding id (eos_id() + 1).
  [[nodiscard]] token_id pad_id() const noexcept { return static_cast<token_id>(chars_.size() + 1); }
  /// True for the tokenizer made by bytes().
  [[nodiscard]] bool byte_level() const noexcept { return byte_mode_; }

  /// The text of one id ("" for eos and pad). Throws rltf::invalid_argument outside the vocabulary.
  [[nodiscard]] std::string_view token_text(token_id id) const {
    if (id >= 0 && static_cast<std::size_t>(id) < chars_.size()) return chars_[static_cast<std::size_t>(id)];
    if (id == eos_id() || id == pad_id()) return {};
    throw invalid_argument("CharTokenizer: token id " + std::to_string(id) + " is outside the vocabulary (size " +
                           std::to_string(vocab_size()) + ")");
  }

  /// The alphabet, one character per id (byte mode: all 256 bytes).
  [[nodiscard]] std::string alphabet() const {
    std::string out;
    for (const auto& c : chars_) out += c;
    return out;
  }

private:
  CharTokenizer() = default;

  static std::string describe(char32_t cp) {
    char code[16];
    std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(cp));
    std::string out = "character ";
    if (cp >= 0x20 && cp != 0x7F) {
      out += '\'';
      tokenize::detail::append_utf8(out, cp);
      out += "' ";
    }
    return out + "(" + code + ")";
  }

  bool byte_mode_ = false;
  std::vector<std::string> chars_; ///< id → UTF-8 text of the character
  std::array<token_id, 128> ascii_{};
  std::unordered_map<char32_t, token_id> other_;
};

static_assert(Tokenizer<CharTokenizer>);

} // namespace rltf
