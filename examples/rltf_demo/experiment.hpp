#pragma once
/// \file
/// The demo's experiment: supervised fine-tuning on the synthetic suite's SFT split, then online
/// RL on its RL split with one of several feedback settings, each evaluated on the held-out
/// split. Written once against the concepts, so the demo (rltf-demo) and the ablation
/// (benchmarks/ablation) run it on the LibTorch GPT-2 or, without LibTorch, on the Eigen policy.
///
/// Variants (the paper's ablation, plus GRPO and a supervised-only control):
/// - `sft`: the supervised model itself;
/// - `sft_continued`: supervised training continued for as many steps as RL takes (a control:
///   does RL beat simply training longer on the SFT data?);
/// - `coarse`: RLTF with coarse feedback (pass 1 / failure −0.3 / error −0.6 / syntax −1);
/// - `coarse_fine`: coarse + fine-grained (the offending line's tokens get −0.3);
/// - `coarse_fine_adaptive`: adaptive (failure −0.3 + 1.3·pass ratio) + fine-grained;
/// - `grpo`: GRPO with the adaptive + fine-grained feedback;
/// - `oracle`: supervised fine-tuning on the clean references (no flawed ones): the ceiling of
///   what the supervised data could have taught.
///
/// Every model is evaluated on the held-out split (pass@k, greedy pass@1) and on the RL split
/// (sampled pass rate), so "RL learned on the problems it trained on" and "it transferred" are
/// told apart.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/exec/executor.hpp"
#include "rltf/feedback/rltf_feedback.hpp"
#include "rltf/train/data_parallel.hpp"
#include "rltf/train/evaluate.hpp"
#include "rltf/train/grpo_trainer.hpp"
#include "rltf/train/options.hpp"
#include "rltf/train/rltf_trainer.hpp"
#include "rltf/train/sft.hpp"
#include "rltf/train/trainable_policy.hpp"
#include "rltf_demo/suite.hpp"

namespace rltf::demo {

/// One row of the ablation.
enum class Variant { sft, sft_continued, coarse, coarse_fine, coarse_fine_adaptive, grpo, oracle };

/// The variants in table order.
inline constexpr Variant all_variants[] = {Variant::sft,         Variant::sft_continued,        Variant::coarse,
                                           Variant::coarse_fine, Variant::coarse_fine_adaptive, Variant::grpo,
                                           Variant::oracle};

/// Trained by supervised learning from scratch (not from the SFT checkpoint).
[[nodiscard]] constexpr bool is_supervised_model(Variant v) noexcept {
  return v == Variant::sft || v == Variant::oracle;
}

/// A variant's name as the tables show it.
[[nodiscard]] constexpr std::string_view name(Variant v) noexcept {
  switch (v) {
  case Variant::sft:
    return "SFT";
  case Variant::sft_continued:
    return "SFT (continued)";
  case Variant::coarse:
    return "+coarse";
  case Variant::coarse_fine:
    return "+coarse+fine";
  case Variant::coarse_fine_adaptive:
    return "+coarse+fine+adaptive";
  case Variant::grpo:
    return "GRPO";
  case Variant::oracle:
    return "oracle (clean SFT)";
  }
  return "?";
}

/// A variant's short identifier ("sft", "coarse_fine", ...), for file names and flags.
[[nodiscard]] constexpr std::string_view id(Variant v) noexcept {
  switch (v) {
  case Variant::sft:
    return "sft";
  case Variant::sft_continued:
    return "sft_continued";
  case Variant::coarse:
    return "coarse";
  case Variant::coarse_fine:
    return "coarse_fine";
  case Variant::coarse_fine_adaptive:
    return "coarse_fine_adaptive";
  case Variant::grpo:
    return "grpo";
  case Variant::oracle:
    return "oracle";
  }
  return "?";
}

/// Parses an identifier; throws rltf::invalid_argument for an unknown one.
[[nodiscard]] inline Variant variant_from_id(std::string_view s) {
  for (Variant v : all_variants)
    if (id(v) == s) return v;
  throw invalid_argument("unknown variant '" + std::string(s) +
                         "' (sft, sft_continued, coarse, coarse_fine, coarse_fine_adaptive, grpo, oracle)");
}

/// Everything the experiment needs; defaults are the demo's full run.
struct ExperimentOptions {
  SuiteOptions suite{};
  SftOptions sft = [] {
    SftOptions o;
    o.steps = 800;
    o.batch_size = 32;
    o.optimizer.lr = 3e-3F;
    o.warmup_steps = 50;
    return o;
  }();
  RolloutOptions rollout = [] {
    RolloutOptions o;
    o.problems_per_round = 16;
    o.sampling.max_new_tokens = 128; // the longest reference solution (grade) has 106 characters
    o.sampling.num_samples = 8;
    o.limits.test_timeout_s = 2.0;
    o.limits.program_timeout_s = 4.0;
    o.limits.cpu_time_s = 4.0;
    return o;
  }();
  LearnerOptions learner = [] {
    LearnerOptions o;
    o.steps = 100;
    o.batch_size = 64;
    o.optimizer.lr = 1e-4F; // issue 12: at 3e-5 Adam moved a weight by at most ≈3e-3 in a run
    o.warmup_steps = 10;
    o.buffer.capacity = 1024;
    o.buffer.refresh_every = 4;
    return o;
  }();
  RltfLossOptions loss = [] {
    RltfLossOptions o;             // λ_sl = 1, summed
    o.baseline = Baseline::greedy; // the released code's: each round's greedy decode of the problem
    o.sl_batch_size = 16;
    return o;
  }();
  GrpoObjectiveOptions grpo{};
  /// Final held-out evaluation: n samples per problem for pass@k, and greedy pass@1.
  EvalOptions eval = [] {
    EvalOptions o;
    o.num_samples = 10;
    o.sampling.max_new_tokens = 128;
    o.sampling.temperature = 0.8F;
    o.k = {1, 5, 10};
    o.limits.test_timeout_s = 2.0;
    o.limits.program_timeout_s = 4.0;
    o.limits.cpu_time_s = 4.0;
    return o;
  }();
  std::size_t curve_every = 20; ///< RL steps between greedy held-out evaluations (the learning curve)
  /// Samples per RL-split problem for the final RL-split pass rate (temperature as eval's).
  std::size_t rl_eval_samples = 4;
  std::uint64_t seed = 1;
  ProgressMode progress = ProgressMode::automatic;
  std::size_t checkpoint_every = 50; ///< RL checkpoints (0: none)
  bool resume = false;               ///< continue an RL run from its latest checkpoint in the output folder
};

/// Every option of the experiment as JSON (the demo writes it to OUT/config.json).
[[nodiscard]] inline nlohmann::json effective_configuration(const ExperimentOptions& o) {
  return {{"suite", o.suite},
          {"sft", o.sft},
          {"rollout", o.rollout},
          {"learner", o.learner},
          {"loss", o.loss},
          {"grpo", o.grpo},
          {"eval", o.eval},
          {"curve_every", o.curve_every},
          {"rl_eval_samples", o.rl_eval_samples},
          {"seed", o.seed},
          {"checkpoint_every", o.checkpoint_every}};
}

/// What makes the supervised model what it is — the suite, the SFT run, the seed — as JSON: the
/// demo and the ablation reuse a supervised model from disk only when it was made with this.
[[nodiscard]] inline nlohmann::json sft_configuration(const ExperimentOptions& o) {
  return {{"suite", o.suite}, {"sft", o.sft}, {"seed", o.seed}};
}

/// What makes a variant's result what it is: the supervised configuration, the options of the
/// variant's training run, and the evaluation. A result (or an RL run) on disk is reused only
/// when it was made with this.
[[nodiscard]] inline nlohmann::json variant_configuration(const ExperimentOptions& o, Variant v) {
  nlohmann::json j{
      {"sft", sft_configuration(o)}, {"variant", id(v)}, {"eval", o.eval}, {"rl_eval_samples", o.rl_eval_samples}};
  if (is_supervised_model(v)) return j;
  j["learner"] = o.learner;
  j["curve_every"] = o.curve_every;
  if (v == Variant::sft_continued) {
    j["sl_batch_size"] = o.loss.sl_batch_size;
    return j;
  }
  j["rollout"] = o.rollout;
  if (v == Variant::grpo)
    j["grpo"] = o.grpo;
  else
    j["loss"] = o.loss;
  return j;
}

/// The demo's quick variant (CI): a smaller suite, a few hundred SFT steps, a dozen RL steps.
[[nodiscard]] inline ExperimentOptions quick_options() {
  ExperimentOptions o;
  o.suite.sft_per_family = 16;
  o.suite.rl_per_family = 16;
  o.suite.heldout_per_family = 4;
  o.sft.steps = 150;
  o.learner.steps = 12;
  o.rollout.problems_per_round = 8;
  o.rollout.sampling.num_samples = 4;
  o.learner.batch_size = 32;
  o.curve_every = 6;
  o.checkpoint_every = 6;
  o.eval.num_samples = 4;
  o.eval.k = {1, 4};
  o.rl_eval_samples = 2;
  return o;
}

/// One variant's outcome.
struct VariantResult {
  Variant variant = Variant::sft;
  EvalReport heldout;                              ///< the final evaluation
  EvalReport rl_split;                             ///< the final sampled pass rate on the RL split
  std::vector<std::pair<double, double>> rl_pass;  ///< (RL step, the round's sampled pass rate on the RL split)
  std::vector<std::pair<double, double>> curve;    ///< (RL step, held-out greedy pass@1)
  std::vector<std::pair<double, double>> reward;   ///< (RL step, mean training reward of the round)
  std::vector<std::pair<double, double>> sft_loss; ///< (SFT step, loss), for sft
  double seconds = 0.0;

  [[nodiscard]] nlohmann::json to_json() const {
    return nlohmann::json{{"variant", id(variant)},         {"name", name(variant)}, {"heldout", heldout.to_json()},
                          {"rl_split", rl_split.to_json()}, {"curve", curve},        {"reward", reward},
                          {"rl_pass_curve", rl_pass},       {"seconds", seconds}};
  }
};

namespace detail {
inline double demo_seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Greedy pass@1 on `problems` (the learning curve's point).
template <Policy P, Executor E>
double demo_greedy_pass(P& policy, E& executor, std::span<const Problem> problems, const ExperimentOptions& o) {
  EvalOptions e = o.eval;
  e.num_samples = 0;
  e.k.clear();
  e.greedy = true;
  return evaluate(policy, executor, problems, e).greedy_pass;
}

template <TrainablePolicy P, Executor E, class Trainer>
void demo_run_trainer(Trainer& trainer, P& policy, E& executor, const Suite& suite, const ExperimentOptions& o,
                      VariantResult& result, const DataParallel& dp) {
  if (dp.distributed()) trainer.set_data_parallel(dp);
  trainer.on_evaluate([&](P& p, std::size_t) {
    return nlohmann::json{{"heldout_greedy_pass", demo_greedy_pass(p, executor, suite.heldout, o)}};
  });
  trainer.on_step([&](const StepMetrics& m) {
    if (m.round) {
      result.reward.emplace_back(static_cast<double>(m.step), m.reward_mean);
      result.rl_pass.emplace_back(static_cast<double>(m.step), m.pass_rate);
    }
  });
  (void)trainer.train();
  (void)policy;
}

/// The curve from a run's metrics (so a resumed run has its whole curve).
inline std::vector<std::pair<double, double>> demo_curve(const std::filesystem::path& metrics, const char* key) {
  std::vector<std::pair<double, double>> out;
  for (const auto& j : read_metrics(metrics))
    if (j.contains("eval") && j["eval"].contains(key))
      out.emplace_back(j["step"].get<double>(), j["eval"][key].get<double>());
  return out;
}
inline std::vector<std::pair<double, double>> demo_rounds(const std::filesystem::path& metrics, const char* key) {
  std::vector<std::pair<double, double>> out;
  for (const auto& j : read_metrics(metrics))
    if (j.contains("round")) out.emplace_back(j["step"].get<double>(), j["round"][key].get<double>());
  return out;
}

/// The sampled pass rate on the RL split (the problems RL trains on), at the evaluation's temperature.
template <Policy P, Executor E>
EvalReport demo_rl_split(P& policy, E& executor, const Suite& suite, const ExperimentOptions& o) {
  EvalOptions e = o.eval;
  e.seed = o.seed + 1;
  e.num_samples = o.rl_eval_samples;
  e.k = {1};
  e.greedy = false;
  return evaluate(policy, executor, suite.rl, e);
}
} // namespace detail

/// Trains `policy` by supervised learning on the SFT split (`Variant::oracle`: on its clean
/// references), writes its checkpoint to `dir/policy` and evaluates it on the held-out and RL splits.
template <TrainablePolicy P, Executor E>
VariantResult run_sft(P& policy, E& executor, const Suite& suite, const ExperimentOptions& o,
                      const std::filesystem::path& dir, const std::function<void(std::size_t, float)>& on_step = {},
                      Variant variant = Variant::sft) {
  if (!is_supervised_model(variant))
    throw invalid_argument("run_sft: " + std::string(id(variant)) + " is an RL variant");
  const auto t0 = std::chrono::steady_clock::now();
  VariantResult r;
  r.variant = variant;
  const auto targets = supervised_samples(
      policy.tokenizer(), std::span<const Problem>(variant == Variant::oracle ? suite.sft_clean : suite.sft));
  SftOptions sft = o.sft;
  sft.seed = o.seed;
  const auto losses = supervised_finetune(policy, targets, sft, on_step);
  for (std::size_t i = 0; i < losses.size(); ++i) r.sft_loss.emplace_back(static_cast<double>(i + 1), losses[i]);
  std::filesystem::create_directories(dir / "policy");
  policy.save_checkpoint(dir / "policy");
  EvalOptions e = o.eval;
  e.seed = o.seed;
  r.heldout = evaluate(policy, executor, suite.heldout, e);
  r.rl_split = detail::demo_rl_split(policy, executor, suite, o);
  r.seconds = detail::demo_seconds(t0);
  return r;
}

/// Runs one variant from the supervised policy `policy` (already loaded by the caller) and
/// evaluates it. `make_reference` returns a separate copy of the supervised policy (GRPO's frozen
/// reference). Metrics and checkpoints go to `dir`. `dp`: the RL trainers' data-parallel group
/// (docs/distributed.md; `dir` must then be the same folder on every rank).
template <TrainablePolicy P, Executor E>
VariantResult run_variant(P& policy, const std::function<std::shared_ptr<P>()>& make_reference, E& executor,
                          const Suite& suite, Variant variant, const ExperimentOptions& o,
                          const std::filesystem::path& dir, const DataParallel& dp = {}) {
  const auto t0 = std::chrono::steady_clock::now();
  VariantResult r;
  r.variant = variant;
  RunOptions run;
  run.seed = o.seed;
  run.output_dir = dir;
  run.checkpoint_every = o.checkpoint_every;
  run.resume = o.resume;
  run.progress = o.progress;
  run.log_every = 10;
  run.eval_every = o.curve_every;
  const RltfOptions rltf{o.rollout, o.learner, run, o.loss};
  const std::span<const Problem> sl(suite.sft);
  (void)reset_optimizer(policy); // RL starts with a fresh AdamW, not the supervised one's moments
  switch (variant) {
  case Variant::sft:
  case Variant::oracle:
    throw invalid_argument("run_variant: use run_sft for the supervised models");
  case Variant::sft_continued: {
    // The same number of optimiser steps on the supervised data alone, at the RL learning rate.
    const auto targets = supervised_samples(policy.tokenizer(), sl);
    SftOptions sft;
    sft.steps = o.learner.steps;
    sft.batch_size = o.loss.sl_batch_size;
    sft.optimizer = o.learner.optimizer;
    sft.warmup_steps = o.learner.warmup_steps;
    sft.final_lr_fraction = 1.0F;
    sft.seed = o.seed;
    r.curve.emplace_back(0.0, detail::demo_greedy_pass(policy, executor, suite.heldout, o));
    (void)supervised_finetune(policy, targets, sft, [&](std::size_t step, float) {
      if (o.curve_every > 0 && step % o.curve_every == 0)
        r.curve.emplace_back(static_cast<double>(step), detail::demo_greedy_pass(policy, executor, suite.heldout, o));
    });
    break;
  }
  case Variant::coarse: {
    RltfTrainer trainer{policy, executor, Coarse{}, suite.rl, rltf, sl};
    detail::demo_run_trainer(trainer, policy, executor, suite, o, r, dp);
    break;
  }
  case Variant::coarse_fine: {
    RltfTrainer trainer{policy, executor, sum(Coarse{}, FineGrained{}), suite.rl, rltf, sl};
    detail::demo_run_trainer(trainer, policy, executor, suite, o, r, dp);
    break;
  }
  case Variant::coarse_fine_adaptive: {
    RltfTrainer trainer{policy, executor, RltfFeedback{}, suite.rl, rltf, sl};
    detail::demo_run_trainer(trainer, policy, executor, suite, o, r, dp);
    break;
  }
  case Variant::grpo: {
    GrpoOptions grpo{o.rollout, o.learner, run, o.grpo};
    grpo.rollout.greedy_baseline = false;
    // One round's samples feed `round_every` steps; the buffer holds just that round.
    grpo.learner.buffer.capacity = o.rollout.problems_per_round * o.rollout.sampling.num_samples;
    grpo.learner.buffer.refresh_every = o.rollout.round_every;
    GrpoTrainer trainer{policy, make_reference(), executor, RltfFeedback{}, suite.rl, grpo};
    detail::demo_run_trainer(trainer, policy, executor, suite, o, r, dp);
    break;
  }
  }
  if (variant != Variant::sft_continued && !dir.empty()) {
    r.curve = detail::demo_curve(dir / "metrics.jsonl", "heldout_greedy_pass");
    r.reward = detail::demo_rounds(dir / "metrics.jsonl", "reward_mean");
    r.rl_pass = detail::demo_rounds(dir / "metrics.jsonl", "pass_rate");
  }
  EvalOptions e = o.eval;
  e.seed = o.seed;
  r.heldout = evaluate(policy, executor, suite.heldout, e);
  r.rl_split = detail::demo_rl_split(policy, executor, suite, o);
  r.seconds = detail::demo_seconds(t0);
  return r;
}

} // namespace rltf::demo
