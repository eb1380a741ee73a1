#pragma once
// rltf::algo numerics checked against hand-computed values, on every backend. Invoked for Eigen
// and xtensor in algo_cases.cpp and for LibTorch in tests/torch/.

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "rltf/algo.hpp"
#include "rltf/algo/grad.hpp"
#include "rltf/core/error.hpp"

namespace rltf_algo_cases {

template <class B>
std::vector<float> vals(const typename B::tensor& t) {
  return B::values(t);
}

inline void require_approx(const std::vector<float>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("index " << i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-6));
  }
}

} // namespace rltf_algo_cases

TEST_CASE_TEMPLATE_DEFINE("rltf::algo numerics against hand-computed values", B, rltf_algo_cases) {
  using namespace rltf_algo_cases;
  namespace algo = rltf::algo;

  SUBCASE("policy-gradient loss, token mean and sequence mean") {
    const auto logp = B::from_values(std::vector<float>{-1, -2, 0, -0.5F, 0, 0}, {2, 3});
    const auto rewards = B::from_values(std::vector<float>{1, 2, 5, -1, 3, 3}, {2, 3});
    const auto mask = B::from_values(std::vector<float>{1, 1, 0, 1, 0, 0}, {2, 3});
    // Σ r·logp·m = −1 − 4 + 0.5 = −4.5 over 3 tokens.
    require_approx(vals<B>(algo::policy_gradient_loss<B>(logp, rewards, mask)), {1.5});
    // Row means −2.5 and 0.5, mean −1.
    require_approx(vals<B>(algo::policy_gradient_loss<B>(logp, rewards, mask, algo::Reduction::sequence_mean)), {1.0});
    require_approx(vals<B>(algo::masked_sequence_mean<B>(logp, mask)), {-1.5, -0.5});
    require_approx(vals<B>(algo::cross_entropy<B>(logp, mask)), {3.5 / 3.0});
  }

  SUBCASE("the four loss aggregations (verl loss_agg_mode) and their token weights") {
    const auto logp = B::from_values(std::vector<float>{-1, -2, 0, -0.5F, 0, 0}, {2, 3});
    const auto rewards = B::from_values(std::vector<float>{1, 2, 5, -1, 3, 3}, {2, 3});
    const auto mask = B::from_values(std::vector<float>{1, 1, 0, 1, 0, 0}, {2, 3});
    // r·logp·m per row: (−1, −4) and (0.5); row sums −5 and 0.5.
    using R = algo::Reduction;
    require_approx(vals<B>(algo::policy_gradient_loss<B>(logp, rewards, mask, R::seq_mean_token_mean)), {1.0});
    require_approx(vals<B>(algo::policy_gradient_loss<B>(logp, rewards, mask, R::seq_mean_token_sum)), {2.25});
    // Dr. GRPO: the row sums' mean over a constant L (0: the width, 3; here also L = 10).
    require_approx(vals<B>(algo::policy_gradient_loss<B>(logp, rewards, mask, R::seq_mean_token_sum_norm)), {0.75});
    require_approx(vals<B>(algo::policy_gradient_loss<B>(logp, rewards, mask, R::seq_mean_token_sum_norm, 10.0F)),
                   {0.225});
    require_approx(vals<B>(algo::reduction_weights<B>(mask, R::token_mean)), {1 / 3.0, 1 / 3.0, 0, 1 / 3.0, 0, 0});
    require_approx(vals<B>(algo::reduction_weights<B>(mask, R::seq_mean_token_mean)), {0.25, 0.25, 0, 0.5, 0, 0});
    require_approx(vals<B>(algo::reduction_weights<B>(mask, R::seq_mean_token_sum)), {0.5, 0.5, 0, 0.5, 0, 0});
    require_approx(vals<B>(algo::reduction_weights<B>(mask, R::seq_mean_token_sum_norm, 10.0F)),
                   {0.05, 0.05, 0, 0.05, 0, 0});
    const auto g = algo::policy_gradient_loss_grad<B>(logp, rewards, mask, R::seq_mean_token_sum_norm, 10.0F);
    require_approx(vals<B>(g.loss), {0.225});
    require_approx(vals<B>(g.grad), {-0.05, -0.1, 0, 0.05, 0, 0});
    // The clipped surrogate of the PPO case below summed per sequence: −1.2 + 1.6.
    const auto lp = B::from_values(std::vector<float>{0.0F, -1.0F}, {1, 2});
    const auto old = B::from_values(std::vector<float>{-0.5F, -0.5F}, {1, 2});
    const auto adv = B::from_values(std::vector<float>{1.0F, -2.0F}, {1, 2});
    const auto ones = B::full({1, 2}, 1.0F);
    require_approx(vals<B>(algo::ppo_policy_loss<B>(lp, old, adv, ones, 0.2F, R::seq_mean_token_sum)), {0.4});
    require_approx(vals<B>(algo::ppo_policy_loss<B>(lp, old, adv, ones, 0.2F, R::seq_mean_token_sum_norm, 4.0F)),
                   {0.1});
    CHECK_THROWS_AS((void)algo::reduce<B>(logp, mask, R::seq_mean_token_sum_norm, -1.0F), rltf::invalid_argument);
  }

  SUBCASE("GAE with right padding") {
    const auto r = B::from_values(std::vector<float>{1, 0, 2, 3, 9, 9}, {2, 3});
    const auto v = B::from_values(std::vector<float>{0.5F, 1, 1.5F, 2, 7, 7}, {2, 3});
    const auto m = B::from_values(std::vector<float>{1, 1, 1, 1, 0, 0}, {2, 3});
    const auto out = algo::gae<B>(r, v, m, {.gamma = 1.0F, .lambda = 0.5F});
    require_approx(vals<B>(out.advantages), {1.875, 0.75, 0.5, 1.0, 0.0, 0.0});
    require_approx(vals<B>(out.returns), {2.375, 1.75, 2.0, 3.0, 0.0, 0.0});
    const auto holes = B::from_values(std::vector<float>{1, 0, 1, 1, 0, 0}, {2, 3});
    CHECK_THROWS_AS((void)algo::gae<B>(r, v, holes), rltf::invalid_argument);
  }

  SUBCASE("whitening over the masked entries") {
    const auto x = B::from_values(std::vector<float>{1, 2, 3, 4}, {1, 4});
    require_approx(vals<B>(algo::whiten<B>(x, B::full({1, 4}, 1.0F))),
                   {-1.1618950003765403, -0.38729833345884673, 0.38729833345884673, 1.1618950003765403});
    const auto y = B::from_values(std::vector<float>{1, 2, 3, 100}, {1, 4});
    const auto m = B::from_values(std::vector<float>{1, 1, 1, 0}, {1, 4});
    require_approx(vals<B>(algo::whiten<B>(y, m)), {-1.0, 0.0, 1.0, 0.0});
    require_approx(vals<B>(algo::whiten<B>(y, m, false)), {1.0, 2.0, 3.0, 0.0});
  }

  SUBCASE("PPO clipped surrogate and clipped value loss") {
    const auto logp = B::from_values(std::vector<float>{0.0F, -1.0F}, {1, 2});
    const auto old = B::from_values(std::vector<float>{-0.5F, -0.5F}, {1, 2});
    const auto adv = B::from_values(std::vector<float>{1.0F, -2.0F}, {1, 2});
    const auto mask = B::full({1, 2}, 1.0F);
    // Token 0: ρ = e^0.5, clipped to 1.2 → −1.2. Token 1: ρ = e^−0.5, clipped to 0.8 → 1.6.
    require_approx(vals<B>(algo::ppo_policy_loss<B>(logp, old, adv, mask, 0.2F)), {0.2});
    CHECK(algo::ppo_clip_fraction<B>(logp, old, mask, 0.2F) == doctest::Approx(1.0));
    const auto v = B::from_values(std::vector<float>{1.0F, 2.0F}, {1, 2});
    const auto v_old = B::from_values(std::vector<float>{0.5F, 2.5F}, {1, 2});
    const auto ret = B::from_values(std::vector<float>{2.0F, 1.0F}, {1, 2});
    require_approx(vals<B>(algo::ppo_value_loss<B>(v, v_old, ret, mask, 0.2F)), {0.845});
  }

  SUBCASE("KL estimators k1, k2, k3") {
    const auto logp = B::from_values(std::vector<float>{-1.0F, -0.3F}, {2});
    const auto ref = B::from_values(std::vector<float>{-2.0F, -0.3F}, {2});
    require_approx(vals<B>(algo::kl<B>(logp, ref, algo::KlEstimator::k1)), {1.0, 0.0});
    require_approx(vals<B>(algo::kl<B>(logp, ref, algo::KlEstimator::k2)), {0.5, 0.0});
    require_approx(vals<B>(algo::kl<B>(logp, ref, algo::KlEstimator::k3)), {0.36787944117144233, 0.0});
  }

  SUBCASE("entropy and token log-probabilities") {
    const float ln3 = std::log(3.0F);
    const auto logits = B::from_values(std::vector<float>{0, 0, 0, ln3}, {1, 2, 2});
    require_approx(vals<B>(algo::entropy<B>(logits)), {std::log(2.0), 0.5623351446188083});
    const auto target = B::indices(std::vector<std::int64_t>{0, 1}, {1, 2});
    require_approx(vals<B>(algo::token_log_probs<B>(logits, target)), {std::log(0.5), -0.2876820724517809});
  }

  SUBCASE("padding ragged rows") {
    const auto p = algo::padded<B>({{1, 2, 3}, {4}, {}});
    CHECK(B::shape(p.values) == rltf::Shape{3, 3});
    require_approx(vals<B>(p.values), {1, 2, 3, 4, 0, 0, 0, 0, 0});
    require_approx(vals<B>(p.mask), {1, 1, 1, 1, 0, 0, 0, 0, 0});
    require_approx(vals<B>(algo::length_mask<B>({2, 0}, 3)), {1, 1, 0, 0, 0, 0});
    const std::vector<float> per_seq{2.0F, -1.0F, 5.0F};
    require_approx(vals<B>(algo::broadcast_over_tokens<B>(per_seq, p.mask)), {2, 2, 2, -1, 0, 0, 0, 0, 0});
  }

  SUBCASE("a wrong shape names the operation and both shapes") {
    const auto logp = B::full({2, 3}, 0.0F);
    const auto rewards = B::full({2, 4}, 1.0F);
    try {
      (void)algo::policy_gradient_loss<B>(logp, rewards, logp);
      FAIL("policy_gradient_loss accepted mismatched shapes");
    } catch (const rltf::shape_error& e) {
      const std::string what = e.what();
      CHECK(what.find("policy_gradient_loss") != std::string::npos);
      CHECK(what.find("[2, 3]") != std::string::npos);
      CHECK(what.find("[2, 4]") != std::string::npos);
    }
    CHECK_THROWS_AS((void)algo::ppo_policy_loss<B>(logp, rewards, logp, logp), rltf::shape_error);
    CHECK_THROWS_AS((void)algo::kl<B>(logp, rewards, algo::KlEstimator::k3), rltf::shape_error);
    CHECK_THROWS_AS((void)algo::gae<B>(logp, rewards, logp), rltf::shape_error);
  }
}
