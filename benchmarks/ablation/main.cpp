// rltf-ablation: the RLTF paper's ablation on the demo suite — SFT only, + coarse, + coarse + fine,
// + coarse + fine + adaptive — plus GRPO and a supervised-only control (SFT continued for as many
// steps as RL takes), over several seeds; held-out pass@1 mean ± std, written as a Markdown
// table, a JSON file and a PNG of the learning curves.
//
//   rltf-ablation [--quick] [--seeds 1,2,3] [--variants sft,coarse,...] [--out DIR]
//                 [--policy torch|eigen] [--sft-steps N] [--rl-steps N] [--rl-lr X] [--workers N]
//                 [--n-embd N] [--n-layer N] [--threads N] [--markdown FILE] [--png FILE] [--fresh]
//
// Each seed's SFT model is trained once and shared by its variants. Results are saved per seed
// and variant as they finish, and RL runs checkpoint: rerunning the same command continues where
// a killed run stopped (--fresh starts over).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <rltf/core/error.hpp>
#include <rltf/exec/python_executor.hpp>
#include <rltf_demo/experiment.hpp>
#include <rltf_programs/options.hpp>
#include <rltf_programs/plot.hpp>

#include "policies.hpp"

namespace {

struct Args {
  rltf_demo::RunArgs run;
  std::vector<std::uint64_t> seeds{1, 2, 3};
  std::vector<rltf::demo::Variant> variants{std::begin(rltf::demo::all_variants), std::end(rltf::demo::all_variants)};
  std::filesystem::path out = "rltf-ablation-out";
  std::filesystem::path markdown;
  std::filesystem::path png;
};

Args parse(int argc, char** argv) {
  Args a;
  rltf::programs::Cli cli("rltf-ablation",
                          "The demo's variants over seeds: mean ± std, paired differences, the RL split's curve "
                          "(docs/results.md). A stopped run continues when the same command is run again; --fresh "
                          "starts over.");
  a.run.add_to(cli);
  cli.counts("--seeds", a.seeds, "seeds (comma list)");
  std::vector<std::string> variants;
  cli.list("--variants", variants,
           "sft, sft_continued, coarse, coarse_fine, coarse_fine_adaptive, grpo, oracle (default: all)");
  cli.out(a.out);
  cli.text("--markdown", a.markdown, "also write the table here", "FILE");
  cli.text("--png", a.png, "also write the plot here", "FILE");
  if (const auto status = cli.parse_or_exit(argc, argv)) std::exit(*status);
  a.run.check_values();
  if (!variants.empty()) {
    a.variants.clear();
    for (const auto& v : variants) a.variants.push_back(rltf::demo::variant_from_id(v));
  }
  return a;
}

rltf::demo::ExperimentOptions experiment_options(const Args& a, std::uint64_t seed) {
  auto o = a.run.experiment(seed);
  o.progress = rltf::ProgressMode::lines;
  return o;
}

/// What the tables need from one (seed, variant) run.
struct Row {
  double greedy = 0.0;
  std::map<std::size_t, double> pass;
  double executable = 0.0;
  double rl_pass = 0.0; ///< the final model's sampled pass rate on the RL split
  std::vector<std::pair<double, double>> curve;
  std::vector<std::pair<double, double>> rl_curve; ///< (RL step, the round's sampled pass rate)
  double seconds = 0.0;
  /// The area under the RL split's pass-rate curve, per step (the mean pass rate of the rounds,
  /// weighted by the steps between them): sample efficiency. −1 without a curve.
  [[nodiscard]] double auc() const {
    if (rl_curve.size() < 2) return -1.0;
    double a = 0.0;
    for (std::size_t i = 1; i < rl_curve.size(); ++i)
      a += 0.5 * (rl_curve[i].second + rl_curve[i - 1].second) * (rl_curve[i].first - rl_curve[i - 1].first);
    return a / (rl_curve.back().first - rl_curve.front().first);
  }
  nlohmann::json to_json() const {
    nlohmann::json p = nlohmann::json::object();
    for (const auto& [k, v] : pass) p[std::to_string(k)] = v;
    return {{"greedy", greedy},     {"pass", p},    {"executable", executable}, {"rl_pass", rl_pass}, {"curve", curve},
            {"rl_curve", rl_curve}, {"auc", auc()}, {"seconds", seconds}};
  }
  static Row from_json(const nlohmann::json& j) {
    Row r;
    r.greedy = j.at("greedy").get<double>();
    for (const auto& [k, v] : j.at("pass").items()) r.pass[std::stoul(k)] = v.get<double>();
    r.executable = j.at("executable").get<double>();
    r.rl_pass = j.at("rl_pass").get<double>();
    r.curve = j.at("curve").get<std::vector<std::pair<double, double>>>();
    r.rl_curve = j.at("rl_curve").get<std::vector<std::pair<double, double>>>();
    r.seconds = j.at("seconds").get<double>();
    return r;
  }
  static Row from(const rltf::demo::VariantResult& v) {
    Row r;
    r.greedy = v.heldout.greedy_pass;
    r.pass = v.heldout.pass_at_k;
    r.executable = v.heldout.executable;
    r.rl_pass = v.rl_split.sample_pass;
    r.curve = v.curve;
    r.rl_curve = v.rl_pass;
    r.seconds = v.seconds;
    return r;
  }
};

std::pair<double, double> mean_std(const std::vector<double>& v) {
  double m = 0.0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  double ss = 0.0;
  for (double x : v) ss += (x - m) * (x - m);
  return {m, v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0.0};
}

/// "mean ± std", with the sign of the mean when `signed_mean` (for differences).
std::string pm(const std::vector<double>& v, bool signed_mean = false) {
  const auto [m, s] = mean_std(v);
  char buf[64];
  std::snprintf(buf, sizeof buf, signed_mean ? "%+.3f ± %.3f" : "%.3f ± %.3f", m, s);
  return buf;
}

template <class P>
void run_seed(const std::function<P()>& make_policy, const std::string& description, const Args& args,
              std::uint64_t seed, rltf::PythonExecutor& executor,
              std::map<rltf::demo::Variant, std::map<std::uint64_t, Row>>& rows, std::string& model) {
  model = description;
  const auto o = experiment_options(args, seed);
  const auto suite = rltf::demo::make_suite(o.suite);
  const auto dir = args.out / ("seed-" + std::to_string(seed));
  const auto sft_dir = dir / "sft";
  std::filesystem::create_directories(dir);
  // What each result is a result of: reused from disk only when it was made with this.
  auto config = [&](rltf::demo::Variant v) {
    auto c = rltf::demo::variant_configuration(o, v);
    c["policy"] = description;
    return c;
  };
  auto load_or_run = [&](rltf::demo::Variant v, const std::function<rltf::demo::VariantResult()>& run) {
    const auto file = dir / (std::string(id(v)) + ".json");
    const auto c = config(v);
    const auto saved = rltf_demo::saved_run(file, c);
    if (!args.run.fresh && saved.record) {
      rows[v][seed] = Row::from_json(*saved.record);
      std::cout << "seed " << seed << " " << name(v) << ": reusing " << file.string() << std::endl;
      return;
    }
    if (!args.run.fresh && std::filesystem::exists(file))
      std::cout << "seed " << seed << " " << name(v) << ": " << file.string() << " was made with other options ("
                << saved.change << "); running it again" << std::endl;
    std::cout << "seed " << seed << " " << name(v) << " ..." << std::endl;
    const Row r = Row::from(run());
    auto j = r.to_json();
    j["config"] = c;
    std::ofstream(file) << j.dump(1) << "\n";
    rows[v][seed] = r;
    std::cout << "seed " << seed << " " << name(v) << ": greedy pass@1 " << r.greedy << ", pass@1 " << r.pass.at(1)
              << ", RL-split pass rate " << r.rl_pass << " (" << r.seconds << " s)" << std::endl;
  };
  // The supervised model: trained once per seed (reused from disk when it was made with these options).
  const bool have_sft = !args.run.fresh && std::filesystem::exists(sft_dir / "policy") &&
                        rltf_demo::saved_run(dir / "sft.json", config(rltf::demo::Variant::sft)).record.has_value();
  if (!have_sft) {
    // A new supervised model invalidates every result of this seed.
    for (const auto v : rltf::demo::all_variants) {
      if (v != rltf::demo::Variant::sft) std::filesystem::remove_all(dir / std::string(id(v)));
      std::filesystem::remove(dir / (std::string(id(v)) + ".json"));
    }
    P policy = make_policy();
    load_or_run(rltf::demo::Variant::sft, [&] { return rltf::demo::run_sft(policy, executor, suite, o, sft_dir); });
  } else {
    load_or_run(rltf::demo::Variant::sft, [&]() -> rltf::demo::VariantResult { throw rltf::error("unreachable"); });
  }
  for (const auto v : args.variants) {
    if (v == rltf::demo::Variant::sft) continue;
    if (v == rltf::demo::Variant::oracle) {
      load_or_run(v, [&] {
        P clean = make_policy();
        return rltf::demo::run_sft(clean, executor, suite, o, dir / "oracle", {}, rltf::demo::Variant::oracle);
      });
      continue;
    }
    load_or_run(v, [&] {
      P policy = make_policy();
      policy.load_checkpoint(sft_dir / "policy");
      std::function<std::shared_ptr<P>()> reference = [&] {
        auto p = std::make_shared<P>(make_policy());
        p->load_checkpoint(sft_dir / "policy");
        return p;
      };
      const auto rl_dir = dir / std::string(id(v));
      return rltf_demo::run_or_restart(rl_dir, [&] {
        policy.load_checkpoint(sft_dir / "policy");
        return rltf::demo::run_variant(policy, reference, executor, suite, v, o, rl_dir);
      });
    });
  }
}

} // namespace

int main(int argc, char** argv) {
  rltf_demo::prepare_numerics(argv);
  try {
    const Args args = parse(argc, argv);
    const auto t0 = std::chrono::steady_clock::now();
    std::filesystem::create_directories(args.out);
    rltf::PythonExecutor executor{rltf::PythonExecutorOptions{.workers = args.run.workers}};
    std::map<rltf::demo::Variant, std::map<std::uint64_t, Row>> rows;
    std::string model;
    const auto o = experiment_options(args, args.seeds.front());
    const auto suite = rltf::demo::make_suite(o.suite);
    for (const auto seed : args.seeds) {
      // Each seed has its own suite (the suite's seed follows the run's) and so its own tokenizer.
      const auto tokenizer = rltf_demo::make_tokenizer(rltf::demo::make_suite(experiment_options(args, seed).suite));
      const int rc = rltf_demo::with_policy(args.run.model, tokenizer, seed,
                                            [&](const auto& make, const std::string& description) {
                                              using P = std::invoke_result_t<std::remove_cvref_t<decltype(make)>>;
                                              run_seed<P>(make, description, args, seed, executor, rows, model);
                                              return 0;
                                            });
      if (rc != 0) return rc;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // The table: one row per variant, mean ± std over seeds.
    std::vector<rltf::demo::Variant> order{rltf::demo::Variant::sft};
    for (auto v : args.variants)
      if (v != rltf::demo::Variant::sft) order.push_back(v);
    std::ostringstream md;
    md << "| variant | held-out pass@1 | Δ pass@1 vs SFT (paired) | Δ pass@1 vs control (paired) | greedy pass@1 | "
          "Δ greedy vs SFT |";
    for (auto k : o.eval.k)
      if (k != 1) md << " pass@" << k << " |";
    md << " RL-split pass rate | RL-split AUC | executable | seeds |\n|---|---|---|---|---|---|";
    for (auto k : o.eval.k)
      if (k != 1) md << "---|";
    md << "---|---|---|---|\n";
    // Seeds differ far more than settings do (each seed trains its own SFT model), so each RL
    // setting is also compared with the SFT model it started from: the per-seed difference,
    // mean ± std, and on how many seeds it was higher.
    // The same against the control (SFT continued for as many steps): does RL beat training longer?
    const auto paired = [&](rltf::demo::Variant v, auto get, rltf::demo::Variant against = rltf::demo::Variant::sft) {
      std::vector<double> d;
      std::size_t higher = 0;
      const auto& base = rows[against];
      for (const auto& [seed, r] : rows[v])
        if (const auto b = base.find(seed); b != base.end()) {
          d.push_back(get(r) - get(b->second));
          higher += get(r) > get(b->second) ? 1 : 0;
        }
      if (d.empty() || v == against) return std::string("—");
      char buf[32];
      std::snprintf(buf, sizeof buf, " (%zu/%zu higher)", higher, d.size());
      return pm(d, true) + buf;
    };
    nlohmann::json results = nlohmann::json::object();
    for (auto v : order) {
      if (!rows.contains(v)) continue;
      std::vector<double> p1, greedy, exe, rlp, auc;
      std::map<std::size_t, std::vector<double>> pk;
      nlohmann::json per_seed = nlohmann::json::object();
      for (const auto& [seed, r] : rows[v]) {
        p1.push_back(r.pass.at(1));
        greedy.push_back(r.greedy);
        exe.push_back(r.executable);
        rlp.push_back(r.rl_pass);
        if (r.auc() >= 0.0) auc.push_back(r.auc());
        for (const auto& [k, x] : r.pass) pk[k].push_back(x);
        per_seed[std::to_string(seed)] = r.to_json();
      }
      const auto p1_of = [](const Row& r) { return r.pass.at(1); };
      md << "| " << name(v) << " | " << pm(p1) << " | " << paired(v, p1_of) << " | "
         << paired(v, p1_of, rltf::demo::Variant::sft_continued) << " | " << pm(greedy) << " | "
         << paired(v, [](const Row& r) { return r.greedy; }) << " |";
      for (auto k : o.eval.k)
        if (k != 1) md << " " << pm(pk[k]) << " |";
      md << " " << pm(rlp) << " | " << (auc.empty() ? std::string("—") : pm(auc)) << " | " << pm(exe) << " | "
         << p1.size() << " |\n";
      const auto [m, s] = mean_std(p1);
      results[std::string(id(v))] = {{"name", name(v)}, {"pass@1_mean", m}, {"pass@1_std", s}, {"seeds", per_seed}};
    }
    std::cout << "\n" << md.str();
    char temperature[16];
    std::snprintf(temperature, sizeof temperature, "%g", static_cast<double>(o.eval.sampling.temperature));
    const std::string header = "policy: " + model + "\nheld-out: " + std::to_string(suite.heldout.size()) +
                               " problems; pass@k from " + std::to_string(o.eval.num_samples) +
                               " samples at temperature " + temperature +
                               ", greedy pass@1 from one greedy decode; mean ± std over seeds\n";
    std::ofstream(args.out / "ablation.md") << header << "\n" << md.str();
    std::ofstream(args.out / "ablation.json") << nlohmann::json{{"policy", model},
                                                                {"quick", args.run.quick},
                                                                {"sft_steps", o.sft.steps},
                                                                {"rl_steps", o.learner.steps},
                                                                {"rl_lr", o.learner.optimizer.lr},
                                                                {"heldout", suite.heldout.size()},
                                                                {"results", results},
                                                                {"seconds", seconds}}
                                                     .dump(2)
                                              << "\n";
    if (!args.markdown.empty()) std::ofstream(args.markdown) << header << "\n" << md.str();

    // Learning curves: mean held-out greedy pass@1 over seeds, ± std, per RL variant.
    rltf::LinePlot plot{.title = "held-out greedy pass@1 during training (mean over seeds)",
                        .x_label = "optimiser step after SFT",
                        .y_label = "greedy pass@1"};
    for (auto v : order) {
      if (!rows.contains(v) || v == rltf::demo::Variant::sft) continue;
      std::map<double, std::vector<double>> at;
      for (const auto& [seed, r] : rows[v])
        for (const auto& [x, y] : r.curve) at[x].push_back(y);
      rltf::PlotSeries s{.name = std::string(name(v))};
      for (const auto& [x, ys] : at) {
        const auto [m, sd] = mean_std(ys);
        s.points.emplace_back(x, m);
        s.errors.push_back(sd);
      }
      plot.series.push_back(s);
    }
    if (rows.contains(rltf::demo::Variant::sft) && !plot.series.empty()) {
      std::vector<double> g;
      for (const auto& [seed, r] : rows[rltf::demo::Variant::sft]) g.push_back(r.greedy);
      const double m = mean_std(g).first;
      double end = 0.0;
      for (const auto& s : plot.series)
        if (!s.points.empty()) end = std::max(end, s.points.back().first);
      plot.series.push_back({.name = "SFT", .points = {{0.0, m}, {end, m}}, .markers = false});
    }
    if (!plot.series.empty()) {
      rltf::save_png({plot}, args.out / "ablation.png");
      if (!args.png.empty()) rltf::save_png({plot}, args.png);
    }
    std::cout << "wrote " << (args.out / "ablation.md").string() << ", " << (args.out / "ablation.json").string()
              << ", " << (args.out / "ablation.png").string() << " (" << seconds << " s)\n";
    return 0;
  } catch (const rltf::invalid_argument& e) {
    std::cerr << "rltf-ablation: " << e.what() << "\nRun with --help for more information.\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "rltf-ablation: " << e.what() << "\n";
    return 1;
  }
}
