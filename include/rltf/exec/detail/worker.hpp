#pragma once
/// \file
/// One warm Python worker process of rltf::PythonExecutor: started with Boost.Process, spoken to
/// with length-prefixed JSON frames over two pipes by blocking reads and writes from one C++ thread.
/// Internal; see rltf/exec/python_executor.hpp.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/env.hpp>
#include <boost/process/environment.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/posix.hpp>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/exec/detail/worker_script.hpp"

namespace rltf::exec::detail {

/// The worker stopped answering (it died, closed its pipe, or overran its deadline).
struct WorkerLost {
  std::string why;
};

/// An owned file descriptor.
class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  [[nodiscard]] int get() const noexcept { return fd_; }

private:
  int fd_ = -1;
};

/// A pipe whose both ends are close-on-exec (so no other worker inherits them).
inline std::pair<Fd, Fd> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw executor_error(std::string("rltf::PythonExecutor: pipe2 failed: ") + std::strerror(errno));
  return {Fd(fds[0]), Fd(fds[1])};
}

/// Writes all of `data`, with SIGPIPE blocked in this thread so that a dead worker is an error code
/// (EPIPE), not a signal that kills the host process; any SIGPIPE it raised is consumed.
inline bool write_all(int fd, const char* data, std::size_t size) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  bool ok = true;
  bool epipe = false;
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      epipe = errno == EPIPE;
      ok = false;
      break;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  if (epipe) {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE)) {
      const timespec zero{0, 0};
      sigtimedwait(&block, nullptr, &zero);
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return ok;
}

/// Reads exactly `size` bytes before `deadline`; false on EOF, error or timeout (`timed_out` says which).
inline bool read_all(int fd, char* data, std::size_t size, std::chrono::steady_clock::time_point deadline,
                     bool& timed_out) {
  timed_out = false;
  while (size > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      return false;
    }
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count() + 1, 1 << 30)));
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (r == 0) continue;
    const ssize_t n = ::read(fd, data, size);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    if (n == 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

/// Settings a worker is started with.
struct WorkerConfig {
  std::string python;
  std::string config_json; ///< passed to the script as argv[1]
  double start_timeout_s = 60.0;
};

/// A running worker. Not thread-safe: one thread talks to it at a time.
class Worker {
public:
  explicit Worker(const WorkerConfig& cfg) { start(cfg); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() { stop(); }

  /// Sends one job and waits for its result until `timeout_s` seconds have passed.
  /// Throws WorkerLost when the worker died or did not answer in time.
  nlohmann::json call(const std::string& payload, double timeout_s) {
    if (!alive_) throw WorkerLost{"the worker is not running"};
    std::string frame(4, '\0');
    const auto n = static_cast<std::uint32_t>(payload.size());
    frame[0] = static_cast<char>((n >> 24) & 0xFF);
    frame[1] = static_cast<char>((n >> 16) & 0xFF);
    frame[2] = static_cast<char>((n >> 8) & 0xFF);
    frame[3] = static_cast<char>(n & 0xFF);
    frame += payload;
    if (!write_all(to_.get(), frame.data(), frame.size())) {
      kill();
      throw WorkerLost{"the worker closed its input"};
    }
    return receive(std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000.0)));
  }

  /// The worker's hello message (pid, network isolation, privilege drop).
  [[nodiscard]] const nlohmann::json& hello() const noexcept { return hello_; }
  [[nodiscard]] int pid() const noexcept { return pid_; }
  [[nodiscard]] bool alive() const noexcept { return alive_; }

  /// Kills the worker (SIGKILL) and reaps it. Its current child dies with it (PR_SET_PDEATHSIG).
  void kill() noexcept {
    if (!alive_) return;
    alive_ = false;
    std::error_code ec;
    ::kill(pid_, SIGKILL);
    child_.wait(ec);
    to_.reset();
    from_.reset();
    remove_base();
  }

  /// Asks the worker to exit by closing its input, then makes sure it is gone.
  void stop() noexcept {
    if (!alive_) return;
    to_.reset();
    // The worker exits at EOF once its current job (if any) is done; do not wait for long.
    for (int i = 0; i < 200; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        alive_ = false;
        from_.reset();
        child_.detach();
        remove_base();
        return;
      }
      ::usleep(1000);
    }
    kill();
  }

private:
  /// Removes the worker's folder of working directories (the worker does so itself when it exits
  /// normally; not when it was killed).
  void remove_base() noexcept {
    const auto it = hello_.find("base");
    if (it == hello_.end() || !it->is_string()) return;
    std::error_code ec;
    std::filesystem::remove_all(it->get<std::string>(), ec);
    // The worker's cgroup (an empty directory once its processes are gone; rmdir is all it takes).
    if (const auto cg = hello_.find("cgroup"); cg != hello_.end() && cg->is_string() && !cg->get<std::string>().empty())
      std::filesystem::remove(cg->get<std::string>(), ec);
  }

  void start(const WorkerConfig& cfg) {
    namespace bp = boost::process;
    auto [in_r, in_w] = make_pipe();
    auto [out_r, out_w] = make_pipe();
    bp::environment env;
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
    env["LANG"] = "C.UTF-8";
    env["LC_ALL"] = "C.UTF-8";
    env["HOME"] = "/nonexistent";
    env["OMP_NUM_THREADS"] = "1";
    env["OPENBLAS_NUM_THREADS"] = "1";
    env["MKL_NUM_THREADS"] = "1";
    std::error_code ec;
    child_ =
        bp::child(bp::exe = cfg.python,
                  bp::args = std::vector<std::string>{"-I", "-u", "-c", std::string(worker_script), cfg.config_json},
                  env, bp::posix::fd.bind(0, in_r.get()), bp::posix::fd.bind(1, out_w.get()), ec);
    if (ec)
      throw executor_error("rltf::PythonExecutor: cannot start the Python interpreter '" + cfg.python +
                           "': " + ec.message());
    pid_ = child_.id();
    alive_ = true;
    to_ = std::move(in_w);
    from_ = std::move(out_r);
    in_r.reset();
    out_w.reset();
    try {
      hello_ = receive(std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(static_cast<std::int64_t>(cfg.start_timeout_s * 1000.0)));
    } catch (const WorkerLost& lost) {
      throw executor_error("rltf::PythonExecutor: the Python worker '" + cfg.python + "' did not start: " + lost.why);
    }
    if (!hello_.is_object() || !hello_.value("hello", false))
      throw executor_error("rltf::PythonExecutor: the Python worker sent an unexpected greeting");
  }

  nlohmann::json receive(std::chrono::steady_clock::time_point deadline) {
    char header[4];
    bool timed_out = false;
    if (!read_all(from_.get(), header, 4, deadline, timed_out)) {
      kill();
      throw WorkerLost{timed_out ? "the worker did not answer in time" : "the worker died"};
    }
    const std::uint32_t n = (static_cast<std::uint32_t>(static_cast<unsigned char>(header[0])) << 24) |
                            (static_cast<std::uint32_t>(static_cast<unsigned char>(header[1])) << 16) |
                            (static_cast<std::uint32_t>(static_cast<unsigned char>(header[2])) << 8) |
                            static_cast<std::uint32_t>(static_cast<unsigned char>(header[3]));
    std::string body(n, '\0');
    if (!read_all(from_.get(), body.data(), n, deadline, timed_out)) {
      kill();
      throw WorkerLost{timed_out ? "the worker did not answer in time" : "the worker died mid-answer"};
    }
    try {
      return nlohmann::json::parse(body);
    } catch (const nlohmann::json::exception& e) {
      kill();
      throw WorkerLost{std::string("the worker sent malformed JSON: ") + e.what()};
    }
  }

  boost::process::child child_;
  Fd to_;
  Fd from_;
  nlohmann::json hello_;
  int pid_ = -1;
  bool alive_ = false;
};

} // namespace rltf::exec::detail
