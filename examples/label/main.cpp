// rltf-label: AI-feedback labels for (instruction, code) samples (RLAIF for code). A judge answers
// eight yes/no questions per sample; the yes count labels it accepted / rejected / dropped.
// Resumable after any stop, even kill -9: run the same command again.
//
//   rltf-label --input samples.jsonl --output labels.jsonl --judge http
//              --judge-url http://127.0.0.1:8000/v1 --judge-model Qwen2.5-Coder-32B-Instruct
//   rltf-label --input samples.jsonl --output labels.jsonl --judge static [--api-db huggingface_api.jsonl.gz]
//   rltf-label --input samples.jsonl --output labels.jsonl --judge policy --judge-model CHECKPOINT_DIR
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/data/gorilla.hpp"
#include "rltf/exec/python_executor.hpp"
#include "rltf/judge/http_judge.hpp"
#include "rltf/judge/label.hpp"
#include "rltf/judge/static_judge.hpp"
#include "rltf/train/options.hpp"
#include "rltf_programs/options.hpp"

#ifdef RLTF_LABEL_TORCH
#include "rltf/judge/policy_judge.hpp"
#include "rltf/tokenize/chat.hpp"
#include "rltf/tokenize/hf.hpp"
#include "rltf/torch/decoder.hpp"
#include "rltf/torch/policy.hpp"
#endif

namespace {

std::vector<std::string> read_questions(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw rltf::io_error("rltf-label: cannot read --questions " + file.string());
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw rltf::parse_error(file.string(), 0, "", std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_array() || j.empty())
    throw rltf::parse_error(file.string(), 0, "", "expected a non-empty array of questions");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string())
      throw rltf::parse_error(file.string(), 0, "[" + std::to_string(i) + "]", "expected a string");
    out.push_back(j[i].get<std::string>());
  }
  return out;
}

void print_histogram(const rltf::LabelSummary& s, const rltf::LabelOptions& o) {
  std::size_t most = 1;
  for (auto n : s.histogram) most = std::max(most, n);
  std::printf("score histogram (%zu samples; accepted >= %zu, rejected <= %zu)\n", s.total(), o.accept_at, o.reject_at);
  for (std::size_t score = 0; score < s.histogram.size(); ++score) {
    const auto bar = static_cast<int>(40.0 * static_cast<double>(s.histogram[score]) / static_cast<double>(most) + 0.5);
    std::printf("  %2zu | %-40s %zu\n", score, std::string(static_cast<std::size_t>(bar), '#').c_str(),
                s.histogram[score]);
  }
  std::printf("accepted %zu, rejected %zu, dropped %zu (this run labelled %zu, kept %zu from before)\n", s.accepted,
              s.rejected, s.dropped, s.labelled, s.resumed);
}

} // namespace

constexpr std::pair<std::string_view, std::string_view> judges[] = {
    {"http", "http"}, {"static", "static"}, {"policy", "policy"}};

int main(int argc, char** argv) {
  rltf::programs::Cli cli("rltf-label",
                          "AI-feedback labels for (instruction, code) samples (docs/rlaif.md); resumable after any "
                          "stop: run the same command again");
  std::filesystem::path input, output, cache, questions_file, api_db = RLTF_GORILLA_API_DB;
  std::string python = "/usr/bin/python3";
  std::string judge_kind = "http", url = "http://127.0.0.1:8000/v1", model, key_env = "OPENAI_API_KEY";
  rltf::ProgressMode progress_mode = rltf::ProgressMode::automatic;
  rltf::LabelOptions opt;
  double timeout = 120.0;
  std::size_t retries = 5;
  cli.text("--input", input, "JSONL, one {\"instruction\", \"code\"} object a line (other fields kept)", "FILE")
      ->required()
      ->check(CLI::ExistingFile);
  cli.text("--output", output, "JSONL written line by line: the input plus answers, score, label", "FILE")->required();
  cli.choice("--judge", judge_kind, judges,
             "who answers: an OpenAI-compatible server (http) or program analysis against the Gorilla API database "
             "(static, a stand-in for an LLM judge), or a local Qwen2/Llama checkpoint on LibTorch (policy: log P(Yes) "
             "vs log P(No))");
  cli.text("--api-db", api_db, "--judge static: the Gorilla API database (JSONL, plain or gzipped)", "FILE");
  cli.text("--python", python, "--judge static: the interpreter of the sandbox, by absolute path", "PATH");
  cli.text("--judge-url", url, "an OpenAI-compatible server, up to /v1", "URL");
  cli.text("--judge-model", model,
           "--judge http: the server's model name; --judge policy: the checkpoint folder (config.json, "
           "model.safetensors, tokenizer.json; its chat template when tokenizer_config.json has one)",
           "NAME|DIR");
  std::filesystem::path tokenizer_dir;
  std::string device = "cpu";
  double margin = 0.0;
  cli.text("--tokenizer", tokenizer_dir, "--judge policy: the tokenizer folder (default: the checkpoint's)", "DIR");
  cli.text("--device", device, "--judge policy: cpu or cuda[:i]", "DEVICE");
  cli.number("--margin", margin, "--judge policy: yes when log P(Yes) - log P(No) exceeds this");
  cli.text("--api-key-env", key_env, "environment variable with the API key", "VAR");
  cli.text("--cache", cache, "SQLite answer cache (default: OUTPUT.cache.sqlite)", "FILE");
  cli.text("--questions", questions_file, "JSON array of questions (default: the paper's eight)", "FILE")
      ->check(CLI::ExistingFile);
  cli.count("--accept", opt.accept_at, "score at or above which a sample is accepted");
  cli.count("--reject", opt.reject_at, "score at or below which a sample is rejected");
  cli.count("--workers", opt.workers, "samples judged at once (and requests in flight)", 1);
  cli.timeout(timeout, "read timeout of one request, seconds");
  cli.count("--retries", retries, "retries of a failed request");
  cli.progress(progress_mode);
  if (const auto status = cli.parse_or_exit(argc, argv)) return *status;
  const std::string progress = progress_mode == rltf::ProgressMode::off     ? "none"
                               : progress_mode == rltf::ProgressMode::lines ? "lines"
                               : progress_mode == rltf::ProgressMode::bar   ? "bar"
                               : isatty(2) != 0                             ? "bar"
                                                                            : "lines";
  try {
    if (!questions_file.empty()) opt.questions = read_questions(questions_file);
    if (cache.empty()) cache = output.string() + ".cache.sqlite";
    if ((judge_kind == "http" || judge_kind == "policy") && model.empty())
      throw rltf::invalid_argument("rltf-label: --judge " + judge_kind + " needs --judge-model " +
                                   (judge_kind == "http" ? "NAME" : "DIR"));
    const auto t0 = std::chrono::steady_clock::now();
    const auto show = [&](std::size_t done, std::size_t total) {
      if (progress == "none") return;
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const int width = 30;
      const int filled = total == 0 ? width : static_cast<int>(width * done / total);
      std::fprintf(stderr, "%slabel [%s%s] %zu/%zu  %.1f s%s", progress == "bar" ? "\r" : "",
                   std::string(static_cast<std::size_t>(filled), '#').c_str(),
                   std::string(static_cast<std::size_t>(width - filled), '.').c_str(), done, total, s,
                   progress == "bar" && done != total ? "" : "\n");
      std::fflush(stderr);
    };
    nlohmann::ordered_json this_run;
    rltf::LabelSummary summary;
    if (judge_kind == "static") {
      rltf::PythonExecutor executor{rltf::PythonExecutorOptions{.python = python, .workers = opt.workers}};
      const rltf::GorillaChecker checker(executor, rltf::load_gorilla_apis(api_db));
      const rltf::StaticJudge judge(checker);
      summary = rltf::label_jsonl(judge, input, output, opt, show);
      this_run = {{"labelled", summary.labelled},
                  {"resumed", summary.resumed},
                  {"judge", "static"},
                  {"api_db", api_db.string()}};
    } else if (judge_kind == "policy") {
#ifdef RLTF_LABEL_TORCH
      // One (instruction, code) at a time: its questions go through the model as one batch.
      opt.workers = 1;
      const std::filesystem::path dir = model;
      const torch::Device dev(device);
      rltf::TorchBackend::set_default_device(dev);
      const auto tok_dir = tokenizer_dir.empty() ? dir : tokenizer_dir;
      rltf::DecoderPolicy<rltf::HfTokenizer> policy(rltf::load_decoder(dir, {.device = dev}),
                                                    rltf::HfTokenizer::from_directory(tok_dir));
      rltf::PolicyJudgeOptions po;
      po.margin = margin;
      const auto config = tok_dir / "tokenizer_config.json";
      bool chat = false;
      if (std::filesystem::exists(config)) {
        try {
          po.chat = rltf::ChatFormat::from_tokenizer_config(config);
          po.yes = "Yes";
          po.no = "No";
          chat = true;
        } catch (const rltf::parse_error& e) {
          if (e.field() != "chat_template") throw;
        }
      }
      rltf::PolicyJudge judge(policy, po);
      summary = rltf::label_jsonl(judge, input, output, opt, show);
      this_run = {{"labelled", summary.labelled},
                  {"resumed", summary.resumed},
                  {"judge", "policy"},
                  {"checkpoint", dir.string()},
                  {"chat_format", chat}};
#else
      throw rltf::invalid_argument("rltf-label: --judge policy needs a build with LibTorch");
#endif
    } else {
      rltf::HttpJudgeOptions jo;
      jo.base_url = url;
      jo.model = model;
      jo.api_key_env = key_env;
      jo.read_timeout_s = timeout;
      jo.max_retries = retries;
      jo.max_concurrency = opt.workers;
      jo.cache = cache;
      rltf::HttpJudge judge(jo);
      summary = rltf::label_jsonl(judge, input, output, opt, show);
      const auto stats = judge.stats();
      this_run = {{"labelled", summary.labelled},
                  {"resumed", summary.resumed},
                  {"requests", stats.requests},
                  {"retries", stats.retries},
                  {"cache_hits", stats.cache_hits}};
    }
    print_histogram(summary, opt);
    auto record = summary.to_json();
    record["accept_at"] = opt.accept_at;
    record["reject_at"] = opt.reject_at;
    record["questions"] = opt.questions;
    record["this_run"] = this_run;
    const auto hist = std::filesystem::path(output.string() + ".histogram.json");
    {
      std::ofstream out(hist.string() + ".tmp", std::ios::trunc);
      out << record.dump(2) << "\n";
      if (!out) throw rltf::io_error("rltf-label: cannot write " + hist.string());
    }
    std::filesystem::rename(hist.string() + ".tmp", hist);
    std::printf("wrote %s and %s\n", output.c_str(), hist.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
