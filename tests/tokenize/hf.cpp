#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/tokenize/gpt2.hpp"
#include "rltf/tokenize/hf.hpp"

namespace tokenize_hf_test {

namespace fs = std::filesystem;
using ids_t = std::vector<rltf::token_id>;

inline fs::path models() { return fs::path(RLTF_SOURCE_DIR) / "data" / "models"; }

inline nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

inline fs::path scratch_dir(const std::string& name) {
  const fs::path dir = fs::path(RLTF_BINARY_DIR) / "test-scratch" / "tokenize-hf" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

/// The Qwen tokenizer, loaded once (11 MB of JSON).
inline const rltf::HfTokenizer& qwen() {
  static const rltf::HfTokenizer tok = rltf::HfTokenizer::from_directory(models() / "qwen2-tokenizer");
  return tok;
}

/// Checks that offsets(ids) tiles decode(ids) with each token's bytes.
inline void check_offsets_tile(const rltf::HfTokenizer& tok, const ids_t& ids, const std::string& text) {
  const auto off = tok.offsets(ids);
  REQUIRE(off.size() == ids.size());
  std::size_t at = 0;
  for (std::size_t t = 0; t < ids.size(); ++t) {
    CHECK(off[t].begin == at);
    CHECK(text.substr(off[t].begin, off[t].size()) == tok.token_bytes(ids[t]));
    at = off[t].end;
  }
  CHECK(at == text.size());
}

/// A tokenizer.json over the 256 byte tokens (id = byte value), then `extra` tokens (ids 256...),
/// then <|endoftext|>; `patch` is merged into the document.
inline nlohmann::json tiny_json(const std::vector<std::string>& extra,
                                const std::vector<std::pair<std::string, std::string>>& merges) {
  nlohmann::json vocab = nlohmann::json::object();
  for (unsigned b = 0; b < 256; ++b)
    vocab[rltf::tokenize::detail::byte_level_encode(std::string(1, static_cast<char>(b)))] = b;
  for (std::size_t i = 0; i < extra.size(); ++i) vocab[rltf::tokenize::detail::byte_level_encode(extra[i])] = 256 + i;
  nlohmann::json m = nlohmann::json::array();
  for (const auto& [l, r] : merges)
    m.push_back({rltf::tokenize::detail::byte_level_encode(l), rltf::tokenize::detail::byte_level_encode(r)});
  const auto eos = static_cast<int>(256 + extra.size());
  return {{"version", "1.0"},
          {"added_tokens",
           {{{"id", eos},
             {"content", "<|endoftext|>"},
             {"single_word", false},
             {"lstrip", false},
             {"rstrip", false},
             {"normalized", false},
             {"special", true}}}},
          {"normalizer", nullptr},
          {"pre_tokenizer",
           {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
          {"post_processor", nullptr},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"byte_fallback", false},
            {"ignore_merges", false},
            {"vocab", vocab},
            {"merges", m}}}};
}

inline rltf::HfTokenizer load(const nlohmann::json& doc, const std::string& name) {
  const fs::path dir = scratch_dir(name);
  std::ofstream(dir / "tokenizer.json") << doc.dump();
  return rltf::HfTokenizer::from_directory(dir);
}

inline nlohmann::json split(const std::string& regex, const std::string& behavior, bool invert = false) {
  return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", behavior}, {"invert", invert}};
}

inline nlohmann::json byte_level_no_regex() {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
}

/// Whether `message` contains `part` (shown when not).
inline bool has(const std::string& message, const std::string& part) {
  CAPTURE(message);
  const bool found = message.find(part) != std::string::npos;
  if (!found) MESSAGE(message);
  return found;
}

/// The parse_error message of loading `doc`.
inline std::string load_error(const nlohmann::json& doc, const std::string& name) {
  try {
    static_cast<void>(load(doc, name));
  } catch (const rltf::parse_error& e) {
    return e.what();
  }
  return "(no error)";
}

} // namespace tokenize_hf_test

using tokenize_hf_test::ids_t;

TEST_CASE("HfTokenizer: all 46 llama.cpp Qwen2 vectors, with decode and offsets") {
  const auto& tok = tokenize_hf_test::qwen();
  const auto doc = tokenize_hf_test::read_json(tokenize_hf_test::models() / "qwen2-tokenizer" / "test_vectors.json");
  CHECK(tok.vocab_size() == doc.at("tokenizer_size_with_added_tokens").get<std::size_t>());
  CHECK(tok.merge_count() == doc.at("n_merges").get<std::size_t>());
  CHECK(tok.eos_id() == 151645); // <|im_end|>, tokenizer_config.json's eos_token
  CHECK(tok.pad_id() == 151643); // <|endoftext|>
  CHECK(tok.normalizes_nfc());
  REQUIRE(doc.at("cases").size() == 46);
  for (const auto& c : doc.at("cases")) {
    const auto text = c.at("text").get<std::string>();
    const auto expected = c.at("ids").get<ids_t>();
    CAPTURE(c.at("id").get<std::string>());
    CHECK(tok.encode(text) == expected);
    CHECK(tok.decode(expected) == text);
    tokenize_hf_test::check_offsets_tile(tok, expected, text);
    const auto enc = tok.encode_with_offsets(text);
    CHECK(enc.ids == expected);
    CHECK(enc.offsets == tok.offsets(expected)); // NFC leaves these texts unchanged
  }
}

TEST_CASE("HfTokenizer: Qwen2 added tokens, <think> and NFC (the self-computed vectors)") {
  const auto& tok = tokenize_hf_test::qwen();
  const auto doc = tokenize_hf_test::read_json(tokenize_hf_test::models() / "qwen2-tokenizer" / "test_vectors.json");
  REQUIRE(doc.at("extra_cases_self_computed").size() == 4);
  for (const auto& c : doc.at("extra_cases_self_computed")) {
    CAPTURE(c.at("id").get<std::string>());
    CHECK(tok.encode(c.at("text").get<std::string>()) == c.at("ids").get<ids_t>());
  }
  // Special tokens as text when asked; <think> (special: false) is matched even then, as in HF.
  const std::string chat = "<|im_start|>user\nHello<|im_end|>\n";
  CHECK(tok.encode(chat, rltf::SpecialTokens::ordinary) ==
        ids_t{27, 91, 318, 4906, 91, 29, 872, 198, 9707, 27, 91, 318, 6213, 91, 397});
  CHECK(tok.encode("<think>\n\n</think>\n\n", rltf::SpecialTokens::ordinary) == ids_t{151667, 271, 151668, 271});
  CHECK_THROWS_WITH_AS(static_cast<void>(tok.encode(chat, rltf::SpecialTokens::disallowed)),
                       doctest::Contains("special token '<|im_start|>' at byte 0"), rltf::invalid_argument);
  CHECK(tok.encode_with_offsets(chat).offsets ==
        rltf::TokenOffsets{{0, 12}, {12, 16}, {16, 17}, {17, 22}, {22, 32}, {32, 33}});
  CHECK(tok.is_special(151644));
  CHECK_FALSE(tok.is_special(151667));
  CHECK(tok.is_added(151667));
  CHECK(tok.find("<|im_end|>") == 151645);
  CHECK(tok.find("Ġworld") == tok.encode(" world").at(0));
  CHECK(tok.token_string(tok.encode(" world").at(0)) == "Ġworld");

  // NFC: "Cafe\u0301 re\u0301sume\u0301" encodes as "Café résumé"; offsets are spans of the input.
  const std::string raw = "Cafe\xcc\x81 re\xcc\x81sume\xcc\x81";
  const auto enc = tok.encode_with_offsets(raw);
  CHECK(enc.ids == tok.encode("Caf\xc3\xa9 r\xc3\xa9sum\xc3\xa9"));
  CHECK(tok.decode(enc.ids) == "Caf\xc3\xa9 r\xc3\xa9sum\xc3\xa9");
  REQUIRE(enc.ids == ids_t{34, 2577, 963, 9333, 1242, 963});
  // C | af | é | " ré" | sum | é: each composed é covers its 3 source bytes.
  CHECK(enc.offsets == rltf::TokenOffsets{{0, 1}, {1, 3}, {3, 6}, {6, 11}, {11, 14}, {14, 17}});
}

TEST_CASE("HfTokenizer on GPT-2's tokenizer.json equals Gpt2Tokenizer") {
  namespace fs = std::filesystem;
  const fs::path dir = tokenize_hf_test::models() / "lm-buddy-fake-gpt2";
  const auto hf = rltf::HfTokenizer::from_tokenizer_json(dir / "tokenizer.json");
  const auto gpt2 = rltf::Gpt2Tokenizer::from_directory(tokenize_hf_test::models() / "gpt2-tokenizer");
  CHECK(hf.vocab_size() == gpt2.vocab_size());
  CHECK(hf.eos_id() == gpt2.eos_id());
  CHECK(hf.merge_count() == gpt2.merge_count());
  CHECK_FALSE(hf.normalizes_nfc());
  const auto doc = tokenize_hf_test::read_json(tokenize_hf_test::models() / "gpt2-tokenizer" / "test_vectors.json");
  REQUIRE(doc.at("cases").size() == 97);
  for (const auto& c : doc.at("cases")) {
    const auto text = c.at("text").get<std::string>();
    CAPTURE(c.at("id").get<std::string>());
    const bool special = c.contains("special_tokens") && c.at("special_tokens") == "allowed";
    const auto mode = special ? rltf::SpecialTokens::allowed : rltf::SpecialTokens::ordinary;
    const auto ids = hf.encode(text, mode);
    CHECK(ids == c.at("ids").get<ids_t>());
    CHECK(ids == gpt2.encode(text, mode));
    CHECK(hf.decode(ids) == text);
    CHECK(hf.offsets(ids) == gpt2.offsets(ids));
    CHECK(hf.encode_with_offsets(text, mode).offsets == gpt2.offsets(ids));
  }
  // Seeded random mixes of Unicode edge cases: letters, digits, marks, every kind of space
  // (U+0085, U+00A0, U+3000, ...), CJK, emoji, contractions, invalid UTF-8.
  const std::vector<std::string> atoms = {"a",
                                          "Z",
                                          "0",
                                          "9",
                                          " ",
                                          "  ",
                                          "\t",
                                          "\n",
                                          "\r\n",
                                          "'s",
                                          "'ll",
                                          "'T",
                                          "\xc2\x85",
                                          "\xc2\xa0",
                                          "\xe3\x80\x80",
                                          "\xe2\x80\xa8",
                                          "\xcc\x81",
                                          "\xc3\xa9",
                                          "\xe4\xb8\xad",
                                          "\xd9\xa3",
                                          "\xf0\x9f\x98\x80",
                                          "!",
                                          "(",
                                          "_",
                                          "-",
                                          "\xff",
                                          "\xc3",
                                          "\x1c",
                                          "def",
                                          " x",
                                          "1234",
                                          "<|endoftext|>"};
  std::mt19937 rng(20261202);
  for (int n = 0; n < 2000; ++n) {
    std::string text;
    const auto len = rng() % 12;
    for (std::uint32_t k = 0; k < len; ++k) text += atoms[rng() % atoms.size()];
    CAPTURE(text);
    const auto ids = hf.encode(text, rltf::SpecialTokens::ordinary);
    CHECK(ids == gpt2.encode(text, rltf::SpecialTokens::ordinary));
    CHECK(hf.encode(text) == gpt2.encode(text, rltf::SpecialTokens::allowed)); // HF's default matches it
    CHECK(hf.decode(ids) == text);
  }
}

TEST_CASE("HfTokenizer: Split behaviours as Hugging Face documents them") {
  using tokenize_hf_test::split;
  auto doc = tokenize_hf_test::tiny_json({}, {});
  const std::string text = "the-final--countdown";
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"Removed", {"the", "final", "countdown"}},
      {"Isolated", {"the", "-", "final", "-", "-", "countdown"}},
      {"MergedWithPrevious", {"the-", "final-", "-", "countdown"}},
      {"MergedWithNext", {"the", "-final", "-", "-countdown"}},
      {"Contiguous", {"the", "-", "final", "--", "countdown"}},
  };
  for (const auto& [behavior, expected] : cases) {
    CAPTURE(behavior);
    doc["pre_tokenizer"] = {{"type", "Sequence"},
                            {"pretokenizers", {split("-", behavior), tokenize_hf_test::byte_level_no_regex()}}};
    CHECK(tokenize_hf_test::load(doc, "split").pre_tokenize(text) == expected);
  }
  // A String pattern; invert: the pattern [a-z]+ marks what is NOT a delimiter, so Removed drops the "-".
  doc["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"String", "--"}}}, {"behavior", "Isolated"}, {"invert", false}};
  doc["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", {doc["pre_tokenizer"], tokenize_hf_test::byte_level_no_regex()}}};
  CHECK(tokenize_hf_test::load(doc, "split").pre_tokenize(text) ==
        std::vector<std::string>{"the-final", "--", "countdown"});
  doc["pre_tokenizer"]["pretokenizers"][0] = split("[a-z]+", "Removed", true);
  CHECK(tokenize_hf_test::load(doc, "split").pre_tokenize(text) ==
        std::vector<std::string>{"the", "final", "countdown"});

  // Removed text has no token; offsets still tile the input (the gap joins the token before).
  doc["pre_tokenizer"]["pretokenizers"][0] = split("-", "Removed");
  const auto tok = tokenize_hf_test::load(doc, "split");
  const auto enc = tok.encode_with_offsets("ab-c");
  CHECK(enc.ids == ids_t{'a', 'b', 'c'});
  CHECK(enc.offsets == rltf::TokenOffsets{{0, 1}, {1, 3}, {3, 4}});
  CHECK(tok.decode(enc.ids) == "abc");
}

TEST_CASE("HfTokenizer: the Qwen2 and Llama 3 regexes cut pieces as Oniguruma does") {
  using tokenize_hf_test::split;
  auto doc = tokenize_hf_test::tiny_json({}, {});
  const std::string qwen =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  std::string llama = qwen;
  llama.replace(llama.find(R"(\p{N}|)"), 6, R"(\p{N}{1,3}|)");
  doc["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", {split(qwen, "Isolated"), tokenize_hf_test::byte_level_no_regex()}}};
  const auto q = tokenize_hf_test::load(doc, "qwen-regex");
  doc["pre_tokenizer"]["pretokenizers"][0] = split(llama, "Isolated");
  const auto l = tokenize_hf_test::load(doc, "llama-regex");
  const std::string text = "I'M 12345 don'T\n\n  x=1;\r\n\xc2\x85y \xc2\xa0z";
  using v = std::vector<std::string>;
  CHECK(q.pre_tokenize(text) == v{"I", "'M", " ", "1", "2", "3", "4", "5", " don", "'T", "\n\n", " ", " x", "=", "1",
                                  ";\r\n", "\xc2\x85y", " ", "\xc2\xa0z"});
  CHECK(l.pre_tokenize(text) == v{"I", "'M", " ", "123", "45", " don", "'T", "\n\n", " ", " x", "=", "1", ";\r\n",
                                  "\xc2\x85y", " ", "\xc2\xa0z"});
  // U+0085 is White_Space for Oniguruma: "\s+(?!\S)" keeps it out of the following word here.
  CHECK(q.pre_tokenize("a\xc2\x85\xc2\x85z") == v{"a", "\xc2\x85", "\xc2\x85z"});
  // Invalid UTF-8 matches nothing: the bytes stay, as their own pieces, and round-trip.
  const std::string bad = "ab\xff\xfe cd";
  CHECK(q.pre_tokenize(bad) == v{"ab", "\xff\xfe", " cd"});
  CHECK(q.decode(q.encode(bad)) == bad);
}

TEST_CASE("HfTokenizer: ignore_merges takes a piece found whole in the vocabulary") {
  // "abc" is a token but no merge reaches it: BPE gives "ab" "c" unless ignore_merges.
  auto doc = tokenize_hf_test::tiny_json({"ab", "abc"}, {{"a", "b"}});
  CHECK(tokenize_hf_test::load(doc, "merges").encode("abc") == ids_t{256, 'c'});
  doc["model"]["ignore_merges"] = true;
  const auto tok = tokenize_hf_test::load(doc, "ignore-merges");
  CHECK(tok.encode("abc") == ids_t{257});
  CHECK(tok.encode("abcab") == ids_t{256, 'c', 256}); // only a whole piece is looked up
  // Merges given as "a b" strings load the same.
  doc["model"]["merges"] = {"a b"};
  CHECK(tokenize_hf_test::load(doc, "string-merges").encode("abc") == ids_t{257});
}

TEST_CASE("HfTokenizer: added tokens: longest first, lstrip, rstrip, single_word, normalized") {
  auto doc = tokenize_hf_test::tiny_json({}, {});
  const auto added = [](int id, const std::string& content, bool lstrip, bool rstrip, bool single_word, bool normalized,
                        bool special) {
    return nlohmann::json{{"id", id},          {"content", content},         {"lstrip", lstrip},
                          {"rstrip", rstrip},  {"single_word", single_word}, {"normalized", normalized},
                          {"special", special}};
  };
  doc["added_tokens"].push_back(added(300, "<a>", false, false, false, false, true));
  doc["added_tokens"].push_back(added(301, "<a><b>", false, false, false, false, true));
  doc["added_tokens"].push_back(added(302, "[L]", true, false, false, false, false));
  doc["added_tokens"].push_back(added(303, "[R]", false, true, false, false, false));
  doc["added_tokens"].push_back(added(304, "cat", false, false, true, false, false));
  const auto tok = tokenize_hf_test::load(doc, "added");
  CHECK(tok.vocab_size() == 305);
  CHECK(tok.encode("x<a><b>y<a>") == ids_t{'x', 301, 'y', 300}); // longest at the same start
  const auto enc = tok.encode_with_offsets("x  [L]  [R]  y");
  CHECK(enc.ids == ids_t{'x', 302, ' ', ' ', 303, 'y'}); // [L] takes the spaces before it, [R] after it
  CHECK(enc.offsets == rltf::TokenOffsets{{0, 1}, {1, 6}, {6, 7}, {7, 8}, {8, 13}, {13, 14}});
  CHECK(tok.encode("cat concat cats") == ids_t{304, ' ', 'c', 'o', 'n', 'c', 'a', 't', ' ', 'c', 'a', 't', 's'});
  CHECK(tok.encode("(cat)") == ids_t{'(', 304, ')'});

  // normalized: true tokens are matched after NFC.
  doc["normalizer"] = {{"type", "NFC"}};
  doc["added_tokens"].push_back(added(305, "\xc3\xa9!", false, false, false, true, false));
  const auto nfc = tokenize_hf_test::load(doc, "added-nfc");
  const auto e = nfc.encode_with_offsets("xe\xcc\x81!y");
  CHECK(e.ids == ids_t{'x', 305, 'y'});
  CHECK(e.offsets == rltf::TokenOffsets{{0, 1}, {1, 5}, {5, 6}});
}

TEST_CASE("HfTokenizer: Llama 3's template adds <|begin_of_text|>") {
  auto doc = tokenize_hf_test::tiny_json({}, {});
  doc["added_tokens"].push_back({{"id", 300}, {"content", "<|begin_of_text|>"}, {"special", true}});
  doc["post_processor"] = nlohmann::json::parse(R"({"type": "Sequence", "processors": [
      {"type": "ByteLevel", "trim_offsets": false},
      {"type": "TemplateProcessing",
       "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
       "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [300]}}}]})");
  const auto tok = tokenize_hf_test::load(doc, "template");
  CHECK(tok.add_special_tokens(tok.encode("hi")) == ids_t{300, 'h', 'i'});
}

TEST_CASE("HfTokenizer: unsupported or malformed tokenizer.json parts name their JSON path") {
  using tokenize_hf_test::has;
  using tokenize_hf_test::load_error;
  const auto base = tokenize_hf_test::tiny_json({}, {});
  auto doc = base;
  doc["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", {tokenize_hf_test::split("a", "Isolated"), {{"type", "Metaspace"}}}}};
  CHECK(has(load_error(doc, "bad"), "field 'pre_tokenizer.pretokenizers[1].type': unsupported \"Metaspace\""));
  doc = base;
  doc["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}, {{"type", "NFKC"}}}}};
  CHECK(has(load_error(doc, "bad"), "field 'normalizer.normalizers[1].type': unsupported \"NFKC\""));
  doc = base;
  doc["model"]["type"] = "WordPiece";
  CHECK(has(load_error(doc, "bad"), "field 'model.type': unsupported \"WordPiece\""));
  doc = base;
  doc["model"]["byte_fallback"] = true;
  CHECK(has(load_error(doc, "bad"), "field 'model.byte_fallback'"));
  doc = base;
  doc["pre_tokenizer"]["add_prefix_space"] = true;
  CHECK(has(load_error(doc, "bad"), "field 'pre_tokenizer.add_prefix_space'"));
  doc = base;
  doc["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers", {tokenize_hf_test::split("(ab", "Isolated"), tokenize_hf_test::byte_level_no_regex()}}};
  CHECK(has(load_error(doc, "bad"), "field 'pre_tokenizer.pretokenizers[0].pattern.Regex': regex '(ab'"));
  doc["pre_tokenizer"]["pretokenizers"][0] = tokenize_hf_test::split("a", "Sideways");
  CHECK(has(load_error(doc, "bad"), "field 'pre_tokenizer.pretokenizers[0].behavior'"));
  doc["pre_tokenizer"]["pretokenizers"] = {tokenize_hf_test::byte_level_no_regex(),
                                           tokenize_hf_test::split("a", "Isolated")};
  CHECK(has(load_error(doc, "bad"), "ByteLevel must be the last pre-tokenizer"));
  doc = base;
  doc["decoder"] = {{"type", "WordPiece"}};
  CHECK(has(load_error(doc, "bad"), "field 'decoder.type': unsupported \"WordPiece\""));
  doc = base;
  doc["model"]["merges"] = nlohmann::json::array({nlohmann::json::array({"a", "q"})});
  CHECK(has(load_error(doc, "bad"), "field 'model.merges[0]': merge 'a q': the merged token 'aq'"));
  doc = base;
  doc["added_tokens"][0].erase("content");
  CHECK(has(load_error(doc, "bad"), "field 'added_tokens[0].content': missing"));
  doc = base;
  doc["added_tokens"] = nlohmann::json::array();
  CHECK(has(load_error(doc, "bad"), "field 'eos_token'"));
  CHECK_THROWS_WITH_AS(rltf::HfTokenizer::from_directory(tokenize_hf_test::scratch_dir("none")),
                       doctest::Contains("has no tokenizer.json"), rltf::io_error);
}

TEST_CASE("HfTokenizer: concurrent encodes agree with one thread") {
  const auto& tok = tokenize_hf_test::qwen();
  std::vector<std::string> texts;
  for (int i = 0; i < 64; ++i)
    texts.push_back("def f" + std::to_string(i) + "(x):\n    return x * " + std::to_string(i * 37) +
                    "  # caf\xc3\xa9\n");
  std::vector<ids_t> expected;
  for (const auto& t : texts) expected.push_back(tok.encode(t));
  std::vector<int> ok(4, 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w)
    threads.emplace_back([&, w] {
      for (int r = 0; r < 5; ++r)
        for (std::size_t i = 0; i < texts.size(); ++i)
          ok[static_cast<std::size_t>(w)] += tok.encode(texts[i]) == expected[i];
    });
  for (auto& t : threads) t.join();
  for (const int n : ok) CHECK(n == 5 * 64);
}
