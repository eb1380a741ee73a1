#pragma once
/// \file
/// Problems and their unit tests.

#include <optional>
#include <string>
#include <vector>

namespace rltf {

/// How a test checks a program (docs/executor.md).
enum class TestKind {
  assertion, ///< Python statements run after the program (HumanEval `check(f)`, an MBPP `assert`)
  call,      ///< call `fn_name` with JSON `input` (a list of arguments); compare with JSON `expected`
  stdio,     ///< feed `input` on stdin; compare stdout with `expected` (APPS's tolerant rules)
};

/// One unit test. Each is run and counted on its own, so the pass ratio is exact.
struct TestCase {
  TestKind kind = TestKind::assertion;
  std::string code;     ///< TestKind::assertion: the statements to run
  std::string input;    ///< call: JSON array of arguments; stdio: the text fed on stdin
  std::string expected; ///< call: JSON value; stdio: the expected stdout
};

/// The tests of one problem.
struct TestSuite {
  std::string setup_code;      ///< run after the program, before the tests (MBPP `test_setup_code`)
  std::string fn_name;         ///< TestKind::call: the function (or `Solution().method`) to call
  std::vector<TestCase> tests; ///< each counted separately
};

/// One programming problem.
struct Problem {
  std::string task_id;                ///< "HumanEval/0", "mbpp/11", an APPS folder name
  std::string prompt;                 ///< what the policy is conditioned on
  std::vector<std::string> solutions; ///< reference solutions (completions of `prompt`), may be empty
  std::string entry_point;            ///< function name, when the problem has one
  bool prompt_is_code = false;        ///< the program is `prompt + completion` (HumanEval) rather than `completion`
  TestSuite tests;
};

/// The text that is executed: the completion, preceded by the prompt when the prompt is code.
/// `completion_begin` is the byte offset of the completion inside `source`, so that errors can be
/// mapped back to the completion's own lines and tokens.
struct Program {
  std::string source;
  std::size_t completion_begin = 0;
};

/// Builds the program for a completion of `problem`.
[[nodiscard]] inline Program make_program(const Problem& problem, const std::string& completion) {
  if (!problem.prompt_is_code) return Program{completion, 0};
  return Program{problem.prompt + completion, problem.prompt.size()};
}

} // namespace rltf
