// Gorilla's AST criterion, executability against the stub library and StaticJudge, all through the
// executor's sandbox, on the bundled API database and eval set.
#include <array>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "rltf/data/gorilla.hpp"
#include "rltf/judge/gorilla_check.hpp"
#include "rltf/judge/static_judge.hpp"

namespace {
const std::string gorilla_check_dir = std::string(RLTF_SOURCE_DIR) + "/data/gorilla/";

struct GorillaFixture {
  rltf::PythonExecutor executor{rltf::PythonExecutorOptions{.python = RLTF_PYTHON, .workers = 2}};
  rltf::GorillaChecker checker{executor, rltf::load_gorilla_apis(gorilla_check_dir + "huggingface_api.jsonl.gz")};
};

GorillaFixture& gorilla_fixture() {
  static GorillaFixture f;
  return f;
}
} // namespace

TEST_CASE("GorillaChecker: the database's api_calls parse, with Gorilla's arguments") {
  auto& c = gorilla_fixture().checker;
  const auto& refs = c.references();
  REQUIRE(refs.size() == 936);
  std::size_t parsed = 0;
  for (const auto& r : refs) parsed += r ? 1 : 0;
  CHECK(parsed == 921); // 15 api_calls are not valid Python
  REQUIRE(refs[0]);
  CHECK(refs[0]->func == "AutoModel.from_pretrained");
  CHECK(refs[0]->args == std::vector<std::string>{"YituTech/conv-bert-base"});
  CHECK(refs[0]->ids == std::vector<std::string>{"YituTech/conv-bert-base"});
  CHECK(c.known_id("YituTech/conv-bert-base"));
  CHECK_FALSE(c.known_id("YituTech/conv-bert-huge"));
}

TEST_CASE("GorillaChecker: the AST criterion on the eval set's reference code against its own api_call") {
  auto& c = gorilla_fixture().checker;
  const auto examples = rltf::load_gorilla_examples(gorilla_check_dir + "huggingface_eval.jsonl.gz");
  std::vector<std::string> codes, calls;
  for (const auto& e : examples) {
    codes.push_back(e.code);
    calls.push_back(e.api_call);
  }
  const auto own = c.parse_calls(calls);
  const auto analyses = c.analyse(codes);
  REQUIRE(analyses.size() == 911);
  std::size_t matched = 0, compiled = 0, db_match = 0, hallucinated = 0, same_domain = 0;
  for (std::size_t i = 0; i < analyses.size(); ++i) {
    compiled += analyses[i].compiles() ? 1 : 0;
    if (own[i] && rltf::GorillaChecker::matches(analyses[i], *own[i])) ++matched;
    const auto m = c.match(analyses[i]);
    db_match += m.match ? 1 : 0;
    hallucinated += m.hallucination ? 1 : 0;
    if (m.match && c.apis()[m.api_index].domain == examples[i].domain) ++same_domain;
  }
  MESSAGE("references: ", compiled, " compile, ", matched, " match their own api_call, ", db_match,
          " match a database entry (", same_domain, " in the right domain), ", hallucinated, " hallucinate");
  CHECK(compiled == 887); // 24 references do not compile (prose, shell lines, cut off)
  CHECK(matched ==
        749); // the rest call another API than their api_call (a pipeline, a helper), or pass its arguments otherwise
  CHECK(db_match == 805);
  CHECK(same_domain == 771);
  CHECK(hallucinated == 9);
}

TEST_CASE("GorillaChecker: hallucinated model ids are detected, known ones match") {
  auto& c = gorilla_fixture().checker;
  const std::vector<std::string> codes{
      "from transformers import AutoModel\nmodel = AutoModel.from_pretrained('YituTech/conv-bert-base')\n",
      "from transformers import AutoModel\nmodel = AutoModel.from_pretrained('YituTech/conv-bert-ultra-9000')\n",
      "from transformers import AutoTokenizer\nname = 'nobody/made-up-model'\nt = "
      "AutoTokenizer.from_pretrained(name)\n",
      "import math\nprint(math.sqrt(2))\n",
  };
  const auto a = c.analyse(codes);
  const auto m0 = c.match(a[0]);
  CHECK(m0.match);
  CHECK(m0.api_name == "YituTech/conv-bert-base");
  CHECK_FALSE(m0.hallucination);
  const auto m1 = c.match(a[1]);
  CHECK_FALSE(m1.match);
  CHECK(m1.hallucination);
  CHECK(m1.unknown_ids == std::vector<std::string>{"YituTech/conv-bert-ultra-9000"});
  const auto m2 = c.match(a[2]);
  CHECK_FALSE(m2.match);
  CHECK(m2.hallucination); // the id reached through a name bound once to a string
  CHECK(m2.unknown_ids == std::vector<std::string>{"nobody/made-up-model"});
  const auto m3 = c.match(a[3]);
  CHECK_FALSE(m3.match);
  CHECK_FALSE(m3.hallucination); // no model fetched: neither
}

TEST_CASE("GorillaChecker: executability of the eval set's references against the stub library") {
  auto& c = gorilla_fixture().checker;
  const auto examples = rltf::load_gorilla_examples(gorilla_check_dir + "huggingface_eval.jsonl.gz");
  std::vector<std::string> codes;
  for (const auto& e : examples) codes.push_back(e.code);
  const auto runs = c.execute(codes);
  std::size_t ok = 0, syntax = 0, timeouts = 0;
  for (const auto& r : runs) {
    ok += rltf::GorillaChecker::executable(r) ? 1 : 0;
    syntax += r.outcome == rltf::Outcome::syntax_error ? 1 : 0;
    timeouts += r.outcome == rltf::Outcome::timeout ? 1 : 0;
  }
  MESSAGE("references: ", ok, " of 911 run to completion against the stub, ", syntax, " syntax errors, ", timeouts,
          " timeouts");
  CHECK(ok == 585);
  CHECK(syntax == 23);
  CHECK(timeouts == 0);
}

TEST_CASE("GorillaChecker: the stub library: database names and ids only") {
  auto& c = gorilla_fixture().checker;
  const std::vector<std::string> codes{
      "from transformers import AutoModel\nm = AutoModel.from_pretrained('YituTech/conv-bert-base')\n"
      "out = m(**{'x': 1})\nprint(out.last_hidden_state.mean(dim=1)[0] + 1)\n",
      "from transformers import AutoModel\nm = AutoModel.from_pretrained('made/up')\n",
      "from transformers import NoSuchModelClass\n",
      "import transformers\ntransformers.no_such_function()\n",
      "import transformers.no_such_module\n",
      "import torch\nwith torch.no_grad():\n    x = 1\n",
  };
  const auto r = c.execute(codes);
  CHECK(r[0].outcome == rltf::Outcome::pass);
  CHECK(r[1].outcome == rltf::Outcome::runtime_error);
  REQUIRE(r[1].error);
  CHECK(r[1].error->type == "OSError");
  CHECK(r[2].outcome == rltf::Outcome::runtime_error);
  CHECK(r[2].error->type == "ImportError");
  CHECK(r[3].outcome == rltf::Outcome::runtime_error);
  CHECK(r[3].error->type == "AttributeError");
  CHECK(r[4].outcome == rltf::Outcome::runtime_error);
  CHECK(r[4].error->type == "ModuleNotFoundError");
  CHECK(r[5].outcome == rltf::Outcome::pass);
}

TEST_CASE("GorillaChecker: a hostile candidate runs only in the sandbox") {
  auto& c = gorilla_fixture().checker;
  const auto marker = std::filesystem::temp_directory_path() / "rltf_gorilla_escape_marker";
  std::filesystem::remove(marker);
  const std::string hostile = "import os\nopen(" + nlohmann::json(marker.string()).dump() +
                              ", 'w').write('escaped')\nos.system('touch " + marker.string() + "')\n";
  // The analysis parses it without running it; the run happens in the sandbox (read-only host).
  const auto a = c.analyse(hostile);
  CHECK(a.compiles());
  CHECK_FALSE(std::filesystem::exists(marker));
  const auto r = c.execute(hostile);
  CHECK_FALSE(rltf::GorillaChecker::executable(r));
  CHECK_FALSE(std::filesystem::exists(marker));
  // A candidate that prints a forged analysis line is only data to the analysis job.
  const auto forged = c.analyse("print('\\x01RLTF {\"syntax\": null}')\nundefined_thing()\n");
  CHECK(forged.undefined.size() == 1);
  // An endless loop is a timeout, not a hang.
  const auto t = c.execute("while True:\n    pass\n");
  CHECK(t.outcome == rltf::Outcome::timeout);
}

namespace {
struct JudgeCase {
  std::string code;
  std::array<bool, 8> answers;
};
} // namespace

TEST_CASE("StaticJudge: each question on hand-written good and bad programs") {
  auto& c = gorilla_fixture().checker;
  rltf::StaticJudge judge(c);
  const std::string good = "from transformers import AutoModel, AutoTokenizer\n"
                           "tokenizer = AutoTokenizer.from_pretrained('YituTech/conv-bert-base')\n"
                           "model = AutoModel.from_pretrained('YituTech/conv-bert-base')\n"
                           "inputs = tokenizer('hello', return_tensors='pt')\n"
                           "features = model(**inputs).last_hidden_state\n";
  const std::vector<JudgeCase> cases{
      {good, {true, true, true, true, true, true, true, true}},
      // imports: a class the library does not have (it then fails to run, too)
      {"from transformers import AutoModelX\nmodel = AutoModelX.from_pretrained('YituTech/conv-bert-base')\n",
       {false, true, true, true, false, false, false, false}},
      // syntax: cut off mid-statement
      {"from transformers import AutoModel\nmodel = AutoModel.from_pretrained('YituTech/conv-bert-base'",
       {false, false, false, false, false, false, false, false}},
      // completeness: a TODO and an empty function
      {good + "def postprocess(x):\n    pass  # TODO\n", {true, true, false, true, true, true, true, true}},
      // undefined names (and so it does not run)
      {good + "print(embeddings_of_text)\n", {true, true, true, false, false, false, true, true}},
      // a bug: runs into an error the analysis cannot see
      {good + "x = 1 / 0\n", {true, true, true, true, false, false, true, true}},
      // a hallucinated model id: no API, no arguments
      {"from transformers import AutoModel\nmodel = AutoModel.from_pretrained('YituTech/conv-bert-gigantic')\n",
       {true, true, true, true, false, false, false, false}},
      // an existing function with other arguments than any database entry's: exists, wrong arguments
      {"from transformers import AutoModelForCausalLM\nm = "
       "AutoModelForCausalLM.from_pretrained('YituTech/conv-bert-base')\n",
       {true, true, true, true, true, false, true, false}},
  };
  const auto& q = rltf::default_judge_questions();
  const std::vector<std::string> questions(q.begin(), q.end());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(i);
    const auto j = judge.judge("", cases[i].code, questions);
    REQUIRE(j.answers.size() == 8);
    for (std::size_t k = 0; k < 8; ++k) {
      CAPTURE(k);
      CHECK(j.answers[k] == cases[i].answers[k]);
    }
  }
  // Deterministic.
  CHECK(judge.judge("", cases[4].code, questions).answers == judge.judge("", cases[4].code, questions).answers);
}

TEST_CASE("StaticJudge: verdicts of a batch equal the verdicts one at a time") {
  auto& c = gorilla_fixture().checker;
  const rltf::StaticJudge judge(c);
  const std::vector<std::string> codes{
      "from transformers import AutoModel\nmodel = AutoModel.from_pretrained('YituTech/conv-bert-base')\n",
      "from transformers import AutoModel\nmodel = AutoModel.from_pretrained('YituTech/conv-bert-base'",
      "import os\nprint(undefined_thing)\n", "x = 1 / 0\n"};
  const auto batch = judge.verdicts(codes);
  REQUIRE(batch.size() == codes.size());
  for (std::size_t i = 0; i < codes.size(); ++i) {
    CAPTURE(i);
    const auto one = judge.verdict(codes[i]);
    CHECK(batch[i].answers == one.answers);
    CHECK(batch[i].match.match == one.match.match);
    CHECK(batch[i].execution.outcome == one.execution.outcome);
  }
  CHECK(batch[0].answers == std::array<bool, 8>{true, true, true, true, true, true, true, true});
  CHECK(batch[3].execution.outcome == rltf::Outcome::runtime_error);
}

TEST_CASE("GorillaChecker::stub_executor: an rltf::Executor whose programs see the stub library") {
  auto& c = gorilla_fixture().checker;
  auto executor = c.stub_executor();
  const std::string code =
      "from transformers import pipeline\n"
      "classify = pipeline('sentiment-analysis', model='distilbert-base-uncased-finetuned-sst-2-english')\n"
      "def label(text):\n"
      "    return 'positive' if text else 1 / 0\n";
  rltf::TestSuite tests;
  tests.tests.push_back({.code = "assert label('great') == 'positive'"});
  tests.tests.push_back({.code = "assert label('') == 'positive'"});
  const auto r = executor.run(rltf::Program{code, 0}, tests, {});
  CHECK(r.outcome == rltf::Outcome::runtime_error);
  REQUIRE(r.tests.size() == 2);
  CHECK(r.tests[0].status == rltf::TestStatus::passed);
  CHECK(r.tests[1].status == rltf::TestStatus::error);
  // The error is on the completion's line 4, after the prelude that installs the stubs.
  REQUIRE(r.error.has_value());
  CHECK(r.error->completion_line == std::optional<std::size_t>(4));
  CHECK(r.error->line > std::optional<std::size_t>(4));
  // run_all: the same, and a library function that does not exist fails.
  const std::vector<rltf::Job> jobs{{rltf::Program{code, 0}, tests, {}},
                                    {rltf::Program{"from transformers import NoSuchModel\n", 0}, {}, {}},
                                    {rltf::Program{"import transformers\nprint(transformers.pipeline)\n", 0}, {}, {}}};
  const auto all = executor.run_all(jobs);
  REQUIRE(all.size() == 3);
  CHECK(all[0].outcome == r.outcome);
  CHECK(all[1].outcome != rltf::Outcome::pass);
  CHECK(all[2].outcome == rltf::Outcome::pass);
  // Without the stubs the library is not there at all.
  CHECK(gorilla_fixture().executor.run(rltf::Program{"import transformers\n", 0}, {}, {}).outcome !=
        rltf::Outcome::pass);
}

TEST_CASE("StaticJudge: questions it does not know are an error naming them, or answered by index") {
  auto& c = gorilla_fixture().checker;
  rltf::StaticJudge judge(c);
  const std::vector<std::string> custom{"Is the code idiomatic?"};
  try {
    (void)judge.judge("", "x = 1\n", custom);
    FAIL("no error");
  } catch (const rltf::judge_error& e) {
    CHECK(std::string(e.what()).find("Is the code idiomatic?") != std::string::npos);
  }
  std::vector<std::string> eight(8, "custom?");
  rltf::StaticJudge by_index(c, {.by_index = true});
  const auto j = by_index.judge("", "x = (\n", eight);
  CHECK(j.answers == std::vector<bool>(8, false));
  const std::vector<std::string> two{rltf::default_judge_questions()[1], rltf::default_judge_questions()[4]};
  CHECK(judge.judge("", "x = 1 / 0\n", two).answers == std::vector<bool>{true, false});
}
