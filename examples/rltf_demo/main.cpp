// rltf-demo: RLTF from scratch on a synthetic suite of Python problems.
//
// A tiny GPT-2 (LibTorch; without LibTorch, rltf's Eigen policy) with a character tokenizer is
// trained by supervised learning on reference solutions, then by online RL from unit-test
// feedback (RLTF: adaptive + fine-grained rewards, greedy baseline, supervised term). Both are
// evaluated on held-out problems whose constants or names never occur in the supervised data;
// the program prints and saves held-out pass@1 / pass@k of SFT against RLTF and a PNG plot of
// the learning curves.
//
//   rltf-demo [--quick] [--fresh] [--out DIR] [--seed N] [--policy torch|eigen] [--variant V]
//             [--sft-steps N] [--rl-steps N] [--rl-lr X] [--reuse-sft] [--threads N]
//             [--workers N] [--progress auto|bar|lines|off] [--n-embd N] [--n-layer N]
//
// Rerunning the same command continues a run that was stopped (even by kill -9): the supervised
// model is reused when OUT/sft holds this configuration's, and RL resumes from its latest
// checkpoint, ending exactly as the uninterrupted run would. --fresh starts over.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <rltf/core/error.hpp>
#include <rltf/detail/atomic_file.hpp>
#include <rltf/exec/python_executor.hpp>
#include <rltf_demo/experiment.hpp>
#include <rltf_demo/suite.hpp>
#include <rltf_programs/options.hpp>
#include <rltf_programs/plot.hpp>

#include "policies.hpp"

namespace {

struct Args {
  rltf_demo::RunArgs run;
  std::filesystem::path out = "rltf-demo-out";
  std::uint64_t seed = 1;
  rltf::demo::Variant variant = rltf::demo::Variant::coarse_fine_adaptive;
  bool reuse_sft = false;
  rltf::ProgressMode progress = rltf::ProgressMode::automatic;
};

Args parse(int argc, char** argv) {
  Args a;
  rltf::programs::Cli cli("rltf-demo",
                          "SFT, SFT continued (the control), RLTF and a clean-SFT oracle on the synthetic suite; "
                          "held-out pass@k of each (docs/demo.md). A stopped run continues when the same command is "
                          "run again; --fresh starts over.");
  a.run.add_to(cli);
  cli.out(a.out);
  cli.seed(a.seed);
  std::string variant = "coarse_fine_adaptive";
  cli.text("--variant", variant, "the RL variant: coarse, coarse_fine, coarse_fine_adaptive, grpo", "V");
  cli.flag("--reuse-sft", a.reuse_sft, "load DIR/sft/policy from an earlier run, whatever its configuration");
  cli.progress(a.progress);
  if (const auto status = cli.parse_or_exit(argc, argv)) std::exit(*status);
  a.run.check_values();
  a.variant = rltf::demo::variant_from_id(variant);
  if (a.variant == rltf::demo::Variant::sft || a.variant == rltf::demo::Variant::sft_continued ||
      a.variant == rltf::demo::Variant::oracle)
    throw rltf::invalid_argument("--variant must be an RL variant: coarse, coarse_fine, coarse_fine_adaptive, grpo");
  return a;
}

rltf::demo::ExperimentOptions experiment_options(const Args& a) {
  auto o = a.run.experiment(a.seed);
  o.progress = a.progress;
  return o;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

/// One row of the table: a role ("sft", "control", "rltf", "oracle"), its label, and the
/// VariantResult's JSON (reused from disk on a rerun).
struct Row {
  std::string role;
  std::string label;
  nlohmann::json result;
  [[nodiscard]] double pass(std::size_t k) const {
    return result.at("heldout").at("pass_at_k").at("pass@" + std::to_string(k)).get<double>();
  }
  [[nodiscard]] double greedy() const { return result.at("heldout").value("greedy_pass@1", -1.0); }
  [[nodiscard]] double rl_pass() const { return result.at("rl_split").at("sample_pass").get<double>(); }
  [[nodiscard]] double executable() const { return result.at("heldout").at("executable").get<double>(); }
};

std::string table(const std::vector<Row>& rows, const std::vector<std::size_t>& ks) {
  std::string s = "| model | held-out pass@1 | greedy pass@1 |";
  for (auto k : ks)
    if (k != 1) s += " pass@" + std::to_string(k) + " |";
  s += " RL-split pass rate | executable |\n|---|---|---|";
  for (auto k : ks)
    if (k != 1) s += "---|";
  s += "---|---|\n";
  for (const auto& r : rows) {
    s += "| " + r.label + " | " + fmt(r.pass(1)) + " | " + fmt(r.greedy()) + " |";
    for (auto k : ks)
      if (k != 1) s += " " + fmt(r.pass(k)) + " |";
    s += " " + fmt(r.rl_pass()) + " | " + fmt(r.executable()) + " |\n";
  }
  return s;
}

/// The held-out greedy completions, in the human-eval samples convention plus the outcome.
void write_greedy(const std::filesystem::path& path, const rltf::demo::Suite& suite, const rltf::EvalReport& r) {
  rltf::detail::AtomicFile out(path); // replaces the file whole on commit(), fsynced
  for (std::size_t i = 0; i < r.greedy_completions.size(); ++i)
    out << nlohmann::json{{"task_id", suite.heldout[i].task_id},
                          {"prompt", suite.heldout[i].prompt},
                          {"completion", r.greedy_completions[i]},
                          {"outcome", rltf::to_string(r.greedy_outcomes[i])}}
               .dump()
        << "\n";
  out.commit();
}

/// Mean of the first and of the last `n` values of a curve (the RL split's round pass rates).
std::pair<double, double> first_last(const std::vector<std::pair<double, double>>& c, std::size_t n) {
  if (c.empty()) return {0.0, 0.0};
  n = std::min(n, c.size());
  double a = 0.0, b = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    a += c[i].second;
    b += c[c.size() - 1 - i].second;
  }
  return {a / static_cast<double>(n), b / static_cast<double>(n)};
}

#ifdef RLTF_DEMO_TORCH
/// The data-parallel group under torchrun with WORLD_SIZE > 1 (docs/distributed.md), else empty.
std::shared_ptr<rltf::ProcessGroup> demo_group;
#endif

/// Under torchrun with several ranks every rank runs the whole demo (the supervised model, the
/// control and the oracle are computed alike on every rank, each rank writing them under
/// --out/rank-R for R > 0); the RL run is data-parallel, its metrics and checkpoints in the
/// shared --out/<variant>.
template <class P>
int run(const std::function<P()>& make_policy, const std::string& model, const Args& shared_args) {
  const auto t0 = std::chrono::steady_clock::now();
  Args args = shared_args;
  std::size_t rank = 0;
  std::size_t local_ranks = 1;
#ifdef RLTF_DEMO_TORCH
  if (demo_group) {
    rank = demo_group->rank();
    local_ranks = demo_group->environment().local_world_size;
    if (rank > 0) args.out = shared_args.out / ("rank-" + std::to_string(rank));
    // The ranks of a node share its cores.
    if (args.run.workers == 0)
      args.run.workers = std::max<std::size_t>(1, std::max(1U, std::thread::hardware_concurrency()) / local_ranks);
  }
#endif
  const auto o = experiment_options(args);
  const auto suite = rltf::demo::make_suite(o.suite);
  std::filesystem::create_directories(args.out);
  rltf::PythonExecutor executor{rltf::PythonExecutorOptions{.workers = args.run.workers}};
  {
    auto config = rltf::demo::effective_configuration(o);
    config["policy"] = model;
    config["variant"] = id(args.variant);
    config["out"] = args.out.string();
    std::ofstream(args.out / "config.json") << config.dump(2) << "\n";
  }
  P policy = make_policy();
  std::size_t flawed = 0;
  for (bool f : suite.sft_flawed) flawed += f ? 1 : 0;
  std::cout << "rltf-demo" << (args.run.quick ? " (quick)" : "") << ": " << to_string(o.suite.kind) << " suite, "
            << rltf::demo::family_names(o.suite.kind).size() << " problem families; " << suite.sft.size() << " SFT ("
            << flawed << " with a flawed reference), " << suite.rl.size() << " RL, " << suite.heldout.size()
            << " held-out problems\n"
            << "policy: " << model << "\n\n"
            << "[1/4] supervised fine-tuning, " << o.sft.steps << " steps" << std::endl;
  const auto sft_every = std::max<std::size_t>(1, o.sft.steps / 10);
  // What makes the supervised model what it is: reused on a rerun only when this is unchanged.
  nlohmann::json sft_config = rltf::demo::sft_configuration(o);
  sft_config["policy"] = model;
  const auto sft_dir = args.out / "sft";
  const auto sft_run = sft_dir / "run.json";
  rltf::demo::VariantResult sft;
  auto evaluate_sft = [&] {
    rltf::EvalOptions e = o.eval;
    e.seed = o.seed;
    sft.heldout = rltf::evaluate(policy, executor, suite.heldout, e);
    sft.rl_split = rltf::demo::detail::demo_rl_split(policy, executor, suite, o);
  };
  if (args.reuse_sft && std::filesystem::exists(sft_dir / "policy")) {
    std::cout << "  reusing " << (sft_dir / "policy").string() << std::endl;
    policy.load_checkpoint(sft_dir / "policy");
    evaluate_sft();
  } else if (const auto saved = rltf_demo::saved_run(sft_run, sft_config);
             !args.run.fresh && saved.record && std::filesystem::exists(sft_dir / "policy")) {
    std::cout << "  continuing: " << sft_dir.string() << " holds this configuration's supervised model (--fresh "
              << "retrains it)" << std::endl;
    policy.load_checkpoint(sft_dir / "policy");
    sft.sft_loss = saved.record->at("sft_loss").get<std::vector<std::pair<double, double>>>();
    evaluate_sft();
  } else {
    if (!args.run.fresh && !saved.record && std::filesystem::exists(sft_run))
      std::cout << "  retraining: " << sft_dir.string() << " was made with other options (" << saved.change << ")"
                << std::endl;
    // A new supervised model: no run made from the old one may be continued from it.
    std::filesystem::remove(sft_run);
    for (const auto v : rltf::demo::all_variants)
      if (v != rltf::demo::Variant::sft) std::filesystem::remove_all(args.out / std::string(id(v)));
    sft = rltf::demo::run_sft(policy, executor, suite, o, sft_dir, [&](std::size_t step, float loss) {
      if (step % sft_every == 0 || step == o.sft.steps)
        std::cout << "  sft step " << step << "/" << o.sft.steps << "  loss " << fmt(loss) << std::endl;
    });
    rltf::detail::write_file_atomic(sft_run,
                                    nlohmann::json{{"config", sft_config}, {"sft_loss", sft.sft_loss}}.dump() + "\n");
  }
  write_greedy(args.out / "heldout_sft.jsonl", suite, sft.heldout);
  std::cout << "  after SFT: held-out pass@1 " << fmt(sft.heldout.pass_at_k.at(1)) << ", greedy "
            << fmt(sft.heldout.greedy_pass) << "; RL-split pass rate " << fmt(sft.rl_split.sample_pass) << std::endl;

  // A finished run's result is kept in DIR/<variant>/result.json with its configuration, and
  // reused on a rerun made with the same options.
  auto finished = [&](rltf::demo::Variant v, const std::function<rltf::demo::VariantResult()>& compute) {
    const auto dir = args.out / std::string(id(v));
    auto config = rltf::demo::variant_configuration(o, v);
    config["policy"] = model;
    const auto file = dir / "result.json";
    if (const auto saved = rltf_demo::saved_run(file, config); !args.run.fresh && saved.record) {
      std::cout << "  continuing: " << file.string() << " holds this configuration's result" << std::endl;
      return saved.record->at("result");
    }
    const auto r = compute();
    write_greedy(args.out / ("heldout_" + std::string(id(v)) + ".jsonl"), suite, r.heldout);
    auto j = r.to_json();
    std::filesystem::create_directories(dir);
    rltf::detail::write_file_atomic(file, nlohmann::json{{"config", config}, {"result", j}}.dump() + "\n");
    return j;
  };
  auto print = [](const nlohmann::json& j) {
    std::cout << "  held-out pass@1 " << fmt(j["heldout"]["pass_at_k"]["pass@1"].get<double>()) << ", greedy "
              << fmt(j["heldout"].value("greedy_pass@1", -1.0)) << "; RL-split pass rate "
              << fmt(j["rl_split"]["sample_pass"].get<double>()) << "  (" << fmt(j["seconds"].get<double>()) << " s)"
              << std::endl;
  };
  P rl_policy = make_policy();
  rltf::DataParallel dp;
  std::function<void()> broadcast = [] {};
#ifdef RLTF_DEMO_TORCH
  if constexpr (requires { rltf::make_data_parallel(demo_group, rl_policy); })
    if (demo_group) {
      dp = rltf::make_data_parallel(demo_group, rl_policy);
      broadcast = [&] { rltf::broadcast_parameters(*demo_group, rl_policy.parameters()); };
    }
#endif
  std::function<std::shared_ptr<P>()> make_reference = [&] {
    auto p = std::make_shared<P>(make_policy());
    p->load_checkpoint(sft_dir / "policy");
    return p;
  };
  auto from_sft = [&](rltf::demo::Variant v) {
    return finished(v, [&] {
      // An RL run of several ranks shares one folder; the control is every rank's own.
      const bool shared = dp.distributed() && v != rltf::demo::Variant::sft_continued;
      const auto dir = (shared ? shared_args.out : args.out) / std::string(id(v));
      return rltf_demo::run_or_restart(dir, [&] {
        rl_policy.load_checkpoint(sft_dir / "policy");
        if (shared) broadcast(); // every rank starts from rank 0's supervised weights
        return rltf::demo::run_variant(rl_policy, make_reference, executor, suite, v, o, dir,
                                       shared ? dp : rltf::DataParallel{});
      });
    });
  };
  std::cout << "\n[2/4] the control: SFT continued for " << o.learner.steps << " steps on the same data" << std::endl;
  const nlohmann::json control = from_sft(rltf::demo::Variant::sft_continued);
  print(control);
  std::cout << "\n[3/4] RLTF (" << name(args.variant) << "), " << o.learner.steps << " steps" << std::endl;
  const nlohmann::json rl = from_sft(args.variant);
  print(rl);
  std::cout << "\n[4/4] the oracle: supervised fine-tuning on the clean references, " << o.sft.steps << " steps"
            << std::endl;
  const nlohmann::json oracle = finished(rltf::demo::Variant::oracle, [&] {
    P clean = make_policy();
    return rltf::demo::run_sft(clean, executor, suite, o, args.out / "oracle", {}, rltf::demo::Variant::oracle);
  });
  print(oracle);
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const std::vector<Row> rows{{"sft", "SFT", sft.to_json()},
                              {"control", "SFT continued (control)", control},
                              {"rltf", "RLTF " + std::string(name(args.variant)), rl},
                              {"oracle", "oracle (clean SFT)", oracle}};
  const std::string results = table(rows, o.eval.k);
  const auto rl_curve = rl["rl_pass_curve"].get<std::vector<std::pair<double, double>>>();
  const auto [rl_first, rl_last] = first_last(rl_curve, 10);
  const double gain = rows[2].pass(1) - rows[1].pass(1);
  std::cout << "\nresults (" << suite.heldout.size() << " held-out problems, pass@k from " << o.eval.num_samples
            << " samples each at temperature " << o.eval.sampling.temperature << "; RL-split pass rate from "
            << o.rl_eval_samples << " samples of each of " << suite.rl.size() << " problems):\n\n"
            << results << "\nRLTF − control, held-out pass@1: " << (gain >= 0 ? "+" : "") << fmt(gain)
            << "\nRL split's sampled pass rate during RLTF: first 10 rounds " << fmt(rl_first) << ", last 10 rounds "
            << fmt(rl_last) << "\ntotal " << fmt(total) << " s\n";

  // Learning curves: held-out greedy pass@1 during RL and the control (SFT and oracle as lines),
  // the RL split's sampled pass rate per round, and the SFT loss.
  rltf::LinePlot curve{.title = "held-out greedy pass@1", .x_label = "step after SFT", .y_label = "pass@1"};
  curve.series.push_back({.name = "RLTF " + std::string(name(args.variant)),
                          .points = rl["curve"].get<std::vector<std::pair<double, double>>>()});
  curve.series.push_back(
      {.name = "SFT continued", .points = control["curve"].get<std::vector<std::pair<double, double>>>()});
  const double rl_end = static_cast<double>(o.learner.steps);
  curve.series.push_back(
      {.name = "SFT", .points = {{0.0, sft.heldout.greedy_pass}, {rl_end, sft.heldout.greedy_pass}}, .markers = false});
  curve.series.push_back(
      {.name = "oracle", .points = {{0.0, rows[3].greedy()}, {rl_end, rows[3].greedy()}}, .markers = false});
  rltf::LinePlot pass{.title = "RL split: sampled pass rate per round", .x_label = "RL step", .y_label = "pass rate"};
  pass.series.push_back({.name = "RLTF", .points = rl_curve, .markers = false});
  std::vector<rltf::LinePlot> plots{curve, pass};
  if (!sft.sft_loss.empty()) {
    rltf::LinePlot loss{.title = "supervised loss", .x_label = "SFT step", .y_label = "cross-entropy"};
    loss.series.push_back({.name = "SFT", .points = sft.sft_loss, .markers = false});
    plots.push_back(loss);
  }
  rltf::save_png(plots, args.out / "curves.png");

  nlohmann::json by_name = nlohmann::json::object();
  for (const auto& r : rows) {
    by_name[r.role] = r.result;
    by_name[r.role]["label"] = r.label;
  }
  nlohmann::json j{
      {"quick", args.run.quick},
      {"seed", args.seed},
      {"policy", model},
      {"suite", o.suite},
      {"problems",
       {{"sft", suite.sft.size()}, {"sft_flawed", flawed}, {"rl", suite.rl.size()}, {"heldout", suite.heldout.size()}}},
      {"sft_steps", o.sft.steps},
      {"rl_steps", o.learner.steps},
      {"results", by_name},
      {"rltf_minus_control_pass@1", gain},
      {"rl_split_pass_first_last_10_rounds", {rl_first, rl_last}},
      {"seconds", total}};
  rltf::detail::write_file_atomic(args.out / "results.json", j.dump(2) + "\n");
  rltf::detail::write_file_atomic(args.out / "results.md",
                                  "# rltf-demo results\n\npolicy: " + model + "\n\n" + results);
  std::cout << "wrote " << (args.out / "results.json").string() << ", " << (args.out / "results.md").string() << ", "
            << (args.out / "curves.png").string() << "\n";
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  rltf_demo::prepare_numerics(argv);
  try {
    const Args args = parse(argc, argv);
    // torchrun with several processes (docs/distributed.md): the RL run is data-parallel.
    if (const char* world = std::getenv("WORLD_SIZE"); world != nullptr && std::string(world) != "1") {
#ifdef RLTF_DEMO_TORCH
      if (args.run.model.policy != "torch")
        throw rltf::invalid_argument("WORLD_SIZE=" + std::string(world) +
                                     ": data-parallel training needs --policy torch (the Eigen policy has no "
                                     "gradient all-reduce)");
      demo_group = std::make_shared<rltf::ProcessGroup>(rltf::RankEnvironment::from_env(),
                                                        rltf::DistributedOptions{.timeout_s = 3600});
#else
      throw rltf::invalid_argument("WORLD_SIZE=" + std::string(world) +
                                   ": data-parallel training needs LibTorch (this rltf-demo was built without it)");
#endif
    }
    const auto suite = rltf::demo::make_suite(experiment_options(args).suite);
    const auto tokenizer = rltf_demo::make_tokenizer(suite);
    return rltf_demo::with_policy(args.run.model, tokenizer, args.seed,
                                  [&](const auto& make, const std::string& model) {
                                    using P = std::invoke_result_t<std::remove_cvref_t<decltype(make)>>;
                                    return run<P>(make, model, args);
                                  });
  } catch (const rltf::invalid_argument& e) {
    std::cerr << "rltf-demo: " << e.what() << "\nRun with --help for more information.\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "rltf-demo: " << e.what() << "\n";
    return 1;
  }
}
