#pragma once
/// \file
/// Reading gzip files through zlib: every member of a multi-member file, CRC-32 and length checked
/// by zlib, and a cap on the decompressed size so that a hostile file (a "gzip bomb") is an error
/// naming the file rather than an exhausted memory. Internal.

#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

#include "rltf/core/error.hpp"

namespace rltf::data::detail {

/// The largest decompressed size gunzip() accepts by default: 1 GiB (the bundled datasets are under
/// 8 MiB).
inline constexpr std::size_t default_gunzip_limit = std::size_t{1} << 30;

/// True when `data` starts with the gzip magic bytes.
[[nodiscard]] inline bool is_gzip(std::string_view data) noexcept {
  return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1F && static_cast<unsigned char>(data[1]) == 0x8B;
}

/// Decompresses every gzip member of `data` (concatenated members are allowed, as gzip writes
/// them), at most `limit` bytes in all. `name` (the file) is used in error messages. Throws
/// rltf::parse_error (field "gzip") on corrupt or truncated input, trailing bytes that are not a
/// gzip member, or output beyond `limit`.
[[nodiscard]] inline std::string gunzip(std::string_view data, const std::string& name,
                                        std::size_t limit = default_gunzip_limit) {
  const auto fail = [&](const std::string& what) { return parse_error(name, 0, "gzip", what); };
  if (data.empty()) throw fail("empty input");
  std::string out;
  std::size_t pos = 0;
  while (pos < data.size()) {
    const auto member = data.substr(pos);
    if (!is_gzip(member)) throw fail("bad magic at byte " + std::to_string(pos) + " (not a gzip member)");
    if (member.size() >= 3 && static_cast<unsigned char>(member[2]) != 8)
      throw fail("unknown compression method " + std::to_string(static_cast<unsigned char>(member[2])) +
                 " (gzip has only deflate, 8)");
    z_stream zs{};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw fail("zlib: cannot initialise the inflater");
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(member.data()));
    zs.avail_in = static_cast<uInt>(std::min<std::size_t>(member.size(), UINT32_MAX));
    int rc = Z_OK;
    constexpr std::size_t chunk = std::size_t{1} << 16;
    while (rc == Z_OK) {
      const std::size_t had = out.size();
      if (had > limit) break;
      const std::size_t room = std::min(chunk, limit + 1 - had); // one byte past the cap detects it
      out.resize(had + room);
      zs.next_out = reinterpret_cast<Bytef*>(out.data() + had);
      zs.avail_out = static_cast<uInt>(room);
      rc = inflate(&zs, Z_NO_FLUSH);
      out.resize(had + room - zs.avail_out);
      if (rc == Z_BUF_ERROR && zs.avail_in == 0) break; // no progress possible: the input ended
      if (rc == Z_BUF_ERROR) rc = Z_OK;                 // output full: go on
    }
    const std::size_t used = member.size() - zs.avail_in;
    const std::string msg = zs.msg != nullptr ? zs.msg : "";
    inflateEnd(&zs);
    if (out.size() > limit)
      throw fail("decompresses to more than " + std::to_string(limit) +
                 " bytes (the cap on reading a gzip file; a corrupt or hostile file?)");
    if (rc != Z_STREAM_END) {
      if (rc == Z_DATA_ERROR) {
        if (msg == "incorrect data check") throw fail("CRC-32 mismatch (zlib: " + msg + ")");
        if (msg == "incorrect length check") throw fail("length mismatch (zlib: " + msg + ")");
        throw fail("corrupt data (zlib: " + msg + ")");
      }
      if (rc == Z_MEM_ERROR) throw fail("zlib: out of memory");
      throw fail("truncated member (unexpected end of data at byte " + std::to_string(pos + used) + ")");
    }
    pos += used;
  }
  return out;
}

} // namespace rltf::data::detail
