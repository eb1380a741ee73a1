// rltf::HttpJudge against a real OpenAI-compatible server of our own on 127.0.0.1
// (tests/judge/openai_server.py): answers in each format, slow replies, 500s, 429s, malformed and
// truncated bodies, unexpected answers, authentication, the concurrency limit and the cache.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "rltf/judge/http_judge.hpp"
#include "server_fixture.hpp"

namespace rltf_judge_test {

namespace {

const std::vector<std::string> questions(rltf::default_judge_questions().begin(),
                                         rltf::default_judge_questions().end());

rltf::HttpJudgeOptions options(const OpenAiServer& s, std::string model) {
  rltf::HttpJudgeOptions o;
  o.base_url = s.url();
  o.model = std::move(model);
  o.api_key_env = "RLTF_TEST_JUDGE_KEY";
  o.backoff_initial_s = 0.01;
  o.backoff_max_s = 2.0;
  o.read_timeout_s = 5.0;
  o.seed = 7;
  return o;
}

std::vector<bool> expected(std::initializer_list<int> no) {
  std::vector<bool> a(8, true);
  for (int q : no) a[static_cast<std::size_t>(q - 1)] = false;
  return a;
}

std::string error_of(rltf::HttpJudge& judge, const std::string& code) {
  try {
    (void)judge.judge("Classify the sentiment of a review.", code, questions);
  } catch (const rltf::judge_error& e) {
    return e.what();
  }
  return "no error";
}

} // namespace

TEST_CASE("HttpJudge: answers read from a word, from JSON and from log-probabilities") {
  OpenAiServer server("formats");
  const std::string code = "from transformers import pipeline\nclf = pipeline('sentiment-analysis')  #no:3,5\n";
  for (const char* model : {"text", "json", "logprobs"}) {
    CAPTURE(model);
    rltf::HttpJudge judge(options(server, model));
    const auto j = judge.judge("Classify the sentiment of a review.", code, questions);
    CHECK(j.answers == expected({3, 5}));
    CHECK(j.yes_count() == 6);
    CHECK(judge.stats().requests == 8);
    CHECK(judge.stats().retries == 0);
  }
  // The request is the real protocol: the model, temperature 0, the question in the user message.
  const auto reqs = server.requests();
  REQUIRE(reqs.size() == 24);
  CHECK(reqs[0]["code"] == code.substr(0, code.size() - 1) + "\n");
}

TEST_CASE("HttpJudge: 500s and truncated bodies are retried; a slow reply within the timeout waits") {
  OpenAiServer server("retries");
  const std::string code = "x = 1  #no:2\n";
  {
    rltf::HttpJudge judge(options(server, "flaky500:2"));
    CHECK(judge.judge("t", code, questions).answers == expected({2}));
    CHECK(judge.stats().requests == 24);
    CHECK(judge.stats().retries == 16);
  }
  {
    rltf::HttpJudge judge(options(server, "flakybody:1"));
    CHECK(judge.judge("t", code, questions).answers == expected({2}));
    CHECK(judge.stats().retries == 8);
  }
  {
    rltf::HttpJudge judge(options(server, "slow:0.3"));
    CHECK(judge.judge("t", code, std::span(questions).first(2)).answers == std::vector<bool>{true, false});
  }
}

TEST_CASE("HttpJudge: 429 waits for Retry-After") {
  OpenAiServer server("ratelimit");
  rltf::HttpJudge judge(options(server, "ratelimit:1"));
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(judge.judge("t", "y = 2\n", std::span(questions).first(1)).answers == std::vector<bool>{true});
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(950));
  CHECK(judge.stats().retries == 1);
}

TEST_CASE("HttpJudge: faults that persist are clear errors, never a silent no") {
  OpenAiServer server("faults");
  const auto fails = [&](std::string model, std::size_t retries = 2) {
    auto o = options(server, std::move(model));
    o.max_retries = retries;
    rltf::HttpJudge judge(o);
    return error_of(judge, "z = 3\n");
  };
  CHECK(fails("always500").find("gave up after 3 attempts; last: HTTP 500") != std::string::npos);
  CHECK(fails("malformed").find("not JSON (truncated or malformed): '<html>Bad Gateway</html>'") != std::string::npos);
  // A body cut short of its Content-Length: the read fails (or, cut at a frame, the JSON does).
  const std::string truncated = fails("truncated");
  CHECK(truncated.find("gave up after 3 attempts; last: ") != std::string::npos);
  CHECK((truncated.find("no response: ") != std::string::npos || truncated.find("not JSON") != std::string::npos));
  CHECK(fails("nochoices").find("no 'choices' array") != std::string::npos);
  CHECK(fails("maybe").find("neither yes nor no: 'Maybe, it depends.'") != std::string::npos);
  const std::string noauth = fails("noauth");
  CHECK(noauth.find("HTTP 401") != std::string::npos);
  CHECK(noauth.find("$RLTF_TEST_JUDGE_KEY") != std::string::npos);
  // A 401 is not retried; an unexpected answer is not retried either.
  std::size_t noauth_requests = 0;
  for (const auto& r : server.requests()) noauth_requests += r["model"] == "noauth" ? 1 : 0;
  CHECK(noauth_requests == 8);
  {
    auto o = options(server, "slow:3");
    o.read_timeout_s = 0.2;
    o.max_retries = 1;
    rltf::HttpJudge judge(o);
    const std::string e = error_of(judge, "w = 4\n");
    CHECK(e.find("gave up after 2 attempts; last: no response: ") != std::string::npos);
  }
  {
    auto o = options(server, "text");
    o.base_url = "http://127.0.0.1:1/v1"; // nothing listens on port 1
    o.max_retries = 1;
    rltf::HttpJudge judge(o);
    const std::string e = error_of(judge, "v = 5\n");
    CHECK(e.find("POST http://127.0.0.1:1/v1/chat/completions (model 'text'): gave up after 2 attempts") !=
          std::string::npos);
  }
}

TEST_CASE("HttpJudge: the API key from the environment") {
  OpenAiServer server("auth");
  ::setenv("RLTF_TEST_JUDGE_KEY", "sekret", 1);
  rltf::HttpJudge judge(options(server, "noauth"));
  ::unsetenv("RLTF_TEST_JUDGE_KEY");
  CHECK(judge.judge("t", "u = 6  #no:all\n", questions).yes_count() == 0);
}

TEST_CASE("HttpJudge: at most max_concurrency requests in flight, from any number of threads") {
  OpenAiServer server("concurrency");
  auto o = options(server, "slow:0.1");
  o.max_concurrency = 3;
  rltf::HttpJudge judge(o);
  std::vector<std::jthread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] { (void)judge.judge("t", "c = " + std::to_string(t) + "\n", questions); });
  threads.clear();
  CHECK(judge.stats().requests == 32);
  CHECK(server.peak_in_flight() == 3);
}

TEST_CASE("HttpJudge: the SQLite cache answers a question asked before, across judges") {
  OpenAiServer server("cache");
  auto o = options(server, "text");
  o.cache = server.dir() / "answers.sqlite";
  const std::string code = "import torch  #no:1\n";
  {
    rltf::HttpJudge judge(o);
    CHECK(judge.judge("instr", code, questions).answers == expected({1}));
    CHECK(judge.stats().answered == 8);
  }
  {
    rltf::HttpJudge judge(o);
    CHECK(judge.judge("instr", code, questions).answers == expected({1}));
    CHECK(judge.stats().requests == 0);
    CHECK(judge.stats().cache_hits == 8);
    // Another instruction is another key.
    CHECK(judge.judge("other instr", code, std::span(questions).first(1)).answers == std::vector<bool>{false});
    CHECK(judge.stats().requests == 1);
  }
  CHECK(server.requests().size() == 9);
  rltf::JudgeCache cache(o.cache);
  CHECK(cache.size() == 9);
  CHECK(cache.find("text", questions[0], "instr", code) == std::optional<bool>(false));
  CHECK(cache.find("another-model", questions[0], "instr", code) == std::nullopt);
}

TEST_CASE("JudgeCache: a file that is not a cache is a clear error naming it") {
  const auto dir = std::filesystem::path(RLTF_BINARY_DIR) / "judge_tests";
  std::filesystem::create_directories(dir);
  const auto bad = dir / "corrupt.sqlite";
  {
    std::ofstream out(bad, std::ios::binary | std::ios::trunc);
    out << "this is not an SQLite database, it is a text file with enough bytes to have a header .........";
  }
  try {
    rltf::JudgeCache cache(bad);
    FAIL("no error");
  } catch (const rltf::judge_error& e) {
    const std::string what = e.what();
    CHECK(what.find(bad.string()) != std::string::npos);
    CHECK(what.find("not an rltf judge cache or it is corrupt") != std::string::npos);
  }
  // A real SQLite file whose pages were damaged.
  const auto damaged = dir / "damaged.sqlite";
  std::filesystem::remove(damaged);
  {
    rltf::JudgeCache cache(damaged);
    for (int i = 0; i < 200; ++i)
      cache.store("m", "q", "i", std::string(100, static_cast<char>('a' + i % 26)) + std::to_string(i), true, "Yes");
  }
  std::filesystem::remove(damaged.string() + "-wal");
  std::filesystem::remove(damaged.string() + "-shm");
  {
    std::fstream f(damaged, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(4096); // pages 2 to 4, headers included
    const std::string garbage(3 * 4096, '\x5a');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  std::string what = "no error";
  try {
    rltf::JudgeCache cache(damaged);
    (void)cache.size();
    (void)cache.find("m", "q", "i", "x");
  } catch (const rltf::judge_error& e) {
    what = e.what();
  }
  CHECK(what.find(damaged.string()) != std::string::npos);
}

TEST_CASE("judge answer parsing") {
  using rltf::judge::detail::answer_from_text;
  CHECK(answer_from_text("Yes") == std::optional<bool>(true));
  CHECK(answer_from_text("  **No**, because ...") == std::optional<bool>(false));
  CHECK(answer_from_text("yes.") == std::optional<bool>(true));
  CHECK(answer_from_text("{\"answer\": false}") == std::optional<bool>(false));
  CHECK(answer_from_text("```json\n{\"answer\": \"Yes\"}\n```") == std::optional<bool>(true));
  CHECK(answer_from_text("Yesterday it worked") == std::nullopt);
  CHECK(answer_from_text("Nope") == std::nullopt);
  CHECK(answer_from_text("I think yes") == std::nullopt);
  CHECK(answer_from_text("") == std::nullopt);
  const rltf::JudgePrompt p;
  CHECK(p.render("do {x}", "print({code})", "Q?")
            .find("do {x}\n\nCode:\n```python\nprint({code})\n```\n\nQuestion: Q?") != std::string::npos);
}

} // namespace rltf_judge_test
