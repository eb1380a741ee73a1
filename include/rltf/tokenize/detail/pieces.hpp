#pragma once
/// \file
/// decode() and offsets() for tokenizers whose ids each stand for a fixed piece of text (bytes
/// for GPT-2's BPE, a character for CharTokenizer): the decoded text is the pieces concatenated,
/// and each id's offsets are the byte range its piece fills. Internal.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "rltf/core/span.hpp"

namespace rltf::tokenize::detail {

/// The pieces of `ids` concatenated; `piece(id)` returns a string or string_view (and throws for
/// an unknown id).
template <class Piece>
[[nodiscard]] std::string decode_pieces(std::span<const token_id> ids, Piece&& piece) {
  std::string out;
  out.reserve(ids.size());
  for (const token_id id : ids) out += piece(id);
  return out;
}

/// The byte range of decode_pieces(ids, piece) that each id produced; the ranges tile the text.
template <class Piece>
[[nodiscard]] TokenOffsets piece_offsets(std::span<const token_id> ids, Piece&& piece) {
  TokenOffsets out;
  out.reserve(ids.size());
  std::size_t at = 0;
  for (const token_id id : ids) {
    const std::size_t len = std::string_view(piece(id)).size();
    out.push_back({at, at + len});
    at += len;
  }
  return out;
}

} // namespace rltf::tokenize::detail
