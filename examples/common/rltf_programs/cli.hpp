#pragma once
/// \file
/// A small command-line reader for programs built on rltf (the examples and benchmarks use it):
/// flags with values, numbers and lists checked as they are read, and errors that name the flag
/// and the text it got. Every error is an rltf::invalid_argument, so a program prints it with its
/// usage and exits with status 2.
///
/// \code
/// for (rltf::CommandLine args(argc, argv); args.next();) {
///   if (args.is("--out")) out = args.value();
///   else if (args.is("--seed")) seed = args.unsigned_value();
///   else if (args.is("--lr")) lr = args.positive_value();
///   else if (args.is("--seeds")) seeds = args.unsigned_list_value();   // "1,2,3"
///   else if (args.is("--mode")) mode = args.choice_value<Mode>({{"fast", Mode::fast}, {"exact", Mode::exact}});
///   else if (args.is("--progress")) progress = args.choice_value(rltf::progress_modes);
///   else args.unknown();                                               // "unknown option '--x'"
/// }
/// \endcode

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "rltf/core/error.hpp"

namespace rltf {

/// `text` as a non-negative integer; throws rltf::invalid_argument naming `what` otherwise.
[[nodiscard]] inline std::uint64_t parse_unsigned(std::string_view what, std::string_view text) {
  std::uint64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc{} || ptr != end)
    throw invalid_argument(std::string(what) + " needs a non-negative integer, got '" + std::string(text) + "'");
  return v;
}

/// `text` as a finite number; throws rltf::invalid_argument naming `what` otherwise.
[[nodiscard]] inline double parse_number(std::string_view what, std::string_view text) {
  std::size_t used = 0;
  double v = 0.0;
  const std::string s(text);
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (s.empty() || used != s.size() || !(v - v == 0.0)) // the last test rejects inf and nan
    throw invalid_argument(std::string(what) + " needs a number, got '" + s + "'");
  return v;
}

/// `text` as a number > 0; throws rltf::invalid_argument naming `what` otherwise.
[[nodiscard]] inline double parse_positive(std::string_view what, std::string_view text) {
  const double v = parse_number(what, text);
  if (!(v > 0.0))
    throw invalid_argument(std::string(what) + " needs a positive number, got '" + std::string(text) + "'");
  return v;
}

/// The comma-separated items of `text`, empty ones dropped.
[[nodiscard]] inline std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const auto item = text.substr(0, comma);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

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
