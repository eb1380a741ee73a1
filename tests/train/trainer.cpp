#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/train/detail/config.hpp"
#include "rltf/eigen/backend.hpp"
#include "rltf/eigen/policy.hpp"
#include "rltf/exec/python_executor.hpp"
#include "rltf/feedback/rltf_feedback.hpp"
#include "rltf/tokenize/char.hpp"
#include "rltf/train/grpo_trainer.hpp"
#include "rltf/train/rltf_trainer.hpp"

#include "trainer_fixture.hpp"

TEST_CASE("RltfTrainer: a round samples, executes, rewards and fills the buffer") {
  using namespace trainer_test;
  auto policy = make_policy();
  const auto dir = fresh_dir("trainer_round");
  auto options = small_options(dir, 1);
  options.loss.baseline = rltf::Baseline::none;
  options.loss.sl_coef = 0.0F;
  rltf::RltfTrainer trainer{policy, executor(), rltf::Coarse{}, digit_problems(), options};
  const auto summary = trainer.train();
  CHECK(summary.steps == 1);
  CHECK(summary.samples == 12);
  REQUIRE(trainer.buffer().size() == 12);
  const rltf::OnlineBuffer<rltf::Rollout>& buffer = trainer.buffer();
  std::size_t outcomes_seen = 0;
  for (std::size_t i = 0; i < buffer.size(); ++i) {
    const auto& r = buffer[i];
    CHECK(r.sample.task_id == "digit/" + std::to_string(r.sample.problem));
    CHECK(r.sample.tokens.size() <= 4);
    CHECK(r.weights.size() == r.sample.tokens.size());
    CHECK(r.baseline == 0.0F);
    // Coarse: R by outcome, spread over every token.
    const float expected = r.outcome == rltf::Outcome::pass           ? 1.0F
                           : r.outcome == rltf::Outcome::failure      ? -0.3F
                           : r.outcome == rltf::Outcome::syntax_error ? -1.0F
                                                                      : -0.6F;
    CHECK(r.reward == doctest::Approx(expected));
    for (float w : r.weights) CHECK(w == r.reward);
    outcomes_seen |= 1U << static_cast<unsigned>(r.outcome);
  }
  CHECK(outcomes_seen != 0);
  // Four samples of each of three distinct problems, in groups.
  for (std::size_t g = 0; g < 3; ++g)
    for (std::size_t i = 1; i < 4; ++i) CHECK(buffer[g * 4 + i].sample.problem == buffer[g * 4].sample.problem);
  const auto metrics = rltf::read_metrics(dir / "metrics.jsonl");
  REQUIRE(metrics.size() == 1);
  CHECK(metrics[0]["step"] == 1);
  CHECK(metrics[0]["round"]["samples"] == 12);
  CHECK(metrics[0].contains("loss"));
  CHECK(std::filesystem::exists(dir / "checkpoints" / "latest")); // the final step is checkpointed
}

TEST_CASE("RltfTrainer: baselines and fine-grained token rewards reach the weights") {
  using namespace trainer_test;
  auto policy = make_policy(3);
  auto options = small_options({}, 2);
  options.run.checkpoint_every = 0;
  options.loss.baseline = rltf::Baseline::greedy;
  rltf::RltfTrainer trainer{policy, executor(), rltf::RltfFeedback{}, digit_problems(), options};
  (void)trainer.train();
  const auto& buffer = trainer.buffer();
  REQUIRE(buffer.size() == 24);
  std::size_t with_token_part = 0;
  for (std::size_t i = 0; i < buffer.size(); ++i) {
    const auto& r = buffer[i];
    // The greedy baseline of the round is the greedy decode's reward, recorded by the objective.
    const auto greedy = trainer.objective().last_greedy(r.sample.problem);
    REQUIRE(greedy.has_value());
    if (r.round == 1) CHECK(r.baseline == *greedy);
    bool differs = false;
    for (float w : r.weights) differs = differs || w != r.reward - r.baseline;
    with_token_part += differs;
  }
  // Some samples raised in (or failed to compile) a line: the fine-grained part is not uniform.
  CHECK(with_token_part > 0);
}

TEST_CASE("RltfTrainer: resuming from a checkpoint reproduces the uninterrupted run exactly") {
  using namespace trainer_test;
  const auto a_dir = fresh_dir("trainer_resume_a");
  const auto b_dir = fresh_dir("trainer_resume_b");
  {
    auto policy = make_policy();
    rltf::RltfTrainer trainer{policy, executor(), rltf::RltfFeedback{}, digit_problems(), small_options(a_dir, 7)};
    (void)trainer.train();
  }
  {
    auto policy = make_policy();
    rltf::RltfTrainer trainer{policy, executor(), rltf::RltfFeedback{}, digit_problems(), small_options(b_dir, 4)};
    (void)trainer.train(); // checkpoints at 3 and 4
  }
  {
    // A fresh process would start from a new policy object: its weights come from the checkpoint.
    auto policy = make_policy(99);
    rltf::RltfTrainer trainer{policy, executor(), rltf::RltfFeedback{}, digit_problems(), small_options(b_dir, 7)};
    const auto summary = trainer.train();
    CHECK(summary.resumed_from == 4);
    CHECK(summary.steps == 7);
  }
  const auto a = rltf::read_metrics(a_dir / "metrics.jsonl");
  const auto b = rltf::read_metrics(b_dir / "metrics.jsonl");
  REQUIRE(a.size() == 7);
  REQUIRE(b.size() == 7);
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i].dump() == b[i].dump());
  // Another seed gives another run.
  const auto c_dir = fresh_dir("trainer_resume_c");
  auto options = small_options(c_dir, 3);
  options.run.seed = 8;
  auto policy = make_policy();
  rltf::RltfTrainer trainer{policy, executor(), rltf::RltfFeedback{}, digit_problems(), options};
  (void)trainer.train();
  const auto c = rltf::read_metrics(c_dir / "metrics.jsonl");
  CHECK(c[0].dump() != a[0].dump());
  // A checkpoint made with another seed is refused.
  auto other = small_options(a_dir, 8);
  other.run.seed = 8;
  auto p2 = make_policy();
  rltf::RltfTrainer refuse{p2, executor(), rltf::RltfFeedback{}, digit_problems(), other};
  CHECK_THROWS_AS((void)refuse.train(), rltf::checkpoint_mismatch);
  // ... and so is one made with another baseline (the per-problem state would mean something else).
  auto other_baseline = small_options(a_dir, 8);
  other_baseline.loss.baseline = rltf::Baseline::best;
  auto p3 = make_policy();
  rltf::RltfTrainer refuse_baseline{p3, executor(), rltf::RltfFeedback{}, digit_problems(), other_baseline};
  CHECK_THROWS_WITH_AS((void)refuse_baseline.train(),
                       doctest::Contains("field 'config.objective.baseline': the checkpoint was made with \"greedy\", "
                                         "this run has \"best\""),
                       rltf::checkpoint_mismatch);
}

TEST_CASE("RltfTrainer: a checkpoint is resumed only with the options it was made with") {
  using namespace trainer_test;
  const auto dir = fresh_dir("trainer_resume_options");
  {
    auto policy = make_policy();
    rltf::RltfTrainer trainer{policy, executor(), rltf::RltfFeedback{}, digit_problems(), small_options(dir, 4)};
    (void)trainer.train();
  }
  const auto refused = [&](const rltf::RltfOptions& options) -> std::string {
    auto policy = make_policy();
    rltf::RltfTrainer trainer{policy, executor(), rltf::RltfFeedback{}, digit_problems(), options};
    try {
      (void)trainer.train();
    } catch (const rltf::checkpoint_mismatch& e) {
      CHECK(std::string(e.what()).find((dir / "checkpoints").string()) == 0); // names the checkpoint's file
      return e.field();
    }
    return "resumed";
  };
  auto lr = small_options(dir, 6);
  lr.learner.optimizer.lr *= 2.0F;
  CHECK(refused(lr) == "config.learner.optimizer.lr");
  auto temperature = small_options(dir, 6);
  temperature.rollout.sampling.temperature = 0.5F;
  CHECK(refused(temperature) == "config.rollout.sampling.temperature");
  auto buffer = small_options(dir, 6);
  buffer.learner.buffer.capacity += 1;
  CHECK(refused(buffer) == "config.learner.buffer.capacity");
  auto sl = small_options(dir, 6);
  sl.loss.sl_coef = 0.25F;
  CHECK(refused(sl) == "config.objective.sl_coef");
  // A run that already went further than this one asks for is not silently taken as its result...
  CHECK(refused(small_options(dir, 3)) == "step");
  // ... while the step count alone may grow: a finished run is continued for longer.
  CHECK(refused(small_options(dir, 6)) == "resumed");
  // Operations are not part of the configuration.
  auto ops = small_options(dir, 6);
  ops.run.log_every = 5;
  ops.run.checkpoint_every = 2;
  ops.run.keep_checkpoints = 3;
  CHECK(refused(ops) == "resumed");
}

TEST_CASE("trainer options as JSON and the first difference of two configurations") {
  rltf::RltfOptions o;
  const nlohmann::json rollout = o.rollout;
  CHECK(rollout.at("sampling").at("num_samples") == 20);
  CHECK(rollout.at("sampling").at("top_p").get<float>() == 0.95F);
  CHECK(rollout.at("limits").at("max_processes") == 16);
  const nlohmann::json loss = o.loss;
  CHECK(loss.at("baseline") == "best");
  CHECK(loss.at("reduction") == "token_mean");
  const nlohmann::json grpo = rltf::GrpoObjectiveOptions{};
  CHECK(grpo.at("loss").at("kl_estimator") == "k3");
  CHECK(grpo.at("loss").at("reduction") == "sequence_mean");

  const nlohmann::json was = {{"a", {{"b", 1}, {"c", 3e-5F}}}, {"d", "x"}, {"gone", true}};
  CHECK_FALSE(rltf::train::detail::config_difference(was, was).has_value());
  auto now = was;
  now["a"]["c"] = 1e-4F;
  auto d = rltf::train::detail::config_difference(was, now);
  REQUIRE(d.has_value());
  CHECK(d->path == "a.c");
  CHECK(d->was == "3e-05"); // floats as a person writes them, not 2.9999999242136255e-05
  CHECK(d->now == "0.0001");
  now = was;
  now.erase("gone");
  d = rltf::train::detail::config_difference(was, now);
  REQUIRE(d.has_value());
  CHECK(d->path == "gone");
  CHECK(d->now == "absent");
  now = was;
  now["new"] = {1, 2};
  d = rltf::train::detail::config_difference(was, now);
  REQUIRE(d.has_value());
  CHECK(d->path == "new");
  CHECK(d->was == "absent");
  CHECK(d->now == "[1,2]");
}

TEST_CASE("RltfTrainer: a generator synced every K steps keeps the old weights in between") {
  using namespace trainer_test;
  auto policy = make_policy();
  auto options = small_options({}, 3);
  options.run.checkpoint_every = 0;
  options.learner.sync_every = 2;
  rltf::RltfTrainer trainer{policy, executor(), rltf::Coarse{}, digit_problems(), options};
  const auto initial = std::vector<float>(policy.parameters().begin(), policy.parameters().end());
  std::vector<bool> equal_to_learner, equal_to_initial;
  trainer.on_step([&](const rltf::StepMetrics&) {
    const auto g = trainer.generator().parameters();
    equal_to_learner.push_back(std::equal(g.begin(), g.end(), policy.parameters().begin()));
    equal_to_initial.push_back(std::equal(g.begin(), g.end(), initial.begin()));
  });
  (void)trainer.train();
  CHECK(equal_to_initial == std::vector<bool>{true, false, false});
  CHECK(equal_to_learner == std::vector<bool>{false, true, false});
  CHECK(&trainer.generator() != &trainer.policy());
}

TEST_CASE("RltfTrainer: option errors") {
  using namespace trainer_test;
  auto policy = make_policy();
  auto options = small_options({}, 1);
  options.rollout.greedy_baseline = false; // but the baseline is greedy
  CHECK_THROWS_AS((rltf::RltfTrainer{policy, executor(), rltf::Coarse{}, digit_problems(), options}),
                  rltf::invalid_argument);
  CHECK_THROWS_AS((rltf::RltfTrainer{policy, executor(), rltf::Coarse{}, {}, small_options({}, 1)}),
                  rltf::invalid_argument);
  auto zero = small_options({}, 1);
  zero.learner.batch_size = 0;
  CHECK_THROWS_AS((rltf::RltfTrainer{policy, executor(), rltf::Coarse{}, digit_problems(), zero}),
                  rltf::invalid_argument);
}

TEST_CASE("GrpoTrainer: group-normalised advantages, ratio 1 and zero KL on the first step") {
  using namespace trainer_test;
  auto policy = make_policy(5);
  rltf::GrpoOptions options{.rollout = {.problems_per_round = 3,
                                        .sampling = {.max_new_tokens = 4, .top_p = 1.0F, .num_samples = 6},
                                        .greedy_baseline = false},
                            .learner = {.steps = 1,
                                        .batch_size = 18,
                                        .optimizer = {.lr = 0.01F},
                                        .buffer = {.capacity = 18, .refresh_every = 1}},
                            .run = {.seed = 3, .progress = rltf::ProgressMode::off},
                            .objective = {.token_reward_scale = 0.0F}};
  rltf::GrpoTrainer trainer{policy, executor(), rltf::Adaptive{}, digit_problems(), options};
  std::vector<rltf::StepMetrics> steps;
  trainer.on_step([&](const rltf::StepMetrics& m) { steps.push_back(m); });
  (void)trainer.train();
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].loss_parts["clip_fraction"].get<float>() == 0.0F);
  CHECK(steps[0].loss_parts["kl"].get<float>() == doctest::Approx(0.0F).epsilon(1e-6));
  const auto& buffer = trainer.buffer();
  REQUIRE(buffer.size() == 18);
  for (std::size_t g = 0; g < 3; ++g) {
    double sum = 0.0;
    double mean = 0.0;
    for (std::size_t i = 0; i < 6; ++i) mean += buffer[g * 6 + i].reward / 6.0;
    for (std::size_t i = 0; i < 6; ++i) {
      const auto& r = buffer[g * 6 + i];
      CHECK(r.baseline == doctest::Approx(mean));
      CHECK(r.ref_logprobs.size() == r.sample.tokens.size());
      for (std::size_t t = 0; t < r.ref_logprobs.size(); ++t)
        CHECK(r.ref_logprobs[t] == doctest::Approx(r.sample.logprobs[t]).epsilon(1e-6));
      if (!r.weights.empty()) sum += r.weights[0];
      for (float w : r.weights) CHECK(w == r.weights[0]); // one advantage on every token
    }
    CHECK(sum == doctest::Approx(0.0).epsilon(1e-4).scale(1.0));
  }
  // The reference stays frozen while the policy moves.
  const auto* ref = trainer.objective().reference();
  REQUIRE(ref != nullptr);
  CHECK_FALSE(std::equal(ref->parameters().begin(), ref->parameters().end(), policy.parameters().begin()));
  auto fresh = make_policy(5);
  CHECK(std::equal(ref->parameters().begin(), ref->parameters().end(), fresh.parameters().begin()));
}

TEST_CASE("Rltf<P>: the common composition, with RLTF's defaults") {
  using T = rltf::Rltf<trainer_test::Policy>;
  static_assert(std::same_as<T::executor_type, rltf::PythonExecutor>);
  static_assert(std::same_as<T::feedback_type, rltf::RltfFeedback>);
  static_assert(std::same_as<T::buffer_type, rltf::OnlineBuffer<rltf::Rollout>>);
  static_assert(std::same_as<rltf::RltfTrainer<trainer_test::Policy>, T>);
  const rltf::RltfOptions defaults;
  CHECK(defaults.rollout.sampling.top_p == 0.95F);
  CHECK(defaults.rollout.sampling.temperature == 1.0F);
  CHECK(defaults.rollout.sampling.max_new_tokens == 512);
  CHECK(defaults.rollout.sampling.num_samples == 20);
  CHECK(defaults.rollout.greedy_baseline);
  CHECK(defaults.learner.optimizer.lr == 2e-6F);
  CHECK(defaults.learner.buffer.capacity == 6400);
  CHECK(defaults.learner.buffer.refresh_every == 50);
  CHECK(defaults.loss.sl_coef == 1.0F);
  CHECK(defaults.loss.baseline == rltf::Baseline::best); // the paper's historical best
  auto policy = trainer_test::make_policy();
  auto options = trainer_test::small_options({}, 1);
  options.run.checkpoint_every = 0;
  T trainer{policy, trainer_test::executor(), rltf::RltfFeedback{}, trainer_test::digit_problems(), options};
  CHECK(trainer.train().steps == 1);
}

namespace trainer_test {
// A user's buffer: keeps only the latest round, hands out its first n elements. No state(), so no
// checkpoints.
struct LatestRoundBuffer {
  using value_type = rltf::Rollout;
  std::vector<rltf::Rollout> items;
  void push(std::span<const rltf::Rollout> r) { items.assign(r.begin(), r.end()); }
  std::vector<rltf::Rollout> sample(std::size_t n, rltf::Rng&) const {
    return {items.begin(), items.begin() + static_cast<std::ptrdiff_t>(std::min(n, items.size()))};
  }
  std::size_t size() const { return items.size(); }
  std::size_t capacity() const { return 1000; }
};
// A user's feedback: −0.1 per token beyond the second, on those tokens.
struct LengthPenalty {
  rltf::TokenRewards operator()(const rltf::Sample& s, const rltf::ExecutionResult&, const rltf::TokenOffsets&) const {
    rltf::TokenRewards r;
    r.token.assign(s.tokens.size(), 0.0F);
    for (std::size_t t = 2; t < s.tokens.size(); ++t) r.token[t] = -0.1F;
    return r;
  }
};
} // namespace trainer_test

TEST_CASE("RltfTrainer: a user's buffer and feedback plug in without touching the trainer") {
  using namespace trainer_test;
  static_assert(rltf::Buffer<LatestRoundBuffer>);
  static_assert(rltf::Feedback<LengthPenalty>);
  auto policy = make_policy();
  auto options = small_options({}, 2);
  options.run.checkpoint_every = 0;
  options.loss.baseline = rltf::Baseline::none;
  options.loss.sl_coef = 0.0F;
  auto feedback = rltf::Coarse{} + LengthPenalty{};
  rltf::RltfTrainer<Policy, rltf::PythonExecutor, decltype(feedback), LatestRoundBuffer> trainer{
      policy, executor(), feedback, digit_problems(), options};
  CHECK(trainer.train().steps == 2);
  const auto& items = trainer.buffer().items;
  REQUIRE(items.size() == 12); // only the last round
  for (const auto& r : items) {
    CHECK(r.round == 1);
    for (std::size_t t = 0; t < r.weights.size(); ++t)
      CHECK(r.weights[t] == doctest::Approx(r.reward + (t >= 2 ? -0.1F : 0.0F)));
  }
  // Checkpoints need a buffer whose state can be saved.
  auto with_checkpoints = small_options(fresh_dir("user_buffer"), 1);
  CHECK_THROWS_AS((rltf::RltfTrainer<Policy, rltf::PythonExecutor, decltype(feedback), LatestRoundBuffer>{
                      policy, executor(), feedback, digit_problems(), with_checkpoints}),
                  rltf::invalid_argument);
}
