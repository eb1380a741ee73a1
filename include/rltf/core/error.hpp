#pragma once
/// \file
/// rltf's exception hierarchy. Results that are data (a program failed its tests) are values;
/// misuse and bad input throw one of these, with a message that says what was wrong and where.

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

namespace rltf {

/// Base of every exception rltf throws.
class error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A tensor of the wrong shape reached an operation. The message names the operation and the shapes.
class shape_error : public error {
public:
  using error::error;
};

/// An argument or option outside its domain (a negative capacity, k > n in pass@k, ...).
class invalid_argument : public error {
public:
  using error::error;
};

/// A file could not be opened, read or written.
class io_error : public error {
public:
  using error::error;
};

/// A malformed input file. Carries the file, the 1-based line (0 when not line-oriented) and the
/// field at fault, and says all three in its message.
class parse_error : public error {
public:
  parse_error(std::string file, std::size_t line, std::string field, const std::string& what)
      : error(format(file, line, field, what)), file_(std::move(file)), line_(line), field_(std::move(field)) {}

  [[nodiscard]] const std::string& file() const noexcept { return file_; }
  [[nodiscard]] std::size_t line() const noexcept { return line_; }
  [[nodiscard]] const std::string& field() const noexcept { return field_; }

private:
  static std::string format(const std::string& file, std::size_t line, const std::string& field,
                            const std::string& what) {
    std::string out = file;
    if (line != 0) out += ":" + std::to_string(line);
    if (!field.empty()) out += ": field '" + field + "'";
    out += ": " + what;
    return out;
  }

  std::string file_;
  std::size_t line_;
  std::string field_;
};

/// A well-formed checkpoint made for another run: other problems, another seed, other options,
/// or a later step than this run goes to. The field names what differs; starting the run over
/// (resume off, or another output folder) is the remedy.
class checkpoint_mismatch : public parse_error {
public:
  using parse_error::parse_error;
};

/// The executor itself failed (could not start an interpreter, a pipe broke beyond recovery).
/// A candidate program misbehaving is never this: that is an ExecutionResult.
class executor_error : public error {
public:
  using error::error;
};

} // namespace rltf
