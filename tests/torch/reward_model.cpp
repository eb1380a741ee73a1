// CausalLMRewardModel (rltf/torch/reward_model.hpp) on a small Qwen2 backbone: binary
// cross-entropy on labels and Bradley–Terry on pairs both learn a rule that tells accepted from
// rejected code on held-out examples; scores survive save/load as a sequence-classification
// checkpoint; a backbone without a head is refused.

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <rltf/core/rng.hpp>
#include <rltf/tokenize/char.hpp>
#include <rltf/torch/decoder.hpp>
#include <rltf/torch/reward_model.hpp>

#include "small_models.hpp"

namespace torch_rm_test {

inline rltf::DecoderConfig config(std::int64_t vocab) {
  auto c = torch_test::small_qwen2(vocab, 64, 128);
  c.reward_head = true;
  return c;
}

/// "return x + N" is accepted, "return x - N" rejected: the rule sits in one token.
inline std::string program(bool good, int n) {
  return "def f(x):\n    return x " + std::string(good ? "+" : "-") + " " + std::to_string(n) + "\n";
}

using Model = rltf::CausalLMRewardModel<rltf::DecoderModel, rltf::CharTokenizer>;
static_assert(rltf::TrainableRewardModel<Model>);

} // namespace torch_rm_test

using namespace torch_rm_test;

TEST_CASE("CausalLMRewardModel: BCE on labels learns a held-out rule; scores survive a sequence-classification save") {
  const rltf::CharTokenizer tokenizer("abcdefghijklmnopqrstuvwxyz0123456789 ()\n:+-=");
  const auto vocab = static_cast<std::int64_t>(tokenizer.vocab_size());
  std::vector<rltf::LabelledExample> data;
  rltf::Rng rng = rltf::make_rng(3);
  for (int i = 0; i < 80; ++i) {
    const bool good = i % 2 == 0;
    data.push_back({"add or subtract", program(good, static_cast<int>(rng() % 100)), good});
  }
  Model rm(rltf::DecoderModel(config(vocab), 1), tokenizer,
           {.epochs = 6, .batch_size = 8, .optimizer = {.lr = 3e-3F}, .heldout_fraction = 0.25, .seed = 2});
  const rltf::RewardModelReport report = rm.train(data);
  CHECK(report.heldout == 20);
  CHECK(report.steps == 6 * 8);
  CHECK(report.train_accuracy >= 0.9);
  CHECK(report.heldout_accuracy >= 0.9);
  CHECK(report.heldout_auc >= 0.95);
  CHECK(rm.score("add or subtract", program(true, 7)) > rm.score("add or subtract", program(false, 7)));

  const auto dir = std::filesystem::path(RLTF_BINARY_DIR) / "torch_rm_test" / "bce";
  std::filesystem::remove_all(dir);
  rm.save(dir);
  const auto cfg = nlohmann::json::parse(std::ifstream(dir / "config.json"));
  CHECK(cfg["architectures"][0] == "Qwen2ForSequenceClassification");
  Model again(rltf::load_decoder(dir), tokenizer);
  for (int n : {3, 42, 99})
    CHECK(again.score("add or subtract", program(n % 2 == 0, n)) ==
          doctest::Approx(rm.score("add or subtract", program(n % 2 == 0, n))).epsilon(1e-6));

  auto plain = config(vocab);
  plain.reward_head = false;
  CHECK_THROWS_WITH_AS(Model(rltf::DecoderModel(plain, 1), tokenizer), doctest::Contains("has no reward head"),
                       rltf::invalid_argument);
  CHECK_THROWS_AS(rm.train(std::span<const rltf::LabelledExample>{}), rltf::invalid_argument);
}

TEST_CASE("CausalLMRewardModel: Bradley–Terry on preference pairs ranks held-out pairs the right way") {
  const rltf::CharTokenizer tokenizer("abcdefghijklmnopqrstuvwxyz0123456789 ()\n:+-=");
  std::vector<rltf::PreferencePair> pairs;
  rltf::Rng rng = rltf::make_rng(4);
  for (int i = 0; i < 48; ++i) {
    const int n = static_cast<int>(rng() % 100);
    pairs.push_back({"add", program(true, n), program(false, (n * 7) % 100)});
  }
  Model rm(rltf::DecoderModel(config(static_cast<std::int64_t>(tokenizer.vocab_size())), 5), tokenizer,
           {.epochs = 5, .batch_size = 8, .optimizer = {.lr = 3e-3F}, .heldout_fraction = 0.25, .seed = 1});
  const auto before = rm.score("add", program(true, 5)) - rm.score("add", program(false, 5));
  const rltf::RewardModelReport report = rm.train_pairs(pairs);
  CHECK(report.heldout == 12);
  CHECK(report.heldout_accuracy >= 0.9);
  CHECK(report.final_loss < std::log(2.0));
  CHECK(rm.score("add", program(true, 5)) - rm.score("add", program(false, 5)) > before);
}
