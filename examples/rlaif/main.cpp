// rltf-rlaif: RLAIF for code (arXiv 2406.20060) on Gorilla APIBench's Hugging Face part, end to
// end, from one command (docs/rlaif.md, "The Gorilla pipeline"; results in docs/results-rlaif.md):
//
//   split  the eval set (seeded) into SFT / RL / held-out instructions; the SFT targets add the API
//          database's example code that compiles (the upstream training set is not available here)
//   sft    a character-level rltf::EigenPolicy with a value head, trained on the SFT targets
//   sample programs for the RL instructions from the SFT policy
//   label  them with rltf::StaticJudge (eight questions answered by program analysis in the
//          sandbox; a stand-in for an LLM judge, not one): accepted ≥ 7 yes, rejected ≤ 4
//   rm     rltf::NgramRewardModel on the labels (held-out accuracy and AUC reported)
//   ppo    rltf::PpoTrainer on the RL instructions, the reward model's logit as the reward; every
//          sample also runs against the stub library (its outcome share is executability)
//   eval   SFT and PPO on the held-out instructions: reward-model score, the Gorilla AST criterion,
//          hallucination, executability, BLEU and ROUGE-L against the reference code
//
// Every stage writes its results into --out with the options it was made with and is skipped when
// run again with the same options (PPO continues from its last checkpoint; labelling from its last
// whole line, even after kill -9); a stage whose options changed is done again, with all after it.
//
//   rltf-rlaif --out rlaif-out [--seed 1] [--quick]

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <rltf/core/error.hpp>
#include <rltf/data/gorilla.hpp>
#include <rltf/detail/atomic_file.hpp>
#include <rltf/detail/random.hpp>
#include <rltf/eigen/ngram_reward_model.hpp>
#include <rltf/eigen/policy.hpp>
#include <rltf/eval/classification.hpp>
#include <rltf/eval/text_metrics.hpp>
#include <rltf/exec/python_executor.hpp>
#include <rltf/feedback/reward_model_feedback.hpp>
#include <rltf/judge/gorilla_check.hpp>
#include <rltf/judge/label.hpp>
#include <rltf/judge/static_judge.hpp>
#include <rltf/tokenize/char.hpp>
#include <rltf/train/detail/config.hpp>
#include <rltf/train/metrics.hpp>
#include <rltf/train/ppo_trainer.hpp>
#include <rltf/train/sft.hpp>
#include <rltf_programs/options.hpp>

#ifndef RLTF_PYTHON
#define RLTF_PYTHON "/usr/bin/python3"
#endif

namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using Policy = rltf::EigenPolicy<rltf::CharTokenizer>;

// --- the run's options ---------------------------------------------------------------------------

struct Args {
  fs::path out = "rltf-rlaif-out";
  fs::path data = fs::path(RLTF_SOURCE_DIR) / "data" / "gorilla";
  fs::path python = RLTF_PYTHON;
  bool quick = false;
  bool fresh = false;
  std::uint64_t seed = 1;
  std::optional<std::size_t> sft_steps, ppo_steps, samples_per_instruction, eval_samples;
  float ppo_lr = -1.0F;
  float kl_coef = -1.0F;
  float temperature = -1.0F;
  std::size_t workers = 0;
  rltf::ProgressMode progress = rltf::ProgressMode::automatic;
};

/// Everything the results depend on, stage by stage (a stage is redone when its part, or an
/// earlier stage's, changes).
struct Plan {
  // split
  double sft_fraction = 0.5, rl_fraction = 0.3;
  std::size_t max_instruction = 240;           ///< characters of an instruction kept in the prompt
  std::size_t max_code = 320;                  ///< characters of a target program (whole lines) and of a completion
  bool db_examples = true;                     ///< add the API database's example code to the SFT targets
  std::size_t rl_limit = 0, heldout_limit = 0; ///< 0: all (the quick run takes fewer)
  // sft
  rltf::EigenPolicyOptions model{.context = 16, .hidden = 192, .prompt_buckets = 4096, .value_head = true};
  rltf::SftOptions sft = [] {
    rltf::SftOptions o;
    o.steps = 3000;
    o.batch_size = 32;
    o.optimizer.lr = 3e-3F;
    o.warmup_steps = 50;
    return o;
  }();
  // sample and label
  std::size_t samples_per_instruction = 8;
  rltf::LabelOptions label{};
  // reward model
  rltf::NgramRewardModelOptions rm{};
  // ppo
  rltf::PpoOptions ppo = [] {
    rltf::PpoOptions o;
    o.rollout.problems_per_round = 8;
    o.rollout.sampling.num_samples = 4;
    o.rollout.sampling.top_p = 0.95F;
    o.rollout.sampling.temperature = 0.7F;
    o.learner.steps = 400;
    o.learner.batch_size = 16;
    o.learner.optimizer.lr = 1e-3F;
    o.run.checkpoint_every = 25;
    return o;
  }();
  // eval
  std::size_t eval_samples = 4; ///< sampled programs per held-out instruction (plus one greedy)
};

Plan make_plan(const Args& a) {
  Plan p;
  p.model.seed = a.seed;
  p.sft.seed = a.seed;
  p.rm.seed = a.seed;
  if (a.quick) {
    p.rl_limit = 24;
    p.heldout_limit = 24;
    p.sft.steps = 500;
    p.samples_per_instruction = 8;
    // A few hundred steps make programs that rarely pass the paper's thresholds: the quick run
    // labels "compiles and more" as accepted so that the reward model sees both classes.
    p.label.accept_at = 2;
    p.label.reject_at = 1;
    p.ppo.learner.steps = 16;
    p.ppo.run.checkpoint_every = 4;
    p.eval_samples = 2;
  }
  if (a.sft_steps) p.sft.steps = *a.sft_steps;
  if (a.ppo_steps) p.ppo.learner.steps = *a.ppo_steps;
  if (a.samples_per_instruction) p.samples_per_instruction = *a.samples_per_instruction;
  if (a.eval_samples) p.eval_samples = *a.eval_samples;
  if (a.ppo_lr > 0.0F) p.ppo.learner.optimizer.lr = a.ppo_lr;
  if (a.kl_coef >= 0.0F) p.ppo.objective.kl.coef = a.kl_coef;
  if (a.temperature > 0.0F) p.ppo.rollout.sampling.temperature = a.temperature;
  p.ppo.rollout.sampling.max_new_tokens = p.max_code;
  p.ppo.run.seed = a.seed;
  p.ppo.run.progress = a.progress;
  p.ppo.run.log_every = 10;
  return p;
}

// --- the data ----------------------------------------------------------------------------------

/// Printable ASCII and newlines (tabs as four spaces; anything else '?'): the policy's alphabet.
std::string clean(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n' || (c >= 32 && c < 127)) {
      out += static_cast<char>(c);
    } else if (c == '\t') {
      out += "    ";
    } else if (c == '\r') {
      continue;
    } else {
      // One '?' per UTF-8 character.
      if ((c & 0xC0U) != 0x80U) out += '?';
    }
  }
  return out;
}

const std::string& alphabet() {
  static const std::string a = [] {
    std::string s = "\n";
    for (char c = 32; c < 127; ++c) s += c;
    return s;
  }();
  return a;
}

/// The whole lines of `code` that fit in `max` characters, without trailing blank lines.
std::string whole_lines(const std::string& code, std::size_t max) {
  std::string out;
  std::size_t pos = 0;
  while (pos < code.size()) {
    std::size_t end = code.find('\n', pos);
    end = end == std::string::npos ? code.size() : end + 1;
    if (out.size() + (end - pos) > max) break;
    out.append(code, pos, end - pos);
    pos = end;
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string prompt_of(const std::string& instruction) { return "### Instruction:\n" + instruction + "\n### Code:\n"; }
std::string instruction_of_prompt(const std::string& prompt) {
  constexpr std::string_view head = "### Instruction:\n", tail = "\n### Code:\n";
  if (prompt.size() < head.size() + tail.size()) return prompt;
  return prompt.substr(head.size(), prompt.size() - head.size() - tail.size());
}

struct Item {
  std::size_t question_id = 0; ///< the eval record (0: an API database example)
  std::string instruction;     ///< cleaned, at most Plan::max_instruction characters
  std::string code;            ///< the reference program (cleaned, whole lines)
  std::string api_name;        ///< the reference API
};

struct Data {
  std::vector<Item> sft, rl, heldout;
  std::size_t db_examples = 0;     ///< API database examples among the SFT targets
  std::size_t dropped_targets = 0; ///< SFT targets left out because they do not compile
  std::vector<rltf::GorillaApi> apis;
};

Item item_of(const rltf::GorillaExample& e, const Plan& p) {
  return {e.question_id, clean(e.instruction).substr(0, p.max_instruction), whole_lines(clean(e.code), p.max_code),
          e.api_name};
}

Data load_data(const Args& a, const Plan& p, const rltf::GorillaChecker& checker) {
  Data d;
  d.apis = rltf::load_gorilla_apis(a.data / "huggingface_api.jsonl.gz");
  std::vector<rltf::GorillaExample> examples;
  for (auto& e : rltf::load_gorilla_examples(a.data / "huggingface_eval.jsonl.gz"))
    if (!e.code.empty() && !e.instruction.empty()) examples.push_back(std::move(e));
  const auto split = rltf::split_gorilla(examples, {.sft = p.sft_fraction, .rl = p.rl_fraction, .seed = a.seed});
  std::vector<Item> sft;
  for (const auto& e : split.sft)
    if (auto it = item_of(e, p); !it.code.empty()) sft.push_back(std::move(it));
  for (const auto& e : split.rl) d.rl.push_back(item_of(e, p));
  for (const auto& e : split.heldout) d.heldout.push_back(item_of(e, p));
  if (p.rl_limit > 0 && d.rl.size() > p.rl_limit) d.rl.resize(p.rl_limit);
  if (p.heldout_limit > 0 && d.heldout.size() > p.heldout_limit) d.heldout.resize(p.heldout_limit);
  const std::size_t from_eval = sft.size();
  if (p.db_examples)
    for (const auto& api : d.apis) {
      // The database's example code, with its description as the instruction.
      Item it{0, clean(api.description).substr(0, p.max_instruction), whole_lines(clean(api.example_code), p.max_code),
              api.api_name};
      if (!it.instruction.empty() && !it.code.empty()) sft.push_back(std::move(it));
    }
  // Only targets that compile (whole lines of a longer program may end inside a statement).
  std::vector<std::string> codes;
  for (const auto& c : sft) codes.push_back(c.code);
  const auto analyses = checker.analyse(codes);
  for (std::size_t i = 0; i < sft.size(); ++i)
    if (analyses[i].compiles()) {
      d.db_examples += i >= from_eval;
      d.sft.push_back(std::move(sft[i]));
    }
  d.dropped_targets = sft.size() - d.sft.size();
  return d;
}

// --- stages ------------------------------------------------------------------------------------

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::optional<json> read_json(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  auto j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

/// An options aggregate (RLTF_OPTIONS_JSON) as ordered JSON.
template <class T>
json options_json(const T& options) {
  return json::parse(nlohmann::json(options).dump());
}

void write_json(const fs::path& file, const json& j) { rltf::detail::write_file_atomic(file, j.dump(2) + "\n"); }

/// A stage's folder, made for `config`: when it holds another configuration's work (or none),
/// it is emptied first (saying why when there was something). Returns whether it was kept.
bool stage_folder(const fs::path& dir, const json& config, bool fresh) {
  const auto saved = read_json(dir / "stage.json");
  if (!fresh && saved && saved->contains("config")) {
    if (const auto d =
            rltf::train::detail::config_difference(nlohmann::json(saved->at("config")), nlohmann::json(config));
        !d) {
      return true;
    } else {
      std::cout << "  " << dir.string() << " was made with other options (" << d->path << " was " << d->was << ", now "
                << d->now << "); doing it again" << std::endl;
    }
  }
  fs::remove_all(dir);
  fs::create_directories(dir);
  write_json(dir / "stage.json", json{{"config", config}});
  return false;
}

/// The stage's result when it finished with this configuration.
std::optional<json> finished(const fs::path& dir) { return read_json(dir / "done.json"); }

Policy make_policy(const Plan& p) { return Policy(rltf::CharTokenizer(alphabet()), p.model); }

std::vector<rltf::Problem> problems_of(const std::vector<Item>& items) {
  std::vector<rltf::Problem> out;
  for (const auto& it : items) {
    rltf::Problem pr;
    pr.task_id = "gorilla/" + std::to_string(it.question_id);
    pr.prompt = prompt_of(it.instruction);
    out.push_back(std::move(pr));
  }
  return out;
}

void say(const std::string& s) { std::cout << s << std::endl; }

std::string fixed(double v, int digits = 3) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

/// Supervised fine-tuning: the policy in `dir`.
json run_sft(const fs::path& dir, const Plan& p, const Data& d, bool fresh, rltf::ProgressMode progress) {
  const json config{{"model",
                     {{"context", p.model.context},
                      {"hidden", p.model.hidden},
                      {"prompt_buckets", p.model.prompt_buckets},
                      {"init_scale", p.model.init_scale},
                      {"seed", p.model.seed},
                      {"value_head", p.model.value_head}}},
                    {"sft", options_json(p.sft)},
                    {"targets", d.sft.size()},
                    {"max_code", p.max_code}};
  stage_folder(dir, config, fresh);
  if (auto done = finished(dir)) return *done;
  const auto t0 = std::chrono::steady_clock::now();
  Policy policy = make_policy(p);
  std::vector<rltf::Problem> problems;
  for (const auto& it : d.sft) {
    rltf::Problem pr;
    pr.prompt = prompt_of(it.instruction);
    pr.solutions = {it.code};
    problems.push_back(std::move(pr));
  }
  const auto targets = rltf::supervised_samples(policy.tokenizer(), std::span<const rltf::Problem>(problems));
  double recent = 0.0;
  std::size_t n = 0;
  const auto losses = rltf::supervised_finetune(policy, targets, p.sft, [&](std::size_t step, float loss) {
    recent += loss;
    ++n;
    if (progress != rltf::ProgressMode::off && (step % 250 == 0 || step == p.sft.steps)) {
      say("  sft step " + std::to_string(step) + "/" + std::to_string(p.sft.steps) + "  loss " +
          fixed(recent / static_cast<double>(n)) + "  " + fixed(seconds_since(t0), 1) + " s");
      recent = 0.0;
      n = 0;
    }
  });
  fs::create_directories(dir / "policy");
  policy.save_checkpoint(dir / "policy");
  json done{{"targets", targets.size()},
            {"first_loss", losses.front()},
            {"final_loss", losses.back()},
            {"parameters", policy.num_parameters()},
            {"seconds", seconds_since(t0)}};
  write_json(dir / "done.json", done);
  return done;
}

Policy load_policy(const Plan& p, const fs::path& dir) {
  Policy policy = make_policy(p);
  policy.load_checkpoint(dir);
  return policy;
}

rltf::SamplingConfig sampling(const Plan& p, std::size_t n) {
  rltf::SamplingConfig s = p.ppo.rollout.sampling;
  s.num_samples = n;
  return s;
}

/// Programs of the SFT policy for the RL instructions: `dir`/samples.jsonl.
json run_sample(const fs::path& dir, const fs::path& sft_dir, const Plan& p, const Data& d, std::uint64_t seed,
                bool fresh) {
  const json config{{"sft", read_json(sft_dir / "stage.json")->at("config")},
                    {"samples_per_instruction", p.samples_per_instruction},
                    {"sampling", options_json(sampling(p, p.samples_per_instruction))},
                    {"instructions", d.rl.size()},
                    {"seed", seed}};
  stage_folder(dir, config, fresh);
  if (auto done = finished(dir)) return *done;
  const auto t0 = std::chrono::steady_clock::now();
  const Policy policy = load_policy(p, sft_dir / "policy");
  std::vector<std::string> prompts;
  for (const auto& it : d.rl) prompts.push_back(prompt_of(it.instruction));
  auto rng = rltf::make_rng(seed ^ 0x5a3c1e);
  const auto samples = policy.generate(prompts, sampling(p, p.samples_per_instruction), rng);
  std::string lines;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto& it = d.rl[i / p.samples_per_instruction];
    lines +=
        json{{"instruction", it.instruction}, {"code", samples[i].text}, {"question_id", it.question_id}}.dump() + "\n";
  }
  rltf::detail::write_file_atomic(dir / "samples.jsonl", lines);
  json done{{"samples", samples.size()}, {"seconds", seconds_since(t0)}};
  write_json(dir / "done.json", done);
  return done;
}

/// The static judge's labels: `dir`/labels.jsonl (resumable line by line).
json run_label(const fs::path& dir, const fs::path& sample_dir, const Plan& p, const rltf::GorillaChecker& checker,
               bool fresh, rltf::ProgressMode progress) {
  const json config{{"samples", read_json(sample_dir / "stage.json")->at("config")},
                    {"judge", "static"},
                    {"accept_at", p.label.accept_at},
                    {"reject_at", p.label.reject_at}};
  stage_folder(dir, config, fresh);
  if (auto done = finished(dir)) return *done;
  const auto t0 = std::chrono::steady_clock::now();
  const rltf::StaticJudge judge(checker);
  std::size_t shown = 0;
  const auto summary = rltf::label_jsonl(judge, sample_dir / "samples.jsonl", dir / "labels.jsonl", p.label,
                                         [&](std::size_t done, std::size_t total) {
                                           if (progress == rltf::ProgressMode::off) return;
                                           if (done == total || done >= shown + 200) {
                                             say("  label " + std::to_string(done) + "/" + std::to_string(total) +
                                                 "  " + fixed(seconds_since(t0), 1) + " s");
                                             shown = done;
                                           }
                                         });
  json done = summary.to_json();
  done["resumed"] = summary.resumed;
  done["seconds"] = seconds_since(t0);
  write_json(dir / "done.json", done);
  return done;
}

/// The reward model on the labels: `dir`/reward_model.safetensors.
json run_rm(const fs::path& dir, const fs::path& label_dir, const Plan& p, bool fresh) {
  const json config{{"labels", read_json(label_dir / "stage.json")->at("config")},
                    {"reward_model", options_json(p.rm)}};
  stage_folder(dir, config, fresh);
  if (auto done = finished(dir)) return *done;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<rltf::LabelledExample> data;
  std::ifstream in(label_dir / "labels.jsonl");
  std::size_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      throw rltf::parse_error((label_dir / "labels.jsonl").string(), line_no, "", "not a JSON object");
    const std::string label = j.value("label", std::string());
    if (label == "dropped") continue;
    data.push_back({j.value("instruction", std::string()), j.value("code", std::string()), label == "accepted"});
  }
  std::size_t accepted = 0;
  for (const auto& e : data) accepted += e.accepted;
  if (accepted == 0 || accepted == data.size())
    throw rltf::invalid_argument("rltf-rlaif: the labels have one class only (" + std::to_string(accepted) +
                                 " accepted of " + std::to_string(data.size()) +
                                 "): a reward model cannot learn from them; sample more (--samples-per-instruction)");
  rltf::NgramRewardModel rm(p.rm);
  const auto report = rm.train(data);
  rm.save(dir / "reward_model.safetensors");
  json done{{"examples", data.size()},
            {"accepted", accepted},
            {"train_accuracy", report.train_accuracy},
            {"heldout_accuracy", report.heldout_accuracy},
            {"heldout_auc", report.heldout_auc},
            {"heldout", report.heldout},
            {"seconds", seconds_since(t0)}};
  write_json(dir / "done.json", done);
  return done;
}

/// PPO from the SFT policy with the reward model's logit as the reward: `dir`/policy.
json run_ppo(const fs::path& dir, const fs::path& sft_dir, const fs::path& rm_dir, const Plan& p, const Data& d,
             rltf::GorillaChecker& checker, bool fresh) {
  rltf::PpoOptions o = p.ppo;
  o.run.output_dir = dir / "run";
  json options = options_json(o);
  options["run"].erase("output_dir");
  options["run"].erase("progress");
  const json config{{"sft", read_json(sft_dir / "stage.json")->at("config")},
                    {"reward_model", read_json(rm_dir / "stage.json")->at("config")},
                    {"instructions", d.rl.size()},
                    {"ppo", options}};
  stage_folder(dir, config, fresh);
  if (auto done = finished(dir)) return *done;
  const auto t0 = std::chrono::steady_clock::now();
  Policy policy = load_policy(p, sft_dir / "policy");
  auto rm = rltf::NgramRewardModel::load(rm_dir / "reward_model.safetensors");
  auto executor = checker.stub_executor();
  rltf::RewardModelFeedback feedback(rm, {}, [](const rltf::Sample& s) { return instruction_of_prompt(s.prompt); });
  o.rollout.limits = rltf::GorillaCheckOptions{}.execution_limits;
  rltf::PpoTrainer<Policy, rltf::GorillaChecker::StubExecutor, decltype(feedback)> trainer{policy, executor, feedback,
                                                                                           problems_of(d.rl), o};
  (void)trainer.train();
  fs::create_directories(dir / "policy");
  policy.save_checkpoint(dir / "policy");
  // The training curve, from the trainer's metrics: the first and last tenth of the rounds.
  std::vector<double> score, executable;
  std::ifstream in(o.run.output_dir / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("train/pass_rate")) continue; // the rounds' rows
    score.push_back(j["train/reward"].get<double>());
    executable.push_back(j["train/pass_rate"].get<double>());
  }
  const auto tenth = [](const std::vector<double>& v, bool last) {
    if (v.empty()) return 0.0;
    const std::size_t n = std::max<std::size_t>(1, v.size() / 10);
    double s = 0.0;
    for (std::size_t i = 0; i < n; ++i) s += last ? v[v.size() - 1 - i] : v[i];
    return s / static_cast<double>(n);
  };
  json done{{"steps", p.ppo.learner.steps},
            {"rounds", score.size()},
            {"score_first_tenth", tenth(score, false)},
            {"score_last_tenth", tenth(score, true)},
            {"executable_first_tenth", tenth(executable, false)},
            {"executable_last_tenth", tenth(executable, true)},
            {"seconds", seconds_since(t0)}};
  write_json(dir / "done.json", done);
  return done;
}

/// One model on the held-out instructions.
json evaluate(const Policy& policy, const Plan& p, const Data& d, const rltf::GorillaChecker& checker,
              const rltf::NgramRewardModel& rm, std::uint64_t seed) {
  std::vector<std::string> prompts;
  for (const auto& it : d.heldout) prompts.push_back(prompt_of(it.instruction));
  auto rng = rltf::make_rng(seed ^ 0xe7a1);
  const auto sampled = policy.generate(prompts, sampling(p, p.eval_samples), rng);
  rltf::SamplingConfig g = sampling(p, 1);
  g.greedy = true;
  const auto greedy = policy.generate(prompts, g, rng);
  const rltf::StaticJudge judge(checker);
  const auto metrics = [&](const std::vector<rltf::Sample>& samples, std::size_t per) {
    std::vector<std::string> codes;
    for (const auto& s : samples) codes.push_back(s.text);
    const auto verdicts = judge.verdicts(codes);
    double score = 0.0, match = 0.0, match_ref = 0.0, halluc = 0.0, exec = 0.0, accepted = 0.0, yes = 0.0, rouge = 0.0;
    std::vector<std::vector<std::string>> cand, ref;
    for (std::size_t i = 0; i < samples.size(); ++i) {
      const auto& it = d.heldout[i / per];
      const auto& v = verdicts[i];
      score += rm.score(it.instruction, codes[i]);
      match += v.match.match;
      match_ref += v.match.match && v.match.api_name == it.api_name;
      halluc += v.match.hallucination;
      exec += rltf::GorillaChecker::executable(v.execution);
      const auto n_yes = static_cast<std::size_t>(std::count(v.answers.begin(), v.answers.end(), true));
      yes += static_cast<double>(n_yes);
      accepted += n_yes >= p.label.accept_at;
      cand.push_back(rltf::code_tokens(codes[i]));
      ref.push_back(rltf::code_tokens(it.code));
      rouge += rltf::rouge_l(cand.back(), ref.back());
    }
    const double n = static_cast<double>(std::max<std::size_t>(1, samples.size()));
    return json{{"rm_score", score / n},
                {"ast_match", match / n},
                {"ast_match_reference", match_ref / n},
                {"hallucination", halluc / n},
                {"executable", exec / n},
                {"judge_accepted", accepted / n},
                {"judge_yes", yes / n},
                {"bleu", rltf::corpus_bleu(cand, ref)},
                {"rouge_l", rouge / n},
                {"programs", samples.size()}};
  };
  json out = metrics(sampled, p.eval_samples);
  out["greedy"] = metrics(greedy, 1);
  out["instructions"] = d.heldout.size();
  return out;
}

json run_eval(const fs::path& file, const json& upstream, const fs::path& policy_dir, const fs::path& rm_dir,
              const Plan& p, const Data& d, const rltf::GorillaChecker& checker, std::uint64_t seed, bool fresh) {
  const json config{{"model", upstream},
                    {"reward_model", read_json(rm_dir / "stage.json")->at("config")},
                    {"instructions", d.heldout.size()},
                    {"eval_samples", p.eval_samples},
                    {"seed", seed}};
  if (const auto saved = read_json(file);
      !fresh && saved && saved->contains("config") &&
      !rltf::train::detail::config_difference(nlohmann::json(saved->at("config")), nlohmann::json(config)))
    return saved->at("metrics");
  const auto t0 = std::chrono::steady_clock::now();
  const Policy policy = load_policy(p, policy_dir);
  const auto rm = rltf::NgramRewardModel::load(rm_dir / "reward_model.safetensors");
  json metrics = evaluate(policy, p, d, checker, rm, seed);
  metrics["seconds"] = seconds_since(t0);
  write_json(file, json{{"config", config}, {"metrics", metrics}});
  return metrics;
}

void print_table(const json& rows) {
  const char* names[] = {"rm_score",      "ast_match",  "ast_match_reference",
                         "hallucination", "executable", "judge_accepted",
                         "bleu",          "rouge_l"};
  std::printf("\nresults on %zu held-out instructions (sampled programs; greedy in results.json)\n",
              rows[0]["metrics"]["instructions"].get<std::size_t>());
  std::printf("| model |");
  for (const char* n : names) std::printf(" %s |", n);
  std::printf("\n|---|");
  for (std::size_t i = 0; i < std::size(names); ++i) std::printf("---|");
  std::printf("\n");
  for (const auto& r : rows) {
    std::printf("| %s |", r["model"].get<std::string>().c_str());
    for (const char* n : names) std::printf(" %.3f |", r["metrics"][n].get<double>());
    std::printf("\n");
  }
}

} // namespace

int main(int argc, char** argv) {
  rltf::programs::Cli cli("rltf-rlaif",
                          "RLAIF for code on Gorilla APIBench (Hugging Face): SFT, sample, label with the static "
                          "judge, reward model, PPO; SFT and PPO on held-out instructions (docs/rlaif.md).");
  Args a;
  cli.out(a.out, "output folder: every stage's results, results.json");
  cli.text("--data", a.data, "folder with huggingface_api.jsonl.gz and huggingface_eval.jsonl.gz", "DIR");
  cli.text("--python", a.python, "Python interpreter of the sandbox", "FILE");
  cli.flag("--quick", a.quick, "the CI-sized run (a few dozen instructions, a few steps)");
  cli.flag("--fresh", a.fresh, "ignore what the output folder holds");
  cli.seed(a.seed, "seed of the split, the model and every draw");
  cli.count("--sft-steps", a.sft_steps, "supervised steps (default 3000)");
  cli.count("--ppo-steps", a.ppo_steps, "PPO optimiser steps (default 400)");
  cli.count("--samples-per-instruction", a.samples_per_instruction, "programs sampled per RL instruction for labels",
            1);
  cli.count("--eval-samples", a.eval_samples, "programs sampled per held-out instruction (default 4)", 1);
  cli.positive("--ppo-lr", a.ppo_lr, "PPO learning rate (default 1e-3)");
  cli.number("--kl-coef", a.kl_coef, "β of the KL penalty (default 0.05)");
  cli.positive("--temperature", a.temperature, "sampling temperature of every stage (default 0.7)");
  cli.workers(a.workers);
  cli.progress(a.progress);
  return cli.run(argc, argv, [&] {
    const auto t0 = std::chrono::steady_clock::now();
    const Plan p = make_plan(a);
    fs::create_directories(a.out);
    cli.write_config(a.out);
    const std::size_t workers =
        a.workers > 0 ? a.workers : std::max<std::size_t>(1, std::thread::hardware_concurrency());
    rltf::PythonExecutor executor{rltf::PythonExecutorOptions{.python = a.python, .workers = workers}};
    say("rltf-rlaif: RLAIF for code on Gorilla APIBench (Hugging Face), seed " + std::to_string(a.seed) + " -> " +
        a.out.string());
    rltf::GorillaChecker checker(executor, rltf::load_gorilla_apis(a.data / "huggingface_api.jsonl.gz"));
    const Data d = load_data(a, p, checker);
    say("data: " + std::to_string(d.sft.size()) + " SFT targets (" + std::to_string(d.db_examples) +
        " from the API database's example code; " + std::to_string(d.dropped_targets) +
        " that do not compile left out), " + std::to_string(d.rl.size()) + " RL and " +
        std::to_string(d.heldout.size()) + " held-out instructions (the upstream training set is not available)");
    json split{{"seed", a.seed}, {"sft", json::array()}, {"rl", json::array()}, {"heldout", json::array()}};
    for (const auto& [name, items] : {std::pair{"sft", &d.sft}, {"rl", &d.rl}, {"heldout", &d.heldout}})
      for (const auto& it : *items)
        if (it.question_id != 0) split[name].push_back(it.question_id);
    split["db_examples"] = d.db_examples;
    write_json(a.out / "split.json", split);

    say("[1/6] supervised fine-tuning");
    const auto sft = run_sft(a.out / "sft", p, d, a.fresh, a.progress);
    say("  loss " + fixed(sft["first_loss"].get<double>()) + " -> " + fixed(sft["final_loss"].get<double>()) + ", " +
        std::to_string(sft["parameters"].get<std::size_t>()) + " parameters");
    say("[2/6] sampling " + std::to_string(p.samples_per_instruction) + " programs per RL instruction");
    run_sample(a.out / "samples", a.out / "sft", p, d, a.seed, a.fresh);
    say("[3/6] labelling with the static judge");
    const auto labels = run_label(a.out / "labels", a.out / "samples", p, checker, a.fresh, a.progress);
    say("  accepted " + std::to_string(labels["accepted"].get<std::size_t>()) + ", rejected " +
        std::to_string(labels["rejected"].get<std::size_t>()) + ", dropped " +
        std::to_string(labels["dropped"].get<std::size_t>()) + "; yes counts " + labels["histogram"].dump());
    say("[4/6] reward model");
    const auto rm = run_rm(a.out / "reward_model", a.out / "labels", p, a.fresh);
    say("  held-out accuracy " + fixed(rm["heldout_accuracy"].get<double>()) + ", AUC " +
        fixed(rm["heldout_auc"].get<double>()) + " (" + std::to_string(rm["heldout"].get<std::size_t>()) +
        " labels held out)");
    say("[5/6] PPO (" + std::to_string(p.ppo.learner.steps) + " steps)");
    const auto ppo = run_ppo(a.out / "ppo", a.out / "sft", a.out / "reward_model", p, d, checker, a.fresh);
    say("  training score " + fixed(ppo["score_first_tenth"].get<double>()) + " -> " +
        fixed(ppo["score_last_tenth"].get<double>()) + ", executable " +
        fixed(ppo["executable_first_tenth"].get<double>()) + " -> " +
        fixed(ppo["executable_last_tenth"].get<double>()));
    say("[6/6] held-out evaluation");
    const json sft_stage = read_json(a.out / "sft" / "stage.json")->at("config");
    const json ppo_stage = read_json(a.out / "ppo" / "stage.json")->at("config");
    json rows = json::array();
    rows.push_back({{"model", "SFT"},
                    {"metrics", run_eval(a.out / "eval_sft.json", sft_stage, a.out / "sft" / "policy",
                                         a.out / "reward_model", p, d, checker, a.seed, a.fresh)}});
    rows.push_back({{"model", "PPO"},
                    {"metrics", run_eval(a.out / "eval_ppo.json", ppo_stage, a.out / "ppo" / "policy",
                                         a.out / "reward_model", p, d, checker, a.seed, a.fresh)}});
    print_table(rows);
    json results{{"seed", a.seed},
                 {"quick", a.quick},
                 {"data",
                  {{"sft_targets", d.sft.size()},
                   {"db_examples", d.db_examples},
                   {"dropped_targets", d.dropped_targets},
                   {"rl_instructions", d.rl.size()},
                   {"heldout_instructions", d.heldout.size()}}},
                 {"sft", sft},
                 {"labels", labels},
                 {"reward_model", rm},
                 {"ppo", ppo},
                 {"rows", rows},
                 {"seconds", seconds_since(t0)}};
    write_json(a.out / "results.json", results);
    say("wrote " + (a.out / "results.json").string() + " (" + fixed(seconds_since(t0), 0) + " s)");
    return 0;
  });
}
