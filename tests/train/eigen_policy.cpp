#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "rltf/algo/grad.hpp"
#include "rltf/algo/padded.hpp"
#include "rltf/detail/random.hpp"
#include "rltf/eigen/backend.hpp"
#include "rltf/eigen/policy.hpp"
#include "rltf/tokenize/char.hpp"
#include "rltf/train/trainable_policy.hpp"
#include "rltf/train/value_policy.hpp"
#include "rltf/xtensor/backend.hpp"

namespace eigen_policy_test {

rltf::CharTokenizer small_tokenizer() { return rltf::CharTokenizer("abcdx+= 0123456789\n"); }

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::path(RLTF_BINARY_DIR) / "test-tmp" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A supervised sample: prompt and target completion (with eos) as the policy tokenizes them.
template <class P>
rltf::Sample target(const P& policy, const std::string& prompt, const std::string& completion) {
  rltf::Sample s;
  s.prompt = prompt;
  s.prompt_tokens = policy.tokenizer().encode(prompt);
  s.tokens = policy.tokenizer().encode(completion);
  s.tokens.push_back(policy.tokenizer().eos_id());
  s.text = completion;
  return s;
}

template <class B>
std::vector<float> mask_of(std::span<const rltf::Sample> samples) {
  std::vector<std::size_t> lengths;
  std::size_t t_max = 0;
  for (const auto& s : samples) {
    lengths.push_back(s.tokens.size());
    t_max = std::max(t_max, s.tokens.size());
  }
  return B::values(rltf::algo::length_mask<B>(lengths, t_max));
}

// Central differences of `objective` in each parameter of `picks`, compared with `analytic`.
template <class Objective>
std::size_t check_central_differences(std::span<float> params, const std::vector<std::size_t>& picks,
                                      const std::vector<float>& analytic, Objective objective) {
  std::size_t checked = 0;
  for (const std::size_t k : picks) {
    const float saved = params[k];
    const float h = 1e-2F;
    params[k] = saved + h;
    const double plus = objective();
    params[k] = saved - h;
    const double minus = objective();
    params[k] = saved;
    const double fd = (plus - minus) / (2.0 * static_cast<double>(h));
    CAPTURE(k);
    CHECK(analytic[k] == doctest::Approx(fd).epsilon(2e-2).scale(0.1));
    ++checked;
  }
  return checked;
}

} // namespace eigen_policy_test

TEST_CASE_TEMPLATE("EigenPolicy: models Policy and TrainablePolicy on both CPU backends", B, rltf::EigenBackend,
                   rltf::XtensorBackend) {
  using P = rltf::EigenPolicy<rltf::CharTokenizer, B>;
  static_assert(rltf::assert_policy<P>());
  static_assert(rltf::assert_trainable_policy<P>());
  CHECK_THROWS_AS(P(eigen_policy_test::small_tokenizer(), {.context = 0}), rltf::invalid_argument);
}

TEST_CASE("EigenPolicy: seeded generation, stop conditions and logprobs equal to log_probs") {
  const rltf::EigenPolicy policy{eigen_policy_test::small_tokenizer(), {.context = 4, .hidden = 16, .seed = 3}};
  const std::vector<std::string> prompts{"a+b=", "cc"};
  auto r1 = rltf::make_rng(11);
  auto r2 = rltf::make_rng(11);
  const rltf::SamplingConfig cfg{.max_new_tokens = 12, .top_p = 0.9F, .num_samples = 3};
  const auto s1 = policy.generate(prompts, cfg, r1);
  const auto s2 = policy.generate(prompts, cfg, r2);
  REQUIRE(s1.size() == 6);
  for (std::size_t i = 0; i < s1.size(); ++i) {
    CHECK(s1[i].tokens == s2[i].tokens);
    CHECK(s1[i].logprobs == s2[i].logprobs);
    CHECK(s1[i].problem == i / 3);
    CHECK(s1[i].prompt == prompts[i / 3]);
    CHECK(s1[i].prompt_tokens == policy.tokenizer().encode(prompts[i / 3]));
    const bool ended = !s1[i].tokens.empty() && s1[i].tokens.back() == policy.tokenizer().eos_id();
    CHECK(s1[i].truncated == !ended);
    if (s1[i].truncated) CHECK(s1[i].tokens.size() == 12);
    CHECK(s1[i].text == policy.tokenizer().decode(s1[i].tokens)); // eos decodes to nothing
  }
  // The draws differ between samples of the same prompt.
  CHECK((s1[0].tokens != s1[1].tokens || s1[1].tokens != s1[2].tokens));
  // Sampling-time logprobs are the model's log π, equal to a fresh log_probs pass.
  const auto lp = rltf::EigenBackend::values(policy.log_probs(s1));
  const std::size_t t_max = lp.size() / s1.size();
  for (std::size_t i = 0; i < s1.size(); ++i)
    for (std::size_t t = 0; t < t_max; ++t) {
      if (t < s1[i].tokens.size())
        CHECK(lp[i * t_max + t] == doctest::Approx(s1[i].logprobs[t]).epsilon(1e-6));
      else
        CHECK(lp[i * t_max + t] == 0.0F);
    }
  // Greedy: the argmax at each step, identical whatever the RNG.
  auto r3 = rltf::make_rng(1);
  auto r4 = rltf::make_rng(2);
  const auto g1 = policy.generate(prompts, {.max_new_tokens = 12, .greedy = true}, r3);
  const auto g2 = policy.generate(prompts, {.max_new_tokens = 12, .greedy = true}, r4);
  CHECK(g1[0].tokens == g2[0].tokens);
  CHECK(g1[0].greedy);
  // Stop strings end generation after they appear, without marking the sample truncated.
  auto r5 = rltf::make_rng(5);
  const auto stopped = policy.generate(prompts, {.max_new_tokens = 40, .num_samples = 8, .stop = {"a"}}, r5);
  for (const auto& s : stopped) {
    const auto at = s.text.find('a');
    if (at != std::string::npos) {
      CHECK(at == s.text.size() - 1);
      CHECK_FALSE(s.truncated);
    }
  }
  CHECK_THROWS_AS((void)policy.generate(std::vector<std::string>{"?"}, cfg, r5), rltf::invalid_argument);
}

TEST_CASE_TEMPLATE("EigenPolicy: analytic gradients match finite differences", B, rltf::EigenBackend,
                   rltf::XtensorBackend) {
  rltf::EigenPolicy<rltf::CharTokenizer, B> policy{eigen_policy_test::small_tokenizer(),
                                                   {.context = 3, .hidden = 8, .prompt_buckets = 16, .seed = 5}};
  std::vector<rltf::Sample> samples{eigen_policy_test::target(policy, "a+b", "x1\n"),
                                    eigen_policy_test::target(policy, "cd=", "42 9"),
                                    eigen_policy_test::target(policy, "", "bb")};
  const auto lp = policy.log_probs(samples);
  const auto shape = B::shape(lp);
  REQUIRE(shape == rltf::Shape{3, 5});
  // dJ/dθ for J = Σ g·log π with a random g (zero on padding).
  auto rng = rltf::make_rng(17);
  const auto mask = eigen_policy_test::mask_of<B>(samples);
  std::vector<float> g(mask.size());
  for (std::size_t k = 0; k < g.size(); ++k)
    g[k] = mask[k] * static_cast<float>(rltf::detail::uniform01(rng) * 2.0 - 1.0);
  const auto gt = B::from_values(g, shape);
  policy.zero_grad();
  policy.backward(samples, gt);
  const std::vector<float> analytic(policy.gradient().begin(), policy.gradient().end());
  auto objective = [&]() {
    const auto v = B::values(policy.log_probs(samples));
    double j = 0.0;
    for (std::size_t k = 0; k < v.size(); ++k) j += static_cast<double>(g[k]) * v[k];
    return j;
  };
  // Every parameter with a sizeable gradient, plus a random selection of the rest.
  std::vector<std::size_t> picks;
  for (std::size_t k = 0; k < analytic.size(); ++k)
    if (std::abs(analytic[k]) > 0.02F) picks.push_back(k);
  CHECK(picks.size() > 40);
  for (int i = 0; i < 60; ++i) picks.push_back(rltf::detail::uniform_index(rng, analytic.size()));
  CHECK(eigen_policy_test::check_central_differences(policy.parameters(), picks, analytic, objective) == picks.size());
  // backward accumulates; zero_grad clears.
  policy.backward(samples, gt);
  CHECK(policy.gradient()[picks[0]] == doctest::Approx(2.0F * analytic[picks[0]]));
  policy.zero_grad();
  CHECK(std::all_of(policy.gradient().begin(), policy.gradient().end(), [](float x) { return x == 0.0F; }));
  CHECK_THROWS_AS(policy.backward(samples, B::from_values(std::vector<float>(3, 0.0F), rltf::Shape{1, 3})),
                  rltf::shape_error);
}

TEST_CASE_TEMPLATE("EigenPolicy: the value head's gradients match finite differences and the fused paths", B,
                   rltf::EigenBackend, rltf::XtensorBackend) {
  using P = rltf::EigenPolicy<rltf::CharTokenizer, B>;
  static_assert(rltf::assert_value_policy<P>());
  P plain{eigen_policy_test::small_tokenizer(), {.context = 3, .hidden = 8, .prompt_buckets = 16, .seed = 5}};
  P policy{eigen_policy_test::small_tokenizer(),
           {.context = 3, .hidden = 8, .prompt_buckets = 16, .seed = 5, .value_head = true}};
  REQUIRE(policy.num_parameters() == plain.num_parameters() + 8 + 1); // w_v and c_v
  std::vector<rltf::Sample> samples{eigen_policy_test::target(policy, "a+b", "x1\n"),
                                    eigen_policy_test::target(policy, "cd=", "42 9")};
  // The head starts at zero (V = 0) and the rest equals the plain model's initialisation.
  const auto v0 = B::values(policy.values(samples));
  CHECK(std::all_of(v0.begin(), v0.end(), [](float x) { return x == 0.0F; }));
  CHECK(B::values(policy.log_probs(samples)) == B::values(plain.log_probs(samples)));
  CHECK_THROWS_AS((void)plain.values(samples), rltf::invalid_argument);
  auto rng = rltf::make_rng(23);
  auto params = policy.parameters();
  const std::size_t head = params.size() - 9; // w_v (8) and c_v
  for (std::size_t k = head; k < params.size(); ++k)
    params[k] = static_cast<float>(rltf::detail::uniform01(rng) * 2.0 - 1.0);
  const auto mask = eigen_policy_test::mask_of<B>(samples);
  std::vector<float> g(mask.size()), gv(mask.size());
  for (std::size_t k = 0; k < g.size(); ++k) {
    g[k] = mask[k] * static_cast<float>(rltf::detail::uniform01(rng) * 2.0 - 1.0);
    gv[k] = mask[k] * static_cast<float>(rltf::detail::uniform01(rng) * 2.0 - 1.0);
  }
  const auto shape = B::shape(policy.log_probs(samples));
  const auto gt = B::from_values(g, shape), gvt = B::from_values(gv, shape);
  const auto pv = rltf::log_probs_and_values(policy, samples);
  CHECK(B::values(pv.log_probs) == B::values(policy.log_probs(samples)));
  CHECK(B::values(pv.values) == B::values(policy.values(samples)));
  // The fused backward equals the two separate ones.
  policy.zero_grad();
  policy.backward(samples, gt);
  policy.backward_values(samples, gvt);
  const std::vector<float> separate(policy.gradient().begin(), policy.gradient().end());
  policy.zero_grad();
  rltf::backward_with_values(policy, samples, pv, gt, gvt);
  const std::vector<float> analytic(policy.gradient().begin(), policy.gradient().end());
  for (std::size_t k = 0; k < analytic.size(); ++k) CHECK(analytic[k] == doctest::Approx(separate[k]).epsilon(1e-5));
  auto objective = [&]() {
    const auto lp = B::values(policy.log_probs(samples));
    const auto v = B::values(policy.values(samples));
    double j = 0.0;
    for (std::size_t k = 0; k < v.size(); ++k)
      j += static_cast<double>(g[k]) * lp[k] + static_cast<double>(gv[k]) * v[k];
    return j;
  };
  std::vector<std::size_t> picks;
  for (std::size_t k = 0; k < analytic.size(); ++k)
    if (std::abs(analytic[k]) > 0.02F) picks.push_back(k);
  for (std::size_t k = head; k < params.size(); ++k) picks.push_back(k);
  CHECK(picks.size() > 40);
  CHECK(eigen_policy_test::check_central_differences(params, picks, analytic, objective) == picks.size());
  // A checkpoint keeps the head; a plain model's checkpoint loads as a plain model.
  const auto dir = eigen_policy_test::temp_dir("eigen_value_head");
  policy.save_checkpoint(dir);
  P restored{eigen_policy_test::small_tokenizer(), {.context = 3, .hidden = 8, .prompt_buckets = 16, .seed = 9}};
  restored.load_checkpoint(dir);
  CHECK(restored.has_value_head());
  CHECK(B::values(restored.values(samples)) == B::values(policy.values(samples)));
}

TEST_CASE("EigenPolicy: learns a tiny program family by supervised steps (cross-entropy through grad.hpp)") {
  using B = rltf::EigenBackend;
  rltf::EigenPolicy policy{eigen_policy_test::small_tokenizer(), {.context = 6, .hidden = 32, .seed = 2}};
  // "x+N" → "x+N\n": the completion echoes the prompt's constant, which the model must read
  // from its prompt embedding.
  std::vector<rltf::Sample> data;
  for (int n = 0; n < 10; ++n)
    data.push_back(eigen_policy_test::target(policy, "a" + std::to_string(n) + "=", "x+" + std::to_string(n) + "\n"));
  const auto mask_v = eigen_policy_test::mask_of<B>(data);
  const auto lp0 = policy.log_probs(data);
  const auto mask = B::from_values(mask_v, B::shape(lp0));
  float first = 0.0F, last = 0.0F;
  for (int it = 0; it < 150; ++it) {
    const auto lg = rltf::algo::cross_entropy_grad<B>(policy.log_probs(data), mask);
    if (it == 0) first = B::item(lg.loss);
    last = B::item(lg.loss);
    policy.zero_grad();
    policy.backward(data, lg.grad);
    (void)policy.step({.lr = 0.03F});
  }
  CHECK(first > 1.5F);
  CHECK(last < 0.05F);
  CHECK(policy.optimizer_steps() == 150);
  std::vector<std::string> prompts;
  for (int n = 0; n < 10; ++n) prompts.push_back("a" + std::to_string(n) + "=");
  auto rng = rltf::make_rng(0);
  const auto out = policy.generate(prompts, {.max_new_tokens = 10, .greedy = true}, rng);
  for (int n = 0; n < 10; ++n) {
    CHECK(out[static_cast<std::size_t>(n)].text == "x+" + std::to_string(n) + "\n");
    CHECK_FALSE(out[static_cast<std::size_t>(n)].truncated);
  }
}

TEST_CASE("EigenPolicy: checkpoints restore parameters and optimiser state exactly") {
  using B = rltf::EigenBackend;
  const auto dir = eigen_policy_test::temp_dir("eigen_policy_ckpt");
  rltf::EigenPolicy a{eigen_policy_test::small_tokenizer(), {.context = 4, .hidden = 16, .seed = 9}};
  std::vector<rltf::Sample> data{eigen_policy_test::target(a, "ab", "x+1\n"), eigen_policy_test::target(a, "cd", "d")};
  const auto mask = B::from_values(eigen_policy_test::mask_of<B>(data), B::shape(a.log_probs(data)));
  auto train = [&](auto& p, int steps) {
    for (int i = 0; i < steps; ++i) {
      const auto lg = rltf::algo::cross_entropy_grad<B>(p.log_probs(data), mask);
      p.zero_grad();
      p.backward(data, lg.grad);
      (void)p.step({.lr = 0.01F, .weight_decay = 0.01F});
    }
  };
  train(a, 3);
  a.save_checkpoint(dir);
  CHECK(std::filesystem::exists(dir / "eigen_policy.bin"));
  CHECK_FALSE(std::filesystem::exists(dir / "eigen_policy.bin.tmp"));
  // A model with other options and weights becomes the saved one.
  rltf::EigenPolicy b{eigen_policy_test::small_tokenizer(), {.context = 2, .hidden = 5, .seed = 1}};
  b.load_checkpoint(dir);
  CHECK(b.options().context == 4);
  CHECK(b.optimizer_steps() == 3);
  REQUIRE(b.num_parameters() == a.num_parameters());
  CHECK(std::equal(a.parameters().begin(), a.parameters().end(), b.parameters().begin()));
  train(a, 4);
  train(b, 4);
  CHECK(std::equal(a.parameters().begin(), a.parameters().end(), b.parameters().begin())); // Adam moments restored
  // Bad files.
  rltf::EigenPolicy other_vocab{rltf::CharTokenizer("ab"), {}};
  CHECK_THROWS_AS(other_vocab.load_checkpoint(dir), rltf::parse_error);
  CHECK_THROWS_AS(b.load_checkpoint(dir / "missing"), rltf::io_error);
  {
    std::ifstream in(dir / "eigen_policy.bin", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream out(dir / "eigen_policy.bin", std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 7));
  }
  CHECK_THROWS_AS(b.load_checkpoint(dir), rltf::parse_error);
  CHECK(std::equal(a.parameters().begin(), a.parameters().end(), b.parameters().begin())); // unchanged on failure
}
