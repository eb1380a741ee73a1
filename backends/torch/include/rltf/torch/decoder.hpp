#pragma once
/// \file
/// Llama-architecture decoders on LibTorch — Hugging Face's LlamaForCausalLM and
/// Qwen2ForCausalLM — as one module, rltf::DecoderModel, a model of rltf::CausalLM:
/// RMSNorm (computed in float32, as HF does), rotary embeddings (rotate_half; default, `linear` and
/// Llama-3 `llama3` rope_scaling), grouped-query attention, SwiGLU MLP, q/k/v biases (Qwen2;
/// Llama's attention_bias / mlp_bias), tied or separate lm_head, left padding (positions count
/// real tokens only, as HF's generate() builds position_ids from the attention mask) and a
/// preallocated KV cache.
///
/// Checkpoints: config.json + model.safetensors, or sharded model.safetensors.index.json; F32, F16
/// or BF16 weights (converted to the dtype asked for). Parameter names are Hugging Face's
/// (`model.layers.0.self_attn.q_proj.weight`, `model.norm.weight`, `lm_head.weight`), so
/// save_decoder writes what `AutoModelForCausalLM.from_pretrained` loads. generation_config.json
/// is read into DecoderModel::generation() and written back.
///
/// \code
/// rltf::DecoderModel model = rltf::load_decoder("Qwen2.5-Coder-0.5B");      // CPU, float32
/// torch::Tensor logits = model->forward(torch::tensor({{9707, 11}}));        // [1, 2, vocab]
/// rltf::save_decoder(model, "out/copy");
/// \endcode

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <numbers>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/core/span.hpp"
#include "rltf/formats/safetensors.hpp"
#include "rltf/torch/adapter.hpp"
#include "rltf/torch/causal_lm.hpp"
#include "rltf/torch/safetensors.hpp"

namespace rltf {

/// The decoder families DecoderModel implements.
enum class DecoderFamily : std::uint8_t { llama, qwen2 };

/// Rotary-embedding frequency scaling (config.json's `rope_scaling`).
struct RopeScaling {
  std::string rope_type = "default"; ///< default, linear or llama3
  double factor = 1.0;
  double low_freq_factor = 1.0;                         ///< llama3
  double high_freq_factor = 4.0;                        ///< llama3
  std::int64_t original_max_position_embeddings = 8192; ///< llama3
};

/// Defaults for sampling a checkpoint ships in generation_config.json (the keys rltf uses).
struct GenerationDefaults {
  std::optional<bool> do_sample;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<std::int64_t> top_k;
  std::optional<std::int64_t> max_new_tokens;
  std::vector<token_id> eos_token_ids; ///< every id that ends a generation
  std::optional<token_id> bos_token_id;
  std::optional<token_id> pad_token_id;

  /// Reads generation_config.json; a key of the wrong type is a parse_error naming file and key.
  [[nodiscard]] static GenerationDefaults from_json(const nlohmann::json& j, const std::string& source) {
    if (!j.is_object()) throw parse_error(source, 0, "", "generation_config.json must be a JSON object");
    GenerationDefaults g;
    auto fail = [&](const char* key, const std::string& what) { throw parse_error(source, 0, key, what); };
    auto present = [&](const char* key) { return j.contains(key) && !j[key].is_null(); };
    if (present("do_sample")) {
      if (!j["do_sample"].is_boolean()) fail("do_sample", "must be true or false, got " + j["do_sample"].dump());
      g.do_sample = j["do_sample"].get<bool>();
    }
    for (auto [key, out] : {std::pair{"temperature", &g.temperature}, std::pair{"top_p", &g.top_p}})
      if (present(key)) {
        if (!j[key].is_number()) fail(key, "must be a number, got " + j[key].dump());
        *out = j[key].get<double>();
      }
    for (auto [key, out] : {std::pair{"top_k", &g.top_k}, std::pair{"max_new_tokens", &g.max_new_tokens}})
      if (present(key)) {
        if (!j[key].is_number_integer()) fail(key, "must be an integer, got " + j[key].dump());
        *out = j[key].get<std::int64_t>();
      }
    for (auto [key, out] : {std::pair{"bos_token_id", &g.bos_token_id}, std::pair{"pad_token_id", &g.pad_token_id}})
      if (present(key)) {
        if (!j[key].is_number_integer()) fail(key, "must be an integer, got " + j[key].dump());
        *out = j[key].get<token_id>();
      }
    if (present("eos_token_id")) {
      const auto& e = j["eos_token_id"];
      if (e.is_number_integer()) {
        g.eos_token_ids.push_back(e.get<token_id>());
      } else if (e.is_array()) {
        for (const auto& x : e) {
          if (!x.is_number_integer()) fail("eos_token_id", "must be an integer or a list of integers, got " + e.dump());
          g.eos_token_ids.push_back(x.get<token_id>());
        }
      } else {
        fail("eos_token_id", "must be an integer or a list of integers, got " + e.dump());
      }
    }
    return g;
  }

  [[nodiscard]] nlohmann::json to_json() const {
    nlohmann::json j = nlohmann::json::object();
    if (bos_token_id) j["bos_token_id"] = *bos_token_id;
    if (eos_token_ids.size() == 1) j["eos_token_id"] = eos_token_ids.front();
    if (eos_token_ids.size() > 1) j["eos_token_id"] = eos_token_ids;
    if (pad_token_id) j["pad_token_id"] = *pad_token_id;
    if (do_sample) j["do_sample"] = *do_sample;
    if (temperature) j["temperature"] = *temperature;
    if (top_p) j["top_p"] = *top_p;
    if (top_k) j["top_k"] = *top_k;
    if (max_new_tokens) j["max_new_tokens"] = *max_new_tokens;
    return j;
  }
};

/// A Llama or Qwen2 architecture. Field names are Hugging Face's config.json keys.
struct DecoderConfig {
  DecoderFamily family = DecoderFamily::llama;
  std::int64_t vocab_size = 32000;
  std::int64_t hidden_size = 4096;
  std::int64_t intermediate_size = 11008;
  std::int64_t num_hidden_layers = 32;
  std::int64_t num_attention_heads = 32;
  std::int64_t num_key_value_heads = 32;
  std::int64_t head_dim = 0; ///< 0: hidden_size / num_attention_heads
  std::int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  std::string hidden_act = "silu";
  bool attention_bias = false; ///< q/k/v/o biases (Llama); Qwen2 always has q/k/v biases and no o bias
  bool mlp_bias = false;
  bool tie_word_embeddings = false;
  token_id bos_token_id = 1;
  std::vector<token_id> eos_token_ids = {2};
  double initializer_range = 0.02;
  bool value_head = false;  ///< add `v_head.summary` (Linear hidden → 1) for PPO
  bool reward_head = false; ///< add `score` (Linear hidden → 1, no bias), as *ForSequenceClassification

  [[nodiscard]] std::int64_t head_size() const noexcept {
    return head_dim > 0 ? head_dim : hidden_size / num_attention_heads;
  }
  [[nodiscard]] bool qkv_bias() const noexcept { return family == DecoderFamily::qwen2 || attention_bias; }
  [[nodiscard]] bool o_bias() const noexcept { return family == DecoderFamily::llama && attention_bias; }

  /// Throws invalid_argument when a field is out of its domain.
  void validate() const {
    auto positive = [](std::int64_t v, const char* field) {
      if (v <= 0)
        throw invalid_argument(std::string("DecoderConfig: ") + field + " must be positive, got " + std::to_string(v));
    };
    positive(vocab_size, "vocab_size");
    positive(hidden_size, "hidden_size");
    positive(intermediate_size, "intermediate_size");
    positive(num_hidden_layers, "num_hidden_layers");
    positive(num_attention_heads, "num_attention_heads");
    positive(num_key_value_heads, "num_key_value_heads");
    positive(max_position_embeddings, "max_position_embeddings");
    if (head_dim < 0) throw invalid_argument("DecoderConfig: head_dim must not be negative");
    if (head_dim == 0 && hidden_size % num_attention_heads != 0)
      throw invalid_argument("DecoderConfig: hidden_size (" + std::to_string(hidden_size) +
                             ") must be a multiple of num_attention_heads (" + std::to_string(num_attention_heads) +
                             ") when head_dim is not given");
    if (head_size() % 2 != 0)
      throw invalid_argument("DecoderConfig: head_dim must be even for rotary embeddings, got " +
                             std::to_string(head_size()));
    if (num_attention_heads % num_key_value_heads != 0)
      throw invalid_argument("DecoderConfig: num_attention_heads (" + std::to_string(num_attention_heads) +
                             ") must be a multiple of num_key_value_heads (" + std::to_string(num_key_value_heads) +
                             ")");
    if (!(rms_norm_eps > 0)) throw invalid_argument("DecoderConfig: rms_norm_eps must be positive");
    if (!(rope_theta > 0)) throw invalid_argument("DecoderConfig: rope_theta must be positive");
    static const std::set<std::string> acts = {"silu", "swish", "gelu", "gelu_pytorch_tanh", "gelu_new", "relu"};
    if (!acts.contains(hidden_act))
      throw invalid_argument("DecoderConfig: unsupported hidden_act '" + hidden_act + "'");
    const auto& r = rope_scaling;
    if (r.rope_type != "default" && r.rope_type != "linear" && r.rope_type != "llama3")
      throw invalid_argument("DecoderConfig: rope_scaling.rope_type '" + r.rope_type +
                             "' is not supported (default, linear, llama3)");
    if (!(r.factor > 0)) throw invalid_argument("DecoderConfig: rope_scaling.factor must be positive");
    if (r.rope_type == "llama3") {
      if (!(r.high_freq_factor > r.low_freq_factor) || !(r.low_freq_factor > 0))
        throw invalid_argument("DecoderConfig: rope_scaling needs 0 < low_freq_factor < high_freq_factor");
      if (r.original_max_position_embeddings <= 0)
        throw invalid_argument("DecoderConfig: rope_scaling.original_max_position_embeddings must be positive");
    }
  }

  /// The rotary inverse frequencies (head_dim / 2 of them) after rope_scaling, in float64, as
  /// transformers' modeling_rope_utils computes them (_compute_default_rope_parameters,
  /// _compute_linear_scaling_rope_parameters, _compute_llama3_parameters).
  [[nodiscard]] std::vector<double> inv_freq() const {
    const auto d = head_size();
    std::vector<double> f;
    for (std::int64_t i = 0; i < d; i += 2)
      f.push_back(1.0 / std::pow(rope_theta, static_cast<double>(i) / static_cast<double>(d)));
    const auto& r = rope_scaling;
    if (r.rope_type == "linear")
      for (auto& x : f) x /= r.factor;
    if (r.rope_type == "llama3") {
      const double old_len = static_cast<double>(r.original_max_position_embeddings);
      const double low_wavelen = old_len / r.low_freq_factor, high_wavelen = old_len / r.high_freq_factor;
      for (auto& x : f) {
        const double wavelen = 2 * std::numbers::pi / x;
        if (wavelen > low_wavelen) {
          x /= r.factor;
        } else if (wavelen >= high_wavelen) { // medium: interpolate
          const double s = (old_len / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
          x = (1 - s) * x / r.factor + s * x;
        }
      }
    }
    return f;
  }

  /// Reads a Hugging Face config.json of a LlamaForCausalLM or Qwen2ForCausalLM. The family comes
  /// from `model_type` (or `architectures` when it is absent); another is a parse_error naming
  /// the field. A missing required key, a key of the wrong type or an out-of-range value is a
  /// parse_error naming the file and the key.
  [[nodiscard]] static DecoderConfig from_json(const nlohmann::json& j, const std::string& source = "config.json") {
    if (!j.is_object()) throw parse_error(source, 0, "", "a config must be a JSON object");
    auto fail = [&](const std::string& key, const std::string& what) -> void {
      throw parse_error(source, 0, key, what);
    };
    DecoderConfig c;
    if (j.contains("model_type") && j["model_type"].is_string()) {
      const auto t = j["model_type"].get<std::string>();
      if (t == "llama")
        c.family = DecoderFamily::llama;
      else if (t == "qwen2")
        c.family = DecoderFamily::qwen2;
      else
        fail("model_type", "unsupported model type \"" + t + "\" (DecoderModel reads llama and qwen2)");
    } else if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
               j["architectures"][0].is_string()) {
      const auto a = j["architectures"][0].get<std::string>();
      if (a.starts_with("Llama"))
        c.family = DecoderFamily::llama;
      else if (a.starts_with("Qwen2") && !a.starts_with("Qwen2Moe") && !a.starts_with("Qwen2VL"))
        c.family = DecoderFamily::qwen2;
      else
        fail("architectures", "unsupported architecture \"" + a + "\" (LlamaForCausalLM, Qwen2ForCausalLM)");
    } else {
      fail("model_type", "missing (and no architectures): cannot tell the model family");
    }
    const bool qwen = c.family == DecoderFamily::qwen2;
    // the defaults of transformers' LlamaConfig / Qwen2Config for keys a config.json may omit
    c.max_position_embeddings = qwen ? 32768 : 2048;
    c.rms_norm_eps = 1e-6;
    c.tie_word_embeddings = false;
    auto present = [&](const char* key) { return j.contains(key) && !j[key].is_null(); };
    auto integer = [&](const char* key, std::int64_t& out, bool required) {
      if (!present(key)) {
        if (required) fail(key, "missing");
        return;
      }
      if (!j[key].is_number_integer()) fail(key, "must be an integer, got " + j[key].dump());
      out = j[key].get<std::int64_t>();
    };
    auto number = [&](const char* key, double& out) {
      if (!present(key)) return;
      if (!j[key].is_number()) fail(key, "must be a number, got " + j[key].dump());
      out = j[key].get<double>();
    };
    auto boolean = [&](const char* key, bool& out) {
      if (!present(key)) return;
      if (!j[key].is_boolean()) fail(key, "must be true or false, got " + j[key].dump());
      out = j[key].get<bool>();
    };
    integer("vocab_size", c.vocab_size, true);
    integer("hidden_size", c.hidden_size, true);
    integer("intermediate_size", c.intermediate_size, true);
    integer("num_hidden_layers", c.num_hidden_layers, true);
    integer("num_attention_heads", c.num_attention_heads, true);
    c.num_key_value_heads = c.num_attention_heads;
    integer("num_key_value_heads", c.num_key_value_heads, false);
    integer("head_dim", c.head_dim, false);
    integer("max_position_embeddings", c.max_position_embeddings, false);
    number("rms_norm_eps", c.rms_norm_eps);
    number("rope_theta", c.rope_theta);
    number("initializer_range", c.initializer_range);
    boolean("tie_word_embeddings", c.tie_word_embeddings);
    if (!qwen) {
      boolean("attention_bias", c.attention_bias);
      boolean("mlp_bias", c.mlp_bias);
    }
    if (qwen && present("use_sliding_window")) {
      bool sliding = false;
      boolean("use_sliding_window", sliding);
      if (sliding) fail("use_sliding_window", "true is not supported (sliding-window attention)");
    }
    if (!qwen && present("pretraining_tp")) {
      std::int64_t tp = 1;
      integer("pretraining_tp", tp, false);
      if (tp != 1) fail("pretraining_tp", "only 1 is supported, got " + std::to_string(tp));
    }
    if (present("hidden_act")) {
      if (!j["hidden_act"].is_string()) fail("hidden_act", "must be a string, got " + j["hidden_act"].dump());
      c.hidden_act = j["hidden_act"].get<std::string>();
    }
    if (present("rope_scaling")) {
      const auto& r = j["rope_scaling"];
      if (!r.is_object()) fail("rope_scaling", "must be an object or null, got " + r.dump());
      const char* type_key = r.contains("rope_type") ? "rope_type" : "type";
      if (!r.contains(type_key) || !r[type_key].is_string())
        fail("rope_scaling.rope_type", "missing (a string: default, linear or llama3)");
      c.rope_scaling.rope_type = r[type_key].get<std::string>();
      auto sub_number = [&](const char* key, double& out, bool required) {
        const std::string field = std::string("rope_scaling.") + key;
        if (!r.contains(key) || r[key].is_null()) {
          if (required) fail(field, "missing");
          return;
        }
        if (!r[key].is_number()) fail(field, "must be a number, got " + r[key].dump());
        out = r[key].get<double>();
      };
      const bool llama3 = c.rope_scaling.rope_type == "llama3";
      if (c.rope_scaling.rope_type != "default") sub_number("factor", c.rope_scaling.factor, true);
      if (llama3) {
        sub_number("low_freq_factor", c.rope_scaling.low_freq_factor, true);
        sub_number("high_freq_factor", c.rope_scaling.high_freq_factor, true);
        double original = 0;
        sub_number("original_max_position_embeddings", original, true);
        c.rope_scaling.original_max_position_embeddings = static_cast<std::int64_t>(original);
      }
    }
    std::int64_t bos = c.bos_token_id;
    integer("bos_token_id", bos, false);
    c.bos_token_id = static_cast<token_id>(bos);
    if (present("eos_token_id")) {
      c.eos_token_ids = GenerationDefaults::from_json({{"eos_token_id", j["eos_token_id"]}}, source).eos_token_ids;
    } else if (qwen) {
      c.eos_token_ids.clear(); // Qwen2Config has no default
    }
    boolean("rltf_value_head", c.value_head);
    boolean("rltf_reward_head", c.reward_head);
    try {
      c.validate();
    } catch (const invalid_argument& e) {
      throw parse_error(source, 0, "", e.what());
    }
    return c;
  }

  /// \overload: reads the file.
  [[nodiscard]] static DecoderConfig from_json_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) throw io_error("cannot open " + path.string());
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw parse_error(path.string(), 0, "", std::string("not valid JSON: ") + e.what());
    }
    return from_json(j, path.string());
  }

  /// A config.json that transformers' AutoConfig and rltf both read.
  [[nodiscard]] nlohmann::json to_json() const {
    const bool qwen = family == DecoderFamily::qwen2;
    nlohmann::json j;
    const std::string arch = qwen ? "Qwen2" : "Llama";
    j["architectures"] = {arch + (reward_head ? "ForSequenceClassification" : "ForCausalLM")};
    j["model_type"] = qwen ? "qwen2" : "llama";
    j["vocab_size"] = vocab_size;
    j["hidden_size"] = hidden_size;
    j["intermediate_size"] = intermediate_size;
    j["num_hidden_layers"] = num_hidden_layers;
    j["num_attention_heads"] = num_attention_heads;
    j["num_key_value_heads"] = num_key_value_heads;
    j["head_dim"] = head_size();
    j["max_position_embeddings"] = max_position_embeddings;
    j["rms_norm_eps"] = rms_norm_eps;
    j["rope_theta"] = rope_theta;
    if (rope_scaling.rope_type == "default") {
      j["rope_scaling"] = nullptr;
    } else {
      nlohmann::json r{{"rope_type", rope_scaling.rope_type}, {"factor", rope_scaling.factor}};
      if (rope_scaling.rope_type == "llama3") {
        r["low_freq_factor"] = rope_scaling.low_freq_factor;
        r["high_freq_factor"] = rope_scaling.high_freq_factor;
        r["original_max_position_embeddings"] = rope_scaling.original_max_position_embeddings;
      }
      j["rope_scaling"] = r;
    }
    j["hidden_act"] = hidden_act;
    if (qwen) {
      j["use_sliding_window"] = false;
      j["sliding_window"] = nullptr;
      j["max_window_layers"] = num_hidden_layers;
    } else {
      j["attention_bias"] = attention_bias;
      j["mlp_bias"] = mlp_bias;
      j["pretraining_tp"] = 1;
    }
    j["attention_dropout"] = 0.0;
    j["tie_word_embeddings"] = tie_word_embeddings;
    j["bos_token_id"] = bos_token_id;
    if (eos_token_ids.size() == 1)
      j["eos_token_id"] = eos_token_ids.front();
    else
      j["eos_token_id"] = eos_token_ids;
    j["initializer_range"] = initializer_range;
    j["use_cache"] = true;
    j["torch_dtype"] = "float32";
    if (value_head) j["rltf_value_head"] = true;
    if (reward_head) {
      j["rltf_reward_head"] = true;
      j["num_labels"] = 1;
    }
    return j;
  }
};

/// RMSNorm as transformers computes it: in float32, then weight · x cast back to the input dtype.
class RmsNormImpl : public torch::nn::Module {
public:
  RmsNormImpl(std::int64_t size, double eps) : eps_(eps) { weight = register_parameter("weight", torch::ones({size})); }
  torch::Tensor forward(const torch::Tensor& x) {
    const torch::Tensor h = x.to(torch::kFloat32);
    const torch::Tensor normed = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps_);
    return weight * normed.to(x.scalar_type());
  }
  torch::Tensor weight;

private:
  double eps_;
};
TORCH_MODULE(RmsNorm);

namespace detail {

inline torch::Tensor torch_decoder_activation(const std::string& name, const torch::Tensor& x) {
  if (name == "silu" || name == "swish") return torch::silu(x);
  if (name == "gelu") return torch::gelu(x);
  if (name == "gelu_pytorch_tanh" || name == "gelu_new") return torch::gelu(x, "tanh");
  if (name == "relu") return torch::relu(x);
  throw invalid_argument("DecoderModel: unsupported hidden_act '" + name + "'");
}

/// x · rotate_half with cos/sin [B, 1, T, head_dim]: x·cos + rotate_half(x)·sin.
inline torch::Tensor torch_apply_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const auto half = x.size(-1) / 2;
  const torch::Tensor rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos + rotated * sin;
}

} // namespace detail

/// One decoder layer: x + o_proj(attn(input_layernorm(x))), then + mlp(post_attention_layernorm(x)).
class DecoderLayerImpl : public torch::nn::Module {
public:
  DecoderLayerImpl(const DecoderConfig& c, std::int64_t layer) : config_(c), layer_(layer) {
    const auto e = c.hidden_size, d = c.head_size();
    auto linear = [](std::int64_t in, std::int64_t out, bool bias) {
      return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
    };
    auto attn = register_module("self_attn", std::make_shared<torch::nn::Module>());
    q_proj = attn->register_module("q_proj", linear(e, c.num_attention_heads * d, c.qkv_bias()));
    k_proj = attn->register_module("k_proj", linear(e, c.num_key_value_heads * d, c.qkv_bias()));
    v_proj = attn->register_module("v_proj", linear(e, c.num_key_value_heads * d, c.qkv_bias()));
    o_proj = attn->register_module("o_proj", linear(c.num_attention_heads * d, e, c.o_bias()));
    auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>());
    gate_proj = mlp->register_module("gate_proj", linear(e, c.intermediate_size, c.mlp_bias));
    up_proj = mlp->register_module("up_proj", linear(e, c.intermediate_size, c.mlp_bias));
    down_proj = mlp->register_module("down_proj", linear(c.intermediate_size, e, c.mlp_bias));
    input_layernorm = register_module("input_layernorm", RmsNorm(e, c.rms_norm_eps));
    post_attention_layernorm = register_module("post_attention_layernorm", RmsNorm(e, c.rms_norm_eps));
  }

  /// x [B, T, E]; cos/sin [B, 1, T, head_dim] in x's dtype; `allowed` [B, 1, 1, T, S] bool.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& allowed, KvCache* cache) {
    const auto b = x.size(0), t = x.size(1);
    const auto h = config_.num_attention_heads, kv = config_.num_key_value_heads, d = config_.head_size();
    const auto groups = h / kv;
    const bool training = is_training();
    auto project = [training](torch::nn::Linear& p, const detail::AdapterSlot& slot, const torch::Tensor& in) {
      return slot.apply(in, p(in), training);
    };
    const torch::Tensor normed = input_layernorm(x);
    torch::Tensor q = project(q_proj, q_lora, normed).view({b, t, h, d}).transpose(1, 2);
    torch::Tensor k = project(k_proj, k_lora, normed).view({b, t, kv, d}).transpose(1, 2);
    torch::Tensor v = project(v_proj, v_lora, normed).view({b, t, kv, d}).transpose(1, 2);
    q = detail::torch_apply_rotary(q, cos, sin);
    k = detail::torch_apply_rotary(k, cos, sin);
    if (cache != nullptr) std::tie(k, v) = cache->append(static_cast<std::size_t>(layer_), k, v);
    const auto s = k.size(2);
    // grouped-query attention without repeating keys: query head kv·groups + g uses kv head kv
    const torch::Tensor qg = q.reshape({b, kv, groups * t, d});
    torch::Tensor scores = torch::matmul(qg, k.transpose(-1, -2)).view({b, kv, groups, t, s});
    if (scores.scalar_type() != torch::kFloat32 && scores.scalar_type() != torch::kFloat64)
      scores = scores.to(torch::kFloat32);
    scores = (scores * (1.0 / std::sqrt(static_cast<double>(d))))
                 .masked_fill(allowed.logical_not(), std::numeric_limits<float>::lowest());
    const torch::Tensor probs = torch::softmax(scores, -1).to(v.scalar_type()).view({b, kv, groups * t, s});
    const torch::Tensor attended = torch::matmul(probs, v).view({b, h, t, d}).transpose(1, 2).reshape({b, t, h * d});
    const torch::Tensor y = x + project(o_proj, o_lora, attended);
    const torch::Tensor n2 = post_attention_layernorm(y);
    const torch::Tensor gated =
        detail::torch_decoder_activation(config_.hidden_act, project(gate_proj, gate_lora, n2)) *
        project(up_proj, up_lora, n2);
    return y + project(down_proj, down_lora, gated);
  }

  /// The layer's projections as adapter targets, named `prefix` + `self_attn.q_proj` etc.
  void adapter_targets(const std::string& prefix, std::vector<AdapterTarget>& out) {
    auto add = [&](const char* name, torch::nn::Linear& p, detail::AdapterSlot& slot) {
      out.push_back({prefix + name, p->weight.size(1), p->weight.size(0), false, p->weight, &slot});
    };
    add("self_attn.q_proj", q_proj, q_lora);
    add("self_attn.k_proj", k_proj, k_lora);
    add("self_attn.v_proj", v_proj, v_lora);
    add("self_attn.o_proj", o_proj, o_lora);
    add("mlp.gate_proj", gate_proj, gate_lora);
    add("mlp.up_proj", up_proj, up_lora);
    add("mlp.down_proj", down_proj, down_lora);
  }

  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
  RmsNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  /// Optional low-rank adapters of the projections (rltf/torch/lora.hpp).
  detail::AdapterSlot q_lora, k_lora, v_lora, o_lora, gate_lora, up_lora, down_lora;

private:
  DecoderConfig config_;
  std::int64_t layer_;
};
TORCH_MODULE(DecoderLayer);

/// Intermediate values of a DecoderModel forward pass, for tests and inspection.
struct DecoderTrace {
  torch::Tensor embeddings;                 ///< embed_tokens[ids]
  std::vector<torch::Tensor> layer_outputs; ///< the residual stream after each layer
};

/// LlamaForCausalLM / Qwen2ForCausalLM (with the optional value and reward heads). Parameter
/// names are the checkpoint's: `model.embed_tokens.weight`, `model.layers.N.…`, `model.norm.weight`,
/// `lm_head.weight` (absent when tied), `v_head.summary.*`, `score.weight`.
class DecoderModelImpl : public torch::nn::Module {
public:
  /// A randomly initialised model (transformers' scheme: normal(0, initializer_range) weights,
  /// zero biases, unit norms), the same for a seed on every device.
  explicit DecoderModelImpl(DecoderConfig config, std::uint64_t seed = 0) : config_(std::move(config)) {
    config_.validate();
    const auto e = config_.hidden_size;
    auto body = register_module("model", std::make_shared<torch::nn::Module>());
    embed_tokens = body->register_module("embed_tokens", torch::nn::Embedding(config_.vocab_size, e));
    layers = body->register_module("layers", torch::nn::ModuleList());
    for (std::int64_t l = 0; l < config_.num_hidden_layers; ++l) {
      layers_.push_back(DecoderLayer(config_, l));
      layers->push_back(layers_.back());
    }
    norm = body->register_module("norm", RmsNorm(e, config_.rms_norm_eps));
    if (!config_.tie_word_embeddings)
      lm_head =
          register_module("lm_head", torch::nn::Linear(torch::nn::LinearOptions(e, config_.vocab_size).bias(false)));
    if (config_.value_head) {
      auto v_head = register_module("v_head", std::make_shared<torch::nn::Module>());
      value_proj = v_head->register_module("summary", torch::nn::Linear(e, 1));
    }
    if (config_.reward_head)
      score = register_module("score", torch::nn::Linear(torch::nn::LinearOptions(e, 1).bias(false)));
    const auto f = config_.inv_freq();
    inv_freq_ = torch::tensor(f, torch::kFloat64);
    reset_parameters(seed);
  }

  /// Re-draws every parameter from `seed`.
  void reset_parameters(std::uint64_t seed) {
    torch::NoGradGuard no_grad;
    auto gen = at::detail::createCPUGenerator(seed);
    for (auto& item : named_parameters()) {
      const std::string& name = item.key();
      torch::Tensor host = torch::empty(item.value().sizes(), torch::kFloat32);
      if (name.ends_with("norm.weight"))
        host.fill_(1.0);
      else if (name.ends_with(".bias"))
        host.zero_();
      else
        host.normal_(0.0, config_.initializer_range, gen);
      item.value().copy_(host);
    }
  }

  /// The final hidden states (after model.norm), [B, T, E]. `ids` [B, T] int64; `attention_mask`
  /// [B, T] (nonzero = real; undefined = all real): padded keys are never attended to and
  /// positions count real tokens only, so a left-padded row computes what it computes alone;
  /// `cache` (from make_cache()): the new keys/values are appended and attention covers it.
  torch::Tensor transformer(const torch::Tensor& ids, const torch::Tensor& attention_mask = {},
                            KvCache* cache = nullptr, DecoderTrace* trace = nullptr) {
    if (ids.dim() != 2)
      throw shape_error("DecoderModel::transformer: ids must be [batch, tokens], got " + shape_string(ids));
    const auto b = ids.size(0), t = ids.size(1);
    const torch::Device dev = device();
    const torch::Tensor input = ids.to(dev, torch::kInt64);
    const torch::Tensor real_mask = attention_mask.defined()
                                        ? attention_mask.to(dev).ne(0)
                                        : torch::ones({b, t}, torch::TensorOptions().dtype(torch::kBool).device(dev));
    if (real_mask.sizes() != ids.sizes())
      throw shape_error("DecoderModel::transformer: attention_mask has shape " + shape_string(attention_mask) +
                        " but ids have shape " + shape_string(ids));
    if (t > 0 && (input.min().item<std::int64_t>() < 0 || input.max().item<std::int64_t>() >= config_.vocab_size))
      throw invalid_argument("DecoderModel::transformer: a token id is outside the vocabulary of " +
                             std::to_string(config_.vocab_size));
    std::int64_t past = 0;
    torch::Tensor before = torch::zeros({b}, torch::TensorOptions().dtype(torch::kInt64).device(dev));
    if (cache != nullptr) {
      if (cache->empty()) throw invalid_argument("DecoderModel::transformer: the cache was not made with make_cache()");
      if (cache->keys.front().size(0) != b)
        throw shape_error("DecoderModel::transformer: the cache holds " + std::to_string(cache->keys.front().size(0)) +
                          " rows but ids have " + std::to_string(b));
      if (cache->length + t > cache->capacity)
        throw invalid_argument("DecoderModel::transformer: the cache holds " + std::to_string(cache->capacity) +
                               " tokens; " + std::to_string(cache->length + t) + " needed");
      past = cache->length;
      before = cache->real;
    }
    // position_ids = (real tokens before) + cumsum(mask) - 1; pads get 1 as in HF (unused: masked)
    const torch::Tensor positions = torch::where(
        real_mask, before.unsqueeze(1) + real_mask.to(torch::kInt64).cumsum(1) - 1, torch::ones_like(input));
    // rotary tables in float64, then the compute dtype (HF: float32 then cast)
    const torch::Tensor freqs = positions.to(torch::kFloat64).unsqueeze(-1) * inv_freq_.to(dev).view({1, 1, -1});
    const torch::Tensor emb = torch::cat({freqs, freqs}, -1).unsqueeze(1); // [B, 1, T, d]
    const auto compute = embed_tokens->weight.scalar_type();
    const torch::Tensor cos = emb.cos().to(compute), sin = emb.sin().to(compute);

    torch::Tensor key_mask;
    if (cache != nullptr) {
      cache->mask.narrow(1, past, t).copy_(real_mask);
      key_mask = cache->mask.narrow(1, 0, past + t);
    } else {
      key_mask = real_mask;
    }
    const auto s = past + t;
    const auto opts = torch::TensorOptions().dtype(torch::kInt64).device(dev);
    const torch::Tensor causal = torch::arange(s, opts).unsqueeze(0) <= (torch::arange(t, opts) + past).unsqueeze(1);
    // [B, 1, 1, T, S]: broadcast over kv heads and query groups
    const torch::Tensor allowed = causal.view({1, 1, 1, t, s}) & key_mask.view({b, 1, 1, 1, s});

    torch::Tensor x = embed_tokens(input);
    if (trace != nullptr) trace->embeddings = x;
    for (auto& layer : layers_) {
      x = layer->forward(x, cos, sin, allowed, cache);
      if (trace != nullptr) trace->layer_outputs.push_back(x);
    }
    if (cache != nullptr) {
      cache->length += t;
      cache->real = before + real_mask.to(torch::kInt64).sum(1);
    }
    return norm(x);
  }

  /// Next-token logits [..., V] of hidden states [..., E].
  torch::Tensor lm_logits(const torch::Tensor& hidden) {
    return torch::matmul(hidden, (lm_head ? lm_head->weight : embed_tokens->weight).t());
  }

  /// Logits for every position, [B, T, V].
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& attention_mask = {}) {
    return lm_logits(transformer(ids, attention_mask));
  }

  /// Per-position values of the value head, [B, T].
  torch::Tensor values(const torch::Tensor& hidden) {
    if (!value_proj)
      throw invalid_argument("DecoderModel::values: the model has no value head (DecoderConfig::value_head)");
    return value_proj(hidden).squeeze(-1);
  }

  /// One scalar per row from the reward head at the last real token, [B].
  torch::Tensor rewards(const torch::Tensor& hidden, const torch::Tensor& attention_mask = {}) {
    if (!score)
      throw invalid_argument("DecoderModel::rewards: the model has no reward head (DecoderConfig::reward_head)");
    const auto b = hidden.size(0), t = hidden.size(1);
    torch::Tensor last;
    if (attention_mask.defined()) {
      const torch::Tensor idx = torch::arange(t, torch::TensorOptions().dtype(torch::kInt64).device(hidden.device()));
      last = ((attention_mask.to(hidden.device()).ne(0).to(torch::kInt64) * (idx + 1)).amax(1) - 1).clamp_min(0);
    } else {
      last = torch::full({b}, t - 1, torch::TensorOptions().dtype(torch::kInt64).device(hidden.device()));
    }
    const torch::Tensor picked = hidden.gather(1, last.view({b, 1, 1}).expand({b, 1, hidden.size(2)})).squeeze(1);
    return score(picked).squeeze(-1);
  }

  [[nodiscard]] KvCache make_cache(std::int64_t batch, std::int64_t capacity) const {
    return KvCache::make(config_.num_hidden_layers, batch, config_.num_key_value_heads, capacity, config_.head_size(),
                         embed_tokens->weight.options());
  }

  // --- rltf::CausalLM ---------------------------------------------------------------------------
  [[nodiscard]] std::int64_t context_length() const noexcept { return config_.max_position_embeddings; }
  [[nodiscard]] std::int64_t vocab_size() const noexcept { return config_.vocab_size; }
  [[nodiscard]] token_id bos_token_id() const noexcept { return config_.bos_token_id; }
  [[nodiscard]] bool has_value_head() const noexcept { return config_.value_head; }
  [[nodiscard]] bool has_reward_head() const noexcept { return config_.reward_head; }
  [[nodiscard]] torch::Device device() const { return embed_tokens->weight.device(); }
  [[nodiscard]] torch::ScalarType dtype() const { return embed_tokens->weight.scalar_type(); }

  [[nodiscard]] const DecoderConfig& config() const noexcept { return config_; }
  /// generation_config.json's defaults (read by load_decoder, written by save_decoder).
  [[nodiscard]] const GenerationDefaults& generation() const noexcept { return generation_; }
  void set_generation(GenerationDefaults g) { generation_ = std::move(g); }

  /// Every projection an adapter can attach to (rltf::AdaptableLM), by Hugging Face module name.
  [[nodiscard]] std::vector<AdapterTarget> adapter_targets() {
    std::vector<AdapterTarget> out;
    for (std::size_t l = 0; l < layers_.size(); ++l)
      layers_[l]->adapter_targets("model.layers." + std::to_string(l) + ".", out);
    return out;
  }

  /// Every parameter under its checkpoint name (what save_decoder writes).
  [[nodiscard]] std::vector<std::pair<std::string, torch::Tensor>> checkpoint_tensors() const {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& item : named_parameters()) out.emplace_back(item.key(), item.value());
    return out;
  }

  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RmsNorm norm{nullptr};
  torch::nn::Linear lm_head{nullptr}, value_proj{nullptr}, score{nullptr};

private:
  static std::string shape_string(const torch::Tensor& t) {
    return t.defined() ? to_string(Shape(t.sizes().begin(), t.sizes().end())) : std::string("(undefined)");
  }

  DecoderConfig config_;
  GenerationDefaults generation_;
  std::vector<DecoderLayer> layers_;
  torch::Tensor inv_freq_; ///< [head_dim / 2] float64 on the CPU (moved per call; tiny)
};
TORCH_MODULE(DecoderModel);

/// How load_decoder places and extends a checkpoint.
struct DecoderLoadOptions {
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;
  bool value_head = false;  ///< add a value head (randomly initialised when the checkpoint has none)
  bool reward_head = false; ///< add a reward head (randomly initialised when the checkpoint has none)
  std::uint64_t seed = 0;   ///< for heads the checkpoint lacks
};

/// The tensors of a checkpoint directory: model.safetensors, or the shards that
/// model.safetensors.index.json names. Each tensor is found in the file the index says.
class CheckpointTensors {
public:
  [[nodiscard]] static CheckpointTensors open(const std::filesystem::path& dir) {
    CheckpointTensors c;
    const auto single = dir / "model.safetensors";
    const auto index = dir / "model.safetensors.index.json";
    if (std::filesystem::exists(single)) {
      c.files_.push_back(std::make_unique<safetensors::File>(safetensors::File::open(single)));
      c.source_ = single.string();
      for (const auto& info : c.files_.back()->tensors())
        c.where_.emplace(info.name, Entry{c.files_.back().get(), &info});
      return c;
    }
    if (!std::filesystem::exists(index))
      throw io_error("no model.safetensors or model.safetensors.index.json in " + dir.string() +
                     " (rltf reads safetensors; convert a pytorch_model.bin with transformers' save_pretrained)");
    c.source_ = index.string();
    std::ifstream in(index);
    if (!in) throw io_error("cannot open " + index.string());
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw parse_error(index.string(), 0, "", std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      throw parse_error(index.string(), 0, "weight_map", "missing (an object tensor name → shard file)");
    std::map<std::string, safetensors::File*> shards;
    for (const auto& [name, file] : j["weight_map"].items()) {
      if (!file.is_string()) throw parse_error(index.string(), 0, "weight_map." + name, "must be a file name");
      const auto shard = file.get<std::string>();
      if (shard.find('/') != std::string::npos || shard.find("..") != std::string::npos)
        throw parse_error(index.string(), 0, "weight_map." + name, "shard '" + shard + "' is not a plain file name");
      auto it = shards.find(shard);
      if (it == shards.end()) {
        c.files_.push_back(std::make_unique<safetensors::File>(safetensors::File::open(dir / shard)));
        it = shards.emplace(shard, c.files_.back().get()).first;
      }
      if (!it->second->contains(name))
        throw parse_error(it->second->source(), 0, name,
                          "missing tensor: model.safetensors.index.json places it in this shard");
      c.where_.emplace(name, Entry{it->second, &it->second->info(name)});
    }
    return c;
  }

  struct Entry {
    const safetensors::File* file;
    const safetensors::TensorInfo* info;
  };
  [[nodiscard]] const std::map<std::string, Entry>& tensors() const noexcept { return where_; }
  [[nodiscard]] bool contains(const std::string& name) const { return where_.contains(name); }
  /// model.safetensors, or the index of a sharded checkpoint (names a missing tensor's file).
  [[nodiscard]] const std::string& source() const noexcept { return source_; }

private:
  std::vector<std::unique_ptr<safetensors::File>> files_;
  std::map<std::string, Entry> where_;
  std::string source_;
};

/// Copies a checkpoint's tensors into `model`, converting dtypes. Every parameter must be present
/// with its shape and a floating-point dtype; every tensor must belong to the model (a tied
/// lm_head.weight and rotary_emb.inv_freq buffers are ignored). Tensors named in `optional` may be
/// absent. Errors are parse_errors naming the file and the tensor.
inline void load_decoder_weights(DecoderModel& model, const CheckpointTensors& tensors,
                                 const std::set<std::string>& optional = {}) {
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  for (auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    const Shape want(item.value().sizes().begin(), item.value().sizes().end());
    const auto it = tensors.tensors().find(name);
    if (it == tensors.tensors().end()) {
      if (optional.contains(name)) continue;
      throw parse_error(tensors.source(), 0, name, "missing tensor: the model needs it with shape " + to_string(want));
    }
    const auto& [file, info] = it->second;
    if (info->shape != want)
      throw parse_error(file->source(), 0, info->name,
                        "has shape " + to_string(info->shape) + " but the model (config.json: hidden_size " +
                            std::to_string(model->config().hidden_size) + ", " +
                            std::to_string(model->config().num_attention_heads) + " heads, " +
                            std::to_string(model->config().num_key_value_heads) + " kv heads, head_dim " +
                            std::to_string(model->config().head_size()) + ") needs " + to_string(want));
    const torch::Tensor loaded = to_tensor(*file, *info);
    if (!loaded.is_floating_point())
      throw parse_error(file->source(), 0, info->name,
                        "has dtype " + std::string(safetensors::dtype_name(info->dtype)) +
                            "; weights must be floating point (F32, F16, BF16)");
    item.value().copy_(loaded);
    used.insert(name);
  }
  for (const auto& [name, entry] : tensors.tensors()) {
    if (used.contains(name)) continue;
    if (name == "lm_head.weight" && model->config().tie_word_embeddings) continue;
    if (name.ends_with("rotary_emb.inv_freq")) continue;
    throw parse_error(entry.file->source(), 0, name, "unexpected tensor: the model has no parameter of this name");
  }
}

namespace detail {
inline std::optional<nlohmann::json> torch_read_json_if_exists(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  std::ifstream in(path);
  if (!in) throw io_error("cannot open " + path.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw parse_error(path.string(), 0, "", std::string("not valid JSON: ") + e.what());
  }
}
} // namespace detail

/// Loads a Hugging Face LlamaForCausalLM / Qwen2ForCausalLM checkpoint directory.
[[nodiscard]] inline DecoderModel load_decoder(const std::filesystem::path& dir,
                                               const DecoderLoadOptions& options = {}) {
  const auto config_path = dir / "config.json";
  if (!std::filesystem::exists(config_path)) throw io_error("load_decoder: no config.json in " + dir.string());
  DecoderConfig config = DecoderConfig::from_json_file(config_path);
  const auto tensors = CheckpointTensors::open(dir);
  std::set<std::string> optional;
  const bool file_value = tensors.contains("v_head.summary.weight");
  const bool file_reward = tensors.contains("score.weight");
  config.value_head = config.value_head || options.value_head || file_value;
  config.reward_head = config.reward_head || options.reward_head || file_reward;
  if (config.value_head && !file_value) optional.insert({"v_head.summary.weight", "v_head.summary.bias"});
  if (config.reward_head && !file_reward) optional.insert("score.weight");
  DecoderModel model(config, options.seed);
  load_decoder_weights(model, tensors, optional);
  GenerationDefaults generation;
  generation.bos_token_id = config.bos_token_id;
  generation.eos_token_ids = config.eos_token_ids;
  if (auto j = detail::torch_read_json_if_exists(dir / "generation_config.json"))
    generation = GenerationDefaults::from_json(*j, (dir / "generation_config.json").string());
  if (generation.eos_token_ids.empty()) generation.eos_token_ids = config.eos_token_ids;
  model->set_generation(std::move(generation));
  model->to(options.device, options.dtype);
  model->eval();
  return model;
}

/// Writes `model` as a Hugging Face checkpoint directory: config.json, generation_config.json and
/// model.safetensors (the model's dtype; lm_head.weight only when untied).
inline void save_decoder(const DecoderModel& model, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  nlohmann::json config = model->config().to_json();
  const auto dtype = model->dtype();
  config["torch_dtype"] = dtype == torch::kFloat16 ? "float16" : dtype == torch::kBFloat16 ? "bfloat16" : "float32";
  auto write = [&](const std::string& name, const nlohmann::json& j) {
    std::ofstream out(dir / name);
    if (!out) throw io_error("save_decoder: cannot write " + (dir / name).string());
    out << j.dump(2) << "\n";
    if (!out) throw io_error("save_decoder: writing " + (dir / name).string() + " failed");
  };
  write("config.json", config);
  nlohmann::json generation = model->generation().to_json();
  generation["_from_model_config"] = false;
  write("generation_config.json", generation);
  save_safetensors(dir / "model.safetensors", model->checkpoint_tensors(), {{"format", "pt"}});
}

/// rltf::CausalLM: save_decoder.
inline void save_pretrained(const DecoderModel& model, const std::filesystem::path& dir) { save_decoder(model, dir); }

/// rltf::CausalLM: replaces the weights with `dir`'s (same architecture; device and dtype stay).
inline void load_pretrained_weights(DecoderModel& model, const std::filesystem::path& dir) {
  load_decoder_weights(model, CheckpointTensors::open(dir));
}

static_assert(assert_causal_lm<DecoderModel>());
static_assert(assert_adaptable_lm<DecoderModel>());

} // namespace rltf
