// "Does it learn" runs of the trainers on the Eigen policy and the digit family (fixture): from a
// random initialisation, RL from unit tests alone (no supervised term) must teach the policy to
// complete `return ` with the digit the comment asks for. The completion is one token, so this is
// a contextual bandit with RLTF's rewards: the right digit passes (+1), another digit fails some
// tests (adaptive: −0.3 + 1.3·passed/3), a name raises (−0.6), most symbols do not compile (−1).
// (With longer completions a random policy first finds the safe `return #...` — a comment, −0.6 —
// and stays there: an exploration trap, not what this test is about.) Seeded, so the figures are
// exact; the long runs are skipped by default (doctest --no-skip runs them).

#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "rltf/feedback/rltf_feedback.hpp"
#include "rltf/train/evaluate.hpp"
#include "rltf/train/grpo_trainer.hpp"
#include "rltf/train/rltf_trainer.hpp"

#include "trainer_fixture.hpp"

namespace learning_test {

double greedy_pass(trainer_test::Policy& policy) {
  const auto problems = trainer_test::digit_problems();
  rltf::EvalOptions e{.num_samples = 0, .sampling = {.max_new_tokens = 1}, .k = {}};
  return rltf::evaluate(policy, trainer_test::executor(), problems, e).greedy_pass;
}

rltf::RltfOptions rl_options(std::size_t steps) {
  return rltf::RltfOptions{
      .rollout = {.problems_per_round = 5,
                  .sampling = {.max_new_tokens = 1, .temperature = 1.0F, .top_p = 1.0F, .num_samples = 8}},
      .learner = {.steps = steps,
                  .batch_size = 40,
                  .optimizer = {.lr = 0.02F},
                  .buffer = {.capacity = 40, .refresh_every = 1}},
      .run = {.seed = 11, .progress = rltf::ProgressMode::off},
      .loss = {.baseline = rltf::Baseline::group_mean, .sl_coef = 0.0F}};
}

} // namespace learning_test

TEST_CASE("learning (quick): RLTF from unit tests alone raises the training reward on the digit family") {
  auto policy = trainer_test::make_policy(21);
  const double before = learning_test::greedy_pass(policy);
  rltf::RltfTrainer trainer{policy, trainer_test::executor(), rltf::RltfFeedback{}, trainer_test::digit_problems(),
                            learning_test::rl_options(40)};
  std::vector<float> rewards;
  trainer.on_step([&](const rltf::StepMetrics& m) { rewards.push_back(m.reward_mean); });
  (void)trainer.train();
  const double after = learning_test::greedy_pass(policy);
  double first = 0.0, last = 0.0;
  for (std::size_t i = 0; i < 10; ++i) {
    first += rewards[i] / 10.0;
    last += rewards[rewards.size() - 10 + i] / 10.0;
  }
  MESSAGE("greedy pass " << before << " -> " << after << "; round reward " << first << " -> " << last);
  CHECK(before <= 0.1);
  CHECK(last > first + 0.4); // it learns that digits earn (partial) credit
  CHECK(after >= before);
}

TEST_CASE("learning: RLTF raises the reward, GRPO solves the digit family, from scratch" * doctest::skip()) {
  // Measured (seeded): RLTF (group-mean baseline) lifts the round reward from about −0.3 to
  // about +0.2 — it learns to answer with digits — but its greedy decode is right on 1 of 10
  // prompts after 400 steps; GRPO, whose advantages are normalised per group so that every
  // prompt weighs the same, gets 8 of 10.
  for (const bool grpo : {false, true}) {
    auto policy = trainer_test::make_policy(22);
    const double before = learning_test::greedy_pass(policy);
    std::vector<float> rewards;
    auto record = [&](const rltf::StepMetrics& m) { rewards.push_back(m.reward_mean); };
    if (grpo) {
      rltf::GrpoOptions o{.rollout = learning_test::rl_options(400).rollout,
                          .learner = {.steps = 400,
                                      .batch_size = 40,
                                      .optimizer = {.lr = 0.02F},
                                      .buffer = {.capacity = 40, .refresh_every = 1}},
                          .run = {.seed = 12, .progress = rltf::ProgressMode::off}};
      o.rollout.greedy_baseline = false;
      rltf::GrpoTrainer trainer{policy, trainer_test::executor(), rltf::RltfFeedback{}, trainer_test::digit_problems(),
                                o};
      trainer.on_step(record);
      (void)trainer.train();
    } else {
      rltf::RltfTrainer trainer{policy, trainer_test::executor(), rltf::RltfFeedback{}, trainer_test::digit_problems(),
                                learning_test::rl_options(400)};
      trainer.on_step(record);
      (void)trainer.train();
    }
    const double after = learning_test::greedy_pass(policy);
    double first = 0.0, last = 0.0;
    for (std::size_t i = 0; i < 20; ++i) {
      first += rewards[i] / 20.0;
      last += rewards[rewards.size() - 20 + i] / 20.0;
    }
    MESSAGE((grpo ? "GRPO" : "RLTF") << ": greedy pass " << before << " -> " << after << "; round reward " << first
                                     << " -> " << last);
    CHECK(last > first + 0.25);
    if (grpo) CHECK(after >= 0.7);
  }
}

// Positive control (issue 12): RL alone (no supervised term) on problems the warm-started
// policy passes *sometimes* must raise their sampled pass rate — and the same run with the
// rewards' sign flipped must lower it, so the test fails if the RL path breaks (a sign error,
// a gradient that never reaches the weights, advantages that vanish). The warm start is a short
// supervised fine-tuning on the references; the pass rates are measured with the evaluation's
// own seeded RNG on 32 samples per problem.
namespace positive_control {

/// The feedback's rewards negated: the sign flip the control must detect.
struct Flipped {
  rltf::RltfFeedback inner{};
  rltf::TokenRewards operator()(const rltf::Sample& s, const rltf::ExecutionResult& r,
                                const rltf::TokenOffsets& offsets) const {
    auto out = inner(s, r, offsets);
    out.sequence = -out.sequence;
    for (auto& t : out.token) t = -t;
    return out;
  }
};

struct Result {
  double before = 0.0;
  double after = 0.0;
};

double sample_pass(trainer_test::Policy& policy, const std::vector<rltf::Problem>& problems) {
  rltf::EvalOptions e{.num_samples = 32,
                      .sampling = {.max_new_tokens = 1, .temperature = 1.0F, .top_p = 1.0F},
                      .greedy = false,
                      .k = {},
                      .seed = 5};
  return rltf::evaluate(policy, trainer_test::executor(), problems, e).sample_pass;
}

// Five digit problems whose prompts the small policy tells apart (a run of one letter per
// problem dominates the mean prompt embedding), so that what RL reinforces is the answer of
// each problem, not one digit for all.
std::vector<rltf::Problem> problems() {
  auto out = trainer_test::digit_problems(5);
  for (std::size_t d = 0; d < out.size(); ++d)
    out[d].prompt =
        "# " + std::string(12, static_cast<char>('a' + d)) + " " + std::to_string(d) + "\ndef f():\n    return ";
  return out;
}

template <class F>
Result run(std::size_t rl_steps, F feedback) {
  const auto problems = positive_control::problems();
  auto policy = trainer_test::make_policy(31);
  const auto targets = rltf::supervised_samples(policy.tokenizer(), problems);
  (void)rltf::supervised_finetune(policy, targets, {.steps = 6, .batch_size = 5, .optimizer = {.lr = 0.02F}});
  (void)rltf::reset_optimizer(policy);
  Result out;
  out.before = sample_pass(policy, problems);
  rltf::RltfOptions o = learning_test::rl_options(rl_steps);
  o.loss.baseline = rltf::Baseline::group_norm;
  rltf::RltfTrainer trainer{policy, trainer_test::executor(), std::move(feedback), problems, o};
  (void)trainer.train();
  out.after = sample_pass(policy, problems);
  return out;
}

} // namespace positive_control

TEST_CASE("learning (quick positive control): RL alone raises the pass rate of sometimes-solved problems; the "
          "sign-flipped run lowers it") {
  const auto rl = positive_control::run(20, rltf::RltfFeedback{});
  const auto flipped = positive_control::run(20, positive_control::Flipped{});
  MESSAGE("sampled pass rate: RL " << rl.before << " -> " << rl.after << "; sign flipped " << flipped.before << " -> "
                                   << flipped.after);
  CHECK(rl.before > 0.05); // passed sometimes ...
  CHECK(rl.before < 0.8);  // ... not always
  CHECK(flipped.before == rl.before);
  // Measured (seeded): 0.131 -> 0.219 in 20 steps; sign flipped 0.131 -> 0.
  CHECK(rl.after > rl.before + 0.05);
  CHECK(flipped.after < flipped.before);
  CHECK(rl.after > flipped.after + 0.15);
}

TEST_CASE("learning (slow positive control): longer RL alone raises the pass rate far more" *
          doctest::test_suite("slow")) {
  const auto rl = positive_control::run(150, rltf::RltfFeedback{});
  MESSAGE("sampled pass rate: RL " << rl.before << " -> " << rl.after);
  CHECK(rl.after > rl.before + 0.5); // measured (seeded): 0.131 -> 0.806 in 150 steps
}
