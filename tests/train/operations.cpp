#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "rltf/algo/grad.hpp"
#include "rltf/train/checkpoint.hpp"
#include "rltf/train/evaluate.hpp"
#include "rltf/train/metrics.hpp"
#include "rltf/train/progress.hpp"
#include "rltf/train/sft.hpp"

#include "trainer_fixture.hpp"

TEST_CASE("progress: plain lines off a terminal, a live bar on one") {
  rltf::StepMetrics m;
  m.step = 5;
  m.total_steps = 20;
  m.loss = 0.25F;
  m.round = true;
  m.reward_mean = -0.5F;
  m.pass_rate = 0.125F;
  m.samples_per_s = 42.0;
  m.elapsed_s = 10.0;
  m.entropy = 0.85F;
  m.frac_zero_adv_groups = 0.25F;
  m.lr = 1e-3F;
  m.loss_parts = nlohmann::json{{"kl", 0.0012}};
  std::ostringstream lines_out;
  rltf::ProgressDisplay lines(rltf::ProgressMode::automatic, lines_out, 5, /*tty=*/0);
  CHECK(lines.mode() == rltf::ProgressMode::lines);
  lines.update(m);
  CHECK(lines_out.str() == "step  5/20 reward -0.500 pass 12.5% loss 0.2500 kl 0.0012 ent 0.85 adv0 25% lr 1.0e-03 "
                           "42.0 samples/s ETA 30s\n");
  std::ostringstream bar_out;
  rltf::ProgressDisplay bar(rltf::ProgressMode::automatic, bar_out, 1, /*tty=*/1);
  CHECK(bar.mode() == rltf::ProgressMode::bar);
  bar.update(m);
  CHECK(bar_out.str() == "\r\033[Kstep  5/20 [######..................]  25% reward -0.500 pass 12.5% loss 0.2500 kl "
                         "0.0012 ent 0.85 adv0 25% lr 1.0e-03 42.0 samples/s ETA 30s");
  m.step = 20;
  m.eval = nlohmann::json{{"heldout", 0.5}};
  bar.update(m); // the last step ends the bar's line
  CHECK(bar_out.str().back() == '\n');
  CHECK(bar_out.str().find("heldout 0.500") != std::string::npos);
  std::ostringstream off_out;
  rltf::ProgressDisplay off(rltf::ProgressMode::off, off_out);
  off.update(m);
  off.message("x");
  CHECK(off_out.str().empty());
  // Lines mode: only every log_every-th step (and the last, and evaluations).
  std::ostringstream every;
  rltf::ProgressDisplay sparse(rltf::ProgressMode::lines, every, 10);
  for (std::size_t s = 1; s <= 20; ++s) {
    rltf::StepMetrics k;
    k.step = s;
    k.total_steps = 20;
    sparse.update(k);
  }
  const std::string text = every.str();
  CHECK(std::count(text.begin(), text.end(), '\n') == 2);
}

TEST_CASE("metrics: JSONL records, cut back to a checkpoint's length, read without wall-clock figures") {
  const auto dir = trainer_test::fresh_dir("metrics_log");
  rltf::MetricsLog log;
  log.open(dir / "m.jsonl", 0);
  rltf::StepMetrics m;
  m.step = 1;
  m.elapsed_s = 3.5;
  log.append(m.to_json());
  const auto kept = log.bytes();
  m.step = 2;
  log.append(m.to_json());
  log.close();
  CHECK(std::filesystem::file_size(dir / "m.jsonl") > kept);
  // Resume: cut to the checkpoint's length and go on.
  rltf::MetricsLog again;
  again.open(dir / "m.jsonl", kept);
  m.step = 7;
  again.append(m.to_json());
  again.close();
  const auto records = rltf::read_metrics(dir / "m.jsonl");
  REQUIRE(records.size() == 2);
  CHECK(records[0]["step"] == 1);
  CHECK(records[1]["step"] == 7);
  CHECK_FALSE(records[0].contains("time"));
  CHECK_FALSE(records[0].contains("round")); // no rollout round in this step
  // A checkpoint that recorded more than the file holds is an error.
  rltf::MetricsLog bad;
  CHECK_THROWS_AS(bad.open(dir / "m.jsonl", 1U << 20), rltf::io_error);
  std::ofstream(dir / "broken.jsonl") << "{\"step\": 1}\n{oops\n";
  try {
    (void)rltf::read_metrics(dir / "broken.jsonl");
    FAIL("expected a parse_error");
  } catch (const rltf::parse_error& e) {
    CHECK(e.line() == 2);
  }
}

TEST_CASE("checkpoint: atomic directories, latest pointer, pruning, stale temporaries") {
  const auto root = trainer_test::fresh_dir("checkpoint_dirs") / "checkpoints";
  CHECK_FALSE(rltf::checkpoint::latest(root).has_value());
  CHECK(rltf::checkpoint::name(50) == "step-00000050");
  for (std::size_t step : {10, 20, 30}) {
    const auto tmp = rltf::checkpoint::begin(root, step);
    CHECK(tmp.filename() == rltf::checkpoint::name(step) + ".tmp");
    rltf::checkpoint::write_file_atomic(tmp / "state.txt", std::to_string(step));
    CHECK_FALSE(std::filesystem::exists(tmp / "state.txt.tmp"));
    (void)rltf::checkpoint::commit(root, step, 2);
    CHECK(rltf::checkpoint::latest(root).value().filename() == rltf::checkpoint::name(step));
  }
  CHECK_FALSE(std::filesystem::exists(root / "step-00000010")); // only the newest two are kept
  CHECK(std::filesystem::exists(root / "step-00000020"));
  CHECK(rltf::checkpoint::read_file(root / "step-00000030" / "state.txt") == "30");
  // A checkpoint a killed process never finished is ignored, and removed by the next one.
  std::filesystem::create_directories(root / "step-00000040.tmp");
  CHECK(rltf::checkpoint::latest(root).value().filename() == "step-00000030");
  (void)rltf::checkpoint::begin(root, 50);
  CHECK_FALSE(std::filesystem::exists(root / "step-00000040.tmp"));
  // A pointer to nothing is an error.
  rltf::checkpoint::write_file_atomic(root / "latest", "step-00000099\n");
  CHECK_THROWS_AS((void)rltf::checkpoint::latest(root), rltf::parse_error);
}

TEST_CASE("evaluate: unbiased pass@k and the report of a real policy") {
  CHECK(rltf::eval::pass_at_k(10, 3, 1) == doctest::Approx(0.3));
  CHECK(rltf::eval::pass_at_k(10, 3, 5) == doctest::Approx(1.0 - 21.0 / 252.0)); // 1 − C(7,5)/C(10,5)
  CHECK(rltf::eval::pass_at_k(10, 0, 5) == 0.0);
  CHECK(rltf::eval::pass_at_k(10, 8, 5) == 1.0);
  CHECK_THROWS_AS((void)rltf::eval::pass_at_k(3, 4, 1), rltf::invalid_argument);
  CHECK_THROWS_AS((void)rltf::eval::pass_at_k(3, 1, 4), rltf::invalid_argument);

  // A policy that has learnt the digit family by supervised steps passes it greedily.
  auto policy = trainer_test::make_policy(4);
  const auto problems = trainer_test::digit_problems();
  const auto targets = rltf::supervised_samples(policy.tokenizer(), std::span<const rltf::Problem>(problems));
  REQUIRE(targets.size() == 10);
  CHECK(targets[3].tokens.back() == policy.tokenizer().eos_id());
  CHECK(policy.tokenizer().decode(targets[3].tokens) == "3\n");
  rltf::SftOptions sft;
  sft.steps = 120;
  sft.batch_size = 10;
  sft.optimizer.lr = 0.03F;
  const auto losses = rltf::supervised_finetune(policy, targets, sft);
  REQUIRE(losses.size() == 120);
  CHECK(losses.front() > 1.0F);
  CHECK(losses.back() < 0.3F);
  rltf::EvalOptions e;
  e.num_samples = 4;
  e.sampling.max_new_tokens = 4;
  e.k = {1, 4};
  const auto report = rltf::evaluate(policy, trainer_test::executor(), problems, e);
  CHECK(report.problems == 10);
  CHECK(report.greedy_pass == 1.0);
  CHECK(report.greedy_completions[7] == "7\n");
  CHECK(report.pass_at_k.at(1) >= 0.5);
  CHECK(report.pass_at_k.at(4) >= report.pass_at_k.at(1));
  double manual = 0.0;
  for (auto c : report.correct) manual += static_cast<double>(c) / 4.0 / 10.0;
  CHECK(report.pass_at_k.at(1) == doctest::Approx(manual)); // pass@1 is the mean pass ratio
  CHECK(report.to_json()["pass_at_k"].contains("pass@4"));
  rltf::EvalOptions wrong;
  wrong.num_samples = 2;
  wrong.k = {5};
  CHECK_THROWS_AS((void)rltf::evaluate(policy, trainer_test::executor(), problems, wrong), rltf::invalid_argument);
}
