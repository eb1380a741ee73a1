#pragma once
/// \file
/// HumanEval and HumanEval+ loaders.
///
/// HumanEval (`task_id, prompt, canonical_solution, test, entry_point`): the program is
/// `prompt + completion`, its test is `test` followed by `check(entry_point)` (one test per task, as
/// the human-eval harness counts it). HumanEval+ (`... base_input, plus_input, atol`): one test per
/// input, comparing the candidate with the canonical solution on that input inside the sandbox.

#include <cstddef>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "rltf/core/options_json.hpp"
#include "rltf/core/problem.hpp"
#include "rltf/data/detail/json.hpp"
#include "rltf/data/detail/plus.hpp"

namespace rltf::data {

/// Options of the EvalPlus loaders (HumanEval+, MBPP+).
struct PlusOptions {
  /// Include the base inputs (the original dataset's tests).
  bool base_inputs = true;
  /// At most this many of the extra `plus_input`s per task, in file order (they number ~1000 per
  /// HumanEval+ task); the default takes them all.
  std::size_t max_plus_inputs = std::numeric_limits<std::size_t>::max();
};
RLTF_OPTIONS_JSON(PlusOptions, base_inputs, max_plus_inputs)

/// Loads HumanEval (`HumanEval.jsonl` or `.jsonl.gz`). Throws rltf::io_error when the file cannot
/// be read, rltf::parse_error (file, line, field) when it is malformed.
[[nodiscard]] inline std::vector<Problem> load_humaneval(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::vector<Problem> problems;
  detail::for_each_jsonl(detail::read_text_file(path), file, [&](const nlohmann::json& j, std::size_t line) {
    const detail::json_where w{file, line};
    Problem p;
    p.task_id = detail::require_string(j, "task_id", w);
    p.prompt = detail::require_string(j, "prompt", w);
    p.solutions.push_back(detail::require_string(j, "canonical_solution", w));
    p.entry_point = detail::require_string(j, "entry_point", w);
    if (p.entry_point.empty()) throw parse_error(file, line, "entry_point", "must not be empty");
    p.prompt_is_code = true;
    const std::string test = detail::require_string(j, "test", w);
    p.tests.tests.push_back(TestCase{TestKind::assertion, test + "\n\ncheck(" + p.entry_point + ")\n", "", ""});
    problems.push_back(std::move(p));
  });
  return problems;
}

/// Loads HumanEval+ (`HumanEvalPlus.jsonl.gz`, EvalPlus release format). Expected outputs are those
/// of `prompt + canonical_solution` on each input, computed in the sandbox next to the candidate's.
[[nodiscard]] inline std::vector<Problem> load_humaneval_plus(const std::filesystem::path& path,
                                                              const PlusOptions& options = {}) {
  const std::string file = path.string();
  std::vector<Problem> problems;
  detail::for_each_jsonl(
      detail::read_text_file(path), file, [&](const nlohmann::json& j, std::size_t line, std::string_view row) {
        problems.push_back(detail::plus_problem(detail::plus_dataset::humaneval, j, row, {file, line},
                                                options.base_inputs, options.max_plus_inputs));
      });
  return problems;
}

} // namespace rltf::data
