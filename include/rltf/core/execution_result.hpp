#pragma once
/// \file
/// What the executor reports about one program.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rltf/core/outcome.hpp"

namespace rltf {

/// The error that decided a program's outcome.
struct ErrorInfo {
  std::string type;    ///< exception class: "NameError", "SyntaxError", "TimeoutError", "Killed"
  std::string message; ///< exception message, as Python prints it
  /// 1-based line in the program's own coordinates (innermost frame in the program's file; for a
  /// syntax error the reported line); nullopt when the error has no line in the program.
  std::optional<std::size_t> line;
  /// The same line counted from the start of the completion (1-based); nullopt when the line lies
  /// in the prompt or there is none.
  std::optional<std::size_t> completion_line;
  /// True when the syntax error was reported at the end of the program (truncation: an unclosed
  /// bracket, unexpected EOF, an unterminated string at the end).
  bool at_end_of_program = false;
  int signal = 0; ///< the signal that killed the child, when one did
};

/// One test's result.
struct TestResult {
  TestStatus status = TestStatus::not_run;
  std::string detail; ///< e.g. the exception class of an error, or "expected X, got Y"
};

/// Everything the executor knows about one run.
struct ExecutionResult {
  Outcome outcome = Outcome::runtime_error;
  std::vector<TestResult> tests;
  std::size_t passed = 0; ///< number of tests passed
  std::size_t total = 0;  ///< number of tests in the suite
  std::optional<ErrorInfo> error;
  std::string stdout_text; ///< captured, capped at Limits::output_bytes
  std::string stderr_text; ///< captured, capped at Limits::output_bytes
  bool output_truncated = false;
  double wall_seconds = 0.0;
  std::int64_t peak_memory_kb = 0;
  bool network_isolated = false; ///< the child ran in a new network namespace
  /// The child saw the host's file systems read-only, with only its private working directory
  /// writable (a mount namespace of the worker's).
  bool filesystem_isolated = false;
  bool pid_isolated = false;     ///< the child ran in a private PID namespace (it sees only its own processes)
  bool seccomp_filtered = false; ///< a seccomp filter refused the calls a test program never needs
  bool cgroup_limited = false;   ///< a cgroup v2 of the worker's capped the child's memory and processes

  [[nodiscard]] double pass_ratio() const noexcept {
    return total == 0 ? 0.0 : static_cast<double>(passed) / static_cast<double>(total);
  }
};

} // namespace rltf
