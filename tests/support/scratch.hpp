#pragma once
/// Scratch files and folders for the tests: a fresh folder removed at the end, and whole-file
/// reads and writes that fail the test (not throw) when the file system says no.

#include <doctest/doctest.h>

#include <stdlib.h> // mkdtemp

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

namespace rltf_test {

/// The bytes of `p`; fails the test when it cannot be opened.
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE_MESSAGE(in, "cannot open ", p.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Writes `bytes` to `p` (replacing it); fails the test when it cannot.
inline void spit(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  REQUIRE_MESSAGE(out, "cannot write ", p.string());
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

/// A fresh folder under the system's temporary folder (`rltf-PREFIX-XXXXXX`), removed at the end.
struct ScratchDir {
  std::filesystem::path path;
  explicit ScratchDir(std::string_view prefix = "test") {
    std::string tmpl = (std::filesystem::temp_directory_path() / ("rltf-" + std::string(prefix) + "-XXXXXX")).string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

/// A file `name` holding `text` in a scratch folder of its own, removed at the end.
struct ScratchFile {
  ScratchDir dir;
  std::filesystem::path path;
  ScratchFile(std::string_view name, std::string_view text) : dir("file"), path(dir.path / name) { spit(path, text); }
};

} // namespace rltf_test
