#include <doctest/doctest.h>

#include <cctype>
#include <map>
#include <set>
#include <string>

#include "rltf/exec/python_executor.hpp"
#include "rltf_demo/suite.hpp"

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
/// The older suite at its historical size.
inline rltf::demo::Suite names(std::uint64_t seed = 2024) {
  return rltf::demo::make_suite(
      {.seed = seed, .kind = rltf::demo::SuiteKind::names, .sft_per_family = 48, .rl_per_family = 48});
}
} // namespace demo_suite_test

TEST_CASE("demo names suite: deterministic from the seed, with all families") {
  const auto a = demo_suite_test::names();
  const auto b = demo_suite_test::names();
  const auto c = demo_suite_test::names(7);
  CHECK(rltf::demo::family_names(rltf::demo::SuiteKind::names).size() >= 10);
  const auto n = rltf::demo::family_names(rltf::demo::SuiteKind::names).size();
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

TEST_CASE("demo names suite: well-formed problems, five assertion tests each") {
  const auto s = demo_suite_test::names();
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

TEST_CASE("demo names suite: splits are disjoint and held-out instances are novel") {
  const auto s = demo_suite_test::names();
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
  CHECK(sft_words.size() == rltf::demo::family_names(rltf::demo::SuiteKind::names).size());
  for (const auto& p : s.heldout) {
    bool novel = false;
    for (const auto& w : demo_suite_test::tokens_of(p.prompt)) novel = novel || sft_words[family(p)].count(w) == 0;
    CHECK_MESSAGE(novel, p.prompt);
  }
}

TEST_CASE("demo names suite: options") {
  const auto s = rltf::demo::make_suite({.kind = rltf::demo::SuiteKind::names,
                                         .sft_per_family = 3,
                                         .rl_per_family = 2,
                                         .heldout_per_family = 1,
                                         .tests_per_problem = 2,
                                         .families = {"add", "clip"}});
  CHECK(s.sft.size() == 6);
  CHECK(s.rl.size() == 4);
  CHECK(s.heldout.size() == 2);
  CHECK(s.sft[0].tests.tests.size() == 2);
  CHECK_THROWS_AS((void)rltf::demo::make_suite({.kind = rltf::demo::SuiteKind::names, .families = {"nope"}}),
                  rltf::invalid_argument);
  CHECK_THROWS_AS((void)rltf::demo::make_suite({.kind = rltf::demo::SuiteKind::names, .unseen_fraction = 1.0}),
                  rltf::invalid_argument);
}

TEST_CASE("demo names suite: every reference solution passes its tests under the real executor, and wrong ones fail") {
  const auto s = demo_suite_test::names();
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

// ---- the bugs suite (the default) ----------------------------------------------------------

namespace demo_suite_test {
/// Runs every (program, tests) pair through the real executor.
inline std::vector<rltf::ExecutionResult> run(const std::vector<std::pair<const rltf::Problem*, std::string>>& jobs) {
  std::vector<rltf::Job> js;
  for (const auto& [p, code] : jobs) js.push_back(rltf::Job{rltf::make_program(*p, code), p->tests, {}});
  rltf::PythonExecutor executor{rltf::PythonExecutorOptions{.python = RLTF_PYTHON, .workers = 2}};
  return executor.run_all(js);
}
std::string family(const rltf::Problem& p) {
  const auto a = p.task_id.find('/', 5);
  return p.task_id.substr(a + 1, p.task_id.rfind('/') - a - 1);
}
} // namespace demo_suite_test

TEST_CASE("demo bugs suite: the default; deterministic per seed, the seed changes it") {
  const rltf::demo::SuiteOptions defaults;
  CHECK(defaults.kind == rltf::demo::SuiteKind::bugs);
  CHECK(defaults.flaw_fraction == 0.5);
  const auto a = rltf::demo::make_suite();
  const auto b = rltf::demo::make_suite();
  const auto c = rltf::demo::make_suite({.seed = 7});
  const auto n = rltf::demo::family_names().size();
  CHECK(n == 8);
  CHECK(a.sft.size() == 24 * n);
  CHECK(a.rl.size() == 24 * n);
  CHECK(a.heldout.size() == 16 * n);
  REQUIRE(a.sft_clean.size() == a.sft.size());
  REQUIRE(a.sft_flawed.size() == a.sft.size());
  for (std::size_t i = 0; i < a.sft.size(); ++i) {
    CHECK(a.sft[i].prompt == b.sft[i].prompt);
    CHECK(a.sft[i].solutions == b.sft[i].solutions);
    CHECK(a.sft[i].tests.tests.size() == b.sft[i].tests.tests.size());
    CHECK(a.sft_flawed[i] == b.sft_flawed[i]);
    // A flawed reference differs from its clean one, a clean one equals it.
    CHECK((a.sft[i].solutions != a.sft_clean[i].solutions) == a.sft_flawed[i]);
    CHECK(a.sft[i].prompt == a.sft_clean[i].prompt);
  }
  std::size_t differ = 0;
  for (std::size_t i = 0; i < a.sft.size(); ++i) differ += a.sft[i].prompt != c.sft[i].prompt;
  CHECK(differ > a.sft.size() / 2);
  // About half the references are flawed (192 draws of probability 0.5), in every family.
  std::map<std::string, std::size_t> flawed;
  std::size_t total = 0;
  for (std::size_t i = 0; i < a.sft.size(); ++i) {
    flawed[demo_suite_test::family(a.sft[i])] += a.sft_flawed[i];
    total += a.sft_flawed[i];
  }
  CHECK(total > a.sft.size() * 2 / 5);
  CHECK(total < a.sft.size() * 3 / 5);
  CHECK(flawed.size() == n);
  for (const auto& [f, k] : flawed) {
    CAPTURE(f);
    CHECK(k > 0);
    CHECK(k < 24);
  }
  // Pinned instances: the generator must not drift silently.
  CHECK(a.heldout[0].prompt == "# above(xs): the items of xs greater than 7, each plus 4\n");
  CHECK(a.heldout[0].solutions.at(0) == "def above(xs):\n    return [v + 4 for v in xs if v > 7]\n");
  CHECK(a.heldout[0].tests.tests[0].code == "assert above([7, 10]) == [14]");
}

TEST_CASE("demo bugs suite: the flaw fraction changes only which references are flawed") {
  const auto half = rltf::demo::make_suite();
  const auto clean = rltf::demo::make_suite({.flaw_fraction = 0.0});
  const auto all = rltf::demo::make_suite({.flaw_fraction = 1.0});
  REQUIRE(clean.sft.size() == half.sft.size());
  for (std::size_t i = 0; i < half.sft.size(); ++i) {
    CHECK(clean.sft[i].prompt == half.sft[i].prompt);
    CHECK(clean.sft[i].solutions == half.sft_clean[i].solutions);
    CHECK(!clean.sft_flawed[i]);
    CHECK(all.sft_flawed[i]);
    CHECK(all.sft[i].tests.tests.size() == half.sft[i].tests.tests.size());
  }
  for (std::size_t i = 0; i < half.heldout.size(); ++i) CHECK(clean.heldout[i].prompt == half.heldout[i].prompt);
  CHECK_THROWS_AS((void)rltf::demo::make_suite({.flaw_fraction = 1.5}), rltf::invalid_argument);
  CHECK_THROWS_AS((void)rltf::demo::make_suite({.families = {"add"}}), rltf::invalid_argument);
  CHECK_THROWS_AS((void)rltf::demo::make_suite({.sft_per_family = 80}), rltf::invalid_argument);
  const auto two = rltf::demo::make_suite(
      {.sft_per_family = 3, .rl_per_family = 2, .heldout_per_family = 1, .families = {"grade", "last"}});
  CHECK(two.sft.size() == 6);
  CHECK(two.rl.size() == 4);
  CHECK(two.heldout.size() == 2);
}

TEST_CASE("demo bugs suite: splits disjoint, tests well-formed") {
  const auto s = rltf::demo::make_suite();
  std::set<std::string> seen;
  for (const auto* split : {&s.sft, &s.rl, &s.heldout})
    for (const auto& p : *split) {
      CHECK_MESSAGE(seen.insert(p.prompt).second, p.prompt);
      CHECK(p.prompt_is_code);
      CHECK(p.prompt.rfind("# " + p.entry_point + "(", 0) == 0);
      CHECK(p.tests.tests.size() == 5);
      for (const auto& t : p.tests.tests) CHECK(t.code.rfind("assert " + p.entry_point + "(", 0) == 0);
    }
}

TEST_CASE("demo bugs suite: clean references pass every test under the real executor, flawed ones fail one") {
  // Every reference flawed, so each bug site (and each combination) of every problem is checked.
  for (const std::uint64_t seed : {2024ULL, 1ULL}) {
    CAPTURE(seed);
    const auto s = rltf::demo::make_suite({.seed = seed, .flaw_fraction = 1.0});
    std::vector<std::pair<const rltf::Problem*, std::string>> clean, flawed;
    for (const auto* split : {&s.rl, &s.heldout, &s.sft_clean})
      for (const auto& p : *split) clean.emplace_back(&p, p.solutions.at(0));
    for (const auto& p : s.sft) flawed.emplace_back(&p, p.solutions.at(0));
    const auto good = demo_suite_test::run(clean);
    REQUIRE(good.size() == clean.size());
    for (std::size_t i = 0; i < good.size(); ++i) {
      CAPTURE(clean[i].second);
      CHECK(good[i].outcome == rltf::Outcome::pass);
      CHECK(good[i].passed == 5);
    }
    const auto bad = demo_suite_test::run(flawed);
    REQUIRE(bad.size() == flawed.size());
    std::map<std::string, std::size_t> runtime_errors, partial;
    for (std::size_t i = 0; i < bad.size(); ++i) {
      CAPTURE(flawed[i].second);
      CHECK(bad[i].outcome != rltf::Outcome::pass);
      CHECK(bad[i].passed < 5);
      const auto f = demo_suite_test::family(*flawed[i].first);
      runtime_errors[f] += bad[i].outcome == rltf::Outcome::runtime_error;
      partial[f] += bad[i].outcome == rltf::Outcome::failure && bad[i].passed > 0;
    }
    // The fine-grained families' bugs raise IndexError on the buggy line of the program itself.
    CHECK(runtime_errors["last"] == 24);
    CHECK(runtime_errors["nth"] == 24);
    for (std::size_t i = 0; i < bad.size(); ++i) {
      const auto f = demo_suite_test::family(*flawed[i].first);
      if (f != "last" && f != "nth") continue;
      REQUIRE(bad[i].error.has_value());
      CHECK(bad[i].error->type == "IndexError");
      CHECK(bad[i].error->completion_line == std::optional<std::size_t>(2)); // `    y = xs[...]`
    }
    // The clause families earn partial credit: a bug in one clause fails only its boundary test.
    CHECK(partial["grade"] > 0);
    CHECK(partial["window"] > 0);
  }
}
