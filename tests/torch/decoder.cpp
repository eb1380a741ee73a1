// DecoderModel (Llama, Qwen2) against the synthetic checkpoints' independently computed float64
// outputs; KV-cache generation with left padding; log-probabilities equal to a full forward pass;
// save/load (single file and sharded), dtypes; loading errors naming the file, tensor or field;
// the CausalLM interface through CausalLMPolicy.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <rltf/core/rng.hpp>
#include <rltf/formats/safetensors.hpp>
#include <rltf/tokenize/char.hpp>
#include <rltf/torch/causal_lm.hpp>
#include <rltf/torch/decoder.hpp>
#include <rltf/torch/generate.hpp>
#include <rltf/torch/policy.hpp>
#include <rltf/torch/safetensors.hpp>

#include "small_models.hpp"

namespace torch_decoder_test {

inline std::filesystem::path model_dir(const std::string& name) {
  return std::filesystem::path(RLTF_SOURCE_DIR) / "data" / "models" / name;
}

inline std::filesystem::path scratch(const std::string& name) {
  const auto dir = std::filesystem::path(RLTF_BINARY_DIR) / "torch_decoder_test" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline nlohmann::json expected(const std::string& name) {
  std::ifstream in(model_dir(name) / "expected_outputs.json");
  return nlohmann::json::parse(in);
}

inline double max_diff_2d(const torch::Tensor& got, const nlohmann::json& want) {
  std::vector<double> flat;
  for (const auto& row : want)
    for (const auto& v : row) flat.push_back(v.get<double>());
  return (got.to(torch::kFloat64).flatten() - torch::tensor(flat, torch::kFloat64)).abs().max().item<double>();
}

/// Every case of `name`: intermediate values (short cases), last-position logits within 1e-4 of
/// the float64 reference (BF16 weights computed in float32), every position's argmax, and the
/// 12-token greedy continuation through KV-cache generate().
inline void check_cases(const std::string& name, rltf::DecoderModel& model) {
  const auto want = expected(name);
  const auto logits_file = rltf::safetensors::File::open(model_dir(name) / "expected_last_logits.safetensors");
  torch::NoGradGuard no_grad;
  REQUIRE(want["cases"].size() >= 5);
  for (const auto& c : want["cases"]) {
    const std::string id = c["case"].get<std::string>();
    CAPTURE(id);
    const auto ids_vec = c["input_ids"].get<std::vector<std::int64_t>>();
    const auto t = static_cast<std::int64_t>(ids_vec.size());
    rltf::DecoderTrace trace;
    const torch::Tensor hidden =
        model->transformer(torch::tensor(ids_vec, torch::kInt64).view({1, t}), {}, nullptr, &trace);
    const torch::Tensor logits = model->lm_logits(hidden)[0].to(torch::kFloat32);
    if (c.contains("embeddings")) {
      CHECK(max_diff_2d(trace.embeddings[0], c["embeddings"]) < 1e-6);
      REQUIRE(trace.layer_outputs.size() == c["layer_outputs"].size());
      for (std::size_t l = 0; l < trace.layer_outputs.size(); ++l)
        CHECK(max_diff_2d(trace.layer_outputs[l][0], c["layer_outputs"][l]) < 1e-4);
      CHECK(max_diff_2d(hidden[0], c["final_hidden_after_norm"]) < 1e-4);
      CHECK(max_diff_2d(logits.narrow(1, 0, 8), c["logits_first8_each_position"]) < 1e-4);
    }
    const torch::Tensor want_last = rltf::to_tensor(logits_file, id);
    CHECK((logits[t - 1] - want_last).abs().max().item<double>() < 1e-4);
    const auto argmax = logits.argmax(-1);
    const auto want_argmax = c["argmax_each_position"].get<std::vector<std::int64_t>>();
    REQUIRE(static_cast<std::int64_t>(want_argmax.size()) == t);
    int wrong = 0;
    for (std::int64_t i = 0; i < t; ++i)
      wrong += argmax[i].item<std::int64_t>() != want_argmax[static_cast<std::size_t>(i)];
    CHECK(wrong == 0);
    CHECK(std::abs(torch::logsumexp(logits[t - 1].to(torch::kFloat64), 0).item<double>() -
                   c["last_position"]["logsumexp"].get<double>()) < 1e-4);

    const std::vector<std::vector<rltf::token_id>> prompt = {
        std::vector<rltf::token_id>(ids_vec.begin(), ids_vec.end())};
    rltf::Rng rng = rltf::make_rng(1);
    const auto gen =
        rltf::generate(model, std::span(prompt), rltf::SamplingConfig{.max_new_tokens = 12, .greedy = true}, rng);
    const auto want_greedy = c["greedy_continuation_12"].get<std::vector<rltf::token_id>>();
    CHECK(gen[0].tokens == want_greedy);
  }
}

inline std::string load_error(const std::filesystem::path& dir) {
  try {
    (void)rltf::load_decoder(dir);
  } catch (const rltf::parse_error& e) {
    return e.field() + " | " + e.what();
  } catch (const rltf::error& e) {
    return std::string("error | ") + e.what();
  }
  return "no error";
}

/// A copy of `name` with config.json edited by `config_edit` and the tensors by `edit`.
template <class ConfigEdit, class Edit>
std::filesystem::path edited_copy(const std::string& name, const std::string& scratch_name, ConfigEdit config_edit,
                                  Edit edit) {
  const auto dir = scratch(scratch_name);
  std::ifstream in(model_dir(name) / "config.json");
  auto config = nlohmann::json::parse(in);
  config_edit(config);
  std::ofstream(dir / "config.json") << config.dump(2);
  auto tensors = rltf::load_safetensors(model_dir(name) / "model.safetensors");
  edit(tensors);
  rltf::save_safetensors(dir / "model.safetensors", tensors);
  return dir;
}

/// Log-probabilities of `tokens` after `prompt` from one full forward pass (no cache, no padding).
inline std::vector<double> forward_logprobs(rltf::DecoderModel& model, const std::vector<rltf::token_id>& prompt,
                                            const std::vector<rltf::token_id>& tokens) {
  torch::NoGradGuard no_grad;
  std::vector<std::int64_t> all(prompt.begin(), prompt.end());
  all.insert(all.end(), tokens.begin(), tokens.end());
  const auto n = static_cast<std::int64_t>(all.size());
  const torch::Tensor logp =
      torch::log_softmax(model->forward(torch::tensor(all, torch::kInt64).view({1, n}))[0].to(torch::kFloat64), -1);
  std::vector<double> out;
  for (std::size_t i = 0; i < tokens.size(); ++i)
    out.push_back(logp[static_cast<std::int64_t>(prompt.size() + i) - 1][tokens[i]].item<double>());
  return out;
}

} // namespace torch_decoder_test

TEST_CASE("CausalLM: the archetype, Gpt2Model and DecoderModel model the concept") {
  static_assert(rltf::CausalLM<rltf::archetypes::causal_lm>);
  static_assert(rltf::CausalLM<rltf::Gpt2Model>);
  static_assert(rltf::CausalLM<rltf::DecoderModel>);
  static_assert(!rltf::CausalLM<int>);
  CHECK(true);
}

TEST_CASE("DecoderModel reproduces the synthetic Qwen2 checkpoint (GQA, q/k/v biases, tied embeddings, BF16)") {
  auto model = rltf::load_decoder(torch_decoder_test::model_dir("synthetic-qwen2"));
  CHECK((model->config().family == rltf::DecoderFamily::qwen2));
  CHECK(model->config().tie_word_embeddings);
  CHECK(!model->lm_head);
  CHECK((model->dtype() == torch::kFloat32));
  torch_decoder_test::check_cases("synthetic-qwen2", model);
}

TEST_CASE("DecoderModel reproduces the synthetic Llama checkpoint (GQA, untied lm_head, llama3 rope scaling)") {
  auto model = rltf::load_decoder(torch_decoder_test::model_dir("synthetic-llama"));
  CHECK((model->config().family == rltf::DecoderFamily::llama));
  // the rope block of expected_outputs.json lists the scaled inverse frequencies
  const auto want = torch_decoder_test::expected("synthetic-llama");
  const auto inv = model->config().inv_freq();
  const auto& scaled = want["rope"]["inv_freq_llama3"];
  REQUIRE(scaled.size() == inv.size());
  for (std::size_t i = 0; i < inv.size(); ++i) CHECK(inv[i] == doctest::Approx(scaled[i].get<double>()).epsilon(1e-12));
  torch_decoder_test::check_cases("synthetic-llama", model);
}

TEST_CASE("DecoderModel: the left-padded batch equals each row alone (forward and KV-cache generation)") {
  for (const std::string name : {"synthetic-qwen2", "synthetic-llama"}) {
    CAPTURE(name);
    auto model = rltf::load_decoder(torch_decoder_test::model_dir(name));
    const auto want = torch_decoder_test::expected(name);
    const auto& batch = want["batch"];
    const auto logits_file =
        rltf::safetensors::File::open(torch_decoder_test::model_dir(name) / "expected_last_logits.safetensors");
    std::vector<torch::Tensor> rows, masks;
    for (const auto& r : batch["input_ids"]) rows.push_back(torch::tensor(r.get<std::vector<std::int64_t>>()));
    for (const auto& r : batch["attention_mask"]) masks.push_back(torch::tensor(r.get<std::vector<std::int64_t>>()));
    torch::NoGradGuard no_grad;
    const torch::Tensor logits = model->forward(torch::stack(rows), torch::stack(masks));
    std::vector<std::vector<rltf::token_id>> prompts;
    std::vector<std::vector<rltf::token_id>> greedy;
    for (std::size_t r = 0; r < batch["rows"].size(); ++r) {
      const auto& row = batch["rows"][r];
      const auto i = static_cast<std::int64_t>(r);
      const auto case_id = row["same_as_case"].get<std::string>();
      CHECK((logits[i][-1] - rltf::to_tensor(logits_file, case_id)).abs().max().item<double>() < 1e-4);
      const auto n_pad = row["n_pad"].get<std::int64_t>();
      const auto want_argmax = row["argmax_real_positions"].get<std::vector<std::int64_t>>();
      for (std::size_t k = 0; k < want_argmax.size(); ++k)
        CHECK(logits[i][n_pad + static_cast<std::int64_t>(k)].argmax().item<std::int64_t>() == want_argmax[k]);
      for (const auto& c : want["cases"])
        if (c["case"] == case_id) {
          prompts.push_back(c["input_ids"].get<std::vector<rltf::token_id>>());
          greedy.push_back(c["greedy_continuation_12"].get<std::vector<rltf::token_id>>());
        }
    }
    REQUIRE(prompts.size() == 2);
    REQUIRE(prompts[0].size() != prompts[1].size());
    rltf::Rng rng = rltf::make_rng(2);
    const auto gen =
        rltf::generate(model, std::span(prompts), rltf::SamplingConfig{.max_new_tokens = 12, .greedy = true}, rng);
    CHECK(gen[0].tokens == greedy[0]);
    CHECK(gen[1].tokens == greedy[1]);
  }
}

TEST_CASE("DecoderModel: sampled tokens' log-probabilities equal a full forward pass; cache equals recompute") {
  auto model = rltf::load_decoder(torch_decoder_test::model_dir("synthetic-llama"));
  const std::vector<std::vector<rltf::token_id>> prompts = {{5, 17, 300, 2, 9}, {44}, {100, 200, 300}};
  const rltf::SamplingConfig cfg{.max_new_tokens = 16, .temperature = 0.8F, .top_p = 0.9F, .top_k = 50};
  rltf::Rng rng = rltf::make_rng(7);
  const auto gen = rltf::generate(model, std::span(prompts), cfg, rng);
  rltf::Rng rng2 = rltf::make_rng(7);
  const auto recomputed = rltf::generate(model, std::span(prompts), cfg, rng2, {.use_cache = false});
  for (std::size_t r = 0; r < prompts.size(); ++r) {
    CAPTURE(r);
    REQUIRE(gen[r].tokens.size() == 16);
    CHECK(gen[r].tokens == recomputed[r].tokens);
    const auto full = torch_decoder_test::forward_logprobs(model, prompts[r], gen[r].tokens);
    for (std::size_t i = 0; i < full.size(); ++i) CHECK(gen[r].logprobs[i] == doctest::Approx(full[i]).epsilon(1e-4));
  }
  // the same seed draws the same tokens; another seed other tokens
  rltf::Rng rng3 = rltf::make_rng(8);
  const auto other = rltf::generate(model, std::span(prompts), cfg, rng3);
  CHECK(other[0].tokens != gen[0].tokens);
}

TEST_CASE("DecoderModel: random models of other shapes (1 kv head, explicit head_dim, biases, linear rope)") {
  struct Shape {
    rltf::DecoderFamily family;
    std::int64_t heads, kv, head_dim;
    bool attention_bias, tie;
    std::string rope;
  };
  const Shape shapes[] = {{rltf::DecoderFamily::qwen2, 4, 1, 0, false, false, "default"},
                          {rltf::DecoderFamily::llama, 6, 2, 12, true, true, "linear"},
                          {rltf::DecoderFamily::llama, 2, 2, 0, false, false, "llama3"}};
  int k = 0;
  for (const auto& s : shapes) {
    CAPTURE(k);
    rltf::DecoderConfig c{.family = s.family,
                          .vocab_size = 97,
                          .hidden_size = 48,
                          .intermediate_size = 40,
                          .num_hidden_layers = 2,
                          .num_attention_heads = s.heads,
                          .num_key_value_heads = s.kv,
                          .head_dim = s.head_dim,
                          .max_position_embeddings = 64,
                          .attention_bias = s.attention_bias,
                          .tie_word_embeddings = s.tie,
                          .initializer_range = 0.2};
    c.rope_scaling.rope_type = s.rope;
    c.rope_scaling.factor = 2.0;
    c.rope_scaling.original_max_position_embeddings = 16;
    rltf::DecoderModel model(c, 11 + static_cast<std::uint64_t>(k));
    const std::vector<std::vector<rltf::token_id>> prompts = {{1, 2, 3, 4, 5, 6, 7}, {8, 9}};
    rltf::Rng a = rltf::make_rng(1), b = rltf::make_rng(1);
    const rltf::SamplingConfig cfg{.max_new_tokens = 10, .temperature = 1.0F, .top_p = 1.0F};
    const auto cached = rltf::generate(model, std::span(prompts), cfg, a);
    const auto plain = rltf::generate(model, std::span(prompts), cfg, b, {.use_cache = false});
    for (std::size_t r = 0; r < prompts.size(); ++r) {
      CHECK(cached[r].tokens == plain[r].tokens);
      const auto full = torch_decoder_test::forward_logprobs(model, prompts[r], cached[r].tokens);
      for (std::size_t i = 0; i < full.size(); ++i)
        CHECK(cached[r].logprobs[i] == doctest::Approx(full[i]).epsilon(1e-4));
    }
    // save → load reproduces the logits; tied models write no lm_head.weight
    const auto dir = torch_decoder_test::scratch("shape" + std::to_string(k));
    rltf::save_decoder(model, dir);
    const auto file = rltf::safetensors::File::open(dir / "model.safetensors");
    CHECK(file.contains("lm_head.weight") == !s.tie);
    CHECK(file.contains("model.layers.1.self_attn.q_proj.bias") ==
          (s.family == rltf::DecoderFamily::qwen2 || s.attention_bias));
    CHECK(file.contains("model.layers.1.self_attn.o_proj.bias") == s.attention_bias);
    auto back = rltf::load_decoder(dir);
    torch::NoGradGuard no_grad;
    const auto ids = torch::tensor({{3, 1, 4, 1, 5, 9, 2, 6}}, torch::kInt64);
    CHECK(torch::equal(back->forward(ids), model->forward(ids)));
    CHECK(back->config().rope_scaling.rope_type == s.rope);
    CHECK(back->config().head_size() == model->config().head_size());
    ++k;
  }
}

TEST_CASE("DecoderModel: save writes Hugging Face names, config.json and generation_config.json; BF16/F16 round trip") {
  auto model = rltf::load_decoder(torch_decoder_test::model_dir("synthetic-qwen2"));
  const auto dir = torch_decoder_test::scratch("qwen2-save");
  rltf::save_decoder(model, dir);
  const auto ours = rltf::safetensors::File::open(dir / "model.safetensors");
  const auto original =
      rltf::safetensors::File::open(torch_decoder_test::model_dir("synthetic-qwen2") / "model.safetensors");
  std::vector<std::string> a, b;
  for (const auto& t : ours.tensors()) a.push_back(t.name);
  for (const auto& t : original.tensors()) b.push_back(t.name);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  CHECK(a == b);
  std::ifstream cin(dir / "config.json");
  const auto config = nlohmann::json::parse(cin);
  CHECK(config["architectures"][0] == "Qwen2ForCausalLM");
  CHECK(config["model_type"] == "qwen2");
  CHECK(config["num_key_value_heads"] == 2);
  CHECK(config["eos_token_id"] == 151645);
  std::ifstream gin(dir / "generation_config.json");
  const auto generation = nlohmann::json::parse(gin);
  CHECK(generation["eos_token_id"] == 151645);
  CHECK(generation["bos_token_id"] == 151643);
  // generation_config.json is read back as defaults
  nlohmann::json g = generation;
  g["temperature"] = 0.7;
  g["top_p"] = 0.8;
  g["eos_token_id"] = {151645, 151643};
  std::ofstream(dir / "generation_config.json") << g.dump();
  auto reread = rltf::load_decoder(dir);
  CHECK(reread->generation().temperature.value_or(0) == doctest::Approx(0.7));
  CHECK(reread->generation().top_p.value_or(0) == doctest::Approx(0.8));
  CHECK(reread->generation().eos_token_ids == std::vector<rltf::token_id>{151645, 151643});

  // the weights are BF16 values: BF16 and F16 copies load to the same float32 logits
  for (const auto dtype : {torch::kBFloat16, torch::kFloat16}) {
    const std::string dtype_name = c10::toString(dtype);
    CAPTURE(dtype_name);
    auto half = rltf::load_decoder(torch_decoder_test::model_dir("synthetic-qwen2"), {.dtype = dtype});
    CHECK((half->dtype() == dtype));
    const auto hdir = torch_decoder_test::scratch("qwen2-" + dtype_name);
    rltf::save_decoder(half, hdir);
    const auto file = rltf::safetensors::File::open(hdir / "model.safetensors");
    CHECK((file.info("model.norm.weight").dtype ==
           (dtype == torch::kBFloat16 ? rltf::safetensors::Dtype::BF16 : rltf::safetensors::Dtype::F16)));
    auto f32 = rltf::load_decoder(hdir);
    torch::NoGradGuard no_grad;
    const auto ids = torch::tensor({{9707, 11, 1879, 0}}, torch::kInt64);
    const auto want = model->forward(ids);
    if (dtype == torch::kBFloat16)
      CHECK(torch::equal(f32->forward(ids), want)); // lossless
    else
      CHECK((f32->forward(ids) - want).abs().max().item<double>() < 1e-2); // F16 rounds BF16 values' tails
    // computing in BF16 itself stays near (HF's bf16 differs by ~0.1 per the fixture); LibTorch
    // 1.13 has no float16 matmul on the CPU (tests/torch/cuda.cpp runs float16 on a GPU)
    if (dtype == torch::kBFloat16)
      CHECK((half->forward(ids).to(torch::kFloat32) - want).abs().max().item<double>() < 0.5);
  }
}

TEST_CASE("DecoderModel: a sharded checkpoint (model.safetensors.index.json) loads like the single file") {
  const auto src = torch_decoder_test::model_dir("synthetic-llama");
  const auto dir = torch_decoder_test::scratch("llama-sharded");
  std::filesystem::copy_file(src / "config.json", dir / "config.json");
  const auto tensors = rltf::load_safetensors(src / "model.safetensors");
  std::vector<std::pair<std::string, torch::Tensor>> first, second;
  nlohmann::json index{{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
  for (const auto& [name, t] : tensors) {
    const bool one = name.find("layers.1.") == std::string::npos && name != "lm_head.weight";
    (one ? first : second).emplace_back(name, t);
    index["weight_map"][name] = one ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  rltf::save_safetensors(dir / "model-00001-of-00002.safetensors", first);
  rltf::save_safetensors(dir / "model-00002-of-00002.safetensors", second);
  std::ofstream(dir / "model.safetensors.index.json") << index.dump(2);
  auto sharded = rltf::load_decoder(dir);
  auto single = rltf::load_decoder(src);
  torch::NoGradGuard no_grad;
  const auto ids = torch::tensor({{1, 2, 3, 400, 500}}, torch::kInt64);
  CHECK(torch::equal(sharded->forward(ids), single->forward(ids)));
  // an index placing a tensor in a shard that lacks it names the shard and the tensor
  index["weight_map"]["lm_head.weight"] = "model-00001-of-00002.safetensors";
  std::ofstream(dir / "model.safetensors.index.json") << index.dump(2);
  const auto err = torch_decoder_test::load_error(dir);
  CHECK(err.find("lm_head.weight") != std::string::npos);
  CHECK(err.find("model-00001-of-00002.safetensors") != std::string::npos);
}

TEST_CASE("DecoderModel loading names the missing, unexpected or misshapen tensor, the dtype and the config field") {
  using namespace torch_decoder_test;
  auto keep = [](nlohmann::json&) {};
  auto same = [](std::map<std::string, torch::Tensor>&) {};
  {
    const auto dir =
        edited_copy("synthetic-llama", "missing", keep, [](auto& t) { t.erase("model.layers.1.mlp.up_proj.weight"); });
    const auto err = load_error(dir);
    CHECK(err.starts_with("model.layers.1.mlp.up_proj.weight | "));
    CHECK(err.find("model.safetensors") != std::string::npos);
    CHECK(err.find("missing tensor") != std::string::npos);
  }
  {
    const auto dir = edited_copy("synthetic-llama", "extra", keep,
                                 [](auto& t) { t["model.layers.0.self_attn.q_proj.bias"] = torch::zeros({64}); });
    CHECK(load_error(dir).starts_with("model.layers.0.self_attn.q_proj.bias | "));
    CHECK(load_error(dir).find("unexpected tensor") != std::string::npos);
  }
  {
    const auto dir = edited_copy("synthetic-qwen2", "shape", keep, [](auto& t) {
      t["model.layers.0.self_attn.k_proj.weight"] = torch::zeros({32, 32});
    });
    const auto err = load_error(dir);
    CHECK(err.starts_with("model.layers.0.self_attn.k_proj.weight | "));
    CHECK(err.find("[32, 32]") != std::string::npos);
    CHECK(err.find("[16, 32]") != std::string::npos);
  }
  {
    const auto dir = edited_copy(
        "synthetic-llama", "untied", [](auto& c) { c["tie_word_embeddings"] = true; }, same);
    CHECK(load_error(dir) == "no error"); // a tied config ignores a stored lm_head.weight, as HF does
    const auto dir2 = edited_copy(
        "synthetic-qwen2", "needs-head", [](auto& c) { c["tie_word_embeddings"] = false; }, same);
    CHECK(load_error(dir2).starts_with("lm_head.weight | "));
  }
  {
    const auto dir = edited_copy("synthetic-llama", "int-weights", keep,
                                 [](auto& t) { t["model.norm.weight"] = torch::ones({64}, torch::kInt32); });
    const auto err = load_error(dir);
    CHECK(err.starts_with("model.norm.weight | "));
    CHECK(err.find("I32") != std::string::npos);
  }
  {
    // a dtype the format does not know: the safetensors header parser names the tensor
    const auto dir = edited_copy("synthetic-llama", "unknown-dtype", keep, same);
    std::fstream f(dir / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto at = bytes.find("\"BF16\"");
    REQUIRE(at != std::string::npos);
    bytes.replace(at, 6, "\"XF16\"");
    f.seekp(0);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.close();
    const auto err = load_error(dir);
    CHECK(err.find("XF16") != std::string::npos);
    CHECK(err.find("model.safetensors") != std::string::npos);
  }
  const std::pair<const char*, std::function<void(nlohmann::json&)>> configs[] = {
      {"hidden_size", [](nlohmann::json& c) { c.erase("hidden_size"); }},
      {"num_hidden_layers", [](nlohmann::json& c) { c.erase("num_hidden_layers"); }},
      {"model_type", [](nlohmann::json& c) { c["model_type"] = "mamba"; }},
      {"architectures",
       [](nlohmann::json& c) {
         c.erase("model_type");
         c["architectures"] = {"GPTNeoXForCausalLM"};
       }},
      {"rope_scaling.low_freq_factor", [](nlohmann::json& c) { c["rope_scaling"].erase("low_freq_factor"); }},
      {"vocab_size", [](nlohmann::json& c) { c["vocab_size"] = "512"; }},
  };
  for (const auto& [field, edit] : configs) {
    CAPTURE(field);
    const auto dir = edited_copy("synthetic-llama", std::string("config-") + field, edit, same);
    const auto err = load_error(dir);
    CHECK(err.starts_with(std::string(field) + " | "));
    CHECK(err.find("config.json") != std::string::npos);
  }
  {
    const auto dir = edited_copy(
        "synthetic-llama", "rope-type", [](auto& c) { c["rope_scaling"]["rope_type"] = "yarn"; }, same);
    CHECK(load_error(dir).find("rope_scaling.rope_type 'yarn' is not supported") != std::string::npos);
  }
  {
    const auto dir = edited_copy(
        "synthetic-qwen2", "heads", [](auto& c) { c["num_key_value_heads"] = 3; }, same);
    CHECK(load_error(dir).find("num_key_value_heads") != std::string::npos);
  }
  {
    const auto dir = scratch("no-weights");
    std::filesystem::copy_file(model_dir("synthetic-llama") / "config.json", dir / "config.json");
    CHECK(load_error(dir).find("no model.safetensors or model.safetensors.index.json") != std::string::npos);
  }
}

TEST_CASE("CausalLMPolicy over a DecoderModel: generate, log_probs equal to generation, a training step, checkpoints") {
  const rltf::CharTokenizer tokenizer("abcdefghijklmnopqrstuvwxyz ()\n:");
  const rltf::DecoderConfig config = torch_test::small_qwen2(static_cast<std::int64_t>(tokenizer.vocab_size()));
  rltf::DecoderPolicy<rltf::CharTokenizer> policy(rltf::DecoderModel(config, 3), tokenizer, {.batch_size = 3});
  rltf::Rng rng = rltf::make_rng(5);
  const std::vector<std::string> prompts = {"def f(x):", "print"};
  const auto samples = policy.generate(prompts, {.max_new_tokens = 8, .temperature = 1.0F, .num_samples = 2}, rng);
  REQUIRE(samples.size() == 4);
  const torch::Tensor lp = policy.log_probs(samples);
  for (std::size_t i = 0; i < samples.size(); ++i)
    for (std::size_t t = 0; t < samples[i].tokens.size(); ++t)
      CHECK(lp[static_cast<std::int64_t>(i)][static_cast<std::int64_t>(t)].item<float>() ==
            doctest::Approx(samples[i].logprobs[t]).epsilon(1e-4));
  // one AdamW step on -Σ log π raises the samples' log-probability
  policy.train();
  policy.zero_grad();
  policy.backward(samples, -torch::ones_like(lp));
  CHECK(policy.step({.lr = 1e-2F}) > 0.0F);
  const double before = lp.sum().item<double>();
  const double after = policy.log_probs(samples).sum().item<double>();
  CHECK(after > before);
  // save_checkpoint → load_checkpoint continues bit for bit
  const auto dir = torch_decoder_test::scratch("policy");
  policy.save_checkpoint(dir);
  CHECK(std::filesystem::exists(dir / "generation_config.json"));
  rltf::DecoderPolicy<rltf::CharTokenizer> restored(rltf::DecoderModel(config, 99), tokenizer, {.batch_size = 3});
  restored.load_checkpoint(dir);
  restored.train();
  for (auto* p : {&policy, &restored}) {
    p->zero_grad();
    p->backward(samples, -torch::ones_like(lp));
    p->step({.lr = 1e-2F});
  }
  CHECK(torch::equal(policy.log_probs(samples), restored.log_probs(samples)));
}
