// Executor throughput: rltf::PythonExecutor (warm workers, one forked child per program) against two
// baselines measured in the same run on the same programs (docs/executor.md): a fresh interpreter per
// program (`python3 program.py`, N in parallel), and a harness with human-eval's architecture
// (humaneval_style_harness.py: a thread pool, a multiprocessing.Process and Manager per program), on
// the 164 HumanEval canonical solutions and the 974 MBPP reference programs.
//
//   rltf-bench-executor [--quick] [--workers N] [--baseline-parallel N] [--repeat R] [--python PATH]
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/io.hpp>
#include <boost/process/pipe.hpp>

#include "rltf/data/datasets.hpp"
#include "rltf/exec/python_executor.hpp"
#include "rltf_programs/options.hpp"

namespace {

struct options {
  bool quick = false;
  std::size_t workers = 0;
  std::size_t baseline_parallel = 2;
  std::size_t repeat = 3;
  std::string python = RLTF_PYTHON;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// The whole program as one script, for the fresh-interpreter baseline.
std::string script_of(const rltf::Job& job) {
  std::string s = job.program.source + "\n" + job.tests.setup_code + "\n";
  for (const auto& t : job.tests.tests) s += t.code + "\n";
  return s;
}

/// Runs every script with a fresh interpreter, `parallel` at a time; returns the number that failed.
std::size_t run_fresh(const std::string& python, const std::vector<std::filesystem::path>& scripts,
                      std::size_t parallel) {
  namespace bp = boost::process;
  std::size_t next = 0;
  std::size_t failed = 0;
  std::vector<bp::child> running;
  while (next < scripts.size() || !running.empty()) {
    while (running.size() < parallel && next < scripts.size())
      running.emplace_back(bp::exe = python, bp::args = std::vector<std::string>{scripts[next++].string()},
                           bp::std_out > bp::null, bp::std_err > bp::null, bp::std_in < bp::null);
    // Wait for the oldest; they take similar times.
    running.front().wait();
    if (running.front().exit_code() != 0) ++failed;
    running.erase(running.begin());
  }
  return failed;
}

struct row {
  std::string name;
  std::size_t programs = 0;
  double executor_per_s = 0;
  double fresh_per_s = 0;
  double harness_per_s = 0;
  double fork_per_s = 0;       ///< minimal harness: one multiprocessing.Process per program, no sandbox
  double floor_per_core_s = 0; ///< compute floor: every program exec'd in one interpreter
};

/// Runs minimal_harness.py in `mode` ("fork" or "floor") over every script of `dir`; returns the
/// seconds it reports for the programs alone (its own start-up is not counted).
double run_minimal(const std::string& python, const std::string& mode, const std::filesystem::path& dir,
                   std::size_t parallel) {
  namespace bp = boost::process;
  bp::ipstream out;
  std::vector<std::string> args{RLTF_SOURCE_DIR "/benchmarks/executor/minimal_harness.py", mode, dir.string()};
  if (mode == "fork") {
    args.push_back(std::to_string(parallel));
    args.push_back("30");
  }
  bp::child c(bp::exe = python, bp::args = args, bp::std_out > out, bp::std_err > bp::null, bp::std_in < bp::null);
  std::string line;
  std::string last;
  while (std::getline(out, line)) last = line;
  c.wait();
  std::fprintf(stderr, "minimal harness (%s): %s\n", mode.c_str(), last.c_str());
  std::size_t passed = 0, total = 0;
  double seconds = 0;
  if (std::sscanf(last.c_str(), "passed %zu of %zu in %lf seconds", &passed, &total, &seconds) != 3 || seconds <= 0)
    throw std::runtime_error("rltf-bench-executor: minimal_harness.py " + mode + " said '" + last + "'");
  if (passed != total)
    std::fprintf(stderr, "warning: minimal harness (%s): %zu of %zu passed\n", mode.c_str(), passed, total);
  return seconds;
}

/// Runs the human-eval-style harness over every script of `dir`; returns its wall time in seconds.
double run_harness(const std::string& python, const std::filesystem::path& dir, std::size_t workers) {
  namespace bp = boost::process;
  const auto t0 = std::chrono::steady_clock::now();
  bp::ipstream out;
  bp::child c(bp::exe = python,
              bp::args = std::vector<std::string>{RLTF_SOURCE_DIR "/benchmarks/executor/humaneval_style_harness.py",
                                                  dir.string(), std::to_string(workers), "30"},
              bp::std_out > out, bp::std_err > bp::null, bp::std_in < bp::null);
  std::string line;
  std::string last;
  while (std::getline(out, line)) last = line;
  c.wait();
  const double s = seconds_since(t0);
  if (c.exit_code() != 0) std::fprintf(stderr, "warning: the human-eval-style harness exited with %d\n", c.exit_code());
  std::fprintf(stderr, "human-eval-style harness: %s\n", last.c_str());
  return s;
}

row measure(const std::string& name, const std::vector<rltf::Job>& jobs, rltf::PythonExecutor& ex, const options& o,
            const std::filesystem::path& work) {
  row r{name, jobs.size(), 0, 0};
  // Executor: best of `repeat` runs of the whole batch.
  double best = 1e30;
  for (std::size_t rep = 0; rep < o.repeat; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto results = ex.run_all(jobs);
    const double s = seconds_since(t0);
    best = std::min(best, s);
    const auto bad = std::count_if(results.begin(), results.end(),
                                   [](const rltf::ExecutionResult& x) { return x.outcome != rltf::Outcome::pass; });
    if (bad != 0) std::fprintf(stderr, "warning: %s: %ld reference programs did not pass\n", name.c_str(), bad);
  }
  r.executor_per_s = static_cast<double>(jobs.size()) / best;
  // Baseline: a fresh interpreter per program, scripts written beforehand (not timed).
  std::vector<std::filesystem::path> scripts;
  const auto dir = work / name;
  std::filesystem::create_directories(dir);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    scripts.push_back(dir / (std::to_string(100000 + i) + ".py"));
    std::ofstream(scripts.back()) << script_of(jobs[i]);
  }
  best = 1e30;
  for (std::size_t rep = 0; rep < std::min<std::size_t>(o.repeat, 2); ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::size_t failed = run_fresh(o.python, scripts, o.baseline_parallel);
    best = std::min(best, seconds_since(t0));
    if (failed != 0) std::fprintf(stderr, "warning: %s: %zu fresh-interpreter runs failed\n", name.c_str(), failed);
  }
  r.fresh_per_s = static_cast<double>(jobs.size()) / best;
  // Baseline: human-eval's architecture, as many pool threads as the fresh baseline runs in parallel.
  r.harness_per_s = static_cast<double>(jobs.size()) / run_harness(o.python, dir, o.baseline_parallel);
  // Baseline: the minimal fork-per-program harness, and the compute floor (one interpreter, one core).
  r.fork_per_s = static_cast<double>(jobs.size()) / run_minimal(o.python, "fork", dir, o.baseline_parallel);
  double floor_s = 1e30;
  for (std::size_t rep = 0; rep < std::min<std::size_t>(o.repeat, 2); ++rep)
    floor_s = std::min(floor_s, run_minimal(o.python, "floor", dir, 1));
  r.floor_per_core_s = static_cast<double>(jobs.size()) / floor_s;
  std::filesystem::remove_all(dir);
  return r;
}

int bench(options& o) {
  if (o.quick) o.repeat = 1;
  const std::string data = RLTF_SOURCE_DIR "/data/";
  rltf::Limits limits;
  limits.test_timeout_s = 30.0; // mbpp/123's reference takes ~3 CPU seconds
  limits.program_timeout_s = 60.0;
  limits.cpu_time_s = 60.0;
  std::vector<rltf::Job> humaneval;
  for (const auto& p : rltf::data::load_humaneval(data + "HumanEval.jsonl.gz"))
    humaneval.push_back(rltf::make_job(p, p.solutions[0], limits));
  std::vector<rltf::Job> mbpp;
  for (const auto& p : rltf::data::load_mbpp(data + "mbpp.jsonl")) {
    if (p.task_id == "mbpp/123") continue; // one 3-second program would measure itself, not the executor
    mbpp.push_back(rltf::make_job(p, p.solutions[0], limits));
  }
  if (o.quick) {
    humaneval.resize(40);
    mbpp.resize(100);
  }
  const auto work = std::filesystem::temp_directory_path() / ("rltf-bench-executor-" + std::to_string(::getpid()));
  std::filesystem::create_directories(work);

  const auto t0 = std::chrono::steady_clock::now();
  rltf::PythonExecutor ex{rltf::PythonExecutorOptions{.python = o.python, .workers = o.workers}};
  const double startup = seconds_since(t0);
  (void)ex.run_all(std::span<const rltf::Job>(humaneval).first(std::min<std::size_t>(8, humaneval.size()))); // warm

  std::printf("executor: %zu workers (started in %.2f s), baseline: fresh %s per program, %zu in parallel, "
              "%u cores\n",
              ex.workers(), startup, o.python.c_str(), o.baseline_parallel, std::thread::hardware_concurrency());
  std::vector<row> rows;
  rows.push_back(measure("humaneval", humaneval, ex, o, work));
  rows.push_back(measure("mbpp", mbpp, ex, o, work));
  std::filesystem::remove_all(work);

  double load[3] = {0, 0, 0};
  if (::getloadavg(load, 3) > 0) std::printf("load average after the run: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  // The floor is one core's rate; `workers` workers on as many cores could reach at most that many times it.
  const double cores = static_cast<double>(std::min<std::size_t>(ex.workers(), std::thread::hardware_concurrency()));
  std::printf("\n| programs | count | rltf executor (programs/s) | fresh python3 (programs/s) | ratio | "
              "human-eval-style harness (programs/s) | ratio | minimal fork harness (programs/s) | ratio | "
              "compute floor (programs/s per core) | fraction of floor |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& r : rows)
    std::printf("| %s | %zu | %.0f | %.0f | %.1fx | %.0f | %.1fx | %.0f | %.1fx | %.0f | %.0f%% |\n", r.name.c_str(),
                r.programs, r.executor_per_s, r.fresh_per_s, r.executor_per_s / r.fresh_per_s, r.harness_per_s,
                r.executor_per_s / r.harness_per_s, r.fork_per_s, r.executor_per_s / r.fork_per_s, r.floor_per_core_s,
                100.0 * r.executor_per_s / (r.floor_per_core_s * cores));
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  rltf::programs::Cli cli("rltf-bench-executor",
                          "Executor throughput: rltf::PythonExecutor against a fresh python3 per program and a "
                          "human-eval-style harness, same programs, same run (docs/executor.md).");
  options o;
  cli.flag("--quick", o.quick, "40 HumanEval and 100 MBPP programs, one repeat");
  cli.workers(o.workers, "executor worker processes (0: one per core)");
  cli.count("--baseline-parallel", o.baseline_parallel, "baseline programs run in parallel", 1);
  cli.count("--repeat", o.repeat, "repeats (the best counts)", 1);
  cli.text("--python", o.python, "interpreter", "PATH");
  return cli.run(argc, argv, [&] { return bench(o); });
}
