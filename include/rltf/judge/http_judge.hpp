#pragma once
/// \file
/// rltf::HttpJudge — a Judge backed by any OpenAI-compatible chat-completions server (vLLM,
/// llama.cpp's server, Ollama, hosted APIs), through cpp-httplib (Debian's libcpp-httplib).
///
/// Each question is one request at temperature 0 (`POST {base_url}/chat/completions`). The answer
/// is read from the first token's log-probabilities when the server returns them (yes vs no),
/// else from a JSON object {"answer": "yes"} or a leading Yes/No in the message. Connection and
/// read timeouts; retries with exponential backoff and full jitter on connection errors, timeouts,
/// 5xx, 429 (honouring Retry-After) and malformed bodies; other 4xx fail at once. At most
/// `max_concurrency` requests are in flight per judge, whichever threads call it. With a cache
/// file, every answer is stored before it is returned and never asked for again.
///
/// \code
/// rltf::HttpJudge judge({.base_url = "http://127.0.0.1:8000/v1", .model = "Qwen2.5-Coder-32B-Instruct",
///                        .cache = "labels.sqlite"});
/// rltf::Judgement j = judge.judge(instruction, code, rltf::default_judge_questions());
/// \endcode

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/feedback/judge.hpp"
#include "rltf/judge/answer_cache.hpp"
#include "rltf/judge/detail/answer.hpp"
#include "rltf/judge/error.hpp"
#include "rltf/judge/prompt.hpp"

namespace rltf {

/// Options of HttpJudge.
struct HttpJudgeOptions {
  std::string base_url = "http://127.0.0.1:8000/v1"; ///< up to and including the API version path
  std::string model;                                 ///< the server's model name (required)
  std::string api_key_env = "OPENAI_API_KEY";        ///< environment variable holding the key ("" : none)
  double connect_timeout_s = 10.0;
  double read_timeout_s = 120.0;
  std::size_t max_retries = 5;     ///< retries after the first attempt
  double backoff_initial_s = 0.5;  ///< the first retry waits up to this long (full jitter)
  double backoff_max_s = 30.0;     ///< cap on one wait, Retry-After included
  std::size_t max_concurrency = 4; ///< requests in flight at once
  std::size_t max_tokens = 16;     ///< the answer is a word
  bool logprobs = true;            ///< ask for top_logprobs (servers that cannot ignore it)
  JudgePrompt prompt{};            ///< how a question is put
  std::filesystem::path cache;     ///< SQLite answer cache; empty: none
  std::uint64_t seed = 0;          ///< of the backoff jitter
};

/// Counters of an HttpJudge, for logs and tests.
struct HttpJudgeStats {
  std::size_t requests = 0;   ///< HTTP requests sent (attempts, retries included)
  std::size_t retries = 0;    ///< attempts after a failed one
  std::size_t cache_hits = 0; ///< questions answered from the cache
  std::size_t answered = 0;   ///< questions answered by the server
};

/// A Judge asking an OpenAI-compatible server. Thread-safe.
class HttpJudge {
public:
  explicit HttpJudge(HttpJudgeOptions options) : opt_(std::move(options)), rng_(opt_.seed) {
    if (opt_.model.empty()) throw invalid_argument("rltf: HttpJudge needs a model name (HttpJudgeOptions::model)");
    if (opt_.max_concurrency == 0) throw invalid_argument("rltf: HttpJudge: max_concurrency must be at least 1");
    const auto scheme = opt_.base_url.find("://");
    if (scheme == std::string::npos ||
        (opt_.base_url.compare(0, scheme, "http") != 0 && opt_.base_url.compare(0, scheme, "https") != 0))
      throw invalid_argument("rltf: HttpJudge: base_url must start with http:// or https://, got '" + opt_.base_url +
                             "'");
    const auto path = opt_.base_url.find('/', scheme + 3);
    origin_ = opt_.base_url.substr(0, path);
    path_ = path == std::string::npos ? std::string() : opt_.base_url.substr(path);
    while (!path_.empty() && path_.back() == '/') path_.pop_back();
    path_ += "/chat/completions";
    if (!opt_.api_key_env.empty())
      if (const char* key = std::getenv(opt_.api_key_env.c_str()); key != nullptr && *key != '\0') api_key_ = key;
    if (!opt_.cache.empty()) cache_ = std::make_unique<JudgeCache>(opt_.cache);
  }

  /// One answer per question (see the file comment for how it is read). Throws rltf::judge_error
  /// when a question cannot be answered: after the retries, on a 4xx other than 429, or when the
  /// answer is neither yes nor no.
  [[nodiscard]] Judgement judge(std::string_view instruction, std::string_view code,
                                std::span<const std::string> questions) {
    Judgement j;
    j.answers.assign(questions.size(), false);
    std::vector<std::size_t> ask;
    for (std::size_t q = 0; q < questions.size(); ++q) {
      if (cache_)
        if (const auto hit = cache_->find(opt_.model, questions[q], instruction, code)) {
          j.answers[q] = *hit;
          const std::scoped_lock lock(stats_mutex_);
          ++stats_.cache_hits;
          continue;
        }
      ask.push_back(q);
    }
    std::vector<std::exception_ptr> errors(ask.size());
    std::vector<char> answers(ask.size(), 0);
    const auto one = [&](std::size_t i) {
      try {
        answers[i] = ask_one(instruction, code, questions[ask[i]]) ? 1 : 0;
      } catch (...) {
        errors[i] = std::current_exception();
      }
    };
    if (ask.size() == 1) {
      one(0);
    } else if (!ask.empty()) {
      std::vector<std::jthread> threads;
      threads.reserve(ask.size());
      for (std::size_t i = 0; i < ask.size(); ++i) threads.emplace_back(one, i);
    }
    for (std::size_t i = 0; i < ask.size(); ++i) {
      if (errors[i]) std::rethrow_exception(errors[i]);
      j.answers[ask[i]] = answers[i] != 0;
    }
    return j;
  }

  [[nodiscard]] HttpJudgeStats stats() const {
    const std::scoped_lock lock(stats_mutex_);
    return stats_;
  }
  [[nodiscard]] const HttpJudgeOptions& options() const noexcept { return opt_; }

private:
  /// Holds one of the `max_concurrency` request slots.
  class Slot {
  public:
    explicit Slot(HttpJudge& j) : j_(j) {
      std::unique_lock lock(j_.slot_mutex_);
      j_.slot_cv_.wait(lock, [&] { return j_.in_flight_ < j_.opt_.max_concurrency; });
      ++j_.in_flight_;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() {
      {
        const std::scoped_lock lock(j_.slot_mutex_);
        --j_.in_flight_;
      }
      j_.slot_cv_.notify_one();
    }

  private:
    HttpJudge& j_;
  };

  [[nodiscard]] std::string request_body(std::string_view instruction, std::string_view code,
                                         std::string_view question) const {
    nlohmann::json body = {{"model", opt_.model},
                           {"temperature", 0},
                           {"max_tokens", opt_.max_tokens},
                           {"messages", opt_.prompt.messages(instruction, code, question)}};
    if (opt_.logprobs) {
      body["logprobs"] = true;
      body["top_logprobs"] = 5;
    }
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  /// Seconds to wait before retry `attempt` (1-based): full jitter on an exponential, or the
  /// server's Retry-After when it gave one; both capped.
  [[nodiscard]] double backoff(std::size_t attempt, std::optional<double> retry_after) {
    if (retry_after) return std::min(*retry_after, opt_.backoff_max_s);
    const double ceiling =
        std::min(opt_.backoff_max_s, opt_.backoff_initial_s * std::ldexp(1.0, static_cast<int>(attempt) - 1));
    const std::scoped_lock lock(rng_mutex_);
    return std::uniform_real_distribution<double>(0.0, ceiling)(rng_);
  }

  [[nodiscard]] static std::optional<double> retry_after_seconds(const httplib::Response& r) {
    if (!r.has_header("Retry-After")) return std::nullopt;
    const std::string v = r.get_header_value("Retry-After");
    char* end = nullptr;
    const double s = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || *end != '\0' || !(s >= 0.0) || !std::isfinite(s)) return std::nullopt; // an HTTP date
    return s;
  }

  [[nodiscard]] bool ask_one(std::string_view instruction, std::string_view code, const std::string& question) {
    const std::string body = request_body(instruction, code, question);
    const std::string where = "POST " + origin_ + path_ + " (model '" + opt_.model + "')";
    std::string last;
    for (std::size_t attempt = 0;; ++attempt) {
      std::optional<double> retry_after;
      {
        const Slot slot(*this);
        {
          const std::scoped_lock lock(stats_mutex_);
          ++stats_.requests;
          if (attempt > 0) ++stats_.retries;
        }
        httplib::Client client(origin_);
        client.set_connection_timeout(std::chrono::duration<double>(opt_.connect_timeout_s));
        client.set_read_timeout(std::chrono::duration<double>(opt_.read_timeout_s));
        client.set_write_timeout(std::chrono::duration<double>(opt_.read_timeout_s));
        httplib::Headers headers;
        if (!api_key_.empty()) headers.emplace("Authorization", "Bearer " + api_key_);
        const auto res = client.Post(path_, headers, body, "application/json");
        if (!res) {
          last = "no response: " + httplib::to_string(res.error());
        } else if (res->status == 200) {
          bool malformed = false;
          try {
            const auto parsed = judge::detail::parse_chat_response(res->body, malformed);
            if (cache_) cache_->store(opt_.model, question, instruction, code, parsed.yes, parsed.text);
            const std::scoped_lock lock(stats_mutex_);
            ++stats_.answered;
            return parsed.yes;
          } catch (const judge_error& e) {
            if (!malformed) throw judge_error(where + ": question '" + question + "': " + e.what());
            last = e.what();
          }
        } else if (res->status == 429 || res->status >= 500) {
          last = "HTTP " + std::to_string(res->status) + " " + snippet(res->body);
          retry_after = retry_after_seconds(*res);
        } else {
          throw judge_error(where + ": HTTP " + std::to_string(res->status) + " " + snippet(res->body) +
                            (res->status == 401 || res->status == 403
                                 ? " (check the API key in $" + opt_.api_key_env + ")"
                                 : std::string()));
        }
      }
      if (attempt >= opt_.max_retries)
        throw judge_error(where + ": gave up after " + std::to_string(attempt + 1) + " attempts; last: " + last);
      std::this_thread::sleep_for(std::chrono::duration<double>(backoff(attempt + 1, retry_after)));
    }
  }

  [[nodiscard]] static std::string snippet(std::string_view body) {
    std::string s(body.substr(0, 200));
    if (body.size() > 200) s += "...";
    return "'" + s + "'";
  }

  HttpJudgeOptions opt_;
  std::string origin_;
  std::string path_;
  std::string api_key_;
  std::unique_ptr<JudgeCache> cache_;
  std::mutex slot_mutex_;
  std::condition_variable slot_cv_;
  std::size_t in_flight_ = 0;
  std::mutex rng_mutex_;
  std::mt19937_64 rng_;
  mutable std::mutex stats_mutex_;
  HttpJudgeStats stats_;
};

static_assert(Judge<HttpJudge>);

} // namespace rltf
