#pragma once
/// \file
/// MBPP and MBPP+ loaders.
///
/// MBPP (`task_id, text, code, test_list, test_setup_code, challenge_test_list`): the program is the
/// completion; the executor runs it, then `test_setup_code`, then each assert of `test_list` as its
/// own test (tasks 367 and 927 depend on that order). MBPP+ (EvalPlus `Mbpp/N` tasks: `prompt,
/// canonical_solution, entry_point, base_input, plus_input, atol`): one test per input, comparing
/// the candidate with the canonical solution, with EvalPlus's input types and special oracles.

#include <cctype>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "rltf/core/options_json.hpp"
#include "rltf/core/problem.hpp"
#include "rltf/data/detail/json.hpp"
#include "rltf/data/detail/plus.hpp"
#include "rltf/data/humaneval.hpp"

namespace rltf::data {

/// Options of the MBPP loader.
struct MbppOptions {
  /// Put the test asserts in the prompt, as the MBPP paper's prompt does
  /// ("You are an expert Python programmer, and here is your task: {text} Your code should pass
  /// these tests:\n\n{tests}\n"). When false the prompt is the task text alone.
  bool tests_in_prompt = true;
  /// Also run `challenge_test_list` (usually empty).
  bool challenge_tests = false;
};
RLTF_OPTIONS_JSON(MbppOptions, tests_in_prompt, challenge_tests)

namespace detail {
/// The function the tests call: the first `def NAME(` of the reference code whose NAME( appears in
/// the first test; empty when none does.
[[nodiscard]] inline std::string entry_point_of(const std::string& code, const std::string& first_test) {
  std::size_t pos = 0;
  while ((pos = code.find("def ", pos)) != std::string::npos) {
    const bool at_line_start = pos == 0 || code[pos - 1] == '\n' || code[pos - 1] == ' ' || code[pos - 1] == '\t';
    pos += 4;
    if (!at_line_start) continue;
    std::size_t end = pos;
    while (end < code.size() && (std::isalnum(static_cast<unsigned char>(code[end])) || code[end] == '_')) ++end;
    const std::string name = code.substr(pos, end - pos);
    if (!name.empty() && first_test.find(name + "(") != std::string::npos) return name;
  }
  return {};
}
} // namespace detail

/// Loads MBPP (`mbpp.jsonl`, plain or gzipped). Task ids become "mbpp/<task_id>".
[[nodiscard]] inline std::vector<Problem> load_mbpp(const std::filesystem::path& path,
                                                    const MbppOptions& options = {}) {
  const std::string file = path.string();
  std::vector<Problem> problems;
  detail::for_each_jsonl(detail::read_text_file(path), file, [&](const nlohmann::json& j, std::size_t line) {
    const detail::json_where w{file, line};
    Problem p;
    p.task_id = "mbpp/" + detail::require_id(j, "task_id", w);
    const std::string text = detail::require_string(j, "text", w);
    const std::string code = detail::require_string(j, "code", w);
    const auto tests = detail::require_strings(j, "test_list", w);
    if (tests.empty()) throw parse_error(file, line, "test_list", "must not be empty");
    std::vector<std::string> challenge;
    if (options.challenge_tests && j.contains("challenge_test_list") && !j["challenge_test_list"].is_null())
      challenge = detail::require_strings(j, "challenge_test_list", w);
    p.tests.setup_code = detail::optional_string(j, "test_setup_code", w);
    p.solutions.push_back(code);
    p.entry_point = detail::entry_point_of(code, tests.front());
    p.prompt_is_code = false;
    if (options.tests_in_prompt) {
      p.prompt = "You are an expert Python programmer, and here is your task: " + text +
                 " Your code should pass these tests:\n\n";
      for (const auto& t : tests) p.prompt += t + "\n";
    } else {
      p.prompt = text;
    }
    for (const auto& t : tests) p.tests.tests.push_back(TestCase{TestKind::assertion, t, "", ""});
    for (const auto& t : challenge) p.tests.tests.push_back(TestCase{TestKind::assertion, t, "", ""});
    problems.push_back(std::move(p));
  });
  return problems;
}

/// Loads MBPP+ (`MbppPlus.jsonl.gz`, EvalPlus release format; task ids "Mbpp/N").
[[nodiscard]] inline std::vector<Problem> load_mbpp_plus(const std::filesystem::path& path,
                                                         const PlusOptions& options = {}) {
  const std::string file = path.string();
  std::vector<Problem> problems;
  detail::for_each_jsonl(detail::read_text_file(path), file,
                         [&](const nlohmann::json& j, std::size_t line, std::string_view row) {
                           problems.push_back(detail::plus_problem(detail::plus_dataset::mbpp, j, row, {file, line},
                                                                   options.base_inputs, options.max_plus_inputs));
                         });
  return problems;
}

} // namespace rltf::data
