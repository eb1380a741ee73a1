#pragma once
/// \file
/// Held-out evaluation of a policy: n samples per problem (and a greedy decode) executed against
/// the problems' tests, reported as unbiased pass@k (rltf::eval::pass_at_k, averaged over
/// problems) and greedy pass@1.
///
/// \code
/// auto report = rltf::evaluate(policy, executor, heldout, {.num_samples = 10, .k = {1, 5, 10}});
/// std::cout << report.pass_at_k.at(1) << ' ' << report.greedy_pass << '\n';
/// \endcode

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/core/policy.hpp"
#include "rltf/core/problem.hpp"
#include "rltf/core/rng.hpp"
#include "rltf/eval/pass_at_k.hpp"
#include "rltf/exec/executor.hpp"
#include "rltf/exec/job.hpp"
#include "rltf/train/options.hpp"

namespace rltf {

/// Options of evaluate().
struct EvalOptions {
  std::size_t num_samples = 10;         ///< n per problem (0: greedy only)
  SamplingConfig sampling{};            ///< n samples at top-p 0.95, temperature 1.0, ≤ 512 new tokens
  bool greedy = true;                   ///< also decode greedily and report its pass rate
  std::vector<std::size_t> k{1, 5, 10}; ///< pass@k for each k ≤ num_samples
  Limits limits{};
  std::uint64_t seed = 0; ///< the evaluation's own RNG (never the trainer's)
};

/// The options to and from JSON (`nlohmann::json j = options;`, rltf/core/options_json.hpp).
RLTF_OPTIONS_JSON(EvalOptions, num_samples, sampling, greedy, k, limits, seed)

/// What evaluate() measured.
struct EvalReport {
  std::map<std::size_t, double> pass_at_k; ///< k → mean unbiased pass@k
  double greedy_pass = -1.0;               ///< fraction of problems whose greedy decode passes (−1: not run)
  double sample_pass = 0.0;                ///< fraction of all samples that pass
  double executable = 0.0;                 ///< fraction of samples that ran without syntax or runtime error
  std::size_t problems = 0;
  std::size_t samples_per_problem = 0;
  std::vector<std::size_t> correct;            ///< c per problem
  std::vector<bool> greedy_correct;            ///< per problem
  std::vector<std::string> greedy_completions; ///< per problem, the greedy decode's text
  std::vector<Outcome> greedy_outcomes;        ///< per problem

  [[nodiscard]] nlohmann::json to_json() const {
    nlohmann::json pk = nlohmann::json::object();
    for (const auto& [k, v] : pass_at_k) pk["pass@" + std::to_string(k)] = v;
    nlohmann::json j{{"problems", problems},
                     {"n", samples_per_problem},
                     {"sample_pass", sample_pass},
                     {"executable", executable},
                     {"pass_at_k", pk}};
    if (greedy_pass >= 0.0) j["greedy_pass@1"] = greedy_pass;
    return j;
  }
};

/// Samples, executes and scores `policy` on `problems`.
template <Policy P, Executor E>
[[nodiscard]] EvalReport evaluate(P& policy, E& executor, std::span<const Problem> problems,
                                  const EvalOptions& options = {}) {
  if (problems.empty()) throw invalid_argument("evaluate: no problems");
  for (auto k : options.k)
    if (k == 0 || k > options.num_samples)
      throw invalid_argument("evaluate: k = " + std::to_string(k) + " needs 1 ≤ k ≤ num_samples");
  Rng rng = make_rng(options.seed);
  std::vector<std::string> prompts;
  for (const auto& p : problems) prompts.push_back(p.prompt);
  std::vector<Sample> samples;
  if (options.num_samples > 0) {
    SamplingConfig cfg = options.sampling;
    cfg.greedy = false;
    cfg.num_samples = options.num_samples;
    samples = policy.generate(prompts, cfg, rng);
  }
  std::vector<Sample> greedy;
  if (options.greedy) {
    SamplingConfig cfg = options.sampling;
    cfg.greedy = true;
    cfg.num_samples = 1;
    greedy = policy.generate(prompts, cfg, rng);
  }
  std::vector<Job> jobs;
  const std::size_t n = options.num_samples;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const Problem& p = problems[i / n];
    jobs.push_back(make_job(p, samples[i].text, options.limits));
  }
  for (std::size_t i = 0; i < greedy.size(); ++i) jobs.push_back(make_job(problems[i], greedy[i].text, options.limits));
  const std::vector<ExecutionResult> results = executor.run_all(std::span<const Job>(jobs));
  if (results.size() != jobs.size()) throw executor_error("evaluate: the executor lost results");
  EvalReport r;
  r.problems = problems.size();
  r.samples_per_problem = n;
  r.correct.assign(problems.size(), 0);
  std::size_t executable = 0, passed = 0;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const bool ok = results[i].outcome == Outcome::pass;
    r.correct[i / n] += ok;
    passed += ok;
    executable += results[i].outcome == Outcome::pass || results[i].outcome == Outcome::failure;
  }
  if (!samples.empty()) {
    r.sample_pass = static_cast<double>(passed) / static_cast<double>(samples.size());
    r.executable = static_cast<double>(executable) / static_cast<double>(samples.size());
    std::vector<eval::ProblemCount> counts;
    counts.reserve(r.correct.size());
    for (const auto c : r.correct) counts.push_back({n, c});
    for (auto k : options.k) r.pass_at_k[k] = eval::mean_pass_at_k(std::span<const eval::ProblemCount>(counts), k);
  }
  if (!greedy.empty()) {
    std::size_t g = 0;
    for (std::size_t i = 0; i < greedy.size(); ++i) {
      const bool ok = results[samples.size() + i].outcome == Outcome::pass;
      r.greedy_correct.push_back(ok);
      r.greedy_completions.push_back(greedy[i].text);
      r.greedy_outcomes.push_back(results[samples.size() + i].outcome);
      g += ok;
    }
    r.greedy_pass = static_cast<double>(g) / static_cast<double>(problems.size());
  }
  return r;
}

} // namespace rltf
