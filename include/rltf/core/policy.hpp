#pragma once
/// \file
/// The Policy concept: a language model that samples completions and scores them.
///
/// Requirements (p: P, prompts: span<const std::string>, cfg: SamplingConfig, rng: Rng&,
/// samples: span<const Sample>):
/// - `typename P::backend` models rltf::Backend;
/// - `p.generate(prompts, cfg, rng)` returns `std::vector<Sample>`: `cfg.num_samples` completions
///   per prompt, prompt-major, each with its tokens, text and per-token log-probabilities;
/// - `p.log_probs(samples)` returns a `P::backend::tensor` of shape [samples.size(), T_max]:
///   log π(token_t | prompt, tokens_<t) for each completion token, 0 past a completion's end.
///   Differentiable where the backend is.

#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "rltf/core/backend.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/core/rng.hpp"
#include "rltf/core/sample.hpp"

namespace rltf {

/// How a policy samples. Defaults are RLTF's (docs/feedback.md).
struct SamplingConfig {
  std::size_t max_new_tokens = 512;
  float temperature = 1.0F;      ///< 0 means greedy
  float top_p = 0.95F;           ///< nucleus mass; 1 disables
  std::size_t top_k = 0;         ///< 0 disables
  std::size_t num_samples = 1;   ///< completions per prompt
  bool greedy = false;           ///< argmax decoding (ignores temperature, top-p, top-k)
  std::vector<std::string> stop; ///< stop strings: generation ends after the first one appears
};
RLTF_OPTIONS_JSON(SamplingConfig, max_new_tokens, temperature, top_p, top_k, num_samples, greedy, stop)

template <class P>
concept Policy = Backend<typename P::backend> &&
    requires(P& p, std::span<const std::string> prompts, const SamplingConfig& cfg, Rng& rng,
             std::span<const Sample> samples) {
  { p.generate(prompts, cfg, rng) } -> std::same_as<std::vector<Sample>>;
  { p.log_probs(samples) } -> std::same_as<typename P::backend::tensor>;
};

/// Evaluates to true; fails with a readable message when P does not model Policy.
template <class P>
constexpr bool assert_policy() {
  static_assert(
      Policy<P>,
      "rltf: this type is not a Policy. A policy needs `using backend = <a Backend>`, `std::vector<rltf::Sample> "
      "generate(std::span<const std::string>, const rltf::SamplingConfig&, rltf::Rng&)` and `backend::tensor "
      "log_probs(std::span<const rltf::Sample>)`; see rltf/core/policy.hpp");
  return true;
}

namespace archetypes {
/// The minimal model of Policy.
struct policy {
  using backend = archetypes::backend;
  std::vector<Sample> generate(std::span<const std::string>, const SamplingConfig&, Rng&);
  backend::tensor log_probs(std::span<const Sample>);
};
} // namespace archetypes

static_assert(Policy<archetypes::policy>);

} // namespace rltf
