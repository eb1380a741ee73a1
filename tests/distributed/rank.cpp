// rltf-dist-rank: one rank of the data-parallel tests (tests/distributed/run.sh) and benchmark
// (docs/distributed.md). It reads torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, ...)
// or none (a single process).
//
//   rltf-dist-rank equality OUT STEPS [--plain-mean 1]
//                                         RltfObjective steps on fixed rollouts of unequal
//                                         lengths, rollout i on rank i % W; rank 0 writes the
//                                         parameters to OUT/params.bin
//   rltf-dist-rank train OUT STEPS [--die-at S --fault-rank R | --hang-at S --fault-rank R]
//                        [--samples N] [--problems N] [--tokens N] [--batch N] [--embd N] [--grpo 1]
//                                         RltfTrainer (GrpoTrainer) with a tiny GPT-2 and the real Python
//                                         executor; rank 0 writes OUT/params.bin and prints a
//                                         RESULT line of timings
//   rltf-dist-rank allreduce OUT MIB      Gloo all-reduce time of a MIB-MiB float32 gradient
//                                         (bucketed by GradientAllReducer), median of 10
//   rltf-dist-rank compare A B TOL        max |A − B| of two params.bin files, fails above TOL
//
// Common option: --timeout S (collective timeout, default 30).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include <rltf/core/rng.hpp>
#include <rltf/detail/random.hpp>
#include <rltf/exec/python_executor.hpp>
#include <rltf/feedback/rltf_feedback.hpp>
#include <rltf/tokenize/char.hpp>
#include <rltf/torch/distributed.hpp>
#include <rltf/torch/policy.hpp>
#include <rltf/train/grpo_trainer.hpp>
#include <rltf/train/rltf_trainer.hpp>

namespace {

using Policy = rltf::Gpt2Policy<rltf::CharTokenizer>;
double cpu_seconds();

struct Args {
  std::string mode;
  std::filesystem::path out;
  std::size_t steps = 4;
  double timeout_s = 30.0;
  long die_at = -1, hang_at = -1;
  std::size_t fault_rank = 1;
  std::size_t samples = 4, problems = 4, tokens = 24, batch = 8, embd = 32;
  bool grpo = false;       // train: GrpoTrainer instead of RltfTrainer
  bool plain_mean = false; // equality: average the ranks' gradients (the wrong normaliser, for run.sh)
};

Args parse(int argc, char** argv) {
  Args a;
  if (argc < 3) throw rltf::invalid_argument("usage: rltf-dist-rank equality|train|compare ...");
  a.mode = argv[1];
  a.out = argv[2];
  if (a.mode == "compare") return a;
  if (argc < 4) throw rltf::invalid_argument("usage: rltf-dist-rank " + a.mode + " OUT STEPS [options]");
  a.steps = std::stoul(argv[3]);
  for (int i = 4; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) throw rltf::invalid_argument(k + " needs a value");
    const std::string v = argv[++i];
    if (k == "--timeout")
      a.timeout_s = std::stod(v);
    else if (k == "--die-at")
      a.die_at = std::stol(v);
    else if (k == "--hang-at")
      a.hang_at = std::stol(v);
    else if (k == "--fault-rank")
      a.fault_rank = std::stoul(v);
    else if (k == "--samples")
      a.samples = std::stoul(v);
    else if (k == "--problems")
      a.problems = std::stoul(v);
    else if (k == "--tokens")
      a.tokens = std::stoul(v);
    else if (k == "--batch")
      a.batch = std::stoul(v);
    else if (k == "--embd")
      a.embd = std::stoul(v);
    else if (k == "--grpo")
      a.grpo = v == "1";
    else if (k == "--plain-mean")
      a.plain_mean = v == "1";
    else
      throw rltf::invalid_argument("unknown option " + k);
  }
  return a;
}

Policy tiny_policy(std::size_t embd) {
  auto tok = rltf::CharTokenizer::bytes();
  const auto eos = static_cast<rltf::token_id>(tok.eos_id());
  rltf::Gpt2Config c{.vocab_size = static_cast<std::int64_t>(tok.vocab_size()),
                     .n_positions = 256,
                     .n_embd = static_cast<std::int64_t>(embd),
                     .n_layer = 2,
                     .n_head = 4};
  c.bos_token_id = eos;
  c.eos_token_id = eos;
  return Policy(rltf::Gpt2Model(c, 7), std::move(tok));
}

void write_params(Policy& policy, const std::filesystem::path& file) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary);
  for (const auto& p : policy.parameters()) {
    const torch::Tensor t = p.detach().to(torch::kFloat32).contiguous();
    out.write(reinterpret_cast<const char*>(t.data_ptr<float>()),
              static_cast<std::streamsize>(t.numel() * static_cast<std::int64_t>(sizeof(float))));
  }
  if (!out) throw rltf::io_error("cannot write " + file.string());
}

std::vector<float> read_floats(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw rltf::io_error("cannot read " + file.string());
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> v(bytes.size() / sizeof(float));
  std::copy_n(bytes.data(), v.size() * sizeof(float), reinterpret_cast<char*>(v.data()));
  return v;
}

// Steps of RltfObjective on 12 fixed rollouts of lengths 3..25 (token-mean loss: the global
// token count matters), rollout i on rank i % W; the gradient share is what OnlineTrainer sets.
int equality(const Args& a) {
  const auto env = rltf::RankEnvironment::from_env();
  auto group = std::make_shared<rltf::ProcessGroup>(env, rltf::DistributedOptions{.timeout_s = a.timeout_s});
  Policy policy = tiny_policy(a.embd);
  const rltf::DataParallel dp = rltf::make_data_parallel(group, policy);
  rltf::Rng rng = rltf::make_rng(3);
  std::vector<rltf::Rollout> all;
  for (std::size_t i = 0; i < 12; ++i) {
    rltf::Rollout r;
    r.sample.prompt_tokens = {100, 101, static_cast<rltf::token_id>(i)};
    const std::size_t len = 3 + (i * 7) % 23;
    for (std::size_t t = 0; t < len; ++t) {
      r.sample.tokens.push_back(static_cast<rltf::token_id>(32 + rltf::detail::uniform_index(rng, 90)));
      r.weights.push_back(static_cast<float>(rltf::detail::uniform_index(rng, 200)) / 100.0F - 1.0F);
    }
    r.sample.logprobs.assign(len, -1.0F);
    all.push_back(std::move(r));
  }
  std::vector<rltf::Rollout> mine;
  for (std::size_t i = 0; i < all.size(); ++i)
    if (dp.owns(i)) mine.push_back(all[i]);
  rltf::RltfObjective objective(rltf::RltfLossOptions{.sl_coef = 0.0F});
  rltf::Rng learn_rng = rltf::make_rng(5);
  for (std::size_t step = 0; step < a.steps; ++step) {
    policy.zero_grad();
    if (dp.distributed() && !a.plain_mean) {
      double tokens = 0;
      for (const auto& r : mine) tokens += static_cast<double>(r.sample.tokens.size());
      dp.set_gradient_share(tokens / dp.summed({tokens})[0]);
    }
    const rltf::LossReport report = objective.learn(policy, mine, step, learn_rng);
    const float norm = policy.step(rltf::OptimizerOptions{.lr = 1e-2F, .max_grad_norm = 1.0F});
    if (dp.is_main()) std::cout << "step " << step + 1 << " loss(rank 0) " << report.loss << " norm " << norm << "\n";
  }
  if (dp.is_main()) write_params(policy, a.out / "params.bin");
  group->barrier();
  return 0;
}

std::vector<rltf::Problem> problems() {
  std::vector<rltf::Problem> out;
  for (int k = 0; k < 8; ++k) {
    rltf::Problem p;
    p.task_id = "add" + std::to_string(k);
    p.prompt = "def f(x):\n    return x + " + std::to_string(k) + "  # ";
    p.prompt_is_code = true;
    p.entry_point = "f";
    p.tests.tests.push_back({.code = "assert f(1) == " + std::to_string(1 + k)});
    p.tests.tests.push_back({.code = "assert f(2) == " + std::to_string(2 + k)});
    out.push_back(std::move(p));
  }
  return out;
}

template <class Trainer>
int run_trainer(const Args& a, Trainer& trainer, Policy& policy, rltf::ProcessGroup& group_ref,
                const rltf::DataParallel& dp, const std::shared_ptr<rltf::GradientAllReducer>& reducer);

int train(const Args& a) {
  const auto env = rltf::RankEnvironment::from_env();
  auto group = std::make_shared<rltf::ProcessGroup>(env, rltf::DistributedOptions{.timeout_s = a.timeout_s});
  torch::set_num_threads(1);
  Policy policy = tiny_policy(a.embd);
  std::shared_ptr<rltf::GradientAllReducer> reducer;
  const rltf::DataParallel dp = rltf::make_data_parallel(group, policy, &reducer);
  rltf::PythonExecutor executor(rltf::PythonExecutorOptions{.workers = 1});
  rltf::RltfOptions o;
  o.rollout.problems_per_round = a.problems;
  o.rollout.sampling.num_samples = a.samples;
  o.rollout.sampling.max_new_tokens = a.tokens;
  o.learner.steps = a.steps;
  o.learner.batch_size = a.batch;
  o.learner.optimizer.lr = 1e-3F;
  o.loss.sl_coef = 0.5F;
  o.loss.sl_batch_size = 2;
  o.run.seed = 11;
  o.run.output_dir = a.out / "run";
  o.run.checkpoint_every = 2;
  o.run.progress = rltf::ProgressMode::lines;
  if (a.grpo) {
    rltf::GrpoOptions g{o.rollout, o.learner, o.run, {}};
    g.rollout.greedy_baseline = false;
    // The frozen reference: the same initial weights (a separate LibTorch module).
    rltf::GrpoTrainer<Policy> trainer(policy, std::make_shared<Policy>(tiny_policy(a.embd)), executor,
                                      rltf::RltfFeedback{}, problems(), g);
    return run_trainer(a, trainer, policy, *group, dp, reducer);
  }
  rltf::RltfTrainer<Policy> trainer(policy, executor, rltf::RltfFeedback{}, problems(), o);
  return run_trainer(a, trainer, policy, *group, dp, reducer);
}

template <class Trainer>
int run_trainer(const Args& a, Trainer& trainer, Policy& policy, rltf::ProcessGroup& group_ref,
                const rltf::DataParallel& dp, const std::shared_ptr<rltf::GradientAllReducer>& reducer) {
  rltf::ProcessGroup* group = &group_ref;
  trainer.set_data_parallel(dp);
  double rollout_s = 0, step_s = 0, learn_s = 0;
  std::uint64_t samples = 0;
  std::size_t steps = 0;
  trainer.on_step([&](const rltf::StepMetrics& m) {
    const auto s = static_cast<long>(m.step);
    if (dp.rank == a.fault_rank && s == a.die_at) {
      std::cerr << "rltf-dist-rank: rank " << dp.rank << " dies at step " << s << " (test)\n";
      std::_Exit(3);
    }
    if (dp.rank == a.fault_rank && s == a.hang_at) {
      std::cerr << "rltf-dist-rank: rank " << dp.rank << " hangs at step " << s << " (test)\n";
      std::this_thread::sleep_for(std::chrono::hours(1));
    }
    rollout_s += m.generation_s + m.execution_s;
    learn_s += m.learning_s;
    step_s += m.step_s;
    samples += m.samples;
    ++steps;
  });
  const double comm0 = group->communication_seconds();
  const double cpu0 = cpu_seconds();
  const rltf::TrainSummary summary = trainer.train();
  if (dp.is_main()) {
    write_params(policy, a.out / "params.bin");
    const double grad_s = reducer ? reducer->seconds() : 0.0;
    nlohmann::json r{{"world_size", dp.world_size},
                     {"steps", steps},
                     {"resumed_from", summary.resumed_from},
                     {"samples", samples},
                     {"rollout_s", rollout_s},
                     {"learning_s", learn_s},
                     {"step_s", step_s},
                     {"samples_per_rollout_s", rollout_s > 0 ? static_cast<double>(samples) / rollout_s : 0.0},
                     {"step_s_mean", steps > 0 ? step_s / static_cast<double>(steps) : 0.0},
                     {"grad_allreduce_s", grad_s},
                     {"collectives_s", group->communication_seconds() - comm0},
                     {"rank0_cpu_s", cpu_seconds() - cpu0},
                     {"comm_share", step_s > 0 ? (group->communication_seconds() - comm0) / step_s : 0.0}};
    std::cout << "RESULT " << r.dump() << std::endl;
  }
  return 0;
}

int allreduce(const Args& a) {
  const auto env = rltf::RankEnvironment::from_env();
  auto group = std::make_shared<rltf::ProcessGroup>(env, rltf::DistributedOptions{.timeout_s = a.timeout_s});
  const auto n = static_cast<std::int64_t>(a.steps) * (1 << 20) / 4;
  std::vector<torch::Tensor> params{torch::zeros({n}, torch::requires_grad())};
  params[0].mutable_grad() = torch::ones({n});
  rltf::GradientAllReducer reducer(group);
  std::vector<double> times;
  for (int i = 0; i < 11; ++i) {
    group->barrier();
    const auto t0 = std::chrono::steady_clock::now();
    reducer(params);
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (i > 0) times.push_back(t);
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  if (group->rank() == 0)
    std::cout << "RESULT "
              << nlohmann::json{{"world_size", group->world_size()},
                                {"mib", a.steps},
                                {"median_s", median},
                                {"algbw_gib_s", static_cast<double>(a.steps) / 1024.0 / median}}
                     .dump()
              << std::endl;
  return 0;
}

/// CPU seconds of this process (its LibTorch work; the executor's worker processes are apart).
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

int compare(int argc, char** argv) {
  if (argc < 5) throw rltf::invalid_argument("usage: rltf-dist-rank compare A B TOL");
  const auto x = read_floats(argv[2]), y = read_floats(argv[3]);
  const double tol = std::stod(argv[4]);
  if (x.size() != y.size() || x.empty()) {
    std::cout << "FAIL: " << x.size() << " vs " << y.size() << " parameters\n";
    return 1;
  }
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    diff = std::max(diff, static_cast<double>(std::fabs(x[i] - y[i])));
    scale = std::max(scale, static_cast<double>(std::fabs(x[i])));
  }
  std::cout << (diff <= tol ? "PASS" : "FAIL") << ": max |diff| " << diff << " over " << x.size()
            << " parameters (max |param| " << scale << ", tolerance " << tol << ")\n";
  return diff <= tol ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 2 && std::string(argv[1]) == "compare") return compare(argc, argv);
    const Args a = parse(argc, argv);
    if (a.mode == "equality") return equality(a);
    if (a.mode == "train") return train(a);
    if (a.mode == "allreduce") return allreduce(a);
    throw rltf::invalid_argument("unknown mode '" + a.mode + "'");
  } catch (const std::exception& e) {
    std::cerr << "rltf-dist-rank: " << e.what() << std::endl;
    return 1;
  }
}
