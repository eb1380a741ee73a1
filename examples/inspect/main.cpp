// rltf-inspect: what the learner will see. Runs a samples file (human-eval convention:
// {"task_id", "completion"} per line) against a dataset's tests with the real executor, and writes
// for each sample its outcome, the fine-grained category and why, the penalised span (line and
// tokens) and the rewards of RLTF's feedback (adaptive + fine-grained).
//
//   rltf-inspect --dataset humaneval|humaneval-plus|mbpp|mbpp-plus|apps:DIR|NAME:PATH
//                --samples FILE --tokenizer DIR|bytes [--alpha paper|one] [--table FILE.json]
//                [--format text|jsonl] [--output FILE] [--max-new-tokens N] [--data-dir DIR]
//                [--workers N] [--timeout SECONDS] [--config FILE]   (--help lists them all)
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <rltf/core/error.hpp>
#include <rltf/data/datasets.hpp>
#include <rltf/data/samples.hpp>
#include <rltf/exec/job.hpp>
#include <rltf/exec/python_executor.hpp>
#include <rltf/feedback/rltf_feedback.hpp>
#include <rltf/tokenize/char.hpp>
#include <rltf/tokenize/gpt2.hpp>
#include <rltf_programs/options.hpp>

namespace {

struct Args {
  std::string dataset;
  std::filesystem::path samples;
  std::string tokenizer;
  rltf::Alpha alpha = rltf::Alpha::paper;
  std::filesystem::path table;
  std::string format = "text";
  std::filesystem::path output;
  std::size_t max_new_tokens = 0; ///< samples with at least this many tokens count as truncated (0: none)
  std::filesystem::path data = RLTF_DATA_DIR;
  std::size_t workers = 0;
  double timeout = 3.0;
};

constexpr std::pair<std::string_view, rltf::Alpha> alphas[] = {{"paper", rltf::Alpha::paper},
                                                               {"one", rltf::Alpha::one}};
constexpr std::pair<std::string_view, std::string_view> formats[] = {{"text", "text"}, {"jsonl", "jsonl"}};

void define(rltf::programs::Cli& cli, Args& a) {
  cli.dataset(a.dataset, "humaneval | humaneval-plus | mbpp | mbpp-plus | apps:DIR | NAME:PATH")->required();
  cli.samples(a.samples, "JSON Lines of {\"task_id\", \"completion\"}")->required();
  cli.tokenizer(a.tokenizer, "GPT-2 tokenizer folder, or 'bytes'")->required();
  cli.choice("--alpha", a.alpha, alphas, "weight of the fine-grained token penalty");
  cli.text("--table", a.table, "feedback table (JSON; default: the built-in one)", "FILE");
  cli.choice("--format", a.format, formats, "text for people, jsonl for programs");
  cli.text("--output", a.output, "write the report here (default: standard output)", "FILE");
  cli.count("--max-new-tokens", a.max_new_tokens, "samples with at least N tokens count as truncated (0: none)");
  cli.text("--data-dir", a.data, "where the bundled datasets are", "DIR");
  cli.workers(a.workers);
  cli.timeout(a.timeout);
}

template <rltf::Tokenizer Tok>
int inspect(const Args& args, const Tok& tok) {
  const auto problems = rltf::data::load_dataset(args.dataset, args.data);
  std::map<std::string, const rltf::Problem*> by_id;
  for (const auto& p : problems) by_id.emplace(p.task_id, &p);
  auto samples = rltf::data::read_samples(args.samples);

  std::vector<rltf::Job> jobs;
  const rltf::Limits limits{.test_timeout_s = args.timeout, .program_timeout_s = 4 * args.timeout};
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto it = by_id.find(samples[i].task_id);
    if (it == by_id.end())
      throw rltf::parse_error(args.samples.string(), i + 1, "task_id",
                              "'" + samples[i].task_id + "' is not a task of dataset '" + args.dataset + "'");
    samples[i].tokens = tok.encode(samples[i].text);
    samples[i].truncated = args.max_new_tokens != 0 && samples[i].tokens.size() >= args.max_new_tokens;
    jobs.push_back(rltf::make_job(*it->second, samples[i].text, limits));
  }
  rltf::PythonExecutor executor{rltf::PythonExecutorOptions{.workers = args.workers}};
  const auto results = executor.run_all(jobs);

  const rltf::FeedbackTable table =
      args.table.empty() ? rltf::FeedbackTable::defaults() : rltf::FeedbackTable::load(args.table);
  const rltf::RltfFeedback feedback(table, {.alpha = args.alpha});

  std::ofstream file;
  if (!args.output.empty()) {
    file.open(args.output);
    if (!file) throw rltf::io_error("cannot write '" + args.output.string() + "'");
  }
  std::ostream& out = args.output.empty() ? std::cout : file;
  // A token's bytes as a JSON string literal ("\n" escaped, invalid UTF-8 replaced).
  const auto quoted = [](std::string_view bytes) {
    return nlohmann::json(std::string(bytes)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  std::map<std::string, int> outcomes;
  std::map<std::string, int> categories;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    const auto& r = results[i];
    const auto offsets = tok.offsets(s.tokens);
    const auto d = feedback.explain(s, r, offsets);
    const auto rewards = feedback(s, r, offsets);
    const auto& c = d.classification;
    ++outcomes[std::string(rltf::to_string(r.outcome))];
    ++categories[std::string(rltf::to_string(c.category))];
    std::string line_text;
    if (d.line_bytes) line_text = s.text.substr(d.line_bytes->begin, d.line_bytes->size());
    if (args.format == "jsonl") {
      nlohmann::json j{{"index", i},
                       {"task_id", s.task_id},
                       {"outcome", rltf::to_string(r.outcome)},
                       {"passed", r.passed},
                       {"total", r.total},
                       {"truncated", s.truncated},
                       {"category", rltf::to_string(c.category)},
                       {"reason", c.reason},
                       {"tokens", s.tokens.size()},
                       {"span", {d.span.begin, d.span.end}},
                       {"alpha", d.alpha},
                       {"fine_reward", c.fine_reward},
                       {"sequence_reward", rewards.sequence},
                       {"token_rewards", rewards.token}};
      if (r.error)
        j["error"] = {{"type", r.error->type},
                      {"message", r.error->message},
                      {"line", r.error->line ? nlohmann::json(*r.error->line) : nlohmann::json()},
                      {"completion_line",
                       r.error->completion_line ? nlohmann::json(*r.error->completion_line) : nlohmann::json()}};
      if (c.completion_line) j["line"] = *c.completion_line;
      if (d.line_bytes) j["line_text"] = line_text;
      nlohmann::json span_tokens = nlohmann::json::array();
      for (std::size_t t = d.span.begin; t < d.span.end; ++t)
        span_tokens.push_back(std::string(s.text.substr(offsets[t].begin, offsets[t].size())));
      j["span_tokens"] = span_tokens;
      out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      continue;
    }
    out << "[" << i << "] " << s.task_id << "  " << rltf::to_string(r.outcome) << "  passed " << r.passed << "/"
        << r.total << (s.truncated ? "  (truncated)" : "") << "\n";
    if (r.error) {
      out << "    error: " << r.error->type << ": " << r.error->message;
      if (r.error->completion_line)
        out << " (completion line " << *r.error->completion_line << ")";
      else if (r.error->line)
        out << " (program line " << *r.error->line << ", not in the completion)";
      out << "\n";
    }
    out << "    category: " << rltf::to_string(c.category) << " (" << c.reason << ")\n";
    char buf[160];
    std::snprintf(buf, sizeof buf, "    rewards: R = %.3f", rewards.sequence);
    out << buf;
    if (!d.span.empty()) {
      std::snprintf(buf, sizeof buf, "; tokens [%zu, %zu) of %zu get alpha * R_fine = %.3f * %.3f = %.3f", d.span.begin,
                    d.span.end, s.tokens.size(), static_cast<double>(d.alpha), static_cast<double>(c.fine_reward),
                    static_cast<double>(d.alpha * c.fine_reward));
      out << buf;
    } else {
      out << "; no token penalty (" << s.tokens.size() << " tokens)";
    }
    out << "\n";
    if (d.line_bytes) out << "    line " << *c.completion_line << ": " << quoted(line_text) << "\n";
    if (!d.span.empty() && c.category == rltf::FineCategory::line) {
      out << "    tokens:";
      for (std::size_t t = d.span.begin; t < d.span.end; ++t)
        out << " " << quoted(s.text.substr(offsets[t].begin, offsets[t].size()));
      out << "\n";
    }
  }
  if (args.format == "text") {
    out << "\n" << samples.size() << " samples; outcomes:";
    for (const auto& [k, n] : outcomes) out << " " << k << " " << n;
    out << "; categories:";
    for (const auto& [k, n] : categories) out << " " << k << " " << n;
    out << "\n";
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  rltf::programs::Cli cli("rltf-inspect", "What the learner will see: per sample of a samples file, the outcome, the "
                                          "fine-grained category and why, the penalised span and RLTF's rewards.");
  Args args;
  define(cli, args);
  return cli.run(argc, argv, [&] {
    if (args.tokenizer == "bytes") return inspect(args, rltf::CharTokenizer::bytes());
    return inspect(args, rltf::Gpt2Tokenizer::from_directory(args.tokenizer));
  });
}
