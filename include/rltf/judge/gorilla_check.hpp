#pragma once
/// \file
/// rltf::GorillaChecker — program analysis of generated API code against the Gorilla API database,
/// all of it in rltf::PythonExecutor's sandbox (docs/rlaif.md, "The AST criterion" and
/// "Executability"). The candidate code never runs, nor is parsed, in the host process.
///
/// ```cpp
/// rltf::PythonExecutor executor;
/// rltf::GorillaChecker checker(executor, rltf::load_gorilla_apis("data/gorilla/huggingface_api.jsonl.gz"));
/// auto analyses = checker.analyse(codes);              // parsed, never run
/// rltf::GorillaMatch m = checker.match(analyses[0]);   // {match, hallucination, api_name}
/// auto runs = checker.execute(codes);                  // against the stub library
/// bool ok = rltf::GorillaChecker::executable(runs[0]);
/// ```
///
/// - **analyse**: one sandboxed job per program runs include/rltf/judge/detail/gorilla.py with the
///   code as data: compile(), the imports (each resolvable in the stub library or on the machine),
///   undefined names (pyflakes), completeness, and every call with a plain dotted callee (its
///   arguments: string constants as their value, names bound once to a string constant as that
///   string, anything else as ast.unparse text; keyword values without their names).
/// - **match** (Gorilla's AST criterion): a database entry matches when some call's callee equals
///   the entry's api_call callee (or ends with "." + it: `rl_zoo3.load_from_hub`) and every argument
///   of the entry's call is among the call's arguments. The first matching entry in file order is
///   the match. No match and a `from_pretrained`/`pipeline` model id outside the database: a
///   hallucination.
/// - **execute**: the stub library (fake modules generated from the database: see gorilla.py
///   `_rltf_spec`) is installed, then the code runs; executable means the executor's outcome is
///   `pass` (it compiled and ran to completion within the limits).

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/data/gorilla.hpp"
#include "rltf/exec/python_executor.hpp"
#include "rltf/judge/detail/gorilla_script.hpp"

namespace rltf {

/// One call of a program (or a database api_call).
struct GorillaCall {
  std::string func;              ///< the callee's dotted text: "AutoModel.from_pretrained", "pipeline"
  std::vector<std::string> args; ///< positional then keyword values (see the file comment)
  std::vector<std::string> ids;  ///< model ids it fetches (from_pretrained's first, pipeline's model)
  std::size_t line = 0;          ///< 1-based line in the program (0 for database calls)
};

/// What the analysis job found in one program.
struct GorillaAnalysis {
  std::optional<std::string> syntax_error;  ///< "line N: message" when compile() failed
  bool truncated = false;                   ///< the syntax error is on the last line (cut off mid-statement)
  std::vector<std::string> import_problems; ///< "line N: no module x …"
  std::vector<std::string> undefined;       ///< pyflakes' undefined names: "line N: undefined name 'x'"
  std::vector<std::string> incomplete;      ///< why the program is not complete ("line N: ... placeholder")
  std::vector<GorillaCall> calls;
  [[nodiscard]] bool compiles() const noexcept { return !syntax_error.has_value(); }
};

/// The AST criterion's verdict on one program.
struct GorillaMatch {
  bool match = false;                   ///< an API database entry matches a call of the program
  bool hallucination = false;           ///< no match, and a model id the database does not have
  std::size_t api_index = 0;            ///< the matching entry (when match)
  std::string api_name;                 ///< its api_name (when match)
  std::vector<std::string> unknown_ids; ///< model ids fetched that are not in the database
  bool known_function = false;          ///< some call's callee is the callee of a database api_call
};

/// Limits of the checker's sandboxed jobs.
struct GorillaCheckOptions {
  Limits analysis_limits{.test_timeout_s = 10.0, .program_timeout_s = 20.0, .cpu_time_s = 20.0};
  Limits execution_limits{.test_timeout_s = 5.0, .program_timeout_s = 5.0, .cpu_time_s = 5.0};
};
RLTF_OPTIONS_JSON(GorillaCheckOptions, analysis_limits, execution_limits)

class GorillaChecker {
public:
  /// Parses the database's api_calls and builds the stub library's specification (two sandboxed
  /// jobs). Throws rltf::executor_error when the analysis script fails.
  GorillaChecker(PythonExecutor& executor, std::vector<GorillaApi> apis, GorillaCheckOptions options = {})
      : executor_(executor), apis_(std::move(apis)), options_(std::move(options)) {
    // In chunks: the executor stalls on program sources of a few hundred kB.
    std::vector<std::string> calls;
    std::map<std::string, std::set<std::string>> modules;
    std::set<std::string> ids;
    for (std::size_t begin = 0; begin < apis_.size(); begin += chunk) {
      nlohmann::json db = nlohmann::json::array();
      for (std::size_t i = begin; i < std::min(apis_.size(), begin + chunk); ++i) {
        const auto& a = apis_[i];
        db.push_back({{"api_call", a.api_call},
                      {"api_name", a.api_name},
                      {"example_code", a.example_code},
                      {"framework", a.framework}});
        calls.push_back(a.api_call);
      }
      const auto spec = run_script("_rltf_spec(" + json_arg(db) + ")", options_.analysis_limits);
      for (const auto& [name, names] : spec.at("modules").items()) {
        auto& known = modules[name];
        for (const auto& n : names) known.insert(n.get<std::string>());
      }
      for (const auto& id : spec.at("ids")) ids.insert(id.get<std::string>());
    }
    nlohmann::json m = nlohmann::json::object();
    for (const auto& [name, names] : modules) m[name] = names;
    modules_json_ = m.dump();
    spec_json_ = nlohmann::json{{"modules", m}, {"ids", ids}}.dump();
    prelude_ =
        std::string(judge::detail::gorilla_script) + "\n_rltf_install(json.loads(" + python_string(spec_json_) + "))\n";
    ids_.insert(ids.begin(), ids.end());
    for (std::size_t begin = 0; begin < calls.size(); begin += 4 * chunk) {
      const auto part = parse_calls(
          std::span<const std::string>(calls).subspan(begin, std::min(calls.size(), begin + 4 * chunk) - begin));
      references_.insert(references_.end(), part.begin(), part.end());
    }
    for (const auto& r : references_)
      if (r) functions_.insert(r->func);
  }

  GorillaChecker(const GorillaChecker&) = delete;
  GorillaChecker& operator=(const GorillaChecker&) = delete;

  [[nodiscard]] const std::vector<GorillaApi>& apis() const noexcept { return apis_; }
  /// The parsed api_call of each database entry (nullopt: not valid Python, or no call).
  [[nodiscard]] const std::vector<std::optional<GorillaCall>>& references() const noexcept { return references_; }
  /// Whether `id` is a model id the database knows (api_name or an id its calls and examples fetch).
  [[nodiscard]] bool known_id(const std::string& id) const { return ids_.contains(id); }
  /// The stub library's specification: {"modules": {module: [names]}, "ids": [...]}.
  [[nodiscard]] const std::string& stub_spec() const noexcept { return spec_json_; }

  /// The first call of each text (as database api_calls are parsed).
  /// (Keep the texts to some tens of kB per call.)
  [[nodiscard]] std::vector<std::optional<GorillaCall>> parse_calls(std::span<const std::string> texts) const {
    const auto j = run_script("_rltf_parse_calls(" + json_arg(nlohmann::json(texts)) + ")", options_.analysis_limits);
    std::vector<std::optional<GorillaCall>> out;
    for (const auto& c : j) {
      if (c.is_null())
        out.emplace_back();
      else
        out.push_back(call_of(c));
    }
    return out;
  }

  /// Analyses each program in the sandbox (never runs it).
  [[nodiscard]] std::vector<GorillaAnalysis> analyse(std::span<const std::string> codes) const {
    std::vector<Job> jobs;
    jobs.reserve(codes.size());
    for (const auto& code : codes)
      jobs.push_back(Job{script_program("_rltf_analyse(" + python_string(code) + ", json.loads(" +
                                        python_string(modules_json_) + "))"),
                         {},
                         options_.analysis_limits});
    const auto results = executor_.run_all(jobs);
    std::vector<GorillaAnalysis> out;
    out.reserve(results.size());
    for (const auto& r : results) out.push_back(analysis_of(output_of(r)));
    return out;
  }
  [[nodiscard]] GorillaAnalysis analyse(const std::string& code) const {
    return analyse(std::span<const std::string>(&code, 1)).front();
  }

  /// Gorilla's AST criterion against the whole database.
  [[nodiscard]] GorillaMatch match(const GorillaAnalysis& a) const {
    GorillaMatch m;
    for (const auto& c : a.calls) {
      for (const auto& id : c.ids)
        if (!known_id(id)) m.unknown_ids.push_back(id);
      for (const auto& f : functions_)
        if (callee_matches(c.func, f)) m.known_function = true;
    }
    for (std::size_t i = 0; i < references_.size() && !m.match; ++i) {
      if (!references_[i] || references_[i]->args.empty()) continue; // as upstream: no arguments, no match
      for (const auto& c : a.calls)
        if (matches(c, *references_[i])) {
          m.match = true;
          m.api_index = i;
          m.api_name = apis_[i].api_name;
          break;
        }
    }
    m.hallucination = !m.match && !m.unknown_ids.empty();
    return m;
  }

  /// Whether `reference` (a parsed api_call) matches any call of `a`.
  [[nodiscard]] static bool matches(const GorillaAnalysis& a, const GorillaCall& reference) {
    for (const auto& c : a.calls)
      if (matches(c, reference)) return true;
    return false;
  }
  /// One call against one reference: the callee equal (or ending with "." + the reference's), every
  /// reference argument among the call's arguments.
  [[nodiscard]] static bool matches(const GorillaCall& call, const GorillaCall& reference) {
    if (!callee_matches(call.func, reference.func)) return false;
    for (const auto& want : reference.args) {
      bool found = false;
      for (const auto& have : call.args) found = found || have == want;
      if (!found) return false;
    }
    return true;
  }

  /// Runs each program against the stub library in the sandbox.
  [[nodiscard]] std::vector<ExecutionResult> execute(std::span<const std::string> codes) const {
    std::vector<Job> jobs;
    jobs.reserve(codes.size());
    for (const auto& code : codes) jobs.push_back(Job{with_stubs(Program{code, 0}), {}, options_.execution_limits});
    return executor_.run_all(jobs);
  }
  [[nodiscard]] ExecutionResult execute(const std::string& code) const {
    return execute(std::span<const std::string>(&code, 1)).front();
  }
  /// Compiled and ran to completion.
  [[nodiscard]] static bool executable(const ExecutionResult& r) noexcept { return r.outcome == Outcome::pass; }

  /// `program` preceded by the installation of the stub library; `completion_begin` moves with it,
  /// so that errors keep the program's own line numbers.
  [[nodiscard]] Program with_stubs(const Program& program) const {
    return Program{prelude_ + program.source, prelude_.size() + program.completion_begin};
  }

  /// The checker's executor with the stub library installed before every program (an
  /// rltf::Executor: trainers and rltf::evaluate run Gorilla programs with it). The checker must
  /// outlive it.
  class StubExecutor {
  public:
    explicit StubExecutor(const GorillaChecker& checker) noexcept : checker_(&checker) {}
    [[nodiscard]] ExecutionResult run(const Program& program, const TestSuite& tests, const Limits& limits) {
      return checker_->executor_.run(checker_->with_stubs(program), tests, limits);
    }
    [[nodiscard]] std::vector<ExecutionResult> run_all(std::span<const Job> jobs) {
      std::vector<Job> stubbed(jobs.begin(), jobs.end());
      for (auto& j : stubbed) j.program = checker_->with_stubs(j.program);
      return checker_->executor_.run_all(stubbed);
    }

  private:
    const GorillaChecker* checker_;
  };
  [[nodiscard]] StubExecutor stub_executor() const noexcept { return StubExecutor(*this); }

private:
  [[nodiscard]] static bool callee_matches(const std::string& have, const std::string& want) {
    return have == want ||
           (have.size() > want.size() && have.ends_with(want) && have[have.size() - want.size() - 1] == '.');
  }

  [[nodiscard]] static std::string python_string(const std::string& s) {
    return nlohmann::json(s).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  }
  [[nodiscard]] static std::string json_arg(const nlohmann::json& j) {
    return "json.loads(" + python_string(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) + ")";
  }
  [[nodiscard]] static Program script_program(const std::string& call) {
    return Program{std::string(judge::detail::gorilla_script) + "\n" + call + "\n", 0};
  }

  [[nodiscard]] nlohmann::json run_script(const std::string& call, const Limits& limits) const {
    return output_of(executor_.run(script_program(call), {}, limits));
  }

  /// The analysis line of a job that never ran candidate code.
  [[nodiscard]] static nlohmann::json output_of(const ExecutionResult& r) {
    constexpr std::string_view mark = "\x01RLTF ";
    const auto at = r.stdout_text.rfind(mark);
    if (r.outcome != Outcome::pass || at == std::string::npos) {
      std::string why = std::string(to_string(r.outcome));
      if (r.error) why += ": " + r.error->type + ": " + r.error->message;
      throw executor_error("rltf::GorillaChecker: the analysis script failed (" + why + ")" +
                           (r.stderr_text.empty() ? "" : "; stderr: " + r.stderr_text.substr(0, 2000)));
    }
    const auto end = r.stdout_text.find('\n', at);
    return nlohmann::json::parse(r.stdout_text.substr(at + mark.size(), end - at - mark.size()));
  }

  [[nodiscard]] static std::vector<std::string> strings(const nlohmann::json& j) {
    std::vector<std::string> out;
    for (const auto& x : j) out.push_back(x.get<std::string>());
    return out;
  }

  [[nodiscard]] static GorillaCall call_of(const nlohmann::json& c) {
    GorillaCall call;
    call.func = c.at("func").get<std::string>();
    call.args = strings(c.at("args"));
    call.ids = strings(c.at("ids"));
    call.line = c.value("line", std::size_t{0});
    return call;
  }

  [[nodiscard]] static GorillaAnalysis analysis_of(const nlohmann::json& j) {
    GorillaAnalysis a;
    if (!j.at("syntax").is_null()) a.syntax_error = j["syntax"].get<std::string>();
    a.truncated = j.at("truncated").get<bool>();
    a.import_problems = strings(j.at("imports"));
    a.undefined = strings(j.at("undefined"));
    a.incomplete = strings(j.at("incomplete"));
    for (const auto& c : j.at("calls")) a.calls.push_back(call_of(c));
    return a;
  }

  static constexpr std::size_t chunk = 100; ///< database entries per specification job

  PythonExecutor& executor_;
  std::vector<GorillaApi> apis_;
  GorillaCheckOptions options_;
  std::string spec_json_, modules_json_;
  std::string prelude_; ///< the gorilla script and the installation of the stub library
  std::unordered_set<std::string> ids_;
  std::vector<std::optional<GorillaCall>> references_;
  std::unordered_set<std::string> functions_;
};

static_assert(Executor<GorillaChecker::StubExecutor>);

} // namespace rltf
