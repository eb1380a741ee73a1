#include "algo_cases.hpp"

#include <rltf/eigen/backend.hpp>
#include <rltf/xtensor/backend.hpp>

TEST_CASE_TEMPLATE_INVOKE(rltf_algo_cases, rltf::EigenBackend, rltf::XtensorBackend);

TEST_CASE("group-normalised advantages (GRPO)") {
  const std::vector<float> rewards{1, 0, 0, 1, 1, 1};
  const auto adv = rltf::algo::group_normalized_advantages(rewards, 3);
  REQUIRE(adv.size() == 6);
  CHECK(adv[0] == doctest::Approx(1.1545005730142688).epsilon(1e-6));
  CHECK(adv[1] == doctest::Approx(-0.5772502865071344).epsilon(1e-6));
  CHECK(adv[2] == doctest::Approx(-0.5772502865071344).epsilon(1e-6));
  for (std::size_t i = 3; i < 6; ++i) CHECK(adv[i] == 0.0F); // a group with equal rewards carries no signal
  CHECK_THROWS_AS(rltf::algo::group_normalized_advantages(rewards, 4), rltf::invalid_argument);
  CHECK_THROWS_AS(rltf::algo::group_normalized_advantages(rewards, 0), rltf::invalid_argument);
}

TEST_CASE("group advantage estimators: GRPO, Dr. GRPO (centred), RLOO (leave-one-out)") {
  namespace algo = rltf::algo;
  const std::vector<float> rewards{1, 0, 0, 1, 1, 1};
  const auto grpo = algo::group_advantages(rewards, 3, algo::AdvantageEstimator::grpo);
  CHECK(grpo == algo::group_normalized_advantages(rewards, 3));
  // Dr. GRPO: r − mean, mean 1/3 in the first group.
  const auto dr = algo::group_advantages(rewards, 3, algo::AdvantageEstimator::dr_grpo);
  const std::vector<double> dr_want{2.0 / 3.0, -1.0 / 3.0, -1.0 / 3.0, 0, 0, 0};
  // RLOO: r_i − (Σ_j r_j − r_i)/(G − 1): 1 − 0, 0 − 1/2, 0 − 1/2; equal rewards give 0.
  const auto rloo = algo::group_advantages(rewards, 3, algo::AdvantageEstimator::rloo);
  const std::vector<double> rloo_want{1.0, -0.5, -0.5, 0, 0, 0};
  for (std::size_t i = 0; i < 6; ++i) {
    CHECK(dr[i] == doctest::Approx(dr_want[i]).epsilon(1e-6));
    CHECK(rloo[i] == doctest::Approx(rloo_want[i]).epsilon(1e-6));
  }
  // RLOO = G/(G−1) × the centred advantage; a group of one keeps its reward (as verl).
  const std::vector<float> four{2, 0, 1, 1};
  const auto r4 = algo::group_advantages(four, 4, algo::AdvantageEstimator::rloo);
  CHECK(r4[0] == doctest::Approx(2.0 - 2.0 / 3.0));
  CHECK(r4[1] == doctest::Approx(0.0 - 4.0 / 3.0));
  CHECK(algo::group_advantages(std::vector<float>{3}, 1, algo::AdvantageEstimator::rloo)[0] == 3.0F);
  CHECK_THROWS_AS(algo::group_advantages(rewards, 4, algo::AdvantageEstimator::rloo), rltf::invalid_argument);
  CHECK(algo::zero_std_group(std::vector<float>{1, 1, 1}));
  CHECK_FALSE(algo::zero_std_group(std::vector<float>{1, 0, 1}));
  CHECK(algo::advantage_estimator_from_string("rloo") == algo::AdvantageEstimator::rloo);
  CHECK(algo::to_string(algo::AdvantageEstimator::dr_grpo) == "dr_grpo");
  CHECK_FALSE(algo::advantage_estimator_from_string("ppo").has_value());
  CHECK(algo::reduction_from_string("sequence_mean") == algo::Reduction::seq_mean_token_mean);
  CHECK(algo::reduction_from_string("seq_mean_token_sum_norm") == algo::Reduction::seq_mean_token_sum_norm);
  CHECK(algo::to_string(algo::Reduction::sequence_mean) == "seq_mean_token_mean");
}

TEST_CASE("adaptive KL coefficient") {
  rltf::algo::KlController fixed({.initial = 0.1F});
  fixed.update(100.0F, 10.0F);
  CHECK(fixed.beta() == doctest::Approx(0.1));
  rltf::algo::KlController adaptive({.initial = 0.1F, .adaptive = true, .target = 1.0F, .horizon = 100.0F});
  adaptive.update(2.0F, 10.0F); // e = clip(2/1 − 1, ±0.2) = 0.2
  CHECK(adaptive.beta() == doctest::Approx(0.102));
  adaptive.update(0.5F, 10.0F); // e = −0.5 → −0.2
  CHECK(adaptive.beta() == doctest::Approx(0.102 * 0.98));
}
