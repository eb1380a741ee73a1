#pragma once
/// \file
/// Internals of rltf/torch/distributed.hpp: the rendezvous store, per-rank heartbeats and progress
/// marks in it, and the diagnosis that names the rank a failed collective waited for.
///
/// Every rank keeps two keys in the store: `rltf/hb/R`, a counter a background thread bumps
/// every heartbeat interval over its own store connection, and `rltf/seq/R`, the number of the
/// collective the rank is entering, set by the rank before each collective. When a collective
/// fails or times out, the survivor reads every rank's counter twice, a few heartbeat intervals
/// apart: a rank whose key is missing never joined; one whose counter did not move died or is
/// frozen; one whose counter moves but whose collective number is behind ours is alive but
/// stuck (or slower than the timeout). A store that cannot be reached means its host is gone.

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace rltf::detail {

/// Where the ranks meet.
struct StoreAddress {
  std::string host;
  std::uint16_t port = 0;
  bool server = false; ///< this process hosts the store (rank 0 without torchrun's agent store)
  std::size_t world_size = 1;
  std::chrono::milliseconds timeout{60000};
};

/// A TCPStore connection (or the server, when `server`).
inline c10::intrusive_ptr<c10d::TCPStore> connect_store(const StoreAddress& a, bool as_server) {
  c10d::TCPStoreOptions o;
  o.port = a.port;
  o.isServer = as_server;
  o.numWorkers = static_cast<std::size_t>(a.world_size);
  o.waitWorkers = false;
  o.timeout = a.timeout;
  return c10::make_intrusive<c10d::TCPStore>(a.host, o);
}

inline std::vector<std::uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }
inline std::string string_of(const std::vector<std::uint8_t>& b) { return {b.begin(), b.end()}; }

/// The key of rank `r`'s heartbeat counter and of its collective number.
inline std::string heartbeat_key(std::size_t r) { return "rltf/hb/" + std::to_string(r); }
inline std::string sequence_key(std::size_t r) { return "rltf/seq/" + std::to_string(r); }

/// Bumps `rltf/hb/<rank>` every `interval` over its own store connection until destroyed.
class Heartbeat {
public:
  Heartbeat(const StoreAddress& address, std::size_t rank, std::chrono::milliseconds interval)
      : store_(connect_store(address, false)), rank_(rank), interval_(interval) {
    beat();
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        const auto until = std::chrono::steady_clock::now() + interval_;
        while (!stop_.load() && std::chrono::steady_clock::now() < until)
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (stop_.load()) break;
        try {
          beat();
        } catch (const std::exception&) {
          break; // the store is gone: the collective that needs it reports that
        }
      }
    });
  }
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;
  ~Heartbeat() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

private:
  void beat() { store_->set(heartbeat_key(rank_), bytes_of(std::to_string(++count_))); }

  c10::intrusive_ptr<c10d::TCPStore> store_;
  std::size_t rank_;
  std::chrono::milliseconds interval_;
  std::uint64_t count_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

/// Which ranks a failed collective number `sequence` of rank `self` waited for, and why; see
/// the file comment. `store` is a connection of its own (not the heartbeat thread's).
inline std::string diagnose_ranks(c10d::Store& store, std::size_t self, std::size_t world, std::uint64_t sequence,
                                  std::chrono::milliseconds interval, const std::string& address) {
  try {
    auto read = [&] {
      std::vector<long long> beats(world, -1), seqs(world, -1);
      for (std::size_t r = 0; r < world; ++r) {
        if (store.check({heartbeat_key(r)})) beats[r] = std::stoll(string_of(store.get(heartbeat_key(r))));
        if (store.check({sequence_key(r)})) seqs[r] = std::stoll(string_of(store.get(sequence_key(r))));
      }
      return std::pair{beats, seqs};
    };
    const auto [before, seq_before] = read();
    std::this_thread::sleep_for(3 * interval + std::chrono::milliseconds(200));
    const auto [after, seq_after] = read();
    std::string out;
    auto add = [&](const std::string& s) { out += (out.empty() ? "" : "; ") + s; };
    const double silent_s = std::chrono::duration<double>(3 * interval + std::chrono::milliseconds(200)).count();
    for (std::size_t r = 0; r < world; ++r) {
      if (r == self) continue;
      const std::string name = "rank " + std::to_string(r);
      if (before[r] < 0) {
        add(name + " never joined (no heartbeat in the store)");
      } else if (before[r] == after[r]) {
        add(name + " stopped responding: no heartbeat for " + std::to_string(silent_s).substr(0, 3) +
            " s (the process died or is frozen)");
      } else if (seq_after[r] < static_cast<long long>(sequence)) {
        add(name + " is alive but has not reached collective #" + std::to_string(sequence) + " (it is at #" +
            std::to_string(seq_after[r]) + "): it hangs, or is slower than the timeout");
      }
    }
    return out.empty() ? "every other rank is alive and at collective #" + std::to_string(sequence) +
                             " (a network problem, or mismatched collectives)"
                       : out;
  } catch (const std::exception& e) {
    return "the rendezvous store at " + address + " cannot be reached (" + e.what() +
           "): its host is gone (rank 0, or torchrun's agent)";
  }
}

} // namespace rltf::detail
