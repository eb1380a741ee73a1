#pragma once
/// \file
/// AI-feedback labels (RLAIF for code, arXiv 2406.20060): a judge answers yes/no questions about
/// each (instruction, code); the "yes" count is the score; a score ≥ `accept_at` labels the sample
/// accepted, ≤ `reject_at` rejected, anything between is dropped.
///
/// rltf::label_jsonl labels a JSONL file line by line into another, resumable after any stop (even
/// `kill -9`): every labelled line is written and fsync'ed in input order; a run started again
/// keeps the output's complete lines, cuts a torn last line, checks that the kept lines are the
/// input's, and continues after them. With a judge that caches its answers (HttpJudge with a cache
/// file), no question is asked twice.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/feedback/judge.hpp"

namespace rltf {

/// Thresholds and questions of the labelling.
struct LabelOptions {
  std::size_t accept_at = 7; ///< score ≥ this: accepted
  std::size_t reject_at = 4; ///< score ≤ this: rejected
  std::vector<std::string> questions{default_judge_questions().begin(), default_judge_questions().end()};
  std::size_t workers = 4; ///< samples judged at once
};

/// "accepted", "rejected" or "dropped".
[[nodiscard]] inline std::string label_of(std::size_t score, const LabelOptions& o) {
  if (score >= o.accept_at) return "accepted";
  if (score <= o.reject_at) return "rejected";
  return "dropped";
}

/// Counts of a labelled file.
struct LabelSummary {
  std::vector<std::size_t> histogram; ///< [score] → samples, score 0..questions
  std::size_t accepted = 0, rejected = 0, dropped = 0;
  std::size_t resumed = 0;  ///< lines already in the output when the run started
  std::size_t labelled = 0; ///< lines labelled by this run
  [[nodiscard]] std::size_t total() const noexcept { return accepted + rejected + dropped; }
  [[nodiscard]] nlohmann::ordered_json to_json() const {
    nlohmann::ordered_json h = nlohmann::ordered_json::object();
    for (std::size_t s = 0; s < histogram.size(); ++s) h[std::to_string(s)] = histogram[s];
    return {
        {"samples", total()}, {"accepted", accepted}, {"rejected", rejected}, {"dropped", dropped}, {"histogram", h}};
  }
};

namespace judge::detail {

struct LabelInput {
  nlohmann::ordered_json row;
  std::string instruction, code;
};

[[nodiscard]] inline std::vector<LabelInput> read_label_input(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw io_error("rltf: cannot read " + file.string());
  std::vector<LabelInput> out;
  std::size_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::ordered_json row;
    try {
      row = nlohmann::ordered_json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw parse_error(file.string(), line_no, "", std::string("invalid JSON: ") + e.what());
    }
    if (!row.is_object()) throw parse_error(file.string(), line_no, "", "expected a JSON object");
    LabelInput x;
    for (const char* key : {"instruction", "code"}) {
      const auto it = row.find(key);
      if (it == row.end()) throw parse_error(file.string(), line_no, key, "missing");
      if (!it->is_string()) throw parse_error(file.string(), line_no, key, "expected a string");
    }
    x.instruction = row["instruction"].get<std::string>();
    x.code = row["code"].get<std::string>();
    x.row = std::move(row);
    out.push_back(std::move(x));
  }
  return out;
}

/// The complete lines of an earlier output (a torn last line is cut from the file).
[[nodiscard]] inline std::vector<nlohmann::ordered_json> keep_complete_output(const std::filesystem::path& file) {
  std::vector<nlohmann::ordered_json> rows;
  if (!std::filesystem::exists(file)) return rows;
  std::string text;
  {
    std::ifstream in(file, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::size_t good = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    const auto end = text.find('\n', pos);
    if (end == std::string::npos) break; // torn: written without its newline
    auto row = nlohmann::ordered_json::parse(std::string_view(text).substr(pos, end - pos), nullptr, false);
    if (row.is_discarded() || !row.is_object() || !row.contains("label")) break;
    rows.push_back(std::move(row));
    pos = good = end + 1;
  }
  if (good != text.size()) std::filesystem::resize_file(file, good);
  return rows;
}

inline void write_synced(int fd, const std::string& bytes, const std::filesystem::path& file) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) throw io_error("rltf: cannot write " + file.string() + ": " + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) throw io_error("rltf: cannot sync " + file.string() + ": " + std::strerror(errno));
}

} // namespace judge::detail

/// Labels `input` (JSONL lines with string fields "instruction" and "code"; other fields are kept)
/// into `output`: each line gets `answers` (one bool per question), `score` (the yes count) and
/// `label`. Resumes an output left by an earlier run (see the file comment); `progress(done, total)`
/// is called after every batch. Throws rltf::parse_error naming the file, line and field for bad
/// input, and rltf::invalid_argument when the output's lines are not the input's.
template <Judge J>
LabelSummary label_jsonl(J& judge, const std::filesystem::path& input, const std::filesystem::path& output,
                         const LabelOptions& opt = {},
                         const std::function<void(std::size_t, std::size_t)>& progress = {}) {
  if (opt.questions.empty()) throw invalid_argument("rltf: label_jsonl: no questions");
  if (opt.reject_at >= opt.accept_at)
    throw invalid_argument("rltf: label_jsonl: reject_at (" + std::to_string(opt.reject_at) +
                           ") must be below accept_at (" + std::to_string(opt.accept_at) + ")");
  const auto inputs = judge::detail::read_label_input(input);
  auto rows = judge::detail::keep_complete_output(output);
  if (rows.size() > inputs.size())
    throw invalid_argument("rltf: " + output.string() + " has " + std::to_string(rows.size()) + " labelled lines but " +
                           input.string() + " only " + std::to_string(inputs.size()) +
                           ": the output belongs to another input; choose another output file");
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows[i].value("instruction", std::string()) != inputs[i].instruction ||
        rows[i].value("code", std::string()) != inputs[i].code)
      throw invalid_argument("rltf: " + output.string() + ":" + std::to_string(i + 1) + " is not the labelling of " +
                             input.string() + "'s line " + std::to_string(i + 1) +
                             ": the output belongs to another input; choose another output file");
  LabelSummary summary;
  summary.resumed = rows.size();
  const int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw io_error("rltf: cannot open " + output.string() + ": " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  const std::size_t workers = std::max<std::size_t>(1, opt.workers);
  if (progress) progress(rows.size(), inputs.size());
  for (std::size_t begin = rows.size(); begin < inputs.size(); begin += workers) {
    const std::size_t end = std::min(inputs.size(), begin + workers);
    std::vector<Judgement> got(end - begin);
    std::vector<std::exception_ptr> errors(end - begin);
    {
      std::vector<std::jthread> threads;
      for (std::size_t i = begin; i < end; ++i)
        threads.emplace_back([&, i] {
          try {
            got[i - begin] = judge.judge(inputs[i].instruction, inputs[i].code, opt.questions);
          } catch (...) {
            errors[i - begin] = std::current_exception();
          }
        });
    }
    std::string bytes;
    for (std::size_t i = begin; i < end; ++i) {
      if (errors[i - begin]) std::rethrow_exception(errors[i - begin]);
      const Judgement& j = got[i - begin];
      if (j.answers.size() != opt.questions.size())
        throw invalid_argument("rltf: label_jsonl: the judge gave " + std::to_string(j.answers.size()) +
                               " answers to " + std::to_string(opt.questions.size()) + " questions");
      auto row = inputs[i].row;
      row["answers"] = j.answers;
      row["score"] = j.yes_count();
      row["label"] = label_of(j.yes_count(), opt);
      bytes += row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
      rows.push_back(std::move(row));
      ++summary.labelled;
    }
    judge::detail::write_synced(fd, bytes, output);
    if (progress) progress(end, inputs.size());
  }
  summary.histogram.assign(opt.questions.size() + 1, 0);
  for (const auto& row : rows) {
    const auto score = row.value("score", std::size_t{0});
    if (score < summary.histogram.size()) ++summary.histogram[score];
    const std::string label = label_of(score, opt);
    (label == "accepted" ? summary.accepted : label == "rejected" ? summary.rejected : summary.dropped) += 1;
  }
  return summary;
}

} // namespace rltf
