#pragma once
/// \file
/// Outcome of running a program against its tests, and status of one test.

#include <array>
#include <optional>
#include <string_view>

namespace rltf {

/// What happened to a whole program (docs/executor.md).
enum class Outcome {
  pass,          ///< every test passed
  failure,       ///< ran to completion, some test gave a wrong answer
  runtime_error, ///< an exception escaped the program's own frames (or the process died)
  syntax_error,  ///< the program did not compile
  timeout,       ///< a wall-clock or CPU limit was hit
};

/// What happened to one test.
enum class TestStatus {
  passed,
  failed,  ///< the test's own check (an assert, a comparison) failed
  error,   ///< the program raised while the test ran
  timeout, ///< the test hit its time limit
  not_run, ///< skipped (stop at first failure, or the program never compiled)
};

inline constexpr std::array<std::string_view, 5> outcome_names{"pass", "failure", "runtime_error", "syntax_error",
                                                               "timeout"};
inline constexpr std::array<std::string_view, 5> test_status_names{"passed", "failed", "error", "timeout", "not_run"};

[[nodiscard]] constexpr std::string_view to_string(Outcome o) noexcept {
  return outcome_names[static_cast<std::size_t>(o)];
}
[[nodiscard]] constexpr std::string_view to_string(TestStatus s) noexcept {
  return test_status_names[static_cast<std::size_t>(s)];
}

/// Parses "pass", "failure", ...; nullopt for anything else.
[[nodiscard]] constexpr std::optional<Outcome> outcome_from_string(std::string_view s) noexcept {
  for (std::size_t i = 0; i < outcome_names.size(); ++i)
    if (outcome_names[i] == s) return static_cast<Outcome>(i);
  return std::nullopt;
}
[[nodiscard]] constexpr std::optional<TestStatus> test_status_from_string(std::string_view s) noexcept {
  for (std::size_t i = 0; i < test_status_names.size(); ++i)
    if (test_status_names[i] == s) return static_cast<TestStatus>(i);
  return std::nullopt;
}

} // namespace rltf
