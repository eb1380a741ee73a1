// LoRA (rltf/torch/lora.hpp) on GPT-2, Qwen2 and Llama: a fresh adapter leaves the model exactly
// its base; the update is W x + (α/r)·B A x, which merging folds into W; targets are chosen as PEFT
// chooses them; PEFT's file layout round-trips; bad adapter files are errors naming the file, the
// field or the tensor; through a policy only the adapters train, the frozen reference shares the
// base, and checkpoints hold only the adapters and continue bit for bit.

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <rltf/core/rng.hpp>
#include <rltf/exec/python_executor.hpp>
#include <rltf/formats/safetensors.hpp>
#include <rltf/tokenize/char.hpp>
#include <rltf/torch/decoder.hpp>
#include <rltf/torch/gpt2.hpp>
#include <rltf/torch/lora.hpp>
#include <rltf/torch/policy.hpp>
#include <rltf/torch/safetensors.hpp>
#include <rltf/train/grpo_trainer.hpp>

#include "small_models.hpp"

namespace torch_lora_test {

inline std::filesystem::path scratch(const std::string& name) {
  const auto dir = std::filesystem::path(RLTF_BINARY_DIR) / "torch_lora_test" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline rltf::DecoderConfig qwen2_config(std::int64_t vocab = 40) { return torch_test::small_qwen2(vocab); }

inline rltf::DecoderConfig llama_config() {
  auto c = qwen2_config();
  c.family = rltf::DecoderFamily::llama;
  c.tie_word_embeddings = false;
  c.num_key_value_heads = 1;
  return c;
}

inline rltf::Gpt2Config gpt2_config() {
  return {.vocab_size = 40, .n_positions = 64, .n_embd = 32, .n_layer = 2, .n_head = 4};
}

inline torch::Tensor ids() { return torch::tensor({{1, 5, 7, 2, 9, 3}, {4, 4, 8, 1, 0, 6}}, torch::kInt64); }

/// Gives every lora_B random values (a fresh adapter's B is zero: it changes nothing).
inline void randomise(rltf::Lora& lora, std::uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(seed);
  for (auto& [name, t] : lora.named_tensors())
    if (name.ends_with("lora_B.weight")) t.copy_(torch::randn(t.sizes(), gen) * 0.1);
}

inline void write_json(const std::filesystem::path& path, const nlohmann::json& j) { std::ofstream(path) << j.dump(2); }

template <class Model>
void check_fresh_off_merge(Model model, const rltf::LoraOptions& options, std::size_t expected_modules) {
  model->eval();
  const torch::Tensor base = model->forward(ids());
  rltf::Lora lora = rltf::apply_lora(model, options);
  CHECK(lora.modules().size() == expected_modules);
  CHECK(torch::equal(model->forward(ids()), base)); // B = 0
  randomise(lora, 11);
  const torch::Tensor adapted = model->forward(ids());
  CHECK((adapted - base).abs().max().item<double>() > 1e-3);
  {
    rltf::AdaptersOff off(lora);
    CHECK(torch::equal(model->forward(ids()), base));
  }
  CHECK(torch::equal(model->forward(ids()), adapted));
  for (const auto& p : model->parameters()) CHECK_FALSE(p.requires_grad());
  lora.merge();
  CHECK_FALSE(lora.attached());
  CHECK(torch::allclose(model->forward(ids()), adapted, 1e-5, 1e-5));
  for (const auto& p : model->parameters()) CHECK(p.requires_grad());
  CHECK_THROWS_WITH_AS(lora.merge(), doctest::Contains("already merged or unloaded"), rltf::invalid_argument);
}

} // namespace torch_lora_test

using namespace torch_lora_test;

TEST_CASE("LoRA: a fresh adapter is the base; adapters off give the base; merging folds B·A into W (all families)") {
  SUBCASE("Qwen2, PEFT's default targets q_proj and v_proj") {
    check_fresh_off_merge(rltf::DecoderModel(qwen2_config(), 3), {.r = 4, .alpha = 8}, 4);
  }
  SUBCASE("Llama, all-linear, rsLoRA scaling") {
    check_fresh_off_merge(rltf::DecoderModel(llama_config(), 4),
                          {.r = 2, .alpha = 4, .target_modules = {"all-linear"}, .use_rslora = true}, 14);
  }
  SUBCASE("GPT-2 (Conv1D weights [in, out]), the default target c_attn") {
    check_fresh_off_merge(rltf::Gpt2Model(gpt2_config(), 5), {.r = 4}, 2);
  }
  SUBCASE("GPT-2, c_proj matches both the attention and the MLP projection") {
    check_fresh_off_merge(rltf::Gpt2Model(gpt2_config(), 5), {.r = 4, .target_modules = {"c_proj", "c_fc"}}, 6);
  }
}

TEST_CASE("LoRA: the update is (alpha / r) · B A x on exactly the chosen projection") {
  rltf::DecoderModel model(qwen2_config(), 3);
  model->eval();
  rltf::Lora lora =
      rltf::apply_lora(model, {.r = 2, .alpha = 6, .target_pattern = R"(model\.layers\.1\.mlp\.up_proj)"});
  REQUIRE(lora.modules() == std::vector<std::string>{"model.layers.1.mlp.up_proj"});
  randomise(lora, 2);
  const auto tensors = lora.named_tensors();
  REQUIRE(tensors.size() == 2);
  CHECK(tensors[0].first == "base_model.model.model.layers.1.mlp.up_proj.lora_A.weight");
  CHECK(tensors[1].first == "base_model.model.model.layers.1.mlp.up_proj.lora_B.weight");
  const torch::Tensor a = tensors[0].second, b = tensors[1].second;
  auto& layer = model->layers->at<rltf::DecoderLayerImpl>(1);
  const torch::Tensor x = torch::randn({3, 32});
  torch::Tensor with, without;
  {
    torch::NoGradGuard no_grad;
    with = layer.up_lora.apply(x, layer.up_proj(x), false);
    without = layer.up_proj(x);
  }
  CHECK(torch::allclose(with, without + 3.0 * torch::matmul(torch::matmul(x, a.t()), b.t()), 1e-6, 1e-6));
  CHECK(lora.parameter_count() == 2 * 32 + 48 * 2);
}

TEST_CASE("LoRA: targets that match nothing, bad options, and adapting twice are clear errors") {
  rltf::DecoderModel model(qwen2_config(), 3);
  CHECK_THROWS_WITH_AS((void)rltf::apply_lora(model, {.target_modules = {"c_attn"}}),
                       doctest::Contains("'c_attn' matches no module of this model (its projections: down_proj, "
                                         "gate_proj, k_proj, o_proj, q_proj, up_proj, v_proj)"),
                       rltf::invalid_argument);
  CHECK_THROWS_WITH_AS((void)rltf::apply_lora(model, {.target_pattern = "lm_head"}),
                       doctest::Contains("matches no module"), rltf::invalid_argument);
  CHECK_THROWS_WITH_AS((void)rltf::apply_lora(model, {.r = 0}), doctest::Contains("r must be"), rltf::invalid_argument);
  CHECK_THROWS_AS((void)rltf::apply_lora(model, {.target_pattern = "("}), rltf::invalid_argument);
  // a failed apply leaves the model untouched
  for (const auto& p : model->parameters()) CHECK(p.requires_grad());
  rltf::Lora lora = rltf::apply_lora(model, {});
  CHECK_THROWS_WITH_AS((void)rltf::apply_lora(model, {.target_modules = {"q_proj"}}),
                       doctest::Contains("model.layers.0.self_attn.q_proj already carries an adapter"),
                       rltf::invalid_argument);
  lora.unload();
  CHECK(rltf::apply_lora(model, {.target_modules = {"q_proj"}}).modules().size() == 2);
}

TEST_CASE("LoRA: save writes PEFT's adapter_config.json and names; load_lora reproduces the adapted model") {
  const auto dir = scratch("peft");
  rltf::DecoderModel model(llama_config(), 6);
  model->eval();
  rltf::Lora lora = rltf::apply_lora(model, {.r = 4, .alpha = 16, .target_modules = {"q_proj", "down_proj"}});
  randomise(lora, 3);
  const torch::Tensor adapted = model->forward(ids());
  lora.save(dir);
  const auto config = nlohmann::json::parse(std::ifstream(dir / "adapter_config.json"));
  CHECK(config["peft_type"] == "LORA");
  CHECK(config["r"] == 4);
  CHECK(config["lora_alpha"] == 16.0);
  CHECK(config["target_modules"] == nlohmann::json{"down_proj", "q_proj"});
  CHECK(config["bias"] == "none");
  CHECK(config["fan_in_fan_out"] == false);
  const auto file = rltf::safetensors::File::open(dir / "adapter_model.safetensors");
  CHECK(file.tensors().size() == 8);
  CHECK(file.info("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight").shape == rltf::Shape{4, 48});
  CHECK(file.info("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight").shape == rltf::Shape{32, 4});

  rltf::DecoderModel fresh(llama_config(), 6);
  fresh->eval();
  rltf::Lora loaded = rltf::load_lora(fresh, dir);
  CHECK(torch::equal(fresh->forward(ids()), adapted));
  CHECK(loaded.options().r == 4);

  SUBCASE("GPT-2 adapters say fan_in_fan_out as PEFT's Conv1D layers do") {
    const auto gdir = scratch("peft-gpt2");
    rltf::Gpt2Model g(gpt2_config(), 1);
    rltf::apply_lora(g, {}).save(gdir);
    CHECK(nlohmann::json::parse(std::ifstream(gdir / "adapter_config.json"))["fan_in_fan_out"] == true);
    CHECK_NOTHROW((void)rltf::safetensors::File::open(gdir / "adapter_model.safetensors")
                      .info("base_model.model.transformer.h.1.attn.c_attn.lora_B.weight"));
  }
}

TEST_CASE("LoRA: a bad adapter directory is an error naming the file and the field or tensor") {
  const auto dir = scratch("bad");
  rltf::DecoderModel model(qwen2_config(), 6);
  rltf::Lora lora = rltf::apply_lora(model, {.r = 4});
  lora.save(dir);
  lora.unload();
  const auto config = nlohmann::json::parse(std::ifstream(dir / "adapter_config.json"));
  auto with = [&](const std::string& field, const nlohmann::json& value) {
    auto c = config;
    if (value.is_discarded())
      c.erase(field);
    else
      c[field] = value;
    write_json(dir / "adapter_config.json", c);
  };
  auto fails = [&](const std::string& needle) {
    CHECK_THROWS_WITH_AS((void)rltf::load_lora(model, dir), doctest::Contains(needle.c_str()), rltf::parse_error);
    for (const auto& p : model->parameters()) CHECK(p.requires_grad()); // the model is left as it was
  };
  with("peft_type", "PREFIX_TUNING");
  fails("adapter_config.json: field 'peft_type': must be \"LORA\", got \"PREFIX_TUNING\"");
  with("peft_type", "LORA");
  with("r", nlohmann::json::value_t::discarded);
  fails("field 'r': must be a positive integer");
  with("r", 4);
  with("use_dora", true);
  fails("field 'use_dora': DoRA is not supported");
  with("use_dora", false);
  with("bias", "all");
  fails("field 'bias': only \"none\" is supported");
  with("bias", "none");
  with("modules_to_save", nlohmann::json{"lm_head"});
  fails("field 'modules_to_save'");
  with("modules_to_save", nullptr);
  with("target_modules", nlohmann::json{"wq"});
  fails("field 'target_modules': LoraOptions: target_modules entry 'wq' matches no module");
  with("target_modules", nlohmann::json{"q_proj", "v_proj"});
  with("r", 8);
  fails("adapter_model.safetensors: field 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': shape "
        "[4, 32], expected [8, 32] (r = 8)");
  with("r", 4);
  with("target_modules", nlohmann::json{"q_proj", "v_proj", "k_proj"});
  fails("field 'base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight': the adapter has no such tensor");
  with("target_modules", nlohmann::json{"q_proj"});
  fails("field 'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight': the tensor belongs to no adapted "
        "module");
  std::ofstream(dir / "adapter_config.json") << "{\"peft_type\": ";
  CHECK_THROWS_WITH_AS((void)rltf::load_lora(model, dir), doctest::Contains("adapter_config.json"), rltf::parse_error);
  std::filesystem::remove(dir / "adapter_config.json");
  CHECK_THROWS_WITH_AS((void)rltf::load_lora(model, dir), doctest::Contains("adapter_config.json"), rltf::io_error);
}

TEST_CASE("LoRA through a policy: only the adapters train, the frozen reference is the shared base, checkpoints "
          "hold the adapters and continue bit for bit") {
  const rltf::CharTokenizer tokenizer("abcdefghijklmnopqrstuvwxyz ()\n:");
  const auto config = qwen2_config(static_cast<std::int64_t>(tokenizer.vocab_size()));
  rltf::DecoderPolicy<rltf::CharTokenizer> policy(rltf::DecoderModel(config, 3), tokenizer, {.batch_size = 4});
  CHECK_THROWS_WITH_AS((void)rltf::frozen_reference(policy), doctest::Contains("has no LoRA adapters"),
                       rltf::invalid_argument);
  rltf::Rng rng = rltf::make_rng(5);
  const std::vector<std::string> prompts = {"def f(x):", "print"};
  const auto samples = policy.generate(prompts, {.max_new_tokens = 8, .temperature = 1.0F, .num_samples = 2}, rng);
  const torch::Tensor base_lp = policy.log_probs(samples).detach();
  std::vector<torch::Tensor> base_weights;
  for (const auto& p : policy.model()->parameters()) base_weights.push_back(p.detach().clone());

  rltf::Lora& lora = policy.add_lora({.r = 4, .alpha = 8, .target_modules = {"all-linear"}, .seed = 1});
  CHECK(policy.parameters().size() == 2 * lora.modules().size());
  CHECK(torch::equal(policy.log_probs(samples), base_lp));
  const auto reference = rltf::frozen_reference(policy);
  CHECK(reference->is_frozen_reference());
  policy.train();
  for (int step = 0; step < 3; ++step) {
    policy.zero_grad();
    policy.backward(samples, -torch::ones_like(base_lp));
    CHECK(policy.step({.lr = 1e-2F}) > 0.0F);
  }
  const torch::Tensor trained_lp = policy.log_probs(samples).detach();
  CHECK(trained_lp.sum().item<double>() > base_lp.sum().item<double>());
  const auto params = policy.model()->parameters();
  for (std::size_t i = 0; i < params.size(); ++i) CHECK(torch::equal(params[i], base_weights[i]));
  // the reference computes the base (adapters off, no autograd) and leaves the policy adapted
  const torch::Tensor ref_lp = reference->log_probs(samples);
  CHECK_FALSE(ref_lp.requires_grad());
  CHECK(torch::allclose(ref_lp, base_lp, 1e-6, 1e-6));
  CHECK(torch::equal(policy.log_probs(samples).detach(), trained_lp));
  CHECK_THROWS_WITH_AS(reference->step({}), doctest::Contains("frozen reference"), rltf::invalid_argument);

  // checkpoints: the adapters and the optimiser, not the base
  const auto dir = scratch("policy");
  policy.save_checkpoint(dir);
  CHECK(std::filesystem::exists(dir / "adapter_model.safetensors"));
  CHECK_FALSE(std::filesystem::exists(dir / "model.safetensors"));
  const auto ref_dir = scratch("reference");
  reference->save_checkpoint(ref_dir);
  CHECK(std::filesystem::exists(ref_dir / "frozen_reference.json"));
  CHECK_FALSE(std::filesystem::exists(ref_dir / "model.safetensors"));

  rltf::DecoderPolicy<rltf::CharTokenizer> plain(rltf::DecoderModel(config, 3), tokenizer, {.batch_size = 4});
  CHECK_THROWS_WITH_AS(plain.load_checkpoint(dir), doctest::Contains("holds LoRA adapters; this policy has none"),
                       rltf::checkpoint_mismatch);
  rltf::DecoderPolicy<rltf::CharTokenizer> restored(rltf::DecoderModel(config, 3), tokenizer, {.batch_size = 4});
  restored.add_lora({.r = 4, .alpha = 8, .target_modules = {"all-linear"}, .seed = 99});
  restored.load_checkpoint(dir);
  const auto restored_ref = rltf::frozen_reference(restored);
  CHECK_NOTHROW(restored_ref->load_checkpoint(ref_dir));
  CHECK_THROWS_AS(restored_ref->load_checkpoint(dir), rltf::checkpoint_mismatch);
  restored.train();
  for (auto* p : {&policy, &restored}) {
    p->zero_grad();
    p->backward(samples, -torch::ones_like(base_lp));
    p->step({.lr = 1e-2F});
  }
  CHECK(torch::equal(policy.log_probs(samples), restored.log_probs(samples)));

  // export: base + adapter in one folder, or merged into the base
  const auto out = scratch("export");
  policy.save(out);
  CHECK(std::filesystem::exists(out / "model.safetensors"));
  CHECK(std::filesystem::exists(out / "adapter_config.json"));
  const torch::Tensor adapted = policy.log_probs(samples).detach();
  policy.merge_lora();
  CHECK(policy.lora() == nullptr);
  CHECK(torch::allclose(policy.log_probs(samples), adapted, 1e-5, 1e-5));
  CHECK(policy.parameters().size() == policy.model()->parameters().size());
}

TEST_CASE("LoRA on a BF16 checkpoint: float32 adapters, the base's dtype kept, merge back into BF16") {
  const auto dir = std::filesystem::path(RLTF_SOURCE_DIR) / "data" / "models" / "synthetic-qwen2";
  rltf::DecoderModel model = rltf::load_decoder(dir, {.dtype = torch::kBFloat16});
  model->eval();
  const torch::Tensor input = torch::tensor({{1, 2, 3, 4}}, torch::kInt64);
  const torch::Tensor base = model->forward(input);
  rltf::Lora lora = rltf::apply_lora(model, {.r = 8, .alpha = 16});
  for (const auto& t : lora.parameters()) CHECK((t.scalar_type() == torch::kFloat32));
  CHECK(torch::equal(model->forward(input), base));
  randomise(lora, 4);
  const torch::Tensor adapted = model->forward(input);
  CHECK((adapted.scalar_type() == torch::kBFloat16));
  CHECK_FALSE(torch::equal(adapted, base));
  lora.merge();
  CHECK((model->dtype() == torch::kBFloat16));
  // BF16 has 8 bits of mantissa: the merged weights round, so compare loosely
  CHECK((model->forward(input).to(torch::kFloat32) - adapted.to(torch::kFloat32)).abs().max().item<double>() < 0.1);
}

TEST_CASE("LoRA: a Gpt2Policy's frozen reference shares the base; GRPO trains the adapters with it by default") {
  const rltf::CharTokenizer tokenizer("abcdefghijklmnopqrstuvwxyz ()\n:");
  rltf::Gpt2Config config = gpt2_config();
  config.vocab_size = static_cast<std::int64_t>(tokenizer.vocab_size());
  rltf::Gpt2Policy<rltf::CharTokenizer> policy(rltf::Gpt2Model(config, 2), tokenizer);
  policy.add_lora({.r = 2});
  randomise(*policy.lora(), 8);
  std::shared_ptr<rltf::Gpt2Policy<rltf::CharTokenizer>> reference = rltf::frozen_reference(policy);
  rltf::Rng rng = rltf::make_rng(1);
  const std::vector<std::string> prompts = {"def"};
  const auto samples = policy.generate(prompts, {.max_new_tokens = 6, .num_samples = 2}, rng);
  const torch::Tensor adapted = policy.log_probs(samples).detach();
  const torch::Tensor base = reference->log_probs(samples);
  CHECK_FALSE(torch::allclose(adapted, base));
  {
    rltf::AdaptersOff off(*policy.lora());
    CHECK(torch::allclose(policy.log_probs(samples), base, 1e-6, 1e-6));
  }

  // GRPO with its default reference (the shared base): two steps move only the adapters
  const std::vector<rltf::Problem> problems = torch_test::digit_problems(2);
  std::vector<torch::Tensor> base_weights;
  for (const auto& p : policy.model()->parameters()) base_weights.push_back(p.detach().clone());
  const auto lora_before = policy.lora()->parameters().front().detach().clone();
  rltf::PythonExecutor executor{rltf::PythonExecutorOptions{.python = RLTF_PYTHON, .workers = 1}};
  rltf::GrpoOptions options;
  options.rollout.problems_per_round = 2;
  options.rollout.sampling.num_samples = 4;
  options.rollout.sampling.max_new_tokens = 4;
  options.learner.steps = 2;
  options.learner.batch_size = 8;
  options.learner.optimizer.lr = 1e-2F;
  options.run.progress = rltf::ProgressMode::off;
  rltf::GrpoTrainer<rltf::Gpt2Policy<rltf::CharTokenizer>> trainer{policy, executor, rltf::RltfFeedback{}, problems,
                                                                   options};
  REQUIRE(trainer.objective().reference() != nullptr);
  CHECK(trainer.objective().reference()->is_frozen_reference());
  (void)trainer.train();
  const auto params = policy.model()->parameters();
  for (std::size_t i = 0; i < params.size(); ++i) CHECK(torch::equal(params[i], base_weights[i]));
  CHECK_FALSE(torch::equal(policy.lora()->parameters().front(), lora_before));
}
