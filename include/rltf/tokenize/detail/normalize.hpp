#pragma once
/// \file
/// Unicode NFC for tokenizer.json's NFC normalizer, with a map from the normalized text back to
/// the original bytes. Internal to rltf's tokenizers.
///
/// The text is cut where ICU's NFC says a character has a normalization boundary before it
/// (`unorm2_hasBoundaryBefore`: NFC(a + b) == NFC(a) + NFC(b) there), so each segment normalizes on
/// its own. Segments of code points below U+0300, and inert characters, are copied as they are
/// (NFC leaves them unchanged); the rest go through ICU. A segment NFC changes maps, as a whole,
/// to its original bytes. Bytes that are not valid UTF-8 are copied unchanged, one segment each.

#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "rltf/core/error.hpp"
#include "rltf/tokenize/detail/utf8.hpp"

namespace rltf::tokenize::detail {

/// ICU's NFC instance (owned by ICU, never freed).
[[nodiscard]] inline const UNormalizer2* nfc_instance() {
  static const UNormalizer2* const instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    const UNormalizer2* n = unorm2_getNFCInstance(&status);
    if (U_FAILURE(status) || n == nullptr)
      throw error(std::string("NFC: ICU's NFC normalizer is unavailable: ") + u_errorName(status));
    return n;
  }();
  return instance;
}

/// True when NFC cannot change `text` (no byte starts a code point at or above U+0300).
[[nodiscard]] inline bool nfc_trivially_stable(std::string_view text) noexcept {
  for (const char ch : text)
    if (static_cast<unsigned char>(ch) >= 0xCC) return false;
  return true;
}

/// Appends NFC(`segment`) (valid UTF-8) to `out` via ICU's UTF-16 API.
inline void nfc_append_icu(std::string_view segment, std::string& out) {
  UErrorCode status = U_ZERO_ERROR;
  thread_local std::u16string in16;
  thread_local std::u16string out16;
  in16.resize(segment.size() + 1);
  int32_t len16 = 0;
  u_strFromUTF8(in16.data(), static_cast<int32_t>(in16.size()), &len16, segment.data(),
                static_cast<int32_t>(segment.size()), &status);
  if (U_FAILURE(status)) throw error(std::string("NFC: UTF-8 to UTF-16 failed: ") + u_errorName(status));
  out16.resize(static_cast<std::size_t>(len16) * 3 + 8);
  status = U_ZERO_ERROR;
  const int32_t n16 =
      unorm2_normalize(nfc_instance(), in16.data(), len16, out16.data(), static_cast<int32_t>(out16.size()), &status);
  if (U_FAILURE(status)) throw error(std::string("NFC: normalization failed: ") + u_errorName(status));
  const std::size_t at = out.size();
  out.resize(at + static_cast<std::size_t>(n16) * 3 + 4);
  int32_t n8 = 0;
  status = U_ZERO_ERROR;
  u_strToUTF8(out.data() + at, static_cast<int32_t>(out.size() - at), &n8, out16.data(), n16, &status);
  if (U_FAILURE(status)) throw error(std::string("NFC: UTF-16 to UTF-8 failed: ") + u_errorName(status));
  out.resize(at + static_cast<std::size_t>(n8));
}

/// NFC of `text` into `out`. When `origin` is not null it receives out.size() + 1 entries: the
/// byte of `text` where each byte of `out` comes from (monotone; origin[out.size()] == text.size());
/// every byte of a segment NFC changed maps to that segment's first original byte.
/// Returns false (and leaves `out` and `origin` empty) when NFC leaves the text unchanged.
inline bool nfc_normalize(std::string_view text, std::string& out, std::vector<std::size_t>* origin) {
  out.clear();
  if (origin != nullptr) origin->clear();
  if (nfc_trivially_stable(text)) return false;
  const UNormalizer2* nfc = nfc_instance();
  bool changed = false;
  std::size_t copied = 0; // text[0, copied) is in out (identity so far unless `changed`)
  const auto copy_to = [&](std::size_t end) {
    if (origin != nullptr)
      for (std::size_t k = copied; k < end; ++k) origin->push_back(k);
    out.append(text.substr(copied, end - copied));
    copied = end;
  };
  const auto normalize_to = [&](std::size_t end) {
    const std::size_t before = out.size();
    nfc_append_icu(text.substr(copied, end - copied), out);
    const std::string_view produced = std::string_view(out).substr(before);
    if (produced == text.substr(copied, end - copied)) {
      out.resize(before);
      copy_to(end);
      return;
    }
    changed = true;
    if (origin != nullptr) origin->insert(origin->end(), produced.size(), copied);
    copied = end;
  };
  std::size_t seg = 0;    // start of the current segment
  bool seg_simple = true; // the current segment is known to be NFC-stable
  std::size_t i = 0;
  while (i < text.size()) {
    const code_point c = decode_utf8(text, i);
    const bool low = c.valid && c.value < 0x300;
    const bool inert = c.valid && !low && unorm2_isInert(nfc, static_cast<UChar32>(c.value));
    const bool boundary = !c.valid || low || inert || unorm2_hasBoundaryBefore(nfc, static_cast<UChar32>(c.value));
    if (boundary && i > seg) {
      if (seg_simple)
        copy_to(i);
      else
        normalize_to(i);
      seg = i;
      seg_simple = true;
    }
    if (!c.valid || inert) { // a segment of its own, unchanged
      copy_to(i + c.length);
      seg = i + c.length;
    } else if (!low) {
      seg_simple = false;
    }
    i += c.length;
  }
  if (seg < text.size()) {
    if (seg_simple)
      copy_to(text.size());
    else
      normalize_to(text.size());
  }
  if (!changed) {
    out.clear();
    if (origin != nullptr) origin->clear();
    return false;
  }
  if (origin != nullptr) origin->push_back(text.size());
  return true;
}

} // namespace rltf::tokenize::detail
