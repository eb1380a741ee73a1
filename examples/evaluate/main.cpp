// rltf-evaluate: runs a samples file against HumanEval, HumanEval+, MBPP, MBPP+ or APPS in rltf's
// sandboxed Python executor, writes the per-sample results next to the samples file, prints pass@k
// and writes a JSON summary (docs/evaluate.md).
//
// Samples: human-eval's JSON Lines ({"task_id", "completion"}, the completion appended to the
// prompt), EvalPlus's ({"task_id", "solution"}, the whole program), or EvalPlus's folder of
// `TASK/N.py` whole programs, TASK being the task id with '/' written '_' ("HumanEval_0").
// On HumanEval+ and MBPP+ each sample runs the base tests and the extra tests, and both scores are
// reported, as EvalPlus reports "base" and "base + extra".
//
//   rltf-evaluate --dataset humaneval --samples samples.jsonl --k 1,10,100
//   rltf-evaluate --dataset humaneval-plus --samples evalplus_samples/   (a TASK/N.py folder)
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
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/data/datasets.hpp"
#include "rltf/data/detail/json.hpp"
#include "rltf/detail/atomic_file.hpp"
#include "rltf/eval/pass_at_k.hpp"
#include "rltf/exec/python_executor.hpp"
#include "rltf_programs/options.hpp"

namespace {

using rltf::programs::usage_error;

struct options {
  std::string dataset;
  std::string samples;
  bool reference = false;
  std::vector<std::size_t> ks{1, 10, 100};
  std::size_t workers = 0;
  double timeout = 3.0;
  bool all_tests = false;
  std::size_t memory_mb = 2048;
  std::optional<std::size_t> max_plus;
  std::string data_dir;
  std::string python = "/usr/bin/python3";
  std::string output;
  std::string summary;
  rltf::ProgressMode progress = rltf::ProgressMode::automatic;
};

void define(rltf::programs::Cli& cli, options& o) {
  cli.dataset(o.dataset, "humaneval | humaneval-plus | mbpp | mbpp-plus (bundled copies), apps:DIR (an APPS "
                         "folder), or NAME:PATH (another file in NAME's format)")
      ->required();
  auto* samples = cli.samples(o.samples, "JSON Lines of {\"task_id\", \"completion\" or \"solution\"}, or a "
                                         "folder of TASK/N.py (EvalPlus); results go to SAMPLES_results.jsonl");
  auto* reference = cli.flag("--reference", o.reference, "evaluate the dataset's own reference solutions");
  samples->excludes(reference);
  cli.ks(o.ks);
  cli.workers(o.workers);
  cli.timeout(o.timeout, "seconds per test; a program gets 3*S + 0.02 s per test");
  cli.flag("--all-tests", o.all_tests, "run every test of a program (default: stop at its first failing test)");
  cli.count("--memory-mb", o.memory_mb, "address-space limit per program in MiB (EvalPlus uses 4096)", 64);
  cli.count("--max-plus-inputs", o.max_plus, "HumanEval+/MBPP+: at most N extra inputs per task (default: all)");
  cli.text("--data-dir", o.data_dir,
           "the bundled datasets (default: next to rltf's sources or install, or "
           "$RLTF_DATA_DIR)",
           "DIR");
  cli.text("--python", o.python, "interpreter for the candidates", "PATH");
  cli.text("--output", o.output, "per-sample results (default SAMPLES_results.jsonl; with --reference: only if given)",
           "FILE");
  cli.text("--summary", o.summary, "JSON summary (default SAMPLES_summary.json; with --reference: only if given)",
           "FILE");
  cli.progress(o.progress);
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
  progress(std::size_t total, rltf::ProgressMode mode)
      : total_(total), start_(clock::now()),
        bar_(mode == rltf::ProgressMode::bar || (mode == rltf::ProgressMode::automatic && ::isatty(2) != 0)),
        off_(mode == rltf::ProgressMode::off) {}
  void update(std::size_t done) {
    if (off_) return;
    const double elapsed = std::chrono::duration<double>(clock::now() - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
    if (bar_) {
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
  clock::time_point start_;
  bool bar_;
  bool off_;
};

/// One sample to run: its problem, its program (a completion appended to the prompt, or a whole
/// solution) and the fields it came with, which its results line carries.
struct input {
  std::size_t problem = 0;
  std::string text;
  bool whole_program = false; ///< EvalPlus's `solution` (or a TASK/N.py file): the prompt is not prepended
  nlohmann::json fields = nlohmann::json::object();
};

/// The samples of a JSON Lines file: `completion` (human-eval) or `solution` (EvalPlus) per line.
std::vector<input> read_jsonl(const std::string& path, const std::map<std::string, std::size_t>& index,
                              const std::string& dataset) {
  namespace dd = rltf::data::detail;
  std::vector<input> out;
  dd::for_each_jsonl(dd::read_text_file(path), path, [&](nlohmann::json&& j, std::size_t line) {
    const dd::json_where w{path, line};
    input in;
    const std::string id = dd::require_id(j, "task_id", w);
    const auto p = find_task(index, id);
    if (!p) throw rltf::parse_error(path, line, "task_id", "'" + id + "' is not in dataset '" + dataset + "'");
    in.problem = *p;
    if (j.contains("completion")) {
      in.text = dd::require_string(j, "completion", w);
    } else if (j.contains("solution")) {
      in.text = dd::require_string(j, "solution", w);
      in.whole_program = true;
    } else {
      throw rltf::parse_error(path, line, "completion",
                              "missing: give \"completion\" (human-eval) or \"solution\" "
                              "(EvalPlus)");
    }
    in.fields = std::move(j);
    out.push_back(std::move(in));
  });
  return out;
}

/// The samples of an EvalPlus folder: TASK/N.py, TASK the task id with '/' written '_', each file a
/// whole program. Tasks in id order, files by number.
std::vector<input> read_folder(const std::filesystem::path& dir, const std::map<std::string, std::size_t>& index,
                               const std::string& dataset) {
  namespace fs = std::filesystem;
  std::vector<std::tuple<std::size_t, std::string, fs::path>> tasks;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_directory()) continue;
    std::string id = entry.path().filename().string();
    std::replace(id.begin(), id.end(), '_', '/'); // EvalPlus: task_id.replace("_", "/")
    const auto p = find_task(index, id);
    if (!p)
      throw rltf::invalid_argument("'" + entry.path().string() + "': task '" + id + "' is not in dataset '" + dataset +
                                   "'");
    tasks.emplace_back(*p, id, entry.path());
  }
  std::sort(tasks.begin(), tasks.end());
  std::vector<input> out;
  for (const auto& [problem, id, folder] : tasks) {
    std::vector<std::pair<std::string, fs::path>> files;
    for (const auto& f : fs::directory_iterator(folder))
      if (f.is_regular_file() && f.path().extension() == ".py") {
        const auto stem = f.path().stem().string();
        files.emplace_back(std::string(20 - std::min<std::size_t>(20, stem.size()), '0') + stem, f.path());
      }
    std::sort(files.begin(), files.end());
    for (const auto& [key, file] : files) {
      input in;
      in.problem = problem;
      in.text = rltf::data::detail::read_text_file(file);
      in.whole_program = true;
      in.fields = {{"task_id", id}, {"solution", in.text}, {"_identifier", file.string()}};
      out.push_back(std::move(in));
    }
  }
  return out;
}

/// human-eval's `result` string for a run: "passed", "timed out" or "failed: <the exception's text>".
std::string human_eval_result(const rltf::ExecutionResult& r) {
  if (r.outcome == rltf::Outcome::pass) return "passed";
  if (r.outcome == rltf::Outcome::timeout) return "timed out";
  return "failed: " + (r.error ? r.error->message : std::string());
}

/// pass@k per k as JSON: {"pass@1": x, ...}, null where some problem has fewer than k samples.
nlohmann::json pass_at_ks(const std::map<std::string, rltf::eval::ProblemCount>& counts,
                          const std::vector<std::size_t>& ks) {
  nlohmann::json j = nlohmann::json::object();
  for (const std::size_t k : ks)
    j["pass@" + std::to_string(k)] =
        rltf::eval::pass_at_k_defined(counts, k) ? nlohmann::json(rltf::eval::mean_pass_at_k(counts, k)) : nullptr;
  return j;
}

void print_pass_at_ks(const char* label, const std::map<std::string, rltf::eval::ProblemCount>& counts,
                      const std::vector<std::size_t>& ks) {
  for (const std::size_t k : ks) {
    if (rltf::eval::pass_at_k_defined(counts, k))
      std::printf("%spass@%zu: %.4f\n", label, k, rltf::eval::mean_pass_at_k(counts, k));
    else
      std::printf("%spass@%zu: n/a (some problems have fewer than %zu samples)\n", label, k, k);
  }
}

/// Replaces `path` whole, fsynced; a failure leaves the previous file intact (rltf/detail/atomic_file.hpp).
void write_json_file(const std::string& path, const std::string& text) { rltf::detail::write_file_atomic(path, text); }

bool is_plus(const std::string& dataset) {
  const auto name = dataset.substr(0, dataset.find(':'));
  return name == "humaneval-plus" || name == "mbpp-plus";
}

int run(const options& o, const nlohmann::json& config) {
  if (o.samples.empty() == !o.reference) throw usage_error("give exactly one of --samples FILE and --reference");
  const auto data_dir = o.dataset.find(':') == std::string::npos ? find_data_dir(o) : std::filesystem::path{};
  // HumanEval+ and MBPP+: the base tests and the extra tests as two suites, run one after the other
  // (EvalPlus's "base" and "base + extra"); other datasets have base tests only.
  const bool plus = is_plus(o.dataset);
  rltf::data::DatasetOptions base_opts;
  if (plus) base_opts.plus.max_plus_inputs = 0;
  const auto problems = rltf::data::load_dataset(o.dataset, data_dir, base_opts);
  std::vector<rltf::Problem> extra;
  if (plus) {
    rltf::data::DatasetOptions extra_opts;
    extra_opts.plus.base_inputs = false;
    if (o.max_plus) extra_opts.plus.max_plus_inputs = *o.max_plus;
    extra = rltf::data::load_dataset(o.dataset, data_dir, extra_opts);
  }
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < problems.size(); ++i) index.emplace(problems[i].task_id, i);

  std::vector<input> inputs;
  if (o.reference) {
    for (std::size_t i = 0; i < problems.size(); ++i)
      for (const auto& s : problems[i].solutions)
        inputs.push_back(input{i, s, false, {{"task_id", problems[i].task_id}, {"completion", s}}});
    if (inputs.empty()) throw rltf::invalid_argument("the dataset has no reference solutions");
  } else {
    std::error_code ec;
    inputs = std::filesystem::is_directory(o.samples, ec) ? read_folder(o.samples, index, o.dataset)
                                                          : read_jsonl(o.samples, index, o.dataset);
    if (inputs.empty()) throw rltf::invalid_argument("'" + o.samples + "' holds no samples");
  }

  const auto job_of = [&](const rltf::Problem& p, const input& in) {
    rltf::Limits limits;
    limits.test_timeout_s = o.timeout;
    limits.program_timeout_s = 3.0 * o.timeout + 0.02 * static_cast<double>(p.tests.tests.size());
    limits.cpu_time_s = limits.program_timeout_s;
    limits.stop_at_first_failure = !o.all_tests;
    limits.memory_bytes = o.memory_mb << 20;
    if (!in.whole_program) return rltf::make_job(p, in.text, limits);
    return rltf::Job{rltf::Program{in.text, 0}, p.tests, limits};
  };
  std::vector<rltf::Job> jobs;
  jobs.reserve(inputs.size() * (plus ? 2 : 1));
  for (const auto& in : inputs) jobs.push_back(job_of(problems[in.problem], in));
  // The extra tests' jobs follow the base ones; a task without extra inputs has none.
  std::vector<std::optional<std::size_t>> extra_job(inputs.size());
  if (plus)
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const auto& p = extra.at(inputs[i].problem);
      if (p.task_id != problems[inputs[i].problem].task_id)
        throw rltf::error("internal: the base and extra loads of '" + o.dataset + "' differ");
      if (p.tests.tests.empty()) continue;
      extra_job[i] = jobs.size();
      jobs.push_back(job_of(p, inputs[i]));
    }

  rltf::PythonExecutor executor{rltf::PythonExecutorOptions{.python = o.python, .workers = o.workers}};
  std::fprintf(stderr, "%s: %zu programs for %zu problems on %zu workers (network %s, %s)\n", o.dataset.c_str(),
               jobs.size(), index.size(), executor.workers(), executor.network_isolated() ? "isolated" : "NOT isolated",
               executor.privileges_dropped() ? "children run as nobody" : "children keep the caller's uid");
  progress bar(jobs.size(), o.progress);
  std::size_t done = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const auto results = executor.run_all(jobs, [&](std::size_t, const rltf::ExecutionResult&) { bar.update(++done); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // Per sample: base (the dataset's own tests) and, on a plus dataset, base + extra.
  std::map<std::string, rltf::eval::ProblemCount> base_counts, plus_counts;
  std::map<rltf::Outcome, std::size_t> outcomes;
  std::size_t base_passed = 0, plus_passed = 0;
  std::string lines;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const auto& r = results[i];
    const auto& id = problems[inputs[i].problem].task_id;
    const bool ok = r.outcome == rltf::Outcome::pass;
    ++outcomes[r.outcome];
    auto& bc = base_counts[id];
    ++bc.n;
    bc.c += ok ? 1 : 0;
    base_passed += ok ? 1 : 0;
    nlohmann::json j = inputs[i].fields; // every input field, then human-eval's two, then rltf's
    j["passed"] = ok;
    j["result"] = human_eval_result(r);
    j["tests_passed"] = r.passed;
    j["tests_total"] = r.total;
    j["outcome"] = std::string(rltf::to_string(r.outcome));
    j["error_class"] = r.error ? nlohmann::json(r.error->type) : nlohmann::json(nullptr);
    j["error_line"] = r.error && r.error->line ? nlohmann::json(*r.error->line) : nlohmann::json(nullptr);
    j["completion_line"] =
        r.error && r.error->completion_line ? nlohmann::json(*r.error->completion_line) : nlohmann::json(nullptr);
    j["error_message"] = r.error ? nlohmann::json(r.error->message) : nlohmann::json(nullptr);
    j["wall_seconds"] = r.wall_seconds;
    if (plus) {
      const rltf::ExecutionResult* x = extra_job[i] ? &results[*extra_job[i]] : nullptr;
      const bool extra_ok = x == nullptr || x->outcome == rltf::Outcome::pass;
      const bool both = ok && extra_ok;
      auto& pc = plus_counts[id];
      ++pc.n;
      pc.c += both ? 1 : 0;
      plus_passed += both ? 1 : 0;
      j["plus_passed"] = both;
      j["plus_result"] = !ok ? j["result"] : nlohmann::json(x == nullptr ? "passed" : human_eval_result(*x));
      j["plus_tests_passed"] = x == nullptr ? 0 : x->passed;
      j["plus_tests_total"] = x == nullptr ? 0 : x->total;
    }
    lines += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }

  // Results and summary go next to the samples (a folder's: beside the folder).
  std::string stem = o.samples;
  while (stem.size() > 1 && stem.back() == '/') stem.pop_back();
  const std::string out_path = !o.output.empty() ? o.output : o.reference ? "" : stem + "_results.jsonl";
  if (!out_path.empty()) {
    write_json_file(out_path, lines);
    std::fprintf(stderr, "wrote %s\n", out_path.c_str());
  }

  std::printf("dataset: %s\nproblems evaluated: %zu of %zu\nprograms: %zu in %.1f s (%.1f programs/s)\n",
              o.dataset.c_str(), base_counts.size(), problems.size(), results.size(), seconds,
              static_cast<double>(results.size()) / std::max(seconds, 1e-9));
  std::printf("outcomes:");
  for (const auto& [oc, n] : outcomes) std::printf(" %s=%zu", std::string(rltf::to_string(oc)).c_str(), n);
  const std::vector<rltf::ExecutionResult> base_results(results.begin(),
                                                        results.begin() + static_cast<std::ptrdiff_t>(inputs.size()));
  const double executability = rltf::eval::executability_rate(base_results);
  std::printf("\nexecutability: %.4f\n", executability);
  print_pass_at_ks("", base_counts, o.ks);
  if (plus) print_pass_at_ks("plus (base + extra) ", plus_counts, o.ks);

  nlohmann::json outcome_counts = nlohmann::json::object();
  for (const auto& [oc, n] : outcomes) outcome_counts[std::string(rltf::to_string(oc))] = n;
  nlohmann::json summary{
      {"dataset", o.dataset},
      {"samples", o.reference ? nlohmann::json(nullptr) : nlohmann::json(o.samples)},
      {"results", out_path.empty() ? nlohmann::json(nullptr) : nlohmann::json(out_path)},
      {"problems", problems.size()},
      {"problems_evaluated", base_counts.size()},
      {"num_samples", inputs.size()},
      {"programs_run", results.size()},
      {"seconds", seconds},
      {"outcomes", outcome_counts},
      {"executability", executability},
      {"base", {{"passed", base_passed}, {"pass_at_k", pass_at_ks(base_counts, o.ks)}}},
      {"plus", plus ? nlohmann::json{{"passed", plus_passed}, {"pass_at_k", pass_at_ks(plus_counts, o.ks)}}
                    : nlohmann::json(nullptr)},
      {"config", config}};
  const std::string summary_path = !o.summary.empty() ? o.summary : o.reference ? "" : stem + "_summary.json";
  if (!summary_path.empty()) {
    write_json_file(summary_path, summary.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    std::fprintf(stderr, "wrote %s\n", summary_path.c_str());
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  rltf::programs::Cli cli("rltf-evaluate", "pass@k of a samples file (human-eval or EvalPlus) on HumanEval(+), "
                                           "MBPP(+) or APPS in rltf's sandboxed executor.");
  options o;
  define(cli, o);
  return cli.run(argc, argv, [&] { return run(o, cli.effective()); });
}
