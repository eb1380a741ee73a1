// Benchmark: KV-cache generation, on GPT-2 or a Qwen2-shaped decoder.
//  (a) rltf::generate with the KV cache against recomputing the whole sequence every step
//      (use_cache = false; the last position's logits only), greedy, 256 new tokens;
//  (c) the same KV-cache generation in C++ against a PyTorch Python KV-cache loop
//      (../torch_train_step/gpt2_reference.py or decoder_reference.py, concatenating keys/values
//      every step as Hugging Face's GPT-2 and DynamicCache do) on the same weights (written with
//      rltf's safetensors writer) and prompts.
// Greedy decoding makes every run produce the same tokens, which is checked.
//
//   rltf-bench-torch-generate [--quick] [--family gpt2|qwen2] [--size small|synthetic|100m]
//                             [--new-tokens N] [--batch N] [--threads N] [--repeats N]
//                             [--python PATH] [--script PATH] [--work DIR]
//
// Sizes: gpt2 small = L4 E256 V50257; qwen2 synthetic = the shape of data/models/synthetic-qwen2
// (L2 E32, 4 heads / 2 kv heads, V151936); qwen2 100m = L8 E512 8 heads / 2 kv heads, MLP 1408,
// V151936, tied (≈101M parameters, 78M of them the embedding).

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

#include <rltf/torch/decoder.hpp>
#include <rltf/torch/generate.hpp>
#include <rltf/torch/gpt2.hpp>
#include <rltf/torch/safetensors.hpp>
#include <rltf_programs/options.hpp>

#include "python_baseline.hpp"

namespace {

std::int64_t parameter_count(const std::vector<torch::Tensor>& params) {
  std::int64_t n = 0;
  for (const auto& p : params) n += p.numel();
  return n;
}

/// Runs (a) and (c) on `model` (already saved to work/model); returns whether all tokens agree.
template <class Model>
bool bench(Model& model, const std::string& label, const rltf_bench::BaselineArgs& base, std::int64_t batch,
           std::int64_t prompt_len, std::int64_t new_tokens, bool recompute) {
  const auto& [quick, threads, repeats, python, script, work] = base;
  auto gen = at::detail::createCPUGenerator(3);
  const torch::Tensor prompts = torch::randint(model->vocab_size(), {batch, prompt_len}, gen, torch::kInt64);
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
  const double full_s = recompute ? timed(false, without_cache, 1) : 0.0; // the slow baseline: one round

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
    const auto p = py["tokens"][static_cast<std::size_t>(r)].get<std::vector<rltf::token_id>>();
    same = same && a == p && static_cast<std::int64_t>(a.size()) == new_tokens;
    if (recompute) same = same && a == without_cache[static_cast<std::size_t>(r)].tokens;
  }
  // where a decoding step's time goes: the transformer over one new token (cache append included),
  // the vocabulary projection, and choosing the token with its log-probability
  double t_body = 0, t_head = 0, t_choose = 0;
  {
    torch::NoGradGuard no_grad;
    model->eval();
    auto cache = model->make_cache(batch, prompt_len + new_tokens);
    torch::Tensor logits = model->lm_logits(model->transformer(prompts, {}, &cache).select(1, prompt_len - 1));
    using clock = std::chrono::steady_clock;
    for (std::int64_t step = 0; step + 1 < new_tokens; ++step) {
      const auto t0 = clock::now();
      const torch::Tensor logp = torch::log_softmax(logits.to(torch::kFloat32), -1);
      const torch::Tensor next = logp.argmax(-1);
      const torch::Tensor chosen = logp.gather(1, next.unsqueeze(1)).to(torch::kCPU);
      const torch::Tensor ids = next.unsqueeze(1).to(torch::kCPU).clone();
      const auto t1 = clock::now();
      const torch::Tensor hidden = model->transformer(ids, torch::ones({batch, 1}, torch::kBool), &cache);
      const auto t2 = clock::now();
      logits = model->lm_logits(hidden.select(1, 0));
      const auto t3 = clock::now();
      t_choose += std::chrono::duration<double>(t1 - t0).count();
      t_body += std::chrono::duration<double>(t2 - t1).count();
      t_head += std::chrono::duration<double>(t3 - t2).count();
    }
  }
  const double per = 1000.0 / static_cast<double>(std::max<std::int64_t>(new_tokens - 1, 1));
  const double tokens = static_cast<double>(batch * new_tokens);
  std::cout << std::fixed << std::setprecision(3) << label << " (" << std::setprecision(1)
            << static_cast<double>(parameter_count(model->parameters())) / 1e6 << "M parameters), batch " << batch
            << ", prompt " << prompt_len << ", " << new_tokens << " new tokens (greedy), " << threads
            << " thread(s), best of " << repeats << "\n";
  if (recompute)
    std::cout << std::setprecision(3) << "  (a) C++ KV cache " << cached_s << " s (" << std::setprecision(1)
              << tokens / cached_s << " tok/s) vs recompute " << std::setprecision(3) << full_s << " s: speed-up "
              << std::setprecision(2) << full_s / cached_s << "x\n";
  std::cout << std::setprecision(3) << "  (c) C++ KV cache " << cpp_s << " s (" << std::setprecision(1)
            << tokens / cpp_s << " tok/s) vs Python KV-cache loop " << std::setprecision(3) << py_s << " s ("
            << std::setprecision(1) << tokens / py_s << " tok/s): speed-up " << std::setprecision(2) << py_s / cpp_s
            << "x\n"
            << "  one decoding step (ms): transformer " << std::setprecision(3) << t_body * per
            << ", vocabulary projection " << t_head * per << ", log-softmax + choice " << t_choose * per << "\n"
            << "  tokens identical across " << (recompute ? "the three" : "both") << ": " << (same ? "yes" : "NO")
            << std::endl;
  return same;
}

} // namespace

int main(int argc, char** argv) {
  rltf_bench::BaselineArgs base;
  base.work = std::filesystem::temp_directory_path() / "rltf-bench-generate";
  std::int64_t new_tokens = 256, batch = 2, prompt_len = 32;
  rltf::programs::Cli cli("rltf-bench-torch-generate",
                          "KV-cache generation: with against without the cache, and C++ against a PyTorch Python "
                          "loop (docs/torch.md).");
  cli.count("--new-tokens", new_tokens, "tokens generated per sequence", 1);
  cli.count("--batch", batch, "sequences per batch", 1);
  std::string family = "gpt2", size;
  bool recompute = false;
  cli.text("--family", family, "gpt2 or qwen2", "NAME");
  cli.text("--size", size, "qwen2: synthetic or 100m (default 100m; synthetic with --quick)", "NAME");
  cli.flag("--recompute", recompute, "qwen2: also time generation without the cache (always on for gpt2)");
  base.define(cli);
  base.script.clear(); // chosen by --family unless given
  if (const auto status = cli.parse_or_exit(argc, argv)) return *status;
  auto& [quick, threads, repeats, python, script, work] = base;
  if (family != "gpt2" && family != "qwen2") {
    std::cerr << "rltf-bench-torch-generate: --family must be gpt2 or qwen2, got '" << family << "'\n";
    return 2;
  }
  if (quick) {
    new_tokens = std::min<std::int64_t>(new_tokens, 24);
    repeats = 1;
  }
  torch::set_num_threads(threads);
  std::filesystem::remove_all(work);
  std::filesystem::create_directories(work);
  if (script.empty())
    script = std::filesystem::path(RLTF_SOURCE_DIR) / "benchmarks" / "torch_train_step" /
             (family == "gpt2" ? "gpt2_reference.py" : "decoder_reference.py");

  bool same = false;
  if (family == "gpt2") {
    rltf::Gpt2Config config{.vocab_size = 50257, .n_positions = 512, .n_embd = 256, .n_layer = 4, .n_head = 4};
    if (quick) config.n_embd = 64, config.n_layer = 2;
    rltf::Gpt2Model model(config, 1);
    rltf::save_gpt2(model, work / "model");
    const std::string label = "GPT-2 L" + std::to_string(config.n_layer) + " E" + std::to_string(config.n_embd) + " V" +
                              std::to_string(config.vocab_size);
    same = bench(model, label, base, batch, prompt_len, new_tokens, true);
  } else {
    if (size.empty()) size = quick ? "synthetic" : "100m";
    rltf::DecoderConfig config{.family = rltf::DecoderFamily::qwen2,
                               .vocab_size = 151936,
                               .hidden_size = 32,
                               .intermediate_size = 64,
                               .num_hidden_layers = 2,
                               .num_attention_heads = 4,
                               .num_key_value_heads = 2,
                               .max_position_embeddings = 1024,
                               .rope_theta = 1e6,
                               .tie_word_embeddings = true,
                               .initializer_range = 0.05};
    if (size == "100m") {
      config.hidden_size = 512, config.intermediate_size = 1408, config.num_hidden_layers = 8;
      config.num_attention_heads = 8, config.num_key_value_heads = 2;
    } else if (size != "synthetic") {
      std::cerr << "rltf-bench-torch-generate: --size for qwen2 is synthetic or 100m, got '" << size << "'\n";
      return 2;
    }
    if (quick) config.num_hidden_layers = std::min<std::int64_t>(config.num_hidden_layers, 2);
    rltf::DecoderModel model(config, 1);
    rltf::save_decoder(model, work / "model");
    const std::string label = "Qwen2 " + size + " L" + std::to_string(config.num_hidden_layers) + " E" +
                              std::to_string(config.hidden_size) + " H" + std::to_string(config.num_attention_heads) +
                              "/" + std::to_string(config.num_key_value_heads) + " V" +
                              std::to_string(config.vocab_size);
    same = bench(model, label, base, batch, prompt_len, new_tokens, recompute);
  }
  std::filesystem::remove_all(work);
  return same ? 0 : 1;
}
