#pragma once
/// \file
/// The RLTF category table (docs/feedback.md) as data: which error gets which fine-grained category
/// (U_global, U_line, U_ignore) and reward, and the coarse reward of each outcome. Users change
/// it at run time — edit a FeedbackTable, or load one from JSON — without recompiling.
///
///     rltf::FeedbackTable table = rltf::FeedbackTable::defaults();       // docs/feedback.md, Python 3.11
///     table.rules.insert(table.rules.begin(), {.type = "KeyError", .category = rltf::FineCategory::ignore});
///     auto loaded = rltf::FeedbackTable::load("my_table.json");          // same format as to_json()
///
/// classify(table, sample, result) applies it to one execution and says what a feedback will do.

#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/core/execution_result.hpp"
#include "rltf/core/outcome.hpp"
#include "rltf/core/sample.hpp"

namespace rltf {

/// Where the fine-grained penalty R_fine goes (RLTF's U_global / U_line / U_ignore).
enum class FineCategory {
  global, ///< every completion token (the error cannot be pinned to a line: truncation, timeout, ...)
  line,   ///< the tokens of the offending line
  ignore, ///< no fine-grained penalty
};

/// "global", "line", "ignore".
[[nodiscard]] constexpr std::string_view to_string(FineCategory c) noexcept {
  switch (c) {
  case FineCategory::global:
    return "global";
  case FineCategory::line:
    return "line";
  case FineCategory::ignore:
    return "ignore";
  }
  return "ignore";
}

/// Parses "global", "line", "ignore"; nullopt otherwise.
[[nodiscard]] constexpr std::optional<FineCategory> fine_category_from_string(std::string_view s) noexcept {
  if (s == "global") return FineCategory::global;
  if (s == "line") return FineCategory::line;
  if (s == "ignore") return FineCategory::ignore;
  return std::nullopt;
}

/// One row of the table: an error pattern and what it means. A rule matches an error when every
/// pattern it sets matches (empty patterns match anything).
struct FeedbackRule {
  std::string type{};                         ///< exception class, exactly ("SyntaxError"); empty: any class
  std::string message{};                      ///< substring the message must contain; empty: any message
  std::string message_regex{};                ///< ECMAScript regex searched in the message; empty: any message
  FineCategory category = FineCategory::line; ///< the category this error gets
  std::optional<float> fine_reward{};         ///< R_fine for this error; nullopt: the table's
  std::optional<float> coarse_reward{};       ///< R for this error's outcome; nullopt: the table's
};

/// Coarse rewards of each outcome (CodeRL's values by default).
struct CoarseRewards {
  float pass = 1.0F;
  float failure = -0.3F;
  float runtime_error = -0.6F;
  float syntax_error = -1.0F;
  float timeout = -0.6F; ///< a timeout is a runtime error in RLTF

  [[nodiscard]] constexpr float of(Outcome o) const noexcept {
    switch (o) {
    case Outcome::pass:
      return pass;
    case Outcome::failure:
      return failure;
    case Outcome::runtime_error:
      return runtime_error;
    case Outcome::syntax_error:
      return syntax_error;
    case Outcome::timeout:
      return timeout;
    }
    return runtime_error;
  }
};

/// The whole table. Rules are tried in order; the first that matches decides. Errors no rule
/// matches get `syntax_default` (outcome syntax_error) or `runtime_default` (runtime_error).
struct FeedbackTable {
  CoarseRewards coarse;
  float fine_reward = -0.3F; ///< R_fine
  /// A syntax error of a truncated sample (Sample::truncated) or at the end of the program
  /// (ErrorInfo::at_end_of_program, or on the completion's last line): the generation was cut off.
  /// Applies unless a rule says `ignore`.
  FineCategory truncated_syntax_error = FineCategory::global;
  FineCategory timeout = FineCategory::global; ///< outcome timeout
  FineCategory killed = FineCategory::ignore;  ///< a child killed by a signal, with no traceback line
  FineCategory syntax_default = FineCategory::line;
  FineCategory runtime_default = FineCategory::line;
  std::vector<FeedbackRule> rules{};

  /// docs/feedback.md, with the messages of Python 3.11 (and their older spellings, for other interpreters).
  [[nodiscard]] static FeedbackTable defaults() {
    FeedbackTable t;
    const auto ignore = FineCategory::ignore;
    const auto global = FineCategory::global;
    t.rules = {
        // U_ignore: the reported line need not be the faulty one.
        {.type = "TabError", .category = ignore},
        {.type = "IndentationError",
         .message = "unindent does not match any outer indentation level",
         .category = ignore},
        {.type = "SyntaxError", .message = "unterminated triple-quoted string literal", .category = ignore},
        {.type = "SyntaxError", .message = "EOF while scanning triple-quoted string literal", .category = ignore},
        {.type = "SyntaxError", .message = "duplicate argument", .category = ignore},
        {.type = "SyntaxError", .message = "import * only allowed at module level", .category = ignore},
        {.type = "RuntimeError", .category = ignore},
        // U_global: the whole program is at fault.
        {.type = "SyntaxError", .message = "unexpected EOF while parsing", .category = global},
        {.type = "RecursionError", .category = global},
        {.type = "MemoryError", .category = global},
        {.type = "TimeoutError", .category = global},
    };
    return t;
  }

  /// The table as JSON (the format load() reads).
  [[nodiscard]] nlohmann::json to_json() const {
    nlohmann::json j;
    j["coarse"] = {{"pass", coarse.pass},
                   {"failure", coarse.failure},
                   {"runtime_error", coarse.runtime_error},
                   {"syntax_error", coarse.syntax_error},
                   {"timeout", coarse.timeout}};
    j["fine_reward"] = fine_reward;
    j["truncated_syntax_error"] = std::string(to_string(truncated_syntax_error));
    j["timeout"] = std::string(to_string(timeout));
    j["killed"] = std::string(to_string(killed));
    j["syntax_default"] = std::string(to_string(syntax_default));
    j["runtime_default"] = std::string(to_string(runtime_default));
    j["rules"] = nlohmann::json::array();
    for (const auto& r : rules) {
      nlohmann::json row;
      if (!r.type.empty()) row["type"] = r.type;
      if (!r.message.empty()) row["message"] = r.message;
      if (!r.message_regex.empty()) row["message_regex"] = r.message_regex;
      row["category"] = std::string(to_string(r.category));
      if (r.fine_reward) row["fine_reward"] = *r.fine_reward;
      if (r.coarse_reward) row["coarse_reward"] = *r.coarse_reward;
      j["rules"].push_back(std::move(row));
    }
    return j;
  }

  /// Reads a table from JSON. Every key is optional and starts from defaults(): "coarse" (any of
  /// pass, failure, runtime_error, syntax_error, timeout), "fine_reward", "truncated_syntax_error",
  /// "timeout", "killed", "syntax_default", "runtime_default" (each "global" | "line" | "ignore"),
  /// "rules" (replaces the default rules) and "prepend_rules" (tried before the rules). A rule is
  /// {"type", "message", "message_regex", "category", "fine_reward", "coarse_reward"}, category
  /// required. Unknown keys, wrong types and bad regexes throw rltf::parse_error naming `file` and
  /// the field (e.g. "rules[2].category").
  [[nodiscard]] static FeedbackTable from_json(const nlohmann::json& j, const std::string& file = "<json>") {
    if (!j.is_object()) throw parse_error(file, 0, "", "a feedback table must be a JSON object");
    FeedbackTable t = defaults();
    const auto number = [&](const nlohmann::json& v, const std::string& field) {
      if (!v.is_number()) throw parse_error(file, 0, field, "expected a number, got " + v.dump());
      return v.get<float>();
    };
    const auto category = [&](const nlohmann::json& v, const std::string& field) {
      const auto c = v.is_string() ? fine_category_from_string(v.get<std::string>()) : std::nullopt;
      if (!c) throw parse_error(file, 0, field, "expected \"global\", \"line\" or \"ignore\", got " + v.dump());
      return *c;
    };
    const auto read_rules = [&](const nlohmann::json& v, const std::string& field) {
      if (!v.is_array()) throw parse_error(file, 0, field, "expected an array of rules");
      std::vector<FeedbackRule> out;
      for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string at = field + "[" + std::to_string(i) + "]";
        const auto& row = v[i];
        if (!row.is_object()) throw parse_error(file, 0, at, "expected a rule object, got " + row.dump());
        if (!row.contains("category")) throw parse_error(file, 0, at + ".category", "missing");
        FeedbackRule r;
        for (const auto& [key, value] : row.items()) {
          const std::string f = at + "." + key;
          const auto text = [&] {
            if (!value.is_string()) throw parse_error(file, 0, f, "expected a string, got " + value.dump());
            return value.get<std::string>();
          };
          if (key == "type")
            r.type = text();
          else if (key == "message")
            r.message = text();
          else if (key == "message_regex") {
            r.message_regex = text();
            try {
              std::regex compiled(r.message_regex);
            } catch (const std::regex_error& e) {
              throw parse_error(file, 0, f, "invalid regular expression '" + r.message_regex + "': " + e.what());
            }
          } else if (key == "category")
            r.category = category(value, f);
          else if (key == "fine_reward")
            r.fine_reward = number(value, f);
          else if (key == "coarse_reward")
            r.coarse_reward = number(value, f);
          else
            throw parse_error(file, 0, f,
                              "unknown key (a rule has type, message, message_regex, category, fine_reward, "
                              "coarse_reward)");
        }
        out.push_back(std::move(r));
      }
      return out;
    };
    std::vector<FeedbackRule> prepend;
    for (const auto& [key, value] : j.items()) {
      if (key == "coarse") {
        if (!value.is_object()) throw parse_error(file, 0, "coarse", "expected an object");
        for (const auto& [k, v] : value.items()) {
          const std::string f = "coarse." + k;
          const auto o = outcome_from_string(k);
          if (!o)
            throw parse_error(file, 0, f, "unknown outcome (pass, failure, runtime_error, syntax_error, timeout)");
          float& slot = *o == Outcome::pass            ? t.coarse.pass
                        : *o == Outcome::failure       ? t.coarse.failure
                        : *o == Outcome::runtime_error ? t.coarse.runtime_error
                        : *o == Outcome::syntax_error  ? t.coarse.syntax_error
                                                       : t.coarse.timeout;
          slot = number(v, f);
        }
      } else if (key == "fine_reward")
        t.fine_reward = number(value, key);
      else if (key == "truncated_syntax_error")
        t.truncated_syntax_error = category(value, key);
      else if (key == "timeout")
        t.timeout = category(value, key);
      else if (key == "killed")
        t.killed = category(value, key);
      else if (key == "syntax_default")
        t.syntax_default = category(value, key);
      else if (key == "runtime_default")
        t.runtime_default = category(value, key);
      else if (key == "rules")
        t.rules = read_rules(value, key);
      else if (key == "prepend_rules")
        prepend = read_rules(value, key);
      else
        throw parse_error(file, 0, key,
                          "unknown key (a table has coarse, fine_reward, truncated_syntax_error, timeout, killed, "
                          "syntax_default, runtime_default, rules, prepend_rules)");
    }
    t.rules.insert(t.rules.begin(), prepend.begin(), prepend.end());
    return t;
  }

  /// Loads a table from a JSON file (see from_json). io_error when unreadable, parse_error when malformed.
  [[nodiscard]] static FeedbackTable load(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) throw io_error("cannot open feedback table '" + path.string() + "'");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::parse_error& e) {
      throw parse_error(path.string(), 0, "", std::string("invalid JSON: ") + e.what());
    }
    return from_json(j, path.string());
  }
};

/// What the table decides for one execution: the coarse reward R, the fine-grained category,
/// R_fine, the line of the completion it points at (for FineCategory::line), and why.
struct Classification {
  Outcome outcome = Outcome::pass;
  float coarse_reward = 0.0F; ///< R (coarse)
  FineCategory category = FineCategory::ignore;
  float fine_reward = 0.0F;                   ///< R_fine (0 when category is ignore)
  std::optional<std::size_t> completion_line; ///< 1-based line in the completion (category line)
  std::string reason; ///< e.g. "rule 3 (SyntaxError ~ 'duplicate argument')", "timeout", "no error"
};

namespace feedback::detail {

/// The number of the completion's last line that has a non-whitespace character (0 when none).
[[nodiscard]] inline std::size_t last_code_line(std::string_view text) noexcept {
  std::size_t line = 1;
  std::size_t last = 0;
  for (const char c : text) {
    if (c == '\n')
      ++line;
    else if (c != ' ' && c != '\t' && c != '\r' && c != '\f' && c != '\v')
      last = line;
  }
  return last;
}

[[nodiscard]] inline bool rule_matches(const FeedbackRule& r, const ErrorInfo& e) {
  if (!r.type.empty() && r.type != e.type) return false;
  if (!r.message.empty() && e.message.find(r.message) == std::string::npos) return false;
  if (r.message_regex.empty()) return true;
  thread_local std::unordered_map<std::string, std::regex> compiled; // tables are small: one entry per pattern
  auto it = compiled.find(r.message_regex);
  if (it == compiled.end()) {
    try {
      it = compiled.emplace(r.message_regex, std::regex(r.message_regex)).first;
    } catch (const std::regex_error& err) {
      throw invalid_argument("feedback table: invalid message_regex '" + r.message_regex + "': " + err.what());
    }
  }
  return std::regex_search(e.message, it->second);
}

[[nodiscard]] inline std::string describe(const FeedbackRule& r, std::size_t index) {
  std::string out = "rule " + std::to_string(index) + " (" + (r.type.empty() ? std::string("any") : r.type);
  if (!r.message.empty()) out += " ~ '" + r.message + "'";
  if (!r.message_regex.empty()) out += " ~ /" + r.message_regex + "/";
  return out + ")";
}

} // namespace feedback::detail

/// Applies `table` to one execution of `sample` (docs/feedback.md). Precedence: pass and failure get no
/// fine penalty; a timeout gets `table.timeout`; a rule that says `ignore`; then truncation — a
/// syntax error in a truncated sample or on the completion's last code line gets
/// `truncated_syntax_error`; then the first matching rule; then a child killed by a signal with no
/// line gets `killed`; then `syntax_default` / `runtime_default`. A `line` category whose error
/// has no line in the completion (it lies in the prompt, or in the tests) becomes `ignore`.
[[nodiscard]] inline Classification classify(const FeedbackTable& table, const Sample& sample,
                                             const ExecutionResult& result) {
  Classification c;
  c.outcome = result.outcome;
  c.coarse_reward = table.coarse.of(result.outcome);
  // `fine` is the rule's own R_fine; NaN means the table's default. (A plain float rather than an
  // optional: GCC 12 reports a false maybe-uninitialized on optional<float> here at -O2.)
  const auto finish = [&](FineCategory cat, std::string reason, float fine = std::numeric_limits<float>::quiet_NaN()) {
    c.category = cat;
    c.reason = std::move(reason);
    c.fine_reward = cat == FineCategory::ignore ? 0.0F : (std::isnan(fine) ? table.fine_reward : fine);
    if (cat != FineCategory::line) c.completion_line.reset();
    return c;
  };
  if (result.outcome == Outcome::pass || result.outcome == Outcome::failure)
    return finish(FineCategory::ignore, "no error");
  if (result.outcome == Outcome::timeout) return finish(table.timeout, "timeout");
  if (!result.error) return finish(table.killed, "no error details (the process died)");
  const ErrorInfo& e = *result.error;
  c.completion_line = e.completion_line;
  const bool syntax = result.outcome == Outcome::syntax_error;

  const FeedbackRule* rule = nullptr;
  std::size_t index = 0;
  for (; index < table.rules.size(); ++index)
    if (feedback::detail::rule_matches(table.rules[index], e)) {
      rule = &table.rules[index];
      break;
    }
  if (rule != nullptr && rule->coarse_reward) c.coarse_reward = *rule->coarse_reward;
  const float fine =
      rule != nullptr && rule->fine_reward ? *rule->fine_reward : std::numeric_limits<float>::quiet_NaN();
  const std::string why = rule != nullptr ? feedback::detail::describe(*rule, index) : std::string();

  if (rule != nullptr && rule->category == FineCategory::ignore) return finish(FineCategory::ignore, why);
  FineCategory cat = syntax ? table.syntax_default : table.runtime_default;
  std::string reason = syntax ? std::string("syntax error") : "runtime error " + e.type;
  if (rule != nullptr) {
    cat = rule->category;
    reason = why;
  } else if (!syntax && e.signal != 0 && !e.line) {
    return finish(table.killed, "killed by signal " + std::to_string(e.signal));
  }
  if (syntax) {
    const bool at_end = e.at_end_of_program ||
                        (e.completion_line && *e.completion_line >= feedback::detail::last_code_line(sample.text));
    if (sample.truncated || at_end) {
      cat = table.truncated_syntax_error;
      reason = std::string(sample.truncated ? "syntax error in a truncated sample"
                                            : "syntax error at the end of the program") +
               (rule != nullptr ? "; " + why : std::string());
    }
  }
  if (cat == FineCategory::line && !e.completion_line)
    return finish(FineCategory::ignore, reason + "; its line is not in the completion");
  return finish(cat, reason, fine);
}

namespace feedback::detail {

/// FeedbackTable::defaults(), built once and shared by every feedback constructed without a table.
[[nodiscard]] inline const std::shared_ptr<const FeedbackTable>& default_table() {
  static const std::shared_ptr<const FeedbackTable> table =
      std::make_shared<const FeedbackTable>(FeedbackTable::defaults());
  return table;
}

/// Checks that a feedback got one offset per completion token.
inline void require_offsets(const char* who, const Sample& sample, const TokenOffsets& offsets) {
  if (offsets.size() != sample.tokens.size())
    throw invalid_argument(std::string(who) + ": got " + std::to_string(offsets.size()) +
                           " token offsets for a sample of " + std::to_string(sample.tokens.size()) +
                           " tokens; pass tokenizer.offsets(sample.tokens)");
}

} // namespace feedback::detail

} // namespace rltf
