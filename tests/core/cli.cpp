#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <rltf_programs/cli.hpp>
#include <rltf/core/error.hpp>
#include <rltf/train/options.hpp>

namespace {

/// Parses `argv` as a small program would; returns what it read.
struct Parsed {
  std::string out;
  std::uint64_t seed = 0;
  double lr = 0.0;
  double shift = 0.0;
  std::vector<std::uint64_t> seeds;
  std::vector<std::string> names;
  rltf::ProgressMode progress = rltf::ProgressMode::automatic;
  bool quick = false;
  std::vector<std::string> positional;
};

Parsed parse(std::vector<const char*> argv) {
  argv.insert(argv.begin(), "prog");
  Parsed p;
  for (rltf::CommandLine args(static_cast<int>(argv.size()), argv.data()); args.next();) {
    if (args.is("--out"))
      p.out = args.value();
    else if (args.is("--seed"))
      p.seed = args.unsigned_value();
    else if (args.is("--lr"))
      p.lr = args.positive_value();
    else if (args.is("--shift"))
      p.shift = args.number_value();
    else if (args.is("--seeds"))
      p.seeds = args.unsigned_list_value();
    else if (args.is("--names"))
      p.names = args.list_value();
    else if (args.is("--progress"))
      p.progress = args.choice_value(rltf::progress_modes);
    else if (args.is("--quick"))
      p.quick = true;
    else if (args.positional())
      p.positional.push_back(args.flag());
    else
      args.unknown();
  }
  return p;
}

std::string error_of(std::vector<const char*> argv) {
  try {
    (void)parse(std::move(argv));
  } catch (const rltf::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

} // namespace

TEST_CASE("CommandLine reads flags, values, numbers, lists and choices") {
  const auto p = parse({"--out", "dir", "--seed", "42", "--lr", "3e-5", "--shift", "-1.5", "--seeds", "1,2,,3",
                        "--names", "a,b", "--progress", "lines", "--quick", "file.jsonl", "-"});
  CHECK(p.out == "dir");
  CHECK(p.seed == 42);
  CHECK(p.lr == 3e-5);
  CHECK(p.shift == -1.5);
  CHECK(p.seeds == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(p.names == std::vector<std::string>{"a", "b"});
  CHECK(p.progress == rltf::ProgressMode::lines);
  CHECK(p.quick);
  CHECK(p.positional == std::vector<std::string>{"file.jsonl", "-"});
  CHECK(parse({"--progress", "auto"}).progress == rltf::ProgressMode::automatic);
  CHECK(parse({}).out.empty());
}

TEST_CASE("CommandLine errors name the flag and what it got") {
  CHECK(error_of({"--out"}) == "--out needs a value");
  CHECK(error_of({"--seed", "-3"}) == "--seed needs a non-negative integer, got '-3'");
  CHECK(error_of({"--seed", "12x"}) == "--seed needs a non-negative integer, got '12x'");
  CHECK(error_of({"--seed", ""}) == "--seed needs a non-negative integer, got ''");
  CHECK(error_of({"--seed", "99999999999999999999999"}) ==
        "--seed needs a non-negative integer, got '99999999999999999999999'");
  CHECK(error_of({"--lr", "0"}) == "--lr needs a positive number, got '0'");
  CHECK(error_of({"--lr", "fast"}) == "--lr needs a number, got 'fast'");
  CHECK(error_of({"--shift", "inf"}) == "--shift needs a number, got 'inf'");
  CHECK(error_of({"--shift", "nan"}) == "--shift needs a number, got 'nan'");
  CHECK(error_of({"--seeds", ",,"}) == "--seeds needs at least one item (a comma-separated list)");
  CHECK(error_of({"--seeds", "1,two"}) == "--seeds needs a non-negative integer, got 'two'");
  CHECK(error_of({"--progress", "fancy"}) == "--progress must be one of auto, bar, lines, off; got 'fancy'");
  CHECK(error_of({"--verbose"}) == "unknown option '--verbose'");
  CHECK(error_of({"--quick", "--seed"}) == "--seed needs a value");
}

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
