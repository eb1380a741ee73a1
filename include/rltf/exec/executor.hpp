#pragma once
/// \file
/// The Executor concept: runs programs against unit tests.
///
/// Requirements (e: E, program: const Program&, tests: const TestSuite&, limits: const Limits&,
/// jobs: span<const Job>):
/// - `e.run(program, tests, limits)` returns an ExecutionResult;
/// - `e.run_all(jobs)` returns `std::vector<ExecutionResult>`, one per job, in submission order,
///   using every core it was given.
/// A misbehaving program is a result, never an exception: `run` throws only when the executor
/// itself cannot work (rltf::executor_error).

#include <concepts>
#include <cstddef>
#include <span>
#include <vector>

#include "rltf/core/execution_result.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/core/problem.hpp"

namespace rltf {

/// Resource limits for one program (docs/executor.md).
struct Limits {
  double test_timeout_s = 3.0;                     ///< wall clock per test
  double program_timeout_s = 10.0;                 ///< wall clock for the whole program and all its tests
  double cpu_time_s = 10.0;                        ///< CPU seconds for the child (RLIMIT_CPU)
  std::size_t memory_bytes = std::size_t{2} << 30; ///< address space (RLIMIT_AS)
  std::size_t output_bytes = std::size_t{1} << 20; ///< cap on captured stdout and stderr each
  std::size_t max_processes = 16;                  ///< processes the child may create (fork bombs)
  bool stop_at_first_failure = false;              ///< skip the remaining tests after the first that does not pass
};
RLTF_OPTIONS_JSON(Limits, test_timeout_s, program_timeout_s, cpu_time_s, memory_bytes, output_bytes, max_processes,
                  stop_at_first_failure)

/// One program with its tests, for run_all.
struct Job {
  Program program;
  TestSuite tests;
  Limits limits{};
};

template <class E>
concept Executor = requires(E& e, const Program& program, const TestSuite& tests, const Limits& limits,
                            std::span<const Job> jobs) {
  { e.run(program, tests, limits) } -> std::same_as<ExecutionResult>;
  { e.run_all(jobs) } -> std::same_as<std::vector<ExecutionResult>>;
};

/// Evaluates to true; fails with a readable message when E does not model Executor.
template <class E>
constexpr bool assert_executor() {
  static_assert(Executor<E>,
                "rltf: this type is not a Executor. An executor needs `rltf::ExecutionResult run(const rltf::Program&, "
                "const rltf::TestSuite&, const rltf::Limits&)` and `std::vector<rltf::ExecutionResult> "
                "run_all(std::span<const rltf::Job>)`; see rltf/exec/executor.hpp");
  return true;
}

namespace archetypes {
/// The minimal model of Executor.
struct executor {
  ExecutionResult run(const Program&, const TestSuite&, const Limits&);
  std::vector<ExecutionResult> run_all(std::span<const Job>);
};
} // namespace archetypes

static_assert(Executor<archetypes::executor>);

} // namespace rltf
