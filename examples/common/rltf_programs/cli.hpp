#pragma once
/// \file
/// COMPATIBILITY ONLY: rltf::CommandLine, the hand-written argv walker that rltf-demo, rltf-ablation
/// and rltf-generate still use until they move to rltf::programs::Cli (rltf_programs/options.hpp,
/// on CLI11: generated --help, --flag=value, --config FILE). New code uses options.hpp; delete this
/// class when its last user has moved. The parsing functions (rltf::parse_unsigned, ...) live in
/// options.hpp, so both layers check values the same way.
///
/// \code
/// for (rltf::CommandLine args(argc, argv); args.next();) {
///   if (args.is("--out")) out = args.value();
///   else if (args.is("--seed")) seed = args.unsigned_value();
///   else if (args.is("--progress")) progress = args.choice_value(rltf::progress_modes);
///   else args.unknown();                                               // "unknown option '--x'"
/// }
/// \endcode

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rltf/core/error.hpp"
#include "rltf_programs/options.hpp"

namespace rltf {

/// Walks argv one argument at a time; the *_value() calls consume the argument after a flag.
class CommandLine {
public:
  CommandLine(int argc, const char* const* argv) : argv_(argv, argv + (argc > 0 ? argc : 0)) {}

  /// Moves to the next argument; false when there is none.
  [[nodiscard]] bool next() {
    if (i_ + 1 >= argv_.size()) {
      i_ = argv_.size();
      return false;
    }
    current_ = argv_[++i_];
    return true;
  }

  /// The current argument (a flag such as "--out", or a positional argument).
  [[nodiscard]] const std::string& flag() const noexcept { return current_; }
  [[nodiscard]] bool is(std::string_view name) const noexcept { return current_ == name; }
  /// Whether the current argument is not a flag (does not start with '-', or is "-" itself).
  [[nodiscard]] bool positional() const noexcept { return current_.empty() || current_[0] != '-' || current_ == "-"; }

  /// The argument after the current flag.
  [[nodiscard]] std::string value() {
    if (i_ + 1 >= argv_.size()) throw invalid_argument(current_ + " needs a value");
    return argv_[++i_];
  }
  [[nodiscard]] std::uint64_t unsigned_value() { return parse_unsigned(current_, value()); }
  [[nodiscard]] double number_value() { return parse_number(current_, value()); }
  [[nodiscard]] double positive_value() { return parse_positive(current_, value()); }
  /// A comma-separated list with at least one item.
  [[nodiscard]] std::vector<std::string> list_value() {
    auto items = split_list(value());
    if (items.empty()) throw invalid_argument(current_ + " needs at least one item (a comma-separated list)");
    return items;
  }
  [[nodiscard]] std::vector<std::uint64_t> unsigned_list_value() {
    std::vector<std::uint64_t> out;
    for (const auto& item : list_value()) out.push_back(parse_unsigned(current_, item));
    return out;
  }
  /// One of the named choices — any range of (name, value) pairs; the error lists the names.
  template <class Choices>
  [[nodiscard]] auto choice_value(const Choices& choices) {
    const std::string v = value();
    std::string names;
    for (const auto& [name, t] : choices) {
      if (name == v) return t;
      names += (names.empty() ? "" : ", ") + std::string(name);
    }
    throw invalid_argument(current_ + " must be one of " + names + "; got '" + v + "'");
  }
  template <class T>
  [[nodiscard]] T choice_value(std::initializer_list<std::pair<std::string_view, T>> choices) {
    return choice_value<std::initializer_list<std::pair<std::string_view, T>>>(choices);
  }

  /// Throws "unknown option '<flag>'".
  [[noreturn]] void unknown() const {
    throw invalid_argument(positional() ? "unexpected argument '" + current_ + "'"
                                        : "unknown option '" + current_ + "'");
  }

private:
  std::vector<std::string> argv_;
  std::size_t i_ = 0;
  std::string current_;
};

} // namespace rltf
