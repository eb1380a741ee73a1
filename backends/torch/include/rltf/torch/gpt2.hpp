#pragma once
/// \file
/// The GPT-2 family on LibTorch: rltf::Gpt2Config, rltf::Gpt2Model (a torch::nn module), a KV
/// cache, and loading/saving Hugging Face checkpoints (config.json + model.safetensors).
///
/// Parameter names are Hugging Face's (`h.0.attn.c_attn.weight`, Conv1D weights stored [in, out]);
/// checkpoints load with or without the `transformer.` prefix, `lm_head.weight` tied to `wte`
/// when absent, and the old `attn.bias` / `attn.masked_bias` buffers ignored. A missing, extra or
/// misshapen tensor is an rltf::parse_error naming it. Optional heads: a value head
/// (`v_head.summary`, as TRL names it) for PPO and a scalar reward head (`score`, as
/// GPT2ForSequenceClassification names it) for reward models.
///
/// \code
/// rltf::Gpt2Model model = rltf::load_gpt2("gpt2");                     // a downloaded checkpoint
/// torch::Tensor logits = model->forward(torch::tensor({{15496, 995}}));   // [1, 2, 50257]
/// rltf::Gpt2Model tiny(rltf::Gpt2Config{.vocab_size = 128, .n_positions = 64, .n_embd = 32,
///                                       .n_layer = 2, .n_head = 4}, /*seed=*/7);   // random init
/// rltf::save_gpt2(tiny, "out/tiny");                                         // config.json + model.safetensors
/// \endcode

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
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

/// A GPT-2 architecture. Field names and defaults are Hugging Face's GPT2Config (gpt2 small),
/// so designated initialisers read like a config.json.
struct Gpt2Config {
  std::int64_t vocab_size = 50257;
  std::int64_t n_positions = 1024;
  std::int64_t n_embd = 768;
  std::int64_t n_layer = 12;
  std::int64_t n_head = 12;
  std::int64_t n_inner = 0; ///< MLP width; 0 means 4 · n_embd (config.json's null)
  double layer_norm_epsilon = 1e-5;
  /// gelu_new (= gelu_pytorch_tanh = gelu_fast), gelu, quick_gelu, relu, silu (= swish) or tanh.
  std::string activation_function = "gelu_new";
  bool scale_attn_weights = true;
  bool scale_attn_by_inverse_layer_idx = false;
  bool tie_word_embeddings = true;
  token_id bos_token_id = 50256;
  token_id eos_token_id = 50256;
  double initializer_range = 0.02;
  /// Dropout on embeddings, attention and residuals while training. rltf defaults to none (as RL
  /// fine-tuning usually does, so that log-probabilities are deterministic); config.json's
  /// *_pdrop values are not applied.
  double dropout = 0.0;
  bool value_head = false;  ///< add `v_head.summary` (Linear n_embd → 1): per-token values for PPO
  bool reward_head = false; ///< add `score` (Linear n_embd → 1, no bias): a scalar reward per sequence

  /// The MLP width.
  [[nodiscard]] std::int64_t inner() const noexcept { return n_inner > 0 ? n_inner : 4 * n_embd; }
  [[nodiscard]] std::int64_t head_dim() const noexcept { return n_embd / n_head; }

  /// Throws invalid_argument when a field is out of its domain.
  void validate() const {
    auto positive = [](std::int64_t v, const char* field) {
      if (v <= 0)
        throw invalid_argument(std::string("Gpt2Config: ") + field + " must be positive, got " + std::to_string(v));
    };
    positive(vocab_size, "vocab_size");
    positive(n_positions, "n_positions");
    positive(n_embd, "n_embd");
    positive(n_layer, "n_layer");
    positive(n_head, "n_head");
    if (n_inner < 0) throw invalid_argument("Gpt2Config: n_inner must not be negative");
    if (n_embd % n_head != 0)
      throw invalid_argument("Gpt2Config: n_embd (" + std::to_string(n_embd) + ") must be a multiple of n_head (" +
                             std::to_string(n_head) + ")");
    if (!(layer_norm_epsilon > 0)) throw invalid_argument("Gpt2Config: layer_norm_epsilon must be positive");
    if (!(dropout >= 0 && dropout < 1)) throw invalid_argument("Gpt2Config: dropout must be in [0, 1)");
    static const std::set<std::string> activations = {
        "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu", "quick_gelu", "relu", "silu", "swish", "tanh"};
    if (!activations.contains(activation_function))
      throw invalid_argument("Gpt2Config: unknown activation_function '" + activation_function + "'");
  }

  /// Reads a Hugging Face config.json. Unknown keys are ignored; a key of the wrong type or value
  /// is a parse_error naming the file and the key.
  [[nodiscard]] static Gpt2Config from_json_file(const std::filesystem::path& path) {
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

  /// Reads the keys of a Hugging Face GPT-2 config. `source` names it in errors.
  [[nodiscard]] static Gpt2Config from_json(const nlohmann::json& j, const std::string& source = "config.json") {
    if (!j.is_object()) throw parse_error(source, 0, "", "a config must be a JSON object");
    Gpt2Config c;
    auto fail = [&](const std::string& key, const std::string& what) -> void {
      throw parse_error(source, 0, key, what);
    };
    if (j.contains("model_type") && j["model_type"].is_string() && j["model_type"] != "gpt2")
      fail("model_type", "expected \"gpt2\", got " + j["model_type"].dump());
    auto integer = [&](const char* key, std::int64_t& out, bool required) {
      if (!j.contains(key) || j[key].is_null()) {
        if (required) fail(key, "missing");
        return;
      }
      if (!j[key].is_number_integer()) fail(key, "must be an integer, got " + j[key].dump());
      out = j[key].get<std::int64_t>();
    };
    auto number = [&](const char* key, double& out) {
      if (!j.contains(key) || j[key].is_null()) return;
      if (!j[key].is_number()) fail(key, "must be a number, got " + j[key].dump());
      out = j[key].get<double>();
    };
    auto boolean = [&](const char* key, bool& out) {
      if (!j.contains(key) || j[key].is_null()) return;
      if (!j[key].is_boolean()) fail(key, "must be true or false, got " + j[key].dump());
      out = j[key].get<bool>();
    };
    integer("vocab_size", c.vocab_size, true);
    integer("n_embd", c.n_embd, true);
    integer("n_layer", c.n_layer, true);
    integer("n_head", c.n_head, true);
    if (j.contains("n_positions"))
      integer("n_positions", c.n_positions, true);
    else
      integer("n_ctx", c.n_positions, true);
    integer("n_inner", c.n_inner, false);
    number("layer_norm_epsilon", c.layer_norm_epsilon);
    number("initializer_range", c.initializer_range);
    boolean("scale_attn_weights", c.scale_attn_weights);
    boolean("scale_attn_by_inverse_layer_idx", c.scale_attn_by_inverse_layer_idx);
    boolean("tie_word_embeddings", c.tie_word_embeddings);
    std::int64_t bos = c.bos_token_id, eos = c.eos_token_id;
    integer("bos_token_id", bos, false);
    integer("eos_token_id", eos, false);
    c.bos_token_id = static_cast<token_id>(bos);
    c.eos_token_id = static_cast<token_id>(eos);
    if (j.contains("activation_function")) {
      if (!j["activation_function"].is_string()) fail("activation_function", "must be a string");
      c.activation_function = j["activation_function"].get<std::string>();
    }
    if (j.contains("rltf_value_head")) boolean("rltf_value_head", c.value_head);
    if (j.contains("rltf_reward_head")) boolean("rltf_reward_head", c.reward_head);
    try {
      c.validate();
    } catch (const invalid_argument& e) {
      throw parse_error(source, 0, "", e.what());
    }
    return c;
  }

  /// A config.json that Hugging Face transformers and rltf both read.
  [[nodiscard]] nlohmann::json to_json() const {
    nlohmann::json j;
    j["architectures"] = {reward_head ? "GPT2ForSequenceClassification" : "GPT2LMHeadModel"};
    j["model_type"] = "gpt2";
    j["vocab_size"] = vocab_size;
    j["n_positions"] = n_positions;
    j["n_ctx"] = n_positions;
    j["n_embd"] = n_embd;
    j["n_layer"] = n_layer;
    j["n_head"] = n_head;
    j["n_inner"] = n_inner > 0 ? nlohmann::json(n_inner) : nlohmann::json(nullptr);
    j["layer_norm_epsilon"] = layer_norm_epsilon;
    j["activation_function"] = activation_function;
    j["scale_attn_weights"] = scale_attn_weights;
    j["scale_attn_by_inverse_layer_idx"] = scale_attn_by_inverse_layer_idx;
    j["reorder_and_upcast_attn"] = false;
    j["tie_word_embeddings"] = tie_word_embeddings;
    j["bos_token_id"] = bos_token_id;
    j["eos_token_id"] = eos_token_id;
    j["initializer_range"] = initializer_range;
    j["attn_pdrop"] = dropout;
    j["embd_pdrop"] = dropout;
    j["resid_pdrop"] = dropout;
    j["torch_dtype"] = "float32";
    if (value_head) j["rltf_value_head"] = true;
    if (reward_head) {
      j["rltf_reward_head"] = true;
      j["num_labels"] = 1;
    }
    return j;
  }
};

/// Hugging Face's Conv1D: y = x · weight + bias with weight stored [in, out].
class Gpt2Conv1DImpl : public torch::nn::Module {
public:
  Gpt2Conv1DImpl(std::int64_t in, std::int64_t out) {
    weight = register_parameter("weight", torch::empty({in, out}));
    bias = register_parameter("bias", torch::zeros({out}));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto sizes = x.sizes().vec();
    sizes.back() = weight.size(1);
    return torch::addmm(bias, x.reshape({-1, x.size(-1)}), weight).view(sizes);
  }
  torch::Tensor weight, bias;
};
TORCH_MODULE(Gpt2Conv1D);

/// The GPT-2 KV cache is the one every CausalLM uses.
using Gpt2Cache = KvCache;

/// Intermediate values of a forward pass, for tests and inspection.
struct Gpt2Trace {
  torch::Tensor embeddings;                 ///< wte[ids] + wpe[positions]
  std::vector<torch::Tensor> block_outputs; ///< the residual stream after each block
};

namespace detail {

inline torch::Tensor torch_gpt2_activation(const std::string& name, const torch::Tensor& x) {
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return torch::gelu(x, "tanh");
  if (name == "gelu") return torch::gelu(x);
  if (name == "quick_gelu") return x * torch::sigmoid(1.702 * x);
  if (name == "relu") return torch::relu(x);
  if (name == "silu" || name == "swish") return torch::silu(x);
  if (name == "tanh") return torch::tanh(x);
  throw invalid_argument("Gpt2: unknown activation_function '" + name + "'");
}

} // namespace detail

/// One transformer block: x + attn(ln_1(x)), then + mlp(ln_2(x)).
class Gpt2BlockImpl : public torch::nn::Module {
public:
  Gpt2BlockImpl(const Gpt2Config& config, std::int64_t layer) : config_(config), layer_(layer) {
    const auto e = config.n_embd;
    ln_1 =
        register_module("ln_1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({e}).eps(config.layer_norm_epsilon)));
    auto attn = register_module("attn", std::make_shared<torch::nn::Module>());
    c_attn = attn->register_module("c_attn", Gpt2Conv1D(e, 3 * e));
    attn_proj = attn->register_module("c_proj", Gpt2Conv1D(e, e));
    ln_2 =
        register_module("ln_2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({e}).eps(config.layer_norm_epsilon)));
    auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>());
    c_fc = mlp->register_module("c_fc", Gpt2Conv1D(e, config.inner()));
    mlp_proj = mlp->register_module("c_proj", Gpt2Conv1D(config.inner(), e));
  }

  /// x: [B, T, E]; `allowed`: [B, 1, T, S] bool (S = keys in the cache after this step, or T).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& allowed, Gpt2Cache* cache) {
    const auto b = x.size(0), t = x.size(1);
    const auto h = config_.n_head, d = config_.head_dim(), e = config_.n_embd;
    const bool training = is_training();
    auto project = [training](Gpt2Conv1D& p, const detail::AdapterSlot& slot, const torch::Tensor& in) {
      return slot.apply(in, p(in), training);
    };
    const torch::Tensor normed = ln_1(x);
    const auto qkv = project(c_attn, c_attn_lora, normed).split(e, 2);
    auto heads = [&](const torch::Tensor& m) { return m.view({b, t, h, d}).permute({0, 2, 1, 3}); };
    torch::Tensor q = heads(qkv[0]), k = heads(qkv[1]), v = heads(qkv[2]);
    if (cache != nullptr) {
      std::tie(k, v) = cache->append(static_cast<std::size_t>(layer_), k, v);
    }
    double scale = 1.0;
    if (config_.scale_attn_weights) scale /= std::sqrt(static_cast<double>(d));
    if (config_.scale_attn_by_inverse_layer_idx) scale /= static_cast<double>(layer_ + 1);
    torch::Tensor scores = torch::matmul(q, k.transpose(-1, -2));
    const bool upcast = scores.scalar_type() != torch::kFloat32 && scores.scalar_type() != torch::kFloat64;
    if (upcast) scores = scores.to(torch::kFloat32);
    scores = (scores * scale).masked_fill(allowed.logical_not(), std::numeric_limits<float>::lowest());
    torch::Tensor probs = torch::softmax(scores, -1).to(v.scalar_type());
    if (config_.dropout > 0 && is_training()) probs = torch::dropout(probs, config_.dropout, true);
    torch::Tensor attended = torch::matmul(probs, v).permute({0, 2, 1, 3}).reshape({b, t, e});
    torch::Tensor out = project(attn_proj, attn_proj_lora, attended);
    if (config_.dropout > 0 && is_training()) out = torch::dropout(out, config_.dropout, true);
    torch::Tensor y = x + out;
    const torch::Tensor n2 = ln_2(y);
    const torch::Tensor inner =
        detail::torch_gpt2_activation(config_.activation_function, project(c_fc, c_fc_lora, n2));
    torch::Tensor m = project(mlp_proj, mlp_proj_lora, inner);
    if (config_.dropout > 0 && is_training()) m = torch::dropout(m, config_.dropout, true);
    return y + m;
  }

  /// The block's projections as adapter targets, named `prefix` + `attn.c_attn` etc.
  void adapter_targets(const std::string& prefix, std::vector<AdapterTarget>& out) {
    auto add = [&](const char* name, Gpt2Conv1D& p, detail::AdapterSlot& slot) {
      out.push_back({prefix + name, p->weight.size(0), p->weight.size(1), true, p->weight, &slot});
    };
    add("attn.c_attn", c_attn, c_attn_lora);
    add("attn.c_proj", attn_proj, attn_proj_lora);
    add("mlp.c_fc", c_fc, c_fc_lora);
    add("mlp.c_proj", mlp_proj, mlp_proj_lora);
  }

  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  Gpt2Conv1D c_attn{nullptr}, attn_proj{nullptr}, c_fc{nullptr}, mlp_proj{nullptr};
  /// Optional low-rank adapters of the projections (rltf/torch/lora.hpp).
  detail::AdapterSlot c_attn_lora, attn_proj_lora, c_fc_lora, mlp_proj_lora;

private:
  Gpt2Config config_;
  std::int64_t layer_;
};
TORCH_MODULE(Gpt2Block);

/// GPT-2 with its language-model head (tied to wte unless config.tie_word_embeddings is false)
/// and the optional value and reward heads. Parameter names are Hugging Face's without the
/// `transformer.` prefix (`wte.weight`, `h.0.attn.c_attn.weight`, ..., `lm_head.weight` when
/// untied, `v_head.summary.weight`, `score.weight`).
class Gpt2ModelImpl : public torch::nn::Module {
public:
  /// A randomly initialised model (Hugging Face's scheme: normal(0, initializer_range) weights,
  /// residual projections scaled by 1/sqrt(2·n_layer), zero biases, unit LayerNorms), the same
  /// for a seed on every device.
  explicit Gpt2ModelImpl(Gpt2Config config, std::uint64_t seed = 0) : config_(std::move(config)) {
    config_.validate();
    const auto e = config_.n_embd;
    wte = register_module("wte", torch::nn::Embedding(config_.vocab_size, e));
    wpe = register_module("wpe", torch::nn::Embedding(config_.n_positions, e));
    h = register_module("h", torch::nn::ModuleList());
    for (std::int64_t l = 0; l < config_.n_layer; ++l) {
      blocks_.push_back(Gpt2Block(config_, l));
      h->push_back(blocks_.back());
    }
    ln_f =
        register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({e}).eps(config_.layer_norm_epsilon)));
    if (!config_.tie_word_embeddings)
      lm_head =
          register_module("lm_head", torch::nn::Linear(torch::nn::LinearOptions(e, config_.vocab_size).bias(false)));
    if (config_.value_head) {
      auto v_head = register_module("v_head", std::make_shared<torch::nn::Module>());
      value_proj = v_head->register_module("summary", torch::nn::Linear(e, 1));
    }
    if (config_.reward_head)
      score = register_module("score", torch::nn::Linear(torch::nn::LinearOptions(e, 1).bias(false)));
    reset_parameters(seed);
  }

  /// Re-draws every parameter from `seed` (see the constructor).
  void reset_parameters(std::uint64_t seed) {
    torch::NoGradGuard no_grad;
    auto gen = at::detail::createCPUGenerator(seed);
    const double std_dev = config_.initializer_range;
    const double proj_std = std_dev / std::sqrt(2.0 * static_cast<double>(config_.n_layer));
    for (auto& item : named_parameters()) {
      const std::string& name = item.key();
      torch::Tensor& p = item.value();
      torch::Tensor host = torch::empty(p.sizes(), torch::kFloat32);
      const bool is_layer_norm = name.find("ln_") != std::string::npos;
      if (is_layer_norm) {
        host.fill_(name.ends_with(".weight") ? 1.0 : 0.0);
      } else if (name.ends_with(".bias")) {
        host.zero_();
      } else {
        const bool residual = name.ends_with("c_proj.weight");
        host.normal_(0.0, residual ? proj_std : std_dev, gen);
      }
      p.copy_(host);
    }
  }

  /// The residual stream after ln_f, [B, T, E].
  /// - `ids` [B, T] int64;
  /// - `attention_mask` [B, T] (nonzero = real token; undefined = all real): padded positions
  ///   neither attend nor are attended to, and positions count real tokens only, so a left-padded
  ///   row computes exactly what it computes alone;
  /// - `cache`: when given, the new keys and values are appended and attention covers the cache.
  ///   Initialise it with make_cache().
  torch::Tensor transformer(const torch::Tensor& ids, const torch::Tensor& attention_mask = {},
                            Gpt2Cache* cache = nullptr, Gpt2Trace* trace = nullptr) {
    if (ids.dim() != 2)
      throw shape_error("Gpt2Model::transformer: ids must be [batch, tokens], got " + shape_string(ids));
    const auto b = ids.size(0), t = ids.size(1);
    const torch::Device device = wte->weight.device();
    const torch::Tensor input = ids.to(device, torch::kInt64);
    torch::Tensor real_mask = attention_mask.defined()
                                  ? attention_mask.to(device).ne(0)
                                  : torch::ones({b, t}, torch::TensorOptions().dtype(torch::kBool).device(device));
    if (real_mask.sizes() != ids.sizes())
      throw shape_error("Gpt2Model::transformer: attention_mask has shape " + shape_string(attention_mask) +
                        " but ids have shape " + shape_string(ids));
    if (t > 0 && (input.min().item<std::int64_t>() < 0 || input.max().item<std::int64_t>() >= config_.vocab_size))
      throw invalid_argument("Gpt2Model::transformer: a token id is outside the vocabulary of " +
                             std::to_string(config_.vocab_size));

    std::int64_t past = 0;
    torch::Tensor before = torch::zeros({b}, torch::TensorOptions().dtype(torch::kInt64).device(device));
    if (cache != nullptr) {
      if (cache->empty()) throw invalid_argument("Gpt2Model::transformer: the cache was not made with make_cache()");
      if (cache->keys.front().size(0) != b)
        throw shape_error("Gpt2Model::transformer: the cache holds " + std::to_string(cache->keys.front().size(0)) +
                          " rows but ids have " + std::to_string(b));
      if (cache->length + t > cache->capacity)
        throw invalid_argument("Gpt2Model::transformer: the cache holds " + std::to_string(cache->capacity) +
                               " tokens; " + std::to_string(cache->length + t) + " needed");
      past = cache->length;
      before = cache->real;
    }
    const torch::Tensor counts = real_mask.to(torch::kInt64).cumsum(1);
    const torch::Tensor positions = (before.unsqueeze(1) + counts - 1).clamp_min(0);
    if (t > 0) {
      const auto last = positions.max().item<std::int64_t>();
      if (last >= config_.n_positions)
        throw invalid_argument("Gpt2Model::transformer: position " + std::to_string(last) +
                               " is past the model's n_positions (" + std::to_string(config_.n_positions) + ")");
    }

    // allowed[b, 0, i, j]: key j (of past + t) is a real token at or before query i.
    torch::Tensor key_mask;
    if (cache != nullptr) {
      cache->mask.narrow(1, past, t).copy_(real_mask);
      key_mask = cache->mask.narrow(1, 0, past + t);
    } else {
      key_mask = real_mask;
    }
    const auto s = past + t;
    const auto opts = torch::TensorOptions().dtype(torch::kInt64).device(device);
    const torch::Tensor causal = torch::arange(s, opts).unsqueeze(0) <= (torch::arange(t, opts) + past).unsqueeze(1);
    const torch::Tensor allowed = causal.unsqueeze(0).unsqueeze(0) & key_mask.unsqueeze(1).unsqueeze(1);

    torch::Tensor x = wte(input) + wpe(positions);
    if (config_.dropout > 0 && is_training()) x = torch::dropout(x, config_.dropout, true);
    if (trace != nullptr) trace->embeddings = x;
    for (auto& block : blocks_) {
      x = block->forward(x, allowed, cache);
      if (trace != nullptr) trace->block_outputs.push_back(x);
    }
    if (cache != nullptr) {
      cache->length += t;
      cache->real = before + real_mask.to(torch::kInt64).sum(1);
    }
    return ln_f(x);
  }

  /// Next-token logits from hidden states [..., E] → [..., V].
  torch::Tensor lm_logits(const torch::Tensor& hidden) {
    return torch::matmul(hidden, (lm_head ? lm_head->weight : wte->weight).t());
  }

  /// Logits for every position, [B, T, V]. `attention_mask` as in transformer().
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& attention_mask = {}) {
    return lm_logits(transformer(ids, attention_mask));
  }

  /// Per-position values from the value head, [B, T] (config.value_head must be set).
  torch::Tensor values(const torch::Tensor& hidden) {
    if (!value_proj) throw invalid_argument("Gpt2Model::values: the model has no value head (Gpt2Config::value_head)");
    return value_proj(hidden).squeeze(-1);
  }

  /// One scalar per row from the reward head at the last real token, [B] (config.reward_head must
  /// be set). `attention_mask` [B, T] marks real tokens (right or left padding); undefined: all.
  torch::Tensor rewards(const torch::Tensor& hidden, const torch::Tensor& attention_mask = {}) {
    if (!score) throw invalid_argument("Gpt2Model::rewards: the model has no reward head (Gpt2Config::reward_head)");
    const auto b = hidden.size(0), t = hidden.size(1);
    torch::Tensor last;
    if (attention_mask.defined()) {
      // index of the last nonzero mask entry per row
      const torch::Tensor idx = torch::arange(t, torch::TensorOptions().dtype(torch::kInt64).device(hidden.device()));
      last = (attention_mask.to(hidden.device()).ne(0).to(torch::kInt64) * (idx + 1)).amax(1) - 1;
      last = last.clamp_min(0);
    } else {
      last = torch::full({b}, t - 1, torch::TensorOptions().dtype(torch::kInt64).device(hidden.device()));
    }
    const torch::Tensor picked = hidden.gather(1, last.view({b, 1, 1}).expand({b, 1, hidden.size(2)})).squeeze(1);
    return score(picked).squeeze(-1);
  }

  /// An empty KV cache for `batch` rows and up to `capacity` tokens, on the model's device and dtype.
  [[nodiscard]] KvCache make_cache(std::int64_t batch, std::int64_t capacity) const {
    return KvCache::make(config_.n_layer, batch, config_.n_head, capacity, config_.head_dim(), wte->weight.options());
  }

  // --- rltf::CausalLM ---------------------------------------------------------------------------
  [[nodiscard]] std::int64_t context_length() const noexcept { return config_.n_positions; }
  [[nodiscard]] std::int64_t vocab_size() const noexcept { return config_.vocab_size; }
  [[nodiscard]] token_id bos_token_id() const noexcept { return config_.bos_token_id; }
  [[nodiscard]] bool has_value_head() const noexcept { return config_.value_head; }
  [[nodiscard]] bool has_reward_head() const noexcept { return config_.reward_head; }

  [[nodiscard]] const Gpt2Config& config() const noexcept { return config_; }
  [[nodiscard]] torch::Device device() const { return wte->weight.device(); }
  [[nodiscard]] torch::ScalarType dtype() const { return wte->weight.scalar_type(); }

  /// Every projection an adapter can attach to (rltf::AdaptableLM), by Hugging Face module name
  /// (`transformer.h.N.attn.c_attn`, ...).
  [[nodiscard]] std::vector<AdapterTarget> adapter_targets() {
    std::vector<AdapterTarget> out;
    for (std::size_t l = 0; l < blocks_.size(); ++l)
      blocks_[l]->adapter_targets("transformer.h." + std::to_string(l) + ".", out);
    return out;
  }

  /// Every parameter under its Hugging Face checkpoint name (`transformer.` prefix on the
  /// transformer's own parameters), as save_gpt2 writes them.
  [[nodiscard]] std::vector<std::pair<std::string, torch::Tensor>> checkpoint_tensors() const {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& item : named_parameters()) {
      const std::string& name = item.key();
      const bool head = name.starts_with("lm_head.") || name.starts_with("v_head.") || name.starts_with("score.");
      out.emplace_back(head ? name : "transformer." + name, item.value());
    }
    return out;
  }

  torch::nn::Embedding wte{nullptr}, wpe{nullptr};
  torch::nn::ModuleList h{nullptr};
  torch::nn::LayerNorm ln_f{nullptr};
  torch::nn::Linear lm_head{nullptr}, value_proj{nullptr}, score{nullptr};

private:
  static std::string shape_string(const torch::Tensor& t) {
    return t.defined() ? to_string(Shape(t.sizes().begin(), t.sizes().end())) : std::string("(undefined)");
  }

  Gpt2Config config_;
  std::vector<Gpt2Block> blocks_;
};
TORCH_MODULE(Gpt2Model);

/// How load_gpt2 places and extends a checkpoint.
struct Gpt2LoadOptions {
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;
  bool value_head = false;  ///< add a value head (randomly initialised when the file has none)
  bool reward_head = false; ///< add a reward head (randomly initialised when the file has none)
  std::uint64_t seed = 0;   ///< for heads the file lacks
};

namespace detail {

/// "h.3.attn.bias" and "h.3.attn.masked_bias": buffers older checkpoints carry; ignored.
inline bool torch_gpt2_ignored_buffer(const std::string& name) {
  return name.starts_with("h.") && (name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias"));
}

} // namespace detail

/// Loads the weights of a safetensors file into `model`, converting dtypes. Every tensor of the
/// model must be present with its shape; every tensor of the file must belong to the model
/// (besides ignored buffers and a tied lm_head). Tensors named in `optional` may be absent.
inline void load_gpt2_weights(Gpt2Model& model, const safetensors::File& file,
                              const std::set<std::string>& optional = {}) {
  std::map<std::string, const safetensors::TensorInfo*> by_name;
  for (const auto& info : file.tensors()) {
    std::string name = info.name;
    if (name.starts_with("transformer.")) name = name.substr(12);
    if (detail::torch_gpt2_ignored_buffer(name)) continue;
    if (name == "lm_head.weight" && model->config().tie_word_embeddings) continue; // tied to wte
    if (!by_name.emplace(name, &info).second)
      throw parse_error(file.source(), 0, info.name,
                        "the tensor appears both with and without the 'transformer.' prefix");
  }
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  for (auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    const auto it = by_name.find(name);
    const std::string file_name =
        name.starts_with("lm_head.") || name.starts_with("v_head.") || name.starts_with("score.")
            ? name
            : "transformer." + name;
    if (it == by_name.end()) {
      if (optional.contains(name)) continue;
      throw parse_error(file.source(), 0, file_name,
                        "missing tensor: the model needs it with shape " +
                            to_string(Shape(item.value().sizes().begin(), item.value().sizes().end())));
    }
    const safetensors::TensorInfo& info = *it->second;
    const Shape want(item.value().sizes().begin(), item.value().sizes().end());
    if (info.shape != want)
      throw parse_error(file.source(), 0, info.name,
                        "has shape " + to_string(info.shape) + " but the model (" +
                            std::to_string(model->config().n_layer) + " layers, n_embd " +
                            std::to_string(model->config().n_embd) + ") needs " + to_string(want));
    const torch::Tensor loaded = to_tensor(file, info);
    if (!loaded.is_floating_point())
      throw parse_error(file.source(), 0, info.name,
                        "has dtype " + std::string(safetensors::dtype_name(info.dtype)) +
                            "; weights must be floating point");
    item.value().copy_(loaded);
    used.insert(name);
  }
  for (const auto& [name, info] : by_name)
    if (!used.contains(name))
      throw parse_error(file.source(), 0, info->name, "unexpected tensor: the model has no parameter of this name");
}

/// Loads a Hugging Face GPT-2 checkpoint directory (config.json + model.safetensors).
[[nodiscard]] inline Gpt2Model load_gpt2(const std::filesystem::path& dir, const Gpt2LoadOptions& options = {}) {
  const auto config_path = dir / "config.json";
  if (!std::filesystem::exists(config_path)) throw io_error("load_gpt2: no config.json in " + dir.string());
  Gpt2Config config = Gpt2Config::from_json_file(config_path);
  const auto weights_path = dir / "model.safetensors";
  if (!std::filesystem::exists(weights_path))
    throw io_error("load_gpt2: no model.safetensors in " + dir.string() +
                   " (rltf reads safetensors; convert a pytorch_model.bin with transformers' save_pretrained)");
  const auto file = safetensors::File::open(weights_path);
  std::set<std::string> optional;
  const bool file_value = file.contains("v_head.summary.weight");
  const bool file_reward = file.contains("score.weight");
  config.value_head = config.value_head || options.value_head || file_value;
  config.reward_head = config.reward_head || options.reward_head || file_reward;
  if (config.value_head && !file_value) optional.insert({"v_head.summary.weight", "v_head.summary.bias"});
  if (config.reward_head && !file_reward) optional.insert("score.weight");
  Gpt2Model model(config, options.seed);
  load_gpt2_weights(model, file, optional);
  model->to(options.device, options.dtype);
  model->eval();
  return model;
}

/// Writes `model` as a Hugging Face checkpoint directory: config.json and model.safetensors
/// (tensors in the model's dtype, `transformer.`-prefixed names, lm_head only when untied).
inline void save_gpt2(const Gpt2Model& model, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  nlohmann::json config = model->config().to_json();
  const auto dtype = model->dtype();
  config["torch_dtype"] = dtype == torch::kFloat16 ? "float16" : dtype == torch::kBFloat16 ? "bfloat16" : "float32";
  {
    std::ofstream out(dir / "config.json");
    if (!out) throw io_error("save_gpt2: cannot write " + (dir / "config.json").string());
    out << config.dump(2) << "\n";
    if (!out) throw io_error("save_gpt2: writing " + (dir / "config.json").string() + " failed");
  }
  save_safetensors(dir / "model.safetensors", model->checkpoint_tensors(), {{"format", "pt"}});
}

/// \copydoc save_gpt2 (rltf::CausalLM)
inline void save_pretrained(const Gpt2Model& model, const std::filesystem::path& dir) { save_gpt2(model, dir); }

/// Replaces the weights of `model` with those of `dir`/model.safetensors (same architecture;
/// device and dtype stay). rltf::CausalLM.
inline void load_pretrained_weights(Gpt2Model& model, const std::filesystem::path& dir) {
  const auto file = safetensors::File::open(dir / "model.safetensors");
  load_gpt2_weights(model, file);
}

static_assert(assert_causal_lm<Gpt2Model>());
static_assert(assert_adaptable_lm<Gpt2Model>());

} // namespace rltf
