#pragma once
/// \file
/// All dataset loaders, and loading by name: "humaneval", "humaneval-plus", "mbpp", "mbpp-plus"
/// (the copies bundled in rltf's data folder), "apps:DIR", or "NAME:PATH" for another file or folder
/// in NAME's format.

#include <array>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rltf/core/error.hpp"
#include "rltf/core/problem.hpp"
#include "rltf/data/apps.hpp"
#include "rltf/data/humaneval.hpp"
#include "rltf/data/mbpp.hpp"
#include "rltf/data/samples.hpp"

namespace rltf::data {

/// Options for load_dataset.
struct DatasetOptions {
  PlusOptions plus{};
  MbppOptions mbpp{};
  AppsOptions apps{};
};
RLTF_OPTIONS_JSON(DatasetOptions, plus, mbpp, apps)

/// The dataset names load_dataset knows, and the bundled file each reads from the data folder.
inline constexpr std::array<std::pair<std::string_view, std::string_view>, 4> bundled_datasets{{
    {"humaneval", "HumanEval.jsonl.gz"},
    {"humaneval-plus", "HumanEvalPlus.jsonl.gz"},
    {"mbpp", "mbpp.jsonl"},
    {"mbpp-plus", "MbppPlus.jsonl.gz"},
}};

/// Loads a dataset by `spec`: a bundled name (read from `data_dir`), "apps:DIR", or "NAME:PATH".
/// Throws rltf::invalid_argument for an unknown name, rltf::io_error when the file is missing.
[[nodiscard]] inline std::vector<Problem> load_dataset(std::string_view spec, const std::filesystem::path& data_dir,
                                                       const DatasetOptions& options = {}) {
  std::string name(spec);
  std::filesystem::path path;
  if (const auto colon = spec.find(':'); colon != std::string_view::npos) {
    name = std::string(spec.substr(0, colon));
    path = std::string(spec.substr(colon + 1));
    if (path.empty()) throw invalid_argument("dataset '" + std::string(spec) + "': the path after ':' is empty");
  }
  if (name == "apps") {
    if (path.empty()) throw invalid_argument("dataset 'apps' needs a folder: apps:DIR");
    return load_apps(path, options.apps);
  }
  bool known = false;
  for (const auto& [n, f] : bundled_datasets)
    if (n == name) {
      known = true;
      if (path.empty()) path = data_dir / f;
    }
  if (!known)
    throw invalid_argument("unknown dataset '" + name +
                           "': expected humaneval, humaneval-plus, mbpp, mbpp-plus, apps:DIR or NAME:PATH");
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw io_error("dataset '" + name + "': '" + path.string() + "' does not exist");
  if (name == "humaneval") return load_humaneval(path);
  if (name == "humaneval-plus") return load_humaneval_plus(path, options.plus);
  if (name == "mbpp") return load_mbpp(path, options.mbpp);
  return load_mbpp_plus(path, options.plus);
}

} // namespace rltf::data
