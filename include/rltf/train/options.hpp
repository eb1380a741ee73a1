#pragma once
/// \file
/// Option aggregates of the online trainers (RLTF and GRPO). Defaults are the papers' (docs/feedback.md,
/// docs/training.md): top-p 0.95, temperature 1.0, at most 512 new tokens, 20 samples per problem plus one
/// greedy decode, the historical-best baseline, AdamW at lr 2e-6, a FIFO buffer of 6400 refreshed every 50 steps.
///
/// \code
/// rltf::RltfOptions options{
///     .rollout = {.problems_per_round = 4, .sampling = {.max_new_tokens = 128, .num_samples = 8}},
///     .learner = {.steps = 200, .batch_size = 32, .optimizer = {.lr = 1e-3F}},
///     .run = {.seed = 1, .output_dir = "runs/demo", .checkpoint_every = 50},
///     .loss = {.baseline = rltf::Baseline::greedy}};
/// \endcode
///
/// Every aggregate here (and the ones it holds) converts to and from JSON, enums by name
/// (rltf/core/options_json.hpp): `nlohmann::json j = options;` for logs and for checkpoints, which
/// record the options that shape a run so that a run is resumed only with the options it was made
/// with (rltf::OnlineTrainer); `rltf::load_options<rltf::RltfOptions>("run.json")` to read a run's
/// configuration, strictly (unknown keys and wrong types are errors naming the key path).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "rltf/algo/advantages.hpp"
#include "rltf/algo/grad.hpp"
#include "rltf/algo/kl.hpp"
#include "rltf/algo/policy_gradient.hpp"
#include "rltf/algo/rltf_loss.hpp"
#include "rltf/buffer/online_buffer.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/core/policy.hpp"
#include "rltf/exec/executor.hpp"
#include "rltf/train/trainable_policy.hpp"

namespace rltf {

/// How rollouts are produced: which problems, how many samples, under which limits.
struct RolloutOptions {
  std::size_t problems_per_round = 8; ///< problems sampled (without replacement, epoch by epoch) per round
  /// Sampling of the programs. `num_samples` is N, the samples per problem (the group size G for GRPO).
  SamplingConfig sampling = [] {
    SamplingConfig c; // top-p 0.95, temperature 1.0, ≤ 512 new tokens
    c.num_samples = 20;
    return c;
  }();
  bool greedy_baseline = true; ///< also decode each problem greedily (the "latest greedy" baseline, and a metric)
  Limits limits{};             ///< resource limits of each program
  std::size_t round_every = 1; ///< optimiser steps between rollout rounds (≥ 1)
  /// DAPO's dynamic sampling (filtering without refill): groups whose learner weights are all
  /// zero after the objective's assign (e.g. equal rewards under a group baseline) are not pushed
  /// into the buffer; when a round leaves the buffer empty, further rounds are sampled (at most
  /// 16) before the step.
  bool drop_zero_advantage_groups = false;
};
RLTF_OPTIONS_JSON(RolloutOptions, problems_per_round, sampling, greedy_baseline, limits, round_every,
                  drop_zero_advantage_groups)

/// The learner: optimiser steps, batches, the buffer, and how the generator gets the weights.
struct LearnerOptions {
  std::size_t steps = 1000;     ///< optimiser steps in the run
  std::size_t batch_size = 32;  ///< rollouts per optimiser step, drawn from the buffer's view
  OptimizerOptions optimizer{}; ///< AdamW (lr 2e-6 for real checkpoints)
  /// Linear learning-rate warm-up over the first steps (0: none). A fresh Adam's first steps move
  /// every parameter by about lr whatever the gradient's size; with noisy policy gradients a
  /// warm-up lets the moment estimates settle first.
  std::size_t warmup_steps = 0;
  OnlineBufferOptions buffer{}; ///< FIFO capacity 6400, view refreshed every 50 steps
  /// 0: the generator *is* the learner (shared weights). K > 0: the generator is a copy of the
  /// learner synced every K optimiser steps (the policy must be copy-constructible).
  std::size_t sync_every = 0;
};
RLTF_OPTIONS_JSON(LearnerOptions, steps, batch_size, optimizer, warmup_steps, buffer, sync_every)

/// How a terminal shows progress.
enum class ProgressMode {
  automatic, ///< a live bar when stderr is a terminal, plain lines otherwise
  bar,       ///< always the live bar
  lines,     ///< always plain lines
  off,       ///< nothing
};

/// ProgressMode by name ("auto", "bar", "lines", "off"), for command lines and configuration files.
inline constexpr std::pair<std::string_view, ProgressMode> progress_modes[] = {{"auto", ProgressMode::automatic},
                                                                               {"bar", ProgressMode::bar},
                                                                               {"lines", ProgressMode::lines},
                                                                               {"off", ProgressMode::off}};
RLTF_ENUM_JSON(ProgressMode, progress_modes)

/// Operations: seed, output, logs, checkpoints.
struct RunOptions {
  std::uint64_t seed = 0;            ///< seeds every random draw of the run (a resumed run continues the stream)
  std::filesystem::path output_dir;  ///< metrics.jsonl and checkpoints/ go here (empty: no files)
  std::size_t checkpoint_every = 50; ///< optimiser steps between checkpoints (0: none)
  std::size_t keep_checkpoints = 2;  ///< checkpoints kept on disk (older ones are removed; ≥ 1)
  bool resume = true;                ///< continue from output_dir's latest checkpoint when there is one
  ProgressMode progress = ProgressMode::automatic;
  std::size_t log_every = 1;  ///< plain-line progress every N steps
  std::size_t eval_every = 0; ///< steps between calls of the trainer's evaluation hook (0: never)
};
RLTF_OPTIONS_JSON(RunOptions, seed, output_dir, checkpoint_every, keep_checkpoints, resume, progress, log_every,
                  eval_every)

/// The RLTF loss's switches live in one place, algo/rltf_loss.hpp (defaults: the paper's —
/// historical-best baseline, λ_sl = 1 summed every step, token mean); the trainer uses them as is.
using algo::Baseline;
using algo::RltfLossOptions;
using algo::SupervisedMode;
using algo::to_string;

/// Options of rltf::RltfTrainer.
struct RltfOptions {
  RolloutOptions rollout{};
  LearnerOptions learner{};
  RunOptions run{};
  RltfLossOptions loss{};
};
RLTF_OPTIONS_JSON(RltfOptions, rollout, learner, run, loss)

/// GRPO's advantages and loss (docs/training.md).
struct GrpoObjectiveOptions {
  float std_eps = 1e-4F;    ///< A = (r − mean_g)/(std_g + eps)
  bool unbiased_std = true; ///< std with G − 1 (as torch.std)
  /// Token-level rewards (e.g. the fine-grained penalty) are added to the normalised sequence
  /// advantage, scaled by this factor (0 ignores them).
  float token_reward_scale = 1.0F;
  algo::GrpoLossOptions loss{}; ///< clip 0.2, β 0.04, k3, per-sequence mean
  /// The group estimator: GRPO's normalised advantage (std_eps and unbiased_std apply), Dr.
  /// GRPO's centred one, or RLOO's leave-one-out.
  algo::AdvantageEstimator advantage = algo::AdvantageEstimator::grpo;
};
RLTF_OPTIONS_JSON(GrpoObjectiveOptions, std_eps, unbiased_std, token_reward_scale, loss, advantage)

/// Options of rltf::GrpoTrainer. By default a round's G samples per problem are used for
/// `round_every` optimiser steps and then displaced (the buffer holds one round).
struct GrpoOptions {
  RolloutOptions rollout = [] {
    RolloutOptions r;
    r.sampling.num_samples = 8;
    r.greedy_baseline = false;
    return r;
  }();
  LearnerOptions learner = [] {
    LearnerOptions l;
    l.buffer.capacity = 64;
    l.buffer.refresh_every = 1;
    return l;
  }();
  RunOptions run{};
  GrpoObjectiveOptions objective{};
};
RLTF_OPTIONS_JSON(GrpoOptions, rollout, learner, run, objective)

/// PPO's KL penalty in the reward: −β·k(log π_old − log π_ref) on every completion token, with
/// a fixed β or Ziegler et al.'s adaptive controller e = clip(KL/target − 1, ±0.2),
/// β ← β(1 + e·n/horizon) after each round of n samples (KL: the round's mean per-sequence sum).
struct KlControlOptions {
  float coef = 0.05F;                                  ///< β (the initial β when adaptive; 0: no penalty)
  algo::KlEstimator estimator = algo::KlEstimator::k1; ///< k1 (TRL's default) or k3 per token
  bool adaptive = false;                               ///< adapt β towards `target`
  float target = 6.0F;                                 ///< target KL per sequence (nats)
  float horizon = 10000.0F;                            ///< samples over which β may double
};
RLTF_OPTIONS_JSON(KlControlOptions, coef, estimator, adaptive, target, horizon)

/// PPO's advantages and losses (docs/rlaif.md): GAE over the per-token rewards, whitened, the
/// clipped ratio and the clipped value loss.
struct PpoObjectiveOptions {
  KlControlOptions kl{};
  algo::GaeOptions gae{};        ///< γ = 1, λ = 0.95
  float clip = 0.2F;             ///< ε of the clipped ratio
  float value_clip = 0.2F;       ///< ε of the clipped value loss
  float value_coef = 0.1F;       ///< weight of the value loss (TRL's vf_coef)
  bool whiten_advantages = true; ///< (A − mean)/std over each round's tokens
  /// Token-level rewards of the feedback (e.g. the fine-grained penalty) are added to the
  /// per-token reward, scaled by this factor; the sequence reward R comes at the last token.
  float token_reward_scale = 1.0F;
  algo::Reduction reduction = algo::Reduction::token_mean; ///< of both losses
};
RLTF_OPTIONS_JSON(PpoObjectiveOptions, kl, gae, clip, value_clip, value_coef, whiten_advantages, token_reward_scale,
                  reduction)

/// Options of rltf::PpoTrainer. By default each round (8 problems × 4 samples) is trained on for
/// `round_every` = 4 steps of minibatches of 16 that sweep the round: 2 epochs of 2 minibatches
/// (epochs = round_every · batch_size / round size), then displaced.
struct PpoOptions {
  RolloutOptions rollout = [] {
    RolloutOptions r;
    r.sampling.num_samples = 4;
    r.greedy_baseline = false;
    r.round_every = 4;
    return r;
  }();
  LearnerOptions learner = [] {
    LearnerOptions l;
    l.batch_size = 16;
    l.buffer.capacity = 4096;
    l.buffer.refresh_every = 1;
    l.buffer.view = BufferView::latest;
    l.buffer.sweep = true;
    return l;
  }();
  RunOptions run{};
  PpoObjectiveOptions objective{};
};
RLTF_OPTIONS_JSON(PpoOptions, rollout, learner, run, objective)

} // namespace rltf
