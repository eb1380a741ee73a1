#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "rltf_programs/png.hpp"
#include "rltf_programs/plot.hpp"

namespace plot_test {

// Decodes a PNG with Python's own zlib (which checks the Adler-32) after verifying every chunk's
// CRC, and prints "W H" then the RGB of each requested pixel.
std::string decode_with_python(const std::filesystem::path& png, const std::vector<std::pair<int, int>>& pixels) {
  const auto script = png.string() + ".py";
  {
    std::FILE* f = std::fopen(script.c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs(R"PY(
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'signature'
pos, chunks = 8, []
while pos < len(data):
    n, = struct.unpack('>I', data[pos:pos + 4])
    kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
    crc, = struct.unpack('>I', data[pos + 8 + n:pos + 12 + n])
    assert zlib.crc32(kind + body) == crc, 'crc of ' + kind.decode()
    chunks.append((kind, body))
    pos += 12 + n
assert [k for k, _ in chunks] == [b'IHDR', b'IDAT', b'IEND'], chunks
w, h, depth, ctype, comp, filt, inter = struct.unpack('>IIBBBBB', chunks[0][1])
assert (depth, ctype, comp, filt, inter) == (8, 2, 0, 0, 0)
raw = zlib.decompress(chunks[1][1])
assert len(raw) == h * (1 + 3 * w)
print(w, h)
for arg in sys.argv[2:]:
    x, y = map(int, arg.split(','))
    row = raw[y * (1 + 3 * w):(y + 1) * (1 + 3 * w)]
    assert row[0] == 0
    print(*row[1 + 3 * x:4 + 3 * x])
)PY",
               f);
    std::fclose(f);
  }
  std::string cmd = std::string(RLTF_PYTHON) + " " + script + " " + png.string();
  for (auto [x, y] : pixels) cmd += " " + std::to_string(x) + "," + std::to_string(y);
  std::FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  CHECK(::pclose(p) == 0);
  return out;
}

} // namespace plot_test

TEST_CASE("png: CRC-32 and Adler-32 check values") {
  CHECK(rltf::programs::detail::crc32("123456789") == 0xCBF43926U);
  CHECK(rltf::programs::detail::crc32("") == 0U);
  CHECK(rltf::programs::detail::adler32("Wikipedia") == 0x11E60398U);
  CHECK(rltf::programs::detail::adler32("") == 1U);
  // A stored zlib stream: header, one final block of 3 bytes, Adler-32.
  const std::string z = rltf::programs::detail::zlib_stored("abc");
  CHECK(z.size() == 2 + 5 + 3 + 4);
  CHECK(static_cast<unsigned char>(z[2]) == 1); // BFINAL, BTYPE 00
  CHECK(z.substr(7, 3) == "abc");
}

TEST_CASE("png: images decode with Python's zlib, pixel for pixel") {
  const auto dir = std::filesystem::path(RLTF_BINARY_DIR) / "test-tmp" / "png";
  std::filesystem::create_directories(dir);
  // 300×100 RGB is 90 100 bytes of scanlines: two stored deflate blocks.
  rltf::programs::detail::Image img(300, 100);
  img.fill_rect(10, 10, 50, 40, {200, 10, 30});
  img.line(0, 99, 299, 0, {0, 128, 255}, 3);
  img.disc(150, 50, 6, {1, 2, 3});
  img.text(60, 70, "RLTF 0.5%", {0, 0, 0}, 2);
  img.save_png(dir / "basic.png");
  img.save_png(dir / "stored.png", /*compress=*/false);
  CHECK(std::filesystem::file_size(dir / "basic.png") * 20 < std::filesystem::file_size(dir / "stored.png"));
  const std::vector<std::pair<int, int>> probe{{0, 0}, {10, 10}, {50, 40}, {51, 41}, {150, 50}, {299, 0}, {60, 70}};
  std::ostringstream expected;
  expected << "300 100\n";
  for (auto [x, y] : probe) {
    const auto c = img.at(x, y);
    expected << int(c.r) << ' ' << int(c.g) << ' ' << int(c.b) << '\n';
  }
  CHECK(plot_test::decode_with_python(dir / "basic.png", probe) == expected.str());
  CHECK(plot_test::decode_with_python(dir / "stored.png", probe) == expected.str());
  // Data with every kind of symbol: literals of both code lengths, long and short runs.
  std::string data;
  for (int i = 0; i < 3000; ++i) data += static_cast<char>((i * 7919) % 256);
  data += std::string(1000, 'x') + "abcabcabcab";
  const auto z = rltf::programs::detail::zlib_fixed(data, 3, 100);
  std::FILE* f = std::fopen((dir / "data.z").c_str(), "wb");
  REQUIRE(f != nullptr);
  std::fwrite(z.data(), 1, z.size(), f);
  std::fclose(f);
  const std::string cmd = std::string(RLTF_PYTHON) +
                          " -c \"import zlib,sys; d=zlib.decompress(open(sys.argv[1],'rb').read()); "
                          "print(len(d), sum(d) % 100003)\" " +
                          (dir / "data.z").string();
  std::FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[128] = {};
  REQUIRE(std::fgets(buf, sizeof buf, p) != nullptr);
  ::pclose(p);
  long long sum = 0;
  for (unsigned char c : data) sum += c;
  CHECK(std::string(buf) == std::to_string(data.size()) + " " + std::to_string(sum % 100003) + "\n");
  CHECK(img.at(20, 20) == rltf::programs::detail::Rgb{200, 10, 30});
  CHECK(img.at(150, 50) == rltf::programs::detail::Rgb{1, 2, 3});
  CHECK(img.at(60, 70) == rltf::programs::detail::Rgb{0, 0, 0}); // the top-left pixel of 'R' at scale 2
  CHECK(img.at(0, 0) == rltf::programs::detail::Rgb{255, 255, 255});
}

TEST_CASE("plot: learning curves render into panels with every series' colour") {
  rltf::LinePlot a{.title = "held-out pass@1", .x_label = "RL step", .y_label = "pass@1"};
  a.series.push_back({.name = "RLTF", .points = {{0, 0.2}, {50, 0.3}, {100, 0.45}}, .errors = {0.01, 0.02, 0.03}});
  a.series.push_back({.name = "SFT", .points = {{0, 0.2}, {100, 0.2}}, .color = rltf::programs::detail::Rgb{10, 200, 10}});
  rltf::LinePlot b{.title = "reward", .x_label = "step", .y_label = "mean reward", .y_min = -1.0, .y_max = 1.0};
  b.series.push_back({.name = "train", .points = {{1, -0.8}, {2, -0.5}, {3, 0.1}}});
  const auto img = rltf::render({a, b});
  img.save_png(std::filesystem::path(RLTF_BINARY_DIR) / "test-tmp" / "png" / "curves.png");
  CHECK(img.width() == 900);
  CHECK(img.height() == 840);
  std::size_t blue = 0, green = 0, blue_bottom = 0;
  for (int y = 0; y < img.height(); ++y)
    for (int x = 0; x < img.width(); ++x) {
      const auto c = img.at(x, y);
      if (c == rltf::programs::detail::palette()[0]) (y < 420 ? blue : blue_bottom)++;
      if (c == rltf::programs::detail::Rgb{10, 200, 10}) ++green;
    }
  CHECK(blue > 200);
  CHECK(green > 200);
  CHECK(blue_bottom > 100);
  const auto ticks = rltf::programs::detail::ticks(0.0, 1.0);
  REQUIRE(ticks.size() == 6);
  for (std::size_t i = 0; i < 6; ++i) CHECK(ticks[i] == doctest::Approx(0.2 * static_cast<double>(i)));
  CHECK(rltf::programs::detail::ticks(0.0, 250.0).size() == 6); // 0, 50, ..., 250
  CHECK_THROWS_AS((void)rltf::render({}), rltf::invalid_argument);
}
