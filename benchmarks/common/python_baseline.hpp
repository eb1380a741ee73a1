#pragma once
// Shared by the benchmarks that time a PyTorch Python baseline against rltf's C++ on LibTorch:
// their common flags and running the Python side.

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include <rltf_programs/options.hpp>

namespace rltf_bench {

/// Runs a shell command and returns its standard output; throws with the command and its exit
/// status when it fails.
inline std::string run_command(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) throw std::runtime_error("cannot run: " + command);
  std::string out;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), pipe.get()) != nullptr) out += buf.data();
  const int status = pclose(pipe.release());
  if (status != 0) throw std::runtime_error("command failed (" + std::to_string(status) + "): " + command);
  return out;
}

/// The flags every C++-against-Python benchmark takes.
struct BaselineArgs {
  bool quick = false;
  int threads = 1; ///< intra-op threads on both sides
  int repeats = 3; ///< timed rounds; the best counts
  std::string python = RLTF_PYTHON;
  std::filesystem::path script =
      std::filesystem::path(RLTF_SOURCE_DIR) / "benchmarks" / "torch_train_step" / "gpt2_reference.py";
  std::filesystem::path work; ///< scratch folder (weights and inputs for Python)

  /// Defines these flags on `cli`.
  void define(rltf::programs::Cli& cli) {
    cli.flag("--quick", quick, "a small model, one repeat");
    cli.count("--threads", threads, "intra-op threads on both sides", 1);
    cli.count("--repeats", repeats, "timed rounds (the best counts)", 1);
    cli.text("--python", python, "interpreter with PyTorch", "PATH");
    cli.text("--script", script, "the Python baseline", "FILE");
    cli.text("--work", work, "scratch folder (weights and inputs for Python)", "DIR");
  }
};

} // namespace rltf_bench
