#pragma once
/// \file
/// rltf::ChatFormat — the chat prompt of the model families rltf supports, written as data (no
/// Jinja engine): Qwen2 / Qwen2.5 ChatML, Qwen3 (ChatML with its <think> block rules), Llama 3.
///
///     auto chat = rltf::ChatFormat::from_tokenizer_config("data/models/qwen2-tokenizer/tokenizer_config.json");
///     std::string prompt = chat.render({{"system", "Be brief."}, {"user", "Fix this."}}, true);
///     // "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nFix this.<|im_end|>\n<|im_start|>assistant\n"
///
/// render() reproduces the family's Hugging Face chat template for conversations of system, user
/// and assistant messages (no tools, no tool calls). The template is recognised from
/// tokenizer_config.json's `chat_template` by the markers it contains, or chosen by family name.

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <filesystem>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/tokenize/detail/files.hpp"

namespace rltf {

/// One chat message: its role ("system", "user" or "assistant") and its text.
struct ChatMessage {
  std::string role;
  std::string content;
};

/// A family's chat prompt format.
struct ChatFormat {
  /// The family: "chatml" (Qwen2), "qwen2.5", "qwen3" or "llama3".
  std::string family;
  /// Written once at the very start (Llama 3: "<|begin_of_text|>").
  std::string bos;
  /// A message is `header_begin + role + header_end + content + message_end`.
  std::string header_begin;
  std::string header_end;
  std::string message_end;
  /// The system message used when the conversation does not start with one (Qwen2.5's
  /// "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."); empty: none.
  std::string default_system;
  /// The default system message is written even for an empty conversation (Qwen2.5's template
  /// tests `messages[0]`; Qwen2's writes it inside its loop over the messages).
  bool default_system_when_empty = false;
  /// Contents are stripped of leading and trailing ASCII whitespace (Llama 3's `| trim`; Jinja's
  /// trim also strips other Unicode white space).
  bool trim_content = false;
  /// Qwen3's reasoning rules: assistant turns drop their `<think>...</think>` part, except those
  /// after the last user message, which keep it as "<think>\n...\n</think>\n\n" (the last one
  /// always, with an empty block when it has none).
  bool qwen3_thinking = false;
  /// Qwen3's `enable_thinking`: false appends "<think>\n\n</think>\n\n" to the generation prompt.
  bool enable_thinking = true;

  /// Qwen2's ChatML (also Qwen1.5 and Qwen2-Instruct without a default system prompt).
  [[nodiscard]] static ChatFormat chatml() {
    return {"chatml", "", "<|im_start|>", "\n", "<|im_end|>\n", "", false, false, false, true};
  }
  /// Qwen2.5-Instruct / Qwen2.5-Coder-Instruct: ChatML with a default system prompt.
  [[nodiscard]] static ChatFormat qwen2_5() {
    ChatFormat f = chatml();
    f.family = "qwen2.5";
    f.default_system = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
    f.default_system_when_empty = true;
    return f;
  }
  /// Qwen3: ChatML with <think> blocks.
  [[nodiscard]] static ChatFormat qwen3() {
    ChatFormat f = chatml();
    f.family = "qwen3";
    f.qwen3_thinking = true;
    return f;
  }
  /// Llama 3 (Meta-Llama-3-*-Instruct).
  [[nodiscard]] static ChatFormat llama3() {
    return {"llama3",
            "<|begin_of_text|>",
            "<|start_header_id|>",
            "<|end_header_id|>\n\n",
            "<|eot_id|>",
            "",
            false,
            true,
            false,
            true};
  }

  /// The format of a family by name: "chatml" / "qwen2" / "qwen1.5", "qwen2.5", "qwen3",
  /// "llama3" / "llama-3". Throws rltf::invalid_argument for another name.
  [[nodiscard]] static ChatFormat for_family(std::string_view name) {
    std::string n(name);
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (n == "chatml" || n == "qwen2" || n == "qwen1.5") return chatml();
    if (n == "qwen2.5") return qwen2_5();
    if (n == "qwen3") return qwen3();
    if (n == "llama3" || n == "llama-3") return llama3();
    throw invalid_argument("ChatFormat: unknown family '" + std::string(name) +
                           "' (known: chatml, qwen2, qwen1.5, qwen2.5, qwen3, llama3)");
  }

  /// Recognises a Hugging Face chat template (Jinja source) by its markers. Throws
  /// rltf::invalid_argument naming `where` when it is none of the supported families.
  [[nodiscard]] static ChatFormat from_template(std::string_view jinja, std::string_view where = "chat_template") {
    const auto has = [&](std::string_view s) { return jinja.find(s) != std::string_view::npos; };
    if (has("<|start_header_id|>") && has("<|eot_id|>")) {
      if (has("Cutting Knowledge Date") || has("tools_in_user_message"))
        throw invalid_argument(std::string(where) +
                               ": a Llama 3.1+ template (system header with \"Cutting Knowledge Date\"), which "
                               "rltf::ChatFormat does not reproduce; only Llama 3's plain template is supported");
      return llama3();
    }
    if (has("<|im_start|>")) {
      if (has("<think>")) return qwen3();
      if (has("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")) return qwen2_5();
      if (has("You are a helpful assistant.")) {
        ChatFormat f = chatml();
        f.family = "qwen2";
        f.default_system = "You are a helpful assistant.";
        return f;
      }
      return chatml();
    }
    throw invalid_argument(std::string(where) +
                           ": unrecognised chat template (rltf::ChatFormat knows ChatML/Qwen2, Qwen2.5, Qwen3 and "
                           "Llama 3); choose one with ChatFormat::for_family");
  }

  /// Reads tokenizer_config.json's `chat_template` (a string, or a list of {name, template} whose
  /// "default" entry is used) and recognises it. Throws rltf::parse_error naming the file and field.
  [[nodiscard]] static ChatFormat from_tokenizer_config(const std::filesystem::path& path) {
    const std::string file = path.string();
    const auto doc = tokenize::detail::parse_json(tokenize::detail::read_file(path), file);
    if (!doc.is_object() || !doc.contains("chat_template") || doc.at("chat_template").is_null())
      throw parse_error(file, 0, "chat_template", "missing: this tokenizer has no chat template");
    const auto& t = doc.at("chat_template");
    std::string source;
    if (t.is_string()) {
      source = t.get<std::string>();
    } else if (t.is_array()) {
      for (const auto& e : t)
        if (e.is_object() && e.value("name", std::string()) == "default" && e.contains("template") &&
            e.at("template").is_string())
          source = e.at("template").get<std::string>();
      if (source.empty()) throw parse_error(file, 0, "chat_template", "a list without a \"default\" template");
    } else {
      throw parse_error(file, 0, "chat_template", "expected a string or a list, got " + std::string(t.type_name()));
    }
    try {
      return from_template(source, file + ": chat_template");
    } catch (const invalid_argument& e) {
      throw parse_error(file, 0, "chat_template", e.what());
    }
  }

  /// The prompt for `messages`; with `add_generation_prompt`, followed by the header of the
  /// assistant's reply. Throws rltf::invalid_argument for a role other than system, user or
  /// assistant, naming the message.
  [[nodiscard]] std::string render(std::span<const ChatMessage> messages, bool add_generation_prompt) const {
    for (std::size_t i = 0; i < messages.size(); ++i)
      if (messages[i].role != "system" && messages[i].role != "user" && messages[i].role != "assistant")
        throw invalid_argument("ChatFormat::render: messages[" + std::to_string(i) + "].role is '" + messages[i].role +
                               "'; supported roles: system, user, assistant");
    std::string out = messages.empty() ? std::string() : bos; // Llama 3 writes it with the first message
    if (!default_system.empty() && (messages.empty() ? default_system_when_empty : messages[0].role != "system"))
      out += header_begin + "system" + header_end + default_system + message_end;
    std::size_t last_query = messages.size() - 1; // Qwen3: index of the last user message
    for (std::size_t i = messages.size(); i-- > 0;)
      if (messages[i].role == "user") {
        last_query = i;
        break;
      }
    for (std::size_t i = 0; i < messages.size(); ++i) {
      const ChatMessage& m = messages[i];
      std::string content = trim_content ? trim(m.content) : m.content;
      if (qwen3_thinking && m.role == "assistant") {
        std::string reasoning;
        if (const std::size_t close = content.rfind("</think>"); close != std::string::npos) {
          std::string before = content.substr(0, content.find("</think>"));
          content = lstrip_newlines(content.substr(close + 8));
          before = rstrip_newlines(before);
          if (const std::size_t open = before.rfind("<think>"); open != std::string::npos)
            before = before.substr(open + 7);
          reasoning = lstrip_newlines(before);
        }
        const bool after_query = messages.size() > 0 && i > last_query;
        if (after_query && (i + 1 == messages.size() || !reasoning.empty())) {
          out += header_begin + m.role + header_end + "<think>\n" + strip_newlines(reasoning) + "\n</think>\n\n" +
                 lstrip_newlines(content) + message_end;
          continue;
        }
      }
      out += header_begin + m.role + header_end + content + message_end;
    }
    if (add_generation_prompt) {
      out += header_begin + "assistant" + header_end;
      if (qwen3_thinking && !enable_thinking) out += "<think>\n\n</think>\n\n";
    }
    return out;
  }

  [[nodiscard]] std::string render(std::initializer_list<ChatMessage> messages, bool add_generation_prompt) const {
    return render(std::span<const ChatMessage>(messages.begin(), messages.size()), add_generation_prompt);
  }

private:
  static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
  static std::string trim(std::string_view s) {
    std::size_t b = 0;
    std::size_t e = s.size();
    while (b < e && is_space(s[b])) ++b;
    while (e > b && is_space(s[e - 1])) --e;
    return std::string(s.substr(b, e - b));
  }
  static std::string lstrip_newlines(std::string_view s) {
    std::size_t b = 0;
    while (b < s.size() && s[b] == '\n') ++b;
    return std::string(s.substr(b));
  }
  static std::string rstrip_newlines(std::string_view s) {
    std::size_t e = s.size();
    while (e > 0 && s[e - 1] == '\n') --e;
    return std::string(s.substr(0, e));
  }
  static std::string strip_newlines(std::string_view s) { return rstrip_newlines(lstrip_newlines(s)); }
};

} // namespace rltf
