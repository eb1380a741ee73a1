#pragma once
/// \file
/// rltf::Rollout — what the generator hands the learner through the buffer: a sample, what its
/// execution earned, and the per-token weights the learner's loss uses.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/buffer/online_buffer.hpp"
#include "rltf/core/outcome.hpp"
#include "rltf/core/sample.hpp"

namespace rltf {

/// One sample after execution and feedback.
struct Rollout {
  Sample sample; ///< the completion (tokens, text, sampling-time log-probs)
  Outcome outcome = Outcome::runtime_error;
  std::size_t passed = 0; ///< tests passed
  std::size_t total = 0;  ///< tests run
  float reward = 0.0F;    ///< the feedback's sequence reward R
  float baseline = 0.0F;  ///< b subtracted from R (RLTF), or the group mean (GRPO)
  /// The learner's per-token weight: RLTF's r_t = (R − b) + token reward; GRPO's advantage A_t.
  std::vector<float> weights;
  /// log π_ref(token) under the frozen reference policy (GRPO); empty when unused.
  std::vector<float> ref_logprobs;
  /// PPO: the value head's V(s_t) when the round was sampled, and the GAE returns it regresses
  /// on (empty for the other trainers).
  std::vector<float> values;
  std::vector<float> returns;
  std::uint64_t round = 0; ///< the rollout round that produced it
  /// Optimiser steps the generating weights had taken: a learner at step s > version trains on
  /// it off-policy (stale by s − version steps).
  std::uint64_t version = 0;
};

/// Checkpoint codec of rollouts (OnlineBuffer<Rollout>::state()).
template <>
struct BufferCodec<Rollout> {
  [[nodiscard]] static nlohmann::json encode(const Rollout& r) {
    const Sample& s = r.sample;
    return nlohmann::json{{"problem", s.problem},   {"task_id", s.task_id},
                          {"prompt", s.prompt},     {"prompt_tokens", s.prompt_tokens},
                          {"tokens", s.tokens},     {"text", s.text},
                          {"logprobs", s.logprobs}, {"truncated", s.truncated},
                          {"greedy", s.greedy},     {"outcome", to_string(r.outcome)},
                          {"passed", r.passed},     {"total", r.total},
                          {"reward", r.reward},     {"baseline", r.baseline},
                          {"weights", r.weights},   {"ref_logprobs", r.ref_logprobs},
                          {"values", r.values},     {"returns", r.returns},
                          {"round", r.round},       {"version", r.version}};
  }
  [[nodiscard]] static Rollout decode(const nlohmann::json& j) {
    Rollout r;
    Sample& s = r.sample;
    s.problem = j.at("problem").get<std::size_t>();
    s.task_id = j.at("task_id").get<std::string>();
    s.prompt = j.at("prompt").get<std::string>();
    s.prompt_tokens = j.at("prompt_tokens").get<std::vector<token_id>>();
    s.tokens = j.at("tokens").get<std::vector<token_id>>();
    s.text = j.at("text").get<std::string>();
    s.logprobs = j.at("logprobs").get<std::vector<float>>();
    s.truncated = j.at("truncated").get<bool>();
    s.greedy = j.at("greedy").get<bool>();
    const auto outcome = outcome_from_string(j.at("outcome").get<std::string>());
    if (!outcome) throw nlohmann::json::other_error::create(501, "unknown outcome " + j.at("outcome").dump(), &j);
    r.outcome = *outcome;
    r.passed = j.at("passed").get<std::size_t>();
    r.total = j.at("total").get<std::size_t>();
    r.reward = j.at("reward").get<float>();
    r.baseline = j.at("baseline").get<float>();
    r.weights = j.at("weights").get<std::vector<float>>();
    r.ref_logprobs = j.at("ref_logprobs").get<std::vector<float>>();
    // States written before PPO have neither.
    r.values = j.value("values", std::vector<float>{});
    r.returns = j.value("returns", std::vector<float>{});
    r.round = j.at("round").get<std::uint64_t>();
    r.version = j.value("version", r.round); // states written before versions were recorded
    if (r.weights.size() != s.tokens.size())
      throw nlohmann::json::other_error::create(501, "weights and tokens differ in length", &j);
    return r;
  }
};

} // namespace rltf
