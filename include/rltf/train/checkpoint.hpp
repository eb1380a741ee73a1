#pragma once
/// \file
/// Checkpoint directories, written atomically.
///
/// A run's checkpoints live in `<output_dir>/checkpoints/`:
///
///     checkpoints/
///       step-00000050/     trainer.json, buffer.cbor, policy/ (the policy's save_checkpoint), ...
///       step-00000100/
///       latest             "step-00000100" — the newest complete checkpoint
///
/// A checkpoint is first written into `step-N.tmp/`, then renamed to `step-N/` (a directory
/// rename is atomic; files and folders are fsynced before each rename), and only then does
/// `latest` — itself replaced through a temporary file, fsync and rename — point at it. A process killed at any instant
/// (kill -9) therefore leaves either the previous checkpoint or the new one as `latest`, never a partial one; stale
/// `.tmp` directories are removed by the next checkpoint.

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rltf/core/error.hpp"
#include "rltf/detail/atomic_file.hpp"

namespace rltf::checkpoint {

/// Replaces `path` with `bytes` atomically and durably: a temporary file in the same folder,
/// fsynced, renamed into place, the folder fsynced (rltf/detail/atomic_file.hpp). Throws
/// rltf::io_error naming the file and the reason (a full disk, ...), with a previous file intact.
inline void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  rltf::detail::write_file_atomic(path, bytes);
}

/// The whole content of a file. Throws rltf::io_error when it cannot be read.
[[nodiscard]] inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw io_error("checkpoint: cannot open " + path.string());
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

/// The name of the checkpoint after `step` optimiser steps: "step-00000050".
[[nodiscard]] inline std::string name(std::size_t step) {
  std::string digits = std::to_string(step);
  if (digits.size() < 8) digits.insert(0, 8 - digits.size(), '0');
  return "step-" + digits;
}

/// The newest complete checkpoint under `root` (the `checkpoints/` folder), if any. Throws
/// rltf::parse_error when `latest` names a checkpoint that does not exist.
[[nodiscard]] inline std::optional<std::filesystem::path> latest(const std::filesystem::path& root) {
  const auto pointer = root / "latest";
  if (!std::filesystem::exists(pointer)) return std::nullopt;
  std::string n = read_file(pointer);
  while (!n.empty() && (n.back() == '\n' || n.back() == ' ')) n.pop_back();
  const auto dir = root / n;
  if (n.empty() || n.find('/') != std::string::npos || !std::filesystem::is_directory(dir))
    throw parse_error(pointer.string(), 1, "", "names no checkpoint directory ('" + n + "')");
  return dir;
}

/// Begins a checkpoint: a fresh, empty `root/step-N.tmp/` to write into.
[[nodiscard]] inline std::filesystem::path begin(const std::filesystem::path& root, std::size_t step) {
  std::filesystem::create_directories(root);
  // Leftovers of checkpoints a killed process never finished.
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    const auto n = entry.path().filename().string();
    if (entry.is_directory() && n.size() > 4 && n.compare(n.size() - 4, 4, ".tmp") == 0)
      std::filesystem::remove_all(entry.path());
  }
  auto tmp = root / (name(step) + ".tmp");
  std::filesystem::create_directories(tmp);
  return tmp;
}

/// Completes a checkpoint begun with begin(): renames it into place, points `latest` at it and
/// removes all but the newest `keep` checkpoints. Returns the final directory.
inline std::filesystem::path commit(const std::filesystem::path& root, std::size_t step, std::size_t keep) {
  const auto tmp = root / (name(step) + ".tmp");
  const auto dir = root / name(step);
  std::filesystem::remove_all(dir);
  std::error_code ec;
  rltf::detail::sync_directory(tmp); // the entries of the files written into it
  std::filesystem::rename(tmp, dir, ec);
  if (ec) throw io_error("checkpoint: cannot rename " + tmp.string() + ": " + ec.message());
  rltf::detail::sync_directory(root);
  write_file_atomic(root / "latest", name(step) + "\n");
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    const auto n = entry.path().filename().string();
    if (entry.is_directory() && n.rfind("step-", 0) == 0 && n.find(".tmp") == std::string::npos) names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  if (keep == 0) keep = 1;
  for (std::size_t i = 0; i + keep < names.size(); ++i)
    if (names[i] != name(step)) std::filesystem::remove_all(root / names[i]);
  return dir;
}

} // namespace rltf::checkpoint
