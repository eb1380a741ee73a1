#pragma once
/// \file
/// A small header-only gzip reader: RFC 1952 members around RFC 1951 deflate streams, with CRC-32
/// and length checks. Enough to read the bundled datasets without zlib. Internal.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rltf/core/error.hpp"

namespace rltf::data::detail {

/// True when `data` starts with the gzip magic bytes.
[[nodiscard]] inline bool is_gzip(std::string_view data) noexcept {
  return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1F && static_cast<unsigned char>(data[1]) == 0x8B;
}

/// CRC-32 (IEEE 802.3, reflected, as gzip uses it) of `data`, continuing from `crc`.
[[nodiscard]] inline std::uint32_t crc32(std::string_view data, std::uint32_t crc = 0) noexcept {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1U) ? 0xEDB88320U ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (unsigned char b : data) crc = table[(crc ^ b) & 0xFFU] ^ (crc >> 8);
  return ~crc;
}

/// Decoder of one deflate stream. Errors throw parse_error(name, 0, "gzip", ...).
class inflater {
public:
  inflater(std::string_view in, std::size_t pos, std::string name) : in_(in), pos_(pos), name_(std::move(name)) {}

  /// Inflates one deflate stream, appending to `out`; returns the byte offset just after the stream.
  std::size_t run(std::string& out) {
    bool last = false;
    while (!last) {
      last = bits(1) != 0;
      const auto type = bits(2);
      if (type == 0)
        stored(out);
      else if (type == 1)
        fixed(out);
      else if (type == 2)
        dynamic(out);
      else
        fail("invalid deflate block type 3");
    }
    // Drop the partial byte; return whole bytes consumed.
    const std::size_t unused_bytes = static_cast<std::size_t>(nbits_ / 8);
    return pos_ - unused_bytes;
  }

private:
  struct huffman {
    std::vector<std::uint16_t> table; ///< (symbol << 4) | length, indexed by the next `bits` input bits
    unsigned bits = 0;
  };

  [[noreturn]] void fail(const std::string& what) const { throw parse_error(name_, 0, "gzip", what); }

  void need(unsigned n) {
    while (nbits_ < n) {
      if (pos_ >= in_.size()) fail("unexpected end of compressed data");
      buf_ |= static_cast<std::uint64_t>(static_cast<unsigned char>(in_[pos_++])) << nbits_;
      nbits_ += 8;
    }
  }

  std::uint32_t bits(unsigned n) {
    if (n == 0) return 0;
    need(n);
    const auto v = static_cast<std::uint32_t>(buf_ & ((std::uint64_t{1} << n) - 1));
    buf_ >>= n;
    nbits_ -= n;
    return v;
  }

  void stored(std::string& out) {
    buf_ >>= nbits_ % 8; // to a byte boundary
    nbits_ -= nbits_ % 8;
    const auto len = bits(16);
    const auto nlen = bits(16);
    if ((len ^ 0xFFFFU) != nlen) fail("stored block length does not match its complement");
    // Whatever is still buffered comes first (whole bytes).
    std::uint32_t left = len;
    while (left > 0 && nbits_ >= 8) {
      out.push_back(static_cast<char>(bits(8)));
      --left;
    }
    if (in_.size() - pos_ < left) fail("unexpected end of data in a stored block");
    out.append(in_.substr(pos_, left));
    pos_ += left;
  }

  huffman build(const std::uint8_t* lengths, std::size_t n, bool allow_incomplete) const {
    std::array<std::uint16_t, 16> count{};
    for (std::size_t s = 0; s < n; ++s) ++count[lengths[s]];
    count[0] = 0;
    int left = 1;
    for (int len = 1; len <= 15; ++len) {
      left = left * 2 - count[static_cast<std::size_t>(len)];
      if (left < 0) fail("over-subscribed Huffman code");
    }
    unsigned max_len = 0;
    for (unsigned len = 1; len <= 15; ++len)
      if (count[len] != 0) max_len = len;
    if (left > 0) {
      // Incomplete codes are only legal for a single distance code (or none at all).
      const std::size_t used =
          static_cast<std::size_t>(std::count_if(lengths, lengths + n, [](std::uint8_t l) { return l != 0; }));
      if (!(allow_incomplete && used <= 1)) fail("incomplete Huffman code");
    }
    huffman h;
    h.bits = max_len == 0 ? 1 : max_len;
    h.table.assign(std::size_t{1} << h.bits, 0); // length 0 marks an invalid code
    std::array<std::uint16_t, 16> next{};
    std::uint16_t code = 0;
    for (unsigned len = 1; len <= 15; ++len) {
      code = static_cast<std::uint16_t>((code + count[len - 1]) << 1);
      next[len] = code;
    }
    for (std::size_t s = 0; s < n; ++s) {
      const unsigned len = lengths[s];
      if (len == 0) continue;
      const unsigned c = next[len]++;
      unsigned rev = 0;
      for (unsigned i = 0; i < len; ++i) rev |= ((c >> i) & 1U) << (len - 1 - i);
      for (std::size_t k = rev; k < h.table.size(); k += std::size_t{1} << len)
        h.table[k] = static_cast<std::uint16_t>((s << 4) | len);
    }
    return h;
  }

  unsigned decode(const huffman& h) {
    // Peek up to h.bits bits; near the end of input fewer may exist, which is fine if the code is short.
    while (nbits_ < h.bits && pos_ < in_.size()) {
      buf_ |= static_cast<std::uint64_t>(static_cast<unsigned char>(in_[pos_++])) << nbits_;
      nbits_ += 8;
    }
    const auto entry = h.table[static_cast<std::size_t>(buf_ & ((std::uint64_t{1} << h.bits) - 1))];
    const unsigned len = entry & 0xFU;
    if (len == 0) fail("invalid Huffman code");
    if (len > nbits_) fail("unexpected end of compressed data");
    buf_ >>= len;
    nbits_ -= len;
    return entry >> 4;
  }

  void codes(std::string& out, const huffman& lit, const huffman& dist) {
    static constexpr std::array<std::uint16_t, 29> len_base{3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                                            15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                                            67, 83, 99, 115, 131, 163, 195, 227, 258};
    static constexpr std::array<std::uint8_t, 29> len_extra{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                                            2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
    static constexpr std::array<std::uint16_t, 30> dist_base{
        1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
        193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
    static constexpr std::array<std::uint8_t, 30> dist_extra{0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                                             6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
    while (true) {
      const unsigned sym = decode(lit);
      if (sym < 256) {
        out.push_back(static_cast<char>(sym));
      } else if (sym == 256) {
        return;
      } else {
        const unsigned li = sym - 257;
        if (li >= 29) fail("invalid length symbol " + std::to_string(sym));
        const std::size_t length = len_base[li] + bits(len_extra[li]);
        const unsigned di = decode(dist);
        if (di >= 30) fail("invalid distance symbol " + std::to_string(di));
        const std::size_t distance = dist_base[di] + bits(dist_extra[di]);
        if (distance > out.size() - base_) fail("distance " + std::to_string(distance) + " reaches before the start");
        const std::size_t from = out.size() - distance;
        for (std::size_t k = 0; k < length; ++k) out.push_back(out[from + k]);
      }
    }
  }

  void fixed(std::string& out) {
    static const auto tables = [this] {
      std::array<std::uint8_t, 288> lit{};
      for (std::size_t i = 0; i < 288; ++i) lit[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
      std::array<std::uint8_t, 32> dist{}; // 30 and 31 complete the code but are invalid symbols
      dist.fill(5);
      return std::pair{build(lit.data(), lit.size(), false), build(dist.data(), dist.size(), false)};
    }();
    codes(out, tables.first, tables.second);
  }

  void dynamic(std::string& out) {
    const unsigned hlit = bits(5) + 257;
    const unsigned hdist = bits(5) + 1;
    const unsigned hclen = bits(4) + 4;
    if (hlit > 286 || hdist > 30) fail("too many length or distance codes");
    static constexpr std::array<std::uint8_t, 19> order{16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                                        11, 4,  12, 3, 13, 2, 14, 1, 15};
    std::array<std::uint8_t, 19> cl{};
    for (unsigned i = 0; i < hclen; ++i) cl[order[i]] = static_cast<std::uint8_t>(bits(3));
    const huffman clh = build(cl.data(), cl.size(), false);
    std::array<std::uint8_t, 316> lengths{};
    unsigned i = 0;
    while (i < hlit + hdist) {
      const unsigned sym = decode(clh);
      if (sym < 16) {
        lengths[i++] = static_cast<std::uint8_t>(sym);
        continue;
      }
      unsigned repeat = 0;
      std::uint8_t value = 0;
      if (sym == 16) {
        if (i == 0) fail("repeat of a code length with no previous length");
        value = lengths[i - 1];
        repeat = 3 + bits(2);
      } else if (sym == 17) {
        repeat = 3 + bits(3);
      } else {
        repeat = 11 + bits(7);
      }
      if (i + repeat > hlit + hdist) fail("code lengths overflow the table");
      for (unsigned r = 0; r < repeat; ++r) lengths[i++] = value;
    }
    if (lengths[256] == 0) fail("no end-of-block code");
    const huffman lit = build(lengths.data(), hlit, false);
    const huffman dist = build(lengths.data() + hlit, hdist, true);
    codes(out, lit, dist);
  }

  std::string_view in_;
  std::size_t pos_;
  std::string name_;
  std::uint64_t buf_ = 0;
  unsigned nbits_ = 0;

public:
  /// Offset in the output where this stream's data starts (back references may not reach before it).
  std::size_t base_ = 0;
};

/// Decompresses every gzip member of `data` (concatenated members are allowed, as gzip writes them).
/// `name` is used in error messages. Throws rltf::parse_error (field "gzip") on corrupt input.
[[nodiscard]] inline std::string gunzip(std::string_view data, const std::string& name) {
  std::string out;
  std::size_t pos = 0;
  const auto fail = [&](const std::string& what) { throw parse_error(name, 0, "gzip", what); };
  bool first = true;
  while (pos < data.size()) {
    if (!first && data.find_first_not_of('\0', pos) == std::string_view::npos) break; // zero padding
    if (data.size() - pos < 18) fail("truncated gzip member (" + std::to_string(data.size() - pos) + " bytes)");
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(data[i]); };
    if (byte(pos) != 0x1F || byte(pos + 1) != 0x8B) fail("not gzip data (bad magic bytes)");
    if (byte(pos + 2) != 8) fail("unknown compression method " + std::to_string(byte(pos + 2)));
    const unsigned flags = byte(pos + 3);
    if (flags & 0xE0U) fail("reserved header flags are set");
    std::size_t p = pos + 10;
    if (flags & 4U) { // FEXTRA
      if (p + 2 > data.size()) fail("truncated extra field");
      const std::size_t xlen = byte(p) | (static_cast<std::size_t>(byte(p + 1)) << 8);
      p += 2 + xlen;
    }
    for (unsigned f : {8U, 16U}) { // FNAME, FCOMMENT: zero-terminated
      if (flags & f) {
        const auto end = data.find('\0', p);
        if (end == std::string_view::npos) fail("unterminated header string");
        p = end + 1;
      }
    }
    if (flags & 2U) p += 2; // FHCRC
    if (p > data.size()) fail("truncated header");
    const std::size_t start = out.size();
    inflater inf(data, p, name);
    inf.base_ = start;
    p = inf.run(out);
    if (data.size() - p < 8) fail("truncated trailer (CRC-32 and size)");
    const auto le32 = [&](std::size_t i) {
      return static_cast<std::uint32_t>(byte(i)) | (static_cast<std::uint32_t>(byte(i + 1)) << 8) |
             (static_cast<std::uint32_t>(byte(i + 2)) << 16) | (static_cast<std::uint32_t>(byte(i + 3)) << 24);
    };
    const std::string_view member(out.data() + start, out.size() - start);
    if (le32(p) != crc32(member)) fail("CRC-32 mismatch: the data is corrupt");
    if (le32(p + 4) != static_cast<std::uint32_t>(member.size() & 0xFFFFFFFFU))
      fail("length mismatch: the data is truncated or corrupt");
    pos = p + 8;
    first = false;
  }
  if (first) fail("empty input");
  return out;
}

} // namespace rltf::data::detail
