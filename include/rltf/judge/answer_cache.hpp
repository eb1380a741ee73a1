#pragma once
/// \file
/// rltf::JudgeCache — a persistent cache of a judge's answers, keyed by (model, question,
/// instruction, code), in an SQLite database (Debian's libsqlite3), so that a stopped labelling run
/// resumes without asking any question twice. Every answer is committed before the judge returns
/// it (WAL journal): a process killed at any point loses nothing it was told.
///
/// \code
/// rltf::JudgeCache cache("labels.sqlite");
/// if (auto a = cache.find("gpt-4o", question, instruction, code)) use(*a);
/// else cache.store("gpt-4o", question, instruction, code, answer, raw_text);
/// \endcode

#include <sqlite3.h>

#include <cstddef>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "rltf/judge/error.hpp"

namespace rltf {

/// Answers by (model, question, instruction, code). Thread-safe.
class JudgeCache {
public:
  /// Opens (or creates) the cache at `file`. Throws rltf::judge_error naming the file when it is not
  /// an SQLite database (corrupt, or another kind of file) or cannot be opened.
  explicit JudgeCache(std::filesystem::path file) : file_(std::move(file)) {
    if (sqlite3_open_v2(file_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
      const std::string why = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
      close();
      throw judge_error("cannot open the answer cache " + file_.string() + ": " + why);
    }
    sqlite3_busy_timeout(db_, 10000);
    try {
      exec("PRAGMA journal_mode=WAL");
      exec("PRAGMA synchronous=NORMAL");
      exec("CREATE TABLE IF NOT EXISTS rltf_judge_answers (model TEXT NOT NULL, question TEXT NOT NULL, "
           "instruction TEXT NOT NULL, code TEXT NOT NULL, answer INTEGER NOT NULL, raw TEXT NOT NULL, "
           "PRIMARY KEY (model, question, instruction, code))");
      check_integrity();
    } catch (...) {
      close();
      throw;
    }
  }
  JudgeCache(const JudgeCache&) = delete;
  JudgeCache& operator=(const JudgeCache&) = delete;
  ~JudgeCache() { close(); }

  [[nodiscard]] const std::filesystem::path& file() const noexcept { return file_; }

  /// The cached answer, if any.
  [[nodiscard]] std::optional<bool> find(std::string_view model, std::string_view question,
                                         std::string_view instruction, std::string_view code) {
    const std::scoped_lock lock(mutex_);
    Statement st(*this, "SELECT answer FROM rltf_judge_answers WHERE model=?1 AND question=?2 AND instruction=?3 AND "
                        "code=?4");
    bind_key(st, model, question, instruction, code);
    const int rc = sqlite3_step(st.get());
    if (rc == SQLITE_ROW) return sqlite3_column_int(st.get(), 0) != 0;
    if (rc != SQLITE_DONE) fail("reading");
    return std::nullopt;
  }

  /// Records an answer (replacing an older one for the same key); committed when this returns.
  void store(std::string_view model, std::string_view question, std::string_view instruction, std::string_view code,
             bool answer, std::string_view raw) {
    const std::scoped_lock lock(mutex_);
    Statement st(*this, "INSERT OR REPLACE INTO rltf_judge_answers (model, question, instruction, code, answer, raw) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    bind_key(st, model, question, instruction, code);
    st.bind(6, raw);
    sqlite3_bind_int(st.get(), 5, answer ? 1 : 0);
    if (sqlite3_step(st.get()) != SQLITE_DONE) fail("writing");
  }

  /// The number of cached answers.
  [[nodiscard]] std::size_t size() {
    const std::scoped_lock lock(mutex_);
    Statement st(*this, "SELECT COUNT(*) FROM rltf_judge_answers");
    if (sqlite3_step(st.get()) != SQLITE_ROW) fail("counting");
    return static_cast<std::size_t>(sqlite3_column_int64(st.get(), 0));
  }

private:
  class Statement {
  public:
    Statement(JudgeCache& c, const char* sql) : cache_(c) {
      if (sqlite3_prepare_v2(c.db_, sql, -1, &st_, nullptr) != SQLITE_OK) c.fail("preparing a query on");
    }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement() { sqlite3_finalize(st_); }
    void bind(int i, std::string_view s) {
      if (sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT) != SQLITE_OK)
        cache_.fail("binding a value for");
    }
    [[nodiscard]] sqlite3_stmt* get() const noexcept { return st_; }

  private:
    JudgeCache& cache_;
    sqlite3_stmt* st_ = nullptr;
  };

  static void bind_key(Statement& st, std::string_view model, std::string_view question, std::string_view instruction,
                       std::string_view code) {
    st.bind(1, model);
    st.bind(2, question);
    st.bind(3, instruction);
    st.bind(4, code);
  }
  /// PRAGMA quick_check answers one row "ok", or rows describing the damage.
  void check_integrity() {
    Statement st(*this, "PRAGMA quick_check");
    std::string report;
    for (int rc = sqlite3_step(st.get()); rc != SQLITE_DONE; rc = sqlite3_step(st.get())) {
      if (rc != SQLITE_ROW) fail("checking");
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 0));
      if (text != nullptr && std::string_view(text) != "ok") report += (report.empty() ? "" : "; ") + std::string(text);
    }
    if (!report.empty())
      throw judge_error("the answer cache " + file_.string() + " is corrupt (" + report.substr(0, 300) +
                        "): move it away to start a new one");
  }
  void exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      const std::string why = msg != nullptr ? msg : sqlite3_errmsg(db_);
      sqlite3_free(msg);
      throw judge_error("the answer cache " + file_.string() + " is unusable (" + why +
                        "); it is not an rltf judge cache or it is corrupt: move it away to start a new one");
    }
  }
  [[noreturn]] void fail(const char* doing) const {
    throw judge_error(std::string("SQLite failed ") + doing + " the answer cache " + file_.string() + ": " +
                      sqlite3_errmsg(db_));
  }
  void close() noexcept {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = nullptr;
  }

  std::filesystem::path file_;
  sqlite3* db_ = nullptr;
  std::mutex mutex_;
};

} // namespace rltf
