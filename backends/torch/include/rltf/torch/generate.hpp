#pragma once
/// \file
/// Batched generation from any rltf::CausalLM (GPT-2, Llama, Qwen2): left-padded prompts of different lengths, a KV
/// cache, greedy / temperature / top-k / top-p sampling driven by rltf::Rng, stop conditions, and per-token
/// log-probabilities.
///
/// Log-probabilities are those of the model itself, log softmax(logits) at the chosen token —
/// independent of temperature, top-k and top-p, which only shape how tokens are drawn — so they
/// equal what a full forward pass over prompt + completion gives (Gpt2Policy::log_probs), which is
/// what policy-gradient and PPO ratios need.
///
/// Sampling is deterministic for a seed: each draw takes one 64-bit number from the Rng (rows in
/// order, step by step) and inverts the CDF of the filtered distribution.

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "rltf/core/error.hpp"
#include "rltf/core/policy.hpp"
#include "rltf/core/rng.hpp"
#include "rltf/core/span.hpp"
#include "rltf/torch/causal_lm.hpp"

namespace rltf {

/// How generate() runs, beyond SamplingConfig.
struct GenerateOptions {
  token_id eos_id = -1;               ///< ends a row when sampled (kept as the row's last token); < 0: none
  std::vector<token_id> more_eos_ids; ///< further ids that end a row as eos_id does (Llama 3's <|eot_id|>, ...)
  token_id pad_id = 0;                ///< fills the left padding (never attended to)
  bool use_cache = true;              ///< false recomputes the whole sequence every step (a baseline for benchmarks)
};

/// Why a generated row ended.
enum class FinishReason : std::uint8_t {
  eos,     ///< the end-of-sequence token was sampled
  stop,    ///< the stop callback asked to end it (a stop string appeared)
  length,  ///< max_new_tokens were generated
  context, ///< the model's n_positions was reached
};

/// One generated continuation.
struct Generation {
  std::vector<token_id> tokens; ///< new tokens (the eos token included when it ended the row)
  std::vector<float> logprobs;  ///< log π(token | prefix) under the model, one per token
  FinishReason finish = FinishReason::length;
  [[nodiscard]] bool truncated() const noexcept {
    return finish == FinishReason::length || finish == FinishReason::context;
  }
};

namespace detail {

/// A uniform double in [0, 1) from 53 bits of the engine: the same on every platform.
inline double torch_uniform(Rng& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

inline void torch_validate_sampling(const SamplingConfig& cfg) {
  if (!(cfg.temperature >= 0.0F))
    throw invalid_argument("SamplingConfig: temperature must be ≥ 0, got " + std::to_string(cfg.temperature));
  if (!(cfg.top_p > 0.0F && cfg.top_p <= 1.0F))
    throw invalid_argument("SamplingConfig: top_p must be in (0, 1], got " + std::to_string(cfg.top_p));
}

/// Chooses the next token of each row from `logits` [B, V] (float32).
inline torch::Tensor torch_choose(const torch::Tensor& logits, const SamplingConfig& cfg, Rng& rng) {
  if (cfg.greedy || cfg.temperature == 0.0F) return logits.argmax(-1);
  const auto b = logits.size(0), v = logits.size(1);
  torch::Tensor x = logits / static_cast<double>(cfg.temperature);
  if (cfg.top_k > 0 && static_cast<std::int64_t>(cfg.top_k) < v) {
    const torch::Tensor kth = std::get<0>(x.topk(static_cast<std::int64_t>(cfg.top_k), -1)).narrow(1, cfg.top_k - 1, 1);
    x = x.masked_fill(x < kth, -std::numeric_limits<float>::infinity());
  }
  torch::Tensor probs = torch::softmax(x, -1);
  torch::Tensor order;
  if (cfg.top_p < 1.0F) {
    auto sorted = probs.sort(-1, /*descending=*/true);
    probs = std::get<0>(sorted);
    order = std::get<1>(sorted);
    // drop a token when the mass before it already reaches top_p (the first token always stays)
    probs = probs.masked_fill((probs.cumsum(-1) - probs) >= static_cast<double>(cfg.top_p), 0.0);
  }
  const torch::Tensor cdf = probs.to(torch::kFloat64).cumsum(-1);
  std::vector<double> draws(static_cast<std::size_t>(b));
  for (auto& u : draws) u = torch_uniform(rng);
  const torch::Tensor u =
      torch::from_blob(draws.data(), {b, 1}, torch::kFloat64).to(cdf.device()) * cdf.narrow(1, v - 1, 1);
  torch::Tensor pick = torch::searchsorted(cdf, u, /*out_int32=*/false, /*right=*/true).clamp_max(v - 1);
  if (order.defined()) pick = order.gather(1, pick);
  return pick.squeeze(1);
}

} // namespace detail

/// Continues each prompt (token ids; none may be empty) and returns one Generation per prompt.
/// `stop(row, token)` is called for every new token that is not eos; returning true ends the row
/// after that token. Runs without autograd, in the model's eval mode (restored afterwards).
/// Throws invalid_argument for an empty prompt, a prompt longer than n_positions, or a bad config.
template <CausalLM M, class Stop = bool (*)(std::size_t, token_id)>
std::vector<Generation> generate(
    M& model, std::span<const std::vector<token_id>> prompts, const SamplingConfig& cfg, Rng& rng,
    const GenerateOptions& options = {}, Stop&& stop = [](std::size_t, token_id) { return false; }) {
  detail::torch_validate_sampling(cfg);
  const auto rows = static_cast<std::int64_t>(prompts.size());
  std::vector<Generation> out(prompts.size());
  if (rows == 0) return out;
  const std::int64_t context = model->context_length();
  std::int64_t longest = 0;
  for (std::size_t r = 0; r < prompts.size(); ++r) {
    const auto n = static_cast<std::int64_t>(prompts[r].size());
    if (n == 0) throw invalid_argument("generate: prompt " + std::to_string(r) + " has no tokens");
    if (n > context)
      throw invalid_argument("generate: prompt " + std::to_string(r) + " has " + std::to_string(n) +
                             " tokens, more than the model's context length (" + std::to_string(context) + ")");
    longest = std::max(longest, n);
  }

  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  struct Restore {
    M& m;
    bool training;
    ~Restore() { m->train(training); }
  } restore{model, was_training};

  const torch::Device device = model->device();
  // left-padded prompts
  std::vector<std::int64_t> ids(static_cast<std::size_t>(rows * longest), options.pad_id);
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(rows * longest), 0);
  std::vector<std::int64_t> length(prompts.size()); // real tokens per row (prompt + generated)
  for (std::size_t r = 0; r < prompts.size(); ++r) {
    const auto n = static_cast<std::int64_t>(prompts[r].size());
    for (std::int64_t j = 0; j < n; ++j) {
      const auto at = static_cast<std::size_t>(static_cast<std::int64_t>(r) * longest + longest - n + j);
      ids[at] = prompts[r][static_cast<std::size_t>(j)];
      mask[at] = 1;
    }
    length[r] = n;
  }
  const auto long_opts = torch::TensorOptions().dtype(torch::kInt64);
  torch::Tensor seq = torch::from_blob(ids.data(), {rows, longest}, long_opts).clone().to(device);
  torch::Tensor seq_mask = torch::from_blob(mask.data(), {rows, longest}, torch::TensorOptions().dtype(torch::kUInt8))
                               .to(torch::kBool)
                               .to(device);

  const auto max_new = static_cast<std::int64_t>(cfg.max_new_tokens);
  KvCache cache;
  torch::Tensor logits;
  if (options.use_cache) {
    cache = model->make_cache(rows, longest + std::max<std::int64_t>(max_new, 1));
    logits = model->lm_logits(model->transformer(seq, seq_mask, &cache).select(1, longest - 1));
  } else {
    logits = model->lm_logits(model->transformer(seq, seq_mask).select(1, longest - 1));
  }

  std::vector<bool> done(prompts.size(), false);
  std::size_t remaining = prompts.size();
  if (max_new == 0) {
    for (auto& g : out) g.finish = FinishReason::length;
    return out;
  }
  std::vector<std::int64_t> next_host(prompts.size());
  std::vector<std::uint8_t> live_host(prompts.size());
  for (std::int64_t step = 0; step < max_new && remaining > 0; ++step) {
    const torch::Tensor logp = torch::log_softmax(logits.to(torch::kFloat32), -1);
    const torch::Tensor next = detail::torch_choose(logp, cfg, rng);
    const torch::Tensor chosen_logp = logp.gather(1, next.unsqueeze(1)).squeeze(1).to(torch::kCPU);
    const torch::Tensor next_cpu = next.to(torch::kCPU, torch::kInt64).contiguous();
    const auto* nx = next_cpu.data_ptr<std::int64_t>();
    const auto* lp = chosen_logp.data_ptr<float>();
    for (std::size_t r = 0; r < prompts.size(); ++r) {
      next_host[r] = options.pad_id;
      live_host[r] = 0;
      if (done[r]) continue;
      auto& g = out[r];
      const auto tok = static_cast<token_id>(nx[r]);
      g.tokens.push_back(tok);
      g.logprobs.push_back(lp[r]);
      ++length[r];
      bool finished = true;
      if ((options.eos_id >= 0 && tok == options.eos_id) ||
          std::find(options.more_eos_ids.begin(), options.more_eos_ids.end(), tok) != options.more_eos_ids.end())
        g.finish = FinishReason::eos;
      else if (stop(r, tok))
        g.finish = FinishReason::stop;
      else if (step + 1 == max_new)
        g.finish = FinishReason::length;
      else if (length[r] >= context)
        g.finish = FinishReason::context;
      else
        finished = false;
      if (finished) {
        done[r] = true;
        --remaining;
      } else {
        next_host[r] = tok;
        live_host[r] = 1;
      }
    }
    if (remaining == 0) break;
    const torch::Tensor step_ids = torch::from_blob(next_host.data(), {rows, 1}, long_opts).clone().to(device);
    const torch::Tensor step_mask =
        torch::from_blob(live_host.data(), {rows, 1}, torch::TensorOptions().dtype(torch::kUInt8))
            .to(torch::kBool)
            .to(device);
    if (options.use_cache) {
      logits = model->lm_logits(model->transformer(step_ids, step_mask, &cache).select(1, 0));
    } else {
      seq = torch::cat({seq, step_ids}, 1);
      seq_mask = torch::cat({seq_mask, step_mask}, 1);
      logits = model->lm_logits(model->transformer(seq, seq_mask).select(1, seq.size(1) - 1));
    }
  }
  return out;
}

} // namespace rltf
