#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <rltf/core/error.hpp>
#include <rltf/train/options.hpp>
#include <rltf_programs/options.hpp>

#include "../support/scratch.hpp"

TEST_CASE("the parsing functions stand alone") {
  CHECK(rltf::parse_unsigned("steps", "18446744073709551615") == UINT64_MAX);
  CHECK(rltf::parse_number("x", "2.5") == 2.5);
  CHECK(rltf::parse_positive("x", "1e-9") == 1e-9);
  CHECK(rltf::split_list("").empty());
  CHECK(rltf::split_list("a") == std::vector<std::string>{"a"});
  CHECK(rltf::split_list(",a,,b,") == std::vector<std::string>{"a", "b"});
  CHECK_THROWS_WITH_AS((void)rltf::parse_unsigned("--k", "+1"), "--k needs a non-negative integer, got '+1'",
                       rltf::invalid_argument);
}

// ---- rltf::programs::Cli (rltf_programs/options.hpp, on CLI11) ----------------------------------

namespace {

namespace fs = std::filesystem;

/// What a program built on Cli reads, with every kind of option and the shared vocabulary.
struct Args {
  fs::path out;
  std::uint64_t seed = 7;
  std::size_t workers = 0;
  rltf::ProgressMode progress = rltf::ProgressMode::automatic;
  std::vector<std::size_t> ks{1, 10};
  std::string dataset = "humaneval";
  std::size_t num_samples = 4;
  double timeout = 3.0;
  float lr = 1e-5F;
  double shift = 0.0;
  std::vector<std::string> names{"a"};
  std::optional<std::size_t> cap;
  bool quick = false;
};

/// A Cli bound to `a`; the caller parses.
std::unique_ptr<rltf::programs::Cli> cli_for(Args& a) {
  auto cli = std::make_unique<rltf::programs::Cli>("prog", "A test program.");
  cli->out(a.out);
  cli->seed(a.seed);
  cli->workers(a.workers);
  cli->progress(a.progress);
  cli->ks(a.ks);
  cli->dataset(a.dataset);
  cli->num_samples(a.num_samples);
  cli->timeout(a.timeout);
  cli->positive("--lr", a.lr, "learning rate");
  cli->number("--shift", a.shift, "a shift");
  cli->list("--names", a.names, "names");
  cli->count("--cap", a.cap, "an optional cap", 2);
  cli->flag("--quick", a.quick, "fewer steps");
  return cli;
}

Args parse_cli(std::vector<const char*> argv) {
  argv.insert(argv.begin(), "prog");
  Args a;
  cli_for(a)->parse(static_cast<int>(argv.size()), argv.data());
  return a;
}

std::string cli_error(std::vector<const char*> argv) {
  try {
    (void)parse_cli(std::move(argv));
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return "(no error)";
}

using TempFile = rltf_test::ScratchFile;

} // namespace

TEST_CASE("Cli reads --flag value and --flag=value of every kind") {
  const auto a = parse_cli({"--out=dir", "--seed",       "42",        "--workers=3", "--progress",
                            "lines",     "--k=1,,5,100", "--dataset", "mbpp",        "--num-samples=20",
                            "--timeout", "0.5",          "--lr=3e-5", "--shift",     "-1.5",
                            "--names",   "x,y",          "--cap",     "9",           "--quick"});
  CHECK(a.out == "dir");
  CHECK(a.seed == 42);
  CHECK(a.workers == 3);
  CHECK(a.progress == rltf::ProgressMode::lines);
  CHECK(a.ks == std::vector<std::size_t>{1, 5, 100});
  CHECK(a.dataset == "mbpp");
  CHECK(a.num_samples == 20);
  CHECK(a.timeout == 0.5);
  CHECK(a.lr == 3e-5F);
  CHECK(a.shift == -1.5);
  CHECK(a.names == std::vector<std::string>{"x", "y"});
  CHECK(a.cap == std::optional<std::size_t>(9));
  CHECK(a.quick);
  // Defaults stay when a flag is absent; the last of a repeated flag wins.
  const auto d = parse_cli({"--seed", "1", "--seed", "2"});
  CHECK(d.seed == 2);
  CHECK(d.ks == std::vector<std::size_t>{1, 10});
  CHECK_FALSE(d.cap.has_value());
  CHECK_FALSE(d.quick);
  CHECK(parse_cli({"--quick=false"}).quick == false);
}

TEST_CASE("Cli errors name the flag and the text it got") {
  CHECK(cli_error({"--seed", "-3"}) == "--seed needs a non-negative integer, got '-3'");
  CHECK(cli_error({"--seed=12x"}) == "--seed needs a non-negative integer, got '12x'");
  CHECK(cli_error({"--num-samples", "0"}) == "--num-samples needs an integer in [1, 18446744073709551615], got '0'");
  CHECK(cli_error({"--cap", "1"}) == "--cap needs an integer in [2, 18446744073709551615], got '1'");
  CHECK(cli_error({"--lr", "0"}) == "--lr needs a positive number, got '0'");
  CHECK(cli_error({"--lr", "fast"}) == "--lr needs a number, got 'fast'");
  CHECK(cli_error({"--timeout", "1e6"}) == "--timeout needs a number in (0, 86400.0], got '1e6'");
  CHECK(cli_error({"--shift", "nan"}) == "--shift needs a number, got 'nan'");
  CHECK(cli_error({"--k", ",,"}) == "--k needs at least one item (a comma-separated list)");
  CHECK(cli_error({"--k", "1,0"}) == "--k needs an integer in [1, 18446744073709551615], got '0'");
  CHECK(cli_error({"--k", "1,two"}) == "--k needs a non-negative integer, got 'two'");
  CHECK(cli_error({"--progress", "fancy"}) == "--progress must be one of auto, bar, lines, off; got 'fancy'");
  CHECK(cli_error({"--verbose"}) == "The following argument was not expected: --verbose");
  CHECK(cli_error({"--quick", "--seed"}) == "--seed: 1 required N missing");
}

TEST_CASE("Cli --config reads a JSON file keyed by the long flag names") {
  const TempFile run("run.json", R"({"seed": 5, "workers": 2, "progress": "off", "k": [1, 2], "names": "p,q",
                                     "lr": 0.25, "quick": true, "cap": null, "out": "o"})");
  const auto a = parse_cli({"--config", run.path.c_str()});
  CHECK(a.seed == 5);
  CHECK(a.workers == 2);
  CHECK(a.progress == rltf::ProgressMode::off);
  CHECK(a.ks == std::vector<std::size_t>{1, 2});
  CHECK(a.names == std::vector<std::string>{"p", "q"});
  CHECK(a.lr == 0.25F);
  CHECK(a.quick);
  CHECK_FALSE(a.cap.has_value());
  CHECK(a.out == "o");
  // The command line wins over the file, in either order.
  CHECK(parse_cli({"--seed=9", "--config", run.path.c_str()}).seed == 9);
  CHECK(parse_cli({"--config", run.path.c_str(), "--seed", "9"}).seed == 9);

  const TempFile unknown("unknown.json", R"({"seed": 1, "jobs": 4})");
  CHECK(cli_error({"--config", unknown.path.c_str()}) ==
        "'" + unknown.path.string() + "', key 'jobs': unknown option (keys are the long flag names)");
  const TempFile type("type.json", R"({"workers": "four"})");
  CHECK(cli_error({"--config", type.path.c_str()}) ==
        "'" + type.path.string() + "', key 'workers' needs a non-negative integer, got \"four\"");
  const TempFile flag("flag.json", R"({"quick": 1})");
  CHECK(cli_error({"--config", flag.path.c_str()}) ==
        "'" + flag.path.string() + "', key 'quick' needs true or false, got 1");
  const TempFile negative("negative.json", R"({"seed": -1})");
  CHECK(cli_error({"--config", negative.path.c_str()}) ==
        "'" + negative.path.string() + "', key 'seed' needs a non-negative integer, got '-1'");
  const TempFile choice("choice.json", R"({"progress": "fancy"})");
  CHECK(cli_error({"--config", choice.path.c_str()}) ==
        "'" + choice.path.string() + "', key 'progress' must be one of auto, bar, lines, off; got 'fancy'");
  const TempFile bad("bad.json", R"({"seed": )");
  CHECK(cli_error({"--config", bad.path.c_str()}).rfind("'" + bad.path.string() + "' is not valid JSON: ", 0) == 0);
  const TempFile array("array.json", R"([1, 2])");
  CHECK(cli_error({"--config", array.path.c_str()}) ==
        "'" + array.path.string() + "' must hold a JSON object keyed by long flag names");
}

TEST_CASE("Cli writes the effective configuration, and --config reads it back to the same values") {
  Args a;
  auto cli = cli_for(a);
  const char* argv[] = {"prog", "--seed", "3", "--k", "1,100", "--progress", "bar", "--cap", "4", "--quick"};
  cli->parse(static_cast<int>(std::size(argv)), argv);
  const nlohmann::json expected = {{"out", ""},         {"seed", 3},      {"workers", 0},
                                   {"progress", "bar"}, {"k", {1, 100}},  {"dataset", "humaneval"},
                                   {"num-samples", 4},  {"timeout", 3.0}, {"lr", 1e-5},
                                   {"shift", 0.0},      {"names", {"a"}}, {"cap", 4},
                                   {"quick", true}};
  CHECK(cli->effective() == expected);

  const TempFile dir("effective", "");
  fs::remove_all(dir.path);
  const auto file = cli->write_config(dir.path);
  CHECK(file == dir.path / "config.json");
  Args b;
  auto again = cli_for(b);
  const std::string path = file.string();
  const char* argv2[] = {"prog", "--config", path.c_str()};
  again->parse(3, argv2);
  CHECK(again->effective() == expected);
  CHECK(b.cap == std::optional<std::size_t>(4));
  CHECK(b.progress == rltf::ProgressMode::bar);
}

TEST_CASE("Cli::run: --help prints the generated help (0), usage errors 2, failures 1") {
  Args a;
  auto cli = cli_for(a);
  const auto help = cli->help();
  CHECK(help.find("A test program.") != std::string::npos);
  CHECK(help.find("--num-samples N") != std::string::npos);
  CHECK(help.find("--progress auto|bar|lines|off") != std::string::npos);
  CHECK(help.find("--config FILE") != std::string::npos);
  CHECK(help.find("--k N,N,...=1,10 ") != std::string::npos); // the defaults
  CHECK(help.find("--lr X=1e-05 ") != std::string::npos);
  const char* ok[] = {"prog", "--seed", "1"};
  CHECK(cli_for(a)->run(3, ok, [] { return 0; }) == 0);
  CHECK(a.seed == 1);
  const char* bad[] = {"prog", "--seed", "x"};
  CHECK(cli_for(a)->run(3, bad, [] { return 0; }) == 2);
  CHECK(cli_for(a)->run(3, ok, []() -> int { throw rltf::programs::usage_error("give --out"); }) == 2);
  CHECK(cli_for(a)->run(3, ok, []() -> int { throw rltf::io_error("disk full"); }) == 1);
  const char* h[] = {"prog", "--help"};
  CHECK(cli_for(a)->run(2, h, []() -> int { throw std::logic_error("not run"); }) == 0);
}
