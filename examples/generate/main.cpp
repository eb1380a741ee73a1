// rltf-generate: sample completions from any GPT-2-family Hugging Face checkpoint (config.json +
// model.safetensors + tokenizer files), e.g. gpt2, codeparrot-small or gpt2-large.
//
//   rltf-generate --model DIR --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-p P]
//                 [--top-k K] [--greedy] [--stop S]... [--seed N] [--device cpu|cuda[:i]]
//                 [--dtype float32|float16|bfloat16] [--num-samples N] [--tokenizer DIR] [--json]

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <rltf_programs/cli.hpp>
#include <rltf/core/error.hpp>
#include <rltf/torch/policy.hpp>

namespace {

constexpr std::string_view usage =
    "usage: rltf-generate --model DIR --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-p P]\n"
    "                     [--top-k K] [--greedy] [--stop S]... [--seed N] [--device cpu|cuda[:i]]\n"
    "                     [--dtype float32|float16|bfloat16] [--num-samples N] [--tokenizer DIR] [--json]\n";

struct Args {
  std::filesystem::path model;
  std::filesystem::path tokenizer;
  std::string prompt;
  bool has_prompt = false;
  rltf::SamplingConfig sampling{.max_new_tokens = 64};
  std::uint64_t seed = 0;
  std::string device = "cpu";
  std::string dtype = "float32";
  bool json = false;
};

Args parse(int argc, char** argv) {
  Args a;
  a.sampling.top_p = 1.0F;
  for (rltf::CommandLine args(argc, argv); args.next();) {
    if (args.is("--model"))
      a.model = args.value();
    else if (args.is("--tokenizer"))
      a.tokenizer = args.value();
    else if (args.is("--prompt"))
      a.prompt = args.value(), a.has_prompt = true;
    else if (args.is("--max-new-tokens"))
      a.sampling.max_new_tokens = args.unsigned_value();
    else if (args.is("--temperature"))
      a.sampling.temperature = static_cast<float>(args.number_value());
    else if (args.is("--top-p"))
      a.sampling.top_p = static_cast<float>(args.number_value());
    else if (args.is("--top-k"))
      a.sampling.top_k = args.unsigned_value();
    else if (args.is("--greedy"))
      a.sampling.greedy = true;
    else if (args.is("--stop"))
      a.sampling.stop.push_back(args.value());
    else if (args.is("--seed"))
      a.seed = args.unsigned_value();
    else if (args.is("--device"))
      a.device = args.value();
    else if (args.is("--dtype"))
      a.dtype = args.value();
    else if (args.is("--num-samples"))
      a.sampling.num_samples = args.unsigned_value();
    else if (args.is("--json"))
      a.json = true;
    else if (args.is("--help") || args.is("-h")) {
      std::cout << usage;
      std::exit(0);
    } else
      args.unknown();
  }
  if (a.model.empty()) throw rltf::invalid_argument("--model DIR is required");
  if (!a.has_prompt) throw rltf::invalid_argument("--prompt TEXT is required");
  if (a.sampling.num_samples == 0) throw rltf::invalid_argument("--num-samples must be at least 1");
  return a;
}

torch::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32") return torch::kFloat32;
  if (name == "float16") return torch::kFloat16;
  if (name == "bfloat16") return torch::kBFloat16;
  throw rltf::invalid_argument("--dtype must be float32, float16 or bfloat16, got '" + name + "'");
}

torch::Device parse_device(const std::string& name) {
  if (name != "cpu" && name != "cuda" && !name.starts_with("cuda:"))
    throw rltf::invalid_argument("--device must be cpu or cuda[:index], got '" + name + "'");
  if (name != "cpu" && !torch::cuda::is_available())
    throw rltf::invalid_argument("--device " + name + ": this LibTorch has no CUDA device");
  return torch::Device(name);
}

} // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse(argc, argv);
    const torch::Device device = parse_device(args.device);
    const torch::ScalarType dtype = parse_dtype(args.dtype);
    if (dtype == torch::kFloat16 && device.is_cpu())
      throw rltf::invalid_argument("--dtype float16 needs --device cuda (LibTorch's CPU kernels lack half matmul)");
    auto policy = rltf::load_gpt2_policy(args.model, {.device = device, .dtype = dtype}, {}, args.tokenizer);
    rltf::Rng rng = rltf::make_rng(args.seed);
    const std::vector<std::string> prompts = {args.prompt};
    const auto samples = policy.generate(prompts, args.sampling, rng);
    if (args.json) {
      for (const auto& s : samples) {
        double total = 0;
        for (float lp : s.logprobs) total += lp;
        nlohmann::json line = {{"prompt", s.prompt},     {"completion", s.text}, {"tokens", s.tokens},
                               {"logprobs", s.logprobs}, {"sum_logprob", total}, {"truncated", s.truncated}};
        std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      }
    } else {
      for (std::size_t i = 0; i < samples.size(); ++i) {
        const auto& s = samples[i];
        double total = 0;
        for (float lp : s.logprobs) total += lp;
        std::cout << "=== sample " << i + 1 << "/" << samples.size() << " (" << s.tokens.size() << " tokens, log p "
                  << total << (s.truncated ? ", truncated" : "") << ")\n"
                  << s.prompt << s.text << "\n";
      }
    }
    return 0;
  } catch (const rltf::invalid_argument& e) {
    std::cerr << "rltf-generate: " << e.what() << "\n" << usage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "rltf-generate: " << e.what() << "\n";
    return 1;
  }
}
