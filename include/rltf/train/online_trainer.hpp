#pragma once
/// \file
/// rltf::OnlineTrainer — the online rollout machinery shared by the RLTF and GRPO trainers
/// (docs/training.md): a round samples N programs per problem (plus one greedy decode) from the current
/// policy, runs them in parallel with the executor's run_all, turns the results into token
/// rewards with the feedback, and pushes rollouts into the buffer; every optimiser step, the
/// learner draws a batch from the buffer's view and lets the *objective* compute the loss and
/// its gradient with respect to the log-probabilities, which the policy back-propagates.
///
/// The trainer is composed from concepts: any rltf::TrainablePolicy, rltf::Executor,
/// rltf::Feedback and rltf::Buffer (of rltf::Rollout) plug in; the objective (RLTF's loss,
/// GRPO's, or a user's own — see TrainerObjective) decides baselines/advantages and the loss.
///
/// Operations: a progress bar or plain lines, metrics JSONL, atomic checkpoints (policy,
/// optimiser, buffer, RNG, step, objective state) every K steps, and exact resumption: a run
/// killed with SIGKILL and restarted with the same options continues from its latest checkpoint
/// and produces the same metrics, bit for bit, as a run that was never interrupted. Everything
/// random is drawn from one rltf::Rng whose state is checkpointed; the executor's parallelism
/// does not affect results (run_all returns results in submission order).
///
/// Data-parallel training (docs/distributed.md): set_data_parallel(dp) before train() splits each
/// round's problems over the ranks (position i to rank i % W), each rank sampling, executing and
/// grouping its own problems with its own executor and drawing its share of the learner batch
/// from its own buffer; the loss is normalised by the global count; rank 0 writes metrics and the
/// shared part of checkpoints, every rank its own part (rank-R/: RNG, buffer, objective state).

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/algo/policy_gradient.hpp"
#include "rltf/buffer/buffer.hpp"
#include "rltf/buffer/online_buffer.hpp"
#include "rltf/core/error.hpp"
#include "rltf/core/problem.hpp"
#include "rltf/core/rng.hpp"
#include "rltf/core/sample.hpp"
#include "rltf/detail/random.hpp"
#include "rltf/exec/executor.hpp"
#include "rltf/exec/job.hpp"
#include "rltf/feedback/feedback.hpp"
#include "rltf/tokenize/tokenizer.hpp"
#include "rltf/train/checkpoint.hpp"
#include "rltf/train/data_parallel.hpp"
#include "rltf/train/detail/config.hpp"
#include "rltf/train/diagnostics.hpp"
#include "rltf/train/metrics.hpp"
#include "rltf/train/options.hpp"
#include "rltf/train/progress.hpp"
#include "rltf/train/rollout.hpp"
#include "rltf/train/trainable_policy.hpp"

namespace rltf {

/// What an objective's learning step reports.
struct LossReport {
  float loss = 0.0F;                               ///< the loss whose gradient was back-propagated
  nlohmann::json parts = nlohmann::json::object(); ///< its terms and diagnostics
};

/// An objective of the online trainer (RLTF's, GRPO's, or a user's):
/// - `o.assign(group, greedy)`: `group` holds one problem's rollouts of a round, each with
///   `reward` = the feedback's sequence reward R and `weights` = its token-level rewards; set
///   each rollout's `baseline` and final per-token `weights`. `greedy` is the problem's greedy
///   decode (same fields) or nullptr;
/// - `o.prepare(policy, round)`: called once per round after assign (e.g. reference log-probs);
/// - `o.learn(policy, batch, step, rng)`: computes the loss on a batch drawn from the buffer and
///   calls `policy.backward` (the trainer zeroes gradients before and steps after);
/// - `o.save(dir)` writes any files into `dir` and returns its JSON state; `o.load(dir, state)`
///   restores it.
template <class O, class P>
concept TrainerObjective = requires(O& o, const O& co, P& p, std::span<Rollout> group, const Rollout* greedy,
                                    std::span<const Rollout> batch, std::size_t step, Rng& rng,
                                    const std::filesystem::path& dir, const nlohmann::json& state) {
  o.assign(group, greedy);
  o.prepare(p, group);
  { o.learn(p, batch, step, rng) } -> std::same_as<LossReport>;
  { co.save(dir) } -> std::same_as<nlohmann::json>;
  o.load(dir, state);
};

/// The byte ranges of a completion's tokens in `sample.text`; a final eos token gets an empty
/// range at the end of the text (it produced no characters).
template <Tokenizer T>
[[nodiscard]] TokenOffsets completion_offsets(const T& tokenizer, const Sample& sample) {
  std::span<const token_id> ids(sample.tokens);
  const bool eos_end = !ids.empty() && ids.back() == static_cast<token_id>(tokenizer.eos_id());
  if (eos_end) ids = ids.first(ids.size() - 1);
  TokenOffsets out = tokenizer.offsets(ids);
  if (eos_end) {
    const std::size_t end = out.empty() ? 0 : out.back().end;
    out.push_back({end, end});
  }
  return out;
}

/// Summary of a finished train() call.
struct TrainSummary {
  std::size_t steps = 0;        ///< steps completed in total (a resumed run counts earlier ones)
  std::size_t resumed_from = 0; ///< the step the run resumed at (0 for a fresh run)
  std::uint64_t samples = 0;    ///< samples generated in the whole run
  double seconds = 0.0;         ///< wall time of this call
  StepMetrics last;             ///< the last step's metrics
};

/// A trainer's buffer from its learner options: `Buf(learner.buffer)` when Buf takes
/// OnlineBufferOptions (the FIFO's capacity and refresh), else a default-constructed Buf.
template <class Buf>
[[nodiscard]] Buf make_buffer(const LearnerOptions& learner) {
  if constexpr (std::constructible_from<Buf, OnlineBufferOptions>)
    return Buf(learner.buffer);
  else
    return Buf{};
}

/// The online trainer; see the file comment. Usually used through rltf::RltfTrainer or
/// rltf::GrpoTrainer.
template <TrainablePolicy P, Executor E, Feedback F, Buffer Buf, TrainerObjective<P> Objective>
requires std::same_as<typename Buf::value_type, Rollout>
class OnlineTrainer {
public:
  using policy_type = P;
  using executor_type = E;
  using feedback_type = F;
  using buffer_type = Buf;
  using objective_type = Objective;

  /// Trains `policy` (held by reference) on `problems`. Throws rltf::invalid_argument for empty
  /// problems or inconsistent options.
  OnlineTrainer(P& policy, E& executor, F feedback, std::vector<Problem> problems, RolloutOptions rollout,
                LearnerOptions learner, RunOptions run, Objective objective, Buf buffer)
      : policy_(&policy), executor_(&executor), feedback_(std::move(feedback)), problems_(std::move(problems)),
        rollout_(std::move(rollout)), learner_(learner), run_(std::move(run)), objective_(std::move(objective)),
        buffer_(std::move(buffer)) {
    if (problems_.empty()) throw invalid_argument("OnlineTrainer: no problems to train on");
    if (rollout_.problems_per_round == 0) throw invalid_argument("OnlineTrainer: problems_per_round must be ≥ 1");
    if (rollout_.sampling.num_samples == 0) throw invalid_argument("OnlineTrainer: sampling.num_samples must be ≥ 1");
    if (rollout_.round_every == 0) throw invalid_argument("OnlineTrainer: round_every must be ≥ 1");
    if (learner_.batch_size == 0) throw invalid_argument("OnlineTrainer: batch_size must be ≥ 1");
    if (learner_.sync_every > 0) {
      if constexpr (std::copy_constructible<P>)
        generator_ = std::make_unique<P>(policy);
      else
        throw invalid_argument("OnlineTrainer: sync_every > 0 needs a copy-constructible policy");
    }
    if (run_.checkpoint_every > 0 && !run_.output_dir.empty()) {
      if constexpr (!checkpointable_buffer)
        throw invalid_argument("OnlineTrainer: checkpoints need a buffer with state() and load_state(json, "
                               "source), as rltf::OnlineBuffer has; set run.checkpoint_every = 0");
    }
  }

  /// Sets a hook run every `run.eval_every` steps (and before the first step of a fresh run):
  /// its JSON result is logged under "eval" in the step's metrics. It must not draw from the
  /// trainer's RNG (use its own, seeded) so that runs stay reproducible.
  void on_evaluate(std::function<nlohmann::json(P&, std::size_t step)> hook) { evaluate_ = std::move(hook); }
  /// Sets a hook called after every step with its metrics.
  void on_step(std::function<void(const StepMetrics&)> hook) { step_hook_ = std::move(hook); }
  /// Where progress goes (default std::cerr).
  void set_progress_stream(std::ostream& out) { progress_out_ = &out; }

  /// Makes this trainer one rank of a data-parallel run (see the file comment and
  /// rltf/train/data_parallel.hpp); call it before train(), on every rank with the same options
  /// and problems. The policy's gradients must be all-reduced by its step() (rltf::make_data_parallel
  /// sets that up for LibTorch policies). Throws rltf::invalid_argument when a rank would get no
  /// problem or no sample of a batch (problems_per_round and batch_size must be ≥ world_size).
  void set_data_parallel(DataParallel dp) {
    if (started_) throw invalid_argument("OnlineTrainer::set_data_parallel: call it before train()");
    if (dp.world_size == 0 || dp.rank >= dp.world_size)
      throw invalid_argument("OnlineTrainer::set_data_parallel: rank " + std::to_string(dp.rank) +
                             " is not in [0, world_size = " + std::to_string(dp.world_size) + ")");
    if (rollout_.problems_per_round < dp.world_size)
      throw invalid_argument("OnlineTrainer::set_data_parallel: problems_per_round (" +
                             std::to_string(rollout_.problems_per_round) + ") must be ≥ the number of ranks (" +
                             std::to_string(dp.world_size) + "): every rank owns whole problems");
    if (learner_.batch_size < dp.world_size)
      throw invalid_argument("OnlineTrainer::set_data_parallel: batch_size (" + std::to_string(learner_.batch_size) +
                             ") must be ≥ the number of ranks (" + std::to_string(dp.world_size) +
                             "): it is the global batch, dealt over the ranks");
    dp_ = std::move(dp);
  }
  /// The data-parallel group (a single process unless set_data_parallel was called).
  [[nodiscard]] const DataParallel& data_parallel() const noexcept { return dp_; }

  /// Runs (or resumes) training up to `learner.steps` optimiser steps.
  TrainSummary train() {
    const auto t0 = clock::now();
    TrainSummary summary;
    start();
    summary.resumed_from = step_;
    ProgressDisplay progress(dp_.is_main() ? run_.progress : ProgressMode::off, *progress_out_, run_.log_every);
    if (summary.resumed_from > 0) progress.message("resumed from step " + std::to_string(step_));
    if (step_ == 0 && evaluate_ && run_.eval_every > 0 && dp_.is_main()) {
      const nlohmann::json eval = evaluate_(*policy_, 0);
      metrics_.append(nlohmann::json{{"step", 0}, {"eval", eval}});
      progress.message("step 0 eval " + eval.dump());
    }
    while (step_ < learner_.steps) {
      const auto ts = clock::now();
      StepMetrics m;
      m.total_steps = learner_.steps;
      if (step_ % rollout_.round_every == 0) rollout_round(m);
      // Dynamic sampling may drop every group of a round: sample more before learning.
      // (A collective decision: every rank needs samples of its own.)
      for (int extra = 0; any_rank_empty() && rollout_.drop_zero_advantage_groups && extra < 16; ++extra)
        rollout_round(m);
      if (any_rank_empty())
        throw invalid_argument(rollout_.drop_zero_advantage_groups
                                   ? "OnlineTrainer: every group of 17 rollout rounds had zero advantage and was "
                                     "dropped (rollout.drop_zero_advantage_groups); the buffer is empty"
                                   : "OnlineTrainer: the buffer is empty after a rollout round");
      const auto tl = clock::now();
      policy_->zero_grad();
      const std::vector<Rollout> batch = buffer_.sample(dp_.share(learner_.batch_size), local_rng());
      // This rank's share of the global loss normaliser (1 for a single process).
      double share = 1.0;
      if (dp_.distributed()) {
        const double local = loss_normaliser(batch);
        const std::vector<double> total = dp_.summed({local});
        share = total[0] > 0.0 ? local / total[0] : 1.0 / static_cast<double>(dp_.world_size);
        if (dp_.set_gradient_share) dp_.set_gradient_share(share);
      }
      const LossReport report = objective_.learn(*policy_, batch, step_, local_rng());
      OptimizerOptions opt = learner_.optimizer;
      if (step_ < learner_.warmup_steps)
        opt.lr *= static_cast<float>(step_ + 1) / static_cast<float>(learner_.warmup_steps);
      m.lr = opt.lr;
      m.grad_norm = static_cast<float>(policy_->step(opt));
      m.learning_s = seconds(tl);
      if constexpr (requires(Buf & b) { b.on_optimizer_step(); }) (void)buffer_.on_optimizer_step();
      ++step_;
      if (generator_ && step_ % learner_.sync_every == 0) *generator_ = *policy_;
      m.step = step_;
      m.loss = report.loss;
      if (dp_.distributed()) m.loss = static_cast<float>(dp_.summed({share * report.loss})[0]);
      m.loss_parts = report.parts;
      m.rounds = rounds_;
      m.samples_total = samples_total_;
      m.buffer_size = buffer_.size();
      if (evaluate_ && run_.eval_every > 0 && step_ % run_.eval_every == 0 && dp_.is_main())
        m.eval = evaluate_(*policy_, step_);
      m.step_s = seconds(ts);
      m.elapsed_s = seconds(t0);
      metrics_.append(m.to_json());
      progress.update(m);
      if (step_hook_) step_hook_(m);
      if (!run_.output_dir.empty() && run_.checkpoint_every > 0 &&
          (step_ % run_.checkpoint_every == 0 || step_ == learner_.steps))
        save_checkpoint();
      summary.last = m;
    }
    progress.finish();
    summary.steps = step_;
    summary.samples = samples_total_;
    summary.seconds = seconds(t0);
    return summary;
  }

  /// Writes a checkpoint now (into output_dir/checkpoints). Throws rltf::invalid_argument
  /// without an output directory.
  void save_checkpoint() {
    if constexpr (checkpointable_buffer) {
      if (run_.output_dir.empty()) throw invalid_argument("OnlineTrainer::save_checkpoint: no output_dir");
      const auto root = run_.output_dir / "checkpoints";
      if (dp_.distributed()) {
        save_distributed_checkpoint(root);
        return;
      }
      const auto tmp = checkpoint::begin(root, step_);
      std::filesystem::create_directories(tmp / "policy");
      policy_->save_checkpoint(tmp / "policy");
      if (generator_) {
        std::filesystem::create_directories(tmp / "generator");
        generator_->save_checkpoint(tmp / "generator");
      }
      std::filesystem::create_directories(tmp / "objective");
      nlohmann::json state = trainer_state();
      state["objective"] = objective_.save(tmp / "objective");
      const auto cbor = nlohmann::json::to_cbor(buffer_.state());
      checkpoint::write_file_atomic(tmp / "buffer.cbor",
                                    std::string_view(reinterpret_cast<const char*>(cbor.data()), cbor.size()));
      checkpoint::write_file_atomic(tmp / "trainer.json", state.dump(1));
      checkpoint::commit(root, step_, run_.keep_checkpoints);
    } else {
      throw invalid_argument("OnlineTrainer::save_checkpoint: the buffer cannot be checkpointed");
    }
  }

  /// The options that shape the run's trajectory: rollout, learner (all but `steps`, so a finished
  /// run can be continued for longer) and the objective's options where it has `options()` that
  /// converts to JSON. A checkpoint records them, and a run resumes only from a checkpoint made
  /// with the same (rltf::parse_error naming the first option that differs, otherwise).
  [[nodiscard]] nlohmann::json configuration() const {
    nlohmann::json learner = learner_;
    learner.erase("steps");
    nlohmann::json j{{"rollout", rollout_}, {"learner", std::move(learner)}};
    if constexpr (requires(const Objective& o) { nlohmann::json(o.options()); })
      j["objective"] = nlohmann::json(objective_.options());
    return j;
  }

  /// Optimiser steps completed.
  [[nodiscard]] std::size_t step() const noexcept { return step_; }
  /// Rollout rounds completed.
  [[nodiscard]] std::uint64_t rounds() const noexcept { return rounds_; }
  [[nodiscard]] P& policy() noexcept { return *policy_; }
  [[nodiscard]] const Buf& buffer() const noexcept { return buffer_; }
  [[nodiscard]] const Objective& objective() const noexcept { return objective_; }
  [[nodiscard]] Objective& objective() noexcept { return objective_; }
  [[nodiscard]] const std::vector<Problem>& problems() const noexcept { return problems_; }
  /// The generator's weights: the learner's own (shared) or the synced copy.
  [[nodiscard]] P& generator() noexcept { return generator_ ? *generator_ : *policy_; }

private:
  using clock = std::chrono::steady_clock;
  static constexpr bool checkpointable_buffer = requires(Buf & b, const Buf& cb, const nlohmann::json& j) {
    { cb.state() } -> std::convertible_to<nlohmann::json>;
    b.load_state(j, std::string{});
  };

  static double seconds(clock::time_point since) { return std::chrono::duration<double>(clock::now() - since).count(); }

  /// Fresh start or resumption from the latest checkpoint.
  void start() {
    started_ = true;
    if (run_.output_dir.empty()) {
      reset();
      return;
    }
    std::filesystem::create_directories(run_.output_dir);
    const auto root = run_.output_dir / "checkpoints";
    const auto metrics_path = run_.output_dir / "metrics.jsonl";
    std::optional<std::filesystem::path> latest;
    if (run_.resume && checkpoint_every_enabled()) latest = checkpoint::latest(root);
    if (dp_.distributed()) {
      // Every rank must see the same checkpoint (a folder shared by the ranks) before rank 0
      // removes anything.
      const double found = dp_.summed({latest ? 1.0 : 0.0})[0];
      if (found != 0.0 && found != static_cast<double>(dp_.world_size))
        throw invalid_argument("OnlineTrainer: rank " + std::to_string(dp_.rank) + (latest ? " found" : " found no") +
                               " checkpoint under " + root.string() + " but " +
                               std::to_string(latest ? dp_.world_size - static_cast<std::size_t>(found)
                                                     : static_cast<std::size_t>(found)) +
                               " rank(s) did" + (latest ? " not" : "") +
                               ": the output folder must be one folder shared by every rank");
    }
    if (latest) {
      load_checkpoint(*latest);
      if (dp_.is_main()) metrics_.open(metrics_path, metrics_bytes_at_load_);
    } else {
      reset();
      if (dp_.is_main()) {
        std::filesystem::remove_all(root);
        metrics_.open(metrics_path, 0);
      }
    }
    dp_.wait_all();
  }

  [[nodiscard]] bool checkpoint_every_enabled() const noexcept { return run_.checkpoint_every > 0; }

  void reset() {
    rng_ = make_rng(run_.seed);
    local_rng_ = make_rng(run_.seed ^ (0x9E3779B97F4A7C15ULL * (static_cast<std::uint64_t>(dp_.rank) + 1)));
    step_ = 0;
    rounds_ = 0;
    samples_total_ = 0;
    order_.clear();
    cursor_ = 0;
  }

  /// A fingerprint of the problem list, so a checkpoint is not resumed on other problems.
  [[nodiscard]] std::string problems_fingerprint() const {
    std::uint64_t h = 1469598103934665603ULL;
    for (const auto& p : problems_) {
      for (char c : p.task_id) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
      for (char c : p.prompt) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
      h = (h ^ 0xFFU) * 1099511628211ULL;
    }
    return std::to_string(problems_.size()) + ":" + std::to_string(h);
  }

  [[nodiscard]] nlohmann::json trainer_state() const {
    std::ostringstream rng;
    rng << rng_;
    return nlohmann::json{{"format", "rltf.trainer"},
                          {"version", 1},
                          {"step", step_},
                          {"rounds", rounds_},
                          {"samples_total", samples_total_},
                          {"rng", rng.str()},
                          {"order", order_},
                          {"cursor", cursor_},
                          {"metrics_bytes", metrics_.bytes()},
                          {"seed", run_.seed},
                          {"world_size", dp_.world_size},
                          {"problems", problems_fingerprint()},
                          {"config", configuration()}};
  }

  void load_checkpoint(const std::filesystem::path& dir) {
    if constexpr (checkpointable_buffer) {
      const std::string file = (dir / "trainer.json").string();
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(checkpoint::read_file(dir / "trainer.json"));
      } catch (const nlohmann::json::exception& e) {
        throw parse_error(file, 0, "", e.what());
      }
      try {
        if (j.at("format") != "rltf.trainer" || j.at("version") != 1)
          throw parse_error(file, 0, "format", "not an rltf trainer checkpoint (version 1)");
        if (j.at("problems").get<std::string>() != problems_fingerprint())
          throw checkpoint_mismatch(file, 0, "problems", "the checkpoint was made for another list of problems");
        if (j.at("seed").get<std::uint64_t>() != run_.seed)
          throw checkpoint_mismatch(file, 0, "seed",
                                    "the checkpoint was made with seed " + j.at("seed").dump() +
                                        ", this run has seed " + std::to_string(run_.seed));
        // Checkpoints of version 1 written before the configuration was recorded have none.
        if (const auto it = j.find("config"); it != j.end())
          if (const auto d = rltf::train::detail::config_difference(*it, configuration()))
            throw checkpoint_mismatch(file, 0, "config." + d->path,
                                      "the checkpoint was made with " + d->was + ", this run has " + d->now +
                                          " (a run resumes only with the options it was made with)");
        const auto world = j.value("world_size", std::size_t{1});
        if (world != dp_.world_size)
          throw checkpoint_mismatch(file, 0, "world_size",
                                    "the checkpoint was made by " + std::to_string(world) + " rank(s), this run has " +
                                        std::to_string(dp_.world_size) +
                                        ": each rank's buffer, RNG and baselines (rank-R/) belong to one rank of that "
                                        "run, so it resumes only with " +
                                        std::to_string(world) + " rank(s) (torchrun --nproc-per-node " +
                                        std::to_string(world) + ")");
        const auto step = j.at("step").get<std::size_t>();
        if (step > learner_.steps)
          throw checkpoint_mismatch(file, 0, "step",
                                    "the checkpoint is at step " + std::to_string(step) + ", beyond this run's " +
                                        std::to_string(learner_.steps) + " steps");
        std::istringstream rng(j.at("rng").get<std::string>());
        Rng restored;
        rng >> restored;
        if (!rng) throw parse_error(file, 0, "rng", "malformed RNG state");
        rng_ = restored;
        step_ = step;
        rounds_ = j.at("rounds").get<std::uint64_t>();
        samples_total_ = j.at("samples_total").get<std::uint64_t>();
        order_ = j.at("order").get<std::vector<std::size_t>>();
        cursor_ = j.at("cursor").get<std::size_t>();
        for (auto i : order_)
          if (i >= problems_.size()) throw parse_error(file, 0, "order", "problem index out of range");
        if (cursor_ > order_.size()) throw parse_error(file, 0, "cursor", "beyond the problem order");
        metrics_bytes_at_load_ = j.at("metrics_bytes").get<std::uint64_t>();
      } catch (const nlohmann::json::exception& e) {
        throw parse_error(file, 0, "", e.what());
      }
      policy_->load_checkpoint(dir / "policy");
      if (generator_) generator_->load_checkpoint(dir / "generator");
      // A data-parallel checkpoint keeps each rank's buffer, RNG and objective state in rank-R/.
      const auto own = dp_.distributed() ? dir / rank_folder() : dir;
      nlohmann::json objective_state = j.at("objective");
      if (dp_.distributed()) {
        const std::string local_file = (own / "state.json").string();
        try {
          const nlohmann::json local = nlohmann::json::parse(checkpoint::read_file(own / "state.json"));
          std::istringstream rng(local.at("rng").get<std::string>());
          Rng restored;
          rng >> restored;
          if (!rng) throw parse_error(local_file, 0, "rng", "malformed RNG state");
          local_rng_ = restored;
          objective_state = local.at("objective");
        } catch (const nlohmann::json::exception& e) {
          throw parse_error(local_file, 0, "", e.what());
        }
      }
      const std::string cbor = checkpoint::read_file(own / "buffer.cbor");
      try {
        buffer_.load_state(nlohmann::json::from_cbor(cbor), (own / "buffer.cbor").string());
      } catch (const nlohmann::json::exception& e) {
        throw parse_error((own / "buffer.cbor").string(), 0, "", e.what());
      }
      objective_.load(own / "objective", objective_state);
    }
  }

  /// The next problem in the epoch order (a fresh shuffle at each epoch).
  std::size_t next_problem() {
    if (cursor_ >= order_.size()) {
      order_.resize(problems_.size());
      for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = i;
      rltf::detail::shuffle(order_, rng_);
      cursor_ = 0;
    }
    return order_[cursor_++];
  }

  /// One rollout round: generate, execute, reward, assign, push.
  void rollout_round(StepMetrics& m) {
    const auto t0 = clock::now();
    std::vector<std::size_t> chosen;
    for (std::size_t i = 0; i < rollout_.problems_per_round; ++i) chosen.push_back(next_problem());
    // Every rank draws the same order (rng_ only shuffles problems) and keeps its positions.
    if (dp_.distributed()) {
      std::vector<std::size_t> mine;
      for (std::size_t i = 0; i < chosen.size(); ++i)
        if (dp_.owns(i)) mine.push_back(chosen[i]);
      chosen = std::move(mine);
    }
    std::vector<std::string> prompts;
    prompts.reserve(chosen.size());
    for (auto i : chosen) prompts.push_back(problems_[i].prompt);
    P& gen = generator();
    // The generator's weights are the learner's (step_) or the copy synced at the last multiple
    // of sync_every.
    const std::uint64_t version = generator_ ? step_ / learner_.sync_every * learner_.sync_every : step_;
    const std::size_t n = rollout_.sampling.num_samples;
    std::vector<Sample> samples = gen.generate(prompts, rollout_.sampling, local_rng());
    if (samples.size() != chosen.size() * n)
      throw invalid_argument("OnlineTrainer: the policy returned " + std::to_string(samples.size()) + " samples for " +
                             std::to_string(chosen.size()) + " prompts × " + std::to_string(n));
    std::vector<Sample> greedy;
    if (rollout_.greedy_baseline) {
      SamplingConfig g = rollout_.sampling;
      g.greedy = true;
      g.num_samples = 1;
      greedy = gen.generate(prompts, g, local_rng());
      if (greedy.size() != chosen.size())
        throw invalid_argument("OnlineTrainer: the policy returned a wrong number of greedy decodes");
    }
    auto label = [&](Sample& s, std::size_t round_pos, bool is_greedy) {
      s.problem = chosen[round_pos];
      s.task_id = problems_[chosen[round_pos]].task_id;
      s.greedy = is_greedy;
    };
    for (std::size_t i = 0; i < samples.size(); ++i) label(samples[i], i / n, false);
    for (std::size_t i = 0; i < greedy.size(); ++i) label(greedy[i], i, true);
    m.generation_s += seconds(t0);
    const auto te = clock::now();
    // Execute every program of the round in one parallel batch.
    std::vector<Job> jobs;
    jobs.reserve(samples.size() + greedy.size());
    for (const auto* list : {&samples, &greedy})
      for (const auto& s : *list) {
        const Problem& p = problems_[s.problem];
        jobs.push_back(make_job(p, s.text, rollout_.limits));
      }
    const std::vector<ExecutionResult> results = executor_->run_all(std::span<const Job>(jobs));
    if (results.size() != jobs.size()) throw executor_error("OnlineTrainer: the executor lost results");
    auto make_rollout = [&](Sample&& s, const ExecutionResult& r) {
      Rollout out;
      const TokenOffsets offsets = completion_offsets(policy_->tokenizer(), s);
      const TokenRewards rewards = feedback_(s, r, offsets);
      out.outcome = r.outcome;
      out.passed = r.passed;
      out.total = r.total;
      out.reward = rewards.sequence;
      out.weights.assign(s.tokens.size(), 0.0F);
      for (std::size_t t = 0; t < std::min(out.weights.size(), rewards.token.size()); ++t)
        out.weights[t] = rewards.token[t];
      out.round = rounds_;
      out.version = version;
      out.sample = std::move(s);
      return out;
    };
    std::vector<Rollout> rollouts;
    rollouts.reserve(samples.size());
    for (std::size_t i = 0; i < samples.size(); ++i)
      rollouts.push_back(make_rollout(std::move(samples[i]), results[i]));
    std::vector<Rollout> greedy_rollouts;
    for (std::size_t i = 0; i < greedy.size(); ++i)
      greedy_rollouts.push_back(make_rollout(std::move(greedy[i]), results[samples.size() + i]));
    // Statistics before the objective rewrites the weights.
    m.round = true;
    m.samples = rollouts.size();
    double reward_sum = 0.0;
    std::size_t passed = 0;
    for (const auto& r : rollouts) {
      reward_sum += r.reward;
      passed += r.outcome == Outcome::pass;
      ++m.outcomes[static_cast<std::size_t>(r.outcome)];
    }
    std::size_t gp = 0;
    for (const auto& r : greedy_rollouts) gp += r.outcome == Outcome::pass;
    double count = static_cast<double>(rollouts.size()), greedy_count = static_cast<double>(greedy_rollouts.size());
    double pass_count = static_cast<double>(passed), greedy_pass = static_cast<double>(gp);
    if (dp_.distributed()) {
      // The round's statistics over every rank's share.
      std::vector<double> v{count, reward_sum, pass_count, greedy_count, greedy_pass};
      for (auto c : m.outcomes) v.push_back(static_cast<double>(c));
      dp_.sum(std::span<double>(v));
      count = v[0];
      reward_sum = v[1];
      pass_count = v[2];
      greedy_count = v[3];
      greedy_pass = v[4];
      for (std::size_t i = 0; i < m.outcomes.size(); ++i) m.outcomes[i] = static_cast<std::size_t>(v[5 + i]);
      m.samples = static_cast<std::size_t>(count);
    }
    m.reward_mean = static_cast<float>(reward_sum / count);
    m.pass_rate = static_cast<float>(pass_count / count);
    if (greedy_count > 0.0) m.greedy_pass_rate = static_cast<float>(greedy_pass / greedy_count);
    for (std::size_t i = 0; i < chosen.size(); ++i) {
      std::span<Rollout> group(rollouts.data() + i * n, n);
      const Rollout* g = greedy_rollouts.empty() ? nullptr : &greedy_rollouts[i];
      objective_.assign(group, g);
    }
    round_diagnostics(rollouts, n, m);
    if (rollout_.drop_zero_advantage_groups) {
      std::vector<Rollout> kept;
      kept.reserve(rollouts.size());
      for (std::size_t i = 0; i < chosen.size(); ++i) {
        const std::span<const Rollout> group(rollouts.data() + i * n, n);
        if (zero_advantage_group(group)) {
          ++m.groups_dropped;
          continue;
        }
        kept.insert(kept.end(), group.begin(), group.end());
      }
      rollouts = std::move(kept);
      if (dp_.distributed())
        m.groups_dropped = static_cast<std::size_t>(dp_.summed({static_cast<double>(m.groups_dropped)})[0]);
    }
    objective_.prepare(*policy_, std::span<Rollout>(rollouts));
    buffer_.push(std::span<const Rollout>(rollouts));
    m.execution_s += seconds(te);
    ++rounds_;
    samples_total_ += m.samples;
    const double secs = seconds(t0);
    m.samples_per_s = secs > 0.0 ? (static_cast<double>(m.samples) + greedy_count) / secs : 0.0;
  }

  /// The RNG of what each rank draws for itself (sampling, batches, the objective): the trainer's
  /// own for a single process; a per-rank stream, seeded from the seed and the rank, otherwise.
  Rng& local_rng() noexcept { return dp_.distributed() ? local_rng_ : rng_; }

  /// "rank-R", the folder of this rank's part of a data-parallel checkpoint.
  [[nodiscard]] std::string rank_folder() const { return "rank-" + std::to_string(dp_.rank); }

  /// Whether some rank's buffer is empty (a decision every rank takes together).
  [[nodiscard]] bool any_rank_empty() const {
    if (!dp_.distributed()) return buffer_.size() == 0;
    return dp_.summed({buffer_.size() == 0 ? 1.0 : 0.0})[0] > 0.0;
  }

  /// What the objective's loss divides by on `batch`: its completion tokens for a token-mean
  /// reduction, its samples for the per-sequence ones (or an objective without a known reduction).
  [[nodiscard]] double loss_normaliser(std::span<const Rollout> batch) const {
    bool per_token = false;
    if constexpr (requires(const Objective& o) {
                    { o.options().reduction } -> std::convertible_to<algo::Reduction>;
                  })
      per_token = objective_.options().reduction == algo::Reduction::token_mean;
    else if constexpr (requires(const Objective& o) {
                         { o.options().loss.reduction } -> std::convertible_to<algo::Reduction>;
                       })
      per_token = objective_.options().loss.reduction == algo::Reduction::token_mean;
    if (!per_token) return static_cast<double>(batch.size());
    double tokens = 0.0;
    for (const auto& r : batch) tokens += static_cast<double>(r.sample.tokens.size());
    return tokens;
  }

  /// A checkpoint of a data-parallel run: rank 0 begins it and writes the shared part (policy,
  /// trainer.json), every rank writes rank-R/ (its RNG, buffer and objective state), rank 0
  /// commits it once all have written.
  void save_distributed_checkpoint(const std::filesystem::path& root) {
    if constexpr (checkpointable_buffer) {
      const auto tmp = root / (checkpoint::name(step_) + ".tmp");
      if (dp_.is_main()) (void)checkpoint::begin(root, step_);
      dp_.wait_all();
      const auto own = tmp / rank_folder();
      std::filesystem::create_directories(own / "objective");
      std::ostringstream rng;
      rng << local_rng_;
      nlohmann::json local{{"rank", dp_.rank}, {"rng", rng.str()}};
      local["objective"] = objective_.save(own / "objective");
      const auto cbor = nlohmann::json::to_cbor(buffer_.state());
      checkpoint::write_file_atomic(own / "buffer.cbor",
                                    std::string_view(reinterpret_cast<const char*>(cbor.data()), cbor.size()));
      checkpoint::write_file_atomic(own / "state.json", local.dump(1));
      if (dp_.is_main()) {
        std::filesystem::create_directories(tmp / "policy");
        policy_->save_checkpoint(tmp / "policy");
        if (generator_) {
          std::filesystem::create_directories(tmp / "generator");
          generator_->save_checkpoint(tmp / "generator");
        }
        nlohmann::json state = trainer_state();
        state["objective"] = nullptr; // in rank-R/state.json
        checkpoint::write_file_atomic(tmp / "trainer.json", state.dump(1));
      }
      dp_.wait_all();
      if (dp_.is_main()) checkpoint::commit(root, step_, run_.keep_checkpoints);
      dp_.wait_all();
    }
  }

  P* policy_;
  E* executor_;
  F feedback_;
  std::vector<Problem> problems_;
  RolloutOptions rollout_;
  LearnerOptions learner_;
  RunOptions run_;
  Objective objective_;
  Buf buffer_;
  std::unique_ptr<P> generator_;
  std::function<nlohmann::json(P&, std::size_t)> evaluate_;
  std::function<void(const StepMetrics&)> step_hook_;
  std::ostream* progress_out_ = &std::cerr;
  MetricsLog metrics_;
  Rng rng_ = make_rng(0);
  Rng local_rng_ = make_rng(0);
  DataParallel dp_;
  std::size_t step_ = 0;
  std::uint64_t rounds_ = 0;
  std::uint64_t samples_total_ = 0;
  std::vector<std::size_t> order_;
  std::size_t cursor_ = 0;
  std::uint64_t metrics_bytes_at_load_ = 0;
  bool started_ = false;
};

} // namespace rltf
