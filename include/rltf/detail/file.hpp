#pragma once
/// \file
/// Reading a whole file, bounded: the one place rltf reads a file into memory (datasets, tokenizer
/// files, option files). Internal; shared by several folders.

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string>

#include "rltf/core/error.hpp"

namespace rltf::detail {

/// The bytes of the file at `path`, at most `max_bytes` of them. Throws rltf::io_error naming the
/// file when it cannot be opened or read, or when it holds more than `max_bytes` bytes (checked
/// while reading, so a pipe or a file that grows is bounded too).
[[nodiscard]] inline std::string read_file(const std::filesystem::path& path, std::size_t max_bytes) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw io_error("cannot open '" + path.string() + "' for reading");
  std::string data;
  std::error_code ec;
  const auto size = std::filesystem::is_regular_file(path, ec) ? std::filesystem::file_size(path, ec) : 0;
  if (!ec && size > 0 && size <= max_bytes) data.reserve(static_cast<std::size_t>(size));
  char chunk[1 << 16];
  bool failed = false;
  while (true) {
    const std::size_t got = std::fread(chunk, 1, sizeof chunk, f);
    if (got > max_bytes - data.size()) {
      std::fclose(f);
      throw io_error("'" + path.string() + "' is larger than the limit of " + std::to_string(max_bytes) +
                     " bytes for this file");
    }
    data.append(chunk, got);
    if (got < sizeof chunk) {
      failed = std::ferror(f) != 0;
      break;
    }
  }
  std::fclose(f);
  if (failed) throw io_error("error while reading '" + path.string() + "'");
  return data;
}

} // namespace rltf::detail
