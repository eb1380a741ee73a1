#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/tokenize/gpt2.hpp"

namespace tokenize_gpt2_test {

namespace fs = std::filesystem;

inline fs::path models() { return fs::path(RLTF_SOURCE_DIR) / "data" / "models"; }

inline nlohmann::json vectors() {
  std::ifstream in(models() / "gpt2-tokenizer" / "test_vectors.json");
  return nlohmann::json::parse(in);
}

/// A scratch directory under the build tree, emptied first.
inline fs::path scratch_dir(const std::string& name) {
  const fs::path dir = fs::path(RLTF_BINARY_DIR) / "test-scratch" / "tokenize" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

inline void write(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

inline void check_all_vectors(const rltf::Gpt2Tokenizer& tok) {
  const auto doc = vectors();
  REQUIRE(doc.at("cases").size() == 97);
  CHECK(tok.vocab_size() == doc.at("vocab_size").get<std::size_t>());
  CHECK(tok.eos_id() == doc.at("eos_token_id").get<rltf::token_id>());
  for (const auto& c : doc.at("cases")) {
    const auto text = c.at("text").get<std::string>();
    const auto expected = c.at("ids").get<std::vector<rltf::token_id>>();
    CAPTURE(c.at("id").get<std::string>());
    const bool special = c.contains("special_tokens") && c.at("special_tokens") == "allowed";
    const auto ids = special ? tok.encode(text, rltf::SpecialTokens::allowed) : tok.encode(text);
    CHECK(ids == expected);
    CHECK(tok.decode(expected) == text);
    const auto offsets = tok.offsets(expected);
    REQUIRE(offsets.size() == expected.size());
    std::size_t at = 0;
    for (std::size_t t = 0; t < offsets.size(); ++t) {
      CHECK(offsets[t].begin == at);
      CHECK(text.substr(offsets[t].begin, offsets[t].size()) == tok.token_bytes(expected[t]));
      at = offsets[t].end;
    }
    CHECK(at == text.size());
    if (c.contains("tokens")) {
      const auto tokens = c.at("tokens").get<std::vector<std::string>>();
      REQUIRE(tokens.size() == expected.size());
      for (std::size_t t = 0; t < tokens.size(); ++t) CHECK(tok.token_string(expected[t]) == tokens[t]);
    }
  }
}

} // namespace tokenize_gpt2_test

using tokenize_gpt2_test::check_all_vectors;
using tokenize_gpt2_test::models;

TEST_CASE("Gpt2Tokenizer: every test vector, from encoder.json + vocab.bpe") {
  const auto tok = rltf::Gpt2Tokenizer::from_directory(models() / "gpt2-tokenizer");
  CHECK(tok.merge_count() == 50000);
  check_all_vectors(tok);
}

TEST_CASE("Gpt2Tokenizer: every test vector, from tokenizer.json and from vocab.json + merges.txt") {
  const auto dir = models() / "lm-buddy-fake-gpt2";
  check_all_vectors(rltf::Gpt2Tokenizer::from_directory(dir)); // picks tokenizer.json
  check_all_vectors(rltf::Gpt2Tokenizer::from_files(dir / "vocab.json", dir / "merges.txt"));
}

namespace tokenize_gpt2_test {

/// A tiny vocabulary: the 256 byte tokens (ids 0..255 in byte order), `extra` tokens, then eos.
inline rltf::Gpt2Tokenizer tiny(const std::vector<std::string>& extra,
                                const std::vector<std::pair<std::string, std::string>>& merges) {
  std::vector<rltf::Gpt2Tokenizer::VocabEntry> vocab;
  for (unsigned b = 0; b < 256; ++b)
    vocab.push_back({rltf::tokenize::detail::byte_level_encode(std::string(1, static_cast<char>(b))),
                     static_cast<rltf::token_id>(b)});
  for (const auto& e : extra) vocab.push_back({e, static_cast<rltf::token_id>(vocab.size())});
  vocab.push_back({"<|endoftext|>", static_cast<rltf::token_id>(vocab.size())});
  std::vector<rltf::Gpt2Tokenizer::MergeEntry> m;
  for (const auto& [l, r] : merges) m.push_back({l, r, 0});
  return rltf::Gpt2Tokenizer(vocab, m);
}

} // namespace tokenize_gpt2_test

TEST_CASE("Gpt2Tokenizer: merges apply by rank, leftmost first among equals") {
  using tokenize_gpt2_test::tiny;
  // ids: bytes 0..255, then 256 "bc", 257 "ab", 258 "aa", 259 "aaaa", eos 260.
  const auto tok = tiny({"bc", "ab", "aa", "aaaa"}, {{"b", "c"}, {"a", "b"}, {"a", "a"}, {"aa", "aa"}});
  CHECK(tok.vocab_size() == 261);
  CHECK(tok.eos_id() == 260);
  CHECK(tok.pad_id() == 260);
  CHECK(tok.merge_count() == 4);
  CHECK(tok.encode("abc") == std::vector<rltf::token_id>{'a', 256}); // (b,c) ranks before (a,b)
  CHECK(tok.encode("abd") == std::vector<rltf::token_id>{257, 'd'}); // (a,b) when (b,c) cannot apply
  CHECK(tok.encode("aaa") == std::vector<rltf::token_id>{258, 'a'}); // leftmost pair first
  CHECK(tok.encode("aaaa") == std::vector<rltf::token_id>{259});     // aa aa -> aaaa
  CHECK(tok.encode("aaaaa") == std::vector<rltf::token_id>{259, 'a'});
  CHECK(tok.encode("aaaaaa") == std::vector<rltf::token_id>{259, 258});
  CHECK(tok.encode("x abc") == std::vector<rltf::token_id>{'x', ' ', 'a', 256}); // " abc" is one piece
  CHECK(tok.find("bc") == 256);
  CHECK(tok.find("zz") == std::nullopt);
}

TEST_CASE("Gpt2Tokenizer: special tokens are matched only when allowed") {
  const auto tok = rltf::Gpt2Tokenizer::from_directory(tokenize_gpt2_test::models() / "gpt2-tokenizer");
  const std::string text = "a<|endoftext|>b<|endoftext|>";
  const auto ordinary = tok.encode(text);
  CHECK(ordinary == tok.encode(text, rltf::SpecialTokens::ordinary));
  CHECK(std::find(ordinary.begin(), ordinary.end(), tok.eos_id()) == ordinary.end());
  CHECK(tok.decode(ordinary) == text);
  const auto allowed = tok.encode(text, rltf::SpecialTokens::allowed);
  CHECK(allowed == std::vector<rltf::token_id>{64, 50256, 65, 50256});
  CHECK(tok.decode(allowed) == text);
  CHECK(tok.offsets(allowed) == rltf::TokenOffsets{{0, 1}, {1, 14}, {14, 15}, {15, 28}});
  CHECK(tok.is_special(50256));
  CHECK_FALSE(tok.is_special(64));
  CHECK(tok.special_id("<|endoftext|>") == 50256);
  CHECK(tok.token_string(50256) == "<|endoftext|>");
  CHECK(tok.encode("no specials here", rltf::SpecialTokens::disallowed) == tok.encode("no specials here"));
  CHECK_THROWS_WITH_AS(static_cast<void>(tok.encode(text, rltf::SpecialTokens::disallowed)),
                       doctest::Contains("special token '<|endoftext|>' at byte 1"), rltf::invalid_argument);
}

TEST_CASE("Gpt2Tokenizer: any bytes round-trip, including invalid UTF-8 and split characters") {
  const auto tok = rltf::Gpt2Tokenizer::from_directory(tokenize_gpt2_test::models() / "gpt2-tokenizer");
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const std::vector<std::string> texts = {all,
                                          "\xff\xfe",
                                          "caf\xc3",
                                          "\xe4\xb8",
                                          "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98",
                                          std::string(3000, ' ') + "x",
                                          std::string(1000, 'a')};
  for (const auto& text : texts) {
    const auto ids = tok.encode(text);
    CHECK(tok.decode(ids) == text);
    const auto off = tok.offsets(ids);
    REQUIRE(!off.empty());
    CHECK(off.back().end == text.size());
  }
  // The first token of "é" (0xC3 0xA9) alone is a prefix of a character: decode gives its raw byte.
  CHECK(tok.decode(std::vector<rltf::token_id>{tok.encode("\xc3")}) == "\xc3");
  CHECK_THROWS_AS(static_cast<void>(tok.decode(std::vector<rltf::token_id>{50257})), rltf::invalid_argument);
  CHECK_THROWS_AS(static_cast<void>(tok.offsets(std::vector<rltf::token_id>{-1})), rltf::invalid_argument);
}

TEST_CASE("Gpt2Tokenizer: copies share the vocabulary and the cache") {
  const auto tok = rltf::Gpt2Tokenizer::from_directory(tokenize_gpt2_test::models() / "gpt2-tokenizer");
  const rltf::Gpt2Tokenizer copy = tok; // NOLINT(performance-unnecessary-copy-initialization)
  CHECK(copy.encode(" hello world") == tok.encode(" hello world"));
  CHECK(copy.cache_size() == tok.cache_size());
  CHECK(tok.cache_size() >= 2);
}

TEST_CASE("Gpt2Tokenizer: missing or malformed files give clear errors") {
  namespace fs = std::filesystem;
  using tokenize_gpt2_test::scratch_dir;
  using tokenize_gpt2_test::write;
  const fs::path real = tokenize_gpt2_test::models() / "gpt2-tokenizer";

  CHECK_THROWS_WITH_AS(rltf::Gpt2Tokenizer::from_directory("/nonexistent/rltf"), doctest::Contains("not a directory"),
                       rltf::io_error);
  const auto empty = scratch_dir("empty");
  CHECK_THROWS_WITH_AS(
      rltf::Gpt2Tokenizer::from_directory(empty),
      doctest::Contains("expected tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe"),
      rltf::io_error);
  const auto half = scratch_dir("half");
  fs::copy_file(real / "encoder.json", half / "vocab.json");
  CHECK_THROWS_WITH_AS(rltf::Gpt2Tokenizer::from_directory(half),
                       doctest::Contains("has vocab.json but not merges.txt"), rltf::io_error);

  // A broken merge on line 3 of merges.txt.
  fs::copy_file(real / "encoder.json", half / "encoder.json");
  write(half / "merges.txt", "#version: 0.2\nĠ t\nĠtoo many parts\n");
  try {
    static_cast<void>(rltf::Gpt2Tokenizer::from_directory(half));
    FAIL("expected a parse_error");
  } catch (const rltf::parse_error& e) {
    CHECK(e.file() == (half / "merges.txt").string());
    CHECK(e.line() == 3);
    CHECK(e.field() == "merge");
    CHECK(std::string(e.what()).find("two tokens separated by one space") != std::string::npos);
  }
  write(half / "merges.txt", "#version: 0.2\nĠ t\nqqqq zzzz\n");
  CHECK_THROWS_WITH_AS(rltf::Gpt2Tokenizer::from_directory(half),
                       doctest::Contains(":3: field 'merge': merge 'qqqq zzzz'"), rltf::parse_error);

  const auto bad = scratch_dir("bad-json");
  write(bad / "vocab.json", "{\"a\": 1,\n \"b\": 2,\n \"c\": }\n");
  write(bad / "merges.txt", "");
  try {
    static_cast<void>(rltf::Gpt2Tokenizer::from_directory(bad));
    FAIL("expected a parse_error");
  } catch (const rltf::parse_error& e) {
    CHECK(e.line() == 3);
    CHECK(std::string(e.what()).find("invalid JSON") != std::string::npos);
  }
  write(bad / "vocab.json", "{\"a\": \"one\"}");
  CHECK_THROWS_WITH_AS(rltf::Gpt2Tokenizer::from_directory(bad),
                       doctest::Contains("field 'a': token id must be an integer"), rltf::parse_error);
  write(bad / "vocab.json", "{\"a\": 0}");
  CHECK_THROWS_WITH_AS(rltf::Gpt2Tokenizer::from_directory(bad), doctest::Contains("lacks the single-byte token"),
                       rltf::parse_error);
  CHECK_THROWS_WITH_AS(
      rltf::Gpt2Tokenizer::from_files(real / "encoder.json", real / "vocab.bpe", {.eos_token = "<|im_end|>"}),
      doctest::Contains("field 'eos_token': '<|im_end|>' is not in the vocabulary"), rltf::parse_error);

  // tokenizer.json variants the byte-level BPE cannot honour.
  const auto hf = scratch_dir("tokenizer-json");
  std::ifstream in(tokenize_gpt2_test::models() / "lm-buddy-fake-gpt2" / "tokenizer.json");
  auto doc = nlohmann::json::parse(in);
  doc["pre_tokenizer"]["add_prefix_space"] = true;
  write(hf / "tokenizer.json", doc.dump());
  CHECK_THROWS_WITH_AS(rltf::Gpt2Tokenizer::from_directory(hf),
                       doctest::Contains("field 'pre_tokenizer.add_prefix_space'"), rltf::parse_error);
  doc["pre_tokenizer"]["add_prefix_space"] = false;
  doc["model"]["merges"][5] = 42;
  write(hf / "tokenizer.json", doc.dump());
  CHECK_THROWS_WITH_AS(rltf::Gpt2Tokenizer::from_directory(hf), doctest::Contains("field 'model.merges[5]'"),
                       rltf::parse_error);
  doc["model"]["merges"][5] = "Ġ t";
  doc["model"]["type"] = "WordPiece";
  write(hf / "tokenizer.json", doc.dump());
  CHECK_THROWS_WITH_AS(rltf::Gpt2Tokenizer::from_directory(hf), doctest::Contains("field 'model.type'"),
                       rltf::parse_error);
  doc["model"]["type"] = "BPE";
  write(hf / "tokenizer.json", doc.dump());
  CHECK_THROWS_WITH_AS(rltf::Gpt2Tokenizer::from_directory(hf), doctest::Contains("appears twice"), rltf::parse_error);
  doc["model"]["merges"].erase(5);
  write(hf / "tokenizer.json", doc.dump());
  const auto ok = rltf::Gpt2Tokenizer::from_directory(hf); // merges given as strings, one removed
  CHECK(ok.merge_count() == 49999);
}

TEST_CASE("Gpt2Tokenizer: concurrent encodes through one shared cache agree with a single thread") {
  const auto tok = rltf::Gpt2Tokenizer::from_directory(tokenize_gpt2_test::models() / "gpt2-tokenizer",
                                                       {.cache_capacity = 64}); // small: forces clears
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i)
    texts.push_back("def f_" + std::to_string(i) + "(x):\n    return x * " + std::to_string(i * 7919) + " # ok\n");
  const auto reference =
      rltf::Gpt2Tokenizer::from_directory(tokenize_gpt2_test::models() / "gpt2-tokenizer", {.cache_capacity = 0});
  std::vector<std::vector<rltf::token_id>> expected;
  for (const auto& t : texts) expected.push_back(reference.encode(t));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w)
    threads.emplace_back([&, w] {
      const rltf::Gpt2Tokenizer copy = tok; // copies share the cache
      for (int round = 0; round < 5; ++round)
        for (std::size_t i = 0; i < texts.size(); ++i)
          if (copy.encode(texts[(i + static_cast<std::size_t>(w) * 37) % texts.size()]) !=
              expected[(i + static_cast<std::size_t>(w) * 37) % texts.size()])
            ++mismatches[static_cast<std::size_t>(w)];
    });
  for (auto& t : threads) t.join();
  CHECK(mismatches == std::vector<int>(4, 0));
  CHECK(tok.cache_size() <= 64);
}
