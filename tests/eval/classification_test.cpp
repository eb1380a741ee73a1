// Accuracy and ROC AUC (rltf/eval/classification.hpp) on cases worked by hand, ties included; and
// rltf::NgramRewardModel (rltf/eigen/ngram_reward_model.hpp) learning a labelling rule on MBPP's
// real reference programs: held-out accuracy and AUC, bit-for-bit determinism, save/load, errors.

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <rltf/data/mbpp.hpp>
#include <rltf/eigen/ngram_reward_model.hpp>
#include <rltf/eval/classification.hpp>

#include "../support/scratch.hpp"

TEST_CASE("roc_auc: worked examples, ties count one half, undefined with one class") {
  const bool labels[] = {false, false, true, true};
  const double scores[] = {0.1, 0.4, 0.35, 0.8};
  CHECK(rltf::roc_auc(scores, labels) == doctest::Approx(0.75)); // 3 of 4 (positive, negative) pairs ordered
  const double perfect[] = {0.0, 0.1, 0.9, 1.0};
  CHECK(rltf::roc_auc(perfect, labels) == 1.0);
  const double reversed[] = {1.0, 0.9, 0.1, 0.0};
  CHECK(rltf::roc_auc(reversed, labels) == 0.0);
  const double tied[] = {0.5, 0.5, 0.5, 0.5};
  CHECK(rltf::roc_auc(tied, labels) == 0.5);
  const double partly[] = {0.2, 0.5, 0.5, 0.9}; // pairs: (0.5 vs 0.2) 1, (0.5 vs 0.5) ½, (0.9 vs both) 2
  CHECK(rltf::roc_auc(partly, labels) == doctest::Approx(3.5 / 4.0));
  const bool one_class[] = {true, true};
  const double two[] = {0.1, 0.2};
  CHECK_THROWS_WITH_AS((void)rltf::roc_auc(two, one_class), doctest::Contains("needs both classes"),
                       rltf::invalid_argument);
  CHECK_THROWS_AS((void)rltf::roc_auc(scores, one_class), rltf::invalid_argument);
  CHECK(rltf::accuracy(scores, labels, 0.3) == doctest::Approx(0.75));
}

TEST_CASE("NgramRewardModel learns a labelling rule on MBPP's reference programs, deterministically") {
  const auto problems = rltf::data::load_mbpp(std::filesystem::path(RLTF_SOURCE_DIR) / "data" / "mbpp.jsonl");
  REQUIRE(problems.size() > 300);
  // the rule a judge might apply: a program that loops with `for` is rejected
  std::vector<rltf::LabelledExample> data;
  for (const auto& p : problems)
    for (const auto& s : p.solutions)
      data.push_back(rltf::LabelledExample{p.prompt, s, s.find("for ") == std::string::npos});
  const auto accepted = std::count_if(data.begin(), data.end(), [](const auto& e) { return e.accepted; });
  REQUIRE(accepted > 100);
  REQUIRE(static_cast<std::size_t>(accepted) < data.size() - 100);

  rltf::NgramRewardModel rm({.epochs = 150, .heldout_fraction = 0.25, .seed = 7});
  CHECK(rm.score("x", "def f(): pass") == 0.0F); // untrained: zero weights
  const rltf::RewardModelReport report = rm.train(data);
  CHECK(report.steps == 150);
  CHECK(report.heldout == data.size() / 4);
  CHECK(report.train_accuracy > 0.95);
  CHECK(report.heldout_accuracy > 0.9);
  CHECK(report.heldout_auc > 0.95);
  CHECK(rm.score("", "def f(xs):\n  for x in xs:\n    print(x)") < rm.score("", "def f(xs):\n  return sum(xs)"));

  // features: normalised, sorted, deterministic
  const auto f = rm.features("Write a function", "def f(a):\n  return a + 1\n");
  double norm = 0;
  for (const auto& [k, v] : f) norm += static_cast<double>(v) * v;
  CHECK(norm == doctest::Approx(1.0));

  // the same options and data give the same model, bit for bit
  rltf::NgramRewardModel again({.epochs = 150, .heldout_fraction = 0.25, .seed = 7});
  const auto report2 = again.train(data);
  CHECK(report2.final_loss == report.final_loss);
  for (std::size_t i = 0; i < data.size(); i += 37)
    CHECK(again.score(data[i].instruction, data[i].code) == rm.score(data[i].instruction, data[i].code));

  // save / load round trip, and errors naming the file
  const rltf_test::ScratchDir dir("ngram_rm");
  const auto path = dir.path / "rm.safetensors";
  rm.save(path);
  const auto loaded = rltf::NgramRewardModel::load(path);
  CHECK(loaded.options().epochs == 150);
  for (std::size_t i = 0; i < data.size(); i += 41)
    CHECK(loaded.score(data[i].instruction, data[i].code) == rm.score(data[i].instruction, data[i].code));
  rltf::NgramRewardModel small({.dimensions = 16});
  CHECK_THROWS_AS(small.train(std::span<const rltf::LabelledExample>{}), rltf::invalid_argument);
  const float one = 1.0F;
  const rltf::safetensors::TensorData t{"weights", rltf::safetensors::Dtype::F32, rltf::Shape{1},
                                        std::as_bytes(std::span<const float>(&one, 1))};
  rltf::safetensors::save(dir.path / "other.safetensors", std::span(&t, 1), {{"format", "pt"}});
  CHECK_THROWS_WITH_AS((void)rltf::NgramRewardModel::load(dir.path / "other.safetensors"),
                       doctest::Contains("other.safetensors: field '__metadata__.rltf_model': not an NgramRewardModel"),
                       rltf::parse_error);
}
