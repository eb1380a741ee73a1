// rltf::PpoTrainer (rltf/train/ppo_trainer.hpp): the round's rewards, KL penalty, GAE, whitening
// and adaptive β recomputed by hand; the first minibatch's losses; a tiny end-to-end run in which
// PPO raises a real reward model's score on held-out prompts; exact resumption.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/detail/random.hpp"
#include "rltf/eigen/backend.hpp"
#include "rltf/eigen/ngram_reward_model.hpp"
#include "rltf/eigen/policy.hpp"
#include "rltf/feedback/reward_model_feedback.hpp"
#include "rltf/feedback/rltf_feedback.hpp"
#include "rltf/feedback/sum.hpp"
#include "rltf/tokenize/char.hpp"
#include "rltf/train/metrics.hpp"
#include "rltf/train/ppo_trainer.hpp"

#include "trainer_fixture.hpp"

namespace ppo_test {

using Policy = trainer_test::Policy;

inline Policy value_policy(std::uint64_t seed = 1) {
  return Policy{rltf::CharTokenizer("0123456789 \n#():+-*=abcdefghijklmnopqrstuvwxyz"),
                {.context = 4, .hidden = 24, .prompt_buckets = 64, .seed = seed, .value_head = true}};
}

// A rollout as the trainer builds it, sampled from `policy`.
inline rltf::Rollout rollout(const Policy& policy, const std::string& prompt, std::uint64_t seed, float reward,
                             std::vector<float> token_rewards = {}) {
  auto rng = rltf::make_rng(seed);
  const std::vector<std::string> prompts{prompt};
  rltf::Rollout r;
  r.sample = policy.generate(prompts, {.max_new_tokens = 5, .top_p = 1.0F, .num_samples = 1}, rng).at(0);
  r.reward = reward;
  r.weights.assign(r.sample.tokens.size(), 0.0F);
  for (std::size_t t = 0; t < std::min(token_rewards.size(), r.weights.size()); ++t) r.weights[t] = token_rewards[t];
  return r;
}

inline rltf::PpoOptions small_options(const std::filesystem::path& dir, std::size_t steps) {
  rltf::PpoOptions o;
  o.rollout.problems_per_round = 3;
  o.rollout.sampling = {.max_new_tokens = 4, .temperature = 1.0F, .top_p = 1.0F, .num_samples = 4, .stop = {"\n"}};
  o.rollout.limits = {.test_timeout_s = 2.0, .program_timeout_s = 4.0};
  o.rollout.round_every = 3; // 12 samples, minibatches of 4 sweeping the round once: 1 epoch of 3
  o.learner.steps = steps;
  o.learner.batch_size = 4;
  o.learner.optimizer = {.lr = 0.01F};
  o.run = {.seed = 5, .output_dir = dir, .checkpoint_every = 3, .progress = rltf::ProgressMode::off};
  return o;
}

// A real reward model: hashed n-gram logistic regression taught that a completion of one digit
// and a newline is accepted, anything else rejected.
inline rltf::NgramRewardModel digit_reward_model() {
  std::vector<rltf::LabelledExample> data;
  auto rng = rltf::make_rng(3);
  const std::string junk = "abcdefghijklmnopqrstuvwxyz #():+-*=";
  for (int round = 0; round < 6; ++round)
    for (int d = 0; d < 10; ++d) {
      const std::string instruction = "# return " + std::to_string(d) + "\ndef f():\n    return ";
      data.push_back({instruction, std::to_string(d) + "\n", true});
      std::string bad;
      const std::size_t len = 1 + rltf::detail::uniform_index(rng, 4);
      for (std::size_t k = 0; k < len; ++k) bad += junk[rltf::detail::uniform_index(rng, junk.size())];
      data.push_back({instruction, bad, false});
    }
  rltf::NgramRewardModel rm({.dimensions = 4096, .max_n = 2, .instruction_features = false, .epochs = 200});
  const auto report = rm.train(data);
  REQUIRE(report.heldout_accuracy >= 0.9);
  return rm;
}

// Mean reward-model score of seeded samples on `prompts` (held out of training).
inline double mean_score(const Policy& policy, rltf::NgramRewardModel& rm, const std::vector<std::string>& prompts) {
  auto rng = rltf::make_rng(77);
  const auto samples =
      policy.generate(prompts, {.max_new_tokens = 4, .top_p = 1.0F, .num_samples = 16, .stop = {"\n"}}, rng);
  double sum = 0.0;
  for (const auto& s : samples) sum += rm.score(s.prompt, s.text);
  return sum / static_cast<double>(samples.size());
}

} // namespace ppo_test

TEST_CASE("PpoObjective: per-token rewards, k1 penalty, GAE, whitening and the adaptive β by hand") {
  using namespace ppo_test;
  using B = rltf::EigenBackend;
  auto policy = value_policy(3);
  // A value head that is not zero, and a reference that differs from the policy.
  auto params = policy.parameters();
  auto rng = rltf::make_rng(4);
  for (std::size_t k = params.size() - 25; k < params.size(); ++k)
    params[k] = static_cast<float>(rltf::detail::uniform01(rng) - 0.5);
  auto reference = std::make_shared<Policy>(value_policy(8));
  const rltf::PpoObjectiveOptions options{.kl = {.coef = 0.1F, .adaptive = true, .target = 0.5F, .horizon = 20.0F},
                                          .gae = {.gamma = 0.9F, .lambda = 0.8F},
                                          .token_reward_scale = 0.5F};
  rltf::PpoObjective<Policy> objective(reference, options);
  std::vector<rltf::Rollout> round{rollout(policy, "# return 1\n", 1, 0.7F, {0.0F, -0.4F}),
                                   rollout(policy, "# return 2\n", 2, -0.3F)};
  for (const auto& r : round) REQUIRE(r.sample.tokens.size() >= 2);
  const auto original = round;
  objective.assign(round, nullptr);
  objective.prepare(policy, round);

  // Recomputed in double from the policy's and the reference's own numbers.
  std::vector<std::vector<double>> adv(round.size()), ret(round.size());
  double kl_total = 0.0, sum = 0.0, sq = 0.0;
  std::size_t tokens = 0;
  for (std::size_t i = 0; i < round.size(); ++i) {
    const std::vector<rltf::Sample> one{original[i].sample};
    const auto v = B::values(policy.values(one));
    const auto ref = B::values(reference->log_probs(one));
    const std::size_t len = one[0].tokens.size();
    std::vector<double> r(len);
    for (std::size_t t = 0; t < len; ++t) {
      const double kl = static_cast<double>(one[0].logprobs[t]) - ref[t]; // k1
      kl_total += kl;
      r[t] = 0.5 * original[i].weights[t] - 0.1 * kl + (t + 1 == len ? original[i].reward : 0.0);
      CHECK(round[i].ref_logprobs[t] == doctest::Approx(ref[t]).epsilon(1e-6));
      CHECK(round[i].values[t] == doctest::Approx(v[t]).epsilon(1e-6));
    }
    adv[i].assign(len, 0.0);
    ret[i].assign(len, 0.0);
    double next_v = 0.0, next_a = 0.0;
    for (std::size_t t = len; t-- > 0;) {
      next_a = r[t] + 0.9 * next_v - v[t] + 0.9 * 0.8 * next_a;
      adv[i][t] = next_a;
      ret[i][t] = next_a + v[t];
      next_v = v[t];
      sum += next_a;
      sq += next_a * next_a;
      ++tokens;
    }
  }
  const double n = static_cast<double>(tokens);
  const double mean = sum / n;
  const double var = (sq / n - mean * mean) * n / (n - 1.0);
  for (std::size_t i = 0; i < round.size(); ++i)
    for (std::size_t t = 0; t < adv[i].size(); ++t) {
      CAPTURE(i);
      CAPTURE(t);
      CHECK(round[i].returns[t] == doctest::Approx(ret[i][t]).epsilon(1e-5));
      CHECK(round[i].weights[t] == doctest::Approx((adv[i][t] - mean) / std::sqrt(var + 1e-8)).epsilon(1e-4));
    }
  // β ← β(1 + clip(KL/target − 1, ±0.2)·n/horizon), KL the mean per-sequence sum.
  const double e = std::clamp(kl_total / 2.0 / 0.5 - 1.0, -0.2, 0.2);
  CHECK(objective.kl_coef() == doctest::Approx(0.1 * (1.0 + e * 2.0 / 20.0)).epsilon(1e-6));
  // The state round-trips through a checkpoint.
  const auto dir = trainer_test::fresh_dir("ppo_objective_state");
  const auto state = objective.save(dir);
  rltf::PpoObjective<Policy> restored(std::make_shared<Policy>(value_policy(9)), options);
  restored.load(dir, state);
  CHECK(restored.kl_coef() == objective.kl_coef());
  CHECK(std::equal(restored.reference()->parameters().begin(), restored.reference()->parameters().end(),
                   reference->parameters().begin()));
}

TEST_CASE("PpoTrainer: the first minibatch has ratio 1, the value loss of V_old, and option errors") {
  using namespace ppo_test;
  auto policy = value_policy(5);
  auto options = small_options({}, 1);
  options.run.checkpoint_every = 0;
  options.learner.batch_size = 12;
  options.rollout.round_every = 1;
  rltf::PpoTrainer trainer{policy, trainer_test::executor(), rltf::Adaptive{}, trainer_test::digit_problems(), options};
  std::vector<rltf::StepMetrics> steps;
  trainer.on_step([&](const rltf::StepMetrics& m) { steps.push_back(m); });
  (void)trainer.train();
  REQUIRE(steps.size() == 1);
  const auto& parts = steps[0].loss_parts;
  CHECK(parts["clip_fraction"].get<float>() == 0.0F);
  CHECK(parts["value_clip_fraction"].get<float>() == 0.0F);
  CHECK(parts["kl"].get<float>() == doctest::Approx(0.0).scale(1.0).epsilon(1e-5)); // the reference is the start
  // V_old = 0 (a fresh head), so the value loss is ½ mean G² over the batch's tokens.
  double g2 = 0.0, tokens = 0.0;
  for (std::size_t i = 0; i < trainer.buffer().size(); ++i)
    for (const float g : trainer.buffer()[i].returns) {
      g2 += static_cast<double>(g) * g;
      tokens += 1.0;
    }
  CHECK(parts["value_loss"].get<float>() == doctest::Approx(0.5 * g2 / tokens).epsilon(1e-5));
  CHECK(steps[0].loss == doctest::Approx(parts["policy_loss"].get<float>() + 0.1F * parts["value_loss"].get<float>()));
  for (const char* key : {"score", "rollout_kl", "kl_coef", "explained_variance", "returns_mean"})
    CHECK(parts.contains(key));
  // Whitened advantages over the round.
  double sum = 0.0;
  for (std::size_t i = 0; i < trainer.buffer().size(); ++i)
    for (const float a : trainer.buffer()[i].weights) sum += a;
  CHECK(sum == doctest::Approx(0.0).scale(1.0).epsilon(1e-4));

  auto plain = trainer_test::make_policy();
  CHECK_THROWS_WITH_AS(
      (rltf::PpoTrainer{plain, trainer_test::executor(), rltf::Adaptive{}, trainer_test::digit_problems(), options}),
      doctest::Contains("no value head"), rltf::invalid_argument);
  auto dropping = options;
  dropping.rollout.drop_zero_advantage_groups = true;
  CHECK_THROWS_AS(
      (rltf::PpoTrainer{policy, trainer_test::executor(), rltf::Adaptive{}, trainer_test::digit_problems(), dropping}),
      rltf::invalid_argument);
  CHECK_THROWS_WITH_AS((rltf::PpoObjective<Policy>(nullptr, {})), doctest::Contains("needs a reference"),
                       rltf::invalid_argument);
}

TEST_CASE("PpoTrainer: PPO raises a reward model's mean score on held-out prompts (reward model + unit tests)") {
  using namespace ppo_test;
  auto rm = digit_reward_model();
  const auto all = trainer_test::digit_problems();
  const std::vector<rltf::Problem> train(all.begin(), all.begin() + 7);
  std::vector<std::string> heldout;
  for (std::size_t d = 7; d < 10; ++d) heldout.push_back(all[d].prompt);
  auto policy = value_policy(2);
  const double before = mean_score(policy, rm, heldout);
  auto options = small_options({}, 90);
  options.run.checkpoint_every = 0;
  options.learner.optimizer.lr = 0.02F;
  // The reward model's logit plus the unit tests' coarse reward: one line.
  auto feedback = rltf::sum(rltf::RewardModelFeedback(rm), rltf::Coarse{});
  rltf::PpoTrainer trainer{policy, trainer_test::executor(), feedback, train, options};
  std::vector<rltf::StepMetrics> steps;
  trainer.on_step([&](const rltf::StepMetrics& m) { steps.push_back(m); });
  (void)trainer.train();
  const double after = mean_score(policy, rm, heldout);
  MESSAGE("held-out reward-model score " << before << " -> " << after);
  CHECK(after > before + 1.0);
  // The training reward rose too.
  double first = 0.0, last = 0.0;
  for (std::size_t i = 0; i < 15; ++i) {
    first += steps[i].reward_mean;
    last += steps[steps.size() - 1 - i].reward_mean;
  }
  CHECK(last > first);
}

TEST_CASE("PpoTrainer: resuming from a checkpoint reproduces the uninterrupted run exactly") {
  using namespace ppo_test;
  const auto a_dir = trainer_test::fresh_dir("ppo_resume_a");
  const auto b_dir = trainer_test::fresh_dir("ppo_resume_b");
  auto opts = [](const std::filesystem::path& dir, std::size_t steps) {
    auto o = small_options(dir, steps);
    o.objective.kl.adaptive = true; // β is part of the state
    o.objective.kl.target = 0.05F;
    o.objective.kl.horizon = 50.0F;
    return o;
  };
  {
    auto policy = value_policy();
    rltf::PpoTrainer trainer{policy, trainer_test::executor(), rltf::Adaptive{}, trainer_test::digit_problems(),
                             opts(a_dir, 9)};
    (void)trainer.train();
  }
  {
    auto policy = value_policy();
    rltf::PpoTrainer trainer{policy, trainer_test::executor(), rltf::Adaptive{}, trainer_test::digit_problems(),
                             opts(b_dir, 4)};
    (void)trainer.train(); // checkpoints at 3 and 4
  }
  {
    auto policy = value_policy(99); // the weights come from the checkpoint
    rltf::PpoTrainer trainer{policy, trainer_test::executor(), rltf::Adaptive{}, trainer_test::digit_problems(),
                             opts(b_dir, 9)};
    const auto summary = trainer.train();
    CHECK(summary.resumed_from == 4);
  }
  const auto a = rltf::read_metrics(a_dir / "metrics.jsonl");
  const auto b = rltf::read_metrics(b_dir / "metrics.jsonl");
  REQUIRE(a.size() == 9);
  REQUIRE(b.size() == 9);
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i].dump() == b[i].dump());
  CHECK(a.back()["train/kl_coef"].get<float>() != 0.05F); // β moved
}
