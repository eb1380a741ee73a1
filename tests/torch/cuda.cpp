// CUDA: the same models (GPT-2, Qwen2, Llama) on the GPU (float32, float16, bfloat16) agree with the CPU. Skipped,
// saying so, where LibTorch has no CUDA device (Debian's libtorch is CPU-only).

#include <doctest/doctest.h>

#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <rltf/tokenize/gpt2.hpp>
#include <rltf/torch/backend.hpp>
#include <rltf/torch/decoder.hpp>
#include <rltf/torch/generate.hpp>
#include <rltf/torch/gpt2.hpp>
#include <rltf/torch/policy.hpp>

TEST_CASE("CUDA: Gpt2Model and Gpt2Policy on the GPU in float32, float16 and bfloat16") {
  if (!torch::cuda::is_available()) {
    MESSAGE("CUDA test skipped: LibTorch reports no CUDA device on this machine");
    return;
  }
  const auto dir = std::filesystem::path(RLTF_SOURCE_DIR) / "data" / "models" / "synthetic-gpt2-l2-e32-h4";
  rltf::Gpt2Model cpu = rltf::load_gpt2(dir);
  const torch::Tensor ids = torch::tensor({{15496, 995, 11, 262, 318}}, torch::kInt64);
  torch::Tensor want;
  {
    torch::NoGradGuard no_grad;
    want = cpu->forward(ids);
  }
  const std::pair<torch::ScalarType, double> cases[] = {
      {torch::kFloat32, 1e-4}, {torch::kFloat16, 5e-2}, {torch::kBFloat16, 2e-1}};
  for (const auto& [dtype, tol] : cases) {
    const std::string dtype_name = c10::toString(dtype);
    CAPTURE(dtype_name);
    rltf::Gpt2Model gpu = rltf::load_gpt2(dir, {.device = torch::kCUDA, .dtype = dtype});
    torch::NoGradGuard no_grad;
    const torch::Tensor got = gpu->forward(ids).to(torch::kCPU, torch::kFloat32);
    CHECK((got - want).abs().max().item<double>() < tol);
  }
  rltf::Gpt2Policy<rltf::Gpt2Tokenizer> policy(
      rltf::load_gpt2(dir, {.device = torch::kCUDA}),
      rltf::Gpt2Tokenizer::from_directory(std::filesystem::path(RLTF_SOURCE_DIR) / "data" / "models" /
                                          "gpt2-tokenizer"));
  rltf::Rng rng = rltf::make_rng(3);
  const std::vector<std::string> prompts = {"def f(x):", "print("};
  const auto samples = policy.generate(prompts, {.max_new_tokens = 6, .temperature = 0.7F}, rng);
  const torch::Tensor lp = policy.log_probs(samples);
  CHECK(lp.device().is_cuda());
  for (std::size_t i = 0; i < samples.size(); ++i)
    for (std::size_t t = 0; t < samples[i].tokens.size(); ++t)
      CHECK(lp[static_cast<std::int64_t>(i)][static_cast<std::int64_t>(t)].item<float>() ==
            doctest::Approx(samples[i].logprobs[t]).epsilon(1e-4));
  // backend tensors made on the host combine with GPU log-probabilities
  using B = rltf::TorchBackend;
  const auto adv = B::full(B::shape(lp), 0.5F);
  CHECK(B::item(B::sum(B::mul(lp, adv))) == doctest::Approx(0.5 * lp.sum().item<double>()).epsilon(1e-4));
}

TEST_CASE("CUDA: DecoderModel (Qwen2, Llama) on the GPU in float32, float16 and bfloat16") {
  if (!torch::cuda::is_available()) {
    MESSAGE("CUDA test skipped: LibTorch reports no CUDA device on this machine");
    return;
  }
  for (const std::string name : {"synthetic-qwen2", "synthetic-llama"}) {
    CAPTURE(name);
    const auto dir = std::filesystem::path(RLTF_SOURCE_DIR) / "data" / "models" / name;
    rltf::DecoderModel cpu = rltf::load_decoder(dir);
    const torch::Tensor ids = torch::tensor({{1, 5, 7, 11, 13, 17}}, torch::kInt64);
    torch::Tensor want;
    {
      torch::NoGradGuard no_grad;
      want = cpu->forward(ids);
    }
    const std::pair<torch::ScalarType, double> cases[] = {
        {torch::kFloat32, 1e-4}, {torch::kFloat16, 5e-2}, {torch::kBFloat16, 5e-1}};
    for (const auto& [dtype, tol] : cases) {
      const std::string dtype_name = c10::toString(dtype);
      CAPTURE(dtype_name);
      rltf::DecoderModel gpu = rltf::load_decoder(dir, {.device = torch::kCUDA, .dtype = dtype});
      torch::NoGradGuard no_grad;
      CHECK((gpu->forward(ids).to(torch::kCPU, torch::kFloat32) - want).abs().max().item<double>() < tol);
    }
    // KV-cache greedy generation on the GPU (float32) gives the CPU's tokens
    rltf::DecoderModel gpu = rltf::load_decoder(dir, {.device = torch::kCUDA});
    const std::vector<std::vector<rltf::token_id>> prompts = {{1, 5, 7, 11, 13, 17}, {3, 4}};
    rltf::Rng a = rltf::make_rng(1), b = rltf::make_rng(1);
    const rltf::SamplingConfig greedy{.max_new_tokens = 8, .greedy = true};
    const auto on_gpu = rltf::generate(gpu, std::span(prompts), greedy, a);
    const auto on_cpu = rltf::generate(cpu, std::span(prompts), greedy, b);
    for (std::size_t r = 0; r < prompts.size(); ++r) CHECK(on_gpu[r].tokens == on_cpu[r].tokens);
  }
}
