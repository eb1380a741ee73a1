// Benchmark: one training step (forward, cross-entropy, backward, AdamW) in C++ (rltf's Gpt2Model
// or DecoderModel on LibTorch) against the same model, weights, inputs and step in PyTorch Python
// (gpt2_reference.py / decoder_reference.py, run with /usr/bin/python3 and Debian's python3-torch:
// the same libtorch). The weights and inputs go to Python through rltf's safetensors writer; the
// two loss trajectories must agree (the same computation), then the per-step times are compared.
// `--memory` instead compares the peak memory of full fine-tuning and LoRA on a ~100M-parameter
// Qwen2-shaped model, each in a fresh process (this program re-run with --memory-probe).
//
//   rltf-bench-torch-train-step [--quick] [--family gpt2|qwen2] [--steps N] [--warmup N] [--repeats N]
//                               [--sizes 1..3] [--threads N] [--python PATH] [--script PATH] [--work DIR]
//   rltf-bench-torch-train-step --memory [--lora-rank R] [--batch B] [--seq T]

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <rltf/torch/decoder.hpp>
#include <rltf/torch/gpt2.hpp>
#include <rltf/torch/lora.hpp>
#include <rltf/torch/safetensors.hpp>
#include <rltf_programs/options.hpp>

#include "python_baseline.hpp"

namespace {

template <class Config>
struct Size {
  const char* name;
  Config config;
  std::int64_t batch;
  std::int64_t seq;
};

rltf::DecoderConfig qwen2(std::int64_t vocab, std::int64_t e, std::int64_t layers, std::int64_t heads,
                          std::int64_t kv_heads, std::int64_t mlp) {
  return {.family = rltf::DecoderFamily::qwen2,
          .vocab_size = vocab,
          .hidden_size = e,
          .intermediate_size = mlp,
          .num_hidden_layers = layers,
          .num_attention_heads = heads,
          .num_key_value_heads = kv_heads,
          .max_position_embeddings = 1024,
          .rope_theta = 1e6,
          .tie_word_embeddings = true};
}

template <class Model>
void save_model(const Model& model, const std::filesystem::path& dir) {
  rltf::save_pretrained(model, dir);
}

struct Timing {
  int steps = 20, warmup = 3;
};

/// Times the C++ step on one size, then Python's, then C++ again; prints the line; returns whether
/// the two loss trajectories agree.
template <class Model, class Config>
bool compare(const Size<Config>& size, const rltf_bench::BaselineArgs& base, const Timing& timing) {
  const auto& [quick, threads, repeats, python, script, work] = base;
  const int steps = timing.steps, warmup = timing.warmup;
  const auto dir = work / size.name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  Model model(size.config, 1);
  save_model(model, dir / "model");
  const std::int64_t vocab = model->vocab_size();
  auto gen = at::detail::createCPUGenerator(2);
  const torch::Tensor ids = torch::randint(vocab, {size.batch, size.seq + 1}, gen, torch::kInt64);
  rltf::save_safetensors(dir / "inputs.safetensors", std::map<std::string, torch::Tensor>{{"ids", ids}});

  const double lr = 1e-3, wd = 0.01;
  torch::optim::AdamW opt(model->parameters(),
                          torch::optim::AdamWOptions(lr).betas({0.9, 0.999}).eps(1e-8).weight_decay(wd));
  const torch::Tensor inputs = ids.narrow(1, 0, size.seq);
  const torch::Tensor targets = ids.narrow(1, 1, size.seq).reshape({-1});
  model->train();
  std::vector<double> losses;
  auto step = [&] {
    opt.zero_grad();
    const torch::Tensor logits = model->forward(inputs);
    const torch::Tensor loss = torch::nn::functional::cross_entropy(logits.reshape({-1, vocab}), targets);
    loss.backward();
    opt.step();
    losses.push_back(loss.item<double>());
  };
  double cpp_ms = std::numeric_limits<double>::infinity();
  auto timed_rounds = [&] {
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < steps; ++i) step();
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      cpp_ms = std::min(cpp_ms, ms / steps);
    }
  };
  for (int i = 0; i < warmup; ++i) step();
  timed_rounds(); // C++ rounds before and after Python's, so both see the same machine load

  const std::string command = python + " " + script.string() + " train --model '" + (dir / "model").string() +
                              "' --inputs '" + (dir / "inputs.safetensors").string() + "' --steps " +
                              std::to_string(steps) + " --warmup " + std::to_string(warmup) + " --repeats " +
                              std::to_string(repeats) + " --lr " + std::to_string(lr) + " --wd " + std::to_string(wd) +
                              " --threads " + std::to_string(threads);
  const auto py = nlohmann::json::parse(rltf_bench::run_command(command));
  timed_rounds();
  const auto py_losses = py["losses"].get<std::vector<double>>();
  double worst = 0;
  for (std::size_t i = 0; i < losses.size() && i < py_losses.size(); ++i)
    worst = std::max(worst, std::abs(losses[i] - py_losses[i]));
  const bool same = py_losses.size() <= losses.size() && worst < 1e-3;
  const double py_ms = py["per_step_ms"].get<double>();
  std::cout << std::fixed << std::setprecision(3) << "  " << size.name << ": C++ " << cpp_ms << " ms/step, Python "
            << py_ms << " ms/step, speed-up " << std::setprecision(2) << py_ms / cpp_ms << "x; losses "
            << losses.front() << " -> " << losses.back() << ", max |C++ - Python| " << std::scientific
            << std::setprecision(1) << worst << std::defaultfloat << (same ? "" : "  MISMATCH") << std::endl;
  std::filesystem::remove_all(dir);
  return same;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

double current_rss_mib() {
  std::ifstream statm("/proc/self/statm");
  double pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

/// One configuration of the memory comparison, in this (fresh) process: prints a JSON object.
int memory_probe(const std::string& mode, std::int64_t rank, std::int64_t batch, std::int64_t seq, int steps) {
  rltf::DecoderModel model(qwen2(151936, 512, 8, 8, 2, 1408), 1);
  const double loaded = current_rss_mib();
  std::int64_t trainable = 0;
  std::vector<torch::Tensor> params;
  rltf::Lora lora;
  if (mode == "lora") {
    lora = rltf::apply_lora(model,
                            {.r = rank, .alpha = 2.0 * static_cast<double>(rank), .target_modules = {"all-linear"}});
    params = lora.parameters();
  } else {
    params = model->parameters();
  }
  for (const auto& p : params) trainable += p.numel();
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(1e-4));
  auto gen = at::detail::createCPUGenerator(2);
  const torch::Tensor ids = torch::randint(model->vocab_size(), {batch, seq + 1}, gen, torch::kInt64);
  const torch::Tensor inputs = ids.narrow(1, 0, seq), targets = ids.narrow(1, 1, seq).reshape({-1});
  model->train();
  double total_ms = 0;
  for (int i = 0; i < steps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    opt.zero_grad();
    const torch::Tensor loss =
        torch::nn::functional::cross_entropy(model->forward(inputs).reshape({-1, model->vocab_size()}), targets);
    loss.backward();
    opt.step();
    if (i > 0) total_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  std::int64_t total = 0;
  for (const auto& p : model->parameters()) total += p.numel();
  std::cout << nlohmann::json{{"mode", mode},
                              {"parameters", total},
                              {"trainable", trainable},
                              {"rss_after_load_mib", loaded},
                              {"peak_rss_mib", peak_rss_mib()},
                              {"ms_per_step", total_ms / std::max(steps - 1, 1)}}
                   .dump()
            << std::endl;
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  rltf_bench::BaselineArgs base;
  base.work = std::filesystem::temp_directory_path() / "rltf-bench-train-step";
  Timing timing;
  std::size_t max_sizes = 3;
  std::string family = "gpt2", probe;
  bool memory = false;
  std::int64_t lora_rank = 16, mem_batch = 4, mem_seq = 128;
  rltf::programs::Cli cli("rltf-bench-torch-train-step",
                          "C++ against PyTorch Python training step on the same model, weights and inputs; "
                          "or the peak memory of full fine-tuning against LoRA (docs/torch.md).");
  cli.count("--steps", timing.steps, "timed steps per size", 1);
  cli.count("--warmup", timing.warmup, "untimed steps first");
  cli.count("--sizes", max_sizes, "how many of the model sizes (1..3)", 1, 3);
  cli.text("--family", family, "gpt2 or qwen2", "NAME");
  cli.flag("--memory", memory, "compare peak memory of full fine-tuning and LoRA (Qwen2, ~100M parameters)");
  cli.count("--lora-rank", lora_rank, "--memory: the adapters' rank (all-linear)", 1);
  cli.count("--batch", mem_batch, "--memory: sequences per step", 1);
  cli.count("--seq", mem_seq, "--memory: tokens per sequence", 1);
  cli.text("--memory-probe", probe, "internal: run one memory configuration (full or lora) and print JSON", "MODE");
  base.define(cli);
  base.script.clear(); // chosen by --family unless given
  if (const auto status = cli.parse_or_exit(argc, argv)) return *status;
  auto& [quick, threads, repeats, python, script, work] = base;
  torch::set_num_threads(threads);
  if (quick) mem_batch = std::min<std::int64_t>(mem_batch, 1), mem_seq = std::min<std::int64_t>(mem_seq, 32);
  if (!probe.empty()) return memory_probe(probe, lora_rank, mem_batch, mem_seq, quick ? 2 : 4);
  if (memory) {
    std::cout << "Peak memory of a training step (AdamW), Qwen2-shaped L8 E512 H8/2 MLP1408 V151936 tied, batch "
              << mem_batch << "x" << mem_seq << ", each in a fresh process:" << std::endl;
    std::map<std::string, nlohmann::json> runs;
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    for (const std::string mode : {"full", "lora"}) {
      const std::string command = self + " --memory-probe " + mode + " --lora-rank " + std::to_string(lora_rank) +
                                  " --batch " + std::to_string(mem_batch) + " --seq " + std::to_string(mem_seq) +
                                  " --threads " + std::to_string(threads) + (quick ? " --quick" : "");
      runs[mode] = nlohmann::json::parse(rltf_bench::run_command(command));
      const auto& r = runs[mode];
      std::cout << std::fixed << std::setprecision(1) << "  "
                << (mode == "full" ? "full fine-tuning" : "LoRA r=" + std::to_string(lora_rank) + " all-linear")
                << ": trainable " << r["trainable"].get<double>() / 1e6 << "M of "
                << r["parameters"].get<double>() / 1e6 << "M, RSS after load " << r["rss_after_load_mib"].get<double>()
                << " MiB, peak " << r["peak_rss_mib"].get<double>() << " MiB, " << r["ms_per_step"].get<double>()
                << " ms/step" << std::endl;
    }
    const double full = runs["full"]["peak_rss_mib"].get<double>(), lo = runs["lora"]["peak_rss_mib"].get<double>();
    std::cout << std::setprecision(2) << "  LoRA's peak is " << lo / full << "x full fine-tuning's ("
              << std::setprecision(1) << full - lo << " MiB less)" << std::endl;
    return 0;
  }
  if (family != "gpt2" && family != "qwen2") {
    std::cerr << "rltf-bench-torch-train-step: --family must be gpt2 or qwen2, got '" << family << "'\n";
    return 2;
  }
  if (script.empty())
    script = std::filesystem::path(RLTF_SOURCE_DIR) / "benchmarks" / "torch_train_step" /
             (family == "gpt2" ? "gpt2_reference.py" : "decoder_reference.py");
  if (quick) timing.steps = std::min(timing.steps, 4), timing.warmup = std::min(timing.warmup, 1), repeats = 1;
  if (quick) max_sizes = 1;

  bool ok = true;
  std::cout << (family == "gpt2" ? "GPT-2" : "Qwen2") << " training step (forward + cross-entropy + backward + AdamW), "
            << threads << " thread(s), "
            << "best of " << repeats << " rounds of " << timing.steps << " steps after " << timing.warmup << " warm-up"
            << std::endl;
  if (family == "gpt2") {
    std::vector<Size<rltf::Gpt2Config>> sizes = {
        {"tiny (L2 E64 H4, V512, 8x32)",
         {.vocab_size = 512, .n_positions = 128, .n_embd = 64, .n_layer = 2, .n_head = 4},
         8,
         32},
        {"small (L4 E128 H4, V2048, 8x64)",
         {.vocab_size = 2048, .n_positions = 128, .n_embd = 128, .n_layer = 4, .n_head = 4},
         8,
         64},
        {"medium (L6 E256 H8, V8192, 8x128)",
         {.vocab_size = 8192, .n_positions = 256, .n_embd = 256, .n_layer = 6, .n_head = 8},
         8,
         128},
    };
    sizes.resize(std::min(sizes.size(), max_sizes));
    for (const auto& size : sizes) ok = compare<rltf::Gpt2Model>(size, base, timing) && ok;
  } else {
    std::vector<Size<rltf::DecoderConfig>> sizes = {
        {"tiny (L2 E64 H4/2, V512, 8x32)", qwen2(512, 64, 2, 4, 2, 128), 8, 32},
        {"small (L4 E128 H4/2, V2048, 8x64)", qwen2(2048, 128, 4, 4, 2, 256), 8, 64},
        {"medium (L6 E256 H8/2, V8192, 8x128)", qwen2(8192, 256, 6, 8, 2, 704), 8, 128},
    };
    sizes.resize(std::min(sizes.size(), max_sizes));
    for (const auto& size : sizes) ok = compare<rltf::DecoderModel>(size, base, timing) && ok;
  }
  if (!ok) {
    std::cerr << "the C++ and Python steps computed different losses\n";
    return 1;
  }
  return 0;
}
