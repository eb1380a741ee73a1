#pragma once
/// \file
/// Per-step training metrics and their JSONL log.
///
/// Each optimiser step appends one JSON object to `<output_dir>/metrics.jsonl`: flat keys as TRL
/// and W&B name them (`train/reward`, `train/kl`, `train/entropy`, `train/adv_mean`,
/// `train/frac_zero_adv_groups`, `train/lr`, …; docs/training.md lists them), beside the nested
/// record of earlier versions ("round", "loss_parts"). Everything in it is a deterministic
/// function of the seed — except the wall-clock figures, grouped under the key "time" (e.g.
/// time.generation_s, time.execution_s, time.learning_s) so that runs can be compared exactly by
/// dropping that key (a resumed run's log is then byte-identical to an uninterrupted one's).

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/core/outcome.hpp"

namespace rltf {

/// What one optimiser step did.
struct StepMetrics {
  std::size_t step = 0;                                 ///< steps completed (1 after the first)
  std::size_t total_steps = 0;                          ///< steps in the run
  float loss = 0.0F;                                    ///< the optimised loss
  float grad_norm = 0.0F;                               ///< before clipping
  nlohmann::json loss_parts = nlohmann::json::object(); ///< e.g. rl, sl, kl, clip_fraction
  bool round = false;                                   ///< a rollout round ran before this step
  std::uint64_t rounds = 0;                             ///< rollout rounds so far
  std::size_t samples = 0;                              ///< samples generated in this step's round
  float reward_mean = 0.0F;                             ///< mean sequence reward of the round's samples
  float pass_rate = 0.0F;                               ///< fraction of the round's samples that passed every test
  float greedy_pass_rate = -1.0F;                       ///< same for the greedy decodes (−1 when there were none)
  std::array<std::size_t, 5> outcomes{};                ///< the round's samples per rltf::Outcome
  std::size_t buffer_size = 0;
  std::uint64_t samples_total = 0; ///< samples generated in the run so far
  nlohmann::json eval;             ///< the evaluation hook's result, when it ran
  float lr = 0.0F;                 ///< the learning rate of this step (after warm-up)
  // Diagnostics of the round (rltf/train/diagnostics.hpp), when one ran.
  float adv_mean = 0.0F;             ///< mean learner weight (advantage) over the round's completion tokens
  float adv_std = 0.0F;              ///< its standard deviation (population)
  float frac_zero_adv_groups = 0.0F; ///< groups whose every token weight is 0 (no learning signal)
  float frac_reward_zero_std = 0.0F; ///< groups whose sequence rewards are all equal
  float entropy = 0.0F;              ///< −mean log π_behaviour of the sampled tokens (Monte Carlo entropy)
  float len_mean = 0.0F;             ///< mean completion length in tokens
  float len_pass = -1.0F;            ///< same over passing samples (−1 when none passed)
  float len_fail = -1.0F;            ///< same over the others (−1 when all passed)
  std::size_t groups_dropped = 0;    ///< groups left out of the buffer (zero advantage, when asked)
  // Wall-clock figures (not reproducible; logged under "time").
  double elapsed_s = 0.0;     ///< since the run (or its resumption) started
  double samples_per_s = 0.0; ///< generation + execution throughput of this step's round
  double step_s = 0.0;        ///< duration of this step, round included
  double generation_s = 0.0;  ///< sampling (and greedy decoding) in this step's round
  double execution_s = 0.0;   ///< running the programs and computing rewards in this step's round
  double learning_s = 0.0;    ///< the objective's loss, backward and optimiser step

  /// The JSONL record.
  [[nodiscard]] nlohmann::json to_json() const {
    nlohmann::json j{{"step", step},
                     {"loss", loss},
                     {"grad_norm", grad_norm},
                     {"loss_parts", loss_parts},
                     {"buffer_size", buffer_size},
                     {"rounds", rounds},
                     {"samples_total", samples_total}};
    if (round) {
      nlohmann::json outs = nlohmann::json::object();
      for (std::size_t i = 0; i < outcomes.size(); ++i)
        outs[std::string(to_string(static_cast<Outcome>(i)))] = outcomes[i];
      j["round"] = nlohmann::json{
          {"samples", samples}, {"reward_mean", reward_mean}, {"pass_rate", pass_rate}, {"outcomes", outs}};
      if (greedy_pass_rate >= 0.0F) j["round"]["greedy_pass_rate"] = greedy_pass_rate;
      j["train/reward"] = reward_mean;
      j["train/pass_rate"] = pass_rate;
      if (greedy_pass_rate >= 0.0F) j["train/greedy_pass_rate"] = greedy_pass_rate;
      j["train/adv_mean"] = adv_mean;
      j["train/adv_std"] = adv_std;
      j["train/frac_zero_adv_groups"] = frac_zero_adv_groups;
      j["train/frac_reward_zero_std"] = frac_reward_zero_std;
      j["train/entropy"] = entropy;
      j["train/len_mean"] = len_mean;
      if (len_pass >= 0.0F) j["train/len_pass"] = len_pass;
      if (len_fail >= 0.0F) j["train/len_fail"] = len_fail;
      j["train/groups_dropped"] = groups_dropped;
      const double n = samples > 0 ? static_cast<double>(samples) : 1.0;
      for (std::size_t i = 0; i < outcomes.size(); ++i)
        j["train/outcome/" + std::string(to_string(static_cast<Outcome>(i)))] =
            static_cast<float>(static_cast<double>(outcomes[i]) / n);
    }
    j["train/loss"] = loss;
    j["train/grad_norm"] = grad_norm;
    j["train/lr"] = lr;
    if (loss_parts.is_object())
      for (const auto& [k, v] : loss_parts.items()) j["train/" + k] = v;
    if (!eval.is_null()) j["eval"] = eval;
    j["time"] =
        nlohmann::json{{"elapsed_s", elapsed_s},       {"samples_per_s", samples_per_s}, {"step_s", step_s},
                       {"generation_s", generation_s}, {"execution_s", execution_s},     {"learning_s", learning_s}};
    return j;
  }
};

/// An append-only JSONL file that can be cut back to a known size (on resume).
class MetricsLog {
public:
  MetricsLog() = default;

  /// Opens `path` for appending after cutting it to `keep_bytes` (0: start afresh). Throws
  /// rltf::io_error when the file cannot be opened, or is shorter than `keep_bytes`.
  void open(const std::filesystem::path& path, std::uint64_t keep_bytes) {
    close();
    std::error_code ec;
    const bool exists = std::filesystem::exists(path, ec);
    if (keep_bytes > 0) {
      if (!exists || std::filesystem::file_size(path) < keep_bytes)
        throw io_error("MetricsLog: " + path.string() + " is shorter than the " + std::to_string(keep_bytes) +
                       " bytes the checkpoint recorded");
      std::filesystem::resize_file(path, keep_bytes);
    } else if (exists) {
      std::filesystem::resize_file(path, 0);
    }
    out_.open(path, std::ios::binary | std::ios::app);
    if (!out_) throw io_error("MetricsLog: cannot open " + path.string());
    path_ = path;
    bytes_ = keep_bytes;
  }

  /// Appends one record and flushes it.
  void append(const nlohmann::json& record) {
    if (!out_.is_open()) return;
    const std::string line = record.dump() + "\n";
    out_.write(line.data(), static_cast<std::streamsize>(line.size()));
    out_.flush();
    if (!out_) throw io_error("MetricsLog: write failed for " + path_.string());
    bytes_ += line.size();
  }

  /// Bytes written so far (what a checkpoint records).
  [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }
  [[nodiscard]] bool is_open() const noexcept { return out_.is_open(); }
  void close() {
    if (out_.is_open()) out_.close();
  }

private:
  std::ofstream out_;
  std::filesystem::path path_;
  std::uint64_t bytes_ = 0;
};

/// The records of a metrics JSONL file with the wall-clock "time" key removed: two runs with
/// the same seed give equal results. Throws rltf::parse_error naming the line on bad JSON.
[[nodiscard]] inline std::vector<nlohmann::json> read_metrics(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw io_error("read_metrics: cannot open " + path.string());
  std::vector<nlohmann::json> out;
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    try {
      auto j = nlohmann::json::parse(line);
      j.erase("time");
      out.push_back(std::move(j));
    } catch (const nlohmann::json::exception& e) {
      throw parse_error(path.string(), n, "", e.what());
    }
  }
  return out;
}

} // namespace rltf
