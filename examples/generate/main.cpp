// rltf-generate: sample completions from a Hugging Face checkpoint of any family rltf loads —
// GPT-2 (GPT2LMHeadModel), Llama (LlamaForCausalLM) and Qwen2 (Qwen2ForCausalLM) — from
// config.json + model.safetensors (or a sharded model.safetensors.index.json), with the
// tokenizer in the model's directory or --tokenizer DIR (tokenizer.json; GPT-2's vocab.json +
// merges.txt or encoder.json + vocab.bpe), or token ids alone (--prompt-ids) for a model without
// one. Unset sampling options take the checkpoint's generation_config.json defaults. --lora DIR
// attaches a LoRA adapter in PEFT's layout (adapter_config.json + adapter_model.safetensors).
//
//   rltf-generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3) [--greedy] [--json] ...
//   rltf-generate --help                      lists every option
//   rltf-generate --config run.json           options from a JSON object keyed by long flag names

#include <algorithm>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <rltf/core/error.hpp>
#include <rltf/core/rng.hpp>
#include <rltf/tokenize/gpt2.hpp>
#include <rltf/tokenize/hf.hpp>
#include <rltf/torch/decoder.hpp>
#include <rltf/torch/generate.hpp>
#include <rltf/torch/gpt2.hpp>
#include <rltf/torch/lora.hpp>

namespace {

/// CLI11 configuration files as JSON: an object whose keys are long option names (without the
/// dashes); values are strings, numbers, booleans (flags) or arrays (repeatable options).
class JsonConfig : public CLI::Config {
public:
  std::string to_config(const CLI::App* app, bool default_also, bool, std::string) const override {
    nlohmann::json j = nlohmann::json::object();
    for (const CLI::Option* opt : app->get_options()) {
      if (opt->get_lnames().empty() || opt->get_configurable() == false) continue;
      const std::string name = opt->get_lnames().front();
      if (opt->count() > 0) {
        const auto& results = opt->results();
        if (opt->get_type_size() == 0)
          j[name] = true;
        else if (results.size() == 1)
          j[name] = results.front();
        else
          j[name] = results;
      } else if (default_also && !opt->get_default_str().empty()) {
        j[name] = opt->get_default_str();
      }
    }
    return j.dump(2) + "\n";
  }

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(input);
    } catch (const nlohmann::json::exception& e) {
      throw CLI::ConversionError(std::string("--config: not valid JSON: ") + e.what());
    }
    if (!j.is_object()) throw CLI::ConversionError("--config: the file must hold a JSON object");
    std::vector<CLI::ConfigItem> items;
    for (const auto& [key, value] : j.items()) {
      CLI::ConfigItem item;
      item.name = key;
      auto text = [&](const nlohmann::json& v) -> std::string {
        if (v.is_string()) return v.get<std::string>();
        if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
        if (v.is_number()) return v.dump();
        throw CLI::ConversionError("--config: key '" + key + "' must be a string, number, boolean or array of them");
      };
      if (value.is_array())
        for (const auto& v : value) item.inputs.push_back(text(v));
      else
        item.inputs.push_back(text(value));
      items.push_back(std::move(item));
    }
    return items;
  }
};

struct Args {
  std::filesystem::path model, tokenizer, lora;
  std::optional<std::string> prompt;
  std::vector<std::int64_t> prompt_ids;
  std::optional<std::size_t> max_new_tokens;
  std::optional<float> temperature, top_p;
  std::optional<std::size_t> top_k;
  bool greedy = false, sample = false, ignore_eos = false, json = false;
  std::vector<std::string> stop;
  std::uint64_t seed = 0;
  std::size_t num_samples = 1;
  std::string device = "cpu", dtype = "float32";
};

/// How text becomes ids and back: a tokenizer, or none (ids only).
struct Codec {
  std::function<std::vector<rltf::token_id>(const std::string&)> encode;
  std::function<std::string(std::span<const rltf::token_id>)> decode;
  std::string name;
  [[nodiscard]] bool present() const { return static_cast<bool>(encode); }
};

bool has_gpt2_files(const std::filesystem::path& dir) {
  return (std::filesystem::exists(dir / "vocab.json") && std::filesystem::exists(dir / "merges.txt")) ||
         (std::filesystem::exists(dir / "encoder.json") && std::filesystem::exists(dir / "vocab.bpe"));
}

/// The tokenizer of `dir` (tokenizer.json first, then GPT-2's files), or none when it has neither.
Codec load_codec(const std::filesystem::path& dir, bool required) {
  Codec c;
  if (std::filesystem::exists(dir / "tokenizer.json")) {
    auto tok = std::make_shared<rltf::HfTokenizer>(rltf::HfTokenizer::from_directory(dir));
    c.encode = [tok](const std::string& s) { return tok->encode(s); };
    c.decode = [tok](std::span<const rltf::token_id> ids) { return tok->decode(ids); };
    c.name = "tokenizer.json";
  } else if (has_gpt2_files(dir)) {
    auto tok = std::make_shared<rltf::Gpt2Tokenizer>(rltf::Gpt2Tokenizer::from_directory(dir));
    c.encode = [tok](const std::string& s) { return tok->encode(s); };
    c.decode = [tok](std::span<const rltf::token_id> ids) { return tok->decode(ids); };
    c.name = "gpt2";
  } else if (required) {
    throw rltf::invalid_argument("no tokenizer in " + dir.string() +
                                 " (tokenizer.json, vocab.json + merges.txt or encoder.json + vocab.bpe): give "
                                 "--tokenizer DIR, or --prompt-ids instead of --prompt");
  }
  return c;
}

torch::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32") return torch::kFloat32;
  if (name == "float16") return torch::kFloat16;
  return torch::kBFloat16;
}

torch::Device parse_device(const std::string& name) {
  if (name != "cpu" && name != "cuda" && !name.starts_with("cuda:"))
    throw rltf::invalid_argument("--device must be cpu or cuda[:index], got '" + name + "'");
  if (name != "cpu" && !torch::cuda::is_available())
    throw rltf::invalid_argument("--device " + name + ": this LibTorch has no CUDA device");
  return torch::Device(name);
}

/// The checkpoint's model_type (or the family its architectures name).
std::string model_type(const std::filesystem::path& dir) {
  const auto path = dir / "config.json";
  std::ifstream in(path);
  if (!in) throw rltf::io_error("cannot open " + path.string() + " (--model must be a checkpoint directory)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw rltf::parse_error(path.string(), 0, "", std::string("not valid JSON: ") + e.what());
  }
  if (j.contains("model_type") && j["model_type"].is_string()) return j["model_type"].get<std::string>();
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string()) {
    const auto a = j["architectures"][0].get<std::string>();
    if (a.starts_with("GPT2")) return "gpt2";
    if (a.starts_with("Llama")) return "llama";
    if (a.starts_with("Qwen2")) return "qwen2";
    throw rltf::parse_error(path.string(), 0, "architectures",
                            "unsupported architecture \"" + a +
                                "\" (rltf-generate reads GPT2LMHeadModel, LlamaForCausalLM, Qwen2ForCausalLM)");
  }
  throw rltf::parse_error(path.string(), 0, "model_type", "missing (and no architectures): cannot tell the family");
}

const char* finish_name(rltf::FinishReason f) {
  switch (f) {
  case rltf::FinishReason::eos:
    return "eos";
  case rltf::FinishReason::stop:
    return "stop";
  case rltf::FinishReason::length:
    return "length";
  case rltf::FinishReason::context:
    return "context";
  }
  return "length";
}

/// Samples with `model`; `defaults` are the checkpoint's generation_config.json values.
template <rltf::CausalLM M>
int run(M& model, const Args& args, const Codec& codec, const rltf::GenerationDefaults& defaults) {
  rltf::Lora lora;
  if (!args.lora.empty()) lora = rltf::load_lora(model, args.lora);
  std::vector<rltf::token_id> prompt;
  if (args.prompt) {
    prompt = codec.encode(*args.prompt);
    if (prompt.empty()) prompt.push_back(model->bos_token_id());
  } else {
    for (const auto id : args.prompt_ids) {
      if (id < 0 || id >= model->vocab_size())
        throw rltf::invalid_argument("--prompt-ids: id " + std::to_string(id) + " is outside the model's vocabulary (" +
                                     std::to_string(model->vocab_size()) + " ids)");
      prompt.push_back(static_cast<rltf::token_id>(id));
    }
  }
  rltf::SamplingConfig cfg;
  cfg.max_new_tokens = args.max_new_tokens.value_or(
      defaults.max_new_tokens ? static_cast<std::size_t>(*defaults.max_new_tokens) : std::size_t{64});
  cfg.temperature = args.temperature.value_or(defaults.temperature ? static_cast<float>(*defaults.temperature) : 1.0F);
  cfg.top_p = args.top_p.value_or(defaults.top_p ? static_cast<float>(*defaults.top_p) : 1.0F);
  cfg.top_k = args.top_k.value_or(defaults.top_k ? static_cast<std::size_t>(*defaults.top_k) : std::size_t{0});
  // greedy when asked, or when the checkpoint says do_sample false and no sampling flag was given
  const bool sampling_flag = args.sample || args.temperature || args.top_p || args.top_k;
  cfg.greedy = args.greedy || (!sampling_flag && defaults.do_sample.has_value() && !*defaults.do_sample);
  cfg.num_samples = args.num_samples;
  cfg.stop = args.stop;
  if (!cfg.stop.empty() && !codec.present())
    throw rltf::invalid_argument("--stop needs a tokenizer (the model directory has none; give --tokenizer DIR)");

  rltf::GenerateOptions options;
  std::vector<rltf::token_id> eos = defaults.eos_token_ids;
  if (!args.ignore_eos && !eos.empty()) {
    options.eos_id = eos.front();
    options.more_eos_ids.assign(eos.begin() + 1, eos.end());
  }
  options.pad_id = defaults.pad_token_id.value_or(eos.empty() ? 0 : eos.front());
  if (options.pad_id < 0 || options.pad_id >= model->vocab_size()) options.pad_id = 0;

  const std::vector<std::vector<rltf::token_id>> prompts(args.num_samples, prompt);
  std::vector<std::string> texts(prompts.size());
  std::size_t longest_stop = 0;
  for (const auto& s : cfg.stop) longest_stop = std::max(longest_stop, s.size());
  auto stop = [&](std::size_t row, rltf::token_id token) {
    if (cfg.stop.empty()) return false;
    std::string& text = texts[row];
    const std::size_t before = text.size();
    text += codec.decode(std::span<const rltf::token_id>(&token, 1));
    const std::size_t from = before >= longest_stop ? before - longest_stop + 1 : 0;
    for (const auto& s : cfg.stop)
      if (text.find(s, from) != std::string::npos) return true;
    return false;
  };
  rltf::Rng rng = rltf::make_rng(args.seed);
  const auto generations = rltf::generate(model, std::span(prompts), cfg, rng, options, stop);

  for (std::size_t i = 0; i < generations.size(); ++i) {
    const auto& g = generations[i];
    double total = 0;
    for (const float lp : g.logprobs) total += lp;
    const std::size_t shown = g.finish == rltf::FinishReason::eos ? g.tokens.size() - 1 : g.tokens.size();
    std::optional<std::string> text;
    if (codec.present()) text = codec.decode(std::span<const rltf::token_id>(g.tokens.data(), shown));
    if (args.json) {
      nlohmann::json line = {{"prompt_ids", prompt},
                             {"ids", g.tokens},
                             {"tokens", g.tokens},
                             {"text", text ? nlohmann::json(*text) : nlohmann::json(nullptr)},
                             {"logprobs", g.logprobs},
                             {"sum_logprob", total},
                             {"finish", finish_name(g.finish)},
                             {"truncated", g.truncated()}};
      if (args.prompt) line["prompt"] = *args.prompt;
      if (text) line["completion"] = *text;
      std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
      std::cout << "=== sample " << i + 1 << "/" << generations.size() << " (" << g.tokens.size() << " tokens, log p "
                << total << (g.truncated() ? ", truncated" : "") << ")\n";
      if (text) {
        std::cout << (args.prompt ? *args.prompt : codec.decode(prompt)) << *text << "\n";
      } else {
        for (std::size_t k = 0; k < g.tokens.size(); ++k) std::cout << (k ? "," : "") << g.tokens[k];
        std::cout << "\n";
      }
    }
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"rltf-generate: sample completions from a GPT-2, Llama or Qwen2 Hugging Face checkpoint.",
               "rltf-generate"};
  app.config_formatter(std::make_shared<JsonConfig>());
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.set_config("--config", "", "read options from a JSON object whose keys are long option names");
  Args a;
  app.add_option("--model", a.model, "checkpoint directory (config.json + model.safetensors[.index.json])")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--tokenizer", a.tokenizer, "tokenizer directory (default: --model's)")->check(CLI::ExistingDirectory);
  app.add_option("--lora", a.lora, "a LoRA adapter directory (PEFT: adapter_config.json + adapter_model.safetensors)")
      ->check(CLI::ExistingDirectory);
  auto* prompt = app.add_option("--prompt", a.prompt, "prompt text");
  auto* ids = app.add_option("--prompt-ids", a.prompt_ids, "prompt token ids, e.g. 1,2,3 (no tokenizer needed)")
                  ->delimiter(',');
  prompt->excludes(ids);
  app.add_option("--max-new-tokens", a.max_new_tokens,
                 "tokens to generate (default: generation_config.json's max_new_tokens, else 64)");
  app.add_option("--temperature", a.temperature, "sampling temperature, 0 = greedy (default: generation_config.json)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--top-p", a.top_p, "nucleus mass in (0, 1] (default: generation_config.json, else 1)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--top-k", a.top_k, "keep the k most likely tokens, 0 = all (default: generation_config.json)");
  app.add_flag("--greedy", a.greedy, "argmax decoding");
  app.add_flag("--sample", a.sample, "sample even when generation_config.json says do_sample false");
  app.add_flag("--ignore-eos", a.ignore_eos, "do not stop at the end-of-sequence token(s)");
  app.add_option("--stop", a.stop, "stop string (repeatable); the completion ends after it");
  app.add_option("--seed", a.seed, "random seed");
  app.add_option("--num-samples", a.num_samples, "completions of the prompt")->check(CLI::PositiveNumber);
  app.add_option("--device", a.device, "cpu or cuda[:index]");
  app.add_option("--dtype", a.dtype, "compute dtype")->check(CLI::IsMember({"float32", "float16", "bfloat16"}));
  app.add_flag("--json", a.json, "one JSON object per sample: prompt_ids, ids, text, logprobs, finish");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (!a.prompt && a.prompt_ids.empty())
      throw rltf::invalid_argument("--prompt TEXT or --prompt-ids 1,2,3 is required");
    if (a.greedy && a.sample) throw rltf::invalid_argument("--greedy and --sample exclude each other");
    const torch::Device device = parse_device(a.device);
    const torch::ScalarType dtype = parse_dtype(a.dtype);
    if (dtype == torch::kFloat16 && device.is_cpu())
      throw rltf::invalid_argument("--dtype float16 needs --device cuda (LibTorch's CPU kernels lack half matmul)");
    const std::string type = model_type(a.model);
    const auto tokenizer_dir = a.tokenizer.empty() ? a.model : a.tokenizer;
    const Codec codec = load_codec(tokenizer_dir, a.prompt.has_value() || !a.tokenizer.empty());
    if (type == "gpt2") {
      rltf::Gpt2Model model = rltf::load_gpt2(a.model, {.device = device, .dtype = dtype});
      rltf::GenerationDefaults defaults;
      defaults.eos_token_ids = {model->config().eos_token_id};
      const auto gen_path = a.model / "generation_config.json";
      if (std::filesystem::exists(gen_path)) {
        std::ifstream in(gen_path);
        defaults = rltf::GenerationDefaults::from_json(nlohmann::json::parse(in), gen_path.string());
        if (defaults.eos_token_ids.empty()) defaults.eos_token_ids = {model->config().eos_token_id};
      }
      return run(model, a, codec, defaults);
    }
    if (type == "llama" || type == "qwen2") {
      rltf::DecoderModel model = rltf::load_decoder(a.model, {.device = device, .dtype = dtype});
      return run(model, a, codec, model->generation());
    }
    throw rltf::parse_error((a.model / "config.json").string(), 0, "model_type",
                            "unsupported model type \"" + type + "\" (rltf-generate reads gpt2, llama and qwen2)");
  } catch (const rltf::invalid_argument& e) {
    std::cerr << "rltf-generate: " << e.what() << "\nRun with --help for the options.\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "rltf-generate: " << e.what() << "\n";
    return 1;
  }
}
