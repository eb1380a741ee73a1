#pragma once
/// \file
/// rltf::DataParallel — what the online trainer needs from a data-parallel process group
/// (docs/distributed.md), without depending on any communication library: this process's rank,
/// the number of ranks, a sum of a few doubles over all ranks, a barrier, and a way to tell the
/// policy's gradient all-reduce this rank's share of the global loss normaliser.
///
/// A default-constructed DataParallel is a single process (rank 0 of 1; every operation is the
/// identity). rltf::make_data_parallel (rltf/torch/distributed.hpp) builds one over LibTorch's
/// c10d and installs the gradient all-reduce on a LibTorch policy.
///
/// How the trainer uses it (OnlineTrainer::set_data_parallel): position i of a round's problem
/// list belongs to rank i % world_size, which samples, executes and groups all of that problem's
/// samples (so group statistics — GRPO's mean and standard deviation, RLOO's leave-one-out,
/// RLTF's baselines — never need another rank); every rank draws its share of the learner
/// batch from its own buffer; the loss is normalised by the global sample or token count (the
/// ranks' counts are summed first), so that W ranks with B/W samples each take the same step as
/// one process with the B samples; metrics are summed over ranks and only rank 0 writes them.

#include <cstddef>
#include <functional>
#include <span>
#include <vector>

namespace rltf {

/// A data-parallel process group as the trainer sees it; see the file comment.
struct DataParallel {
  std::size_t rank = 0;       ///< this process, in [0, world_size)
  std::size_t world_size = 1; ///< number of processes
  /// Replaces every value by its sum over all ranks (empty: single process, the identity).
  std::function<void(std::span<double>)> all_reduce_sum;
  /// Returns when every rank has called it (empty: single process).
  std::function<void()> barrier;
  /// This rank's share of the global loss normaliser (its sample or token count over the sum of
  /// all ranks'): the gradient all-reduce scales this rank's gradient by it before summing
  /// (empty: the policy averages the gradients, a share of 1/world_size).
  std::function<void(double)> set_gradient_share;

  /// More than one rank.
  [[nodiscard]] bool distributed() const noexcept { return world_size > 1; }
  /// Rank 0: the one that writes logs, metrics and the shared part of checkpoints.
  [[nodiscard]] bool is_main() const noexcept { return rank == 0; }

  /// Sums `values` over all ranks, in place.
  void sum(std::span<double> values) const {
    if (distributed() && all_reduce_sum) all_reduce_sum(values);
  }
  /// Sums `values` over all ranks and returns them.
  [[nodiscard]] std::vector<double> summed(std::vector<double> values) const {
    sum(std::span<double>(values));
    return values;
  }
  /// Waits for every rank.
  void wait_all() const {
    if (distributed() && barrier) barrier();
  }
  /// Whether position `i` of a round's problem list belongs to this rank.
  [[nodiscard]] bool owns(std::size_t i) const noexcept { return i % world_size == rank; }
  /// This rank's share of `total` items dealt round-robin: total / W, plus one for the first
  /// total % W ranks.
  [[nodiscard]] std::size_t share(std::size_t total) const noexcept {
    return total / world_size + (rank < total % world_size ? 1 : 0);
  }
};

} // namespace rltf
