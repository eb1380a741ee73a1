#pragma once
/// \file
/// A PCRE2 regular expression (UTF-8, Unicode properties, JIT) for tokenizer.json's Split
/// pre-tokenizers. Internal to rltf's tokenizers.
///
/// Hugging Face's tokenizers run these patterns with Oniguruma, whose `\s` is Unicode White_Space;
/// PCRE2's `\s` (with PCRE2_UCP) lacks U+0085 NEXT LINE, so `\s` and `\S` outside a character class,
/// and `\s` inside one, are rewritten to add it (onig_compatible_pattern). Subjects may hold invalid
/// UTF-8 (PCRE2_MATCH_INVALID_UTF): no pattern character matches an invalid byte.

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "rltf/core/error.hpp"
#include "rltf/tokenize/detail/utf8.hpp"

namespace rltf::tokenize::detail {

/// `pattern` with `\s` / `\S` widened to Unicode White_Space (adds U+0085) as Oniguruma reads them.
/// `\S` inside a character class is left as is (PCRE2 then also counts U+0085 as non-space there).
[[nodiscard]] inline std::string onig_compatible_pattern(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 16);
  bool in_class = false;
  bool class_start = false; // just after '[' or '[^': a ']' here is a literal
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      if (e == 'Q') { // \Q...\E: literal text, copied unchanged
        const std::size_t end = pattern.find("\\E", i + 1);
        const std::size_t stop = end == std::string_view::npos ? pattern.size() : end + 2;
        out.append(pattern.substr(i - 1, stop - (i - 1)));
        i = stop - 1;
      } else if (e == 's') {
        out += in_class ? "\\s\\x{85}" : "[\\s\\x{85}]";
      } else if (e == 'S' && !in_class) {
        out += "[^\\s\\x{85}]";
      } else {
        out += c;
        out += e;
      }
      class_start = false;
      continue;
    }
    out += c;
    if (in_class) {
      if (c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') { // [:alpha:]
        const std::size_t end = pattern.find(":]", i + 2);
        if (end != std::string_view::npos) {
          out.append(pattern.substr(i + 1, end + 2 - (i + 1)));
          i = end + 1;
        }
      } else if (c == ']' && !class_start) {
        in_class = false;
      }
      class_start = class_start && c == '^' && pattern[i - 1] == '[';
    } else if (c == '[') {
      in_class = true;
      class_start = true;
    }
  }
  return out;
}

/// A compiled pattern. Matching is thread-safe (each thread has its own match data and JIT stack).
class regex {
public:
  /// Compiles `pattern` (after onig_compatible_pattern). Throws rltf::invalid_argument with PCRE2's
  /// message and the offset in the pattern when it does not compile.
  explicit regex(const std::string& pattern) : source_(pattern) {
    const std::string rewritten = onig_compatible_pattern(pattern);
    int code = 0;
    PCRE2_SIZE at = 0;
    pcre2_code* compiled = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rewritten.data()), rewritten.size(),
                                         PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code, &at, nullptr);
    if (compiled == nullptr)
      throw invalid_argument("regex '" + pattern + "' does not compile: " + message(code) + " (at offset " +
                             std::to_string(at) + " of '" + rewritten + "')");
    code_ = std::shared_ptr<pcre2_code>(compiled, code_deleter{});
    pcre2_jit_compile(code_.get(), PCRE2_JIT_COMPLETE); // falls back to the interpreter if JIT is unavailable
  }

  /// The pattern as given.
  [[nodiscard]] const std::string& source() const noexcept { return source_; }

  /// Calls `match(begin, end)` for each successive non-overlapping match in `text`, leftmost first.
  /// An empty match is reported and the search resumes one character later.
  template <class F>
  void for_each_match(std::string_view text, F&& match) const {
    thread_state& st = state();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    std::size_t start = 0;
    while (start <= text.size()) {
      const int rc = pcre2_match(code_.get(), subject, text.size(), start, 0, st.data.get(), st.context.get());
      if (rc == PCRE2_ERROR_NOMATCH) return;
      if (rc < 0)
        throw invalid_argument("regex '" + source_ + "': matching failed at byte " + std::to_string(start) + ": " +
                               message(rc));
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.data.get());
      const std::size_t b = ov[0];
      const std::size_t e = ov[1];
      match(b, e);
      if (e > b) {
        start = e;
      } else {
        if (b >= text.size()) return;
        const code_point cp = decode_utf8(text, b);
        start = b + cp.length;
      }
    }
  }

private:
  struct code_deleter {
    void operator()(pcre2_code* c) const noexcept { pcre2_code_free(c); }
  };
  struct data_deleter {
    void operator()(pcre2_match_data* d) const noexcept { pcre2_match_data_free(d); }
  };
  struct context_deleter {
    void operator()(pcre2_match_context* c) const noexcept { pcre2_match_context_free(c); }
  };
  struct stack_deleter {
    void operator()(pcre2_jit_stack* s) const noexcept { pcre2_jit_stack_free(s); }
  };
  struct thread_state {
    std::unique_ptr<pcre2_match_data, data_deleter> data{pcre2_match_data_create(1, nullptr)};
    std::unique_ptr<pcre2_match_context, context_deleter> context{pcre2_match_context_create(nullptr)};
    // Long runs of spaces make the JIT backtrack deeply: grow its stack up to 64 MiB.
    std::unique_ptr<pcre2_jit_stack, stack_deleter> stack{pcre2_jit_stack_create(32 * 1024, 64 * 1024 * 1024, nullptr)};
    thread_state() {
      if (!data || !context || !stack) throw error("regex: PCRE2 could not allocate its match state");
      pcre2_jit_stack_assign(context.get(), nullptr, stack.get());
    }
  };
  static thread_state& state() {
    thread_local thread_state st;
    return st;
  }
  static std::string message(int code) {
    PCRE2_UCHAR buffer[256];
    if (pcre2_get_error_message(code, buffer, sizeof buffer) < 0) return "PCRE2 error " + std::to_string(code);
    return reinterpret_cast<const char*>(buffer);
  }

  std::string source_;
  std::shared_ptr<pcre2_code> code_;
};

} // namespace rltf::tokenize::detail
