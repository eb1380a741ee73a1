#include <doctest/doctest.h>

#include <cctype>
#include <map>
#include <set>
#include <string>

#include "rltf_demo/suite.hpp"
#include "rltf/exec/python_executor.hpp"

namespace demo_suite_test {
// The parameters of a problem are the numbers, quoted strings and function name in its prompt;
// each word is tagged with its position, since a value may be unseen in one role (the factor) and
// seen in another (the offset).
std::set<std::string> tokens_of(const std::string& prompt) {
  std::set<std::string> out;
  std::string cur;
  for (char c : prompt) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '\'') {
      cur += c;
    } else {
      if (!cur.empty()) out.insert(std::to_string(out.size()) + ":" + cur);
      cur.clear();
    }
  }
  if (!cur.empty()) out.insert(std::to_string(out.size()) + ":" + cur);
  return out;
}
} // namespace demo_suite_test

TEST_CASE("demo suite: deterministic from the seed, with all families") {
  const auto a = rltf::demo::make_suite();
  const auto b = rltf::demo::make_suite();
  const auto c = rltf::demo::make_suite({.seed = 7});
  CHECK(rltf::demo::family_names().size() >= 10);
  const auto n = rltf::demo::family_names().size();
  CHECK(a.sft.size() == 48 * n);
  CHECK(a.rl.size() == 48 * n);
  CHECK(a.heldout.size() == 16 * n);
  REQUIRE(a.heldout.size() == b.heldout.size());
  for (std::size_t i = 0; i < a.heldout.size(); ++i) {
    CHECK(a.heldout[i].prompt == b.heldout[i].prompt);
    CHECK(a.heldout[i].tests.tests.size() == b.heldout[i].tests.tests.size());
    CHECK(a.heldout[i].tests.tests[0].code == b.heldout[i].tests.tests[0].code);
  }
  std::size_t differ = 0;
  for (std::size_t i = 0; i < a.sft.size(); ++i) differ += a.sft[i].prompt != c.sft[i].prompt;
  CHECK(differ > a.sft.size() / 2);
  // A pinned instance: the generator must not drift silently.
  CHECK(a.heldout[0].prompt == "# apply(x): x plus 28\n");
  CHECK(a.heldout[0].solutions.at(0) == "def apply(x):\n    return x + 28\n");
  CHECK(a.heldout[0].tests.tests[0].code == "assert apply(45) == 73");
}

TEST_CASE("demo suite: well-formed problems, five assertion tests each") {
  const auto s = rltf::demo::make_suite();
  for (const auto* split : {&s.sft, &s.rl, &s.heldout}) {
    for (const auto& p : *split) {
      CHECK(p.prompt_is_code);
      CHECK(p.prompt.rfind("# " + p.entry_point + "(", 0) == 0);
      REQUIRE(p.solutions.size() == 1);
      CHECK(p.solutions[0].rfind("def " + p.entry_point + "(", 0) == 0);
      CHECK(p.tests.tests.size() == 5);
      for (const auto& t : p.tests.tests) {
        CHECK(t.kind == rltf::TestKind::assertion);
        CHECK(t.code.rfind("assert " + p.entry_point + "(", 0) == 0);
      }
    }
  }
}

TEST_CASE("demo suite: splits are disjoint and held-out instances are novel") {
  const auto s = rltf::demo::make_suite();
  std::set<std::string> sft, rl, heldout;
  for (const auto& p : s.sft) sft.insert(p.prompt);
  for (const auto& p : s.rl) rl.insert(p.prompt);
  for (const auto& p : s.heldout) heldout.insert(p.prompt);
  CHECK(sft.size() == s.sft.size());
  CHECK(heldout.size() == s.heldout.size());
  for (const auto& h : heldout) {
    CHECK(sft.count(h) == 0);
    CHECK(rl.count(h) == 0);
  }
  for (const auto& r : rl) CHECK(sft.count(r) == 0);
  // Every held-out prompt carries a word (a name, constant or quoted string) that no SFT prompt
  // of its family has.
  auto family = [](const rltf::Problem& p) {
    const auto a = p.task_id.find('/', 5);
    return p.task_id.substr(a + 1, p.task_id.rfind('/') - a - 1);
  };
  std::map<std::string, std::set<std::string>> sft_words;
  for (const auto& p : s.sft)
    for (const auto& w : demo_suite_test::tokens_of(p.prompt)) sft_words[family(p)].insert(w);
  CHECK(sft_words.size() == rltf::demo::family_names().size());
  for (const auto& p : s.heldout) {
    bool novel = false;
    for (const auto& w : demo_suite_test::tokens_of(p.prompt)) novel = novel || sft_words[family(p)].count(w) == 0;
    CHECK_MESSAGE(novel, p.prompt);
  }
}

TEST_CASE("demo suite: options") {
  const auto s = rltf::demo::make_suite({.sft_per_family = 3,
                                         .rl_per_family = 2,
                                         .heldout_per_family = 1,
                                         .tests_per_problem = 2,
                                         .families = {"add", "clip"}});
  CHECK(s.sft.size() == 6);
  CHECK(s.rl.size() == 4);
  CHECK(s.heldout.size() == 2);
  CHECK(s.sft[0].tests.tests.size() == 2);
  CHECK_THROWS_AS((void)rltf::demo::make_suite({.families = {"nope"}}), rltf::invalid_argument);
  CHECK_THROWS_AS((void)rltf::demo::make_suite({.unseen_fraction = 1.0}), rltf::invalid_argument);
}

TEST_CASE("demo suite: every reference solution passes its tests under the real executor, and wrong ones fail") {
  const auto s = rltf::demo::make_suite();
  std::vector<rltf::Job> jobs;
  for (const auto* split : {&s.sft, &s.rl, &s.heldout})
    for (const auto& p : *split) jobs.push_back(rltf::Job{rltf::make_program(p, p.solutions[0]), p.tests, {}});
  rltf::PythonExecutor executor{rltf::PythonExecutorOptions{.python = RLTF_PYTHON, .workers = 2}};
  const auto results = executor.run_all(jobs);
  REQUIRE(results.size() == jobs.size());
  std::size_t passed = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    CAPTURE(jobs[i].program.source);
    CHECK(results[i].outcome == rltf::Outcome::pass);
    CHECK(results[i].passed == 5);
    passed += results[i].outcome == rltf::Outcome::pass;
  }
  CHECK(passed == jobs.size());
  // Another instance's solution (same family, other constant or name) does not pass: the tests
  // check behaviour, and a near miss earns a partial pass ratio on some families.
  std::vector<rltf::Job> wrong;
  for (std::size_t i = 0; i + 1 < s.heldout.size(); i += 2)
    wrong.push_back(rltf::Job{rltf::make_program(s.heldout[i], s.heldout[i + 1].solutions[0]), s.heldout[i].tests, {}});
  const auto bad = executor.run_all(wrong);
  std::size_t partial = 0;
  for (const auto& r : bad) {
    CHECK(r.outcome != rltf::Outcome::pass);
    partial += r.outcome == rltf::Outcome::failure && r.passed > 0;
  }
  CHECK(partial > 0);
}
