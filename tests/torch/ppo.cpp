// PPO on LibTorch (rltf/train/ppo_trainer.hpp): the closed-form value-loss gradient equals
// autograd's; CausalLMPolicy's value head as a rltf::ValuePolicy (fused and separate backward
// agree); PPO with LoRA trains the adapters and the value head against the shared frozen base,
// and resumes exactly from its checkpoint.
#include <doctest/doctest.h>

#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "rltf/algo/grad.hpp"
#include "rltf/exec/python_executor.hpp"
#include "rltf/feedback/coarse.hpp"
#include "rltf/tokenize/char.hpp"
#include "rltf/torch/backend.hpp"
#include "rltf/torch/lora.hpp"
#include "rltf/torch/policy.hpp"
#include "rltf/train/metrics.hpp"
#include "rltf/train/ppo_trainer.hpp"

#include "small_models.hpp"

namespace torch_ppo_test {

using Policy = rltf::Gpt2Policy<rltf::CharTokenizer>;

inline rltf::CharTokenizer tokenizer() { return rltf::CharTokenizer("0123456789abcdefnrtux ()\n:="); }

inline Policy value_policy(std::uint64_t seed) {
  rltf::Gpt2Config config{.n_positions = 64, .n_embd = 32, .n_layer = 2, .n_head = 4};
  config.vocab_size = static_cast<std::int64_t>(tokenizer().vocab_size());
  config.value_head = true;
  return Policy(rltf::Gpt2Model(config, seed), tokenizer());
}

inline std::vector<rltf::Problem> problems() { return torch_test::digit_problems(3); }

inline std::filesystem::path fresh(const std::string& name) {
  auto dir = std::filesystem::path(RLTF_BINARY_DIR) / "test-tmp" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline rltf::PpoOptions options(const std::filesystem::path& dir, std::size_t steps) {
  rltf::PpoOptions o;
  o.rollout.problems_per_round = 3;
  o.rollout.sampling.num_samples = 2;
  o.rollout.sampling.max_new_tokens = 4;
  o.rollout.round_every = 2; // 6 samples, minibatches of 3: one epoch of 2
  o.learner.steps = steps;
  o.learner.batch_size = 3;
  o.learner.optimizer.lr = 1e-2F;
  o.run = {.seed = 4, .output_dir = dir, .checkpoint_every = 2, .progress = rltf::ProgressMode::off};
  return o;
}

} // namespace torch_ppo_test

TEST_CASE("PPO on LibTorch: the clipped value loss's closed-form gradient equals autograd's") {
  using B = rltf::TorchBackend;
  torch::manual_seed(3);
  const torch::Tensor values = torch::randn({3, 5}, torch::kFloat32).requires_grad_(true);
  const torch::Tensor old = values.detach() - 0.5 * torch::rand({3, 5}) + 0.25; // moves within and beyond ±0.2
  const torch::Tensor returns = torch::randn({3, 5});
  const torch::Tensor mask = torch::tensor({{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}, {1, 0, 0, 0, 0}}, torch::kFloat32);
  for (auto red : {rltf::algo::Reduction::token_mean, rltf::algo::Reduction::seq_mean_token_mean,
                   rltf::algo::Reduction::seq_mean_token_sum}) {
    const auto closed = rltf::algo::clipped_value_loss_grad<B>(values, old, returns, mask, 0.2F, red);
    const torch::Tensor loss = rltf::algo::ppo_value_loss<B>(values, old, returns, mask, 0.2F, red);
    const torch::Tensor grad = torch::autograd::grad({loss}, {values})[0];
    CHECK(torch::allclose(closed.grad, grad, 1e-6, 1e-7));
    CHECK(closed.loss.item<float>() == loss.item<float>());
  }
}

TEST_CASE("PPO on LibTorch: CausalLMPolicy's value head is a ValuePolicy; the fused backward equals the separate") {
  using namespace torch_ppo_test;
  static_assert(rltf::assert_value_policy<Policy>());
  auto policy = value_policy(2);
  REQUIRE(policy.has_value_head());
  rltf::Rng rng = rltf::make_rng(1);
  const std::vector<std::string> prompts = {"def f():\n    return ", "x = "};
  const auto samples = policy.generate(prompts, {.max_new_tokens = 5, .num_samples = 2}, rng);
  const auto pv = rltf::log_probs_and_values(policy, samples);
  CHECK(torch::allclose(pv.log_probs, policy.log_probs(samples)));
  CHECK(torch::allclose(pv.values, policy.values(samples)));
  const torch::Tensor g_lp = torch::randn(pv.log_probs.sizes()) * (pv.log_probs != 0);
  const torch::Tensor g_v = torch::randn(pv.values.sizes());
  auto grads = [&] {
    std::vector<torch::Tensor> out;
    for (const auto& p : policy.parameters())
      out.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    return out;
  };
  policy.zero_grad();
  rltf::backward_with_values(policy, samples, pv, g_lp, g_v);
  const auto fused = grads();
  policy.zero_grad();
  policy.backward(samples, g_lp);
  policy.backward_values(samples, g_v);
  const auto separate = grads();
  for (std::size_t i = 0; i < fused.size(); ++i) CHECK(torch::allclose(fused[i], separate[i], 1e-5, 1e-6));
  CHECK_THROWS_AS(policy.backward_values(samples, torch::zeros({1, 1})), rltf::shape_error);
}

TEST_CASE("PPO on LibTorch: LoRA trains the adapters and the value head, the base stays, and a resume is exact") {
  using namespace torch_ppo_test;
  rltf::PythonExecutor executor{rltf::PythonExecutorOptions{.python = RLTF_PYTHON, .workers = 1}};
  const auto a_dir = fresh("torch_ppo_a"), b_dir = fresh("torch_ppo_b");
  std::vector<torch::Tensor> base;
  torch::Tensor head_before;
  {
    auto policy = value_policy(5);
    policy.add_lora({.r = 2});
    for (const auto& [name, p] : policy.model()->named_parameters().pairs())
      if (name.rfind("v_head.", 0) != 0) base.push_back(p.detach().clone());
    head_before = policy.model()->named_parameters()["v_head.summary.weight"].detach().clone();
    rltf::PpoTrainer trainer{policy, executor, rltf::Coarse{}, problems(), options(a_dir, 4)};
    REQUIRE(trainer.objective().reference() != nullptr);
    CHECK(trainer.objective().reference()->is_frozen_reference());
    (void)trainer.train();
    std::size_t i = 0;
    for (const auto& [name, p] : policy.model()->named_parameters().pairs())
      if (name.rfind("v_head.", 0) != 0) CHECK(torch::equal(p, base[i++]));
    CHECK_FALSE(torch::equal(policy.model()->named_parameters()["v_head.summary.weight"], head_before));
  }
  CHECK(std::filesystem::exists(a_dir / "checkpoints" / "step-00000004" / "policy" / "value_head.safetensors"));
  {
    auto policy = value_policy(5);
    policy.add_lora({.r = 2});
    rltf::PpoTrainer trainer{policy, executor, rltf::Coarse{}, problems(), options(b_dir, 2)};
    (void)trainer.train();
  }
  {
    auto policy = value_policy(5); // the same base: LoRA checkpoints hold only what trains
    policy.add_lora({.r = 2});
    rltf::PpoTrainer trainer{policy, executor, rltf::Coarse{}, problems(), options(b_dir, 4)};
    CHECK(trainer.train().resumed_from == 2);
  }
  const auto a = rltf::read_metrics(a_dir / "metrics.jsonl");
  const auto b = rltf::read_metrics(b_dir / "metrics.jsonl");
  REQUIRE(a.size() == 4);
  REQUIRE(b.size() == 4);
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i].dump() == b[i].dump());
}
