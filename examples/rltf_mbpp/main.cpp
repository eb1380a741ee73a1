// rltf-mbpp: RLTF on MBPP's training split with any GPT-2-family checkpoint.
//
// The MBPP paper's split: task_id 601–974 train, 511–600 validation, 11–510 test. The policy is a
// Hugging Face GPT-2-family checkpoint (config.json + model.safetensors, e.g. codeparrot-small)
// and its tokenizer; RLTF samples programs for training tasks, runs them against the tasks' asserts
// with the Python executor, rewards them (adaptive + fine-grained), and learns with the supervised
// term on the reference programs. Greedy pass@1 on the validation split is reported before and
// after; the final weights are saved in Hugging Face's layout.
//
//   rltf-mbpp --model DIR [--tokenizer DIR] [--data FILE] [--out DIR] [--steps N] [--lr X]
//             [--problems-per-round N] [--num-samples N] [--batch-size N] [--max-new-tokens N]
//             [--eval-problems N] [--no-tests-in-prompt] [--device cpu|cuda[:i]] [--seed N]
//             [--checkpoint-every N] [--progress auto|bar|lines|off] [--config FILE]
//             [--dist-timeout S]
//
// Data-parallel (docs/distributed.md): `torchrun --no-python --nproc-per-node N rltf-mbpp ...`;
// each rank samples and executes its share of every round's tasks with its own executor (the
// node's cores divided among its ranks), gradients are all-reduced, the validation tasks are
// split over the ranks, and rank 0 writes the output folder (which every rank must see).
//
// <out>/config.json records every option's effective value (--config reads it back).
//
// Defaults are the paper's (lr 2e-6, top-p 0.95, temperature 1, ≤ 512 new tokens, 20 samples per
// problem plus a greedy baseline); tasks whose prompt leaves no room for the completion within the
// model's context are skipped (and counted).

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <rltf/core/error.hpp>
#include <rltf/data/mbpp.hpp>
#include <rltf/detail/atomic_file.hpp>
#include <rltf/exec/python_executor.hpp>
#include <rltf/feedback/rltf_feedback.hpp>
#include <rltf/tokenize/gpt2.hpp>
#include <rltf/torch/distributed.hpp>
#include <rltf/torch/policy.hpp>
#include <rltf/train/evaluate.hpp>
#include <rltf/train/ppo_trainer.hpp>
#include <rltf/train/rltf_trainer.hpp>
#include <rltf_programs/options.hpp>

namespace {

/// Gpt2Policy that back-propagates through the graph of the log-probabilities it just computed.
class Policy : public rltf::Gpt2Policy<rltf::Gpt2Tokenizer> {
public:
  using Gpt2Policy::backward;
  using Gpt2Policy::Gpt2Policy;
  void backward(std::span<const rltf::Sample>, const torch::Tensor& logp, const torch::Tensor& grad) {
    torch::autograd::backward({logp}, {grad.detach().to(logp.device(), logp.scalar_type())});
  }
};

struct Args {
  std::filesystem::path model, tokenizer, out = "rltf-mbpp-out";
  std::filesystem::path data = std::filesystem::path(RLTF_SOURCE_DIR) / "data" / "mbpp.jsonl";
  std::size_t steps = 1000, problems_per_round = 8, num_samples = 20, batch_size = 32, max_new_tokens = 512;
  std::size_t eval_problems = 90, checkpoint_every = 50;
  float lr = 2e-6F;
  double dist_timeout = 1800.0;
  std::size_t lora_rank = 0; ///< 0: full fine-tuning
  double lora_alpha = 0.0;   ///< 0: twice the rank
  std::vector<std::string> lora_targets;
  bool no_tests_in_prompt = false;
  std::string trainer = "rltf";
  std::string device = "cpu";
  std::uint64_t seed = 0;
  rltf::ProgressMode progress = rltf::ProgressMode::automatic;
};

constexpr std::pair<std::string_view, std::string_view> trainers[] = {{"rltf", "rltf"}, {"ppo", "ppo"}};

void define(rltf::programs::Cli& cli, Args& a) {
  cli.model(a.model, "Hugging Face GPT-2-family checkpoint folder (config.json + model.safetensors)")->required();
  cli.tokenizer(a.tokenizer, "tokenizer folder (default: the model's)");
  cli.text("--data", a.data, "MBPP's JSON Lines file", "FILE");
  cli.out(a.out, "output folder: metrics, checkpoints, final weights, config.json, summary.json");
  cli.count("--steps", a.steps, "learner steps");
  cli.positive("--lr", a.lr, "learning rate");
  cli.count("--problems-per-round", a.problems_per_round, "training tasks sampled per round", 1);
  cli.num_samples(a.num_samples, "sampled programs per task and round");
  cli.count("--batch-size", a.batch_size, "sequences per learner step", 1);
  cli.count("--max-new-tokens", a.max_new_tokens, "longest completion in tokens", 1);
  cli.count("--eval-problems", a.eval_problems, "validation tasks for greedy pass@1");
  cli.flag("--no-tests-in-prompt", a.no_tests_in_prompt, "leave MBPP's asserts out of the prompt");
  cli.choice("--trainer", a.trainer, trainers,
             "rltf (the paper's loss, the supervised term) or ppo (a value head on the model, GAE, KL to the "
             "starting model; the RLTF feedback as its reward)");
  cli.text("--device", a.device, "cpu or cuda[:i]", "DEVICE");
  cli.seed(a.seed);
  cli.count("--checkpoint-every", a.checkpoint_every, "checkpoint every N steps (0: never)");
  cli.progress(a.progress);
  cli.positive("--dist-timeout", a.dist_timeout, "data-parallel runs: seconds a rank waits for the others", 86400.0);
  cli.count("--lora-rank", a.lora_rank,
            "train LoRA adapters of this rank instead of every weight (0: full fine-tuning)");
  cli.positive("--lora-alpha", a.lora_alpha, "LoRA's alpha (default: twice the rank)", 1e6);
  cli.list("--lora-targets", a.lora_targets,
           "modules to adapt, PEFT's names (default c_attn; all-linear for every one)");
}

/// Greedy pass@1 on `tasks`, each rank evaluating tasks i % W (summed over the ranks).
template <class P, class E>
double split_greedy_pass(P& policy, E& executor, const std::vector<rltf::Problem>& tasks, const rltf::EvalOptions& eval,
                         const rltf::DataParallel& dp) {
  std::vector<rltf::Problem> mine;
  for (std::size_t i = 0; i < tasks.size(); ++i)
    if (dp.owns(i)) mine.push_back(tasks[i]);
  const double passed =
      mine.empty() ? 0.0 : rltf::evaluate(policy, executor, mine, eval).greedy_pass * static_cast<double>(mine.size());
  return dp.summed({passed})[0] / static_cast<double>(tasks.size());
}

/// MBPP task number of "mbpp/N".
int task_number(const rltf::Problem& p) { return std::stoi(p.task_id.substr(p.task_id.find('/') + 1)); }

} // namespace

int main(int argc, char** argv) {
  rltf::programs::Cli cli("rltf-mbpp", "RLTF on MBPP's training split (601-974) with a GPT-2-family checkpoint; "
                                       "validation (511-600) greedy pass@1 before and after.");
  Args args;
  define(cli, args);
  if (const auto status = cli.parse_or_exit(argc, argv)) return *status;
  try {
    const auto env = rltf::RankEnvironment::from_env();
    auto group = std::make_shared<rltf::ProcessGroup>(env, rltf::DistributedOptions{.timeout_s = args.dist_timeout});
    const bool main_rank = env.rank == 0;
    if (main_rank) cli.write_config(args.out);
    // One GPU per rank of a node: cuda means cuda:LOCAL_RANK.
    const torch::Device device(env.distributed() && args.device == "cuda" ? "cuda:" + std::to_string(env.local_rank)
                                                                          : args.device);
    rltf::TorchBackend::set_default_device(device);
    rltf::Gpt2Tokenizer tokenizer =
        rltf::Gpt2Tokenizer::from_directory(args.tokenizer.empty() ? args.model : args.tokenizer);
    const bool ppo = args.trainer == "ppo";
    Policy policy(rltf::load_gpt2(args.model, {.device = device, .value_head = ppo, .seed = args.seed}), tokenizer);
    if (args.lora_rank > 0) {
      const auto& lora =
          policy.add_lora({.r = static_cast<std::int64_t>(args.lora_rank),
                           .alpha = args.lora_alpha > 0 ? args.lora_alpha : 2.0 * static_cast<double>(args.lora_rank),
                           .target_modules = args.lora_targets,
                           .seed = args.seed});
      if (main_rank)
        std::cout << "rltf-mbpp: LoRA r=" << args.lora_rank << " on " << lora.modules().size() << " projections, "
                  << lora.parameter_count() << " trainable parameters (the base is frozen)\n";
    }
    const auto n_positions = static_cast<std::size_t>(policy.model()->config().n_positions);

    const auto all = rltf::data::load_mbpp(args.data, {.tests_in_prompt = !args.no_tests_in_prompt});
    std::vector<rltf::Problem> train, validation;
    std::size_t skipped = 0;
    for (const auto& p : all) {
      const int id = task_number(p);
      const bool is_train = id >= 601 && id <= 974, is_validation = id >= 511 && id <= 600;
      if (!is_train && !is_validation) continue;
      if (tokenizer.encode(p.prompt).size() + args.max_new_tokens > n_positions) {
        ++skipped;
        continue;
      }
      (is_train ? train : validation).push_back(p);
    }
    if (validation.size() > args.eval_problems) validation.resize(args.eval_problems);
    if (main_rank)
      std::cout << "rltf-mbpp: " << train.size() << " training tasks (601-974), " << validation.size()
                << " validation tasks (511-600); " << skipped << " skipped: prompt + " << args.max_new_tokens
                << " new tokens exceed the model's " << n_positions << " positions\n";
    if (train.empty()) throw rltf::invalid_argument("no training task fits; lower --max-new-tokens");

    // The ranks of a node share its cores.
    const std::size_t cores = std::max(1U, std::thread::hardware_concurrency());
    rltf::PythonExecutor executor(
        rltf::PythonExecutorOptions{.workers = std::max<std::size_t>(1, cores / env.local_world_size)});
    const rltf::DataParallel dp = rltf::make_data_parallel(group, policy);
    const rltf::SamplingConfig sampling{.max_new_tokens = args.max_new_tokens,
                                        .temperature = 1.0F,
                                        .top_p = 0.95F,
                                        .num_samples = args.num_samples,
                                        .stop = {"\n\n\n", "\nif __name__", "\nprint(", "\nassert "}};
    const rltf::EvalOptions eval{.num_samples = 0, .sampling = sampling, .greedy = true, .k = {}, .seed = args.seed};
    double before = -1.0, after = -1.0;
    if (!validation.empty()) {
      before = split_greedy_pass(policy, executor, validation, eval, dp);
      if (main_rank) std::cout << "validation greedy pass@1 before: " << before << std::endl;
    }

    rltf::RltfOptions options{
        .rollout = {.problems_per_round = args.problems_per_round, .sampling = sampling},
        .learner = {.steps = args.steps, .batch_size = args.batch_size, .optimizer = {.lr = args.lr}},
        .run = {.seed = args.seed,
                .output_dir = args.out,
                .checkpoint_every = args.checkpoint_every,
                .progress = args.progress,
                .log_every = 10}};
    // The supervised term trains on reference programs that fit the model's context.
    std::vector<rltf::Problem> supervised;
    for (const auto& p : train) {
      rltf::Problem q = p;
      std::erase_if(q.solutions, [&](const std::string& s) {
        return tokenizer.encode(p.prompt).size() + tokenizer.encode(s).size() + 1 > n_positions;
      });
      if (!q.solutions.empty()) supervised.push_back(std::move(q));
    }
    if (main_rank) std::cout << supervised.size() << " reference programs fit the context for the supervised term\n";
    if (supervised.empty()) options.loss.sl_coef = 0.0F;
    const auto summary = [&] {
      if (!ppo) {
        rltf::Rltf<Policy> trainer{policy, executor, rltf::RltfFeedback{}, train, options, supervised};
        trainer.set_data_parallel(dp);
        return trainer.train();
      }
      // PPO: the reference is the starting model — the shared base under LoRA, else a second copy.
      rltf::PpoOptions ppo_options;
      ppo_options.rollout.problems_per_round = args.problems_per_round;
      ppo_options.rollout.sampling = sampling;
      ppo_options.learner.steps = args.steps;
      ppo_options.learner.batch_size = args.batch_size;
      ppo_options.learner.optimizer.lr = args.lr;
      // One epoch of minibatches over each round (round size / batch steps).
      const std::size_t round = args.problems_per_round * args.num_samples;
      ppo_options.rollout.round_every = std::max<std::size_t>(1, round / args.batch_size);
      ppo_options.run = options.run;
      auto reference =
          policy.lora() != nullptr
              ? rltf::frozen_reference(policy)
              : std::make_shared<Policy>(
                    rltf::load_gpt2(args.model, {.device = device, .value_head = true, .seed = args.seed}), tokenizer);
      rltf::PpoTrainer<Policy> trainer{policy, reference, executor, rltf::RltfFeedback{}, train, ppo_options};
      trainer.set_data_parallel(dp);
      return trainer.train();
    }();
    if (main_rank)
      std::cout << "trained " << summary.steps << " steps (" << summary.samples << " samples, resumed from step "
                << summary.resumed_from << ") in " << summary.seconds << " s; last round: reward "
                << summary.last.reward_mean << ", pass rate " << summary.last.pass_rate << "\n";

    if (!validation.empty()) {
      after = split_greedy_pass(policy, executor, validation, eval, dp);
      if (main_rank) std::cout << "validation greedy pass@1 after: " << after << "\n";
    }
    if (!main_rank) return 0;
    std::filesystem::create_directories(args.out / "final");
    policy.save(args.out / "final");
    const nlohmann::json summary_json{{"model", args.model.string()},
                                      {"trainer", args.trainer},
                                      {"train_tasks", train.size()},
                                      {"validation_tasks", validation.size()},
                                      {"skipped", skipped},
                                      {"ranks", env.world_size},
                                      {"steps", summary.steps},
                                      {"samples", summary.samples},
                                      {"validation_greedy_pass_before", before},
                                      {"validation_greedy_pass_after", after}};
    rltf::detail::write_file_atomic(args.out / "summary.json", summary_json.dump(2) + "\n");
    std::cout << "wrote " << (args.out / "final").string() << " (config.json, model.safetensors"
              << (args.lora_rank > 0 ? ", adapter_config.json, adapter_model.safetensors" : "") << "), "
              << (args.out / "metrics.jsonl").string() << ", " << (args.out / "summary.json").string() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "rltf-mbpp: " << e.what() << "\n";
    return 1;
  }
}
