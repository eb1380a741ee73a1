// The objectives' options and the diagnostics of the online trainers (docs/training.md), on real
// rollouts of the Eigen policy on the digit family: advantage estimators, loss aggregation,
// dynamic sampling, the freshest-rollouts view with every sample used, the ratio correction of
// stale batches, and the logged diagnostics — checked against values recomputed from the
// rollouts the trainer kept, and on hand-made rollouts.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/feedback/coarse.hpp"
#include "rltf/feedback/rltf_feedback.hpp"
#include "rltf/train/diagnostics.hpp"
#include "rltf/train/grpo_trainer.hpp"
#include "rltf/train/rltf_trainer.hpp"

#include "trainer_fixture.hpp"

namespace objectives_test {

rltf::Rollout rollout(std::size_t problem, float reward, std::vector<float> weights, std::vector<float> logprobs,
                      rltf::Outcome outcome) {
  rltf::Rollout r;
  r.sample.problem = problem;
  r.sample.tokens.assign(weights.size(), 1);
  r.sample.logprobs = std::move(logprobs);
  r.weights = std::move(weights);
  r.reward = reward;
  r.outcome = outcome;
  return r;
}

// Small GRPO options on the digit family: 3 problems × 4 samples per round, one-token answers.
rltf::GrpoOptions grpo_options(std::size_t steps) {
  rltf::GrpoOptions o;
  o.rollout.problems_per_round = 3;
  o.rollout.sampling = {.max_new_tokens = 2, .temperature = 1.0F, .top_p = 1.0F, .num_samples = 4};
  o.rollout.limits = {.test_timeout_s = 2.0, .program_timeout_s = 4.0};
  o.learner.steps = steps;
  o.learner.batch_size = 12;
  o.learner.optimizer.lr = 0.01F;
  o.learner.buffer = {.capacity = 12, .refresh_every = 1};
  o.run = {.seed = 5, .checkpoint_every = 0, .progress = rltf::ProgressMode::off};
  return o;
}

/// A TrainerObjective that records every batch (problem, round, position in the round) and
/// learns nothing: which rollouts the learner sees.
struct Recorder {
  std::vector<std::vector<std::tuple<std::uint64_t, std::size_t, std::string>>> batches;
  void assign(std::span<rltf::Rollout> group, const rltf::Rollout*) {
    for (auto& r : group)
      for (auto& w : r.weights) w = r.reward;
  }
  template <class P>
  void prepare(P&, std::span<rltf::Rollout>) {}
  template <class P>
  rltf::LossReport learn(P&, std::span<const rltf::Rollout> batch, std::size_t, rltf::Rng&) {
    auto& b = batches.emplace_back();
    for (const auto& r : batch)
      b.emplace_back(r.round, r.sample.problem, r.sample.text + "#" + std::to_string(r.passed));
    return {};
  }
  [[nodiscard]] nlohmann::json save(const std::filesystem::path&) const { return nlohmann::json::object(); }
  void load(const std::filesystem::path&, const nlohmann::json&) {}
};

} // namespace objectives_test

TEST_CASE("diagnostics: round statistics by hand") {
  using objectives_test::rollout;
  using O = rltf::Outcome;
  // Two groups of two: the first has weights (1, 1 | −1), the second all zeros (equal rewards).
  const std::vector<rltf::Rollout> rs{
      rollout(0, 1.0F, {1, 1}, {-0.5F, -1.5F}, O::pass), rollout(0, 0.0F, {-1}, {-2.0F}, O::failure),
      rollout(1, 0.5F, {0, 0, 0}, {-1.0F, -1.0F, -1.0F}, O::failure), rollout(1, 0.5F, {0}, {-3.0F}, O::syntax_error)};
  rltf::StepMetrics m;
  rltf::round_diagnostics(rs, 2, m);
  // Token weights 1, 1, −1, 0, 0, 0, 0: mean 1/7, E[w²] = 3/7.
  CHECK(m.adv_mean == doctest::Approx(1.0 / 7.0));
  CHECK(m.adv_std == doctest::Approx(std::sqrt(3.0 / 7.0 - 1.0 / 49.0)));
  CHECK(m.frac_zero_adv_groups == doctest::Approx(0.5));
  CHECK(m.frac_reward_zero_std == doctest::Approx(0.5));
  // −mean of the 7 sampled tokens' log-probs: (0.5 + 1.5 + 2 + 3 + 3) / 7.
  CHECK(m.entropy == doctest::Approx(10.0 / 7.0));
  CHECK(m.len_pass == doctest::Approx(2.0));
  CHECK(m.len_fail == doctest::Approx(5.0 / 3.0));
  CHECK(m.len_mean == doctest::Approx(7.0 / 4.0));
  CHECK(rltf::zero_advantage_group(std::span(rs).subspan(2, 2)));
  CHECK_FALSE(rltf::zero_advantage_group(std::span(rs).first(2)));
  m.round = true;
  m.samples = 4;
  m.outcomes[static_cast<std::size_t>(O::failure)] = 2;
  const auto j = m.to_json();
  CHECK(j.at("train/outcome/failure").get<float>() == 0.5F);
  CHECK(j.at("train/len_pass").get<float>() == 2.0F);
  CHECK(j.at("round").at("outcomes").at("failure") == 2); // the nested record stays
  rltf::StepMetrics none;
  rltf::round_diagnostics(std::span(rs).subspan(1, 3), 3, none);
  CHECK(none.len_pass == -1.0F); // no sample passed: not logged
  none.round = true;
  CHECK_FALSE(none.to_json().contains("train/len_pass"));
}

TEST_CASE("diagnostics: a seeded RLTF run logs values recomputed from its rollouts, lr and timings") {
  using namespace trainer_test;
  auto policy = make_policy(4);
  const auto dir = fresh_dir("objectives_diagnostics");
  auto options = small_options(dir, 1);
  options.loss.baseline = rltf::Baseline::group_mean;
  options.learner.warmup_steps = 4;
  options.learner.buffer = {.capacity = 12, .refresh_every = 1, .view = rltf::BufferView::latest};
  rltf::RltfTrainer trainer{policy, executor(), rltf::RltfFeedback{}, digit_problems(), options};
  const auto summary = trainer.train();
  const auto& buffer = trainer.buffer();
  REQUIRE(buffer.size() == 12); // the round, as the objective weighted it
  std::vector<rltf::Rollout> round;
  for (std::size_t i = 0; i < buffer.size(); ++i) round.push_back(buffer[i]);
  rltf::StepMetrics want;
  rltf::round_diagnostics(round, 4, want);
  const auto& m = summary.last;
  CHECK(m.adv_mean == want.adv_mean);
  CHECK(m.adv_std == want.adv_std);
  CHECK(m.frac_zero_adv_groups == want.frac_zero_adv_groups);
  CHECK(m.entropy == want.entropy);
  CHECK(m.entropy > 0.0F);
  CHECK(m.lr == doctest::Approx(0.01 / 4.0)); // step 1 of a 4-step warm-up
  // A fresh batch: the learner is the behaviour policy, KL 0, nothing stale.
  CHECK(m.loss_parts.at("kl").get<float>() == doctest::Approx(0.0).epsilon(1e-6));
  CHECK(m.loss_parts.at("stale_frac").get<float>() == 0.0F);
  const auto metrics = rltf::read_metrics(dir / "metrics.jsonl");
  REQUIRE(metrics.size() == 1);
  const auto& j = metrics[0];
  for (const char* key : {"train/reward", "train/kl", "train/entropy", "train/adv_mean", "train/adv_std",
                          "train/frac_zero_adv_groups", "train/frac_reward_zero_std", "train/lr", "train/loss",
                          "train/grad_norm", "train/len_mean", "train/outcome/pass", "train/rl", "train/sl"})
    CHECK_MESSAGE(j.contains(key), key);
  CHECK(j.at("train/reward").get<float>() == m.reward_mean);
  double shares = 0.0;
  for (const char* o : {"pass", "failure", "syntax_error", "runtime_error", "timeout"})
    shares += j.at(std::string("train/outcome/") + o).get<double>();
  CHECK(shares == doctest::Approx(1.0));
  CHECK_FALSE(j.contains("time")); // read_metrics drops the wall-clock figures ...
  std::ifstream raw(dir / "metrics.jsonl");
  std::string line;
  std::getline(raw, line);
  const auto t = nlohmann::json::parse(line).at("time"); // ... which are all under "time"
  for (const char* key : {"generation_s", "execution_s", "learning_s", "step_s"}) CHECK(t.at(key).get<double>() > 0.0);
}

TEST_CASE("objectives: GRPO's estimators (GRPO, Dr. GRPO, RLOO) set the weights from the group rewards") {
  using namespace trainer_test;
  for (const auto est : {rltf::algo::AdvantageEstimator::grpo, rltf::algo::AdvantageEstimator::dr_grpo,
                         rltf::algo::AdvantageEstimator::rloo}) {
    CAPTURE(rltf::algo::to_string(est));
    auto policy = make_policy(6);
    auto o = objectives_test::grpo_options(1);
    o.objective.advantage = est;
    rltf::GrpoTrainer trainer{policy, executor(), rltf::Coarse{}, digit_problems(), o};
    (void)trainer.train();
    const auto& b = trainer.buffer();
    REQUIRE(b.size() == 12);
    std::vector<float> rewards;
    for (std::size_t i = 0; i < 12; ++i) rewards.push_back(b[i].reward);
    const auto adv = rltf::algo::group_advantages(rewards, 4, est);
    bool nonzero = false;
    for (std::size_t i = 0; i < 12; ++i) {
      for (const float w : b[i].weights) CHECK(w == adv[i]); // Coarse has no token part
      nonzero = nonzero || adv[i] != 0.0F;
    }
    CHECK(nonzero);
  }
}

TEST_CASE("objectives: RLTF's leave-one-out and group-normalised baselines") {
  using namespace trainer_test;
  for (const auto base : {rltf::Baseline::leave_one_out, rltf::Baseline::group_norm}) {
    CAPTURE(rltf::algo::to_string(base));
    auto policy = make_policy(6);
    auto options = small_options({}, 1);
    options.run.checkpoint_every = 0;
    options.loss.baseline = base;
    options.learner.buffer = {.capacity = 12, .refresh_every = 1};
    rltf::RltfTrainer trainer{policy, executor(), rltf::Coarse{}, digit_problems(), options};
    (void)trainer.train();
    const auto& b = trainer.buffer();
    REQUIRE(b.size() == 12);
    std::vector<float> rewards;
    for (std::size_t i = 0; i < 12; ++i) rewards.push_back(b[i].reward);
    const auto adv =
        rltf::algo::group_advantages(rewards, 4,
                                     base == rltf::Baseline::leave_one_out ? rltf::algo::AdvantageEstimator::rloo
                                                                           : rltf::algo::AdvantageEstimator::grpo);
    for (std::size_t i = 0; i < 12; ++i)
      for (const float w : b[i].weights) CHECK(w == adv[i]);
  }
}

TEST_CASE("objectives: seq_mean_token_sum_norm's L defaults to the generation budget") {
  using namespace trainer_test;
  auto policy = make_policy();
  auto o = objectives_test::grpo_options(1);
  o.objective.loss.reduction = rltf::algo::Reduction::seq_mean_token_sum_norm;
  rltf::GrpoTrainer trainer{policy, executor(), rltf::Coarse{}, digit_problems(), o};
  CHECK(trainer.objective().options().loss.norm_length == 2.0F);
  CHECK(trainer.configuration().at("objective").at("loss").at("reduction") == "seq_mean_token_sum_norm");
  auto r = small_options({}, 1);
  r.loss.reduction = rltf::algo::Reduction::seq_mean_token_sum_norm;
  rltf::RltfTrainer rltf_trainer{policy, executor(), rltf::Coarse{}, digit_problems(), r};
  CHECK(rltf_trainer.objective().options().norm_length == 4.0F);
}

TEST_CASE("objectives: dynamic sampling drops the groups with zero advantage") {
  using namespace trainer_test;
  auto policy = make_policy(6);
  auto o = objectives_test::grpo_options(3);
  // One random character, two samples per problem: often both fail alike (most characters do
  // not compile), and such groups carry no signal.
  o.rollout.sampling.max_new_tokens = 1;
  o.rollout.sampling.num_samples = 2;
  o.rollout.drop_zero_advantage_groups = true;
  o.learner.buffer = {.capacity = 64, .refresh_every = 1, .view = rltf::BufferView::latest};
  rltf::GrpoTrainer trainer{policy, executor(), rltf::Coarse{}, digit_problems(), o};
  std::size_t dropped = 0, zero_groups = 0, rounds = 0;
  trainer.on_step([&](const rltf::StepMetrics& m) {
    dropped += m.groups_dropped;
    zero_groups += static_cast<std::size_t>(std::lround(m.frac_zero_adv_groups * 3.0F));
    rounds = m.rounds;
  });
  (void)trainer.train();
  REQUIRE(rounds == 3); // no round was all dropped, so the counts below are of 3 rounds
  CHECK(dropped == zero_groups);
  CHECK(dropped > 0);
  const auto& b = trainer.buffer();
  CHECK(b.size() == 2 * (9 - dropped));
  for (std::size_t g = 0; g < b.size(); g += 2)
    CHECK_FALSE(rltf::zero_advantage_group(std::vector<rltf::Rollout>{b[g], b[g + 1]}));
}

TEST_CASE("objectives: the freshest view with a sweep trains on every sample of a round exactly once") {
  using namespace trainer_test;
  auto policy = make_policy(2);
  auto o = objectives_test::grpo_options(6);
  o.learner.batch_size = 4;
  o.rollout.round_every = 3; // 12 rollouts per round, 3 batches of 4
  o.learner.buffer = {.capacity = 64, .refresh_every = 1, .view = rltf::BufferView::latest, .sweep = true};
  using Recorder = objectives_test::Recorder;
  rltf::OnlineTrainer<Policy, rltf::PythonExecutor, rltf::Coarse, rltf::OnlineBuffer<rltf::Rollout>, Recorder> trainer{
      policy,
      executor(),
      rltf::Coarse{},
      digit_problems(),
      o.rollout,
      o.learner,
      o.run,
      Recorder{},
      rltf::OnlineBuffer<rltf::Rollout>(o.learner.buffer)};
  (void)trainer.train();
  const auto& batches = trainer.objective().batches;
  REQUIRE(batches.size() == 6);
  for (std::size_t round = 0; round < 2; ++round) {
    std::multiset<std::size_t> problems;
    std::map<std::size_t, std::size_t> per_problem;
    for (std::size_t s = 0; s < 3; ++s)
      for (const auto& [r, p, text] : batches[round * 3 + s]) {
        CHECK(r == round); // only the freshest round
        ++per_problem[p];
      }
    CHECK(per_problem.size() == 3);
    for (const auto& [p, n] : per_problem) CHECK(n == 4); // each of the 4 samples of 3 problems once
  }
}

TEST_CASE("objectives: the ratio correction leaves fresh batches as REINFORCE and acts on stale ones") {
  using namespace trainer_test;
  auto run = [](float ratio_clip, std::size_t steps) {
    auto policy = make_policy(8);
    auto options = small_options({}, steps);
    options.run.checkpoint_every = 0;
    options.loss.sl_coef = 0.0F;
    options.loss.ratio_clip = ratio_clip;
    options.rollout.round_every = 3;
    options.learner.buffer = {.capacity = 12, .refresh_every = 1, .view = rltf::BufferView::latest, .sweep = true};
    options.learner.batch_size = 4;
    rltf::RltfTrainer trainer{policy, executor(), rltf::RltfFeedback{}, digit_problems(), options};
    std::vector<rltf::StepMetrics> steps_seen;
    trainer.on_step([&](const rltf::StepMetrics& m) { steps_seen.push_back(m); });
    (void)trainer.train();
    const auto p = policy.parameters();
    return std::make_pair(std::vector<float>(p.begin(), p.end()), steps_seen);
  };
  // One step on the fresh round: ρ = 1 exactly, the same update bit for bit.
  const auto [plain1, m_plain1] = run(0.0F, 1);
  const auto [clip1, m_clip1] = run(0.2F, 1);
  CHECK(plain1 == clip1);
  CHECK(m_clip1[0].loss_parts.at("clip_fraction").get<float>() == 0.0F);
  // Steps 2 and 3 train on rollouts sampled before steps 1 and 2: stale, and corrected.
  const auto [plain3, m_plain3] = run(0.0F, 3);
  const auto [clip3, m_clip3] = run(0.2F, 3);
  CHECK(m_clip3[1].loss_parts.at("stale_frac").get<float>() == 1.0F);
  CHECK(m_clip3[2].loss_parts.at("staleness").get<float>() == 2.0F);
  CHECK(m_clip3[1].loss_parts.at("kl_behavior").get<float>() > 0.0F);
  CHECK(plain3 != clip3);
}

TEST_CASE("objectives: a run with the new options resumes exactly from its checkpoint") {
  using namespace trainer_test;
  auto options = [](const std::filesystem::path& dir, std::size_t steps) {
    auto o = small_options(dir, steps);
    o.loss.baseline = rltf::Baseline::leave_one_out;
    o.loss.ratio_clip = 0.2F;
    o.loss.reduction = rltf::algo::Reduction::seq_mean_token_sum_norm;
    o.rollout.round_every = 2;
    o.rollout.drop_zero_advantage_groups = true;
    o.learner.buffer = {.capacity = 24, .refresh_every = 1, .view = rltf::BufferView::latest, .sweep = true};
    o.learner.batch_size = 5;
    return o;
  };
  const auto a_dir = fresh_dir("objectives_resume_a");
  const auto b_dir = fresh_dir("objectives_resume_b");
  {
    auto policy = make_policy();
    rltf::RltfTrainer trainer{policy, executor(), rltf::RltfFeedback{}, digit_problems(), options(a_dir, 7)};
    (void)trainer.train();
  }
  {
    auto policy = make_policy();
    rltf::RltfTrainer trainer{policy, executor(), rltf::RltfFeedback{}, digit_problems(), options(b_dir, 4)};
    (void)trainer.train(); // checkpoints at 3 and 4: step 4 is mid-round, mid-sweep
  }
  {
    auto policy = make_policy(99);
    rltf::RltfTrainer trainer{policy, executor(), rltf::RltfFeedback{}, digit_problems(), options(b_dir, 7)};
    CHECK(trainer.train().resumed_from == 4);
  }
  const auto a = rltf::read_metrics(a_dir / "metrics.jsonl");
  const auto b = rltf::read_metrics(b_dir / "metrics.jsonl");
  REQUIRE(a.size() == 7);
  REQUIRE(b.size() == 7);
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i].dump() == b[i].dump());
  // The configuration records the new options: another one refuses the checkpoint.
  auto other = options(b_dir, 8);
  other.learner.buffer.sweep = false;
  auto policy = make_policy();
  rltf::RltfTrainer trainer{policy, executor(), rltf::RltfFeedback{}, digit_problems(), other};
  CHECK_THROWS_AS((void)trainer.train(), rltf::checkpoint_mismatch);
}
