#pragma once
/// \file
/// A small RGB raster image with line, rectangle, disc and 5×7 bitmap-text drawing, and a PNG
/// encoder whose deflate stream and chunk CRCs come from zlib. Used for learning-curve plots.

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

#include <zlib.h>

#include "rltf/core/error.hpp"
#include "rltf/detail/atomic_file.hpp"

namespace rltf::programs::detail {

/// An 8-bit RGB colour.
struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  friend constexpr bool operator==(Rgb, Rgb) = default;
};

/// `data` as a zlib stream (RFC 1950) by zlib's compress2 at `level` (0: stored blocks, 9: best).
/// Throws rltf::error when zlib fails.
[[nodiscard]] inline std::string zlib_compress(std::string_view data, int level = Z_BEST_COMPRESSION) {
  uLongf size = compressBound(static_cast<uLong>(data.size()));
  std::string out(size, '\0');
  const int rc = compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(data.data()),
                           static_cast<uLong>(data.size()), level);
  if (rc != Z_OK) throw error("image: zlib's compress2 failed (" + std::to_string(rc) + ")");
  out.resize(size);
  return out;
}

/// zlib's CRC-32 (ISO-HDLC, as PNG chunks use it) of `data`.
[[nodiscard]] inline std::uint32_t png_crc32(std::string_view data) {
  return static_cast<std::uint32_t>(
      ::crc32_z(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<z_size_t>(data.size())));
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
  /// scanlines deflated by zlib at its best compression (`compress`), or in stored blocks.
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
      out += be32(png_crc32(body));
    };
    std::string ihdr = be32(static_cast<std::uint32_t>(w_)) + be32(static_cast<std::uint32_t>(h_));
    ihdr += static_cast<char>(8); // bit depth
    ihdr += static_cast<char>(2); // colour type: RGB
    ihdr += '\0';                 // compression: deflate
    ihdr += '\0';                 // filter method 0
    ihdr += '\0';                 // no interlace
    chunk("IHDR", ihdr);
    chunk("IDAT", zlib_compress(raw, compress ? Z_BEST_COMPRESSION : Z_NO_COMPRESSION));
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
