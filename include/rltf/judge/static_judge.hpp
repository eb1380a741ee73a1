#pragma once
/// \file
/// rltf::StaticJudge — answers the eight RLAIF questions (rltf::default_judge_questions) by program
/// analysis, deterministically, through rltf::GorillaChecker (the executor's sandbox and the Gorilla
/// API database). A stand-in for an LLM judge, not one: it checks what a program analysis can check
/// and knows nothing of the instruction (docs/rlaif.md, "StaticJudge").
///
/// | question | yes when |
/// |---|---|
/// | imports correct | it compiles and every import resolves: a module (and name) of the stub library, or a module on
/// this machine | | free of syntax errors | compile() accepts it | | complete | it compiles; has a statement beyond
/// imports; no `...`, empty def/class bodies, `raise NotImplementedError`, TODO/FIXME/XXX comments | | no undefined
/// variables | it compiles and pyflakes reports no undefined name | | free of bugs | it runs to completion against the
/// stub library (GorillaChecker::executable) | | logically correct | it runs to completion and the AST criterion
/// matches a database API | | API exists and fits | it compiles, calls a function that a database api_call calls, and
/// fetches no model id outside the database | | API arguments correct | the AST criterion matches (callee and every
/// argument of a database api_call) |
///
/// Other questions (custom `--questions`) are an rltf::judge_error naming the question, unless
/// `by_index` is set and there are exactly eight: then question i is answered as the i-th above.

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rltf/core/options_json.hpp"
#include "rltf/feedback/judge.hpp"
#include "rltf/judge/error.hpp"
#include "rltf/judge/gorilla_check.hpp"

namespace rltf {

struct StaticJudgeOptions {
  /// Answer eight questions that are not the default ones by their position.
  bool by_index = false;
};
RLTF_OPTIONS_JSON(StaticJudgeOptions, by_index)

/// The eight answers with what decided them.
struct StaticVerdict {
  std::array<bool, 8> answers{};
  GorillaAnalysis analysis;
  GorillaMatch match;
  ExecutionResult execution;
};

class StaticJudge {
public:
  explicit StaticJudge(const GorillaChecker& checker, StaticJudgeOptions options = {})
      : checker_(checker), options_(options) {}

  /// All eight answers for one program (two sandboxed jobs: the analysis and the run).
  [[nodiscard]] StaticVerdict verdict(std::string_view code) const {
    const std::string c(code);
    return std::move(verdicts(std::span<const std::string>(&c, 1)).front());
  }

  /// The verdicts of many programs, in their order: two parallel batches of sandboxed jobs (every
  /// analysis, then every run against the stub library).
  [[nodiscard]] std::vector<StaticVerdict> verdicts(std::span<const std::string> codes) const {
    auto analyses = checker_.analyse(codes);
    auto runs = checker_.execute(codes);
    std::vector<StaticVerdict> out(codes.size());
    for (std::size_t i = 0; i < codes.size(); ++i) {
      StaticVerdict& v = out[i];
      v.analysis = std::move(analyses[i]);
      v.match = checker_.match(v.analysis);
      v.execution = std::move(runs[i]);
      const auto& a = v.analysis;
      const bool ok = a.compiles();
      const bool runs_through = GorillaChecker::executable(v.execution);
      v.answers = {ok && a.import_problems.empty(),
                   ok,
                   ok && a.incomplete.empty(),
                   ok && a.undefined.empty(),
                   runs_through,
                   runs_through && v.match.match,
                   ok && v.match.known_function && v.match.unknown_ids.empty(),
                   v.match.match};
    }
    return out;
  }

  /// rltf::Judge: one answer per question (see the file comment); the instruction is not used.
  [[nodiscard]] Judgement judge(std::string_view /*instruction*/, std::string_view code,
                                std::span<const std::string> questions) const {
    std::vector<std::size_t> which;
    const auto& known = default_judge_questions();
    for (std::size_t q = 0; q < questions.size(); ++q) {
      std::size_t k = known.size();
      for (std::size_t i = 0; i < known.size(); ++i)
        if (questions[q] == known[i]) k = i;
      if (k == known.size()) {
        if (!(options_.by_index && questions.size() == known.size()))
          throw judge_error("the static judge cannot answer \"" + questions[q] +
                            "\": it answers only rltf::default_judge_questions() (or, with by_index, eight questions "
                            "by position)");
        k = q;
      }
      which.push_back(k);
    }
    const auto v = verdict(code);
    Judgement j;
    for (const auto k : which) j.answers.push_back(v.answers[k]);
    return j;
  }

private:
  const GorillaChecker& checker_;
  StaticJudgeOptions options_;
};

static_assert(Judge<StaticJudge>);

} // namespace rltf
