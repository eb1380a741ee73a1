#pragma once
/// \file
/// rltf::PythonExecutor — runs untrusted Python 3 programs against unit tests, fast and sandboxed.
///
/// ```cpp
/// rltf::PythonExecutor ex{rltf::PythonExecutorOptions{.python = "/usr/bin/python3", .workers = 0}};
/// rltf::ExecutionResult r = ex.run(program, problem.tests, rltf::Limits{.test_timeout_s = 3.0});
/// std::vector<rltf::ExecutionResult> rs = ex.run_all(jobs); // in submission order, on every worker
/// ```
///
/// How it works (docs/executor.md): `workers` warm Python worker processes (started with Boost.Process,
/// `-I -u`, common modules pre-imported, each in its own network namespace when the kernel allows)
/// wait for jobs on a pipe. The worker is the trusted side: it runs the tests, holds the expected
/// values and makes every comparison. The program runs in a separate candidate process, forked per
/// job by a zygote that was forked from the worker before it read any job (so no test data is ever
/// in a candidate's memory), in a sandbox: setsid(), RLIMIT_AS/CPU/NPROC/FSIZE/CORE, a fresh private
/// working directory, uid/gid `nobody` when the executor runs as root, and, where the kernel allows,
/// a read-only view of the host (mount namespace), a private PID namespace and a seccomp filter.
/// The tests call the program's functions through proxies, over a channel that carries plain data
/// only; exceptions come back as class, message and line, arguments changed in place come back.
/// The worker enforces the per-test and per-program wall-clock limits by killing the candidate, and
/// the zygote kills and reaps every leftover descendant. One C++ thread per worker does blocking
/// I/O; a worker that dies or hangs is replaced and every job still gets exactly one result.
///
/// Classification (docs/executor.md): an exception whose traceback has a frame in the program's own file is
/// a runtime error of the program at the innermost such line (TestStatus::error); an AssertionError
/// raised by the test's own code is a failure (TestStatus::failed), as is a call that returned a
/// non-data object (NonDataError); other exceptions raised by test code are errors without a line.
/// A program's outcome is decided by its worst test: timeout > runtime_error > failure > pass.
///
/// Limitations: see docs/executor.md#threat-model.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/core/execution_result.hpp"
#include "rltf/core/outcome.hpp"
#include "rltf/core/problem.hpp"
#include "rltf/exec/detail/worker.hpp"
#include "rltf/exec/executor.hpp"
#include "rltf/exec/job.hpp"
#include "rltf/exec/line_map.hpp"

namespace rltf {

/// How a PythonExecutor is set up.
struct PythonExecutorOptions {
  /// Interpreter, by absolute path. Never run with -O: tests are asserts.
  std::string python = "/usr/bin/python3";
  /// Number of worker processes; 0 means std::thread::hardware_concurrency().
  std::size_t workers = 0;
  /// Modules imported once by every worker, so children start with them loaded. numpy is left out on
  /// purpose: OpenBLAS's fork handlers make every fork about 3 ms slower (programs import it as usual).
  std::vector<std::string> preload = {"math",      "re",      "collections", "itertools",   "functools", "heapq",
                                      "bisect",    "string",  "typing",      "random",      "copy",      "operator",
                                      "fractions", "decimal", "statistics",  "datetime",    "json",      "hashlib",
                                      "array",     "cmath",   "numbers",     "dataclasses", "textwrap",  "unicodedata"};
  /// Where private working directories are created. Empty means /dev/shm when it is a writable
  /// directory (tmpfs: creating and removing a directory there costs microseconds, on a disk-backed
  /// /tmp it can cost milliseconds per program), else the system temporary directory.
  std::string temp_root = {};
  /// Run children in a new network namespace where the kernel allows (ExecutionResult::network_isolated).
  bool isolate_network = true;
  /// When the executor runs as root: children see the host read-only, with a private writable
  /// working directory, in a mount namespace of each worker's (ExecutionResult::filesystem_isolated).
  bool isolate_filesystem = true;
  /// When the executor runs as root: children run in a PID namespace of each worker's
  /// (ExecutionResult::pid_isolated).
  bool isolate_pids = true;
  /// A seccomp filter against the calls a test program never needs (ExecutionResult::seccomp_filtered).
  bool seccomp = true;
  /// A cgroup v2 per worker limiting memory and processes, where a writable cgroup v2 hierarchy
  /// offers both controllers (ExecutionResult::cgroup_limited).
  bool cgroup = true;
  /// When the executor runs as root, children run as sandbox_uid/sandbox_gid (root ignores
  /// RLIMIT_NPROC, and `nobody` cannot signal the root-owned workers).
  bool drop_privileges = true;
  unsigned sandbox_uid = 65534;
  unsigned sandbox_gid = 65534;
  /// Seconds a worker may take to start (import the preloaded modules, answer).
  double start_timeout_s = 60.0;
  /// Seconds, beyond a job's program_timeout_s, before a silent worker is declared hung and replaced.
  double answer_grace_s = 5.0;
};

/// Runs Python programs against TestSuites in warm, sandboxed worker processes. Thread-safe: several
/// threads may call run/run_all at once (each call uses the workers that are free).
class PythonExecutor {
public:
  /// Called by run_all as each job finishes: the job's index and its result (from worker threads,
  /// one call at a time).
  using ResultCallback = std::function<void(std::size_t, const ExecutionResult&)>;

  /// Starts the workers. Throws rltf::executor_error when the interpreter cannot be started, and
  /// rltf::invalid_argument for a relative interpreter path.
  explicit PythonExecutor(PythonExecutorOptions options = {}) : options_(std::move(options)) {
    if (options_.python.empty() || options_.python.front() != '/')
      throw invalid_argument("rltf::PythonExecutorOptions: python must be an absolute path, got '" + options_.python +
                             "'");
    if (!std::filesystem::exists(options_.python))
      throw executor_error("rltf::PythonExecutor: the interpreter '" + options_.python + "' does not exist");
    std::size_t n = options_.workers;
    if (n == 0) n = std::max(1U, std::thread::hardware_concurrency());
    config_.python = options_.python;
    config_.start_timeout_s = options_.start_timeout_s;
    std::string temp_root = options_.temp_root;
    if (temp_root.empty()) {
      std::error_code ec;
      if (std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK | X_OK) == 0)
        temp_root = "/dev/shm";
      else
        temp_root = std::filesystem::temp_directory_path().string();
    }
    if (!std::filesystem::is_directory(temp_root))
      throw invalid_argument("rltf::PythonExecutorOptions: temp_root '" + temp_root + "' is not a directory");
    nlohmann::json cfg{{"preload", options_.preload},
                       {"isolate_network", options_.isolate_network},
                       {"isolate_filesystem", options_.isolate_filesystem},
                       {"isolate_pids", options_.isolate_pids},
                       {"seccomp", options_.seccomp},
                       {"cgroup", options_.cgroup},
                       {"drop_privileges", options_.drop_privileges},
                       {"uid", options_.sandbox_uid},
                       {"gid", options_.sandbox_gid},
                       {"temp_root", temp_root},
                       {"program_file", program_file}};
    config_.config_json = cfg.dump();
    slots_.resize(n);
    // Start the workers in parallel: each imports its modules and sets up its namespace.
    std::vector<std::exception_ptr> errors(n);
    {
      std::vector<std::thread> starters;
      starters.reserve(n);
      for (std::size_t i = 0; i < n; ++i)
        starters.emplace_back([this, i, &errors] {
          try {
            slots_[i] = std::make_unique<exec::detail::Worker>(config_);
          } catch (...) {
            errors[i] = std::current_exception();
          }
        });
      for (auto& t : starters) t.join();
    }
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
    network_isolated_ = slots_.front()->hello().value("net", false);
    privileges_dropped_ = slots_.front()->hello().value("drop", false);
    if (const auto it = slots_.front()->hello().find("iso"); it != slots_.front()->hello().end()) iso_ = *it;
    for (std::size_t i = 0; i < n; ++i) idle_.push_back(i);
  }

  PythonExecutor(const PythonExecutor&) = delete;
  PythonExecutor& operator=(const PythonExecutor&) = delete;

  /// Stops the workers (they exit at end of input; stragglers are killed).
  ~PythonExecutor() = default;

  /// Runs one program against its tests.
  [[nodiscard]] ExecutionResult run(const Program& program, const TestSuite& tests, const Limits& limits = {}) {
    validate_job(tests, limits);
    const std::string payload = encode(program, tests, limits);
    lease lease(*this);
    return execute(lease.slot, payload, program, tests, limits);
  }

  /// Runs every job on all workers; results in submission order, exactly one per job.
  [[nodiscard]] std::vector<ExecutionResult> run_all(std::span<const Job> jobs) { return run_all(jobs, {}); }

  /// As run_all(jobs), calling `on_result(index, result)` as each job finishes (for progress bars).
  [[nodiscard]] std::vector<ExecutionResult> run_all(std::span<const Job> jobs, const ResultCallback& on_result) {
    for (const auto& job : jobs) validate_job(job.tests, job.limits);
    std::vector<ExecutionResult> results(jobs.size());
    if (jobs.empty()) return results;
    std::atomic<std::size_t> next{0};
    std::mutex callback_mutex;
    std::exception_ptr failure;
    std::mutex failure_mutex;
    auto work = [&] {
      try {
        lease lease(*this);
        while (true) {
          const std::size_t i = next.fetch_add(1);
          if (i >= jobs.size()) break;
          const Job& job = jobs[i];
          results[i] =
              execute(lease.slot, encode(job.program, job.tests, job.limits), job.program, job.tests, job.limits);
          if (on_result) {
            std::lock_guard<std::mutex> guard(callback_mutex);
            on_result(i, results[i]);
          }
        }
      } catch (...) {
        std::lock_guard<std::mutex> guard(failure_mutex);
        if (!failure) failure = std::current_exception();
        next.store(jobs.size());
      }
    };
    const std::size_t threads = std::min(slots_.size(), jobs.size());
    if (threads <= 1) {
      work();
    } else {
      std::vector<std::thread> pool;
      pool.reserve(threads);
      for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(work);
      for (auto& t : pool) t.join();
    }
    if (failure) std::rethrow_exception(failure);
    return results;
  }

  /// Number of worker processes.
  [[nodiscard]] std::size_t workers() const noexcept { return slots_.size(); }
  /// True when children run in their own network namespace (no network).
  [[nodiscard]] bool network_isolated() const noexcept { return network_isolated_; }
  /// What else isolates the children (as ExecutionResult reports it): read-only host file systems,
  /// a private PID namespace, the seccomp filter, the cgroup limits.
  [[nodiscard]] bool filesystem_isolated() const { return iso("mount"); }
  [[nodiscard]] bool pid_isolated() const { return iso("pid"); }
  [[nodiscard]] bool seccomp_filtered() const { return iso("seccomp"); }
  [[nodiscard]] bool cgroup_limited() const { return iso("cgroup"); }
  /// True when children run as the unprivileged sandbox user.
  [[nodiscard]] bool privileges_dropped() const noexcept { return privileges_dropped_; }
  /// Number of workers replaced after dying or hanging.
  [[nodiscard]] std::size_t restarts() const noexcept { return restarts_.load(); }
  /// Process ids of the current workers (for tests and monitoring).
  [[nodiscard]] std::vector<int> worker_pids() const {
    std::lock_guard<std::mutex> guard(mutex_);
    std::vector<int> pids;
    for (const auto& s : slots_)
      if (s && s->alive()) pids.push_back(s->pid());
    return pids;
  }
  /// Process ids of the workers' zygotes (one, or two with a PID namespace, per worker): the only
  /// other processes an idle executor has (for tests and monitoring).
  [[nodiscard]] std::vector<int> helper_pids() const {
    std::lock_guard<std::mutex> guard(mutex_);
    std::vector<int> pids;
    for (const auto& s : slots_) {
      if (!s || !s->alive()) continue;
      const auto it = s->hello().find("helpers");
      if (it == s->hello().end() || !it->is_array()) continue;
      for (const auto& p : *it)
        if (p.is_number_integer()) pids.push_back(p.get<int>());
    }
    return pids;
  }
  [[nodiscard]] const PythonExecutorOptions& options() const noexcept { return options_; }

  /// The file name programs are compiled under (it appears in tracebacks).
  static constexpr const char* program_file = "<program>";

private:
  [[nodiscard]] bool iso(const char* key) const { return iso_.is_object() && iso_.value(key, false); }

  /// Exclusive use of one worker slot for the lifetime of the lease.
  struct lease {
    explicit lease(PythonExecutor& ex) : owner(ex) {
      std::unique_lock<std::mutex> lock(ex.mutex_);
      ex.available_.wait(lock, [&] { return !ex.idle_.empty(); });
      slot = ex.idle_.back();
      ex.idle_.pop_back();
    }
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease() {
      {
        std::lock_guard<std::mutex> guard(owner.mutex_);
        owner.idle_.push_back(slot);
      }
      owner.available_.notify_one();
    }
    PythonExecutor& owner;
    std::size_t slot = 0;
  };

  static std::string encode(const Program& program, const TestSuite& tests, const Limits& limits) {
    nlohmann::json j;
    j["source"] = program.source;
    // The prompt's part of the program is trusted (HumanEval's helpers): the tests use their own copy.
    j["prompt"] = program.source.substr(0, std::min(program.completion_begin, program.source.size()));
    j["setup"] = tests.setup_code;
    j["fn"] = tests.fn_name;
    auto& arr = j["tests"] = nlohmann::json::array();
    for (const auto& t : tests.tests)
      arr.push_back({{"k", static_cast<int>(t.kind)}, {"c", t.code}, {"i", t.input}, {"e", t.expected}});
    j["limits"] = {{"test", limits.test_timeout_s},
                   {"program", limits.program_timeout_s},
                   {"cpu", limits.cpu_time_s},
                   {"memory", limits.memory_bytes},
                   {"output", limits.output_bytes},
                   {"processes", limits.max_processes},
                   {"stop", limits.stop_at_first_failure}};
    // Invalid UTF-8 in a generated program becomes U+FFFD (line numbers are unaffected).
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  /// Runs one job on the worker in `slot`, replacing the worker if it is lost (retrying once when it
  /// died; a hung worker means the job overran every limit and is reported as a timeout).
  ExecutionResult execute(std::size_t slot, const std::string& payload, const Program& program, const TestSuite& tests,
                          const Limits& limits) {
    const double timeout = limits.program_timeout_s + options_.answer_grace_s;
    std::string why;
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto& worker = ensure_worker(slot);
      try {
        return decode(worker.call(payload, timeout), program, tests);
      } catch (const exec::detail::WorkerLost& lost) {
        why = lost.why;
        restarts_.fetch_add(1);
        replace_worker(slot);
        if (why == "the worker did not answer in time") break;
      }
    }
    ExecutionResult r;
    const bool hung = why == "the worker did not answer in time";
    r.outcome = hung ? Outcome::timeout : Outcome::runtime_error;
    r.total = tests.tests.size();
    r.tests.assign(r.total, TestResult{TestStatus::not_run, {}});
    r.error =
        ErrorInfo{hung ? "TimeoutError" : "WorkerLost", "rltf executor: " + why, std::nullopt, std::nullopt, false, 0};
    r.network_isolated = network_isolated_;
    set_isolation(r, nlohmann::json{{"iso", iso_}});
    return r;
  }

  exec::detail::Worker& ensure_worker(std::size_t slot) {
    if (!slots_[slot] || !slots_[slot]->alive()) replace_worker(slot);
    return *slots_[slot];
  }

  void replace_worker(std::size_t slot) {
    // Only the lease holder touches this slot; the lock guards readers such as worker_pids().
    auto fresh = std::make_unique<exec::detail::Worker>(config_);
    std::unique_ptr<exec::detail::Worker> old;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      old = std::exchange(slots_[slot], std::move(fresh));
    }
  }

  static void set_isolation(ExecutionResult& r, const nlohmann::json& j) {
    const auto it = j.find("iso");
    if (it == j.end() || !it->is_object()) return;
    r.filesystem_isolated = it->value("mount", false);
    r.pid_isolated = it->value("pid", false);
    r.seccomp_filtered = it->value("seccomp", false);
    r.cgroup_limited = it->value("cgroup", false);
  }

  static ExecutionResult decode(const nlohmann::json& j, const Program& program, const TestSuite& tests) {
    if (j.contains("internal_error"))
      throw executor_error("rltf::PythonExecutor: the worker failed: " + j["internal_error"].get<std::string>());
    ExecutionResult r;
    const auto outcome = outcome_from_string(j.at("outcome").get<std::string>());
    if (!outcome) throw executor_error("rltf::PythonExecutor: the worker sent an unknown outcome");
    r.outcome = *outcome;
    const auto& statuses = j.at("tests");
    const auto& details = j.at("details");
    if (statuses.size() != tests.tests.size())
      throw executor_error("rltf::PythonExecutor: the worker sent " + std::to_string(statuses.size()) +
                           " test results for " + std::to_string(tests.tests.size()) + " tests");
    r.tests.reserve(statuses.size());
    for (std::size_t i = 0; i < statuses.size(); ++i) {
      const auto status = test_status_from_string(statuses[i].get<std::string>());
      if (!status) throw executor_error("rltf::PythonExecutor: the worker sent an unknown test status");
      r.tests.push_back(TestResult{*status, details[i].get<std::string>()});
      if (*status == TestStatus::passed) ++r.passed;
    }
    r.total = r.tests.size();
    if (const auto& e = j.at("error"); e.is_object()) {
      ErrorInfo info;
      info.type = e.value("type", std::string{});
      info.message = e.value("msg", std::string{});
      if (const auto it = e.find("line"); it != e.end() && it->is_number_integer() && it->get<long long>() > 0) {
        info.line = static_cast<std::size_t>(it->get<long long>());
        info.completion_line = completion_line(program, *info.line);
      }
      info.at_end_of_program = e.value("end", false);
      info.signal = e.value("signal", 0);
      r.error = std::move(info);
    }
    r.stdout_text = j.value("stdout", std::string{});
    r.stderr_text = j.value("stderr", std::string{});
    r.output_truncated = j.value("truncated", false);
    r.wall_seconds = j.value("wall", 0.0);
    r.peak_memory_kb = j.value("maxrss", std::int64_t{0});
    r.network_isolated = j.value("net", false);
    set_isolation(r, j);
    return r;
  }

  PythonExecutorOptions options_;
  exec::detail::WorkerConfig config_;
  std::vector<std::unique_ptr<exec::detail::Worker>> slots_;
  std::vector<std::size_t> idle_;
  mutable std::mutex mutex_;
  std::condition_variable available_;
  std::atomic<std::size_t> restarts_{0};
  bool network_isolated_ = false;
  bool privileges_dropped_ = false;
  nlohmann::json iso_; ///< the workers' isolation, as the first one reported it
};

static_assert(Executor<PythonExecutor>, "rltf::PythonExecutor must model rltf::Executor");

} // namespace rltf
