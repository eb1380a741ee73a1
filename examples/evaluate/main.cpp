// rltf-evaluate: runs a samples file (human-eval convention: {"task_id", "completion"} per line)
// against HumanEval, HumanEval+, MBPP, MBPP+ or APPS in rltf's sandboxed Python executor, writes the
// per-sample results next to the samples file and prints pass@k.
//
//   rltf-evaluate --dataset humaneval --samples samples.jsonl --k 1,10,100
//   rltf-evaluate --dataset mbpp --reference
//   rltf-evaluate --dataset apps:/data/APPS/test --samples apps_samples.jsonl --timeout 4
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/data/datasets.hpp"
#include "rltf/detail/atomic_file.hpp"
#include "rltf/eval/pass_at_k.hpp"
#include "rltf/exec/python_executor.hpp"
#include "rltf_programs/cli.hpp"

namespace {

constexpr const char* usage_text =
    "usage: rltf-evaluate --dataset NAME (--samples FILE | --reference) [options]\n"
    "\n"
    "  --dataset NAME        humaneval | humaneval-plus | mbpp | mbpp-plus (bundled copies),\n"
    "                        apps:DIR (an APPS folder), or NAME:PATH (another file in NAME's format)\n"
    "  --samples FILE        JSON Lines of {\"task_id\", \"completion\"}; results go to FILE_results.jsonl\n"
    "  --reference           evaluate the dataset's own reference solutions instead of samples\n"
    "  --k LIST              comma-separated k values for pass@k (default 1,10,100)\n"
    "  --jobs N              worker processes (default: all cores)\n"
    "  --timeout S           seconds per test (default 3); a program gets 3*S + 0.02 s per test\n"
    "  --all-tests           run every test of a program (default: stop at its first failing test)\n"
    "  --memory-mb N         address-space limit per program in MiB (default 2048; EvalPlus uses 4096)\n"
    "  --max-plus-inputs N   HumanEval+/MBPP+: at most N extra inputs per task (default: all)\n"
    "  --data-dir DIR        where the bundled datasets are (default: found next to rltf's sources\n"
    "                        or install, or $RLTF_DATA_DIR)\n"
    "  --python PATH         interpreter for the candidates (default /usr/bin/python3)\n"
    "  --output FILE         where to write per-sample results (with --reference: only if given)\n"
    "  --help                this text\n";

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct options {
  std::string dataset;
  std::string samples;
  bool reference = false;
  std::vector<std::size_t> ks{1, 10, 100};
  std::size_t jobs = 0;
  double timeout = 3.0;
  bool all_tests = false;
  std::size_t memory_mb = 2048;
  std::optional<std::size_t> max_plus;
  std::string data_dir;
  std::string python = "/usr/bin/python3";
  std::string output;
};

/// An integer flag's value, at least `min`.
std::size_t count_value(rltf::CommandLine& args, std::uint64_t min) {
  const std::uint64_t n = args.unsigned_value();
  if (n < min)
    throw usage_error(args.flag() + " expects an integer >= " + std::to_string(min) + ", got " + std::to_string(n));
  return static_cast<std::size_t>(n);
}

options parse_flags(int argc, char** argv) {
  options o;
  for (rltf::CommandLine args(argc, argv); args.next();) {
    if (args.is("--help") || args.is("-h")) {
      std::cout << usage_text;
      std::exit(0);
    } else if (args.is("--dataset")) {
      o.dataset = args.value();
    } else if (args.is("--samples")) {
      o.samples = args.value();
    } else if (args.is("--reference")) {
      o.reference = true;
    } else if (args.is("--k")) {
      o.ks.clear();
      for (const auto k : args.unsigned_list_value()) {
        if (k < 1) throw usage_error("--k values must be >= 1");
        o.ks.push_back(static_cast<std::size_t>(k));
      }
    } else if (args.is("--jobs")) {
      o.jobs = count_value(args, 1);
    } else if (args.is("--timeout")) {
      o.timeout = args.positive_value();
      if (o.timeout > 86400.0) throw usage_error("--timeout expects seconds in (0, 86400]");
    } else if (args.is("--all-tests")) {
      o.all_tests = true;
    } else if (args.is("--memory-mb")) {
      o.memory_mb = count_value(args, 64);
    } else if (args.is("--max-plus-inputs")) {
      o.max_plus = count_value(args, 0);
    } else if (args.is("--data-dir")) {
      o.data_dir = args.value();
    } else if (args.is("--python")) {
      o.python = args.value();
    } else if (args.is("--output")) {
      o.output = args.value();
    } else {
      args.unknown();
    }
  }
  return o;
}

options parse(int argc, char** argv) {
  options o;
  try {
    o = parse_flags(argc, argv);
  } catch (const rltf::invalid_argument& e) {
    throw usage_error(e.what());
  }
  if (o.dataset.empty()) throw usage_error("--dataset is required");
  if (o.samples.empty() == !o.reference) throw usage_error("give exactly one of --samples FILE and --reference");
  return o;
}

/// The folder holding the bundled datasets.
std::filesystem::path find_data_dir(const options& o) {
  std::vector<std::filesystem::path> tried;
  auto ok = [&](const std::filesystem::path& p) {
    tried.push_back(p);
    std::error_code ec;
    return std::filesystem::exists(p / "HumanEval.jsonl.gz", ec);
  };
  if (!o.data_dir.empty()) {
    if (!ok(o.data_dir)) throw usage_error("--data-dir '" + o.data_dir + "' does not hold rltf's datasets");
    return o.data_dir;
  }
  if (const char* env = std::getenv("RLTF_DATA_DIR"); env != nullptr && *env != '\0' && ok(env)) return env;
#ifdef RLTF_EVALUATE_DATA_DIR
  if (ok(RLTF_EVALUATE_DATA_DIR)) return RLTF_EVALUATE_DATA_DIR;
#endif
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const auto& rel : {"../share/rltf/data", "../data", "../../data", "../../../data"})
      if (ok(exe.parent_path() / rel)) return (exe.parent_path() / rel).lexically_normal();
  }
  std::string msg = "cannot find rltf's bundled datasets; tried:";
  for (const auto& t : tried) msg += " " + t.string();
  throw usage_error(msg + ". Pass --data-dir DIR or set RLTF_DATA_DIR");
}

/// Matches a samples file's task id to a problem: exact, then "mbpp/N" for a bare number.
std::optional<std::size_t> find_task(const std::map<std::string, std::size_t>& index, const std::string& id) {
  if (const auto it = index.find(id); it != index.end()) return it->second;
  if (!id.empty() && id.find_first_not_of("0123456789") == std::string::npos)
    for (const char* prefix : {"mbpp/", "Mbpp/", "HumanEval/"})
      if (const auto it = index.find(prefix + id); it != index.end()) return it->second;
  return std::nullopt;
}

class progress {
public:
  explicit progress(std::size_t total) : total_(total), tty_(::isatty(2) != 0), start_(clock::now()) {}
  void update(std::size_t done) {
    const double elapsed = std::chrono::duration<double>(clock::now() - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
    if (tty_) {
      constexpr std::size_t width = 30;
      const std::size_t fill = total_ == 0 ? width : done * width / total_;
      const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
      std::fprintf(stderr, "\r[%s%s] %zu/%zu  %.1f programs/s  ETA %.0fs ", std::string(fill, '#').c_str(),
                   std::string(width - fill, '.').c_str(), done, total_, rate, eta);
      if (done == total_) std::fprintf(stderr, "\n");
      std::fflush(stderr);
    } else {
      const std::size_t step = std::max<std::size_t>(1, total_ / 10);
      if (done % step == 0 || done == total_)
        std::fprintf(stderr, "evaluated %zu/%zu programs (%.1f/s)\n", done, total_, rate);
    }
  }

private:
  using clock = std::chrono::steady_clock;
  std::size_t total_;
  bool tty_;
  clock::time_point start_;
};

int run(const options& o) {
  const auto data_dir = o.dataset.find(':') == std::string::npos ? find_data_dir(o) : std::filesystem::path{};
  rltf::data::DatasetOptions dopts;
  if (o.max_plus) dopts.plus.max_plus_inputs = *o.max_plus;
  const auto problems = rltf::data::load_dataset(o.dataset, data_dir, dopts);
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < problems.size(); ++i) index.emplace(problems[i].task_id, i);

  // What to run: (problem, completion) pairs.
  std::vector<std::size_t> which;
  std::vector<rltf::Sample> samples;
  if (o.reference) {
    for (std::size_t i = 0; i < problems.size(); ++i)
      for (const auto& s : problems[i].solutions) {
        rltf::Sample sample;
        sample.task_id = problems[i].task_id;
        sample.text = s;
        samples.push_back(std::move(sample));
        which.push_back(i);
      }
    if (samples.empty()) throw rltf::invalid_argument("the dataset has no reference solutions");
  } else {
    samples = rltf::data::read_samples(o.samples);
    if (samples.empty()) throw rltf::invalid_argument("'" + o.samples + "' holds no samples");
    for (std::size_t i = 0; i < samples.size(); ++i) {
      const auto p = find_task(index, samples[i].task_id);
      if (!p)
        throw rltf::invalid_argument("sample " + std::to_string(i + 1) + " of '" + o.samples + "': task_id '" +
                                     samples[i].task_id + "' is not in dataset '" + o.dataset + "'");
      which.push_back(*p);
    }
  }

  std::vector<rltf::Job> jobs;
  jobs.reserve(samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto& p = problems[which[i]];
    rltf::Limits limits;
    limits.test_timeout_s = o.timeout;
    limits.program_timeout_s = 3.0 * o.timeout + 0.02 * static_cast<double>(p.tests.tests.size());
    limits.cpu_time_s = limits.program_timeout_s;
    limits.stop_at_first_failure = !o.all_tests;
    limits.memory_bytes = o.memory_mb << 20;
    jobs.push_back(rltf::make_job(p, samples[i].text, limits));
  }

  rltf::PythonExecutor executor{rltf::PythonExecutorOptions{.python = o.python, .workers = o.jobs}};
  std::fprintf(stderr, "%s: %zu programs for %zu problems on %zu workers (network %s, %s)\n", o.dataset.c_str(),
               jobs.size(), index.size(), executor.workers(), executor.network_isolated() ? "isolated" : "NOT isolated",
               executor.privileges_dropped() ? "children run as nobody" : "children keep the caller's uid");
  progress bar(jobs.size());
  std::size_t done = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const auto results = executor.run_all(jobs, [&](std::size_t, const rltf::ExecutionResult&) { bar.update(++done); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::string out_path = o.output;
  if (out_path.empty() && !o.reference) out_path = o.samples + "_results.jsonl";
  if (!out_path.empty()) {
    rltf::detail::AtomicFile out(out_path); // replaces the file whole on commit(), fsynced
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      nlohmann::json j{
          {"task_id", problems[which[i]].task_id},
          {"completion", samples[i].text},
          {"outcome", std::string(rltf::to_string(r.outcome))},
          {"passed", r.passed},
          {"total", r.total},
          {"error_class", r.error ? nlohmann::json(r.error->type) : nlohmann::json(nullptr)},
          {"error_line", r.error && r.error->line ? nlohmann::json(*r.error->line) : nlohmann::json(nullptr)},
          {"completion_line",
           r.error && r.error->completion_line ? nlohmann::json(*r.error->completion_line) : nlohmann::json(nullptr)},
          {"error_message", r.error ? nlohmann::json(r.error->message) : nlohmann::json(nullptr)},
          {"wall_seconds", r.wall_seconds}};
      out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    }
    out.commit();
    std::fprintf(stderr, "wrote %s\n", out_path.c_str());
  }

  std::vector<std::string> ids;
  ids.reserve(results.size());
  for (std::size_t i = 0; i < results.size(); ++i) ids.push_back(problems[which[i]].task_id);
  const auto counts = rltf::eval::count_by_task(ids, results);
  std::map<rltf::Outcome, std::size_t> outcomes;
  for (const auto& r : results) ++outcomes[r.outcome];
  std::printf("dataset: %s\nproblems evaluated: %zu of %zu\nprograms: %zu in %.1f s (%.1f programs/s)\n",
              o.dataset.c_str(), counts.size(), problems.size(), results.size(), seconds,
              static_cast<double>(results.size()) / std::max(seconds, 1e-9));
  std::printf("outcomes:");
  for (const auto& [oc, n] : outcomes) std::printf(" %s=%zu", std::string(rltf::to_string(oc)).c_str(), n);
  std::printf("\nexecutability: %.4f\n", rltf::eval::executability_rate(results));
  for (const std::size_t k : o.ks) {
    if (rltf::eval::pass_at_k_defined(counts, k))
      std::printf("pass@%zu: %.4f\n", k, rltf::eval::mean_pass_at_k(counts, k));
    else
      std::printf("pass@%zu: n/a (some problems have fewer than %zu samples)\n", k, k);
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const usage_error& e) {
    std::fprintf(stderr, "rltf-evaluate: %s\n\n%s", e.what(), usage_text);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rltf-evaluate: error: %s\n", e.what());
    return 1;
  }
}
