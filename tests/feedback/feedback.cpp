// Feedbacks on hand-built ExecutionResults (the executor-driven tests are in real_programs.cpp).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "rltf/feedback/rltf_feedback.hpp"
#include "rltf/tokenize/char.hpp"
#include "rltf/tokenize/gpt2.hpp"

namespace feedback_unit_test {

/// A sample whose completion is `text`, tokenized byte by byte (token t is byte t).
inline rltf::Sample byte_sample(const std::string& text, bool truncated = false) {
  static const auto tok = rltf::CharTokenizer::bytes();
  rltf::Sample s;
  s.text = text;
  s.tokens = tok.encode(text);
  s.truncated = truncated;
  return s;
}

inline rltf::TokenOffsets byte_offsets(const rltf::Sample& s) {
  rltf::TokenOffsets o;
  for (std::size_t i = 0; i < s.text.size(); ++i) o.push_back({i, i + 1});
  return o;
}

inline rltf::ExecutionResult error(rltf::Outcome outcome, std::string type, std::string message,
                                   std::optional<std::size_t> completion_line, bool at_end = false, int signal = 0) {
  rltf::ExecutionResult r;
  r.outcome = outcome;
  r.total = 3;
  rltf::ErrorInfo e;
  e.type = std::move(type);
  e.message = std::move(message);
  e.line = completion_line ? std::optional<std::size_t>(*completion_line + 10) : std::nullopt;
  e.completion_line = completion_line;
  e.at_end_of_program = at_end;
  e.signal = signal;
  r.error = e;
  return r;
}

inline rltf::ExecutionResult ran(rltf::Outcome outcome, std::size_t passed, std::size_t total) {
  rltf::ExecutionResult r;
  r.outcome = outcome;
  r.passed = passed;
  r.total = total;
  return r;
}

const std::string three_lines = "x = 1\ny = z\nreturn y\n"; // 21 bytes; line 2 is bytes [6, 11)

} // namespace feedback_unit_test

using feedback_unit_test::byte_offsets;
using feedback_unit_test::byte_sample;
using feedback_unit_test::error;
using feedback_unit_test::ran;
using rltf::FineCategory;
using rltf::Outcome;

TEST_CASE("Coarse: CodeRL's values by outcome") {
  const rltf::Coarse coarse;
  const auto s = byte_sample("pass\n");
  const auto o = byte_offsets(s);
  CHECK(coarse(s, ran(Outcome::pass, 3, 3), o).sequence == 1.0F);
  CHECK(coarse(s, ran(Outcome::failure, 2, 3), o).sequence == -0.3F);
  CHECK(coarse(s, error(Outcome::runtime_error, "NameError", "name 'z' is not defined", 1), o).sequence == -0.6F);
  CHECK(coarse(s, ran(Outcome::timeout, 0, 3), o).sequence == -0.6F);
  CHECK(coarse(s, error(Outcome::syntax_error, "SyntaxError", "invalid syntax", 1), o).sequence == -1.0F);
  CHECK(coarse(s, ran(Outcome::pass, 3, 3), o).token.empty());
}

TEST_CASE("Adaptive: a failure scores -0.3 + 1.3 * passed / total") {
  const rltf::Adaptive adaptive;
  const auto s = byte_sample("pass\n");
  const auto o = byte_offsets(s);
  CHECK(adaptive(s, ran(Outcome::failure, 0, 5), o).sequence == doctest::Approx(-0.3F));
  CHECK(adaptive(s, ran(Outcome::failure, 2, 5), o).sequence == doctest::Approx(-0.3F + 1.3F * 0.4F));
  CHECK(adaptive(s, ran(Outcome::failure, 4, 5), o).sequence == doctest::Approx(0.74F));
  CHECK(adaptive(s, ran(Outcome::failure, 0, 0), o).sequence == -0.3F); // no tests: the coarse value
  CHECK(adaptive(s, ran(Outcome::pass, 5, 5), o).sequence == 1.0F);
  CHECK(adaptive(s, error(Outcome::syntax_error, "SyntaxError", "invalid syntax", 1), o).sequence == -1.0F);
}

TEST_CASE("FineGrained: U_line penalises the tokens of the error line, scaled by alpha") {
  const auto s = byte_sample(feedback_unit_test::three_lines);
  const auto o = byte_offsets(s);
  const auto r = error(Outcome::runtime_error, "NameError", "name 'z' is not defined", 2);
  const float T = 21.0F;
  SUBCASE("alpha = T / (E - S)") {
    const auto d = rltf::FineGrained{}.explain(s, r, o);
    CHECK(d.classification.category == FineCategory::line);
    CHECK(d.classification.completion_line == 2);
    CHECK(d.line_bytes == rltf::ByteRange{6, 11});
    CHECK(d.span == rltf::TokenSpan{6, 11});
    CHECK(d.alpha == T / 5.0F);
    REQUIRE(d.rewards.token.size() == 21);
    for (std::size_t t = 0; t < 21; ++t) CHECK(d.rewards.token[t] == (t >= 6 && t < 11 ? -0.3F * T / 5.0F : 0.0F));
    CHECK(d.rewards.sequence == 0.0F);
  }
  SUBCASE("alpha = 1") {
    const auto rewards = rltf::FineGrained{{.alpha = rltf::Alpha::one}}(s, r, o);
    for (std::size_t t = 0; t < 21; ++t) CHECK(rewards.token[t] == (t >= 6 && t < 11 ? -0.3F : 0.0F));
  }
}

TEST_CASE("FineGrained on GPT-2 tokens: the span is the tokens whose bytes intersect the line") {
  const auto tok = rltf::Gpt2Tokenizer::from_directory(std::filesystem::path(RLTF_SOURCE_DIR) / "data" / "models" /
                                                       "gpt2-tokenizer");
  rltf::Sample s;
  s.text = "    if x:\n        return 1\n    return 2";
  s.tokens = tok.encode(s.text);
  REQUIRE(s.tokens.size() == 22);
  const auto o = tok.offsets(s.tokens);
  // Line 2 is bytes [10, 26): tokens 7..15 (eight 'Ġ' of indentation... 'Ġreturn', 'Ġ1'); the '\n' is not in it.
  const auto d = rltf::FineGrained{}.explain(s, error(Outcome::runtime_error, "TypeError", "bad", 2), o);
  CHECK(d.span == rltf::TokenSpan{7, 16});
  CHECK(d.alpha == 22.0F / 9.0F);
  // Line 3 is the last line (no newline): tokens 17..21.
  const auto d3 = rltf::FineGrained{}.explain(s, error(Outcome::runtime_error, "TypeError", "bad", 3), o);
  CHECK(d3.span == rltf::TokenSpan{17, 22});
}

TEST_CASE("the default table: categories of docs/feedback.md") {
  const auto table = rltf::FeedbackTable::defaults();
  const auto s = byte_sample(feedback_unit_test::three_lines);
  const auto cat = [&](const rltf::ExecutionResult& r, const rltf::Sample& sample) {
    return rltf::classify(table, sample, r).category;
  };
  const auto line2 = [](Outcome o, const char* type, const char* msg) { return error(o, type, msg, 2); };
  const auto S = Outcome::syntax_error;
  const auto R = Outcome::runtime_error;
  // U_line: ordinary syntax and runtime errors, at their line.
  CHECK(cat(line2(S, "SyntaxError", "invalid syntax"), s) == FineCategory::line);
  CHECK(cat(line2(S, "SyntaxError", "expected ':'"), s) == FineCategory::line);
  CHECK(cat(line2(S, "SyntaxError", "'(' was never closed"), s) == FineCategory::line); // not at the end
  CHECK(cat(line2(S, "IndentationError", "unexpected indent"), s) == FineCategory::line);
  for (const char* type : {"NameError", "TypeError", "IndexError", "KeyError", "ValueError", "AttributeError",
                           "ZeroDivisionError", "ImportError", "AssertionError"})
    CHECK(cat(line2(R, type, "x"), s) == FineCategory::line);
  // U_ignore.
  CHECK(cat(line2(S, "TabError", "inconsistent use of tabs and spaces in indentation"), s) == FineCategory::ignore);
  CHECK(cat(line2(S, "IndentationError", "unindent does not match any outer indentation level"), s) ==
        FineCategory::ignore);
  CHECK(cat(line2(S, "SyntaxError", "unterminated triple-quoted string literal (detected at line 3)"), s) ==
        FineCategory::ignore);
  CHECK(cat(line2(S, "SyntaxError", "duplicate argument 'a' in function definition"), s) == FineCategory::ignore);
  CHECK(cat(line2(S, "SyntaxError", "import * only allowed at module level"), s) == FineCategory::ignore);
  CHECK(cat(line2(R, "RuntimeError", "dictionary changed size during iteration"), s) == FineCategory::ignore);
  CHECK(cat(error(R, "Killed", "", std::nullopt, false, 9), s) == FineCategory::ignore);
  CHECK(cat(error(R, "NameError", "in the prompt", std::nullopt), s) == FineCategory::ignore);
  CHECK(cat(ran(Outcome::failure, 1, 3), s) == FineCategory::ignore);
  CHECK(cat(ran(Outcome::pass, 3, 3), s) == FineCategory::ignore);
  // U_global.
  CHECK(cat(ran(Outcome::timeout, 0, 3), s) == FineCategory::global);
  CHECK(cat(line2(R, "RecursionError", "maximum recursion depth exceeded"), s) == FineCategory::global);
  CHECK(cat(line2(R, "MemoryError", ""), s) == FineCategory::global);
  CHECK(cat(line2(S, "SyntaxError", "unexpected EOF while parsing"), s) == FineCategory::global);
  CHECK(cat(error(S, "SyntaxError", "'(' was never closed", 2, true), s) == FineCategory::global); // at the end
  CHECK(cat(error(S, "SyntaxError", "unterminated string literal (detected at line 3)", 3), s) ==
        FineCategory::global); // on the last code line
  CHECK(cat(line2(S, "SyntaxError", "invalid syntax"), byte_sample(feedback_unit_test::three_lines, true)) ==
        FineCategory::global); // a truncated sample
  // Truncation does not override an ignore rule.
  CHECK(cat(error(S, "SyntaxError", "unterminated triple-quoted string literal (detected at line 3)", 3, true), s) ==
        FineCategory::ignore);
  // The reason names the rule.
  CHECK(rltf::classify(table, s, line2(S, "TabError", "x")).reason == "rule 0 (TabError)");
  CHECK(rltf::classify(table, s, line2(S, "SyntaxError", "duplicate argument 'a' in function definition")).reason ==
        "rule 4 (SyntaxError ~ 'duplicate argument')");
}

TEST_CASE("U_global penalises every token; alpha is 1 either way") {
  const auto s = byte_sample(feedback_unit_test::three_lines);
  const auto d = rltf::FineGrained{}.explain(s, ran(Outcome::timeout, 0, 3), byte_offsets(s));
  CHECK(d.span == rltf::TokenSpan{0, 21});
  CHECK(d.alpha == 1.0F);
  for (const float v : d.rewards.token) CHECK(v == -0.3F);
}

TEST_CASE("the table is data: users re-map classes and values at run time") {
  const auto s = byte_sample(feedback_unit_test::three_lines);
  const auto o = byte_offsets(s);
  auto table = rltf::FeedbackTable::defaults();
  table.rules.insert(table.rules.begin(), rltf::FeedbackRule{.type = "NameError",
                                                             .category = FineCategory::global,
                                                             .fine_reward = -0.5F,
                                                             .coarse_reward = -0.8F});
  table.rules.push_back(
      rltf::FeedbackRule{.message_regex = "^list index out of range$", .category = FineCategory::ignore});
  table.fine_reward = -0.2F;
  table.coarse.syntax_error = -2.0F;
  const rltf::RltfFeedback f(table, {.alpha = rltf::Alpha::one});
  const auto name = f(s, error(Outcome::runtime_error, "NameError", "name 'z' is not defined", 2), o);
  CHECK(name.sequence == -0.8F);
  for (const float v : name.token) CHECK(v == -0.5F);
  const auto index = f(s, error(Outcome::runtime_error, "IndexError", "list index out of range", 2), o);
  CHECK(index.sequence == -0.6F);
  for (const float v : index.token) CHECK(v == 0.0F);
  const auto other_index = f(s, error(Outcome::runtime_error, "IndexError", "tuple index out of range", 2), o);
  CHECK(other_index.token[6] == -0.2F);
  CHECK(other_index.token[5] == 0.0F);
  CHECK(f(s, error(Outcome::syntax_error, "SyntaxError", "invalid syntax", 1), o).sequence == -2.0F);
}

TEST_CASE("FeedbackTable JSON: round trip, partial files, and errors naming file and field") {
  namespace fs = std::filesystem;
  const auto defaults = rltf::FeedbackTable::defaults();
  const auto again = rltf::FeedbackTable::from_json(defaults.to_json());
  CHECK(again.to_json() == defaults.to_json());
  CHECK(again.rules.size() == defaults.rules.size());

  const fs::path dir = fs::path(RLTF_BINARY_DIR) / "test-scratch" / "feedback";
  fs::create_directories(dir);
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return dir / name;
  };
  const auto t = rltf::FeedbackTable::load(
      write("partial.json", R"({"coarse": {"failure": -0.5}, "fine_reward": -0.1, "truncated_syntax_error": "line",
          "prepend_rules": [{"type": "KeyError", "category": "ignore"}]})"));
  CHECK(t.coarse.failure == -0.5F);
  CHECK(t.coarse.pass == 1.0F);
  CHECK(t.fine_reward == -0.1F);
  CHECK(t.truncated_syntax_error == FineCategory::line);
  REQUIRE(t.rules.size() == defaults.rules.size() + 1);
  CHECK(t.rules[0].type == "KeyError");
  CHECK(t.rules[0].category == FineCategory::ignore);
  const auto replaced = rltf::FeedbackTable::load(write("replace.json", R"({"rules": []})"));
  CHECK(replaced.rules.empty());

  const auto fails = [&](const std::string& text, const std::string& field, const std::string& what) {
    const auto path = write("bad.json", text);
    try {
      static_cast<void>(rltf::FeedbackTable::load(path));
      FAIL("expected parse_error for " << text);
    } catch (const rltf::parse_error& e) {
      CHECK(e.file() == path.string());
      CHECK(e.field() == field);
      CHECK(std::string(e.what()).find(what) != std::string::npos);
    }
  };
  fails(R"({"rules": [{"type": "X", "category": "everywhere"}]})", "rules[0].category", "expected \"global\"");
  fails(R"({"rules": [{"type": "X"}]})", "rules[0].category", "missing");
  fails(R"({"rules": [{"type": 3, "category": "line"}]})", "rules[0].type", "expected a string");
  fails(R"({"rules": [{"message_regex": "(", "category": "line"}]})", "rules[0].message_regex",
        "invalid regular expression");
  fails(R"({"rules": [{"categroy": "line", "category": "line"}]})", "rules[0].categroy", "unknown key");
  fails(R"({"coarse": {"success": 1}})", "coarse.success", "unknown outcome");
  fails(R"({"coarse": {"pass": "one"}})", "coarse.pass", "expected a number");
  fails(R"({"fine": -0.3})", "fine", "unknown key");
  fails(R"({"rules": [}")", "", "invalid JSON");
  CHECK_THROWS_AS(static_cast<void>(rltf::FeedbackTable::load(dir / "missing.json")), rltf::io_error);
}

namespace feedback_unit_test {
/// A user's feedback: −0.01 per completion line beyond 3.
struct LinePenalty {
  rltf::TokenRewards operator()(const rltf::Sample& s, const rltf::ExecutionResult&, const rltf::TokenOffsets&) const {
    const auto lines = static_cast<float>(std::count(s.text.begin(), s.text.end(), '\n'));
    return {lines > 3 ? -0.01F * (lines - 3) : 0.0F, {}};
  }
};
} // namespace feedback_unit_test

TEST_CASE("feedbacks compose: sum, operator+ and scaled, with users' own feedbacks") {
  using feedback_unit_test::LinePenalty;
  const auto s = byte_sample("a\nb\nc\nd\ne\n");
  const auto o = byte_offsets(s);
  const auto r = error(Outcome::runtime_error, "ValueError", "bad", 2);
  const auto one_line = rltf::sum(rltf::Coarse{}, rltf::FineGrained{}, LinePenalty{});
  const auto plus = rltf::Coarse{} + rltf::FineGrained{} + LinePenalty{};
  const auto user_first = LinePenalty{} + rltf::Coarse{};
  static_assert(std::is_same_v<decltype(plus), const rltf::Sum<rltf::Coarse, rltf::FineGrained, LinePenalty>>);
  static_assert(std::is_same_v<decltype(one_line), decltype(plus)>);
  static_assert(rltf::Feedback<decltype(user_first)>);
  const auto a = one_line(s, r, o);
  const auto b = plus(s, r, o);
  CHECK(a.sequence == doctest::Approx(-0.6F - 0.02F));
  CHECK(a.token == b.token);
  REQUIRE(a.token.size() == 10);
  CHECK(a.token[2] == -0.3F * 10.0F); // line 2 = byte 2 only ("b"), alpha = 10
  CHECK(a.token[3] == 0.0F);
  CHECK(user_first(s, r, o).sequence == doctest::Approx(-0.62F));
  const auto half = rltf::scaled(rltf::Coarse{} + LinePenalty{}, 0.5F);
  CHECK(half(s, r, o).sequence == doctest::Approx(-0.31F));
  // The paper's full setting.
  const rltf::RltfFeedback full;
  const auto f = full(s, ran(Outcome::failure, 1, 2), o);
  CHECK(f.sequence == doctest::Approx(0.35F));
  CHECK(f.token == std::vector<float>(10, 0.0F));
}

TEST_CASE("FineGrained rejects offsets that do not match the sample") {
  const auto s = byte_sample("abc\n");
  rltf::TokenOffsets short_offsets{{0, 1}};
  CHECK_THROWS_WITH_AS(static_cast<void>(rltf::FineGrained{}(s, ran(Outcome::pass, 1, 1), short_offsets)),
                       doctest::Contains("got 1 token offsets for a sample of 4 tokens"), rltf::invalid_argument);
}

TEST_CASE("line_byte_range and tokens_intersecting") {
  CHECK(rltf::line_byte_range("ab\ncd\n", 1) == rltf::ByteRange{0, 2});
  CHECK(rltf::line_byte_range("ab\ncd\n", 2) == rltf::ByteRange{3, 5});
  CHECK(rltf::line_byte_range("ab\ncd\n", 3) == rltf::ByteRange{6, 6}); // the empty last line
  CHECK(rltf::line_byte_range("ab\ncd\n", 4) == std::nullopt);
  CHECK(rltf::line_byte_range("ab\n\ncd", 2) == rltf::ByteRange{3, 4}); // an empty line: its '\n'
  CHECK(rltf::line_byte_range("ab\r\ncd", 1) == rltf::ByteRange{0, 2});
  CHECK(rltf::line_byte_range("ab\r\n\r\ncd", 2) == rltf::ByteRange{4, 6}); // an empty line: "\r\n"
  CHECK(rltf::line_byte_range("ab\r", 1) == rltf::ByteRange{0, 3});         // no line break after the '\r'

  CHECK(rltf::line_byte_range("ab", 0) == std::nullopt);
  const rltf::TokenOffsets o{{0, 2}, {2, 5}, {5, 5}, {5, 6}, {6, 9}};
  CHECK(rltf::tokens_intersecting(o, {3, 6}) == rltf::TokenSpan{1, 4});
  CHECK(rltf::tokens_intersecting(o, {0, 1}) == rltf::TokenSpan{0, 1});
  CHECK(rltf::tokens_intersecting(o, {8, 20}) == rltf::TokenSpan{4, 5});
  CHECK(rltf::tokens_intersecting(o, {4, 4}).empty());
  CHECK(rltf::tokens_intersecting(o, {9, 12}).empty());
}

TEST_CASE("the table example in docs/feedback.md loads and means what the page says") {
  std::ifstream in(std::filesystem::path(RLTF_SOURCE_DIR) / "docs" / "feedback.md");
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto begin = doc.find("```json\n");
  REQUIRE(begin != std::string::npos);
  const auto end = doc.find("```", begin + 8);
  const auto table =
      rltf::FeedbackTable::from_json(nlohmann::json::parse(doc.substr(begin + 8, end - begin - 8)), "docs/feedback.md");
  REQUIRE(table.rules.size() == rltf::FeedbackTable::defaults().rules.size() + 3);
  const auto s = byte_sample(feedback_unit_test::three_lines);
  const auto name = rltf::classify(table, s, error(Outcome::runtime_error, "NameError", "x", 2));
  CHECK(name.category == FineCategory::global);
  CHECK(name.fine_reward == -0.5F);
  CHECK(name.coarse_reward == -0.8F);
  CHECK(rltf::classify(table, s, error(Outcome::runtime_error, "KeyError", "'a'", 2)).category == FineCategory::ignore);
}
