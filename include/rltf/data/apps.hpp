#pragma once
/// \file
/// APPS problem folders: `question.txt`, `input_output.json` (`inputs`, `outputs`, optional
/// `fn_name`), `solutions.json`, `metadata.json`, optional `starter_code.py`.
///
/// With `fn_name` the tests are call-based (TestKind::call: the inputs are the argument list, the
/// output the return value; a LeetCode-style `class Solution` is handled by the executor); without
/// it they are stdin/stdout (TestKind::stdio, compared with APPS's tolerant rules). The prompt is
/// APPS's own: "\nQUESTION:\n{question}{starter_code}\nUse Call-Based format\n\nANSWER:\n" (or "Use
/// Standard Input format"); completions are whole programs.

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/core/problem.hpp"
#include "rltf/data/detail/json.hpp"

namespace rltf::data {

/// Options of the APPS loader.
struct AppsOptions {
  /// Skip folders without `input_output.json` (some APPS training problems have none) instead of
  /// failing; such a problem could not be evaluated.
  bool skip_without_tests = true;
  /// Use at most this many reference solutions per problem (0: none, for a smaller memory footprint).
  std::size_t max_solutions = 1000;
};
RLTF_OPTIONS_JSON(AppsOptions, skip_without_tests, max_solutions)

namespace detail {

/// An APPS input or output value for stdin/stdout: a string, or a list of lines joined by '\n'.
[[nodiscard]] inline std::string io_text(const nlohmann::json& v, const std::string& file, const std::string& field) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_string())
        throw parse_error(file, 0, field,
                          "expected a string or a list of strings, got a list holding " + detail::json_type(v[i]));
      if (i != 0) out += '\n';
      out += v[i].get<std::string>();
    }
    return out;
  }
  throw parse_error(file, 0, field, "expected a string or a list of strings, got " + detail::json_type(v));
}

[[nodiscard]] inline std::string read_optional(const std::filesystem::path& p) {
  std::error_code ec;
  if (!std::filesystem::exists(p, ec)) return {};
  return rltf::detail::read_file(p, detail::max_dataset_file_bytes);
}

/// Loads one problem folder; false when it has no tests and they may be skipped.
inline bool load_folder(const std::filesystem::path& dir, const AppsOptions& options, Problem& p) {
  const auto question_path = dir / "question.txt";
  const std::string question = rltf::detail::read_file(question_path, detail::max_dataset_file_bytes);
  const auto io_path = dir / "input_output.json";
  std::error_code ec;
  if (!std::filesystem::exists(io_path, ec)) {
    if (options.skip_without_tests) return false;
    throw parse_error(io_path.string(), 0, "", "missing: the problem has no tests");
  }
  const std::string io_file = io_path.string();
  const auto io = detail::parse_json(rltf::detail::read_file(io_path, detail::max_dataset_file_bytes), io_file);
  if (!io.is_object()) throw parse_error(io_file, 0, "", "expected a JSON object, got " + detail::json_type(io));
  const detail::json_where w{io_file, 0};
  const auto& inputs = detail::require_array(io, "inputs", w);
  const auto& outputs = detail::require_array(io, "outputs", w);
  if (inputs.size() != outputs.size())
    throw parse_error(io_file, 0, "outputs",
                      std::to_string(outputs.size()) + " outputs for " + std::to_string(inputs.size()) + " inputs");
  const std::string fn_name = detail::optional_string(io, "fn_name", w);
  const std::string starter = read_optional(dir / "starter_code.py");

  p = Problem{};
  p.task_id = dir.filename().string();
  p.prompt_is_code = false;
  p.entry_point = fn_name;
  p.prompt = "\nQUESTION:\n" + question + starter +
             (fn_name.empty() ? "\nUse Standard Input format\n" : "\nUse Call-Based format\n") + "\nANSWER:\n";
  p.tests.fn_name = fn_name;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string in_field = "inputs[" + std::to_string(i) + "]";
    const std::string out_field = "outputs[" + std::to_string(i) + "]";
    if (fn_name.empty()) {
      p.tests.tests.push_back(TestCase{TestKind::stdio, "", io_text(inputs[i], io_file, in_field),
                                       io_text(outputs[i], io_file, out_field)});
    } else {
      if (!inputs[i].is_array())
        throw parse_error(io_file, 0, in_field,
                          "a call-based input must be the argument list, got " + detail::json_type(inputs[i]));
      p.tests.tests.push_back(TestCase{TestKind::call, "", inputs[i].dump(), outputs[i].dump()});
    }
  }

  const auto solutions_path = dir / "solutions.json";
  if (std::filesystem::exists(solutions_path, ec) && options.max_solutions > 0) {
    const std::string file = solutions_path.string();
    const auto sols = detail::parse_json(rltf::detail::read_file(solutions_path, detail::max_dataset_file_bytes), file);
    if (!sols.is_array()) throw parse_error(file, 0, "", "expected a list of programs, got " + detail::json_type(sols));
    for (std::size_t i = 0; i < sols.size() && p.solutions.size() < options.max_solutions; ++i) {
      if (!sols[i].is_string())
        throw parse_error(file, 0, "[" + std::to_string(i) + "]",
                          "expected a string, got " + detail::json_type(sols[i]));
      p.solutions.push_back(sols[i].get<std::string>());
    }
  }
  const auto metadata_path = dir / "metadata.json";
  if (std::filesystem::exists(metadata_path, ec)) {
    const std::string file = metadata_path.string();
    const auto meta = detail::parse_json(rltf::detail::read_file(metadata_path, detail::max_dataset_file_bytes), file);
    if (!meta.is_object()) throw parse_error(file, 0, "", "expected a JSON object, got " + detail::json_type(meta));
  }
  return true;
}

} // namespace detail

/// Loads APPS problems from `dir`: either one problem folder (it holds `question.txt`) or a folder of
/// problem folders (e.g. `APPS/test`), read in name order. Throws rltf::io_error when `dir` is not a
/// folder or holds no problem, rltf::parse_error (file, line, field) on malformed files.
[[nodiscard]] inline std::vector<Problem> load_apps(const std::filesystem::path& dir, const AppsOptions& options = {}) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) throw io_error("APPS: '" + dir.string() + "' is not a folder");
  std::vector<std::filesystem::path> folders;
  if (std::filesystem::exists(dir / "question.txt", ec)) {
    folders.push_back(dir);
  } else {
    for (const auto& entry : std::filesystem::directory_iterator(dir))
      if (entry.is_directory() && std::filesystem::exists(entry.path() / "question.txt", ec))
        folders.push_back(entry.path());
    std::sort(folders.begin(), folders.end());
  }
  if (folders.empty()) throw io_error("APPS: no problem folder (with a question.txt) in '" + dir.string() + "'");
  std::vector<Problem> problems;
  problems.reserve(folders.size());
  for (const auto& f : folders) {
    Problem p;
    if (detail::load_folder(f, options, p)) problems.push_back(std::move(p));
  }
  return problems;
}

} // namespace rltf::data
