#pragma once
/// \file
/// Data-parallel training on LibTorch's c10d (docs/distributed.md): a process group over a
/// TCPStore rendezvous and Gloo (NCCL where LibTorch has it), the bucketed gradient all-reduce
/// a CausalLMPolicy runs in step(), and rltf::make_data_parallel, which joins the two to the
/// online trainer's rltf::DataParallel.
///
/// Launch with `torchrun --no-python --nproc-per-node N <program> ...`: RankEnvironment::from_env()
/// reads RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT (and, under torchrun's
/// elastic agent, TORCHELASTIC_USE_AGENT_STORE: the agent then hosts the store and every rank
/// connects to it; otherwise rank 0 hosts it). A process without WORLD_SIZE is a single process
/// and needs none of it.
///
/// \code
/// const auto env = rltf::RankEnvironment::from_env();
/// auto group = std::make_shared<rltf::ProcessGroup>(env);         // every rank, same options
/// rltf::RltfTrainer trainer{policy, executor, feedback, problems, options};
/// trainer.set_data_parallel(rltf::make_data_parallel(group, policy));
/// trainer.train();
/// \endcode
///
/// A collective that fails (a peer died) or times out (DistributedOptions::timeout_s) throws
/// rltf::distributed_error naming the rank it waited for and why (rltf/torch/detail/c10d.hpp);
/// no rank waits forever.

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "rltf/core/error.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/torch/detail/c10d.hpp"
#include "rltf/train/data_parallel.hpp"

namespace rltf {

/// A collective failed or timed out; the message names the rank(s) it waited for.
class distributed_error : public error {
public:
  using error::error;
};

/// Options of a process group (JSON: rltf/core/options_json.hpp).
struct DistributedOptions {
  double timeout_s = 300.0;              ///< longest wait of a collective or of the rendezvous
  std::string backend = "gloo";          ///< "gloo" (CPU tensors), or "nccl" where LibTorch has NCCL
  std::size_t bucket_bytes = 25U << 20U; ///< gradients are all-reduced in buckets of about this size
  double heartbeat_s = 0.5;              ///< interval of each rank's heartbeat in the store
};
RLTF_OPTIONS_JSON(DistributedOptions, timeout_s, backend, bucket_bytes, heartbeat_s)

/// This process's place in a run, from torchrun's environment.
struct RankEnvironment {
  std::size_t rank = 0;
  std::size_t world_size = 1;
  std::size_t local_rank = 0;       ///< the rank on this node (which GPU, with NCCL)
  std::size_t local_world_size = 1; ///< ranks on this node (LOCAL_WORLD_SIZE; they share its cores)
  std::string master_addr;          ///< the store's host
  std::uint16_t master_port = 0;    ///< the store's port
  bool agent_store = false;         ///< torchrun's agent hosts the store (TORCHELASTIC_USE_AGENT_STORE=True)

  [[nodiscard]] bool distributed() const noexcept { return world_size > 1; }

  /// Reads RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT and TORCHELASTIC_USE_AGENT_STORE.
  /// Without WORLD_SIZE (or with WORLD_SIZE=1): a single process. Throws rltf::invalid_argument
  /// naming the variable that is missing or malformed.
  [[nodiscard]] static RankEnvironment from_env() {
    RankEnvironment env;
    const char* world = std::getenv("WORLD_SIZE");
    if (world == nullptr) return env;
    env.world_size = number("WORLD_SIZE", world, 1, 1U << 20U);
    env.rank = number("RANK", required("RANK"), 0, env.world_size - 1);
    const char* local = std::getenv("LOCAL_RANK");
    env.local_rank = local != nullptr ? number("LOCAL_RANK", local, 0, 1U << 20U) : env.rank;
    const char* local_world = std::getenv("LOCAL_WORLD_SIZE");
    env.local_world_size = local_world != nullptr ? number("LOCAL_WORLD_SIZE", local_world, 1, 1U << 20U) : 1;
    if (env.world_size == 1) return env;
    env.master_addr = required("MASTER_ADDR");
    if (env.master_addr.empty()) throw invalid_argument("MASTER_ADDR is empty: set it to the rendezvous host");
    env.master_port = static_cast<std::uint16_t>(number("MASTER_PORT", required("MASTER_PORT"), 1, 65535));
    const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
    env.agent_store = agent != nullptr && std::string(agent) == "True";
    return env;
  }

private:
  static const char* required(const char* name) {
    const char* v = std::getenv(name);
    if (v == nullptr)
      throw invalid_argument(std::string(name) + " is not set, but WORLD_SIZE is: launch with torchrun, or set " +
                             "RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT");
    return v;
  }
  static std::size_t number(const char* name, const char* text, std::size_t lo, std::size_t hi) {
    const std::string s(text);
    std::size_t value = 0;
    bool ok = !s.empty() && s.size() <= 9;
    for (char c : s) {
      ok = ok && c >= '0' && c <= '9';
      if (ok) value = value * 10 + static_cast<std::size_t>(c - '0');
    }
    if (!ok || value < lo || value > hi)
      throw invalid_argument(std::string(name) + "='" + s + "' is not an integer in [" + std::to_string(lo) + ", " +
                             std::to_string(hi) + "]");
    return value;
  }
};

/// A c10d process group of all ranks (Gloo; NCCL where built in), with timeouts and diagnosis.
class ProcessGroup {
public:
  /// Joins the run described by `env` (every rank calls this with the same options). Throws
  /// rltf::distributed_error when the rendezvous fails within the timeout (naming the ranks that
  /// never joined), rltf::invalid_argument for an unknown backend.
  explicit ProcessGroup(const RankEnvironment& env, DistributedOptions options = {})
      : env_(env), options_(std::move(options)) {
    if (options_.backend != "gloo" && options_.backend != "nccl")
      throw invalid_argument("DistributedOptions: backend must be gloo or nccl, got '" + options_.backend + "'");
#ifndef USE_C10D_NCCL
    if (options_.backend == "nccl")
      throw invalid_argument("DistributedOptions: backend nccl: this LibTorch was built without NCCL (Debian's "
                             "libtorch-dev is); use gloo");
#endif
    if (options_.timeout_s <= 0.0 || options_.heartbeat_s <= 0.0)
      throw invalid_argument("DistributedOptions: timeout_s and heartbeat_s must be positive");
    if (!env_.distributed()) return;
    address_.host = env_.master_addr;
    address_.port = env_.master_port;
    address_.world_size = env_.world_size;
    address_.timeout = milliseconds(options_.timeout_s);
    address_.server = env_.rank == 0 && !env_.agent_store;
    try {
      store_ = rltf::detail::connect_store(address_, address_.server);
    } catch (const std::exception& e) {
      throw distributed_error("rank " + std::to_string(env_.rank) + ": cannot reach the rendezvous store at " +
                              where() + ": " + e.what());
    }
    heartbeat_ = std::make_unique<rltf::detail::Heartbeat>(address_, env_.rank, milliseconds(options_.heartbeat_s));
    mark(0);
    try {
      auto prefixed = c10::make_intrusive<c10d::PrefixStore>("rltf/pg", store_);
      const auto rank = static_cast<int>(env_.rank), size = static_cast<int>(env_.world_size);
#ifdef USE_C10D_NCCL
      if (options_.backend == "nccl") {
        auto o = c10d::ProcessGroupNCCL::Options::create();
        o->timeout = address_.timeout;
        group_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, rank, size, o);
      }
#endif
      if (!group_) {
        auto o = c10d::ProcessGroupGloo::Options::create(address_.timeout);
        const bool loopback = env_.master_addr == "127.0.0.1" || env_.master_addr == "localhost";
        const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
        if (loopback)
          o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
        else if (ifname != nullptr)
          o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
        else
          o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
        group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, rank, size, o);
      }
    } catch (const std::exception& e) {
      throw distributed_error(failure("the rendezvous", 0, e.what()));
    }
  }

  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;
  ~ProcessGroup() = default;

  [[nodiscard]] std::size_t rank() const noexcept { return env_.rank; }
  [[nodiscard]] std::size_t world_size() const noexcept { return env_.world_size; }
  [[nodiscard]] const RankEnvironment& environment() const noexcept { return env_; }
  [[nodiscard]] const DistributedOptions& options() const noexcept { return options_; }
  /// Seconds spent in collectives so far (waiting for the slowest rank included), and how many.
  [[nodiscard]] double communication_seconds() const noexcept { return comm_s_; }
  [[nodiscard]] std::uint64_t collectives() const noexcept { return sequence_; }

  /// Sums `tensors` over all ranks, in place.
  void all_reduce(std::vector<torch::Tensor>& tensors) {
    if (!env_.distributed()) return;
    run("all-reduce", [&] { return group_->allreduce(tensors); });
  }
  /// Sums `values` over all ranks, in place.
  void all_reduce(std::span<double> values) {
    if (!env_.distributed() || values.empty()) return;
    std::vector<torch::Tensor> t{
        torch::from_blob(values.data(), {static_cast<std::int64_t>(values.size())}, torch::kFloat64).clone()};
    all_reduce(t);
    std::copy_n(t[0].data_ptr<double>(), values.size(), values.data());
  }
  /// Replaces `tensors` on every rank by those of `root`.
  void broadcast(std::vector<torch::Tensor>& tensors, std::size_t root = 0) {
    if (!env_.distributed()) return;
    c10d::BroadcastOptions o;
    o.rootRank = static_cast<std::int64_t>(root);
    run("broadcast", [&] { return group_->broadcast(tensors, o); });
  }
  /// Returns when every rank has called it.
  void barrier() {
    if (!env_.distributed()) return;
    // Gloo's barrier is an all-reduce of one element; done as such it shares the timeout logic.
    std::vector<torch::Tensor> t{torch::zeros({1})};
    run("barrier", [&] { return group_->allreduce(t); });
  }

private:
  static std::chrono::milliseconds milliseconds(double s) {
    return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000.0));
  }
  [[nodiscard]] std::string where() const { return address_.host + ":" + std::to_string(address_.port); }

  void mark(std::uint64_t sequence) {
    store_->set(rltf::detail::sequence_key(env_.rank), rltf::detail::bytes_of(std::to_string(sequence)));
  }

  template <class Start>
  void run(const char* what, Start&& start) {
    const std::uint64_t sequence = ++sequence_;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      mark(sequence);
      auto work = start();
      work->wait();
    } catch (const std::exception& e) {
      throw distributed_error(failure(std::string(what) + " #" + std::to_string(sequence), sequence, e.what()));
    }
    comm_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  [[nodiscard]] std::string failure(const std::string& what, std::uint64_t sequence, const std::string& cause) {
    std::string first = cause.substr(0, cause.find('\n'));
    if (first.size() > 300) first = first.substr(0, 300) + "...";
    const std::string diagnosis = rltf::detail::diagnose_ranks(*store_, env_.rank, env_.world_size, sequence,
                                                               milliseconds(options_.heartbeat_s), where());
    return "rank " + std::to_string(env_.rank) + " of " + std::to_string(env_.world_size) + ": " + what +
           " failed: " + diagnosis + " [c10d: " + first + "]";
  }

  RankEnvironment env_;
  DistributedOptions options_;
  rltf::detail::StoreAddress address_;
  c10::intrusive_ptr<c10d::TCPStore> store_;
  std::unique_ptr<rltf::detail::Heartbeat> heartbeat_;
  c10::intrusive_ptr<c10d::ProcessGroup> group_;
  std::uint64_t sequence_ = 0;
  double comm_s_ = 0.0;
};

/// Sums the parameters' gradients over all ranks in buckets of about `bucket_bytes` (one flat
/// tensor per bucket and dtype), each rank's gradient scaled by its share of the loss normaliser
/// first (set_share; 1/world_size unless set), so the result is the gradient of the global loss.
/// A parameter without a gradient gets zeros (every rank must reduce the same tensors).
class GradientAllReducer {
public:
  explicit GradientAllReducer(std::shared_ptr<ProcessGroup> group)
      : group_(std::move(group)), share_(1.0 / static_cast<double>(group_->world_size())) {}

  /// This rank's share of the global normaliser for the next reductions.
  void set_share(double share) noexcept { share_ = share; }
  [[nodiscard]] double share() const noexcept { return share_; }
  /// Seconds spent all-reducing gradients (flattening and copying back included).
  [[nodiscard]] double seconds() const noexcept { return seconds_; }

  void operator()(std::vector<torch::Tensor>& parameters) {
    if (group_->world_size() <= 1) return;
    const auto t0 = std::chrono::steady_clock::now();
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> grads;
    for (auto& p : parameters) {
      if (!p.requires_grad()) continue;
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      grads.push_back(p.grad());
    }
    const std::size_t limit = std::max<std::size_t>(group_->options().bucket_bytes, 1);
    std::size_t begin = 0;
    while (begin < grads.size()) {
      std::size_t end = begin, bytes = 0;
      while (end < grads.size() && grads[end].scalar_type() == grads[begin].scalar_type() &&
             grads[end].device() == grads[begin].device() && (end == begin || bytes < limit)) {
        bytes += static_cast<std::size_t>(grads[end].numel()) * grads[end].element_size();
        ++end;
      }
      std::vector<torch::Tensor> flat_parts;
      for (std::size_t i = begin; i < end; ++i) flat_parts.push_back(grads[i].reshape({-1}));
      std::vector<torch::Tensor> bucket{torch::cat(flat_parts).mul_(share_)};
      group_->all_reduce(bucket);
      std::int64_t offset = 0;
      for (std::size_t i = begin; i < end; ++i) {
        const auto n = grads[i].numel();
        grads[i].copy_(bucket[0].narrow(0, offset, n).view_as(grads[i]));
        offset += n;
      }
      begin = end;
    }
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

private:
  std::shared_ptr<ProcessGroup> group_;
  double share_;
  double seconds_ = 0.0;
};

/// Replaces `parameters` on every rank by rank 0's (one flat tensor per dtype and device).
inline void broadcast_parameters(ProcessGroup& group, const std::vector<torch::Tensor>& parameters) {
  if (group.world_size() <= 1 || parameters.empty()) return;
  torch::NoGradGuard no_grad;
  std::size_t begin = 0;
  while (begin < parameters.size()) {
    std::size_t end = begin;
    while (end < parameters.size() && parameters[end].scalar_type() == parameters[begin].scalar_type() &&
           parameters[end].device() == parameters[begin].device())
      ++end;
    std::vector<torch::Tensor> parts;
    for (std::size_t i = begin; i < end; ++i) parts.push_back(parameters[i].detach().reshape({-1}));
    std::vector<torch::Tensor> flat{torch::cat(parts)};
    group.broadcast(flat, 0);
    std::int64_t offset = 0;
    for (std::size_t i = begin; i < end; ++i) {
      auto p = parameters[i].detach();
      p.copy_(flat[0].narrow(0, offset, p.numel()).view_as(p));
      offset += p.numel();
    }
    begin = end;
  }
}

/// The trainer's view of `group` for `policy`: copies rank 0's weights to every rank, installs
/// a GradientAllReducer as the policy's gradient reducer (returned through `reducer`, when given,
/// e.g. for its timing), and returns the DataParallel to pass to OnlineTrainer::set_data_parallel.
/// With one rank, it changes nothing and returns a single-process DataParallel.
template <class Policy>
requires requires(Policy& p, std::function<void(std::vector<torch::Tensor>&)> f) {
  p.set_gradient_reducer(f);
  { p.parameters() } -> std::convertible_to<std::vector<torch::Tensor>>;
}
[[nodiscard]] DataParallel make_data_parallel(const std::shared_ptr<ProcessGroup>& group, Policy& policy,
                                              std::shared_ptr<GradientAllReducer>* reducer = nullptr) {
  DataParallel dp;
  dp.rank = group->rank();
  dp.world_size = group->world_size();
  if (!dp.distributed()) return dp;
  broadcast_parameters(*group, policy.parameters());
  auto r = std::make_shared<GradientAllReducer>(group);
  policy.set_gradient_reducer([r](std::vector<torch::Tensor>& params) { (*r)(params); });
  dp.all_reduce_sum = [group](std::span<double> v) { group->all_reduce(v); };
  dp.barrier = [group] { group->barrier(); };
  dp.set_gradient_share = [r](double share) { r->set_share(share); };
  if (reducer != nullptr) *reducer = r;
  return dp;
}

} // namespace rltf
