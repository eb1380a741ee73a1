#pragma once
/// \file
/// The programs' command lines, on CLI11: generated `--help`, `--flag value` and `--flag=value`,
/// `--config FILE` (a JSON object whose keys are the long flag names), values checked as they are
/// read (non-negative integers, positive numbers, comma lists, choices from a name table), the
/// flags every program shares defined once, and the effective configuration written as JSON.
///
/// \code
/// rltf::programs::Cli cli("rltf-thing", "What the thing does.");
/// Args a;
/// cli.out(a.out);                                    // --out DIR
/// cli.seed(a.seed);                                  // --seed N
/// cli.workers(a.workers);                            // --workers N
/// cli.progress(a.progress);                          // --progress auto|bar|lines|off
/// cli.positive("--lr", a.lr, "learning rate");
/// cli.choice("--baseline", a.baseline, rltf::algo::baselines, "reward baseline");
/// return cli.run(argc, argv, [&] {
///   cli.write_config(a.out);                         // <out>/config.json: every option's value
///   return run(a);
/// });
/// \endcode
///
/// Every error names the flag (or the configuration file and key) and the text it got; `run`
/// prints it with the usage hint and returns status 2 (1 for a failure of the program itself).

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/train/options.hpp"

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

namespace programs {

/// A usage error found after parsing (a missing combination of flags, a bad path): `Cli::run`
/// prints it with the usage hint and returns status 2.
class usage_error : public invalid_argument {
public:
  using invalid_argument::invalid_argument;
};

namespace detail {

/// What JSON a configuration file may give an option.
enum class ValueKind { flag, integer, number, text, list, choice };

/// One option as the configuration file and the effective configuration see it.
struct OptionEntry {
  std::string key; ///< the long flag name without "--"
  ValueKind kind{};
  std::function<void(const std::string& what, const std::string& text)> check; ///< throws rltf::invalid_argument
  std::function<nlohmann::json()> value;                                       ///< the bound variable, as JSON
};

/// `v` as text for a default shown by --help, or a config value: strings unquoted.
inline std::string display(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : ",") + display(x);
    return out;
  }
  return v.is_null() ? std::string() : v.dump();
}

inline const char* kind_name(ValueKind k) {
  switch (k) {
  case ValueKind::flag:
    return "true or false";
  case ValueKind::integer:
    return "a non-negative integer";
  case ValueKind::number:
    return "a number";
  case ValueKind::text:
    return "a string";
  case ValueKind::list:
    return "a list (an array, or a string \"a,b,c\")";
  case ValueKind::choice:
    return "a string";
  }
  return "a value";
}

/// CLI11's configuration reader for JSON: a flat object keyed by the long flag names. Unknown keys
/// and values of the wrong type are errors naming the key and the file.
class JsonConfig : public CLI::Config {
public:
  explicit JsonConfig(const std::vector<OptionEntry>* entries) : entries_(entries) {}

  /// The options given as JSON (what `--config` reads back), every value, defaults included.
  std::string to_config(const CLI::App*, bool, bool, std::string) const override {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& e : *entries_) j[e.key] = e.value();
    return j.dump(2) + "\n";
  }

  std::vector<CLI::ConfigItem> from_config(std::istream& in) const override {
    std::string file = "the configuration file";
    if (const auto* c = app_ != nullptr ? app_->get_config_ptr() : nullptr; c != nullptr && !c->results().empty())
      file = "'" + c->results().back() + "'";
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::parse_error& e) {
      throw CLI::ConfigError(file + " is not valid JSON: " + e.what());
    }
    if (!j.is_object()) throw CLI::ConfigError(file + " must hold a JSON object keyed by long flag names");
    std::vector<CLI::ConfigItem> items;
    for (const auto& [key, v] : j.items()) {
      const OptionEntry* e = nullptr;
      for (const auto& x : *entries_)
        if (x.key == key) e = &x;
      const std::string where = file + ", key '" + key + "'";
      if (e == nullptr) throw CLI::ConfigError(where + ": unknown option (keys are the long flag names)");
      if (v.is_null()) continue; // an optional value left unset
      bool ok = false;
      std::string text;
      switch (e->kind) {
      case ValueKind::flag:
        ok = v.is_boolean();
        if (ok) text = v.get<bool>() ? "true" : "false";
        break;
      case ValueKind::integer:
        ok = v.is_number_integer();
        break;
      case ValueKind::number:
        ok = v.is_number();
        break;
      case ValueKind::text:
      case ValueKind::choice:
        ok = v.is_string();
        break;
      case ValueKind::list:
        ok = v.is_string() || v.is_array();
        if (v.is_array())
          for (const auto& x : v) ok = ok && (x.is_string() || x.is_number_integer());
        break;
      }
      if (!ok) throw CLI::ConfigError(where + " needs " + kind_name(e->kind) + ", got " + v.dump());
      if (e->kind != ValueKind::flag) text = display(v);
      if (e->check) {
        try {
          e->check(where, text);
        } catch (const invalid_argument& err) {
          throw CLI::ConfigError(err.what());
        }
      }
      CLI::ConfigItem item;
      item.name = key;
      item.inputs = {text};
      items.push_back(std::move(item));
    }
    return items;
  }

  /// The App whose --config option names the file read (for the error messages).
  void set_app(const CLI::App* app) noexcept { app_ = app; }

private:
  const std::vector<OptionEntry>* entries_;
  const CLI::App* app_ = nullptr;
};

template <class T>
inline constexpr bool is_text_v = std::is_same_v<T, std::string> || std::is_same_v<T, std::filesystem::path>;

} // namespace detail

/// A program's command line: CLI11's App with rltf's checked option kinds and shared vocabulary.
class Cli {
public:
  Cli(std::string program, std::string description)
      : program_(std::move(program)), app_(std::make_unique<CLI::App>(std::move(description), program_)) {
    config_ = std::make_shared<detail::JsonConfig>(&entries_);
    app_->config_formatter(config_);
    config_->set_app(app_.get());
    app_->set_config("--config", "", "read options from a JSON file whose keys are the long flag names")
        ->type_name("FILE");
    app_->get_formatter()->column_width(32);
  }
  Cli(const Cli&) = delete;
  Cli& operator=(const Cli&) = delete;

  [[nodiscard]] const std::string& program() const noexcept { return program_; }
  /// CLI11's App, for what the helpers below do not cover (groups, exclusions, footers).
  [[nodiscard]] CLI::App& app() noexcept { return *app_; }

  // --- option kinds ---------------------------------------------------------------------------

  /// A switch: `--name`, `--name=true|false`; a boolean in the configuration file.
  CLI::Option* flag(const std::string& name, bool& v, const std::string& help) {
    auto* o = app_->add_flag(name, v, help);
    add_entry(name, detail::ValueKind::flag, nullptr, [&v] { return nlohmann::json(v); });
    return o;
  }

  /// A string or a path.
  template <class S>
  requires detail::is_text_v<S> CLI::Option* text(const std::string& name, S& v, const std::string& help,
                                                  const std::string& type = "TEXT") {
    return add<S>(
        name, v, help, type, detail::ValueKind::text, [](const std::string&, const std::string& s) { return S(s); },
        [&v] { return nlohmann::json(to_text(v)); });
  }

  /// A non-negative integer in [min, max].
  template <class T>
  requires std::is_integral_v<T> CLI::Option* count(const std::string& name, T& v, const std::string& help,
                                                    std::uint64_t min = 0,
                                                    std::uint64_t max = std::numeric_limits<T>::max()) {
    return add<T>(
        name, v, help, "N", detail::ValueKind::integer,
        [min, max](const std::string& what, const std::string& s) {
          return static_cast<T>(bounded(what, s, min, max));
        },
        [&v] { return nlohmann::json(v); });
  }

  /// An optional non-negative integer (absent: unset; null in the effective configuration).
  template <class T>
  requires std::is_integral_v<T> CLI::Option* count(const std::string& name, std::optional<T>& v,
                                                    const std::string& help, std::uint64_t min = 0) {
    return add<std::optional<T>>(
        name, v, help, "N", detail::ValueKind::integer,
        [min](const std::string& what, const std::string& s) {
          return std::optional<T>(static_cast<T>(bounded(what, s, min, std::numeric_limits<T>::max())));
        },
        [&v] { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); });
  }

  /// A finite number.
  template <class T>
  requires std::is_floating_point_v<T> CLI::Option* number(const std::string& name, T& v, const std::string& help) {
    return add<T>(
        name, v, help, "X", detail::ValueKind::number,
        [](const std::string& what, const std::string& s) { return static_cast<T>(parse_number(what, s)); },
        [&v] { return real(v); });
  }

  /// A number > 0, at most `max`.
  template <class T>
  requires std::is_floating_point_v<T> CLI::Option* positive(const std::string& name, T& v, const std::string& help,
                                                             double max = std::numeric_limits<double>::max()) {
    return add<T>(
        name, v, help, "X", detail::ValueKind::number,
        [max](const std::string& what, const std::string& s) {
          const double x = parse_positive(what, s);
          if (x > max)
            throw invalid_argument(what + " needs a number in (0, " + detail::display(nlohmann::json(max)) +
                                   "], got '" + s + "'");
          return static_cast<T>(x);
        },
        [&v] { return real(v); });
  }

  /// A comma-separated list of strings ("a,b,c"), at least one item.
  CLI::Option* list(const std::string& name, std::vector<std::string>& v, const std::string& help) {
    return add<std::vector<std::string>>(
        name, v, help, "A,B,...", detail::ValueKind::list,
        [](const std::string& what, const std::string& s) { return nonempty_list(what, s); },
        [&v] { return nlohmann::json(v); });
  }

  /// A comma-separated list of non-negative integers ("1,10,100"), each at least `min`.
  template <class T>
  requires std::is_integral_v<T> CLI::Option* counts(const std::string& name, std::vector<T>& v,
                                                     const std::string& help, std::uint64_t min = 0) {
    return add<std::vector<T>>(
        name, v, help, "N,N,...", detail::ValueKind::list,
        [min](const std::string& what, const std::string& s) {
          std::vector<T> out;
          for (const auto& item : nonempty_list(what, s))
            out.push_back(static_cast<T>(bounded(what, item, min, std::numeric_limits<T>::max())));
          return out;
        },
        [&v] { return nlohmann::json(v); });
  }

  /// One of the names of `table`, a range of (name, value) pairs such as rltf::progress_modes.
  template <class T, class Table>
  CLI::Option* choice(const std::string& name, T& v, const Table& table, const std::string& help) {
    std::string names;
    for (const auto& [n, t] : table) names += (names.empty() ? "" : "|") + std::string(n);
    return add<T>(
        name, v, help, names, detail::ValueKind::choice,
        [&table](const std::string& what, const std::string& s) {
          std::string all;
          for (const auto& [n, t] : table) {
            if (n == s) return static_cast<T>(t);
            all += (all.empty() ? "" : ", ") + std::string(n);
          }
          throw invalid_argument(what + " must be one of " + all + "; got '" + s + "'");
        },
        [&v, &table] {
          for (const auto& [n, t] : table)
            if (t == v) return nlohmann::json(std::string(n));
          return nlohmann::json(nullptr);
        });
  }

  // --- the shared vocabulary: one name and meaning across programs ------------------------------

  template <class S>
  CLI::Option* out(S& v, const std::string& help = "output folder") {
    return text("--out", v, help, "DIR");
  }
  CLI::Option* seed(std::uint64_t& v, const std::string& help = "seed of every random draw") {
    return count("--seed", v, help);
  }
  CLI::Option* workers(std::size_t& v, const std::string& help = "parallel executor processes (0: one per core)") {
    return count("--workers", v, help);
  }
  CLI::Option* progress(ProgressMode& v) {
    return choice("--progress", v, progress_modes, "progress display (auto: a bar on a terminal, else lines)");
  }
  CLI::Option* ks(std::vector<std::size_t>& v) { return counts("--k", v, "k values of pass@k (comma list)", 1); }
  template <class S>
  CLI::Option* model(S& v, const std::string& help = "model folder (config.json + model.safetensors)") {
    return text("--model", v, help, "DIR");
  }
  template <class S>
  CLI::Option* tokenizer(S& v, const std::string& help = "tokenizer folder (vocab.json + merges.txt)") {
    return text("--tokenizer", v, help, "DIR");
  }
  template <class S>
  CLI::Option* dataset(S& v, const std::string& help = "dataset name") {
    return text("--dataset", v, help, "NAME");
  }
  template <class S>
  CLI::Option* samples(S& v, const std::string& help = "samples file (JSON Lines)") {
    return text("--samples", v, help, "FILE");
  }
  CLI::Option* num_samples(std::size_t& v, const std::string& help = "samples per problem") {
    return count("--num-samples", v, help, 1);
  }
  template <class T>
  CLI::Option* timeout(T& v, const std::string& help = "seconds per test") {
    return positive("--timeout", v, help, 86400.0);
  }

  // --- parsing ----------------------------------------------------------------------------------

  /// Parses argv (and the --config file); throws CLI::ParseError (CLI::CallForHelp for --help).
  void parse(int argc, const char* const* argv) { app_->parse(argc, argv); }

  /// Parses argv for a program that goes on in main: nothing when it should go on, else the exit
  /// status (0 after --help; 2 after an error, printed with the usage hint).
  [[nodiscard]] std::optional<int> parse_or_exit(int argc, const char* const* argv) {
    try {
      parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
      std::cout << app_->help();
      return 0;
    } catch (const CLI::ParseError& e) {
      return usage_failure(e.what());
    }
    return std::nullopt;
  }

  /// Parses argv and runs `body` (returns the exit status): --help prints the help and returns 0;
  /// a parse or usage error prints "<program>: <error>" and the usage hint and returns 2; any other
  /// exception prints "<program>: error: <what>" and returns 1.
  template <class Body>
  int run(int argc, const char* const* argv, Body&& body) {
    if (const auto status = parse_or_exit(argc, argv)) return *status;
    try {
      return std::forward<Body>(body)();
    } catch (const usage_error& e) {
      return usage_failure(e.what());
    } catch (const std::exception& e) {
      std::cerr << program_ << ": error: " << e.what() << "\n";
      return 1;
    }
  }

  /// Every option's effective value, keyed by its long name (what --config reads back).
  [[nodiscard]] nlohmann::json effective() const {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& e : entries_) j[e.key] = e.value();
    return j;
  }

  /// Writes effective() to `<dir>/config.json` (creating `dir`); returns the file's path.
  std::filesystem::path write_config(const std::filesystem::path& dir) const {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw io_error("cannot create '" + dir.string() + "': " + ec.message());
    const auto path = dir / "config.json";
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << effective().dump(2) << "\n";
    if (!f) throw io_error("cannot write '" + path.string() + "'");
    return path;
  }

  /// The generated --help text.
  [[nodiscard]] std::string help() const { return app_->help(); }

private:
  template <class T>
  static std::string to_text(const T& v) {
    if constexpr (std::is_same_v<T, std::filesystem::path>)
      return v.string();
    else
      return v;
  }

  /// A floating-point value as JSON: a float by its shortest decimal text (1e-05, not 9.99999974e-06).
  template <class T>
  static nlohmann::json real(T v) {
    if constexpr (std::is_same_v<T, float>) {
      char buf[32];
      const auto r = std::to_chars(buf, buf + sizeof buf, v);
      return nlohmann::json(std::stod(std::string(buf, r.ptr)));
    } else {
      return nlohmann::json(static_cast<double>(v));
    }
  }

  static std::uint64_t bounded(const std::string& what, const std::string& s, std::uint64_t min, std::uint64_t max) {
    const std::uint64_t n = parse_unsigned(what, s);
    if (n < min || n > max)
      throw invalid_argument(what + " needs an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                             "], got '" + s + "'");
    return n;
  }

  static std::vector<std::string> nonempty_list(const std::string& what, const std::string& s) {
    auto items = split_list(s);
    if (items.empty()) throw invalid_argument(what + " needs at least one item (a comma-separated list)");
    return items;
  }

  static std::string key_of(const std::string& name) {
    // "-n,--num-samples" -> "num-samples": the long name is the key.
    std::string key;
    for (const auto& part : CLI::detail::split(name, ','))
      if (part.size() > 2 && part.rfind("--", 0) == 0) key = part.substr(2);
    if (key.empty()) throw std::logic_error("option '" + name + "' needs a long name (--name)");
    return key;
  }

  void add_entry(const std::string& name, detail::ValueKind kind,
                 std::function<void(const std::string&, const std::string&)> check,
                 std::function<nlohmann::json()> value) {
    entries_.push_back({key_of(name), kind, std::move(check), std::move(value)});
  }

  /// An option whose text `convert(what, text)` turns into a T (throwing rltf::invalid_argument).
  template <class T, class Convert, class Value>
  CLI::Option* add(const std::string& name, T& v, const std::string& help, const std::string& type,
                   detail::ValueKind kind, Convert convert, Value value) {
    const std::string flag = "--" + key_of(name);
    auto* o = app_->add_option_function<std::string>(
        name,
        [&v, convert, flag](const std::string& s) {
          try {
            v = convert(flag, s);
          } catch (const invalid_argument& e) {
            throw CLI::ValidationError(e.what());
          }
        },
        help);
    o->type_name(type)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    if (const auto d = detail::display(value()); !d.empty()) o->default_str(d);
    add_entry(
        name, kind, [convert](const std::string& what, const std::string& s) { (void)convert(what, s); },
        std::move(value));
    return o;
  }

  /// Prints a usage error and returns 2.
  int usage_failure(const std::string& what) const {
    std::cerr << program_ << ": " << what << "\nRun with --help for more information.\n";
    return 2;
  }

  std::string program_;
  std::vector<detail::OptionEntry> entries_;
  std::shared_ptr<detail::JsonConfig> config_;
  std::unique_ptr<CLI::App> app_;
};

} // namespace programs
} // namespace rltf
