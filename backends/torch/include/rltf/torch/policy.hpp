#pragma once
/// \file
/// rltf::CausalLMPolicy<Model, Tokenizer> — a model of rltf::Policy and rltf::TrainablePolicy over
/// any rltf::CausalLM (Gpt2Model, DecoderModel for Llama / Qwen2) and a tokenizer;
/// rltf::Gpt2Policy<Tokenizer> is the one over a Gpt2Model.
///
/// generate() samples completions (KV cache, batched, stop strings) and fills every Sample field;
/// log_probs() recomputes log π(token | prompt, previous tokens) for a batch of samples with
/// autograd, as a [B, T_max] tensor padded with 0 — the same values generate() recorded, up to
/// float rounding. A completion that ended at the end-of-text token keeps that token (its
/// log-probability is what teaches the policy to stop); its text excludes it. A completion that
/// ended at a stop string keeps every token up to the one completing it, and its text is their
/// decoding, stop string included.
///
/// \code
/// auto policy = rltf::load_gpt2_policy("codeparrot-small");          // model + tokenizer, CPU
/// rltf::Rng rng = rltf::make_rng(1);
/// std::vector<std::string> prompts = {"def add(a, b):\n"};
/// auto samples = policy.generate(prompts, {.max_new_tokens = 64, .stop = {"\ndef"}}, rng);
/// torch::Tensor logp = policy.log_probs(samples);   // [1, T], differentiable
/// \endcode

#include <torch/torch.h>

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "rltf/core/error.hpp"
#include "rltf/core/policy.hpp"
#include "rltf/core/rng.hpp"
#include "rltf/core/sample.hpp"
#include "rltf/tokenize/gpt2.hpp"
#include "rltf/tokenize/tokenizer.hpp"
#include "rltf/torch/backend.hpp"
#include "rltf/torch/causal_lm.hpp"
#include "rltf/torch/decoder.hpp"
#include "rltf/torch/generate.hpp"
#include "rltf/torch/gpt2.hpp"
#include "rltf/torch/lora.hpp"
#include "rltf/torch/safetensors.hpp"
#include "rltf/train/trainable_policy.hpp"
#include "rltf/train/value_policy.hpp"

namespace rltf {

/// Options of CausalLMPolicy.
struct CausalLMPolicyOptions {
  std::size_t batch_size = 32; ///< rows (prompts × num_samples) generated together
  bool use_cache = true;       ///< KV-cache decoding (false: recompute every step; for benchmarks)
  bool stop_at_eos = true;     ///< end a completion at the tokenizer's end-of-text token
};

/// Per-token quantities of a batch of samples from one forward pass (see CausalLMPolicy::evaluate).
struct CausalLMEvaluation {
  torch::Tensor log_probs; ///< [B, T_max] float32, log π(token_t | prefix), 0 past each completion
  torch::Tensor
      values;         ///< [B, T_max] value-head estimates of the state before token t (undefined without a value head)
  torch::Tensor mask; ///< [B, T_max] float32, 1 on completion tokens
};

using Gpt2PolicyOptions = CausalLMPolicyOptions;
using Gpt2Evaluation = CausalLMEvaluation;

template <CausalLM Model, Tokenizer Tok>
class CausalLMPolicy {
public:
  using backend = TorchBackend;
  using tokenizer_type = Tok;

  using model_type = Model;

  CausalLMPolicy(Model model, Tok tokenizer, CausalLMPolicyOptions options = {})
      : model_(std::move(model)), tokenizer_(std::move(tokenizer)), options_(options) {
    if (!model_) throw invalid_argument("CausalLMPolicy: the model is empty");
    if (static_cast<std::int64_t>(tokenizer_.vocab_size()) > model_->vocab_size())
      throw invalid_argument("CausalLMPolicy: the tokenizer has " + std::to_string(tokenizer_.vocab_size()) +
                             " ids but the model only " + std::to_string(model_->vocab_size()));
    if (options_.batch_size == 0) throw invalid_argument("CausalLMPolicyOptions: batch_size must be positive");
  }

  /// `cfg.num_samples` completions per prompt, prompt-major. Sample::problem is the prompt's index
  /// in `prompts`; an empty prompt starts from the model's bos token.
  std::vector<Sample> generate(std::span<const std::string> prompts, const SamplingConfig& cfg, Rng& rng) {
    const ReferenceScope scope(*this);
    std::vector<Sample> samples;
    samples.reserve(prompts.size() * cfg.num_samples);
    for (std::size_t p = 0; p < prompts.size(); ++p) {
      std::vector<token_id> ids = tokenizer_.encode(prompts[p]);
      if (ids.empty()) ids.push_back(model_->bos_token_id());
      for (std::size_t s = 0; s < cfg.num_samples; ++s) {
        Sample sample;
        sample.problem = p;
        sample.prompt = prompts[p];
        sample.prompt_tokens = ids;
        sample.greedy = cfg.greedy || cfg.temperature == 0.0F;
        samples.push_back(std::move(sample));
      }
    }
    std::size_t longest_stop = 0;
    for (const auto& s : cfg.stop) {
      if (s.empty()) throw invalid_argument("SamplingConfig: a stop string must not be empty");
      longest_stop = std::max(longest_stop, s.size());
    }
    GenerateOptions gen;
    gen.eos_id = options_.stop_at_eos ? tokenizer_.eos_id() : -1;
    gen.pad_id = tokenizer_.eos_id();
    gen.use_cache = options_.use_cache;
    for (std::size_t begin = 0; begin < samples.size(); begin += options_.batch_size) {
      const std::size_t end = std::min(samples.size(), begin + options_.batch_size);
      std::vector<std::vector<token_id>> batch;
      for (std::size_t i = begin; i < end; ++i) batch.push_back(samples[i].prompt_tokens);
      std::vector<std::string> texts(end - begin);
      auto stop = [&](std::size_t row, token_id token) {
        if (cfg.stop.empty()) return false;
        std::string& text = texts[row];
        const std::size_t before = text.size();
        text += tokenizer_.decode(std::span<const token_id>(&token, 1));
        const std::size_t from = before >= longest_stop ? before - longest_stop + 1 : 0;
        return std::ranges::any_of(cfg.stop,
                                   [&](const std::string& s) { return text.find(s, from) != std::string::npos; });
      };
      std::vector<Generation> out = rltf::generate(model_, batch, cfg, rng, gen, stop);
      for (std::size_t i = begin; i < end; ++i) {
        Generation& g = out[i - begin];
        Sample& sample = samples[i];
        sample.tokens = std::move(g.tokens);
        sample.logprobs = std::move(g.logprobs);
        sample.truncated = g.truncated();
        const std::size_t shown = g.finish == FinishReason::eos ? sample.tokens.size() - 1 : sample.tokens.size();
        sample.text = tokenizer_.decode(std::span<const token_id>(sample.tokens.data(), shown));
      }
    }
    return samples;
  }

  /// log π(token_t | prompt, tokens_<t) for each sample's completion, [B, T_max], 0-padded,
  /// differentiable (float32, on the model's device).
  torch::Tensor log_probs(std::span<const Sample> samples) { return evaluate(samples, false).log_probs; }

  /// Log-probabilities, value-head values (when `with_values`) and the token mask of a batch from
  /// one forward pass.
  CausalLMEvaluation evaluate(std::span<const Sample> samples, bool with_values = true) {
    const ReferenceScope scope(*this);
    const torch::Device device = model_->device();
    const auto b = static_cast<std::int64_t>(samples.size());
    std::int64_t longest = 0, t_max = 0;
    for (std::size_t i = 0; i < samples.size(); ++i) {
      const auto& s = samples[i];
      if (s.prompt_tokens.empty())
        throw invalid_argument("CausalLMPolicy::log_probs: sample " + std::to_string(i) + " has no prompt tokens");
      longest = std::max(longest, static_cast<std::int64_t>(s.prompt_tokens.size() + s.tokens.size()));
      t_max = std::max(t_max, static_cast<std::int64_t>(s.tokens.size()));
    }
    if (longest > model_->context_length())
      throw invalid_argument("CausalLMPolicy::log_probs: a sample has " + std::to_string(longest) +
                             " tokens, more than the model's n_positions (" + std::to_string(model_->context_length()) +
                             ")");
    CausalLMEvaluation result;
    const auto float_opts = torch::TensorOptions().dtype(torch::kFloat32).device(device);
    if (b == 0 || t_max == 0) {
      result.log_probs = torch::zeros({b, t_max}, float_opts);
      result.mask = torch::zeros({b, t_max}, float_opts);
      if (with_values && model_->has_value_head()) result.values = torch::zeros({b, t_max}, float_opts);
      return result;
    }
    std::vector<std::int64_t> ids(static_cast<std::size_t>(b * longest), tokenizer_.eos_id());
    std::vector<std::uint8_t> real(static_cast<std::size_t>(b * longest), 0);
    std::vector<std::int64_t> where(static_cast<std::size_t>(b * t_max), 0);
    std::vector<std::int64_t> targets(static_cast<std::size_t>(b * t_max), 0);
    std::vector<float> valid(static_cast<std::size_t>(b * t_max), 0.0F);
    for (std::int64_t i = 0; i < b; ++i) {
      const auto& s = samples[static_cast<std::size_t>(i)];
      const auto p = static_cast<std::int64_t>(s.prompt_tokens.size());
      std::int64_t j = 0;
      for (const token_id id : s.prompt_tokens) ids[static_cast<std::size_t>(i * longest + j++)] = id;
      for (const token_id id : s.tokens) ids[static_cast<std::size_t>(i * longest + j++)] = id;
      for (std::int64_t k = 0; k < j; ++k) real[static_cast<std::size_t>(i * longest + k)] = 1;
      for (std::int64_t t = 0; t < static_cast<std::int64_t>(s.tokens.size()); ++t) {
        const auto at = static_cast<std::size_t>(i * t_max + t);
        where[at] = p - 1 + t;
        targets[at] = s.tokens[static_cast<std::size_t>(t)];
        valid[at] = 1.0F;
      }
    }
    const auto long_opts = torch::TensorOptions().dtype(torch::kInt64);
    // clone(): autograd keeps the index tensors for the backward pass, after these vectors are gone
    const torch::Tensor input = torch::from_blob(ids.data(), {b, longest}, long_opts).clone().to(device);
    const torch::Tensor attention =
        torch::from_blob(real.data(), {b, longest}, torch::TensorOptions().dtype(torch::kUInt8)).clone().to(device);
    const torch::Tensor index = torch::from_blob(where.data(), {b, t_max}, long_opts).clone().to(device);
    const torch::Tensor target = torch::from_blob(targets.data(), {b, t_max}, long_opts).clone().to(device);
    result.mask = torch::from_blob(valid.data(), {b, t_max}, torch::kFloat32).clone().to(device);

    const torch::Tensor hidden = model_->transformer(input, attention);
    const auto e = hidden.size(2);
    const torch::Tensor picked = hidden.gather(1, index.unsqueeze(-1).expand({b, t_max, e}));
    const torch::Tensor logp = torch::log_softmax(model_->lm_logits(picked).to(torch::kFloat32), -1);
    const torch::Tensor chosen = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1);
    const torch::Tensor keep = result.mask.to(torch::kBool);
    result.log_probs = torch::where(keep, chosen, torch::zeros_like(chosen));
    if (with_values && model_->has_value_head()) {
      const torch::Tensor v = model_->values(picked).to(torch::kFloat32);
      result.values = torch::where(keep, v, torch::zeros_like(v));
    }
    return result;
  }

  // --- rltf::ValuePolicy (PPO) -----------------------------------------------------------------

  /// Whether the model has a value head (`v_head.summary`; load it with `.value_head = true`).
  [[nodiscard]] bool has_value_head() const { return model_->has_value_head(); }

  /// The value head's V of the state before each completion token, [B, T_max], 0-padded,
  /// differentiable. Throws rltf::invalid_argument without a value head.
  torch::Tensor values(std::span<const Sample> samples) { return log_probs_and_values(samples).values; }

  /// log π and V of a batch from one forward pass (rltf::log_probs_and_values).
  PolicyValues<torch::Tensor> log_probs_and_values(std::span<const Sample> samples) {
    if (!model_->has_value_head())
      throw invalid_argument("CausalLMPolicy::values: the model has no value head (load it with value_head = true)");
    CausalLMEvaluation e = evaluate(samples, true);
    return {std::move(e.log_probs), std::move(e.values)};
  }

  /// Adds Σ g_it · ∂V_it/∂θ to the gradients (g shaped like values(samples)).
  void backward_values(std::span<const Sample> samples, const torch::Tensor& grad) {
    require_trainable("backward_values");
    const torch::Tensor v = values(samples);
    require_shape("backward_values", grad, v, "values");
    torch::autograd::backward({v}, {grad.detach().to(v.device(), v.scalar_type())});
  }

  /// Both gradients through the graph of one log_probs_and_values call (rltf::backward_with_values).
  void backward(std::span<const Sample>, const PolicyValues<torch::Tensor>& pv, const torch::Tensor& grad_logp,
                const torch::Tensor& grad_values) {
    require_trainable("backward");
    require_shape("backward", grad_logp, pv.log_probs, "log_probs");
    require_shape("backward", grad_values, pv.values, "values");
    torch::autograd::backward({pv.log_probs, pv.values},
                              {grad_logp.detach().to(pv.log_probs.device(), pv.log_probs.scalar_type()),
                               grad_values.detach().to(pv.values.device(), pv.values.scalar_type())});
  }

  [[nodiscard]] Model& model() noexcept { return model_; }
  [[nodiscard]] const Model& model() const noexcept { return model_; }
  [[nodiscard]] const Tok& tokenizer() const noexcept { return tokenizer_; }
  [[nodiscard]] const CausalLMPolicyOptions& options() const noexcept { return options_; }

  /// The trainable parameters (for an optimiser): the LoRA adapters' and the value head's when
  /// the policy has adapters, else the model's that require gradients.
  [[nodiscard]] std::vector<torch::Tensor> parameters() const {
    if (lora_.attached()) {
      auto out = lora_.parameters();
      for (auto& [name, p] : value_head_tensors()) out.push_back(p);
      return out;
    }
    std::vector<torch::Tensor> out;
    for (auto& p : model_->parameters())
      if (p.requires_grad()) out.push_back(p);
    return out;
  }
  /// Moves the model (and its adapters) to `device`, optionally casting the model to `dtype`
  /// (adapters stay float32).
  void to(torch::Device device) {
    model_->to(device);
    if (lora_.attached()) lora_.to(device);
  }
  void to(torch::Device device, torch::ScalarType dtype) {
    model_->to(device, dtype);
    if (lora_.attached()) lora_.to(device);
  }

  // --- LoRA (rltf/torch/lora.hpp) -----------------------------------------------------------------

  /// Attaches LoRA adapters to the model's chosen projections; from now on only they are trained
  /// (the base is frozen) and checkpoints hold only them. Starts the optimiser afresh.
  Lora& add_lora(const LoraOptions& options = {}) requires AdaptableLM<Model> {
    require_trainable("add_lora");
    if (lora_.attached()) throw invalid_argument("CausalLMPolicy::add_lora: the policy already has LoRA adapters");
    lora_ = apply_lora(model_, options);
    train_value_head();
    optimizer_.reset();
    return lora_;
  }
  /// Attaches the adapter saved in `dir` (Lora::save or PEFT's save_pretrained).
  Lora& load_lora(const std::filesystem::path& dir) requires AdaptableLM<Model> {
    require_trainable("load_lora");
    if (lora_.attached()) throw invalid_argument("CausalLMPolicy::load_lora: the policy already has LoRA adapters");
    lora_ = rltf::load_lora(model_, dir);
    train_value_head();
    optimizer_.reset();
    return lora_;
  }
  /// Merges the adapters into the base weights (then the model trains in full again).
  void merge_lora() {
    require_trainable("merge_lora");
    if (!lora_.attached()) throw invalid_argument("CausalLMPolicy::merge_lora: the policy has no LoRA adapters");
    lora_.merge();
    lora_ = Lora();
    optimizer_.reset();
  }
  /// The attached adapters, or nullptr.
  [[nodiscard]] Lora* lora() noexcept { return lora_.attached() ? &lora_ : nullptr; }
  [[nodiscard]] const Lora* lora() const noexcept { return lora_.attached() ? &lora_ : nullptr; }
  /// True for a policy made by rltf::frozen_reference (the base weights of another, adapters off).
  [[nodiscard]] bool is_frozen_reference() const noexcept { return reference_view_; }
  [[nodiscard]] torch::Device device() const { return model_->device(); }
  void train(bool on = true) { model_->train(on); }
  void eval() { model_->eval(); }
  [[nodiscard]] bool is_training() const { return model_->is_training(); }

  /// Writes config.json and model.safetensors to `dir` (Hugging Face layout), and with LoRA
  /// adapters also adapter_config.json and adapter_model.safetensors (PEFT's layout).
  void save(const std::filesystem::path& dir) const {
    save_pretrained(model_, dir);
    if (lora_.attached()) lora_.save(dir);
  }

  // --- rltf::TrainablePolicy -------------------------------------------------------------------

  /// Clears the parameters' gradients.
  void zero_grad() {
    require_trainable("zero_grad");
    for (auto& p : parameters())
      if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
  }

  /// Adds Σ g_it · ∂ log π(w_it)/∂θ to the gradients (g shaped like log_probs(samples)).
  void backward(std::span<const Sample> samples, const torch::Tensor& grad) {
    require_trainable("backward");
    const torch::Tensor logp = log_probs(samples);
    require_shape("backward", grad, logp, "log_probs");
    torch::autograd::backward({logp}, {grad.detach().to(logp.device(), logp.scalar_type())});
  }

  /// A function that step() applies to the parameters before clipping: data-parallel training
  /// (rltf/torch/distributed.hpp) all-reduces their gradients there, so every rank clips and steps
  /// with the same gradient. Copies of the policy share it; an empty function removes it.
  void set_gradient_reducer(std::function<void(std::vector<torch::Tensor>&)> reducer) {
    gradient_reducer_ = std::move(reducer);
  }

  /// One AdamW step (torch::optim::AdamW, created on the first call) with `options`' rates;
  /// returns the gradients' global norm before clipping to options.max_grad_norm (after the
  /// gradient reducer, when one is set).
  float step(const OptimizerOptions& options) {
    require_trainable("step");
    auto& opt = optimizer();
    for (auto& group : opt.param_groups()) {
      auto& o = static_cast<torch::optim::AdamWOptions&>(group.options());
      o.lr(options.lr).betas({options.beta1, options.beta2}).eps(options.eps).weight_decay(options.weight_decay);
    }
    if (gradient_reducer_) {
      std::vector<torch::Tensor> params = parameters(); // the trained ones: with LoRA, the adapters
      gradient_reducer_(params);
    }
    std::vector<torch::Tensor> with_grad;
    for (auto& p : parameters())
      if (p.grad().defined()) with_grad.push_back(p);
    const double max_norm = options.max_grad_norm > 0 ? static_cast<double>(options.max_grad_norm)
                                                      : std::numeric_limits<double>::infinity();
    const double norm = with_grad.empty() ? 0.0 : torch::nn::utils::clip_grad_norm_(with_grad, max_norm);
    opt.step();
    return static_cast<float>(norm);
  }

  /// Writes the weights (config.json, model.safetensors) and the optimiser state (optimizer.pt)
  /// into `dir`. With LoRA adapters only they are written (adapter_config.json,
  /// adapter_model.safetensors): the base is frozen. A frozen reference writes a marker
  /// (frozen_reference.json) and no weights: it is the policy's own base.
  void save_checkpoint(const std::filesystem::path& dir) const {
    if (reference_view_) {
      rltf::detail::write_file_atomic(dir / "frozen_reference.json",
                                      std::string("{\"shares\": \"the policy's base weights, adapters off\"}\n"));
      return;
    }
    if (lora_.attached()) {
      lora_.save(dir);
      // The value head trains with the adapters (the base does not).
      if (model_->has_value_head()) save_safetensors(dir / "value_head.safetensors", value_head_tensors());
    } else {
      save_pretrained(model_, dir);
    }
    if (optimizer_) torch::save(*optimizer_, (dir / "optimizer.pt").string());
  }

  /// Restores what save_checkpoint wrote; the policy then continues bit for bit.
  void load_checkpoint(const std::filesystem::path& dir) {
    const bool marker = std::filesystem::exists(dir / "frozen_reference.json");
    if (reference_view_ || marker) {
      if (reference_view_ != marker)
        throw checkpoint_mismatch((dir / (marker ? "frozen_reference.json" : "model.safetensors")).string(), 0, "",
                                  marker ? "the checkpoint's reference shares the policy's base weights (LoRA); "
                                           "this run's reference is a separate model"
                                         : "this run's reference shares the policy's base weights (LoRA); the "
                                           "checkpoint's is a separate model");
      return;
    }
    const bool adapter = std::filesystem::exists(dir / "adapter_model.safetensors");
    if (lora_.attached() != adapter)
      throw checkpoint_mismatch((dir / (adapter ? "adapter_model.safetensors" : "model.safetensors")).string(), 0, "",
                                adapter ? "the checkpoint holds LoRA adapters; this policy has none (add_lora first)"
                                        : "this policy has LoRA adapters; the checkpoint holds full weights");
    if (adapter) {
      lora_.load_weights(dir);
      if (model_->has_value_head()) load_value_head(dir / "value_head.safetensors");
    } else {
      load(dir);
    }
    const auto state = dir / "optimizer.pt";
    if (std::filesystem::exists(state)) {
      torch::load(optimizer(), state.string());
    } else {
      optimizer_.reset();
    }
  }

  /// Replaces the weights with those of `dir` (same architecture; device and dtype stay).
  void load(const std::filesystem::path& dir) { load_pretrained_weights(model_, dir); }

private:
  template <class P>
  friend std::shared_ptr<P> frozen_reference(const P& policy) requires
      std::derived_from<P, CausalLMPolicy<typename P::model_type, typename P::tokenizer_type>>;

  /// In a frozen reference: no autograd and the adapters off for the scope.
  class ReferenceScope {
  public:
    explicit ReferenceScope(CausalLMPolicy& p) {
      if (!p.reference_view_) return;
      no_grad_.emplace();
      off_.emplace(p.lora_);
    }

  private:
    std::optional<torch::NoGradGuard> no_grad_;
    std::optional<AdaptersOff> off_;
  };

  /// The value head's parameters by name (`v_head.summary.weight`, …); none without one.
  [[nodiscard]] std::vector<std::pair<std::string, torch::Tensor>> value_head_tensors() const {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    if (!model_->has_value_head()) return out;
    for (const auto& item : model_->named_parameters())
      if (item.key().rfind("v_head.", 0) == 0) out.emplace_back(item.key(), item.value());
    return out;
  }

  void load_value_head(const std::filesystem::path& file) {
    if (!std::filesystem::exists(file))
      throw checkpoint_mismatch(file.string(), 0, "",
                                "this policy has a value head; the LoRA checkpoint holds none (was it made without?)");
    const auto tensors = load_safetensors(file);
    torch::NoGradGuard no_grad;
    for (auto& [name, p] : value_head_tensors()) {
      const auto it = tensors.find(name);
      if (it == tensors.end()) throw checkpoint_mismatch(file.string(), 0, name, "missing");
      if (it->second.sizes() != p.sizes())
        throw checkpoint_mismatch(file.string(), 0, name, "has another shape than the model's value head");
      p.copy_(it->second.to(p.device(), p.scalar_type()));
    }
  }

  /// Under LoRA the base is frozen but a value head trains with the adapters.
  void train_value_head() {
    for (auto& [name, p] : value_head_tensors()) p.set_requires_grad(true);
  }

  static void require_shape(const char* what, const torch::Tensor& grad, const torch::Tensor& of, const char* name) {
    if (grad.sizes() != of.sizes())
      throw shape_error(std::string("CausalLMPolicy::") + what + ": the gradient has shape " +
                        to_string(Shape(grad.sizes().begin(), grad.sizes().end())) + " but " + name + " has shape " +
                        to_string(Shape(of.sizes().begin(), of.sizes().end())));
  }

  void require_trainable(const char* what) const {
    if (reference_view_)
      throw invalid_argument(std::string("CausalLMPolicy::") + what +
                             ": this is a frozen reference (rltf::frozen_reference); it is not trained");
  }

  torch::optim::AdamW& optimizer() {
    if (!optimizer_) optimizer_ = std::make_shared<torch::optim::AdamW>(parameters(), torch::optim::AdamWOptions());
    return *optimizer_;
  }

  Model model_;
  Tok tokenizer_;
  CausalLMPolicyOptions options_;
  std::shared_ptr<torch::optim::AdamW> optimizer_;
  Lora lora_;                   ///< attached adapters (none by default)
  bool reference_view_ = false; ///< a frozen reference sharing another policy's base
  std::function<void(std::vector<torch::Tensor>&)> gradient_reducer_;
};

/// A frozen reference policy (GRPO's and PPO's π_ref) that shares `policy`'s base weights: the
/// same model with its LoRA adapters switched off, no autograd, never trained, checkpointed as a
/// marker. One copy of the base serves both. Throws rltf::invalid_argument when `policy` has no
/// adapters (its weights move while training, so a reference must then be loaded separately).
template <class P>
[[nodiscard]] std::shared_ptr<P> frozen_reference(
    const P& policy) requires std::derived_from<P, CausalLMPolicy<typename P::model_type, typename P::tokenizer_type>> {
  if (policy.is_frozen_reference()) return std::make_shared<P>(policy);
  if (policy.lora() == nullptr)
    throw invalid_argument("frozen_reference: the policy has no LoRA adapters, so its weights change while it "
                           "trains; load a separate copy of the model as the reference (e.g. load_gpt2_policy(dir))");
  auto reference = std::make_shared<P>(policy);
  reference->reference_view_ = true;
  reference->optimizer_.reset();
  reference->gradient_reducer_ = nullptr;
  return reference;
}

/// A CausalLMPolicy over a Gpt2Model.
template <Tokenizer Tok>
class Gpt2Policy : public CausalLMPolicy<Gpt2Model, Tok> {
public:
  using CausalLMPolicy<Gpt2Model, Tok>::CausalLMPolicy;
};

/// A CausalLMPolicy over a DecoderModel (Llama, Qwen2).
template <Tokenizer Tok>
using DecoderPolicy = CausalLMPolicy<DecoderModel, Tok>;

/// A Gpt2Policy from a Hugging Face checkpoint directory holding the model (config.json,
/// model.safetensors) and its tokenizer (tokenizer.json, vocab.json + merges.txt, or
/// encoder.json + vocab.bpe). `tokenizer_dir` overrides where the tokenizer is read from.
[[nodiscard]] inline Gpt2Policy<Gpt2Tokenizer> load_gpt2_policy(const std::filesystem::path& dir,
                                                                const Gpt2LoadOptions& load = {},
                                                                const Gpt2PolicyOptions& options = {},
                                                                const std::filesystem::path& tokenizer_dir = {}) {
  Gpt2Tokenizer tokenizer = Gpt2Tokenizer::from_directory(tokenizer_dir.empty() ? dir : tokenizer_dir);
  return Gpt2Policy<Gpt2Tokenizer>(load_gpt2(dir, load), std::move(tokenizer), options);
}

static_assert(Policy<Gpt2Policy<Gpt2Tokenizer>>);
static_assert(assert_trainable_policy<Gpt2Policy<Gpt2Tokenizer>>());
static_assert(assert_trainable_policy<DecoderPolicy<Gpt2Tokenizer>>());

} // namespace rltf
