#pragma once
/// \file
/// The Judge concept: a larger model answering yes/no questions about generated code (RLAIF).
///
/// Requirements (j: J, instruction, code: std::string_view, questions: span<const std::string>):
/// - `j.judge(instruction, code, questions)` returns a Judgement with one answer per question.

#include <array>
#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rltf {

/// The answers of a judge, one per question, and the "yes" count that labels the sample.
struct Judgement {
  std::vector<bool> answers;
  [[nodiscard]] std::size_t yes_count() const noexcept {
    std::size_t n = 0;
    for (bool a : answers) n += a ? 1 : 0;
    return n;
  }
};

/// The eight questions of RLAIF for code (docs/training.md).
inline const std::array<std::string, 8>& default_judge_questions() {
  static const std::array<std::string, 8> questions{
      "Are the imports in the code correct?",
      "Is the code free of syntax errors?",
      "Is the code complete for the task?",
      "Is the code free of undefined variables?",
      "Is the code free of bugs?",
      "Is the code logically correct for the task?",
      "Does the API called in the code exist and fit the task?",
      "Are the arguments passed to the API correct?",
  };
  return questions;
}

template <class J>
concept Judge = requires(J& j, std::string_view instruction, std::string_view code,
                         std::span<const std::string> questions) {
  { j.judge(instruction, code, questions) } -> std::same_as<Judgement>;
};

/// Evaluates to true; fails with a readable message when J does not model Judge.
template <class J>
constexpr bool assert_judge() {
  static_assert(Judge<J>,
                "rltf: this type is not a Judge. A judge needs `rltf::Judgement judge(std::string_view instruction, "
                "std::string_view code, std::span<const std::string> questions)`; see rltf/feedback/judge.hpp");
  return true;
}

namespace archetypes {
/// The minimal model of Judge.
struct judge_model {
  Judgement judge(std::string_view, std::string_view, std::span<const std::string>);
};
} // namespace archetypes

static_assert(Judge<archetypes::judge_model>);

} // namespace rltf
