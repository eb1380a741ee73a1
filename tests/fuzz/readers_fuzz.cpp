// Deterministic mutation fuzzers for the readers of user files, through their public functions:
// JSONL samples (data::read_samples), problem files (data::load_humaneval, load_mbpp,
// load_humaneval_plus, load_mbpp_plus), gzip (load_humaneval on a .jsonl.gz: whatever inflates it)
// and tokenizer.json (Gpt2Tokenizer::from_tokenizer_json). Each mutant, written to a file, must
// either load or be rejected with an rltf::error, within a time bound. Anything else — another
// exception (std::bad_alloc from a size read out of the file, nlohmann's type_error), a crash, an
// out-of-bounds read or undefined behaviour (CI runs this binary under ASan + UBSan) — fails.
// The seeds are real: the bundled datasets' first records and a GPT-2-style tokenizer.json.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "../support/scratch.hpp"
#include "rltf/core/error.hpp"
#include "rltf/core/rng.hpp"
#include "rltf/data/humaneval.hpp"
#include "rltf/data/mbpp.hpp"
#include "rltf/data/samples.hpp"
#include "rltf/tokenize/detail/utf8.hpp"
#include "rltf/tokenize/gpt2.hpp"

namespace fuzz_readers {

namespace fs = std::filesystem;

using rltf_test::slurp;
using rltf_test::spit;

/// The first `n` lines of `text` (each with its newline).
inline std::string first_lines(const std::string& text, std::size_t n) {
  std::size_t pos = 0;
  for (std::size_t i = 0; i < n && pos != std::string::npos; ++i) {
    pos = text.find('\n', pos);
    if (pos != std::string::npos) ++pos;
  }
  return text.substr(0, pos == std::string::npos ? text.size() : pos);
}

using rltf_test::ScratchDir;

/// Seeds the Python standard library makes from the bundled gzip files: the first records of
/// HumanEval (plain and re-gzipped, mtime 0 so the bytes are the same every run), HumanEval+ and
/// MBPP+. Python is what the tests already run candidates with; gzip is not a test dependency.
inline void write_python_seeds(const fs::path& dir) {
  const fs::path data = fs::path(RLTF_SOURCE_DIR) / "data";
  const fs::path script = dir / "seeds.py";
  spit(script, "import gzip, sys\n"
               "data, out = sys.argv[1], sys.argv[2]\n"
               "def lines(name, picks):\n"
               "    with gzip.open(f'{data}/{name}', 'rb') as f:\n"
               "        rows = f.read().splitlines(keepends=True)\n"
               "    return b''.join(rows[i] for i in picks)\n"
               "he = lines('HumanEval.jsonl.gz', [0, 1, 2])\n"
               "open(f'{out}/humaneval.jsonl', 'wb').write(he)\n"
               "open(f'{out}/humaneval.jsonl.gz', 'wb').write(gzip.compress(he, compresslevel=9, mtime=0))\n"
               "open(f'{out}/humaneval_plus.jsonl', 'wb').write(lines('HumanEvalPlus.jsonl.gz', [1]))\n"
               "open(f'{out}/mbpp_plus.jsonl', 'wb').write(lines('MbppPlus.jsonl.gz', [0, 1]))\n");
  const std::string cmd =
      std::string(RLTF_PYTHON) + " '" + script.string() + "' '" + data.string() + "' '" + dir.string() + "'";
  REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "seed script failed: ", cmd);
}

/// A small GPT-2-style byte-level BPE tokenizer.json: the 256 byte tokens, a few merges, a special
/// token.
inline std::string tokenizer_json_seed() {
  namespace td = rltf::tokenize::detail;
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[td::byte_level_encode(std::string(1, static_cast<char>(b)))] = b;
  const std::vector<std::pair<std::string, std::string>> merges = {{" ", "t"}, {"h", "e"}, {" t", "he"}, {"i", "n"},
                                                                   {"r", "e"}, {"o", "n"}, {" ", "a"},   {"e", "r"}};
  nlohmann::json rules = nlohmann::json::array();
  int id = 256;
  for (const auto& [l, r] : merges) {
    const std::string left = td::byte_level_encode(l);
    const std::string right = td::byte_level_encode(r);
    rules.push_back(left + " " + right);
    vocab[left + right] = id++;
  }
  const nlohmann::json doc = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", {{{"id", id}, {"content", "<|endoftext|>"}, {"special", true}, {"normalized", false}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"vocab", vocab}, {"merges", rules}}}};
  return doc.dump(2);
}

/// One mutation of `original`, chosen by `rng`: byte-level edits for any file, plus edits that
/// keep JSON mostly well-formed so that the checks past the parser are reached too.
inline std::string mutate(const std::string& original, rltf::Rng& rng) {
  auto below = [&rng](std::size_t bound) {
    return bound == 0 ? std::size_t{0} : static_cast<std::size_t>(rng() % bound);
  };
  std::string f = original;
  if (f.empty()) return f;
  switch (rng() % 12) {
  case 0: // flip 1..4 bits
    for (std::size_t k = 0, n = 1 + below(4); k < n; ++k) f[below(f.size())] ^= static_cast<char>(1U << below(8));
    return f;
  case 1: // overwrite 1..8 bytes with random values
    for (std::size_t k = 0, n = 1 + below(8); k < n; ++k) f[below(f.size())] = static_cast<char>(rng());
    return f;
  case 2: // truncate
    return f.substr(0, below(f.size()));
  case 3: { // delete a slice
    const std::size_t at = below(f.size());
    return f.erase(at, 1 + below(64));
  }
  case 4: { // duplicate a slice
    const std::size_t at = below(f.size());
    return f.insert(at, f.substr(at, 1 + below(64)));
  }
  case 5: { // a structural character somewhere
    const char structural[] = {'{', '}', '[', ']', ',', ':', '"', '\\', ' ', '\n', '\0'};
    f[below(f.size())] = structural[below(std::size(structural))];
    return f;
  }
  case 6:
  case 7: { // edit a number: huge, negative, fractional, out of range
    std::vector<std::size_t> starts;
    for (std::size_t i = 0; i < f.size(); ++i)
      if (f[i] >= '0' && f[i] <= '9' && (i == 0 || f[i - 1] < '0' || f[i - 1] > '9')) starts.push_back(i);
    if (starts.empty()) return f;
    const std::size_t at = starts[below(starts.size())];
    std::size_t end = at;
    while (end < f.size() && f[end] >= '0' && f[end] <= '9') ++end;
    const std::string choices[] = {"0",     "-1",      "2147483647",           "2147483648", "4294967296",
                                   "1e300", "1.5",     "-9223372036854775808", "1e999",      "999999999999999999999999",
                                   "NaN",   "Infinity"};
    return f.replace(at, end - at, choices[below(std::size(choices))]);
  }
  case 8: { // a value of another type after a key
    std::vector<std::size_t> colons;
    for (std::size_t i = 0; i + 1 < f.size(); ++i)
      if (f[i] == '"' && f[i + 1] == ':') colons.push_back(i + 2);
    if (colons.empty()) return f;
    const std::size_t at = colons[below(colons.size())];
    const std::string values[] = {" null,", " true,", " 7,", " [],", " {},", " \"\",", " [1, \"x\", null],"};
    return f.insert(at, values[below(std::size(values))]);
  }
  case 9: { // deep nesting (a stack overflow in a recursive reader)
    const std::size_t at = below(f.size());
    const std::size_t depth = 1 + below(100000);
    return f.insert(at, std::string(depth, rng() % 2 == 0 ? '[' : '{'));
  }
  case 10: { // invalid UTF-8 or an escape inside a string
    const std::string bad[] = {"\xff", "\xc3", "\xed\xa0\x80", "\\ud800", "\\u0000", "\\x", "\xf4\x90\x80\x80"};
    return f.insert(below(f.size()), bad[below(std::size(bad))]);
  }
  default: { // lines: join two, or add blank and whitespace-only lines
    const std::size_t nl = f.find('\n', below(f.size()));
    if (nl == std::string::npos) return f + "\n\n  \n";
    if (rng() % 2 == 0) return f.erase(nl, 1);
    return f.insert(nl, "\n \t\n");
  }
  }
}

/// One mutation of a JSON document's tree, chosen by `rng`: a value (at any depth) replaced by one
/// of another type or range, or removed. Reaches the readers' field checks past the parser.
inline std::string mutate_tree(const nlohmann::json& doc, rltf::Rng& rng) {
  nlohmann::json flat = doc.flatten();
  if (flat.empty()) return doc.dump();
  auto it = flat.begin();
  std::advance(it, static_cast<std::ptrdiff_t>(rng() % flat.size()));
  const nlohmann::json values[] = {nullptr,
                                   true,
                                   7,
                                   -1,
                                   2147483648LL,
                                   1.5,
                                   "",
                                   "x",
                                   nlohmann::json::array(),
                                   nlohmann::json::object(),
                                   nlohmann::json::array({1, "a"})};
  const std::string key = it.key();
  if (rng() % 4 == 0)
    flat.erase(key);
  else
    flat[key] = values[rng() % std::size(values)];
  try {
    return flat.unflatten().dump(1);
  } catch (const nlohmann::json::exception&) { // an edit that no tree has (a primitive made a container)
    return doc.dump(1);
  }
}

/// Half byte-level mutations, half tree mutations of `doc` (one JSON document, or the first line
/// of a JSONL file).
inline std::string mutate_json(const std::string& seed, const nlohmann::json& doc, rltf::Rng& rng, bool jsonl) {
  if (rng() % 2 == 0) return mutate(seed, rng);
  if (!jsonl) return mutate_tree(doc, rng);
  const std::size_t nl = seed.find('\n');
  std::string first = mutate_tree(doc, rng);
  first.erase(std::remove(first.begin(), first.end(), '\n'), first.end());
  return first + "\n" + (nl == std::string::npos ? std::string() : seed.substr(nl + 1));
}

struct Tally {
  std::size_t loaded = 0;
  std::size_t rejected = 0;
  double slowest = 0;
};

/// Writes `bytes` to `path` and runs `load` on it: it must return or throw an rltf::error.
inline void check_one(const fs::path& path, const std::string& bytes, const std::function<void(const fs::path&)>& load,
                      Tally& tally) {
  spit(path, bytes);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    load(path);
    ++tally.loaded;
  } catch (const rltf::error&) {
    ++tally.rejected;
  } catch (const std::exception& e) {
    FAIL("a mutant of " << path.filename().string() << " raised a non-rltf exception: " << std::string(e.what())
                        << "\n--- mutant ---\n"
                        << bytes.substr(0, 4000));
  }
  tally.slowest = std::max(tally.slowest, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

/// Fuzzes one reader: the seed must load, then `iterations` mutants.
inline Tally fuzz(const fs::path& path, const std::string& seed, std::size_t iterations, std::uint64_t rng_seed,
                  const std::function<void(const fs::path&)>& load) {
  Tally tally;
  spit(path, seed);
  REQUIRE_NOTHROW(load(path));
  // JSON (a document, or JSONL whose first line is one) gets tree mutations too.
  const bool jsonl = seed.find('\n') + 1 < seed.size();
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(jsonl ? seed.substr(0, seed.find('\n')) : seed);
  } catch (const nlohmann::json::exception&) {
    doc = nullptr; // not JSON (gzip)
  }
  rltf::Rng rng = rltf::make_rng(rng_seed);
  for (std::size_t i = 0; i < iterations; ++i)
    check_one(path, doc.is_null() ? mutate(seed, rng) : mutate_json(seed, doc, rng, jsonl), load, tally);
  MESSAGE(path.filename().string() << ": " << iterations << " mutants, " << tally.loaded << " loaded, "
                                   << tally.rejected << " rejected, slowest " << tally.slowest << " s");
  CHECK(tally.rejected > 0);
  CHECK(tally.slowest < 5.0); // bounded in time (a generous bound: CI runs this under ASan on 2 cores)
  return tally;
}

} // namespace fuzz_readers

using namespace fuzz_readers;

TEST_CASE("readers fuzz: JSONL samples files (data::read_samples)") {
  ScratchDir d;
  const std::string seed = slurp(fs::path(RLTF_SOURCE_DIR) / "examples" / "evaluate" / "tiny_samples.jsonl");
  (void)fuzz(d.path / "samples.jsonl", seed, 3000, 11, [](const fs::path& p) {
    std::size_t bytes = 0; // touch what was read (ASan checks every byte)
    for (const auto& s : rltf::data::read_samples(p)) bytes += s.task_id.size() + s.text.size();
    (void)bytes;
  });
}

TEST_CASE("readers fuzz: problem files (HumanEval, MBPP, HumanEval+, MBPP+ JSONL)") {
  ScratchDir d;
  write_python_seeds(d.path);
  // Every loaded problem has tests to run (the loaders' contract); the rest is touched for ASan.
  const auto check_problems = [](const std::vector<rltf::Problem>& problems) {
    std::size_t bytes = 0;
    for (const auto& p : problems) {
      REQUIRE(!p.tests.tests.empty());
      bytes += p.task_id.size() + p.prompt.size() + p.entry_point.size();
      for (const auto& t : p.tests.tests) bytes += t.code.size() + t.input.size() + t.expected.size();
    }
    (void)bytes;
  };

  (void)fuzz(d.path / "mutant_humaneval.jsonl", slurp(d.path / "humaneval.jsonl"), 1500, 12,
             [&](const fs::path& p) { check_problems(rltf::data::load_humaneval(p)); });
  const std::string mbpp = first_lines(slurp(fs::path(RLTF_SOURCE_DIR) / "data" / "mbpp.jsonl"), 3);
  (void)fuzz(d.path / "mutant_mbpp.jsonl", mbpp, 1500, 13,
             [&](const fs::path& p) { check_problems(rltf::data::load_mbpp(p)); });
  (void)fuzz(d.path / "mutant_humaneval_plus.jsonl", slurp(d.path / "humaneval_plus.jsonl"), 600, 14,
             [&](const fs::path& p) { check_problems(rltf::data::load_humaneval_plus(p)); });
  (void)fuzz(d.path / "mutant_mbpp_plus.jsonl", slurp(d.path / "mbpp_plus.jsonl"), 600, 15,
             [&](const fs::path& p) { check_problems(rltf::data::load_mbpp_plus(p)); });
}

TEST_CASE("readers fuzz: gzip-compressed problem files (load_humaneval on .jsonl.gz)") {
  ScratchDir d;
  write_python_seeds(d.path);
  const std::string seed = slurp(d.path / "humaneval.jsonl.gz");
  REQUIRE(seed.size() > 18);
  REQUIRE(static_cast<unsigned char>(seed[0]) == 0x1f);
  const Tally t =
      fuzz(d.path / "mutant.jsonl.gz", seed, 2000, 16, [](const fs::path& p) { (void)rltf::data::load_humaneval(p); });
  CHECK(t.rejected > t.loaded); // a gzip trailer's CRC catches most byte edits
}

TEST_CASE("readers fuzz: tokenizer.json (Gpt2Tokenizer::from_tokenizer_json)") {
  ScratchDir d;
  const Tally t = fuzz(d.path / "tokenizer.json", tokenizer_json_seed(), 3000, 17, [](const fs::path& p) {
    const auto tok = rltf::Gpt2Tokenizer::from_tokenizer_json(p);
    const std::string text = "the rain in spain";
    REQUIRE(tok.decode(tok.encode(text)) == text); // whatever loaded still round-trips
  });
  CHECK(t.loaded > 0);
}

TEST_CASE("readers fuzz: a token id far beyond the vocabulary is rejected, not allocated") {
  ScratchDir d;
  std::string seed = tokenizer_json_seed();
  nlohmann::json doc = nlohmann::json::parse(seed);
  doc["added_tokens"][0]["id"] = 2147483000;
  spit(d.path / "tokenizer.json", doc.dump());
  CHECK_THROWS_AS((void)rltf::Gpt2Tokenizer::from_tokenizer_json(d.path / "tokenizer.json"), rltf::parse_error);
  doc = nlohmann::json::parse(seed);
  doc["model"]["vocab"]["Ġt"] = 2000000000;
  spit(d.path / "tokenizer.json", doc.dump());
  CHECK_THROWS_AS((void)rltf::Gpt2Tokenizer::from_tokenizer_json(d.path / "tokenizer.json"), rltf::parse_error);
}
