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
#include <vector>

#include <nlohmann/json.hpp>

#include <rltf/core/error.hpp>
#include <rltf/detail/atomic_file.hpp>
#include <rltf/exec/python_executor.hpp>
#include <rltf_demo/experiment.hpp>
#include <rltf_demo/suite.hpp>
#include <rltf_programs/cli.hpp>
#include <rltf_programs/plot.hpp>

#include "policies.hpp"

namespace {

constexpr std::string_view usage_head =
    "usage: rltf-demo [--out DIR] [--seed N] [--variant V] [--reuse-sft] [--progress auto|bar|lines|off]\n";
constexpr std::string_view usage_tail =
    "  V: coarse, coarse_fine, coarse_fine_adaptive (default), grpo\n"
    "  a stopped run continues when the same command is run again; --fresh starts over\n"
    "  --reuse-sft: load DIR/sft/policy from an earlier run, whatever its configuration\n";

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
  for (rltf::CommandLine args(argc, argv); args.next();) {
    if (a.run.read(args)) continue;
    if (args.is("--out")) {
      a.out = args.value();
    } else if (args.is("--seed")) {
      a.seed = args.unsigned_value();
    } else if (args.is("--variant")) {
      a.variant = rltf::demo::variant_from_id(args.value());
      if (a.variant == rltf::demo::Variant::sft || a.variant == rltf::demo::Variant::sft_continued)
        throw rltf::invalid_argument(
            "--variant must be an RL variant: coarse, coarse_fine, coarse_fine_adaptive, grpo");
    } else if (args.is("--reuse-sft")) {
      a.reuse_sft = true;
    } else if (args.is("--progress")) {
      a.progress = args.choice_value(rltf::progress_modes);
    } else if (args.is("--help") || args.is("-h")) {
      std::cout << usage_head << rltf_demo::RunArgs::usage << usage_tail;
      std::exit(0);
    } else {
      args.unknown();
    }
  }
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

std::string table(const std::vector<rltf::demo::VariantResult>& rows, const std::vector<std::size_t>& ks) {
  std::string s = "| model | greedy pass@1 |";
  for (auto k : ks) s += " pass@" + std::to_string(k) + " |";
  s += " executable |\n|---|---|";
  for (std::size_t i = 0; i < ks.size(); ++i) s += "---|";
  s += "---|\n";
  for (const auto& r : rows) {
    s += "| " + std::string(r.variant == rltf::demo::Variant::sft ? "SFT" : "RLTF " + std::string(name(r.variant))) +
         " | " + fmt(r.heldout.greedy_pass) + " |";
    for (auto k : ks) s += " " + fmt(r.heldout.pass_at_k.at(k)) + " |";
    s += " " + fmt(r.heldout.executable) + " |\n";
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

template <class P>
int run(const std::function<P()>& make_policy, const std::string& model, const Args& args) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto o = experiment_options(args);
  const auto suite = rltf::demo::make_suite(o.suite);
  std::filesystem::create_directories(args.out);
  rltf::PythonExecutor executor{rltf::PythonExecutorOptions{.workers = args.run.workers}};
  P policy = make_policy();
  std::cout << "rltf-demo" << (args.run.quick ? " (quick)" : "") << ": " << rltf::demo::family_names().size()
            << " problem families; " << suite.sft.size() << " SFT, " << suite.rl.size() << " RL, "
            << suite.heldout.size() << " held-out problems\n"
            << "policy: " << model << "\n\n"
            << "[1/2] supervised fine-tuning, " << o.sft.steps << " steps" << std::endl;
  const auto sft_every = std::max<std::size_t>(1, o.sft.steps / 10);
  // What makes the supervised model what it is: reused on a rerun only when this is unchanged.
  nlohmann::json sft_config = rltf::demo::sft_configuration(o);
  sft_config["policy"] = model;
  const auto sft_dir = args.out / "sft";
  const auto sft_run = sft_dir / "run.json";
  const auto rl_dir = args.out / std::string(id(args.variant));
  rltf::demo::VariantResult sft;
  auto evaluate_sft = [&] {
    rltf::EvalOptions e = o.eval;
    e.seed = o.seed;
    sft.heldout = rltf::evaluate(policy, executor, suite.heldout, e);
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
    // A new supervised model: no RL run of the old one may be continued from it.
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
  std::cout << "  held-out after SFT: greedy pass@1 " << fmt(sft.heldout.greedy_pass) << ", pass@1 "
            << fmt(sft.heldout.pass_at_k.at(1)) << "  (" << fmt(sft.seconds) << " s)\n\n"
            << "[2/2] RLTF (" << name(args.variant) << "), " << o.learner.steps << " steps" << std::endl;
  P rl_policy = make_policy();
  std::function<std::shared_ptr<P>()> make_reference = [&] {
    auto p = std::make_shared<P>(make_policy());
    p->load_checkpoint(sft_dir / "policy");
    return p;
  };
  const auto rl = rltf_demo::run_or_restart(rl_dir, [&] {
    rl_policy.load_checkpoint(sft_dir / "policy");
    return rltf::demo::run_variant(rl_policy, make_reference, executor, suite, args.variant, o, rl_dir);
  });
  write_greedy(args.out / ("heldout_" + std::string(id(args.variant)) + ".jsonl"), suite, rl.heldout);
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const std::vector<rltf::demo::VariantResult> rows{sft, rl};
  const std::string results = table(rows, o.eval.k);
  std::cout << "\nheld-out results (" << suite.heldout.size() << " problems; pass@k from " << o.eval.num_samples
            << " samples each at temperature " << o.eval.sampling.temperature << "):\n\n"
            << results << "\ntotal " << fmt(total) << " s\n";

  // Learning curves: held-out greedy pass@1 during RL (SFT as the reference line), the training
  // reward, and the SFT loss.
  rltf::LinePlot curve{.title = "held-out greedy pass@1", .x_label = "RL step", .y_label = "pass@1"};
  curve.series.push_back({.name = "RLTF " + std::string(name(args.variant)), .points = rl.curve});
  const double rl_end = rl.curve.empty() ? static_cast<double>(o.learner.steps) : rl.curve.back().first;
  curve.series.push_back(
      {.name = "SFT", .points = {{0.0, sft.heldout.greedy_pass}, {rl_end, sft.heldout.greedy_pass}}, .markers = false});
  rltf::LinePlot reward{.title = "training reward (round mean)", .x_label = "RL step", .y_label = "reward"};
  // Rounds differ in difficulty (16 problems each): the mean over the last 10 rounds.
  std::vector<std::pair<double, double>> smooth;
  for (std::size_t i = 0; i < rl.reward.size(); ++i) {
    const std::size_t from = i >= 9 ? i - 9 : 0;
    double sum = 0.0;
    for (std::size_t j = from; j <= i; ++j) sum += rl.reward[j].second;
    smooth.emplace_back(rl.reward[i].first, sum / static_cast<double>(i - from + 1));
  }
  reward.series.push_back({.name = "RLTF (mean of 10 rounds)", .points = smooth, .markers = false});
  std::vector<rltf::LinePlot> plots{curve, reward};
  if (!sft.sft_loss.empty()) {
    rltf::LinePlot loss{.title = "supervised loss", .x_label = "SFT step", .y_label = "cross-entropy"};
    loss.series.push_back({.name = "SFT", .points = sft.sft_loss, .markers = false});
    plots.push_back(loss);
  }
  rltf::save_png(plots, args.out / "curves.png");

  nlohmann::json j{
      {"quick", args.run.quick},
      {"seed", args.seed},
      {"policy", model},
      {"problems", {{"sft", suite.sft.size()}, {"rl", suite.rl.size()}, {"heldout", suite.heldout.size()}}},
      {"sft_steps", o.sft.steps},
      {"rl_steps", o.learner.steps},
      {"results", {sft.to_json(), rl.to_json()}},
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
    const auto suite = rltf::demo::make_suite(experiment_options(args).suite);
    const auto tokenizer = rltf_demo::make_tokenizer(suite);
    return rltf_demo::with_policy(args.run.model, tokenizer, args.seed,
                                  [&](const auto& make, const std::string& model) {
                                    using P = std::invoke_result_t<std::remove_cvref_t<decltype(make)>>;
                                    return run<P>(make, model, args);
                                  });
  } catch (const rltf::invalid_argument& e) {
    std::cerr << "rltf-demo: " << e.what() << "\n" << usage_head << rltf_demo::RunArgs::usage << usage_tail;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "rltf-demo: " << e.what() << "\n";
    return 1;
  }
}
