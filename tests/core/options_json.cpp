// Option aggregates to and from JSON (rltf/core/options_json.hpp): a round trip for every
// aggregate, with its defaults and with every field changed, the strict reading's errors, and
// load_options on real files.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "rltf/algo/advantages.hpp"
#include "rltf/algo/grad.hpp"
#include "rltf/algo/kl.hpp"
#include "rltf/algo/rltf_loss.hpp"
#include "rltf/buffer/online_buffer.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/core/policy.hpp"
#include "rltf/data/datasets.hpp"
#include "rltf/exec/executor.hpp"
#include "rltf/train/evaluate.hpp"
#include "rltf/train/options.hpp"
#include "rltf/train/sft.hpp"
#include "rltf/train/trainable_policy.hpp"

namespace options_json_test {

namespace fs = std::filesystem;

/// A scratch directory under the build tree, emptied first.
inline fs::path scratch_dir(const std::string& name) {
  const fs::path dir = fs::path(RLTF_BINARY_DIR) / "test-scratch" / "options_json" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

inline fs::path write(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

/// Every key of `changed` (recursively) holds another value than in `defaults`: the non-default
/// fixture really changes every field, so the round trip below covers each one.
inline void check_all_differ(const nlohmann::json& defaults, const nlohmann::json& changed, const std::string& path) {
  REQUIRE(defaults.is_object());
  CHECK(defaults.size() == changed.size());
  for (const auto& [key, value] : defaults.items()) {
    const std::string where = path + key;
    INFO(where);
    REQUIRE(changed.contains(key));
    if (value.is_object())
      check_all_differ(value, changed.at(key), path + key + ".");
    else
      CHECK(changed.at(key) != value);
  }
}

/// JSON → T → JSON is the identity, for T's defaults and for `changed`, which differs in every field.
template <class T>
void round_trip(const T& changed) {
  const nlohmann::json d = T{};
  CHECK(nlohmann::json(d.get<T>()) == d);
  const nlohmann::json c = changed;
  check_all_differ(d, c, "");
  const T back = c.get<T>();
  CHECK(nlohmann::json(back) == c);
  // And through text, as a file holds it.
  CHECK(nlohmann::json(nlohmann::json::parse(c.dump()).get<T>()) == c);
}

inline rltf::SamplingConfig sampling() {
  return {.max_new_tokens = 7,
          .temperature = 0.5F,
          .top_p = 0.5F,
          .top_k = 3,
          .num_samples = 4,
          .greedy = true,
          .stop = {"\ndef", "\nclass"}};
}
inline rltf::Limits limits() {
  return {.test_timeout_s = 1.5,
          .program_timeout_s = 4.0,
          .cpu_time_s = 2.0,
          .memory_bytes = std::size_t{1} << 28,
          .output_bytes = 4096,
          .max_processes = 2,
          .stop_at_first_failure = true};
}
inline rltf::OptimizerOptions optimizer() {
  return {.lr = 1e-3F, .beta1 = 0.8F, .beta2 = 0.99F, .eps = 1e-6F, .weight_decay = 0.01F, .max_grad_norm = 0.0F};
}
inline rltf::OnlineBufferOptions buffer() {
  return {.capacity = 10,
          .refresh_every = 2,
          .without_replacement = false,
          .view = rltf::BufferView::latest,
          .sweep = true};
}
inline rltf::RolloutOptions rollout() {
  return {.problems_per_round = 2,
          .sampling = sampling(),
          .greedy_baseline = false,
          .limits = limits(),
          .round_every = 3,
          .drop_zero_advantage_groups = true};
}
inline rltf::LearnerOptions learner() {
  return {
      .steps = 5, .batch_size = 4, .optimizer = optimizer(), .warmup_steps = 2, .buffer = buffer(), .sync_every = 1};
}
inline rltf::RunOptions run() {
  return {.seed = 9,
          .output_dir = "runs/x",
          .checkpoint_every = 5,
          .keep_checkpoints = 3,
          .resume = false,
          .progress = rltf::ProgressMode::lines,
          .log_every = 4,
          .eval_every = 10};
}
inline rltf::RltfLossOptions rltf_loss() {
  return {.baseline = rltf::Baseline::group_mean,
          .sl_coef = 0.5F,
          .sl_mode = rltf::SupervisedMode::alternate,
          .sl_batch_size = 2,
          .reduction = rltf::algo::Reduction::sequence_mean,
          .norm_length = 64.0F,
          .ratio_clip = 0.2F};
}
inline rltf::algo::GrpoLossOptions grpo_loss() {
  return {.clip = 0.1F,
          .kl_coef = 0.0F,
          .kl_estimator = rltf::algo::KlEstimator::k2,
          .reduction = rltf::algo::Reduction::token_mean,
          .norm_length = 32.0F};
}
inline rltf::GrpoObjectiveOptions grpo_objective() {
  return {.std_eps = 1e-3F,
          .unbiased_std = false,
          .token_reward_scale = 0.5F,
          .loss = grpo_loss(),
          .advantage = rltf::algo::AdvantageEstimator::rloo};
}

} // namespace options_json_test

TEST_CASE("options JSON: every aggregate round-trips, with its defaults and with every field changed") {
  using namespace options_json_test;
  round_trip(sampling());
  round_trip(limits());
  round_trip(optimizer());
  round_trip(buffer());
  round_trip(rollout());
  round_trip(learner());
  round_trip(run());
  round_trip(rltf_loss());
  round_trip(grpo_loss());
  round_trip(grpo_objective());
  round_trip(rltf::RltfOptions{.rollout = rollout(), .learner = learner(), .run = run(), .loss = rltf_loss()});
  rltf::GrpoOptions grpo{.rollout = rollout(), .learner = learner(), .run = run(), .objective = grpo_objective()};
  grpo.rollout.sampling.num_samples = 5; // GrpoOptions' own default is 8, rollout()'s is 4
  grpo.learner.buffer.capacity = 11;     // its default is 64
  grpo.learner.buffer.refresh_every = 3; // its default is 1
  grpo.rollout.greedy_baseline = true;   // its default is false
  round_trip(grpo);
  round_trip(rltf::EvalOptions{
      .num_samples = 3, .sampling = sampling(), .greedy = false, .k = {1, 3}, .limits = limits(), .seed = 4});
  auto sft_optimizer = optimizer();
  sft_optimizer.lr = 5e-4F; // SftOptions' own default lr is optimizer()'s 1e-3
  round_trip(rltf::SftOptions{.steps = 3,
                              .batch_size = 2,
                              .optimizer = sft_optimizer,
                              .warmup_steps = 1,
                              .final_lr_fraction = 0.5F,
                              .seed = 2});
  round_trip(rltf::algo::KlControlOptions{.initial = 0.1F, .adaptive = true, .target = 3.0F, .horizon = 100.0F});
  round_trip(rltf::algo::GaeOptions{.gamma = 0.9F, .lambda = 0.5F});
  round_trip(rltf::algo::GroupNormOptions{.eps = 1e-2F, .unbiased_std = false});
  round_trip(rltf::data::DatasetOptions{.plus = {.base_inputs = false, .max_plus_inputs = 10},
                                        .mbpp = {.tests_in_prompt = false, .challenge_tests = true},
                                        .apps = {.skip_without_tests = false, .max_solutions = 2}});
}

TEST_CASE("options JSON: the written form — keys by member name, enums by name, paths as strings") {
  const nlohmann::json s = rltf::SamplingConfig{};
  nlohmann::json expected = nlohmann::json::parse(R"({"max_new_tokens": 512, "temperature": 1.0, "top_k": 0,
                                                      "num_samples": 1, "greedy": false, "stop": []})");
  expected["top_p"] = 0.95F;
  CHECK(s == expected);
  const nlohmann::json r = rltf::RltfOptions{};
  CHECK(r.at("loss") == nlohmann::json::parse(R"({"baseline": "best", "sl_coef": 1.0, "sl_mode": "sum",
                                                   "sl_batch_size": 8, "reduction": "token_mean",
                                                   "norm_length": 0.0, "ratio_clip": 0.0})"));
  CHECK(r.at("run").at("progress") == "auto");
  CHECK(r.at("run").at("output_dir") == "");
  CHECK(r.at("rollout").at("sampling").at("num_samples") == 20);
  const nlohmann::json g = rltf::GrpoOptions{};
  CHECK(g.at("objective").at("loss").at("kl_estimator") == "k3");
  CHECK(g.at("objective").at("loss").at("reduction") == "seq_mean_token_mean");
  CHECK(g.at("rollout").at("sampling").at("num_samples") == 8);
  // The names are the enums' to_string names.
  for (const auto& [name, v] : rltf::algo::baselines) CHECK(rltf::algo::to_string(v) == name);
  for (const auto& [name, v] : rltf::algo::supervised_modes) CHECK(rltf::algo::to_string(v) == name);
  for (const auto& [name, v] : rltf::algo::reductions) // "sequence_mean" is an alias, written canonically
    CHECK((rltf::algo::to_string(v) == name || name == "sequence_mean"));
  for (const auto& [name, v] : rltf::algo::kl_estimators) CHECK(rltf::algo::to_string(v) == name);
}

TEST_CASE("options JSON: missing keys keep the defaults, the enclosing aggregate's for nested ones") {
  const auto g =
      nlohmann::json::parse(R"({"rollout": {"problems_per_round": 3}, "run": {"seed": 7}})").get<rltf::GrpoOptions>();
  CHECK(g.rollout.problems_per_round == 3);
  CHECK(g.rollout.sampling.num_samples == 8); // GrpoOptions' default, not RolloutOptions' 20
  CHECK_FALSE(g.rollout.greedy_baseline);
  CHECK(g.learner.buffer.capacity == 64);
  CHECK(g.run.seed == 7);
  CHECK(g.run.checkpoint_every == 50);
  CHECK(nlohmann::json::object().get<rltf::RltfOptions>().rollout.sampling.num_samples == 20);

  // Read in place on top of other values.
  rltf::SamplingConfig c;
  c.top_k = 5;
  rltf::options_from_json(nlohmann::json::parse(R"({"temperature": 0.25, "stop": ["x"]})"), c);
  CHECK(c.top_k == 5);
  CHECK(c.temperature == 0.25F);
  CHECK(c.stop == std::vector<std::string>{"x"});
}

TEST_CASE("options JSON: unknown keys and wrong types are errors naming the key path") {
  const auto error_of = [](const char* text) -> std::string {
    try {
      (void)nlohmann::json::parse(text).get<rltf::RltfOptions>();
    } catch (const rltf::options_error& e) {
      return e.what();
    }
    return "no error";
  };
  CHECK(error_of(R"({"rollout": {"sampling": {"temperature": "hot"}}})") ==
        R"(rollout.sampling.temperature: expected a number, got "hot")");
  CHECK(error_of(R"({"rollout": {"samplin": {}}})") ==
        "rollout.samplin: unknown key (known keys: problems_per_round, sampling, greedy_baseline, limits, "
        "round_every, drop_zero_advantage_groups)");
  CHECK(error_of(R"({"learner": {"steps": -1}})") == "learner.steps: expected a non-negative integer, got -1");
  CHECK(error_of(R"({"learner": {"steps": 1.5}})") == "learner.steps: expected a non-negative integer, got 1.5");
  CHECK(error_of(R"({"learner": {"buffer": {"without_replacement": 1}}})") ==
        "learner.buffer.without_replacement: expected true or false, got 1");
  CHECK(
      error_of(R"({"loss": {"baseline": "mean"}})") ==
      R"(loss.baseline: expected "none", "greedy", "best", "group_mean", "leave_one_out" or "group_norm", got "mean")");
  CHECK(error_of(R"({"run": {"progress": 3}})") == R"(run.progress: expected "auto", "bar", "lines" or "off", got 3)");
  CHECK(error_of(R"({"run": {"output_dir": ["a"]}})") == R"(run.output_dir: expected a string (a path), got ["a"])");
  CHECK(error_of(R"({"rollout": {"sampling": {"stop": ["a", 2]}}})") ==
        "rollout.sampling.stop[1]: expected a string, got 2");
  CHECK(error_of(R"({"rollout": {"sampling": {"temperature": 1e300}}})") ==
        "rollout.sampling.temperature: the number 1e+300 is out of range");
  CHECK(error_of(R"({"rollout": 4})") == "rollout: expected an object, got 4");
  CHECK(error_of(R"([1])") == "expected an object, got [1]");
  // The exception says the path and the reason apart, and is an rltf::invalid_argument.
  try {
    (void)nlohmann::json::parse(R"({"k": [1, "two"]})").get<rltf::EvalOptions>();
    FAIL("no error");
  } catch (const rltf::options_error& e) {
    CHECK(e.key_path() == "k[1]");
    CHECK(e.reason() == R"(expected a non-negative integer, got "two")");
  }
  CHECK_THROWS_AS((void)nlohmann::json::parse(R"({"x": 1})").get<rltf::Limits>(), rltf::invalid_argument);
}

TEST_CASE("load_options: a JSON file, with errors that name the file") {
  using namespace options_json_test;
  const auto dir = scratch_dir("load");
  const auto good = write(dir / "run.json", R"({"learner": {"steps": 12, "optimizer": {"lr": 0.001}},
 "loss": {"baseline": "greedy"}, "run": {"output_dir": "runs/a"}})");
  const auto o = rltf::load_options<rltf::RltfOptions>(good);
  CHECK(o.learner.steps == 12);
  CHECK(o.learner.optimizer.lr == 0.001F);
  CHECK(o.loss.baseline == rltf::Baseline::greedy);
  CHECK(o.run.output_dir == "runs/a");
  CHECK(o.learner.batch_size == 32);
  // On top of other defaults.
  rltf::SftOptions base;
  base.seed = 5;
  CHECK(rltf::load_options(write(dir / "sft.json", R"({"steps": 2})"), base).seed == 5);

  const auto bad = write(dir / "bad.json", "{\n  \"rollout\": {\"sampling\": {\"temperature\": \"hot\"}}\n}\n");
  try {
    (void)rltf::load_options<rltf::RltfOptions>(bad);
    FAIL("no error");
  } catch (const rltf::parse_error& e) {
    CHECK(e.file() == bad.string());
    CHECK(e.field() == "rollout.sampling.temperature");
    CHECK(std::string(e.what()) ==
          bad.string() + R"(: field 'rollout.sampling.temperature': expected a number, got "hot")");
  }
  const auto broken = write(dir / "broken.json", "{\n  \"run\": {\"seed\": 1,}\n}\n");
  try {
    (void)rltf::load_options<rltf::RltfOptions>(broken);
    FAIL("no error");
  } catch (const rltf::parse_error& e) {
    CHECK(e.file() == broken.string());
    CHECK(e.line() == 2);
  }
  CHECK_THROWS_AS((void)rltf::load_options<rltf::RltfOptions>(dir / "absent.json"), rltf::io_error);
}
