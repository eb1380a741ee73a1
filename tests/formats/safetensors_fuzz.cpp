// A deterministic mutation fuzzer for the safetensors reader, over the real bundled files. Every
// mutated file must either parse into a header whose tensors lie inside the file (and then be
// readable end to end), or be rejected with an rltf::error. Anything else — another exception, a
// crash, an out-of-bounds read (CI runs this binary under ASan + UBSan) — fails.

#include <doctest/doctest.h>

#include <cctype>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "rltf/core/rng.hpp"
#include "rltf/formats/safetensors.hpp"

#include "file_bytes.hpp"

namespace formats_safetensors_fuzz {

namespace st = rltf::safetensors;

using formats_test::file_bytes;

inline std::uint64_t header_length(const std::vector<std::byte>& f) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | std::to_integer<std::uint64_t>(f[static_cast<std::size_t>(i)]);
  return n;
}

inline void set_header_length(std::vector<std::byte>& f, std::uint64_t n) {
  for (std::size_t i = 0; i < 8; ++i) f[i] = static_cast<std::byte>((n >> (8 * i)) & 0xFFU);
}

/// Replaces the header text (keeping the data) and rewrites the length.
inline std::vector<std::byte> with_header(const std::vector<std::byte>& f, const std::string& header) {
  const auto n = static_cast<std::size_t>(header_length(f));
  std::vector<std::byte> out(8 + header.size() + (f.size() - 8 - n));
  set_header_length(out, header.size());
  std::memcpy(out.data() + 8, header.data(), header.size());
  std::memcpy(out.data() + 8 + header.size(), f.data() + 8 + n, f.size() - 8 - n);
  return out;
}

/// One mutation of `original`, chosen by `rng`. Returns a buffer of exactly the mutated size, so
/// that ASan sees any read past its end.
inline std::vector<std::byte> mutate(const std::vector<std::byte>& original, rltf::Rng& rng) {
  const auto n = static_cast<std::size_t>(header_length(original));
  const std::string header(reinterpret_cast<const char*>(original.data() + 8), n);
  auto below = [&rng](std::size_t bound) {
    return bound == 0 ? std::size_t{0} : static_cast<std::size_t>(rng() % bound);
  };
  switch (rng() % 8) {
  case 0: { // flip 1..4 random bits in the length and header
    std::vector<std::byte> f = original;
    for (std::size_t k = 0, flips = 1 + below(4); k < flips; ++k)
      f[below(8 + n)] ^= static_cast<std::byte>(1U << below(8));
    return f;
  }
  case 1: { // overwrite 1..8 random bytes anywhere with random values
    std::vector<std::byte> f = original;
    for (std::size_t k = 0, edits = 1 + below(8); k < edits; ++k) f[below(f.size())] = static_cast<std::byte>(rng());
    return f;
  }
  case 2: { // truncate: inside the length, the header, or the data
    const std::size_t cut = rng() % 2 == 0 ? below(8 + n + 1) : below(original.size());
    return {original.begin(), original.begin() + static_cast<std::ptrdiff_t>(cut)};
  }
  case 3: { // rewrite the length: random, or off by a little
    std::vector<std::byte> f = original;
    const std::uint64_t choices[] = {rng(),
                                     rng() % (original.size() + 64),
                                     n + 1,
                                     n - 1,
                                     n + 8,
                                     original.size() - 8,
                                     original.size() - 7,
                                     0,
                                     ~std::uint64_t{0}};
    set_header_length(f, choices[below(std::size(choices))]);
    return f;
  }
  case 4:
  case 5: { // edit one JSON number in the header (offsets, shapes)
    std::vector<std::size_t> starts;
    for (std::size_t i = 0; i < header.size(); ++i)
      if (std::isdigit(static_cast<unsigned char>(header[i])) &&
          (i == 0 || !std::isdigit(static_cast<unsigned char>(header[i - 1]))) && (i == 0 || header[i - 1] != 'F') &&
          (i == 0 || header[i - 1] != 'I') && (i == 0 || header[i - 1] != 'U'))
        starts.push_back(i);
    if (starts.empty()) return original;
    const std::size_t at = starts[below(starts.size())];
    std::size_t end = at;
    while (end < header.size() && std::isdigit(static_cast<unsigned char>(header[end]))) ++end;
    const std::uint64_t old = std::stoull(header.substr(at, end - at));
    const std::string choices[] = {std::to_string(old + 1),
                                   std::to_string(old == 0 ? 0 : old - 1),
                                   std::to_string(old + 4),
                                   std::to_string(old * 2),
                                   "0",
                                   "-" + std::to_string(old),
                                   std::to_string(old) + ".5",
                                   "18446744073709551615",
                                   "18446744073709551616",
                                   "9223372036854775808",
                                   "1e300",
                                   std::to_string(rng() % (original.size() + 1))};
    std::string edited = header.substr(0, at) + choices[below(std::size(choices))] + header.substr(end);
    return with_header(original, edited);
  }
  case 6: { // delete or duplicate a slice of the header text
    const std::size_t at = below(n);
    const std::size_t len = 1 + below(16);
    std::string edited = header;
    if (rng() % 2 == 0)
      edited.erase(at, len);
    else
      edited.insert(at, header.substr(at, len));
    return with_header(original, edited);
  }
  default: { // swap two structural characters
    std::string edited = header;
    const char structural[] = {'{', '}', '[', ']', ',', ':', '"', ' '};
    edited[below(n)] = structural[below(std::size(structural))];
    return with_header(original, edited);
  }
  }
}

struct Tally {
  std::size_t parsed = 0;
  std::size_t rejected = 0;
};

/// Parses one candidate; on success reads every tensor that converts to float.
inline void check_one(const std::vector<std::byte>& bytes, Tally& tally) {
  try {
    const st::Header h = st::parse_header(bytes, "fuzz");
    for (const auto& t : h.tensors) {
      REQUIRE(t.begin <= t.end);
      REQUIRE(t.end <= h.data_size);
      REQUIRE(h.data_start + h.data_size == bytes.size());
    }
    const auto file = st::File::from_bytes(bytes, "fuzz");
    double sum = 0;
    for (const auto& t : file.tensors()) {
      if (t.dtype == st::Dtype::F32 || t.dtype == st::Dtype::F16 || t.dtype == st::Dtype::BF16) {
        const auto v = file.to_f32(t.name);
        REQUIRE(static_cast<std::int64_t>(v.size()) == t.numel());
        if (!v.empty()) sum += v.front() + v.back();
      }
    }
    (void)sum;
    ++tally.parsed;
  } catch (const rltf::error&) {
    ++tally.rejected;
  } catch (const std::exception& e) {
    FAIL("a mutated file raised a non-rltf exception: " << e.what());
  }
}

} // namespace formats_safetensors_fuzz

TEST_CASE("safetensors fuzz: mutated real files are parsed safely or rejected with rltf errors") {
  using namespace formats_safetensors_fuzz;
  const auto models = std::filesystem::path(RLTF_SOURCE_DIR) / "data" / "models";
  // The real checkpoint (F32), the reference logits (non-sorted offsets), and a small mixed-dtype
  // file written by rltf's writer.
  std::vector<std::vector<std::byte>> seeds = {
      file_bytes(models / "lm-buddy-fake-gpt2" / "model.safetensors"),
      file_bytes(models / "lm-buddy-fake-gpt2" / "expected_last_logits.safetensors")};
  {
    const std::vector<float> values = {0.5F, -1.0F, 2.0F, 3.5F, 1e-3F, 7.0F};
    const auto f16 = st::from_f32(st::Dtype::F16, values);
    const auto bf16 = st::from_f32(st::Dtype::BF16, values);
    const std::vector<std::int64_t> ids = {1, 2, 3};
    const std::vector<st::TensorData> entries = {{"a.weight", st::Dtype::F32, {2, 3}, st::as_bytes(values)},
                                                 {"b.half", st::Dtype::F16, {3, 2}, f16},
                                                 {"c.bf16", st::Dtype::BF16, {6}, bf16},
                                                 {"d.ids", st::Dtype::I64, {3}, st::as_bytes(ids)}};
    seeds.push_back(st::serialize(entries, {{"format", "pt"}}));
  }
  rltf::Rng rng = rltf::make_rng(20240607);
  Tally tally;
  const std::size_t iterations[] = {1500, 600, 4000};
  for (std::size_t s = 0; s < seeds.size(); ++s) {
    check_one(seeds[s], tally); // the unmutated seed parses
    for (std::size_t i = 0; i < iterations[s]; ++i) check_one(mutate(seeds[s], rng), tally);
  }
  MESSAGE("safetensors fuzz: " << tally.parsed << " mutants parsed, " << tally.rejected << " rejected");
  CHECK(tally.parsed >= seeds.size());
  CHECK(tally.rejected > (tally.parsed + tally.rejected) / 2); // most mutations must be caught
}
