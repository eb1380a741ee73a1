#pragma once
/// \file
/// The RLTF loss (docs/feedback.md), written once against the Backend concept:
///
///     r_it = (R_i − b_i) + α_i·R_fine_i·m_it          (TokenRewards: R_i = sequence, the rest = token)
///     L_RL = −(1/ΣT_i) Σ_it r_it · log π(w_it)
///     L    = L_RL + λ_sl · L_SL                         (L_SL: token-mean cross-entropy on ground truth)
///
/// with a per-problem baseline b_i (none, the latest greedy decode's reward, the historical best,
/// or the group mean: BaselineTracker) and the supervised term summed every step or alternated
/// with the RL term. Every switch lives in RltfLossOptions, whose defaults are the paper's.
///
/// \code
/// rltf::algo::BaselineTracker baselines{rltf::algo::Baseline::best};
/// const float b = baselines.update(problem, group_rewards, greedy_reward);   // once per problem per round
/// auto r = rltf::algo::rltf_rewards<B>(token_rewards, baselines_per_sample, lengths, t_max);
/// auto loss = rltf::algo::rltf_loss<B>({{logp, r.values, r.mask}}, {{sl_logp, sl_mask}}, options, step);
/// \endcode

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/algo/grad.hpp"
#include "rltf/algo/padded.hpp"
#include "rltf/algo/policy_gradient.hpp"
#include "rltf/core/backend.hpp"
#include "rltf/core/error.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/core/sample.hpp"
#include "rltf/core/shape.hpp"

namespace rltf::algo {

/// The baseline b_i subtracted from a sample's sequence reward R_i.
enum class Baseline {
  none,          ///< b = 0
  greedy,        ///< the reward of the latest greedy decode of the problem (RLTF's released code)
  best,          ///< the best reward seen for the problem in earlier rounds (the paper's historical best)
  group_mean,    ///< the mean reward of this round's samples of the problem (Dr. GRPO's centring)
  leave_one_out, ///< the mean reward of the round's *other* samples of the problem (RLOO)
  /// not a baseline alone: R − b becomes (R − mean)/(std + 1e-4) over the round's samples of the
  /// problem (GRPO's normalised advantage, unbiased std); b is logged as the mean
  group_norm,
};

/// How the supervised term joins the RL term.
enum class SupervisedMode {
  sum,       ///< L = L_RL + λ_sl·L_SL every step
  alternate, ///< even steps L_RL, odd steps λ_sl·L_SL
};

/// Baseline by name, for command lines and configuration files.
inline constexpr std::pair<std::string_view, Baseline> baselines[] = {{"none", Baseline::none},
                                                                      {"greedy", Baseline::greedy},
                                                                      {"best", Baseline::best},
                                                                      {"group_mean", Baseline::group_mean},
                                                                      {"leave_one_out", Baseline::leave_one_out},
                                                                      {"group_norm", Baseline::group_norm}};
RLTF_ENUM_JSON(Baseline, baselines)

[[nodiscard]] constexpr std::string_view to_string(Baseline b) noexcept {
  for (const auto& [name, v] : baselines)
    if (v == b) return name;
  return "none";
}

/// Parses "none", "greedy", "best", "group_mean"; nullopt otherwise.
[[nodiscard]] constexpr std::optional<Baseline> baseline_from_string(std::string_view s) noexcept {
  for (const auto& [name, b] : baselines)
    if (name == s) return b;
  return std::nullopt;
}

/// SupervisedMode by name, for configuration files.
inline constexpr std::pair<std::string_view, SupervisedMode> supervised_modes[] = {
    {"sum", SupervisedMode::sum}, {"alternate", SupervisedMode::alternate}};
RLTF_ENUM_JSON(SupervisedMode, supervised_modes)

[[nodiscard]] constexpr std::string_view to_string(SupervisedMode m) noexcept {
  for (const auto& [name, v] : supervised_modes)
    if (v == m) return name;
  return "?";
}

/// Every switch of the RLTF loss — one aggregate, used by rltf_loss() and by rltf::RltfTrainer
/// (as `RltfOptions::loss`). The defaults are the paper's.
struct RltfLossOptions {
  Baseline baseline = Baseline::best;           ///< b_i (the paper: historical best)
  float sl_coef = 1.0F;                         ///< λ_sl; 0 disables the supervised term
  SupervisedMode sl_mode = SupervisedMode::sum; ///< L_RL + λ_sl·L_SL, or alternating steps
  std::size_t sl_batch_size = 8;                ///< ground-truth solutions per supervised step (trainers)
  Reduction reduction = Reduction::token_mean;  ///< token_mean is the paper's 1/ΣT_i
  /// L of Reduction::seq_mean_token_sum_norm (0: the mask's width in rltf_loss; the trainer's
  /// rollout.sampling.max_new_tokens in rltf::RltfTrainer)
  float norm_length = 0.0F;
  /// > 0: the RL term is PPO's clipped-ratio surrogate with ratio ρ = π/π_behaviour (the sampling
  /// policy's log-probs) clipped to 1 ± ratio_clip, applied to rollouts sampled by older weights
  /// than the learner's (stale batches of the buffer; fresh ones have ρ = 1 and keep REINFORCE).
  /// 0: plain REINFORCE on every rollout (the paper).
  float ratio_clip = 0.0F;
};
RLTF_OPTIONS_JSON(RltfLossOptions, baseline, sl_coef, sl_mode, sl_batch_size, reduction, norm_length, ratio_clip)

/// The per-problem state the baselines need: each problem's latest greedy reward and best reward.
/// Call update() once per problem per round, with the rewards of that round's samples (and of its
/// greedy decode, when there is one); it returns the baseline for those samples.
class BaselineTracker {
public:
  explicit BaselineTracker(Baseline kind = Baseline::best) : kind_(kind) {}

  [[nodiscard]] Baseline kind() const noexcept { return kind_; }

  /// b for the samples of `problem` in this round, before recording it: none → 0; greedy → this
  /// round's greedy reward, else the latest recorded one, else 0; best → the best reward recorded
  /// in earlier rounds, else 0; group_mean → the mean of `rewards` (0 when empty), and so for
  /// leave_one_out and group_norm, whose per-sample advantages come from group_advantages().
  [[nodiscard]] float baseline(std::size_t problem, std::span<const float> rewards,
                               std::optional<float> greedy = std::nullopt) const {
    switch (kind_) {
    case Baseline::none:
      return 0.0F;
    case Baseline::greedy:
      if (greedy) return *greedy;
      return last_greedy(problem).value_or(0.0F);
    case Baseline::best:
      return best(problem).value_or(0.0F);
    case Baseline::group_mean:
    case Baseline::leave_one_out:
    case Baseline::group_norm: {
      if (rewards.empty()) return 0.0F;
      double sum = 0.0;
      for (const float r : rewards) sum += r;
      return static_cast<float>(sum / static_cast<double>(rewards.size()));
    }
    }
    return 0.0F;
  }

  /// Records a round of `problem`: its greedy reward (if any) and the best of all its rewards.
  void record(std::size_t problem, std::span<const float> rewards, std::optional<float> greedy = std::nullopt) {
    if (greedy) last_greedy_[problem] = *greedy;
    std::optional<float> top = greedy;
    for (const float r : rewards) top = top ? std::max(*top, r) : r;
    if (!top) return;
    const auto it = best_.find(problem);
    if (it == best_.end())
      best_.emplace(problem, *top);
    else
      it->second = std::max(it->second, *top);
  }

  /// baseline() for this round, then record().
  float update(std::size_t problem, std::span<const float> rewards, std::optional<float> greedy = std::nullopt) {
    const float b = baseline(problem, rewards, greedy);
    record(problem, rewards, greedy);
    return b;
  }

  /// The latest greedy reward recorded for `problem`.
  [[nodiscard]] std::optional<float> last_greedy(std::size_t problem) const {
    const auto it = last_greedy_.find(problem);
    return it == last_greedy_.end() ? std::nullopt : std::optional<float>(it->second);
  }
  /// The best reward recorded for `problem`.
  [[nodiscard]] std::optional<float> best(std::size_t problem) const {
    const auto it = best_.find(problem);
    return it == best_.end() ? std::nullopt : std::optional<float>(it->second);
  }

  /// Forgets every problem.
  void clear() {
    last_greedy_.clear();
    best_.clear();
  }

  /// The state, for checkpoints: {"kind", "last_greedy": [[problem, reward], ...], "best": [...]}.
  [[nodiscard]] nlohmann::json to_json() const {
    nlohmann::json j;
    j["kind"] = std::string(to_string(kind_));
    j["last_greedy"] = nlohmann::json::array();
    for (const auto& [p, r] : last_greedy_) j["last_greedy"].push_back({p, r});
    j["best"] = nlohmann::json::array();
    for (const auto& [p, r] : best_) j["best"].push_back({p, r});
    return j;
  }

  /// Restores a state written by to_json(). Throws rltf::parse_error (field named) when malformed.
  [[nodiscard]] static BaselineTracker from_json(const nlohmann::json& j, const std::string& file = "<json>") {
    if (!j.is_object()) throw parse_error(file, 0, "", "a baseline state must be a JSON object");
    const auto kind_field = j.find("kind");
    const auto kind = kind_field != j.end() && kind_field->is_string()
                          ? baseline_from_string(kind_field->get<std::string>())
                          : std::nullopt;
    if (!kind)
      throw parse_error(file, 0, "kind",
                        "expected \"none\", \"greedy\", \"best\", \"group_mean\", \"leave_one_out\" or \"group_norm\"");
    BaselineTracker t(*kind);
    const auto read = [&](const char* key, std::map<std::size_t, float>& into) {
      const auto it = j.find(key);
      if (it == j.end() || !it->is_array()) throw parse_error(file, 0, key, "expected an array of [problem, reward]");
      for (std::size_t i = 0; i < it->size(); ++i) {
        const auto& row = (*it)[i];
        if (!row.is_array() || row.size() != 2 || !row[0].is_number_unsigned() || !row[1].is_number())
          throw parse_error(file, 0, std::string(key) + "[" + std::to_string(i) + "]",
                            "expected [problem, reward], got " + row.dump());
        into[row[0].get<std::size_t>()] = row[1].get<float>();
      }
    };
    read("last_greedy", t.last_greedy_);
    read("best", t.best_);
    return t;
  }

private:
  Baseline kind_;
  std::map<std::size_t, float> last_greedy_;
  std::map<std::size_t, float> best_;
};

/// One row of RLTF rewards: r_t = (R − b) + token[t] for t < length. Throws rltf::invalid_argument
/// when `rewards.token` is neither empty nor `length` long.
[[nodiscard]] inline std::vector<float> rltf_reward_row(const TokenRewards& rewards, float baseline,
                                                        std::size_t length) {
  if (!rewards.token.empty() && rewards.token.size() != length)
    throw invalid_argument("rltf::algo::rltf_reward_row: the token rewards have " +
                           std::to_string(rewards.token.size()) + " entries for a completion of " +
                           std::to_string(length) + " tokens");
  std::vector<float> row(length, rewards.sequence - baseline);
  for (std::size_t t = 0; t < rewards.token.size(); ++t) row[t] += rewards.token[t];
  return row;
}

/// The padded [N, t_max] rewards r_it of a batch and its mask. `t_max` 0 means the longest length;
/// otherwise it must be at least that (e.g. the width of policy.log_probs(samples)).
template <Backend B>
[[nodiscard]] Padded<B> rltf_rewards(std::span<const TokenRewards> rewards, std::span<const float> baselines,
                                     std::span<const std::size_t> lengths, std::size_t t_max = 0) {
  constexpr const char* op = "rltf::algo::rltf_rewards";
  if (rewards.size() != baselines.size() || rewards.size() != lengths.size())
    throw invalid_argument(std::string(op) + ": " + std::to_string(rewards.size()) + " rewards, " +
                           std::to_string(baselines.size()) + " baselines and " + std::to_string(lengths.size()) +
                           " lengths; they must be equal");
  const std::size_t longest = lengths.empty() ? 0 : *std::max_element(lengths.begin(), lengths.end());
  if (t_max == 0) t_max = longest;
  if (t_max < longest)
    throw invalid_argument(std::string(op) + ": t_max " + std::to_string(t_max) + " is shorter than the longest " +
                           "completion (" + std::to_string(longest) + " tokens)");
  std::vector<float> values(rewards.size() * t_max, 0.0F);
  std::vector<float> mask(rewards.size() * t_max, 0.0F);
  for (std::size_t i = 0; i < rewards.size(); ++i) {
    const auto row = rltf_reward_row(rewards[i], baselines[i], lengths[i]);
    std::copy(row.begin(), row.end(), values.begin() + static_cast<std::ptrdiff_t>(i * t_max));
    std::fill_n(mask.begin() + static_cast<std::ptrdiff_t>(i * t_max), lengths[i], 1.0F);
  }
  const Shape shape{static_cast<std::int64_t>(rewards.size()), static_cast<std::int64_t>(t_max)};
  return {B::from_values(values, shape), B::from_values(mask, shape)};
}

/// The RL part of a step: the sampled completions' log π(w_it), their rewards r_it, their mask; all [N, T].
template <Backend B>
struct RlBatch {
  tensor_t<B> logprobs;
  tensor_t<B> rewards;
  tensor_t<B> mask;
};

/// The supervised part of a step: log π of ground-truth solution tokens and their mask; [M, T'].
template <Backend B>
struct SupervisedBatch {
  tensor_t<B> logprobs;
  tensor_t<B> mask;
};

/// Which terms a step optimises: sum mode uses both (when there is a supervised batch and
/// λ_sl > 0); alternate mode uses L_RL on even steps and λ_sl·L_SL on odd ones (only L_RL
/// when there is nothing supervised).
struct RltfTerms {
  bool rl = false;
  bool sl = false;
};

[[nodiscard]] constexpr RltfTerms rltf_terms(const RltfLossOptions& options, std::size_t step, bool have_rl,
                                             bool have_sl) noexcept {
  const bool sl_on = have_sl && options.sl_coef > 0.0F;
  if (options.sl_mode == SupervisedMode::alternate && sl_on) {
    const bool rl_step = step % 2 == 0;
    return {rl_step && have_rl, !rl_step};
  }
  return {have_rl, sl_on};
}

/// The loss of one step, as tensors (differentiable where the backend is).
template <Backend B>
struct RltfLoss {
  tensor_t<B> total;             ///< L (rank 0)
  std::optional<tensor_t<B>> rl; ///< L_RL, when the step used it
  std::optional<tensor_t<B>> sl; ///< L_SL (without λ_sl), when the step used it
};

namespace detail {
template <Backend B>
void check(const RlBatch<B>& rl) {
  constexpr const char* op = "rltf::algo::rltf_loss";
  rltf::detail::require_rank(op, B::shape(rl.logprobs), 2, "logprobs");
  rltf::detail::require_same_shape(op, B::shape(rl.logprobs), B::shape(rl.rewards), "logprobs", "rewards");
  rltf::detail::require_same_shape(op, B::shape(rl.logprobs), B::shape(rl.mask), "logprobs", "mask");
}
template <Backend B>
void check(const SupervisedBatch<B>& sl) {
  constexpr const char* op = "rltf::algo::rltf_loss";
  rltf::detail::require_rank(op, B::shape(sl.logprobs), 2, "supervised logprobs");
  rltf::detail::require_same_shape(op, B::shape(sl.logprobs), B::shape(sl.mask), "supervised logprobs",
                                   "supervised mask");
}
} // namespace detail

/// L for step `step`: L_RL = −reduce(r·log π) (rewards are constants) and/or λ_sl·L_SL with
/// L_SL = −token_mean(log π_gt), as rltf_terms() says. A step with neither term gives L = 0.
template <Backend B>
[[nodiscard]] RltfLoss<B> rltf_loss(const std::optional<RlBatch<B>>& rl, const std::optional<SupervisedBatch<B>>& sl,
                                    const RltfLossOptions& options = {}, std::size_t step = 0) {
  if (options.sl_coef < 0.0F) throw invalid_argument("rltf::algo::rltf_loss: sl_coef must be >= 0");
  const RltfTerms terms = rltf_terms(options, step, rl.has_value(), sl.has_value());
  RltfLoss<B> out{B::scalar(0.0F), std::nullopt, std::nullopt};
  if (terms.rl) {
    detail::check<B>(*rl);
    out.rl = policy_gradient_loss<B>(rl->logprobs, rl->rewards, rl->mask, options.reduction, options.norm_length);
    out.total = B::add(out.total, *out.rl);
  }
  if (terms.sl) {
    detail::check<B>(*sl);
    out.sl = cross_entropy<B>(sl->logprobs, sl->mask, Reduction::token_mean);
    out.total = B::add(out.total, B::mul(*out.sl, options.sl_coef));
  }
  return out;
}

/// The same loss with its gradients with respect to each batch's log-probabilities (for policies
/// that back-propagate a given dL/d log π: rltf::TrainablePolicy::backward).
template <Backend B>
struct RltfLossGrad {
  float total = 0.0F;            ///< L
  std::optional<LossGrad<B>> rl; ///< L_RL and dL/d logprobs of the RL batch
  std::optional<LossGrad<B>> sl; ///< λ_sl·L_SL and dL/d logprobs of the supervised batch
};

template <Backend B>
[[nodiscard]] RltfLossGrad<B> rltf_loss_grad(const std::optional<RlBatch<B>>& rl,
                                             const std::optional<SupervisedBatch<B>>& sl,
                                             const RltfLossOptions& options = {}, std::size_t step = 0) {
  if (options.sl_coef < 0.0F) throw invalid_argument("rltf::algo::rltf_loss_grad: sl_coef must be >= 0");
  const RltfTerms terms = rltf_terms(options, step, rl.has_value(), sl.has_value());
  RltfLossGrad<B> out;
  if (terms.rl) {
    detail::check<B>(*rl);
    out.rl = policy_gradient_loss_grad<B>(rl->logprobs, rl->rewards, rl->mask, options.reduction, options.norm_length);
    out.total += B::item(out.rl->loss);
  }
  if (terms.sl) {
    detail::check<B>(*sl);
    out.sl = options.sl_coef * cross_entropy_grad<B>(sl->logprobs, sl->mask, Reduction::token_mean);
    out.total += B::item(out.sl->loss);
  }
  return out;
}

} // namespace rltf::algo
