// PolicyJudge (rltf/judge/policy_judge.hpp): a policy taught to answer " Yes" for code that
// returns and " No" for code that prints judges held-out programs that way; the margin is the
// two answers' summed token log-probabilities; the chat format wraps the question; bad options
// are refused.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <rltf/eigen/policy.hpp>
#include <rltf/judge/policy_judge.hpp>
#include <rltf/tokenize/char.hpp>
#include <rltf/train/sft.hpp>

namespace policy_judge_test {
using Policy = rltf::EigenPolicy<rltf::CharTokenizer>;
inline rltf::PolicyJudgeOptions options() {
  rltf::PolicyJudgeOptions o;
  o.prompt.system.clear();
  o.prompt.user = "{code}|{question}";
  o.answer_prefix = "=";
  return o;
}
} // namespace policy_judge_test

TEST_CASE("PolicyJudge: a policy taught the answers judges held-out programs by log P(yes) - log P(no)") {
  using namespace policy_judge_test;
  Policy policy{rltf::CharTokenizer("abcdefghijklmnopqrstuvwxyz0123456789 |=?YN"),
                {.context = 6, .hidden = 32, .seed = 4}};
  rltf::PolicyJudge judge(policy, options());
  const std::vector<std::string> questions = {"ok?"};
  CHECK(judge.prompt_text("", "return 1", "ok?") == "return 1|ok?=");

  std::vector<rltf::Sample> targets;
  for (int n = 0; n < 40; ++n) {
    for (const bool good : {true, false}) {
      const std::string code = (good ? "return " : "print ") + std::to_string(n);
      rltf::Sample s;
      s.prompt_tokens = policy.tokenizer().encode(judge.prompt_text("", code, "ok?"));
      s.tokens = policy.tokenizer().encode(good ? " Yes" : " No");
      targets.push_back(std::move(s));
    }
  }
  rltf::SftOptions sft;
  sft.steps = 300;
  sft.batch_size = 16;
  sft.optimizer.lr = 1e-2F;
  (void)rltf::supervised_finetune(policy, targets, sft);

  for (int n : {57, 83, 99}) {
    const auto yes = judge.answers("", "return " + std::to_string(n), questions).front();
    const auto no = judge.answers("", "print " + std::to_string(n), questions).front();
    CHECK(yes.margin() > 0.0);
    CHECK(no.margin() < 0.0);
    CHECK(judge.judge("", "return " + std::to_string(n), questions).answers == std::vector<bool>{true});
    CHECK(judge.judge("", "print " + std::to_string(n), questions).answers == std::vector<bool>{false});
    // the margin is the answers' summed token log-probabilities under the policy
    rltf::Sample s;
    s.prompt_tokens = policy.tokenizer().encode(judge.prompt_text("", "return " + std::to_string(n), "ok?"));
    s.tokens = policy.tokenizer().encode(" Yes");
    const auto lp = rltf::EigenBackend::values(policy.log_probs(std::span(&s, 1)));
    double total = 0;
    for (std::size_t t = 0; t < s.tokens.size(); ++t) total += lp[t];
    CHECK(yes.log_p_yes == doctest::Approx(total).epsilon(1e-6));
  }
  // a margin threshold moves the decision
  auto strict = options();
  strict.margin = 1e9;
  rltf::PolicyJudge never(policy, strict);
  CHECK(never.judge("", "return 5", questions).answers == std::vector<bool>{false});
}

TEST_CASE("PolicyJudge: the chat format wraps the question; bad answers are refused") {
  using namespace policy_judge_test;
  Policy policy{rltf::CharTokenizer("abcdefghijklmnopqrstuvwxyz0123456789 |=?YN<>_\n"), {.seed = 1}};
  auto o = options();
  o.chat = rltf::ChatFormat::qwen2_5();
  o.prompt.system = "be brief";
  rltf::PolicyJudge judge(policy, o);
  CHECK(judge.prompt_text("", "return 1", "ok?") ==
        "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nreturn 1|ok?<|im_end|>\n<|im_start|>assistant\n");
  auto same = options();
  same.no = same.yes;
  CHECK_THROWS_WITH_AS(rltf::PolicyJudge(policy, same), doctest::Contains("the same tokens"), rltf::invalid_argument);
  auto empty = options();
  empty.yes.clear();
  CHECK_THROWS_AS(rltf::PolicyJudge(policy, empty), rltf::invalid_argument);
  static_assert(rltf::Judge<rltf::PolicyJudge<Policy>>);
}
