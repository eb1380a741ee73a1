// Tests of the torch-free safetensors reader and writer (rltf/formats/safetensors.hpp).

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/formats/safetensors.hpp"

#include "file_bytes.hpp"

namespace formats_safetensors_test {

namespace st = rltf::safetensors;

inline std::filesystem::path model_dir(const char* name) {
  return std::filesystem::path(RLTF_SOURCE_DIR) / "data" / "models" / name;
}

using formats_test::file_bytes;

/// A file made of a literal header and `data_size` data bytes (valued 0..255 cyclically).
inline std::vector<std::byte> make_file(const std::string& header, std::size_t data_size, bool pad = true) {
  std::string text = header;
  if (pad) text.resize((text.size() + 7) / 8 * 8, ' ');
  std::vector<std::byte> out(8 + text.size() + data_size);
  const std::uint64_t n = text.size();
  for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<std::byte>((n >> (8 * i)) & 0xFFU);
  std::memcpy(out.data() + 8, text.data(), text.size());
  for (std::size_t i = 0; i < data_size; ++i) out[8 + text.size() + i] = static_cast<std::byte>(i & 0xFFU);
  return out;
}

/// The parse_error thrown by parse_header(bytes), checked to name `field` and the file.
inline rltf::parse_error parse_failure(const std::vector<std::byte>& bytes, const std::string& field) {
  try {
    (void)st::parse_header(bytes, "bad.safetensors");
  } catch (const rltf::parse_error& e) {
    CHECK(e.file() == "bad.safetensors");
    CHECK(e.field() == field);
    CHECK(std::string(e.what()).find("bad.safetensors") != std::string::npos);
    return e;
  }
  FAIL("parse_header accepted a malformed file; expected an error on field '" << field << "'");
  return rltf::parse_error("", 0, "", "");
}

} // namespace formats_safetensors_test

TEST_CASE("safetensors: reads the bundled synthetic GPT-2 checkpoint") {
  using namespace formats_safetensors_test;
  const auto file = st::File::open(model_dir("synthetic-gpt2-l2-e32-h4") / "model.safetensors");
  CHECK(file.tensors().size() == 28);
  CHECK(file.metadata() == std::map<std::string, std::string>{{"format", "pt"}});
  const auto& wte = file.info("transformer.wte.weight");
  CHECK(wte.dtype == st::Dtype::F32);
  CHECK(wte.shape == rltf::Shape{50257, 32});
  CHECK(file.info("transformer.h.1.attn.c_attn.weight").shape == rltf::Shape{32, 96});
  CHECK(file.info("transformer.h.0.mlp.c_proj.weight").shape == rltf::Shape{128, 32});
  // tensors are listed in data order and tile the data section
  std::size_t covered = 0;
  for (const auto& t : file.tensors()) {
    CHECK(t.begin == covered);
    covered = t.end;
  }
  CHECK(covered == file.header().data_size);

  // The embedding of "Hello world" (ids 15496, 995) is wte[id] + wpe[position]: compare with the
  // independently computed expected_outputs.json.
  std::ifstream in(model_dir("synthetic-gpt2-l2-e32-h4") / "expected_outputs.json");
  const auto expected = nlohmann::json::parse(in);
  const auto& c = expected["cases"][0];
  REQUIRE(c["case"] == "llamacpp-11");
  const std::vector<float> wte_values = file.to_f32("transformer.wte.weight");
  const std::vector<float> wpe_values = file.to_f32("transformer.wpe.weight");
  for (std::size_t pos = 0; pos < 2; ++pos) {
    const auto id = c["input_ids"][pos].get<std::size_t>();
    for (std::size_t j = 0; j < 32; ++j)
      CHECK(wte_values[id * 32 + j] + wpe_values[pos * 32 + j] ==
            doctest::Approx(c["embeddings"][pos][j].get<double>()).epsilon(1e-6));
  }
  CHECK_THROWS_AS((void)file.info("lm_head.weight"), rltf::parse_error);
}

TEST_CASE("safetensors: serialize reproduces Hugging Face files byte for byte") {
  using namespace formats_safetensors_test;
  for (const char* name : {"synthetic-gpt2-l2-e32-h4", "lm-buddy-fake-gpt2"}) {
    CAPTURE(name);
    const auto original = file_bytes(model_dir(name) / "model.safetensors");
    const auto file = st::File::from_bytes(original, name);
    std::vector<st::TensorData> entries;
    for (const auto& t : file.tensors()) entries.push_back({t.name, t.dtype, t.shape, file.data(t)});
    const auto written = st::serialize(entries, file.metadata());
    CHECK(written.size() == original.size());
    CHECK(written == original);
  }
}

TEST_CASE("safetensors: save and open round trip F32, F16, BF16, I64 and metadata") {
  using namespace formats_safetensors_test;
  const std::vector<float> f32 = {1.0F, -2.5F, 3.25F, 0.1F, 65504.0F, -0.0F};
  const std::vector<std::byte> f16 = st::from_f32(st::Dtype::F16, f32);
  const std::vector<std::byte> bf16 = st::from_f32(st::Dtype::BF16, f32);
  const std::vector<std::int64_t> i64 = {-1, 0, 1, std::numeric_limits<std::int64_t>::max()};
  const std::vector<st::TensorData> entries = {
      {"weights", st::Dtype::F32, {2, 3}, st::as_bytes(f32)},
      {"half", st::Dtype::F16, {6}, f16},
      {"brain", st::Dtype::BF16, {3, 2}, bf16},
      {"ids", st::Dtype::I64, {4}, st::as_bytes(i64)},
      {"empty", st::Dtype::F32, {0, 5}, {}},
      {"scalar", st::Dtype::F32, {}, st::as_bytes(std::span<const float>(f32.data(), 1))},
  };
  const auto dir = std::filesystem::path(RLTF_BINARY_DIR) / "formats_safetensors_test";
  std::filesystem::create_directories(dir);
  const auto path = dir / "roundtrip.safetensors";
  st::save(path, entries, {{"format", "pt"}, {"note", "rltf test"}});
  CHECK_FALSE(std::filesystem::exists(dir / "roundtrip.safetensors.tmp"));

  const auto file = st::File::open(path);
  CHECK(file.metadata().at("note") == "rltf test");
  CHECK(file.tensors().size() == 6);
  CHECK(file.to_f32("weights") == f32);
  CHECK(file.info("weights").shape == rltf::Shape{2, 3});
  std::vector<float> half_expected = f32;
  half_expected[3] = 0.0999755859375F; // 0.1 rounded to half precision (0x2E66); the others are exact
  CHECK(file.to_f32("half") == half_expected);
  const std::vector<float> brain = file.to_f32("brain");
  CHECK(brain[0] == 1.0F);
  CHECK(brain[1] == -2.5F);
  CHECK(brain[3] == std::bit_cast<float>(0x3DCD0000U)); // 0.1 rounded to bfloat16 (0x3DCCCCCD → 0x3DCD)
  CHECK(brain[4] == 65536.0F);                          // 65504 rounds up to 2^16 in bfloat16
  CHECK(std::signbit(brain[5]));
  CHECK(file.to_i64("ids") == i64);
  CHECK(file.info("empty").nbytes() == 0);
  CHECK(file.info("scalar").shape.empty());
  CHECK(file.to_f32("scalar") == std::vector<float>{1.0F});
  CHECK_THROWS_AS((void)file.to_f32("ids"), rltf::parse_error);
  CHECK_THROWS_AS((void)file.to_i64("weights"), rltf::parse_error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("safetensors: half and bfloat16 conversions are exact and round to nearest even") {
  // every finite half converts to float and back to the same bits; NaNs stay NaN
  for (std::uint32_t h = 0; h <= 0xFFFFU; ++h) {
    const float f = rltf::formats::detail::f16_to_f32(static_cast<std::uint16_t>(h));
    if (std::isnan(f)) {
      CHECK(((h >> 10) & 0x1FU) == 0x1FU);
      CHECK(std::isnan(rltf::formats::detail::f16_to_f32(rltf::formats::detail::f32_to_f16(f))));
    } else if (rltf::formats::detail::f32_to_f16(f) != h) {
      FAIL("half 0x" << std::hex << h << " did not round trip");
    }
  }
  CHECK(rltf::formats::detail::f16_to_f32(0x3C00U) == 1.0F);
  CHECK(rltf::formats::detail::f16_to_f32(0x7BFFU) == 65504.0F);
  CHECK(rltf::formats::detail::f16_to_f32(0x0001U) == std::ldexp(1.0F, -24));
  CHECK(rltf::formats::detail::f16_to_f32(0x0400U) == std::ldexp(1.0F, -14));
  CHECK(rltf::formats::detail::f32_to_f16(0.1F) == 0x2E66U);
  CHECK(rltf::formats::detail::f32_to_f16(65519.0F) == 0x7BFFU);
  CHECK(rltf::formats::detail::f32_to_f16(65520.0F) == 0x7C00U); // ties up to infinity
  CHECK(rltf::formats::detail::f32_to_f16(1e-9F) == 0x0000U);
  CHECK(rltf::formats::detail::f32_to_f16(-std::numeric_limits<float>::infinity()) == 0xFC00U);
  // ties to even: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 → 1; 1 + 3·2^-11 → 1 + 2^-9
  CHECK(rltf::formats::detail::f32_to_f16(1.0F + std::ldexp(1.0F, -11)) == 0x3C00U);
  CHECK(rltf::formats::detail::f32_to_f16(1.0F + 3 * std::ldexp(1.0F, -11)) == 0x3C02U);
  // subnormal tie: 1.5·2^-24 → 2·2^-24; 0.5·2^-24 → 0
  CHECK(rltf::formats::detail::f32_to_f16(1.5F * std::ldexp(1.0F, -24)) == 0x0002U);
  CHECK(rltf::formats::detail::f32_to_f16(std::ldexp(1.0F, -25)) == 0x0000U);

  for (std::uint32_t b = 0; b <= 0xFFFFU; ++b) {
    const float f = rltf::formats::detail::bf16_to_f32(static_cast<std::uint16_t>(b));
    if (!std::isnan(f)) CHECK(rltf::formats::detail::f32_to_bf16(f) == b);
  }
  CHECK(rltf::formats::detail::f32_to_bf16(std::bit_cast<float>(0x3F808000U)) == 0x3F80U); // tie → even
  CHECK(rltf::formats::detail::f32_to_bf16(std::bit_cast<float>(0x3F818000U)) == 0x3F82U); // tie → even
  CHECK(rltf::formats::detail::f32_to_bf16(std::bit_cast<float>(0x3F808001U)) == 0x3F81U);
  CHECK(std::isnan(
      rltf::formats::detail::bf16_to_f32(rltf::formats::detail::f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST_CASE("safetensors: every malformed header field is a parse_error naming it") {
  using namespace formats_safetensors_test;
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  CHECK_NOTHROW((void)st::parse_header(make_file(ok, 8), "ok"));

  SUBCASE("too short for the length") { parse_failure(std::vector<std::byte>(5), "header length"); }
  SUBCASE("length past the end") {
    auto bytes = make_file(ok, 8);
    bytes[0] = std::byte{0xFF};
    parse_failure(bytes, "header length");
  }
  SUBCASE("enormous length") {
    auto bytes = make_file(ok, 8);
    bytes[7] = std::byte{0x80};
    parse_failure(bytes, "header length");
  }
  SUBCASE("not JSON") { parse_failure(make_file(R"({"a":{"dtype":"F32",)", 0), "header"); }
  SUBCASE("not an object") { parse_failure(make_file("[1, 2, 3]", 0), "header"); }
  SUBCASE("trailing garbage") { parse_failure(make_file(ok + "x", 8), "header"); }
  SUBCASE("duplicate tensor") {
    parse_failure(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                            R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                            8),
                  "a");
  }
  SUBCASE("duplicate field") {
    parse_failure(make_file(R"({"a":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}})", 8), "dtype");
  }
  SUBCASE("unknown dtype") {
    auto e = parse_failure(make_file(R"({"w":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}})", 8), "w.dtype");
    CHECK(std::string(e.what()).find("F31") != std::string::npos);
  }
  SUBCASE("dtype not a string") {
    parse_failure(make_file(R"({"w":{"dtype":7,"shape":[2],"data_offsets":[0,8]}})", 8), "w.dtype");
  }
  SUBCASE("missing dtype") { parse_failure(make_file(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", 8), "w.dtype"); }
  SUBCASE("missing shape") { parse_failure(make_file(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", 8), "w.shape"); }
  SUBCASE("missing offsets") { parse_failure(make_file(R"({"w":{"dtype":"F32","shape":[2]}})", 8), "w.data_offsets"); }
  SUBCASE("unknown field") {
    parse_failure(make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", 8), "w.x");
  }
  SUBCASE("entry not an object") { parse_failure(make_file(R"({"w":[1,2]})", 0), "w"); }
  SUBCASE("negative dimension") {
    parse_failure(make_file(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "w.shape");
  }
  SUBCASE("fractional dimension") {
    parse_failure(make_file(R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", 8), "w.shape");
  }
  SUBCASE("shape overflowing 64 bits") {
    parse_failure(make_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8),
                  "w.shape");
  }
  SUBCASE("shape and span disagree") {
    auto e = parse_failure(make_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "w");
    CHECK(std::string(e.what()).find("12 bytes") != std::string::npos);
  }
  SUBCASE("offsets reversed") {
    parse_failure(make_file(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8), "w.data_offsets");
  }
  SUBCASE("offsets past the data") {
    parse_failure(make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 8), "w.data_offsets");
  }
  SUBCASE("offsets not a pair") {
    parse_failure(make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}})", 8), "w.data_offsets");
  }
  SUBCASE("overlapping tensors") {
    parse_failure(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                            12),
                  "b");
  }
  SUBCASE("a hole between tensors") {
    parse_failure(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                            12),
                  "b");
  }
  SUBCASE("bytes left over after the last tensor") { parse_failure(make_file(ok, 12), "data_offsets"); }
  SUBCASE("metadata not an object") {
    parse_failure(make_file(R"({"__metadata__":"pt","a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8),
                  "__metadata__");
  }
  SUBCASE("metadata value not a string") {
    parse_failure(make_file(R"({"__metadata__":{"format":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8),
                  "__metadata__.format");
  }
  SUBCASE("missing file") {
    CHECK_THROWS_AS((void)st::File::open(std::filesystem::path(RLTF_BINARY_DIR) / "no-such.safetensors"),
                    rltf::io_error);
  }
}

TEST_CASE("safetensors: serialize rejects inconsistent input") {
  namespace st = rltf::safetensors;
  const std::vector<float> v = {1, 2, 3, 4};
  auto bytes = st::as_bytes(v);
  auto rejects = [](std::vector<st::TensorData> entries) {
    CHECK_THROWS_AS((void)st::serialize(entries), rltf::invalid_argument);
  };
  rejects({{"w", st::Dtype::F32, {3}, bytes}});                                       // 12 bytes expected, 16 given
  rejects({{"w", st::Dtype::F16, {4}, bytes}});                                       // 8 bytes expected
  rejects({{"", st::Dtype::F32, {4}, bytes}});                                        // empty name
  rejects({{"__metadata__", st::Dtype::F32, {4}, bytes}});                            // reserved name
  rejects({{"w", st::Dtype::F32, {-4}, bytes}});                                      // negative dimension
  rejects({{"w", st::Dtype::F32, {4}, bytes}, {"w", st::Dtype::F32, {2, 2}, bytes}}); // repeated name
  CHECK_THROWS_AS((void)st::from_f32(st::Dtype::I64, v), rltf::invalid_argument);
  CHECK_THROWS_AS((void)st::to_f32(st::Dtype::F32, bytes.first(6)), rltf::invalid_argument);
  CHECK(st::dtype_from_name("BF16") == st::Dtype::BF16);
  CHECK_FALSE(st::dtype_from_name("bf16").has_value());
}
