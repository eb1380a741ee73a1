#include <doctest/doctest.h>

#include <zlib.h>

#include <string>

#include "rltf/data/detail/gzip.hpp"
#include "rltf/data/detail/json.hpp"

namespace rltf_gzip_test {

inline std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// Written by Python's gzip module (mtime 0).
inline const std::string stored =
    "1f8b0800000000000403011300ecff68656c6c6f2073746f72656420626c6f636b0a384ba4d213000000";
inline const std::string fixed = "1f8b08000000000002034b4c4a4e8421858cd49c9c7c14b23cbf2827850b008bdce9e225000000";
inline const std::string multi =
    "1f8b08000000000002034bcb2c2a2e51c84dcd4d4a2de20200a7f4850a0d0000001f8b0800000000000203"
    "2b4e4dcecf4b51c84dcd4d4a2de2020036184b0e0e000000";
inline const std::string named =
    "1f8b08080000000002ff6e616d65642e747874002bcf2cc950485448cbcc4955c84bcc4de50200c4edd5b41100"
    "0000";

/// `text` as one gzip member, written by zlib (deflateInit2 with the gzip wrapper).
inline std::string gzip_of(const std::string& text) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, static_cast<uLong>(text.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

} // namespace rltf_gzip_test

namespace gz = rltf_gzip_test;

TEST_CASE("gunzip: stored, fixed-Huffman, multi-member and named members") {
  CHECK(rltf::data::detail::gunzip(gz::from_hex(gz::stored), "s") == "hello stored block\n");
  CHECK(rltf::data::detail::gunzip(gz::from_hex(gz::fixed), "f") == "abcabcabcabc hello hello hello world\n");
  CHECK(rltf::data::detail::gunzip(gz::from_hex(gz::multi), "m") == "first member\nsecond member\n");
  CHECK(rltf::data::detail::gunzip(gz::from_hex(gz::named), "n") == "with a file name\n");
  CHECK(rltf::data::detail::is_gzip(gz::from_hex(gz::stored)));
  CHECK_FALSE(rltf::data::detail::is_gzip("{\"a\": 1}"));
}

TEST_CASE("gunzip: the bundled datasets (dynamic Huffman blocks) decompress with valid CRCs") {
  const std::string dir = RLTF_SOURCE_DIR "/data/";
  const std::string he = rltf::data::detail::read_text_file(dir + "HumanEval.jsonl.gz");
  CHECK(he.size() == 214438);
  CHECK(std::count(he.begin(), he.end(), '\n') == 164);
  CHECK(he.rfind("{\"task_id\": \"HumanEval/0\"", 0) == 0);
  const std::string hep = rltf::data::detail::read_text_file(dir + "HumanEvalPlus.jsonl.gz");
  CHECK(hep.size() == 7714666);
  CHECK(std::count(hep.begin(), hep.end(), '\n') == 164);
  const std::string mp = rltf::data::detail::read_text_file(dir + "MbppPlus.jsonl.gz");
  CHECK(mp.size() == 2592369);
  CHECK(std::count(mp.begin(), mp.end(), '\n') == 378);
}

TEST_CASE("gunzip: corrupt input is a parse_error naming the file and the gzip field") {
  const std::string good = gz::from_hex(gz::fixed);
  auto expect_error = [](const std::string& data, const std::string& needle) {
    try {
      (void)rltf::data::detail::gunzip(data, "broken.gz");
      FAIL("no exception for ", needle);
    } catch (const rltf::parse_error& e) {
      CHECK(e.file() == "broken.gz");
      CHECK(e.field() == "gzip");
      INFO(std::string(e.what()));
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  SUBCASE("bad magic") { expect_error("PK" + good.substr(2), "bad magic at byte 0"); }
  SUBCASE("unknown method") {
    auto d = good;
    d[2] = 7;
    expect_error(d, "unknown compression method 7");
  }
  SUBCASE("a flipped data byte") {
    auto d = good;
    d[14] = static_cast<char>(d[14] ^ 0x10);
    try {
      (void)rltf::data::detail::gunzip(d, "broken.gz");
      FAIL("corruption not detected");
    } catch (const rltf::parse_error& e) {
      CHECK(e.field() == "gzip");
    }
  }
  SUBCASE("a wrong CRC") {
    auto d = good;
    d[d.size() - 8] = static_cast<char>(d[d.size() - 8] ^ 1);
    expect_error(d, "CRC-32 mismatch (zlib: incorrect data check)");
  }
  SUBCASE("a wrong length") {
    auto d = good;
    d[d.size() - 4] = static_cast<char>(d[d.size() - 4] ^ 1);
    expect_error(d, "length mismatch (zlib: incorrect length check)");
  }
  SUBCASE("truncated") {
    expect_error(good.substr(0, good.size() - 3), "truncated member (unexpected end of data at byte ");
    expect_error(good.substr(0, 20), "truncated member (unexpected end of data at byte ");
  }
  SUBCASE("a stored block whose length does not match its complement") {
    auto d = gz::from_hex(gz::stored);
    d[12] = static_cast<char>(d[12] ^ 1);
    expect_error(d, "corrupt data (zlib: invalid stored block lengths)");
  }
  SUBCASE("reserved block type") {
    auto d = good;
    d[10] = static_cast<char>(0x07); // BFINAL=1, BTYPE=11
    expect_error(d, "corrupt data (zlib: invalid block type)");
  }
  SUBCASE("empty") { expect_error("", "empty input"); }
  SUBCASE("trailing garbage") {
    expect_error(good + "garbage-after-the-member", "bad magic at byte " + std::to_string(good.size()));
  }
}

TEST_CASE("gunzip: the decompressed size is capped, so a gzip bomb is an error naming the file") {
  // 4 MiB of zeros compress to about 4 KiB.
  const std::string zeros(std::size_t{4} << 20, '\0');
  const std::string bomb = gz::gzip_of(zeros);
  CHECK(bomb.size() < 8192);
  CHECK(rltf::data::detail::gunzip(bomb, "zeros.gz") == zeros);               // under the default cap of 1 GiB
  CHECK(rltf::data::detail::gunzip(bomb, "zeros.gz", zeros.size()) == zeros); // exactly at the cap
  try {
    (void)rltf::data::detail::gunzip(bomb, "bomb.gz", std::size_t{1} << 20);
    FAIL("no error beyond the cap");
  } catch (const rltf::parse_error& e) {
    CHECK(e.file() == "bomb.gz");
    CHECK(e.field() == "gzip");
    CHECK(std::string(e.what()).find("decompresses to more than 1048576 bytes") != std::string::npos);
  }
  // The cap counts every member together.
  const std::string two = gz::gzip_of("abc") + gz::gzip_of("defg");
  CHECK(rltf::data::detail::gunzip(two, "two.gz", 7) == "abcdefg");
  CHECK_THROWS_AS((void)rltf::data::detail::gunzip(two, "two.gz", 6), rltf::parse_error);
}

TEST_CASE("gunzip reads what zlib writes, every byte value") {
  std::string all;
  for (int rep = 0; rep < 300; ++rep)
    for (int c = 0; c < 256; ++c) all += static_cast<char>((c * 7 + rep) & 0xFF);
  CHECK(rltf::data::detail::gunzip(gz::gzip_of(all), "all.gz") == all);
}

TEST_CASE("a missing file is an io_error") {
  CHECK_THROWS_AS((void)rltf::data::detail::read_text_file("/nonexistent/file.jsonl.gz"), rltf::io_error);
}
