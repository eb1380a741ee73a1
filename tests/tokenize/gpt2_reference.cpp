// Cross-checks Gpt2Tokenizer against GPT-2's reference encoder (tools/gpt2_reference_bpe.py, the
// algorithm of openai/gpt-2's encoder.py run by the real /usr/bin/python3) on a large real corpus:
// every MBPP problem's text, code and tests, and a seeded mix of Unicode edge cases.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/tokenize/gpt2.hpp"

namespace tokenize_gpt2_reference_test {

namespace fs = std::filesystem;

inline std::string mbpp_corpus() {
  std::ifstream in(fs::path(RLTF_SOURCE_DIR) / "data" / "mbpp.jsonl");
  std::string line;
  std::string corpus;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    corpus += j.at("text").get<std::string>() + "\n" + j.at("code").get<std::string>() + "\n";
    for (const auto& t : j.at("test_list")) corpus += t.get<std::string>() + "\n";
    corpus += "\n";
  }
  return corpus;
}

/// Seeded random text over pieces that stress the pre-tokenizer's Unicode classes.
inline std::string unicode_mix(std::uint64_t seed, std::size_t pieces) {
  const std::vector<std::string> alphabet = {"a",
                                             "Z",
                                             "é",
                                             "ß",
                                             "Ω",
                                             "ж",
                                             "中",
                                             "文",
                                             "ا",
                                             "ह",
                                             "\u093f" /* Mn */,
                                             "\u0301" /* combining */,
                                             "1",
                                             "٣",
                                             "७",
                                             "²",
                                             "½",
                                             "Ⅻ",
                                             " ",
                                             "  ",
                                             "\t",
                                             "\n",
                                             "\r\n",
                                             "\u00a0",
                                             "\u2003",
                                             "\u3000",
                                             "\u2028",
                                             "\u0085",
                                             "\x1c" /* isspace() but not White_Space */,
                                             "\ufeff",
                                             "\u200b",
                                             "😀",
                                             "👩\u200d💻",
                                             "'s",
                                             "'t",
                                             "'re",
                                             "'ve",
                                             "'m",
                                             "'ll",
                                             "'d",
                                             "'S",
                                             "''",
                                             "!",
                                             "?",
                                             "...",
                                             "()",
                                             "{",
                                             "#",
                                             "_",
                                             "-",
                                             "€",
                                             "<|endoftext|>",
                                             "x = 1",
                                             "def",
                                             "return",
                                             "ü"};
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string out;
  for (std::size_t i = 0; i < pieces; ++i) out += alphabet[pick(rng)];
  return out;
}

} // namespace tokenize_gpt2_reference_test

TEST_CASE("Gpt2Tokenizer matches GPT-2's reference encoder (python3) on MBPP and a Unicode mix") {
  namespace t = tokenize_gpt2_reference_test;
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(RLTF_BINARY_DIR) / "test-scratch" / "tokenize" / "reference";
  fs::create_directories(dir);
  const std::string corpus = t::mbpp_corpus() + t::unicode_mix(7, 20000);
  REQUIRE(corpus.size() > 400000);
  {
    std::ofstream out(dir / "corpus.txt", std::ios::binary);
    out << corpus;
  }
  const fs::path models = fs::path(RLTF_SOURCE_DIR) / "data" / "models" / "gpt2-tokenizer";
  const std::string cmd = std::string(RLTF_PYTHON) + " " +
                          (fs::path(RLTF_SOURCE_DIR) / "tools" / "gpt2_reference_bpe.py").string() + " " +
                          (models / "encoder.json").string() + " " + (models / "vocab.bpe").string() + " " +
                          (dir / "corpus.txt").string() + " > " + (dir / "reference.json").string();
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::ifstream in(dir / "reference.json");
  const auto reference = nlohmann::json::parse(in);
  MESSAGE("reference pre-tokenizer engine: " << reference.at("engine").get<std::string>());
  const auto expected = reference.at("ids").get<std::vector<rltf::token_id>>();
  const auto tok = rltf::Gpt2Tokenizer::from_directory(models);
  const auto ids = tok.encode(corpus);
  REQUIRE(ids.size() == expected.size());
  std::size_t first_difference = ids.size();
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (ids[i] != expected[i]) {
      first_difference = i;
      break;
    }
  CHECK(first_difference == ids.size());
  CHECK(tok.decode(ids) == corpus);
  // Cached and uncached paths agree: encoding again hits the cache for every repeated piece.
  CHECK(tok.cache_size() > 0);
  CHECK(tok.encode(corpus) == ids);
  const auto uncached = rltf::Gpt2Tokenizer::from_directory(models, {.cache_capacity = 0});
  CHECK(uncached.encode(corpus) == ids);
  CHECK(uncached.cache_size() == 0);
}

TEST_CASE("the committed Unicode tables are what tools/gen_unicode_tables.py generates") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(RLTF_BINARY_DIR) / "test-scratch" / "tokenize" / "tables";
  fs::create_directories(dir);
  const fs::path fresh = dir / "unicode_tables.hpp";
  const std::string cmd = std::string(RLTF_PYTHON) + " " +
                          (fs::path(RLTF_SOURCE_DIR) / "tools" / "gen_unicode_tables.py").string() + " " +
                          fresh.string() + " > /dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const auto body = [](const fs::path& p) { // without the line naming the Python version
    std::ifstream in(p);
    std::string line;
    std::string out;
    while (std::getline(in, line))
      if (line.find("GENERATED by") == std::string::npos) out += line + "\n";
    return out;
  };
  const std::string committed =
      body(fs::path(RLTF_SOURCE_DIR) / "include" / "rltf" / "tokenize" / "detail" / "unicode_tables.hpp");
  CHECK(committed.size() > 10000);
  CHECK(body(fresh) == committed);
}
