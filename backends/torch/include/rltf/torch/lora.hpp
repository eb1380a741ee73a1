#pragma once
/// \file
/// LoRA (Hu et al. 2021) on any rltf::AdaptableLM — GPT-2, Llama, Qwen2 — in PEFT's layout:
/// each chosen projection W gains y = W x + (α/r)·B A x with A [r, in] and B [out, r] trained
/// while the base stays frozen. `adapter_config.json` + `adapter_model.safetensors` are what
/// PEFT writes and reads (`base_model.model.<module>.lora_A.weight`), so an adapter trained here
/// loads with `PeftModel.from_pretrained(base, dir)` and one trained there loads here.
///
/// \code
/// rltf::DecoderModel model = rltf::load_decoder("qwen2.5-coder-0.5b");
/// rltf::Lora lora = rltf::apply_lora(model, {.r = 16, .alpha = 32, .target_modules = {"all-linear"}});
/// // ... train: only lora.parameters() require gradients ...
/// lora.save("out/adapter");                          // PEFT layout
/// { rltf::AdaptersOff off(lora); /* the base model, e.g. a frozen reference */ }
/// lora.merge();                                      // W += (α/r)·B·A; the model is plain again
/// rltf::save_decoder(model, "out/merged");
/// \endcode
///
/// Through a policy, `CausalLMPolicy::add_lora(options)` attaches adapters and makes them the only
/// trained parameters, and `rltf::frozen_reference(policy)` is a reference policy that shares the
/// base weights (GRPO and PPO need one copy of the base, not two).

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/detail/atomic_file.hpp"
#include "rltf/detail/file.hpp"
#include "rltf/detail/json.hpp"
#include "rltf/formats/safetensors.hpp"
#include "rltf/torch/adapter.hpp"
#include "rltf/torch/safetensors.hpp"

namespace rltf {

/// Which projections get adapters, and their shape (PEFT's LoraConfig fields).
struct LoraOptions {
  std::int64_t r = 8;   ///< rank
  double alpha = 16.0;  ///< lora_alpha: the update is scaled by alpha / r (alpha / √r with use_rslora)
  double dropout = 0.0; ///< lora_dropout on the adapter's input while training
  /// Module names, matched as PEFT matches them: a name equal to the entry or ending in "." + entry
  /// ("q_proj" adapts every layer's q_proj); "all-linear" adapts every projection. Empty: PEFT's
  /// default for the family (c_attn on GPT-2; q_proj and v_proj on Llama and Qwen2).
  std::vector<std::string> target_modules;
  std::string target_pattern; ///< a regular expression over whole module names; used instead when set
  bool use_rslora = false;    ///< rank-stabilised scaling alpha / √r
  std::uint64_t seed = 0;     ///< initialisation of A (B starts at zero: the adapted model equals the base)
};
RLTF_OPTIONS_JSON(LoraOptions, r, alpha, dropout, target_modules, target_pattern, use_rslora, seed)

/// The adapters attached to one model: a handle (copies share them) that trains, saves, loads,
/// switches off, merges and removes them.
class Lora {
public:
  Lora() = default;

  [[nodiscard]] const LoraOptions& options() const { return state().options; }
  /// The adapted modules' names, in the model's order.
  [[nodiscard]] std::vector<std::string> modules() const {
    std::vector<std::string> out;
    for (const auto& e : state().entries) out.push_back(e.target.name);
    return out;
  }
  /// Every lora_A and lora_B (what an optimiser trains).
  [[nodiscard]] std::vector<torch::Tensor> parameters() const {
    std::vector<torch::Tensor> out;
    for (const auto& e : state().entries) {
      out.push_back(e.update->lora_A);
      out.push_back(e.update->lora_B);
    }
    return out;
  }
  /// The adapters' tensors under PEFT's names (`base_model.model.<module>.lora_A.weight`).
  [[nodiscard]] std::vector<std::pair<std::string, torch::Tensor>> named_tensors() const {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& e : state().entries) {
      out.emplace_back(peft_name(e.target.name, "lora_A"), e.update->lora_A);
      out.emplace_back(peft_name(e.target.name, "lora_B"), e.update->lora_B);
    }
    return out;
  }
  /// Trainable scalars the adapters hold.
  [[nodiscard]] std::int64_t parameter_count() const {
    std::int64_t n = 0;
    for (const auto& p : parameters()) n += p.numel();
    return n;
  }
  /// True while the adapters are attached to the model (false after merge() or unload()).
  [[nodiscard]] bool attached() const { return state_ && state_->attached; }
  [[nodiscard]] bool enabled() const { return state().enabled; }
  /// Switches every adapter on or off (off: the model computes exactly its base).
  void set_enabled(bool on) {
    auto& s = state();
    s.enabled = on;
    for (auto& e : s.entries) e.update->enabled = on;
  }
  /// Moves the adapters to `device` (they stay float32).
  void to(torch::Device device) {
    for (auto& e : state().entries) e.update->to(device);
  }

  /// Writes `dir/adapter_config.json` and `dir/adapter_model.safetensors` (PEFT's names and
  /// fields), each atomically; creates `dir`.
  void save(const std::filesystem::path& dir) const {
    const auto& s = live("Lora::save");
    std::filesystem::create_directories(dir);
    nlohmann::json config = {
        {"peft_type", "LORA"},
        {"task_type", "CAUSAL_LM"},
        {"r", s.options.r},
        {"lora_alpha", s.options.alpha},
        {"lora_dropout", s.options.dropout},
        {"bias", "none"},
        {"fan_in_fan_out", !s.entries.empty() && s.entries.front().target.fan_in_fan_out},
        {"use_rslora", s.options.use_rslora},
        {"use_dora", false},
        {"init_lora_weights", true},
        {"inference_mode", true},
        {"modules_to_save", nullptr},
        {"base_model_name_or_path", nullptr},
    };
    if (s.options.target_pattern.empty()) {
      std::set<std::string> leaves; // PEFT writes the matched modules' last name components
      for (const auto& e : s.entries) leaves.insert(e.target.name.substr(e.target.name.rfind('.') + 1));
      config["target_modules"] = std::vector<std::string>(leaves.begin(), leaves.end());
    } else {
      config["target_modules"] = s.options.target_pattern;
    }
    rltf::detail::write_file_atomic(dir / "adapter_config.json", config.dump(2) + "\n");
    save_safetensors(dir / "adapter_model.safetensors", named_tensors(), {{"format", "pt"}});
  }

  /// Replaces the adapters' weights with those of `dir/adapter_model.safetensors` (the same
  /// modules and rank). A missing, extra or misshapen tensor is an rltf::parse_error naming it.
  void load_weights(const std::filesystem::path& dir) {
    auto& s = live("Lora::load_weights");
    const auto path = dir / "adapter_model.safetensors";
    const auto file = safetensors::File::open(path);
    std::map<std::string, const safetensors::TensorInfo*> present;
    for (const auto& info : file.tensors()) present.emplace(info.name, &info);
    torch::NoGradGuard no_grad;
    for (auto& e : s.entries) {
      for (auto [which, dst] :
           {std::pair<const char*, torch::Tensor*>{"lora_A", &e.update->lora_A}, {"lora_B", &e.update->lora_B}}) {
        const std::string name = peft_name(e.target.name, which);
        const auto it = present.find(name);
        if (it == present.end())
          throw parse_error(path.string(), 0, name,
                            "the adapter has no such tensor (the model's module " + e.target.name + " is adapted)");
        const torch::Tensor src = to_tensor(file, *it->second);
        if (src.sizes() != dst->sizes())
          throw parse_error(path.string(), 0, name,
                            "shape " + shape_string(src) + ", expected " + shape_string(*dst) +
                                " (r = " + std::to_string(s.options.r) + ")");
        if (!src.is_floating_point()) throw parse_error(path.string(), 0, name, "the tensor is not floating-point");
        dst->copy_(src.to(dst->device(), dst->scalar_type()));
        present.erase(it);
      }
    }
    if (!present.empty())
      throw parse_error(path.string(), 0, present.begin()->first,
                        "the tensor belongs to no adapted module of this model (" + std::to_string(present.size()) +
                            " such tensor(s); modules_to_save and embedding adapters are not supported)");
  }

  /// Adds each adapter's update into its base weight (W += (α/r)·B·A, in float32, then the
  /// weight's dtype), removes the adapters and restores the base parameters' requires_grad.
  void merge() {
    auto& s = live("Lora::merge");
    torch::NoGradGuard no_grad;
    for (auto& e : s.entries) {
      torch::Tensor delta = e.update->product().to(e.target.weight.device());
      if (e.target.fan_in_fan_out) delta = delta.t();
      e.target.weight.copy_((e.target.weight.to(torch::kFloat32) + delta).to(e.target.weight.scalar_type()));
    }
    detach_all(s);
  }

  /// Removes the adapters without merging (the model is its base again) and restores the base
  /// parameters' requires_grad.
  void unload() { detach_all(live("Lora::unload")); }

private:
  struct Entry {
    AdapterTarget target;
    detail::LowRankUpdate update{nullptr};
  };
  struct State {
    LoraOptions options;
    std::vector<Entry> entries;
    std::vector<std::pair<torch::Tensor, bool>> frozen; ///< base parameters and their requires_grad before
    std::shared_ptr<void> model;                        ///< keeps the slots alive
    bool enabled = true;
    bool attached = true;
  };

  template <AdaptableLM M>
  friend Lora apply_lora(M& model, const LoraOptions& options);

  static std::string peft_name(const std::string& module, const char* which) {
    return "base_model.model." + module + "." + which + ".weight";
  }
  static std::string shape_string(const torch::Tensor& t) {
    return to_string(Shape(t.sizes().begin(), t.sizes().end()));
  }

  State& state() const {
    if (!state_) throw invalid_argument("Lora: this handle holds no adapters (default-constructed)");
    return *state_;
  }
  State& live(const char* where) const {
    auto& s = state();
    if (!s.attached) throw invalid_argument(std::string(where) + ": the adapters were already merged or unloaded");
    return s;
  }
  static void detach_all(State& s) {
    for (auto& e : s.entries) e.target.slot->detach();
    for (auto& [p, requires_grad] : s.frozen) p.requires_grad_(requires_grad);
    s.frozen.clear();
    s.attached = false;
  }

  std::shared_ptr<State> state_;
};

namespace detail {
/// Does PEFT's rule pick `module` for the entry `key`: the name itself or its last components.
[[nodiscard]] inline bool lora_key_matches(const std::string& module, const std::string& key) {
  return module == key ||
         (module.size() > key.size() && module.ends_with(key) && module[module.size() - key.size() - 1] == '.');
}
} // namespace detail

/// Attaches adapters to `model`'s chosen projections (LoraOptions) and freezes every base
/// parameter. Throws rltf::invalid_argument for bad options, an entry that matches no module
/// (naming it and the module names there are), or a projection that already has an adapter.
template <AdaptableLM M>
[[nodiscard]] Lora apply_lora(M& model, const LoraOptions& options) {
  if (options.r < 1) throw invalid_argument("LoraOptions: r must be ≥ 1, got " + std::to_string(options.r));
  if (!(options.alpha > 0.0)) throw invalid_argument("LoraOptions: alpha must be positive");
  if (!(options.dropout >= 0.0 && options.dropout < 1.0))
    throw invalid_argument("LoraOptions: dropout must be in [0, 1)");
  std::vector<AdapterTarget> all = model->adapter_targets();
  std::vector<std::string> keys = options.target_modules;
  if (keys.empty() && options.target_pattern.empty()) {
    const bool gpt2 = std::ranges::any_of(all, [](const AdapterTarget& t) { return t.fan_in_fan_out; });
    keys = gpt2 ? std::vector<std::string>{"c_attn"} : std::vector<std::string>{"q_proj", "v_proj"};
  }
  std::vector<AdapterTarget> chosen;
  if (!options.target_pattern.empty()) {
    std::regex pattern;
    try {
      pattern = std::regex(options.target_pattern);
    } catch (const std::regex_error& e) {
      throw invalid_argument("LoraOptions: target_pattern '" + options.target_pattern +
                             "' is not a valid regex: " + e.what());
    }
    for (const auto& t : all)
      if (std::regex_match(t.name, pattern)) chosen.push_back(t);
    if (chosen.empty())
      throw invalid_argument("LoraOptions: target_pattern '" + options.target_pattern + "' matches no module (e.g. " +
                             (all.empty() ? std::string("none") : all.front().name) + ")");
  } else {
    const bool every = std::ranges::find(keys, "all-linear") != keys.end();
    for (const auto& key : keys) {
      if (key == "all-linear") continue;
      if (!std::ranges::any_of(all, [&](const AdapterTarget& t) { return detail::lora_key_matches(t.name, key); })) {
        std::set<std::string> leaves;
        for (const auto& t : all) leaves.insert(t.name.substr(t.name.rfind('.') + 1));
        std::string names;
        for (const auto& l : leaves) names += (names.empty() ? "" : ", ") + l;
        throw invalid_argument("LoraOptions: target_modules entry '" + key +
                               "' matches no module of this model (its projections: " + names + ")");
      }
    }
    for (const auto& t : all)
      if (every || std::ranges::any_of(keys, [&](const std::string& k) { return detail::lora_key_matches(t.name, k); }))
        chosen.push_back(t);
  }

  auto state = std::make_shared<Lora::State>();
  state->options = options;
  state->model = model.ptr();
  const double scaling = options.use_rslora ? options.alpha / std::sqrt(static_cast<double>(options.r))
                                            : options.alpha / static_cast<double>(options.r);
  auto gen = at::detail::createCPUGenerator(options.seed);
  const torch::Device device = model->device();
  for (auto& t : chosen) {
    if (t.slot->attached()) throw invalid_argument("apply_lora: " + t.name + " already carries an adapter");
    detail::LowRankUpdate update(t.in, t.out, options.r, scaling, options.dropout);
    update->reset(gen);
    update->to(device);
    state->entries.push_back({t, update});
  }
  for (auto& e : state->entries) e.target.slot->attach(e.update);
  for (auto& p : model->parameters()) {
    state->frozen.emplace_back(p, p.requires_grad());
    p.requires_grad_(false);
  }
  Lora lora;
  lora.state_ = std::move(state);
  return lora;
}

/// The LoraOptions that `dir/adapter_config.json` (PEFT's LoraConfig) describes. Fields rltf does
/// not support (DoRA, biases, modules_to_save, per-layer patterns) are an rltf::parse_error naming
/// the file and the field, never silently ignored.
[[nodiscard]] inline LoraOptions read_adapter_config(const std::filesystem::path& dir) {
  const auto path = dir / "adapter_config.json";
  const std::string file = path.string();
  const nlohmann::json j = rltf::detail::parse_json(rltf::detail::read_file(path, std::size_t{1} << 20), file);
  if (!j.is_object()) throw parse_error(file, 0, "", "an adapter config must be a JSON object");
  auto fail = [&](const char* field, const std::string& what) { throw parse_error(file, 0, field, what); };
  auto present = [&](const char* field) { return j.contains(field) && !j[field].is_null(); };
  if (!present("peft_type") || !j["peft_type"].is_string() || j["peft_type"].get<std::string>() != "LORA")
    fail("peft_type",
         "must be \"LORA\"" + (present("peft_type") ? std::string(", got ") + j["peft_type"].dump() : std::string()));
  LoraOptions o;
  if (!present("r") || !j["r"].is_number_integer()) fail("r", "must be a positive integer");
  o.r = j["r"].get<std::int64_t>();
  if (o.r < 1) fail("r", "must be a positive integer, got " + std::to_string(o.r));
  if (present("lora_alpha")) {
    if (!j["lora_alpha"].is_number()) fail("lora_alpha", "must be a number");
    o.alpha = j["lora_alpha"].get<double>();
  } else {
    o.alpha = 8.0; // LoraConfig's default
  }
  if (present("lora_dropout")) {
    if (!j["lora_dropout"].is_number()) fail("lora_dropout", "must be a number");
    o.dropout = j["lora_dropout"].get<double>();
  }
  if (present("use_rslora")) {
    if (!j["use_rslora"].is_boolean()) fail("use_rslora", "must be true or false");
    o.use_rslora = j["use_rslora"].get<bool>();
  }
  if (!present("target_modules")) fail("target_modules", "is missing");
  const auto& targets = j["target_modules"];
  if (targets.is_string()) {
    const auto text = targets.get<std::string>();
    if (text == "all-linear")
      o.target_modules = {"all-linear"};
    else
      o.target_pattern = text; // PEFT: a string is matched as a regular expression
  } else if (targets.is_array() && !targets.empty()) {
    for (const auto& t : targets) {
      if (!t.is_string()) fail("target_modules", "must hold strings");
      o.target_modules.push_back(t.get<std::string>());
    }
  } else {
    fail("target_modules", "must be a non-empty list of module names or a regular expression");
  }
  if (present("bias") && j["bias"] != "none") fail("bias", "only \"none\" is supported, got " + j["bias"].dump());
  if (present("use_dora") && j["use_dora"] != false) fail("use_dora", "DoRA is not supported");
  if (present("modules_to_save") && !(j["modules_to_save"].is_array() && j["modules_to_save"].empty()))
    fail("modules_to_save", "fully trained extra modules are not supported");
  for (const char* field : {"layers_to_transform", "layers_pattern"})
    if (present(field) && !(j[field].is_array() && j[field].empty()))
      fail(field, "per-layer selection is not supported");
  for (const char* field : {"rank_pattern", "alpha_pattern"})
    if (present(field) && !(j[field].is_object() && j[field].empty()))
      fail(field, "per-module ranks are not supported");
  return o;
}

/// Attaches the adapter saved in `dir` (adapter_config.json + adapter_model.safetensors, as
/// Lora::save or PEFT's save_pretrained writes them) to `model`.
template <AdaptableLM M>
[[nodiscard]] Lora load_lora(M& model, const std::filesystem::path& dir) {
  const LoraOptions options = read_adapter_config(dir);
  Lora lora;
  try {
    lora = apply_lora(model, options);
  } catch (const invalid_argument& e) {
    throw parse_error((dir / "adapter_config.json").string(), 0, "target_modules", e.what());
  }
  try {
    lora.load_weights(dir);
  } catch (...) {
    lora.unload(); // the model is left as it was
    throw;
  }
  return lora;
}

/// Switches a Lora's adapters off for a scope (the base model: a frozen reference, a comparison)
/// and back to what they were.
class AdaptersOff {
public:
  explicit AdaptersOff(Lora& lora) : lora_(lora), was_(lora.enabled()) { lora_.set_enabled(false); }
  ~AdaptersOff() { lora_.set_enabled(was_); }
  AdaptersOff(const AdaptersOff&) = delete;
  AdaptersOff& operator=(const AdaptersOff&) = delete;

private:
  Lora& lora_;
  bool was_;
};

} // namespace rltf
