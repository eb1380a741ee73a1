#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "rltf/algo/grad.hpp"
#include "rltf/detail/random.hpp"
#include "rltf/eigen/backend.hpp"
#include "rltf/xtensor/backend.hpp"

namespace grad_test {

// A [2, 4] batch: row 0 has 4 tokens, row 1 has 2 (then padding).
const rltf::Shape shape{2, 4};
const std::vector<float> mask_values{1, 1, 1, 1, 1, 1, 0, 0};

std::vector<float> random_values(std::uint64_t seed, float lo, float hi) {
  auto rng = rltf::make_rng(seed);
  std::vector<float> v(8);
  for (auto& x : v) x = lo + (hi - lo) * static_cast<float>(rltf::detail::uniform01(rng));
  return v;
}

// Central differences of `loss` at `x`, compared with `grad` on every entry (0 on padding).
template <class B>
void check_against_finite_differences(const std::function<typename B::tensor(const typename B::tensor&)>& loss,
                                      const std::vector<float>& x, const typename B::tensor& grad) {
  const std::vector<float> g = B::values(grad);
  REQUIRE(g.size() == x.size());
  const float h = 1e-3F;
  for (std::size_t k = 0; k < x.size(); ++k) {
    auto plus = x;
    auto minus = x;
    plus[k] += h;
    minus[k] -= h;
    const float fd =
        (B::item(loss(B::from_values(plus, shape))) - B::item(loss(B::from_values(minus, shape)))) / (2.0F * h);
    CAPTURE(k);
    CHECK(g[k] == doctest::Approx(fd).epsilon(2e-3).scale(1.0));
    if (mask_values[k] == 0.0F) CHECK(g[k] == 0.0F);
  }
}

// Every aggregation (seq_mean_token_sum_norm with L = the width, 4).
inline constexpr rltf::algo::Reduction reductions[] = {
    rltf::algo::Reduction::token_mean, rltf::algo::Reduction::seq_mean_token_mean,
    rltf::algo::Reduction::seq_mean_token_sum, rltf::algo::Reduction::seq_mean_token_sum_norm};

} // namespace grad_test

TEST_CASE_TEMPLATE("grad: policy gradient and cross-entropy derivatives match finite differences", B,
                   rltf::EigenBackend, rltf::XtensorBackend) {
  using namespace grad_test;
  const auto logp_v = random_values(1, -3.0F, -0.1F);
  const auto logp = B::from_values(logp_v, shape);
  const auto rewards = B::from_values(random_values(2, -1.0F, 1.0F), shape);
  const auto mask = B::from_values(mask_values, shape);
  for (auto red : grad_test::reductions) {
    CAPTURE(static_cast<int>(red));
    const auto pg = rltf::algo::policy_gradient_loss_grad<B>(logp, rewards, mask, red);
    check_against_finite_differences<B>(
        [&](const typename B::tensor& x) { return rltf::algo::policy_gradient_loss<B>(x, rewards, mask, red); }, logp_v,
        pg.grad);
    const auto ce = rltf::algo::cross_entropy_grad<B>(logp, mask, red);
    check_against_finite_differences<B>(
        [&](const typename B::tensor& x) { return rltf::algo::cross_entropy<B>(x, mask, red); }, logp_v, ce.grad);
  }
  // Exact values by hand for the token mean: dL/dlogp = −r·m/6.
  const auto pg = rltf::algo::policy_gradient_loss_grad<B>(logp, rewards, mask);
  const auto r = B::values(rewards);
  const auto g = B::values(pg.grad);
  for (std::size_t k = 0; k < 8; ++k) CHECK(g[k] == doctest::Approx(-r[k] * mask_values[k] / 6.0F));
  double loss = 0.0;
  for (std::size_t k = 0; k < 8; ++k) loss -= r[k] * logp_v[k] * mask_values[k] / 6.0;
  CHECK(B::item(pg.loss) == doctest::Approx(loss));
  // Sequence mean: row 0 tokens weigh 1/(2·4), row 1 tokens 1/(2·2).
  const auto w = B::values(rltf::algo::reduction_weights<B>(mask, rltf::algo::Reduction::sequence_mean));
  CHECK(w == std::vector<float>{0.125F, 0.125F, 0.125F, 0.125F, 0.25F, 0.25F, 0.0F, 0.0F});
}

TEST_CASE_TEMPLATE("grad: clipped surrogate and KL derivatives match finite differences", B, rltf::EigenBackend,
                   rltf::XtensorBackend) {
  using namespace grad_test;
  const auto logp_v = random_values(3, -3.0F, -0.1F);
  auto old_v = logp_v;
  // Ratios exp(logp − old) spread over [0.6, 1.5], so some tokens are clipped on each side.
  const auto shifts = random_values(4, -0.5F, 0.4F);
  for (std::size_t k = 0; k < 8; ++k) old_v[k] -= shifts[k];
  const auto logp = B::from_values(logp_v, shape);
  const auto old = B::from_values(old_v, shape);
  const auto ref = B::from_values(random_values(5, -3.0F, -0.1F), shape);
  const auto adv = B::from_values(random_values(6, -1.5F, 1.5F), shape);
  const auto mask = B::from_values(mask_values, shape);
  std::size_t clipped_with_zero_slope = 0;
  for (auto red : grad_test::reductions) {
    const auto s = rltf::algo::clipped_surrogate_grad<B>(logp, old, adv, mask, 0.2F, red);
    check_against_finite_differences<B>(
        [&](const typename B::tensor& x) { return rltf::algo::ppo_policy_loss<B>(x, old, adv, mask, 0.2F, red); },
        logp_v, s.grad);
    const auto g = B::values(s.grad);
    for (std::size_t k = 0; k < 8; ++k) clipped_with_zero_slope += mask_values[k] != 0.0F && g[k] == 0.0F;
    for (auto est : {rltf::algo::KlEstimator::k1, rltf::algo::KlEstimator::k2, rltf::algo::KlEstimator::k3}) {
      const auto kl = rltf::algo::kl_penalty_grad<B>(logp, ref, mask, 0.3F, est, red);
      check_against_finite_differences<B>(
          [&](const typename B::tensor& x) {
            return B::mul(rltf::algo::reduce<B>(rltf::algo::kl<B>(x, ref, est), mask, red), 0.3F);
          },
          logp_v, kl.grad);
    }
    const rltf::algo::GrpoLossOptions options{.clip = 0.2F, .kl_coef = 0.04F, .reduction = red};
    const auto grpo = rltf::algo::grpo_loss_grad<B>(logp, old, ref, adv, mask, options);
    check_against_finite_differences<B>(
        [&](const typename B::tensor& x) {
          return B::add(
              rltf::algo::ppo_policy_loss<B>(x, old, adv, mask, 0.2F, red),
              B::mul(rltf::algo::reduce<B>(rltf::algo::kl<B>(x, ref, rltf::algo::KlEstimator::k3), mask, red), 0.04F));
        },
        logp_v, grpo.grad);
  }
  CHECK(clipped_with_zero_slope > 0); // the data exercises the clipped branch
}

TEST_CASE_TEMPLATE("grad: PPO's clipped value loss derivative matches finite differences", B, rltf::EigenBackend,
                   rltf::XtensorBackend) {
  using namespace grad_test;
  const auto values_v = random_values(11, -1.0F, 1.0F);
  auto old_v = values_v;
  // V − V_old spread over [−0.5, 0.5] around the clip range 0.2, so both branches occur.
  const auto moves = random_values(12, -0.5F, 0.5F);
  for (std::size_t k = 0; k < 8; ++k) old_v[k] -= moves[k];
  const auto values = B::from_values(values_v, shape);
  const auto old = B::from_values(old_v, shape);
  const auto returns = B::from_values(random_values(13, -1.5F, 1.5F), shape);
  const auto mask = B::from_values(mask_values, shape);
  std::size_t zero_slope = 0, clipped_slope = 0;
  for (auto red : grad_test::reductions) {
    const auto s = rltf::algo::clipped_value_loss_grad<B>(values, old, returns, mask, 0.2F, red);
    CHECK(B::item(s.loss) == B::item(rltf::algo::ppo_value_loss<B>(values, old, returns, mask, 0.2F, red)));
    check_against_finite_differences<B>(
        [&](const typename B::tensor& x) { return rltf::algo::ppo_value_loss<B>(x, old, returns, mask, 0.2F, red); },
        values_v, s.grad);
    const auto g = B::values(s.grad);
    for (std::size_t k = 0; k < 8; ++k) {
      if (mask_values[k] == 0.0F) continue;
      zero_slope += g[k] == 0.0F;
      clipped_slope += g[k] != 0.0F && std::abs(values_v[k] - old_v[k]) > 0.2F;
    }
  }
  CHECK(zero_slope > 0);    // the clipped term won outside the range
  CHECK(clipped_slope > 0); // the unclipped term won outside the range
}

TEST_CASE_TEMPLATE("grad: GRPO at the old policy is −A·w plus a zero KL slope at the reference", B, rltf::EigenBackend,
                   rltf::XtensorBackend) {
  using namespace grad_test;
  const auto logp_v = random_values(7, -2.0F, -0.2F);
  const auto logp = B::from_values(logp_v, shape);
  const auto adv_v = random_values(8, -1.0F, 1.0F);
  const auto adv = B::from_values(adv_v, shape);
  const auto mask = B::from_values(mask_values, shape);
  // π = π_old = π_ref: ρ = 1, and k3's slope 1 − e⁰ = 0.
  const auto out = rltf::algo::grpo_loss_grad<B>(logp, logp, logp, adv, mask, {});
  const auto g = B::values(out.grad);
  const std::vector<float> w{0.125F, 0.125F, 0.125F, 0.125F, 0.25F, 0.25F, 0.0F, 0.0F};
  for (std::size_t k = 0; k < 8; ++k) CHECK(g[k] == doctest::Approx(-adv_v[k] * w[k]));
  const auto sum =
      rltf::algo::policy_gradient_loss_grad<B>(logp, adv, mask) + 0.5F * rltf::algo::cross_entropy_grad<B>(logp, mask);
  const auto s = B::values(sum.grad);
  for (std::size_t k = 0; k < 8; ++k) CHECK(s[k] == doctest::Approx((-adv_v[k] - 0.5F) * mask_values[k] / 6.0F));
}
