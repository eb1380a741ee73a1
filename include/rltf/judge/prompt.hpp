#pragma once
/// \file
/// rltf::JudgePrompt — how a judge is asked one yes/no question about (instruction, code): a system
/// message and a user-message template with the placeholders {instruction}, {code} and {question}.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"

namespace rltf {

/// The prompt of one question. Placeholders: {instruction}, {code}, {question} (each at most once
/// per occurrence; other braces are kept as they are).
struct JudgePrompt {
  std::string system = "You are a meticulous reviewer of Python code that calls machine-learning APIs. "
                       "Answer the question about the code with a single word: Yes or No.";
  std::string user = "Instruction:\n{instruction}\n\nCode:\n```python\n{code}\n```\n\nQuestion: {question}\n"
                     "Answer Yes or No.";

  /// The user message for one question.
  [[nodiscard]] std::string render(std::string_view instruction, std::string_view code,
                                   std::string_view question) const {
    std::string out;
    out.reserve(user.size() + instruction.size() + code.size() + question.size());
    for (std::size_t i = 0; i < user.size();) {
      const auto take = [&](std::string_view name, std::string_view value) {
        if (std::string_view(user).substr(i, name.size()) != name) return false;
        out += value;
        i += name.size();
        return true;
      };
      if (user[i] == '{' &&
          (take("{instruction}", instruction) || take("{code}", code) || take("{question}", question)))
        continue;
      out += user[i++];
    }
    return out;
  }

  /// The chat messages of one question, as OpenAI's API takes them.
  [[nodiscard]] nlohmann::json messages(std::string_view instruction, std::string_view code,
                                        std::string_view question) const {
    nlohmann::json m = nlohmann::json::array();
    if (!system.empty()) m.push_back({{"role", "system"}, {"content", system}});
    m.push_back({{"role", "user"}, {"content", render(instruction, code, question)}});
    return m;
  }
};

} // namespace rltf
