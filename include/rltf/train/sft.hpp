#pragma once
/// \file
/// Supervised fine-tuning (token-mean cross-entropy on reference solutions) through the same
/// TrainablePolicy interface the RL trainers use: log_probs → dL/d log π (rltf/algo/grad.hpp) →
/// backward → step. Used to warm-start a policy before RLTF (the paper starts from a
/// supervised model).
///
/// \code
/// auto targets = rltf::supervised_samples(policy.tokenizer(), sft_problems);
/// auto losses = rltf::supervised_finetune(policy, targets, {.steps = 2000, .batch_size = 32});
/// \endcode

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/algo/grad.hpp"
#include "rltf/algo/padded.hpp"
#include "rltf/core/error.hpp"
#include "rltf/core/problem.hpp"
#include "rltf/core/rng.hpp"
#include "rltf/core/sample.hpp"
#include "rltf/detail/random.hpp"
#include "rltf/tokenize/tokenizer.hpp"
#include "rltf/train/options.hpp"
#include "rltf/train/trainable_policy.hpp"

namespace rltf {

/// Supervised targets: one Sample per (problem, reference solution), tokenised as the policy
/// sees them — prompt tokens, then the solution's tokens followed by eos.
template <Tokenizer T>
[[nodiscard]] std::vector<Sample> supervised_samples(const T& tokenizer, std::span<const Problem> problems) {
  std::vector<Sample> out;
  for (std::size_t i = 0; i < problems.size(); ++i)
    for (const auto& solution : problems[i].solutions) {
      Sample s;
      s.problem = i;
      s.task_id = problems[i].task_id;
      s.prompt = problems[i].prompt;
      s.prompt_tokens = tokenizer.encode(problems[i].prompt);
      s.tokens = tokenizer.encode(solution);
      s.tokens.push_back(static_cast<token_id>(tokenizer.eos_id()));
      s.text = solution;
      out.push_back(std::move(s));
    }
  return out;
}

/// Options of supervised_finetune.
struct SftOptions {
  std::size_t steps = 1000;    ///< optimiser steps
  std::size_t batch_size = 32; ///< targets per step, drawn epoch by epoch without replacement
  OptimizerOptions optimizer = [] {
    OptimizerOptions o;
    o.lr = 1e-3F;
    return o;
  }();
  std::size_t warmup_steps = 0;   ///< linear learning-rate warm-up
  float final_lr_fraction = 0.1F; ///< the rate decays linearly to this fraction of lr at the last step
  std::uint64_t seed = 0;
};

/// The options to and from JSON (`nlohmann::json j = options;`, rltf/core/options_json.hpp).
RLTF_OPTIONS_JSON(SftOptions, steps, batch_size, optimizer, warmup_steps, final_lr_fraction, seed)

/// Trains `policy` on `targets` (prompt tokens + target tokens ending in eos, e.g. from
/// supervised_samples()). Calls `on_step(step, loss)` after each step; returns the losses.
template <TrainablePolicy P>
std::vector<float> supervised_finetune(P& policy, std::span<const Sample> targets, const SftOptions& options,
                                       const std::function<void(std::size_t, float)>& on_step = {}) {
  using B = typename P::backend;
  if (targets.empty()) throw invalid_argument("supervised_finetune: no targets");
  if (options.batch_size == 0) throw invalid_argument("supervised_finetune: batch_size must be ≥ 1");
  Rng rng = make_rng(options.seed);
  std::vector<std::size_t> order;
  std::size_t cursor = 0;
  std::vector<float> losses;
  losses.reserve(options.steps);
  for (std::size_t step = 0; step < options.steps; ++step) {
    std::vector<Sample> batch;
    batch.reserve(options.batch_size);
    while (batch.size() < options.batch_size) {
      if (cursor >= order.size()) {
        order.resize(targets.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        rltf::detail::shuffle(order, rng);
        cursor = 0;
      }
      batch.push_back(targets[order[cursor++]]);
    }
    policy.zero_grad();
    const auto logp = policy.log_probs(batch);
    const auto lg = algo::cross_entropy_grad<B>(logp, algo::completion_mask<B>(batch));
    backward_logprobs(policy, batch, logp, lg.grad);
    OptimizerOptions opt = options.optimizer;
    const double t = options.steps <= 1 ? 0.0 : static_cast<double>(step) / static_cast<double>(options.steps - 1);
    double scale = 1.0 - (1.0 - options.final_lr_fraction) * t;
    if (step < options.warmup_steps) scale *= static_cast<double>(step + 1) / static_cast<double>(options.warmup_steps);
    opt.lr = static_cast<float>(options.optimizer.lr * scale);
    (void)policy.step(opt);
    const float loss = B::item(lg.loss);
    losses.push_back(loss);
    if (on_step) on_step(step + 1, loss);
  }
  return losses;
}

} // namespace rltf
