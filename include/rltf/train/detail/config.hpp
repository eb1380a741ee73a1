#pragma once
/// \file
/// The first difference between two JSON configurations, for errors that say which option a
/// checkpoint was made with and which this run has. Internal.

#include <cstdio>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace rltf::train::detail {

/// Where two configurations differ: the dotted path of the field and both values as text.
struct ConfigDifference {
  std::string path;
  std::string was; ///< the value in the recorded configuration ("absent" when missing)
  std::string now; ///< the value in the current one ("absent" when missing)
};

/// A value as a person reads it: floats with 7 significant digits (options are floats, stored as
/// doubles), everything else as compact JSON.
[[nodiscard]] inline std::string config_value_text(const nlohmann::json& v) {
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.7g", v.get<double>());
    return buf;
  }
  return v.dump();
}

/// The first field (depth first, in `now`'s key order, then fields only `was` has) whose value
/// differs; objects are compared field by field, everything else as a whole.
[[nodiscard]] inline std::optional<ConfigDifference>
config_difference(const nlohmann::json& was, const nlohmann::json& now, const std::string& path = {}) {
  const auto join = [&](const std::string& key) { return path.empty() ? key : path + "." + key; };
  if (was.is_object() && now.is_object()) {
    for (const auto& [key, value] : now.items()) {
      const auto it = was.find(key);
      if (it == was.end()) return ConfigDifference{join(key), "absent", config_value_text(value)};
      if (auto d = config_difference(*it, value, join(key))) return d;
    }
    for (const auto& [key, value] : was.items())
      if (!now.contains(key)) return ConfigDifference{join(key), config_value_text(value), "absent"};
    return std::nullopt;
  }
  if (was == now) return std::nullopt;
  return ConfigDifference{path, config_value_text(was), config_value_text(now)};
}

} // namespace rltf::train::detail
