#pragma once
/// \file
/// rltf::judge_error: a judge could not answer (an unreachable or failing server, an answer in an
/// unexpected format, an unusable cache). Never a silent "no".

#include <string>

#include "rltf/core/error.hpp"

namespace rltf {

/// A judge could not answer a question; the message says which server, question or file, and why.
class judge_error : public error {
public:
  explicit judge_error(const std::string& what) : error("rltf: judge: " + what) {}
};

} // namespace rltf
