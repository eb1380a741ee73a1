#pragma once
/// \file
/// A small RGB raster image with line, rectangle, disc and 5×7 bitmap-text drawing, and a PNG
/// encoder with no dependencies: the zlib stream is one deflate block with the fixed Huffman codes
/// and back-references to the previous pixel or row (or, on request, stored blocks), with the
/// PNG chunks' CRC-32 and zlib's Adler-32 computed here. Used for learning-curve plots.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "rltf/core/error.hpp"
#include "rltf/detail/atomic_file.hpp"

namespace rltf::programs::detail {

/// An 8-bit RGB colour.
struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  friend constexpr bool operator==(Rgb, Rgb) = default;
};

/// CRC-32 (ISO-HDLC, as PNG uses) of `data`, continuing from `crc` (0 to start).
[[nodiscard]] inline std::uint32_t crc32(std::string_view data, std::uint32_t crc = 0) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t n = 0; n < 256; ++n) {
      std::uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1U) != 0 ? 0xEDB88320U ^ (c >> 1U) : c >> 1U;
      t[n] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (unsigned char ch : data) crc = table[(crc ^ ch) & 0xFFU] ^ (crc >> 8U);
  return ~crc;
}

/// Adler-32 of `data` (zlib's checksum).
[[nodiscard]] inline std::uint32_t adler32(std::string_view data) {
  std::uint32_t a = 1, b = 0;
  for (unsigned char ch : data) {
    a = (a + ch) % 65521U;
    b = (b + a) % 65521U;
  }
  return (b << 16U) | a;
}

/// A zlib stream (RFC 1950) of stored deflate blocks (RFC 1951, BTYPE 00) holding `data`.
[[nodiscard]] inline std::string zlib_stored(std::string_view data) {
  std::string out;
  out += static_cast<char>(0x78); // CM 8, CINFO 7
  out += static_cast<char>(0x01); // FCHECK: (0x78 << 8 | 0x01) % 31 == 0, no dictionary, fastest
  std::size_t pos = 0;
  do {
    const std::size_t len = std::min<std::size_t>(65535, data.size() - pos);
    const bool final = pos + len == data.size();
    out += static_cast<char>(final ? 1 : 0);
    out += static_cast<char>(len & 0xFFU);
    out += static_cast<char>((len >> 8U) & 0xFFU);
    out += static_cast<char>(~len & 0xFFU);
    out += static_cast<char>((~len >> 8U) & 0xFFU);
    out.append(data.substr(pos, len));
    pos += len;
  } while (pos < data.size());
  const std::uint32_t adler = adler32(data);
  for (int shift = 24; shift >= 0; shift -= 8)
    out += static_cast<char>((adler >> static_cast<unsigned>(shift)) & 0xFFU);
  return out;
}

/// A zlib stream holding `data` in one deflate block with the fixed Huffman codes (RFC 1951
/// §3.2.6, BTYPE 01), whose only back-references repeat the byte `pixel` back or `row` back (the
/// previous pixel or scanline): no search, yet plots — long runs of identical pixels and rows —
/// shrink by one or two orders of magnitude.
[[nodiscard]] inline std::string zlib_fixed(std::string_view data, std::size_t pixel, std::size_t row) {
  std::string out;
  out += static_cast<char>(0x78);
  out += static_cast<char>(0x01);
  std::uint32_t acc = 0;
  int used = 0;
  auto bits = [&](std::uint32_t value, int count) { // LSB first
    acc |= value << static_cast<unsigned>(used);
    used += count;
    while (used >= 8) {
      out += static_cast<char>(acc & 0xFFU);
      acc >>= 8U;
      used -= 8;
    }
  };
  auto huffman = [&](std::uint32_t code, int length) { // Huffman codes go MSB first
    for (int i = length - 1; i >= 0; --i) bits((code >> static_cast<unsigned>(i)) & 1U, 1);
  };
  auto literal = [&](unsigned char c) {
    if (c < 144)
      huffman(0x30U + c, 8);
    else
      huffman(0x190U + (c - 144U), 9);
  };
  auto symbol = [&](unsigned sym) { // 256..287
    if (sym < 280)
      huffman(sym - 256U, 7);
    else
      huffman(0xC0U + (sym - 280U), 8);
  };
  static constexpr unsigned len_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                            31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
  static constexpr int len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                        2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
  static constexpr unsigned dist_base[30] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                             33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                             1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
  static constexpr int dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                         6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
  auto match = [&](unsigned length, unsigned distance) {
    int k = 28;
    while (len_base[k] > length) --k;
    symbol(257U + static_cast<unsigned>(k));
    bits(length - len_base[k], len_extra[k]);
    int d = 29;
    while (dist_base[d] > distance) --d;
    huffman(static_cast<std::uint32_t>(d), 5);
    bits(distance - dist_base[d], dist_extra[d]);
  };
  bits(1, 1); // BFINAL
  bits(1, 2); // BTYPE 01: fixed Huffman codes
  std::size_t i = 0;
  while (i < data.size()) {
    std::size_t best = 0, best_distance = 0;
    for (std::size_t distance : {row, pixel}) {
      if (distance == 0 || distance > 32768 || distance > i) continue;
      std::size_t n = 0;
      while (n < 258 && i + n < data.size() && data[i + n] == data[i + n - distance]) ++n;
      if (n > best) best = n, best_distance = distance;
    }
    if (best >= 3) {
      match(static_cast<unsigned>(best), static_cast<unsigned>(best_distance));
      i += best;
    } else {
      literal(static_cast<unsigned char>(data[i]));
      ++i;
    }
  }
  symbol(256); // end of block
  if (used > 0) out += static_cast<char>(acc & 0xFFU);
  const std::uint32_t adler = adler32(data);
  for (int shift = 24; shift >= 0; shift -= 8)
    out += static_cast<char>((adler >> static_cast<unsigned>(shift)) & 0xFFU);
  return out;
}

/// The 5×7 glyph of a character ('#' set); lowercase letters use the uppercase glyphs; unknown
/// characters draw as a box.
[[nodiscard]] inline const std::array<const char*, 7>& glyph(char c) {
  struct Glyph {
    char c;
    std::array<const char*, 7> rows;
  };
  static const Glyph glyphs[] = {
      {' ', {".....", ".....", ".....", ".....", ".....", ".....", "....."}},
      {'0', {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."}},
      {'1', {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."}},
      {'2', {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"}},
      {'3', {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."}},
      {'4', {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."}},
      {'5', {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."}},
      {'6', {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."}},
      {'7', {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."}},
      {'8', {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."}},
      {'9', {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."}},
      {'A', {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"}},
      {'B', {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."}},
      {'C', {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."}},
      {'D', {"###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."}},
      {'E', {"#####", "#....", "#....", "####.", "#....", "#....", "#####"}},
      {'F', {"#####", "#....", "#....", "####.", "#....", "#....", "#...."}},
      {'G', {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"}},
      {'H', {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"}},
      {'I', {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."}},
      {'J', {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."}},
      {'K', {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"}},
      {'L', {"#....", "#....", "#....", "#....", "#....", "#....", "#####"}},
      {'M', {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"}},
      {'N', {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"}},
      {'O', {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."}},
      {'P', {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."}},
      {'Q', {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"}},
      {'R', {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"}},
      {'S', {".####", "#....", "#....", ".###.", "....#", "....#", "####."}},
      {'T', {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."}},
      {'U', {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."}},
      {'V', {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."}},
      {'W', {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."}},
      {'X', {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"}},
      {'Y', {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."}},
      {'Z', {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"}},
      {'.', {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."}},
      {',', {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."}},
      {':', {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."}},
      {'-', {".....", ".....", ".....", "#####", ".....", ".....", "....."}},
      {'+', {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."}},
      {'=', {".....", ".....", "#####", ".....", "#####", ".....", "....."}},
      {'_', {".....", ".....", ".....", ".....", ".....", ".....", "#####"}},
      {'/', {".....", "....#", "...#.", "..#..", ".#...", "#....", "....."}},
      {'%', {"##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"}},
      {'(', {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."}},
      {')', {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."}},
      {'@', {".###.", "#...#", "....#", ".##.#", "#.#.#", "#.#.#", ".###."}},
      {'#', {".#.#.", ".#.#.", "#####", ".#.#.", "#####", ".#.#.", ".#.#."}},
      {'<', {"...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."}},
      {'>', {".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."}},
      {'\'', {"..#..", "..#..", ".#...", ".....", ".....", ".....", "....."}},
  };
  static const std::array<const char*, 7> box{"#####", "#...#", "#...#", "#...#", "#...#", "#...#", "#####"};
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  for (const auto& g : glyphs)
    if (g.c == c) return g.rows;
  return box;
}

/// An RGB image with simple drawing.
class Image {
public:
  Image(int width, int height, Rgb background = {255, 255, 255}) : w_(width), h_(height) {
    if (width <= 0 || height <= 0) throw invalid_argument("image: width and height must be positive");
    px_.assign(static_cast<std::size_t>(width) * static_cast<std::size_t>(height), background);
  }

  [[nodiscard]] int width() const noexcept { return w_; }
  [[nodiscard]] int height() const noexcept { return h_; }
  [[nodiscard]] Rgb at(int x, int y) const { return px_.at(index(x, y)); }

  /// Sets a pixel (ignored outside the image).
  void set(int x, int y, Rgb c) {
    if (x >= 0 && y >= 0 && x < w_ && y < h_) px_[index(x, y)] = c;
  }

  void fill_rect(int x0, int y0, int x1, int y1, Rgb c) {
    for (int y = std::max(0, std::min(y0, y1)); y <= std::min(h_ - 1, std::max(y0, y1)); ++y)
      for (int x = std::max(0, std::min(x0, x1)); x <= std::min(w_ - 1, std::max(x0, x1)); ++x) px_[index(x, y)] = c;
  }

  /// A line of the given thickness (Bresenham, with square pens).
  void line(int x0, int y0, int x1, int y1, Rgb c, int thickness = 1) {
    const int dx = std::abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
    const int dy = -std::abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    const int r0 = (thickness - 1) / 2, r1 = thickness / 2;
    for (;;) {
      fill_rect(x0 - r0, y0 - r0, x0 + r1, y0 + r1, c);
      if (x0 == x1 && y0 == y1) break;
      const int e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }

  /// A filled disc.
  void disc(int cx, int cy, int radius, Rgb c) {
    for (int y = -radius; y <= radius; ++y)
      for (int x = -radius; x <= radius; ++x)
        if (x * x + y * y <= radius * radius) set(cx + x, cy + y, c);
  }

  /// Text in the 5×7 font, `scale` pixels per font pixel, top-left at (x, y); vertical text
  /// runs upwards from (x, y) when `vertical`.
  void text(int x, int y, std::string_view s, Rgb c, int scale = 1, bool vertical = false) {
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto& g = glyph(s[i]);
      const int advance = static_cast<int>(i) * 6 * scale;
      for (int row = 0; row < 7; ++row)
        for (int col = 0; col < 5; ++col)
          if (g[static_cast<std::size_t>(row)][col] == '#') {
            if (!vertical)
              fill_rect(x + advance + col * scale, y + row * scale, x + advance + col * scale + scale - 1,
                        y + row * scale + scale - 1, c);
            else
              fill_rect(x + row * scale, y - advance - col * scale - scale + 1, x + row * scale + scale - 1,
                        y - advance - col * scale, c);
          }
    }
  }

  /// Width in pixels of `s` drawn at `scale`.
  [[nodiscard]] static int text_width(std::string_view s, int scale = 1) {
    return s.empty() ? 0 : static_cast<int>(s.size()) * 6 * scale - scale;
  }

  /// The image as a PNG file's bytes (8-bit RGB, no interlace, filter 0 on every row), its
  /// scanlines deflated with fixed Huffman codes and run references (`compress`), or stored.
  [[nodiscard]] std::string png(bool compress = true) const {
    std::string raw;
    raw.reserve(static_cast<std::size_t>(h_) * (1 + 3 * static_cast<std::size_t>(w_)));
    for (int y = 0; y < h_; ++y) {
      raw += '\0';
      for (int x = 0; x < w_; ++x) {
        const Rgb p = px_[index(x, y)];
        raw += static_cast<char>(p.r);
        raw += static_cast<char>(p.g);
        raw += static_cast<char>(p.b);
      }
    }
    std::string out("\x89PNG\r\n\x1a\n", 8);
    auto be32 = [](std::uint32_t v) {
      std::string s(4, '\0');
      for (int i = 0; i < 4; ++i)
        s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (24U - 8U * static_cast<unsigned>(i))) & 0xFFU);
      return s;
    };
    auto chunk = [&](std::string_view type, const std::string& data) {
      out += be32(static_cast<std::uint32_t>(data.size()));
      const std::string body = std::string(type) + data;
      out += body;
      out += be32(crc32(body));
    };
    std::string ihdr = be32(static_cast<std::uint32_t>(w_)) + be32(static_cast<std::uint32_t>(h_));
    ihdr += static_cast<char>(8); // bit depth
    ihdr += static_cast<char>(2); // colour type: RGB
    ihdr += '\0';                 // compression: deflate
    ihdr += '\0';                 // filter method 0
    ihdr += '\0';                 // no interlace
    chunk("IHDR", ihdr);
    chunk("IDAT", compress ? zlib_fixed(raw, 3, 1 + 3 * static_cast<std::size_t>(w_)) : zlib_stored(raw));
    chunk("IEND", "");
    return out;
  }

  /// Writes the PNG to `path`. Throws rltf::io_error when it cannot.
  void save_png(const std::filesystem::path& path, bool compress = true) const {
    rltf::detail::write_file_atomic(path, png(compress));
  }

private:
  [[nodiscard]] std::size_t index(int x, int y) const {
    return static_cast<std::size_t>(y) * static_cast<std::size_t>(w_) + static_cast<std::size_t>(x);
  }

  int w_, h_;
  std::vector<Rgb> px_;
};

} // namespace rltf::programs::detail
