#pragma once
// Shared by the benchmarks that time a PyTorch Python baseline against rltf's C++ on LibTorch:
// their common flags and running the Python side.

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include <rltf_programs/cli.hpp>

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

  static constexpr const char* usage =
      "[--quick] [--threads N] [--repeats N] [--python PATH] [--script PATH] [--work DIR]";

  /// Reads the current flag when it is one of these; false when it is not.
  bool read(rltf::CommandLine& args) {
    if (args.is("--quick"))
      quick = true;
    else if (args.is("--threads"))
      threads = static_cast<int>(args.unsigned_value());
    else if (args.is("--repeats"))
      repeats = static_cast<int>(args.unsigned_value());
    else if (args.is("--python"))
      python = args.value();
    else if (args.is("--script"))
      script = args.value();
    else if (args.is("--work"))
      work = args.value();
    else
      return false;
    return true;
  }
};

} // namespace rltf_bench
