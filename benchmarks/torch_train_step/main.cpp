// Benchmark: one GPT-2 training step (forward, cross-entropy, backward, AdamW) in C++ (rltf's
// Gpt2Model on LibTorch) against the same model, weights, inputs and step in PyTorch Python
// (gpt2_reference.py, run with /usr/bin/python3 and Debian's python3-torch: the same libtorch).
// The weights and inputs go to Python through rltf's safetensors writer; the two loss
// trajectories must agree (the same computation), then the per-step times are compared.
//
//   rltf-bench-torch-train-step [--quick] [--steps N] [--warmup N] [--repeats N] [--sizes 1..3] [--threads N]
//                               [--python PATH] [--script PATH] [--work DIR]

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <rltf/torch/gpt2.hpp>
#include <rltf/torch/safetensors.hpp>
#include <rltf_programs/options.hpp>

#include "python_baseline.hpp"

namespace {

struct Size {
  const char* name;
  rltf::Gpt2Config config;
  std::int64_t batch;
  std::int64_t seq;
};

} // namespace

int main(int argc, char** argv) {
  rltf_bench::BaselineArgs base;
  base.work = std::filesystem::temp_directory_path() / "rltf-bench-train-step";
  int steps = 20, warmup = 3;
  std::size_t max_sizes = 3;
  rltf::programs::Cli cli("rltf-bench-torch-train-step",
                          "C++ against PyTorch Python training step on the same GPT-2, weights and inputs "
                          "(docs/torch.md).");
  cli.count("--steps", steps, "timed steps per size", 1);
  cli.count("--warmup", warmup, "untimed steps first");
  cli.count("--sizes", max_sizes, "how many of the model sizes (1..3)", 1, 3);
  base.define(cli);
  if (const auto status = cli.parse_or_exit(argc, argv)) return *status;
  auto& [quick, threads, repeats, python, script, work] = base;
  if (quick) steps = std::min(steps, 4), warmup = std::min(warmup, 1), repeats = 1;
  torch::set_num_threads(threads);

  std::vector<Size> sizes = {
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
  if (quick) max_sizes = 1;
  sizes.resize(std::min(sizes.size(), max_sizes));

  bool ok = true;
  std::cout << "GPT-2 training step (forward + cross-entropy + backward + AdamW), " << threads << " thread(s), "
            << "best of " << repeats << " rounds of " << steps << " steps after " << warmup << " warm-up" << std::endl;
  for (const Size& size : sizes) {
    const auto dir = work / size.name;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    rltf::Gpt2Model model(size.config, 1);
    rltf::save_gpt2(model, dir / "model");
    auto gen = at::detail::createCPUGenerator(2);
    const torch::Tensor ids = torch::randint(size.config.vocab_size, {size.batch, size.seq + 1}, gen, torch::kInt64);
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
      const torch::Tensor loss =
          torch::nn::functional::cross_entropy(logits.reshape({-1, size.config.vocab_size}), targets);
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
                                std::to_string(repeats) + " --lr " + std::to_string(lr) + " --wd " +
                                std::to_string(wd) + " --threads " + std::to_string(threads);
    const auto py = nlohmann::json::parse(rltf_bench::run_command(command));
    timed_rounds();
    const auto py_losses = py["losses"].get<std::vector<double>>();
    double worst = 0;
    for (std::size_t i = 0; i < losses.size() && i < py_losses.size(); ++i)
      worst = std::max(worst, std::abs(losses[i] - py_losses[i]));
    const bool same = py_losses.size() <= losses.size() && worst < 1e-3;
    ok = ok && same;
    const double py_ms = py["per_step_ms"].get<double>();
    std::cout << std::fixed << std::setprecision(3) << "  " << size.name << ": C++ " << cpp_ms << " ms/step, Python "
              << py_ms << " ms/step, speed-up " << std::setprecision(2) << py_ms / cpp_ms << "x; losses "
              << losses.front() << " -> " << losses.back() << ", max |C++ - Python| " << std::scientific
              << std::setprecision(1) << worst << std::defaultfloat << (same ? "" : "  MISMATCH") << std::endl;
    std::filesystem::remove_all(dir);
  }
  if (!ok) {
    std::cerr << "the C++ and Python steps computed different losses\n";
    return 1;
  }
  return 0;
}
