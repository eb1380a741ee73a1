#pragma once
// The policies rltf-demo and rltf-ablation train: a tiny GPT-2 on LibTorch (when the build has
// it) or rltf's Eigen policy, both over a character tokenizer fitted to the suite; and the small
// helpers both programs share.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <rltf/core/error.hpp>
#include <rltf/eigen/policy.hpp>
#include <rltf/tokenize/char.hpp>
#include <rltf/train/detail/config.hpp>
#include <rltf/train/trainable_policy.hpp>
#include <rltf_demo/experiment.hpp>
#include <rltf_demo/suite.hpp>
#include <rltf_programs/options.hpp>

#ifdef RLTF_DEMO_TORCH
#include <rltf/torch/distributed.hpp>
#include <rltf/torch/policy.hpp>
#endif

namespace rltf_demo {

/// The JSON in `path`; nothing when the file is missing or not whole JSON (say, a run was killed
/// while writing it).
inline std::optional<nlohmann::json> read_json_if(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

/// What `file` records (a JSON object whose "config" field is the configuration it was made with),
/// when that is `config`; otherwise why it cannot be reused.
struct SavedRun {
  std::optional<nlohmann::json> record; ///< the file's JSON, when made with `config`
  std::string change;                   ///< otherwise: the first option that differs, or "no record …"
};

inline SavedRun saved_run(const std::filesystem::path& file, const nlohmann::json& config) {
  auto saved = read_json_if(file);
  if (!saved || !saved->is_object() || !saved->contains("config")) return {std::nullopt, "no record of its options"};
  if (const auto d = rltf::train::detail::config_difference(saved->at("config"), config))
    return {std::nullopt, d->path + " was " + d->was + ", now " + d->now};
  return {std::move(saved), {}};
}

/// Runs `run()` (an RL run that continues from the checkpoints in `dir`); when `dir` holds a run
/// made for other options (or one that went further than this run goes), says so, removes `dir`
/// and runs again from the start.
template <class F>
auto run_or_restart(const std::filesystem::path& dir, F&& run) {
  try {
    return run();
  } catch (const rltf::checkpoint_mismatch& e) {
    std::cout << "  " << dir.string() << " holds an RL run made with other options (" << e.field()
              << "); starting it over" << std::endl;
    std::filesystem::remove_all(dir);
    return run();
  }
}

/// The characters of every prompt and reference solution of the suite.
inline rltf::CharTokenizer make_tokenizer(const rltf::demo::Suite& suite) {
  std::vector<std::string> texts;
  for (const auto* split : {&suite.sft, &suite.sft_clean, &suite.rl, &suite.heldout})
    for (const auto& p : *split) {
      texts.push_back(p.prompt);
      for (const auto& s : p.solutions) texts.push_back(s);
    }
  return rltf::CharTokenizer::from_texts(texts);
}

/// Which model, how big.
struct ModelOptions {
#ifdef RLTF_DEMO_TORCH
  std::string policy = "torch";
#else
  std::string policy = "eigen";
#endif
  long n_embd = 64; ///< GPT-2 width
  long n_layer = 2; ///< GPT-2 layers
  int threads = 0;  ///< LibTorch intra-op threads (0: LibTorch's default)
};

/// Throws rltf::invalid_argument for an unknown or unavailable policy.
inline void check(const ModelOptions& m) {
  if (m.policy != "torch" && m.policy != "eigen")
    throw rltf::invalid_argument("--policy must be torch or eigen, got '" + m.policy + "'");
#ifndef RLTF_DEMO_TORCH
  if (m.policy == "torch")
    throw rltf::invalid_argument("--policy torch: this build has no LibTorch (configure with LibTorch installed)");
#endif
}

/// The options rltf-demo and rltf-ablation share: the model, the step budgets, the executor, and
/// whether to continue what an output folder holds.
struct RunArgs {
  bool quick = false;                         ///< the CI-sized experiment
  bool fresh = false;                         ///< ignore earlier results and checkpoints in the output folder
  ModelOptions model;                         ///< --policy, --n-embd, --n-layer, --threads
  std::optional<std::size_t> sft_steps;       ///< none: the experiment's default
  std::optional<std::size_t> rl_steps;        ///< none: the experiment's default
  float rl_lr = -1.0F;                        ///< -1: the experiment's default
  std::size_t workers = 0;                    ///< executor processes (0: one per core)
  std::optional<rltf::Baseline> baseline;     ///< RLTF's baseline (none: the experiment's default)
  std::optional<bool> novel_heldout;          ///< --heldout novel|whole (none: the experiment's default)
  float sl_coef = -1.0F;                      ///< λ_sl of RLTF's supervised term (-1: the experiment's default)
  std::vector<std::string> families;          ///< the suite's families (empty: all)
  std::optional<rltf::demo::SuiteKind> suite; ///< --suite bugs|names (none: bugs)
  double flaw_fraction = -1.0;                ///< --flaw-fraction (-1: the suite's default, 0.5)

  static constexpr std::pair<std::string_view, bool> heldout_names[] = {{"novel", true}, {"whole", false}};
  static constexpr std::pair<std::string_view, rltf::demo::SuiteKind> suite_names[] = {
      {"bugs", rltf::demo::SuiteKind::bugs}, {"names", rltf::demo::SuiteKind::names}};

  /// Registers these options on a program's command line (rltf::programs::Cli: --help, --flag=value,
  /// --config FILE.json).
  void add_to(rltf::programs::Cli& cli) {
    cli.flag("--quick", quick, "the CI-sized experiment");
    cli.flag("--fresh", fresh, "ignore earlier results and checkpoints in the output folder");
    cli.text("--policy", model.policy, "torch (a tiny GPT-2 on LibTorch) or eigen (rltf's Eigen policy)",
             "torch|eigen");
    cli.count("--n-embd", model.n_embd, "GPT-2 width", 1);
    cli.count("--n-layer", model.n_layer, "GPT-2 layers", 1);
    cli.count("--threads", model.threads, "LibTorch intra-op threads (0: LibTorch's default)");
    cli.count("--sft-steps", sft_steps, "supervised steps (default: the experiment's)");
    cli.count("--rl-steps", rl_steps, "RL steps (default: the experiment's)");
    cli.positive("--rl-lr", rl_lr, "RL learning rate (-1: the experiment's default)");
    cli.workers(workers);
    cli.number("--sl-coef", sl_coef, "λ_sl of RLTF's supervised term (-1: the experiment's default)");
    cli.list("--families", families, "the suite's families (default: all)");
    cli.choice("--heldout", novel_heldout, heldout_names,
               "held-out problems: novel names/constants or the whole domain");
    cli.choice("--suite", suite, suite_names, "the problem suite (default: bugs)");
    cli.number("--flaw-fraction", flaw_fraction, "share of flawed SFT references (-1: the suite's default, 0.5)");
    cli.choice("--baseline", baseline, rltf::algo::baselines, "RLTF's baseline (default: the experiment's)");
  }

  /// Checks what the options' kinds cannot; throws rltf::invalid_argument.
  void check_values() const {
    check(model);
    if (sl_coef < 0.0F && sl_coef != -1.0F) throw rltf::invalid_argument("--sl-coef must be ≥ 0");
    if (flaw_fraction != -1.0 && !(flaw_fraction >= 0.0 && flaw_fraction <= 1.0))
      throw rltf::invalid_argument("--flaw-fraction must be in [0, 1], got " + std::to_string(flaw_fraction));
  }

  /// The experiment these options ask for, with `seed`.
  [[nodiscard]] rltf::demo::ExperimentOptions experiment(std::uint64_t seed) const {
    rltf::demo::ExperimentOptions o = quick ? rltf::demo::quick_options() : rltf::demo::ExperimentOptions{};
    o.seed = seed;
    o.suite.seed = seed; // each seed its own suite (and its own flawed references)
    o.resume = !fresh;
    if (suite == rltf::demo::SuiteKind::names) {
      // The older suite at its own sizes (docs/results.md, "The older names suite").
      o.suite.kind = rltf::demo::SuiteKind::names;
      o.suite.seed = 2024;
      if (!quick) o.suite.sft_per_family = o.suite.rl_per_family = 48;
    }
    if (flaw_fraction >= 0.0) o.suite.flaw_fraction = flaw_fraction;
    // The Eigen policy's steps are cheap and it needs more of them (4000 steps: about a minute).
    if (model.policy == "eigen" && !quick) o.sft.steps = 4000;
    if (sft_steps) o.sft.steps = *sft_steps;
    if (rl_steps) o.learner.steps = *rl_steps;
    if (rl_lr > 0.0F) o.learner.optimizer.lr = rl_lr;
    if (sl_coef >= 0.0F) o.loss.sl_coef = sl_coef;
    if (!families.empty()) o.suite.families = families;
    if (novel_heldout) o.suite.novel_heldout = *novel_heldout;
    if (baseline) o.loss.baseline = *baseline;
    return o;
  }
};

#ifdef RLTF_DEMO_TORCH
/// Gpt2Policy with the TrainablePolicy fast path: back-propagate through the graph of the
/// log-probabilities the trainer just computed, instead of running the forward pass again.
class DemoGpt2Policy : public rltf::Gpt2Policy<rltf::CharTokenizer> {
public:
  using Gpt2Policy::backward;
  using Gpt2Policy::Gpt2Policy;
  void backward(std::span<const rltf::Sample>, const torch::Tensor& logp, const torch::Tensor& grad) {
    torch::autograd::backward({logp}, {grad.detach().to(logp.device(), logp.scalar_type())});
  }
  /// A fresh AdamW: load_checkpoint of a directory without optimizer.pt drops the optimiser.
  void reset_optimizer() {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("rltf-demo-weights-" + std::to_string(::getpid()) + "-" + std::to_string(resets_++));
    std::filesystem::create_directories(dir);
    save(dir);
    load_checkpoint(dir);
    std::filesystem::remove_all(dir);
  }

private:
  int resets_ = 0;
};
static_assert(rltf::TrainablePolicy<DemoGpt2Policy>);

/// Sets up the numerics before LibTorch or OpenBLAS are loaded, running the program again (once)
/// when that is needed:
/// - Debian's LibTorch calls whatever libblas.so.3 the system selects — the reference BLAS unless
///   an optimised one is the default, about ten times slower. When OpenBLAS is installed, it goes
///   first on the library path (RLTF_DEMO_SYSTEM_BLAS=1 keeps the system's choice).
/// - Training from scratch is chaotic: a last-bit difference between two CPUs' kernels changes
///   which programs are sampled and so every number after it (seed 1's supervised model: held-out
///   greedy pass@1 0.027 with a Sapphire Rapids CPU's AVX-512 kernels, 0.049 with its AVX2 ones).
///   On x86-64 CPUs with AVX2 and FMA the kernels are pinned to AVX2 (ATEN_CPU_CAPABILITY=avx2,
///   OPENBLAS_CORETYPE=Haswell) so that a seed gives the same run on any such CPU; either variable
///   set by the user is kept, and RLTF_DEMO_NATIVE_KERNELS=1 keeps the CPU's own kernels.
inline void prepare_numerics(char** argv) {
  if (std::getenv("RLTF_DEMO_REEXEC") != nullptr) return;
  bool again = false;
  const char* dir = "/usr/lib/x86_64-linux-gnu/openblas-pthread";
  if (std::getenv("RLTF_DEMO_SYSTEM_BLAS") == nullptr &&
      std::filesystem::exists(std::filesystem::path(dir) / "libblas.so.3")) {
    const char* old = std::getenv("LD_LIBRARY_PATH");
    const std::string path = std::string(dir) + (old != nullptr && *old != '\0' ? ":" + std::string(old) : "");
    ::setenv("LD_LIBRARY_PATH", path.c_str(), 1);
    ::setenv("RLTF_DEMO_BLAS", "OpenBLAS", 1);
    again = true;
  }
#if defined(__x86_64__)
  if (std::getenv("RLTF_DEMO_NATIVE_KERNELS") == nullptr && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma")) {
    ::setenv("ATEN_CPU_CAPABILITY", "avx2", 0);
    if (std::getenv("OPENBLAS_CORETYPE") == nullptr) {
      ::setenv("OPENBLAS_CORETYPE", "Haswell", 1);
      again = true;
    }
  }
#endif
  if (!again) return;
  ::setenv("RLTF_DEMO_REEXEC", "1", 1);
  ::execv("/proc/self/exe", argv);
}

/// The numerics prepare_numerics() set up, for the model's description.
inline std::string numerics_description() {
  std::string out;
  if (std::getenv("RLTF_DEMO_BLAS") != nullptr) out += "; BLAS: OpenBLAS";
  for (const char* var : {"ATEN_CPU_CAPABILITY", "OPENBLAS_CORETYPE"})
    if (const char* v = std::getenv(var); v != nullptr) out += "; " + std::string(var) + "=" + v;
  return out;
}
#else
inline void prepare_numerics(char**) {}
inline std::string numerics_description() { return {}; }
#endif

/// Calls `f(make_policy, description)` with a factory of fresh policies of the chosen kind
/// (each a new model initialised from `seed`) and a sentence describing it; returns f's result.
template <class F>
int with_policy(const ModelOptions& m, const rltf::CharTokenizer& tokenizer, std::uint64_t seed, F&& f) {
  check(m);
  if (m.policy == "eigen") {
    using P = rltf::EigenPolicy<rltf::CharTokenizer>;
    const rltf::EigenPolicyOptions eo{.context = 12, .hidden = 128, .prompt_buckets = 2048, .seed = seed};
    std::function<P()> make = [tokenizer, eo] { return P(tokenizer, eo); };
    const std::string description = "rltf::EigenPolicy (context 12, hidden 128; no LibTorch), " +
                                    std::to_string(make().num_parameters()) + " parameters, " +
                                    std::to_string(tokenizer.vocab_size()) + "-symbol character vocabulary";
    return f(make, description);
  }
#ifdef RLTF_DEMO_TORCH
  if (m.threads > 0) torch::set_num_threads(m.threads);
  const rltf::Gpt2Config cfg{.vocab_size = static_cast<std::int64_t>(tokenizer.vocab_size()),
                             .n_positions = 192, // the longest prompt (58) + max_new_tokens (128)
                             .n_embd = m.n_embd,
                             .n_layer = m.n_layer,
                             .n_head = 4,
                             .bos_token_id = tokenizer.eos_id(),
                             .eos_token_id = tokenizer.eos_id()};
  using P = DemoGpt2Policy;
  std::function<P()> make = [cfg, tokenizer, seed] {
    return P(rltf::Gpt2Model(cfg, seed), tokenizer, {.batch_size = 160});
  };
  std::size_t params = 0;
  for (const auto& t : make().parameters()) params += static_cast<std::size_t>(t.numel());
  const std::string description = "GPT-2 from scratch on LibTorch (" + std::to_string(m.n_layer) + " layers, " +
                                  std::to_string(m.n_embd) + " wide, 4 heads), " + std::to_string(params) +
                                  " parameters, " + std::to_string(tokenizer.vocab_size()) +
                                  "-symbol character vocabulary" + numerics_description();
  return f(make, description);
#else
  return 2;
#endif
}

} // namespace rltf_demo
