#pragma once
/// \file
/// Reading a yes/no answer out of an OpenAI-compatible chat-completions response. Internal.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "rltf/judge/error.hpp"

namespace rltf::judge::detail {

/// Lower-cased `s` without surrounding whitespace and markdown emphasis/quotes.
[[nodiscard]] inline std::string normalised_word(std::string_view s) {
  const auto junk = [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0 || c == '*' || c == '_' || c == '`' || c == '"' ||
           c == '\'' || c == '.' || c == ',' || c == ':' || c == '!';
  };
  while (!s.empty() && junk(s.front())) s.remove_prefix(1);
  while (!s.empty() && junk(s.back())) s.remove_suffix(1);
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

/// "yes"/"no" (any case, with emphasis) as a bool; anything else: nullopt.
[[nodiscard]] inline std::optional<bool> yes_no_word(std::string_view s) {
  const std::string w = normalised_word(s);
  if (w == "yes" || w == "true") return true;
  if (w == "no" || w == "false") return false;
  return std::nullopt;
}

/// The answer in a message's text: a JSON object {"answer": "yes"|"no"|true|false} (also inside a
/// ``` fence), else a leading Yes or No word. nullopt when neither is there.
[[nodiscard]] inline std::optional<bool> answer_from_text(std::string_view text) {
  const auto open = text.find('{');
  const auto close = text.rfind('}');
  if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
    const auto doc = nlohmann::json::parse(text.substr(open, close - open + 1), nullptr, false);
    if (doc.is_object()) {
      for (const char* key : {"answer", "Answer", "ANSWER"}) {
        const auto it = doc.find(key);
        if (it == doc.end()) continue;
        if (it->is_boolean()) return it->get<bool>();
        if (it->is_string()) return yes_no_word(it->get<std::string>());
      }
    }
  }
  // The leading word: up to the first character that is not a letter (after emphasis and spaces).
  std::size_t b = 0;
  while (b < text.size() && !std::isalpha(static_cast<unsigned char>(text[b]))) {
    if (text[b] != '*' && text[b] != '_' && text[b] != '"' && text[b] != '\'' && text[b] != '`' &&
        std::isspace(static_cast<unsigned char>(text[b])) == 0)
      return std::nullopt;
    ++b;
  }
  std::size_t e = b;
  while (e < text.size() && std::isalpha(static_cast<unsigned char>(text[e]))) ++e;
  return yes_no_word(text.substr(b, e - b));
}

/// The answer from the first generated token's `top_logprobs` (OpenAI's `logprobs.content[0]`):
/// the larger of the best "yes" and the best "no" log-probability. nullopt when the response has no
/// log-probabilities or neither word is among them.
[[nodiscard]] inline std::optional<bool> answer_from_logprobs(const nlohmann::json& choice) {
  const auto lp = choice.find("logprobs");
  if (lp == choice.end() || !lp->is_object()) return std::nullopt;
  const auto content = lp->find("content");
  if (content == lp->end() || !content->is_array() || content->empty()) return std::nullopt;
  const auto& first = (*content)[0];
  if (!first.is_object()) return std::nullopt;
  double yes = -std::numeric_limits<double>::infinity();
  double no = yes;
  const auto consider = [&](const nlohmann::json& entry) {
    if (!entry.is_object() || !entry.contains("token") || !entry["token"].is_string() || !entry.contains("logprob") ||
        !entry["logprob"].is_number())
      return;
    const auto word = yes_no_word(entry["token"].get<std::string>());
    if (!word) return;
    double& best = *word ? yes : no;
    best = std::max(best, entry["logprob"].get<double>());
  };
  consider(first);
  if (const auto top = first.find("top_logprobs"); top != first.end() && top->is_array())
    for (const auto& entry : *top) consider(entry);
  if (std::isinf(yes) && std::isinf(no)) return std::nullopt;
  return yes >= no;
}

/// How an answer was read.
struct ParsedAnswer {
  bool yes = false;
  std::string text;   ///< the message content as the server sent it
  std::string source; ///< "logprobs" or "text"
};

/// Reads a chat-completions body. Throws rltf::judge_error naming what is missing when the body is
/// not a response (`malformed`), and when the content is neither yes nor no (`unexpected`).
/// `malformed` is true for the first kind, which a caller may retry.
[[nodiscard]] inline ParsedAnswer parse_chat_response(std::string_view body, bool& malformed) {
  malformed = true;
  const auto doc = nlohmann::json::parse(body, nullptr, false);
  const auto brief = [&] {
    std::string b(body.substr(0, 160));
    if (body.size() > 160) b += "...";
    return b;
  };
  if (doc.is_discarded())
    throw judge_error("the response body is not JSON (truncated or malformed): '" + brief() + "'");
  if (!doc.is_object() || !doc.contains("choices") || !doc["choices"].is_array() || doc["choices"].empty())
    throw judge_error("the response has no 'choices' array: '" + brief() + "'");
  const auto& choice = doc["choices"][0];
  if (!choice.is_object() || !choice.contains("message") || !choice["message"].is_object())
    throw judge_error("the response has no 'choices[0].message' object: '" + brief() + "'");
  const auto& message = choice["message"];
  std::string text;
  if (const auto c = message.find("content"); c != message.end() && c->is_string())
    text = c->get<std::string>();
  else if (c != message.end() && !c->is_null())
    throw judge_error("'choices[0].message.content' is not a string: '" + brief() + "'");
  malformed = false;
  if (const auto from_lp = answer_from_logprobs(choice)) return {*from_lp, text, "logprobs"};
  if (const auto from_text = answer_from_text(text)) return {*from_text, text, "text"};
  throw judge_error("the answer is neither yes nor no: '" + text.substr(0, 160) + "'");
}

} // namespace rltf::judge::detail
