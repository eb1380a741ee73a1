#pragma once
/// \file
/// The frozen reference policy of the trainers that penalise KL (GRPO, PPO): which one by
/// default, its log-probabilities of a round, and its place in a checkpoint.

#include <concepts>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/core/sample.hpp"
#include "rltf/train/rollout.hpp"
#include "rltf/train/trainable_policy.hpp"

namespace rltf::train::detail {

/// `frozen_reference(policy)` when the policy's namespace offers one (found by argument-dependent
/// lookup: a LibTorch policy with LoRA adapters shares its base), else a copy of the policy as it
/// is now (P must have value semantics, as rltf::EigenPolicy has).
template <class P>
requires std::copy_constructible<P>
[[nodiscard]] std::shared_ptr<P> default_reference(const P& policy) {
  if constexpr (requires { frozen_reference(policy); })
    return frozen_reference(policy);
  else
    return std::make_shared<P>(policy);
}

/// A shared frozen reference policy (or none), as an objective holds it.
template <TrainablePolicy P>
class Reference {
public:
  Reference() = default;
  explicit Reference(std::shared_ptr<P> policy) : policy_(std::move(policy)) {}

  [[nodiscard]] explicit operator bool() const noexcept { return static_cast<bool>(policy_); }
  [[nodiscard]] const P* get() const noexcept { return policy_.get(); }

  /// Sets each rollout's `ref_logprobs` to the reference's log π of its completion tokens.
  void log_probs_of(std::span<Rollout> round) const {
    if (!policy_ || round.empty()) return;
    using B = typename P::backend;
    std::vector<Sample> samples;
    samples.reserve(round.size());
    for (const auto& r : round) samples.push_back(r.sample);
    const auto ref = policy_->log_probs(samples);
    const auto v = B::values(ref);
    const auto t_max = static_cast<std::size_t>(B::shape(ref).at(1));
    for (std::size_t i = 0; i < round.size(); ++i)
      round[i].ref_logprobs.assign(v.begin() + static_cast<std::ptrdiff_t>(i * t_max),
                                   v.begin() + static_cast<std::ptrdiff_t>(i * t_max + round[i].sample.tokens.size()));
  }

  /// Writes the reference into `dir/reference`; returns {"reference": bool}.
  [[nodiscard]] nlohmann::json save(const std::filesystem::path& dir) const {
    if (!policy_) return nlohmann::json{{"reference", false}};
    std::filesystem::create_directories(dir / "reference");
    policy_->save_checkpoint(dir / "reference");
    return nlohmann::json{{"reference", true}};
  }
  /// Restores what save() wrote; `who` names the objective in errors.
  void load(const std::filesystem::path& dir, const nlohmann::json& state, const std::string& who) {
    if (!state.at("reference").get<bool>()) return;
    if (!policy_) throw invalid_argument(who + "::load: the checkpoint has a reference policy, this run not");
    policy_->load_checkpoint(dir / "reference");
  }

private:
  std::shared_ptr<P> policy_;
};

} // namespace rltf::train::detail
