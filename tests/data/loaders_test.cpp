// Loaders on the bundled datasets and the APPS fixtures; malformed files.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../support/scratch.hpp"
#include "rltf/data/datasets.hpp"
#include "rltf/detail/file.hpp"

namespace rltf_loaders_test {

inline const std::string data_dir = RLTF_SOURCE_DIR "/data/";
inline const std::string fixtures = RLTF_SOURCE_DIR "/tests/fixtures/";

using temp_file = rltf_test::ScratchFile;

template <class F>
rltf::parse_error expect_parse_error(F&& f) {
  try {
    f();
  } catch (const rltf::parse_error& e) {
    return e;
  }
  FAIL("expected rltf::parse_error");
  return rltf::parse_error("", 0, "", "");
}

} // namespace rltf_loaders_test

namespace lt = rltf_loaders_test;

TEST_CASE("HumanEval: 164 problems whose program is prompt + completion") {
  const auto problems = rltf::data::load_humaneval(lt::data_dir + "HumanEval.jsonl.gz");
  REQUIRE(problems.size() == 164);
  const auto& p = problems[0];
  CHECK(p.task_id == "HumanEval/0");
  CHECK(p.entry_point == "has_close_elements");
  CHECK(p.prompt_is_code);
  REQUIRE(p.solutions.size() == 1);
  REQUIRE(p.tests.tests.size() == 1);
  CHECK(p.tests.tests[0].kind == rltf::TestKind::assertion);
  CHECK(p.tests.tests[0].code.find("def check(candidate):") != std::string::npos);
  CHECK(p.tests.tests[0].code.ends_with("check(has_close_elements)\n"));
  const auto program = rltf::make_program(p, p.solutions[0]);
  CHECK(program.source == p.prompt + p.solutions[0]);
  CHECK(program.completion_begin == p.prompt.size());
  CHECK(problems[163].task_id == "HumanEval/163");
}

TEST_CASE("MBPP: 974 problems; code, then setup, then each assert") {
  const auto problems = rltf::data::load_mbpp(lt::data_dir + "mbpp.jsonl");
  REQUIRE(problems.size() == 974);
  CHECK(problems[0].task_id == "mbpp/1");
  CHECK_FALSE(problems[0].prompt_is_code);
  CHECK(problems[0].tests.tests.size() == 3);
  CHECK(problems[0].prompt.find("Your code should pass these tests:") != std::string::npos);
  CHECK(problems[0].prompt.find(problems[0].tests.tests[0].code) != std::string::npos);
  const auto it = std::find_if(problems.begin(), problems.end(), [](const auto& p) { return p.task_id == "mbpp/367"; });
  REQUIRE(it != problems.end());
  CHECK_FALSE(it->tests.setup_code.empty());
  CHECK(it->entry_point == "is_tree_balanced");
  const auto bare =
      rltf::data::load_mbpp(lt::data_dir + "mbpp.jsonl", rltf::data::MbppOptions{.tests_in_prompt = false});
  CHECK(bare[0].prompt.find("assert") == std::string::npos);
}

TEST_CASE("HumanEval+ and MBPP+: one test per input, bounded by max_plus_inputs") {
  const auto he = rltf::data::load_humaneval_plus(lt::data_dir + "HumanEvalPlus.jsonl.gz",
                                                  rltf::data::PlusOptions{.max_plus_inputs = 5});
  REQUIRE(he.size() == 164);
  CHECK(he[0].tests.tests.size() == 7 + 5); // 7 base inputs
  CHECK(he[0].tests.setup_code.find("__rltf_plus_check") != std::string::npos);
  CHECK(he[0].prompt_is_code);
  const auto plus_only = rltf::data::load_humaneval_plus(
      lt::data_dir + "HumanEvalPlus.jsonl.gz", rltf::data::PlusOptions{.base_inputs = false, .max_plus_inputs = 3});
  CHECK(plus_only[0].tests.tests.size() == 3);
  const auto mp =
      rltf::data::load_mbpp_plus(lt::data_dir + "MbppPlus.jsonl.gz", rltf::data::PlusOptions{.max_plus_inputs = 0});
  REQUIRE(mp.size() == 378);
  CHECK(mp[0].task_id == "Mbpp/2");
  CHECK(mp[0].entry_point == "similar_elements");
  CHECK_FALSE(mp[0].prompt_is_code);
  CHECK(mp[0].tests.tests.size() == 3);
  CHECK(mp[0].tests.setup_code.find("tuple(a) for a in inp") != std::string::npos);
}

TEST_CASE("APPS: stdin/stdout and call-based folders") {
  const auto problems = rltf::data::load_apps(lt::fixtures + "apps");
  REQUIRE(problems.size() == 4);
  const auto& stdio = problems[0];
  CHECK(stdio.task_id == "0000");
  CHECK(stdio.tests.fn_name.empty());
  REQUIRE(stdio.tests.tests.size() == 4);
  CHECK(stdio.tests.tests[1].kind == rltf::TestKind::stdio);
  CHECK(stdio.tests.tests[1].input == "1\n7\n");
  CHECK(stdio.tests.tests[1].expected == "7\nODD\n");
  CHECK(stdio.solutions.size() == 2);
  CHECK(stdio.prompt.starts_with("\nQUESTION:\nPolycarp"));
  CHECK(stdio.prompt.ends_with("\nUse Standard Input format\n\nANSWER:\n"));
  const auto& leet = problems[1];
  CHECK(leet.tests.fn_name == "twoSum");
  CHECK(leet.tests.tests[0].kind == rltf::TestKind::call);
  CHECK(leet.tests.tests[0].input == "[[2,7,11,15],9]");
  CHECK(leet.tests.tests[0].expected == "[0,1]");
  CHECK(leet.prompt.find("class Solution:") != std::string::npos);
  CHECK(leet.prompt.ends_with("\nUse Call-Based format\n\nANSWER:\n"));
  // Lists of lines are joined.
  CHECK(problems[3].tests.tests[0].input == "2\n1\n0.5");
  // One folder on its own.
  CHECK(rltf::data::load_apps(lt::fixtures + "apps/0002").size() == 1);
  CHECK(rltf::data::load_dataset("apps:" + lt::fixtures + "apps", lt::data_dir).size() == 4);
}

TEST_CASE("APPS: malformed folders") {
  auto e = lt::expect_parse_error([] { (void)rltf::data::load_apps(lt::fixtures + "apps-bad/mismatch"); });
  CHECK(e.field() == "outputs");
  CHECK(e.file().ends_with("mismatch/input_output.json"));
  e = lt::expect_parse_error([] { (void)rltf::data::load_apps(lt::fixtures + "apps-bad/badjson"); });
  CHECK(e.line() == 2);
  e = lt::expect_parse_error([] { (void)rltf::data::load_apps(lt::fixtures + "apps-bad/badcall"); });
  CHECK(e.field() == "inputs[0]");
  CHECK_THROWS_AS((void)rltf::data::load_apps(lt::fixtures + "no-such-folder"), rltf::io_error);
  CHECK_THROWS_AS((void)rltf::data::load_apps(lt::data_dir + "models"), rltf::io_error);
}

TEST_CASE("malformed JSON Lines name the file, the line and the field") {
  const std::string good =
      R"({"task_id": "HumanEval/0", "prompt": "def f():\n", "canonical_solution": "    return 1\n", "test": "def check(c):\n    assert c() == 1\n", "entry_point": "f"})";
  SUBCASE("a missing field") {
    lt::temp_file f("missing.jsonl", good + "\n\n" + R"({"task_id": "HumanEval/1", "prompt": "x"})" + "\n");
    const auto e = lt::expect_parse_error([&] { (void)rltf::data::load_humaneval(f.path); });
    CHECK(e.file() == f.path.string());
    CHECK(e.line() == 3);
    CHECK(e.field() == "canonical_solution");
    CHECK(std::string(e.what()).find(":3: field 'canonical_solution': missing") != std::string::npos);
  }
  SUBCASE("a field of the wrong type") {
    lt::temp_file f("type.jsonl", R"({"task_id": 1, "text": "t", "code": "c", "test_list": ["assert 1", 2]})");
    const auto e = lt::expect_parse_error([&] { (void)rltf::data::load_mbpp(f.path); });
    CHECK(e.line() == 1);
    CHECK(e.field() == "test_list[1]");
  }
  SUBCASE("invalid JSON") {
    lt::temp_file f("bad.jsonl", good + "\n{\"task_id\": \n");
    const auto e = lt::expect_parse_error([&] { (void)rltf::data::load_humaneval(f.path); });
    CHECK(e.line() == 2);
  }
  SUBCASE("a corrupt gzip file") {
    std::string gz = rltf::detail::read_file(lt::data_dir + "HumanEval.jsonl.gz", std::size_t{1} << 30);
    gz.resize(gz.size() / 2);
    lt::temp_file f("half.jsonl.gz", gz);
    const auto e = lt::expect_parse_error([&] { (void)rltf::data::load_humaneval(f.path); });
    CHECK(e.field() == "gzip");
  }
  SUBCASE("an EvalPlus input that is not an argument list") {
    lt::temp_file f(
        "plus.jsonl",
        R"({"task_id": "HumanEval/0", "prompt": "def f(x):\n", "canonical_solution": "    return x\n", "entry_point": "f", "atol": 0, "base_input": [[1], 2], "plus_input": []})");
    const auto e = lt::expect_parse_error([&] { (void)rltf::data::load_humaneval_plus(f.path); });
    CHECK(e.field() == "base_input[1]");
  }
}

TEST_CASE("samples files round-trip and accept integer task ids") {
  std::vector<rltf::Sample> samples(2);
  samples[0].task_id = "HumanEval/0";
  samples[0].text = "    return 1\n";
  samples[1].task_id = "mbpp/2";
  samples[1].text = "def f():\n    return \"\\u00e9\xc3\xa9\"\n";
  lt::temp_file f("samples.jsonl", "");
  rltf::data::write_samples(f.path, samples);
  const auto back = rltf::data::read_samples(f.path);
  REQUIRE(back.size() == 2);
  CHECK(back[0].task_id == "HumanEval/0");
  CHECK(back[0].text == samples[0].text);
  CHECK(back[1].text == samples[1].text);
  lt::temp_file g("ints.jsonl", "{\"task_id\": 11, \"completion\": \"x\", \"extra\": [1]}\n");
  const auto ints = rltf::data::read_samples(g.path);
  CHECK(ints[0].task_id == "11");
  lt::temp_file h("nocompletion.jsonl", "{\"task_id\": 11}\n");
  const auto e = lt::expect_parse_error([&] { (void)rltf::data::read_samples(h.path); });
  CHECK(e.field() == "completion");
  CHECK_THROWS_AS(rltf::data::write_samples("/nonexistent/dir/samples.jsonl", samples), rltf::io_error);
}

TEST_CASE("load_dataset by name") {
  CHECK(rltf::data::load_dataset("humaneval", lt::data_dir).size() == 164);
  CHECK(rltf::data::load_dataset("mbpp:" + lt::data_dir + "mbpp.jsonl", "/nonexistent").size() == 974);
  CHECK_THROWS_AS((void)rltf::data::load_dataset("nope", lt::data_dir), rltf::invalid_argument);
  CHECK_THROWS_AS((void)rltf::data::load_dataset("humaneval", "/nonexistent"), rltf::io_error);
  CHECK_THROWS_AS((void)rltf::data::load_dataset("apps", lt::data_dir), rltf::invalid_argument);
}
