#pragma once
/// \file
/// Samples files in the human-eval convention: JSON Lines with `{"task_id": ..., "completion": ...}`
/// per line (other fields are ignored on reading), so results compare with other harnesses.

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/core/sample.hpp"
#include "rltf/data/detail/json.hpp"
#include "rltf/detail/atomic_file.hpp"

namespace rltf::data {

/// Reads a samples file (plain or gzipped JSON Lines). Each Sample gets `task_id` and `text` (the
/// completion); an integer task_id is read as its decimal string. Throws rltf::io_error or
/// rltf::parse_error (file, line, field).
[[nodiscard]] inline std::vector<Sample> read_samples(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::vector<Sample> samples;
  detail::for_each_jsonl(detail::read_text_file(path), file, [&](const nlohmann::json& j, std::size_t line) {
    const detail::json_where w{file, line};
    Sample s;
    s.task_id = detail::require_id(j, "task_id", w);
    s.text = detail::require_string(j, "completion", w);
    samples.push_back(std::move(s));
  });
  return samples;
}

/// Writes `{"task_id", "completion"}` per sample (the completion is Sample::text). Invalid UTF-8 in
/// a completion is written as U+FFFD. Throws rltf::io_error when the file cannot be written.
inline void write_samples(const std::filesystem::path& path, std::span<const Sample> samples) {
  rltf::detail::AtomicFile out(path); // replaces `path` whole on commit(), fsynced
  for (const auto& s : samples) {
    const nlohmann::json j{{"task_id", s.task_id}, {"completion", s.text}};
    out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  }
  out.commit();
}

} // namespace rltf::data
