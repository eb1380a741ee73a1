// rltf-inspect: what the learner will see. Runs a samples file (human-eval convention:
// {"task_id", "completion"} per line) against a dataset's tests with the real executor, and writes
// for each sample its outcome, the fine-grained category and why, the penalised span (line and
// tokens) and the rewards of RLTF's feedback (adaptive + fine-grained).
//
//   rltf-inspect --dataset humaneval|humaneval-plus|mbpp|mbpp-plus|apps:DIR|NAME:PATH
//                --samples FILE --tokenizer DIR|bytes [--alpha paper|one] [--table FILE.json]
//                [--format text|jsonl] [--out FILE] [--max-new-tokens N] [--data DIR]
//                [--workers N] [--timeout SECONDS]
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

#include <rltf_programs/cli.hpp>
#include <rltf/core/error.hpp>
#include <rltf/data/datasets.hpp>
#include <rltf/data/samples.hpp>
#include <rltf/exec/job.hpp>
#include <rltf/exec/python_executor.hpp>
#include <rltf/feedback/rltf_feedback.hpp>
#include <rltf/tokenize/char.hpp>
#include <rltf/tokenize/gpt2.hpp>

namespace {

struct Args {
  std::string dataset;
  std::filesystem::path samples;
  std::string tokenizer;
  rltf::Alpha alpha = rltf::Alpha::paper;
  std::filesystem::path table;
  std::string format = "text";
  std::filesystem::path out;
  std::size_t max_new_tokens = 0; ///< samples with at least this many tokens count as truncated (0: none)
  std::filesystem::path data = RLTF_DATA_DIR;
  std::size_t workers = 0;
  double timeout = 3.0;
};

constexpr const char* usage =
    "usage: rltf-inspect --dataset humaneval|humaneval-plus|mbpp|mbpp-plus|apps:DIR|NAME:PATH\n"
    "                    --samples FILE --tokenizer DIR|bytes [--alpha paper|one] [--table FILE.json]\n"
    "                    [--format text|jsonl] [--out FILE] [--max-new-tokens N] [--data DIR]\n"
    "                    [--workers N] [--timeout SECONDS]\n";

Args parse(int argc, char** argv) {
  Args a;
  for (rltf::CommandLine args(argc, argv); args.next();) {
    if (args.is("--help") || args.is("-h")) {
      std::cout << usage;
      std::exit(0);
    } else if (args.is("--dataset"))
      a.dataset = args.value();
    else if (args.is("--samples"))
      a.samples = args.value();
    else if (args.is("--tokenizer"))
      a.tokenizer = args.value();
    else if (args.is("--alpha"))
      a.alpha = args.choice_value<rltf::Alpha>({{"paper", rltf::Alpha::paper}, {"one", rltf::Alpha::one}});
    else if (args.is("--table"))
      a.table = args.value();
    else if (args.is("--format"))
      a.format = args.choice_value<std::string>({{"text", "text"}, {"jsonl", "jsonl"}});
    else if (args.is("--out"))
      a.out = args.value();
    else if (args.is("--max-new-tokens"))
      a.max_new_tokens = args.unsigned_value();
    else if (args.is("--data"))
      a.data = args.value();
    else if (args.is("--workers"))
      a.workers = args.unsigned_value();
    else if (args.is("--timeout"))
      a.timeout = args.positive_value();
    else
      args.unknown();
  }
  if (a.dataset.empty() || a.samples.empty() || a.tokenizer.empty())
    throw rltf::invalid_argument(std::string("--dataset, --samples and --tokenizer are required\n") + usage);
  return a;
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
  if (!args.out.empty()) {
    file.open(args.out);
    if (!file) throw rltf::io_error("cannot write '" + args.out.string() + "'");
  }
  std::ostream& out = args.out.empty() ? std::cout : file;
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
  try {
    const Args args = parse(argc, argv);
    if (args.tokenizer == "bytes") return inspect(args, rltf::CharTokenizer::bytes());
    return inspect(args, rltf::Gpt2Tokenizer::from_directory(args.tokenizer));
  } catch (const std::exception& e) {
    std::cerr << "rltf-inspect: " << e.what() << "\n";
    return 2;
  }
}
