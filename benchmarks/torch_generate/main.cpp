// Benchmark: KV-cache generation.
//  (a) rltf::generate with the KV cache against recomputing the whole sequence every step
//      (use_cache = false; the last position's logits only), greedy, 256 new tokens;
//  (c) the same KV-cache generation in C++ against a PyTorch Python KV-cache loop
//      (../torch_train_step/gpt2_reference.py, concatenating keys/values as Hugging Face's GPT-2
//      does) on the same weights (written with rltf's safetensors writer) and prompts.
// Greedy decoding makes every run produce the same tokens, which is checked.
//
//   rltf-bench-torch-generate [--quick] [--new-tokens N] [--batch N] [--threads N] [--repeats N]
//                             [--python PATH] [--script PATH] [--work DIR]

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <rltf/torch/generate.hpp>
#include <rltf/torch/gpt2.hpp>
#include <rltf/torch/safetensors.hpp>
#include <rltf_programs/options.hpp>

#include "python_baseline.hpp"

int main(int argc, char** argv) {
  rltf_bench::BaselineArgs base;
  base.work = std::filesystem::temp_directory_path() / "rltf-bench-generate";
  std::int64_t new_tokens = 256, batch = 2, prompt_len = 32;
  rltf::programs::Cli cli("rltf-bench-torch-generate",
                          "KV-cache generation: with against without the cache, and C++ against a PyTorch Python "
                          "loop (docs/torch.md).");
  cli.count("--new-tokens", new_tokens, "tokens generated per sequence", 1);
  cli.count("--batch", batch, "sequences per batch", 1);
  base.define(cli);
  if (const auto status = cli.parse_or_exit(argc, argv)) return *status;
  auto& [quick, threads, repeats, python, script, work] = base;
  rltf::Gpt2Config config{.vocab_size = 50257, .n_positions = 512, .n_embd = 256, .n_layer = 4, .n_head = 4};
  if (quick) {
    new_tokens = std::min<std::int64_t>(new_tokens, 24);
    repeats = 1;
    config.n_embd = 64;
    config.n_layer = 2;
  }
  torch::set_num_threads(threads);
  std::filesystem::remove_all(work);
  std::filesystem::create_directories(work);

  rltf::Gpt2Model model(config, 1);
  rltf::save_gpt2(model, work / "model");
  auto gen = at::detail::createCPUGenerator(3);
  const torch::Tensor prompts = torch::randint(config.vocab_size, {batch, prompt_len}, gen, torch::kInt64);
  rltf::save_safetensors(work / "prompts.safetensors", std::map<std::string, torch::Tensor>{{"ids", prompts}});
  std::vector<std::vector<rltf::token_id>> rows;
  for (std::int64_t r = 0; r < batch; ++r) {
    std::vector<rltf::token_id> row;
    for (std::int64_t j = 0; j < prompt_len; ++j)
      row.push_back(static_cast<rltf::token_id>(prompts[r][j].item<std::int64_t>()));
    rows.push_back(std::move(row));
  }

  const rltf::SamplingConfig greedy{.max_new_tokens = static_cast<std::size_t>(new_tokens), .greedy = true};
  rltf::Rng rng = rltf::make_rng(0);
  auto timed = [&](bool cache, std::vector<rltf::Generation>& out, int rounds) {
    double best = std::numeric_limits<double>::infinity();
    for (int r = 0; r < rounds; ++r) {
      const auto start = std::chrono::steady_clock::now();
      out = rltf::generate(model, rows, greedy, rng, {.use_cache = cache});
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return best;
  };
  std::vector<rltf::Generation> with_cache, without_cache;
  (void)rltf::generate(model, rows, {.max_new_tokens = 4, .greedy = true}, rng); // warm-up
  const double cached_s = timed(true, with_cache, repeats);
  const double full_s = timed(false, without_cache, 1); // the slow baseline: one round

  const std::string command = python + " " + script.string() + " generate --model '" + (work / "model").string() +
                              "' --inputs '" + (work / "prompts.safetensors").string() + "' --new-tokens " +
                              std::to_string(new_tokens) + " --warmup 1 --repeats " + std::to_string(repeats) +
                              " --threads " + std::to_string(threads);
  const auto py = nlohmann::json::parse(rltf_bench::run_command(command));
  const double cached_again_s = timed(true, with_cache, repeats); // C++ after Python too: the same machine load
  const double cpp_s = std::min(cached_s, cached_again_s);
  const double py_s = py["seconds"].get<double>();

  bool same = true;
  for (std::int64_t r = 0; r < batch; ++r) {
    const auto& a = with_cache[static_cast<std::size_t>(r)].tokens;
    const auto& b = without_cache[static_cast<std::size_t>(r)].tokens;
    const auto p = py["tokens"][static_cast<std::size_t>(r)].get<std::vector<rltf::token_id>>();
    same = same && a == b && a == p && static_cast<std::int64_t>(a.size()) == new_tokens;
  }
  const double tokens = static_cast<double>(batch * new_tokens);
  std::cout << std::fixed << std::setprecision(3) << "GPT-2 L" << config.n_layer << " E" << config.n_embd << " V"
            << config.vocab_size << ", batch " << batch << ", prompt " << prompt_len << ", " << new_tokens
            << " new tokens (greedy), " << threads << " thread(s), best of " << repeats << "\n"
            << "  (a) C++ KV cache " << cached_s << " s (" << std::setprecision(1) << tokens / cached_s
            << " tok/s) vs recompute " << std::setprecision(3) << full_s << " s: speed-up " << std::setprecision(2)
            << full_s / cached_s << "x\n"
            << "  (c) C++ KV cache " << std::setprecision(3) << cpp_s << " s vs Python KV-cache loop " << py_s
            << " s: speed-up " << std::setprecision(2) << py_s / cpp_s << "x\n"
            << "  tokens identical across the three: " << (same ? "yes" : "NO") << "\n";
  std::filesystem::remove_all(work);
  return same ? 0 : 1;
}
