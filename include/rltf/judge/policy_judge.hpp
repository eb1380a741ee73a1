#pragma once
/// \file
/// rltf::PolicyJudge — any rltf::Policy as an RLAIF judge: each question is rendered with a
/// JudgePrompt (optionally in the model's chat format), and the answer is "yes" when
/// log P(yes | prompt) − log P(no | prompt) > margin, the two answers' token log-probabilities
/// summed at the answer position (one batched log_probs call per (instruction, code)). A local
/// model judges without a server; a larger checkpoint on LibTorch is the paper's setting.
///
/// \code
/// auto judge_model = rltf::load_decoder("qwen2.5-coder-7b-instruct", {.dtype = torch::kBFloat16});
/// rltf::DecoderPolicy<rltf::HfTokenizer> policy(std::move(judge_model), tokenizer);
/// rltf::PolicyJudge judge(policy, {.chat = rltf::ChatFormat::qwen2_5()});
/// rltf::Judgement j = judge.judge(instruction, code, rltf::default_judge_questions());
/// \endcode

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rltf/core/error.hpp"
#include "rltf/core/policy.hpp"
#include "rltf/core/sample.hpp"
#include "rltf/feedback/judge.hpp"
#include "rltf/judge/prompt.hpp"
#include "rltf/tokenize/chat.hpp"
#include "rltf/tokenize/tokenizer.hpp"

namespace rltf {

/// Options of PolicyJudge.
struct PolicyJudgeOptions {
  JudgePrompt prompt;                      ///< system message and question template
  std::optional<ChatFormat> chat;          ///< wrap the messages in this chat format (instruction-tuned judges)
  std::string answer_prefix = "\nAnswer:"; ///< after the prompt without a chat format: where the answer goes
  std::string yes = " Yes";                ///< the "yes" continuation (with a chat format, e.g. "Yes")
  std::string no = " No";                  ///< the "no" continuation
  double margin = 0.0;                     ///< answer yes when log P(yes) − log P(no) exceeds this
};

/// What a PolicyJudge saw for one question: the log-probabilities of both answers.
struct PolicyAnswer {
  double log_p_yes = 0.0;
  double log_p_no = 0.0;
  [[nodiscard]] double margin() const noexcept { return log_p_yes - log_p_no; }
};

template <Policy P>
requires requires(const P& p) { requires Tokenizer<std::remove_cvref_t<decltype(p.tokenizer())>>; }
class PolicyJudge {
public:
  explicit PolicyJudge(P& policy, PolicyJudgeOptions options = {}) : policy_(policy), options_(std::move(options)) {
    if (options_.yes.empty() || options_.no.empty())
      throw invalid_argument("PolicyJudgeOptions: the yes and no answers must not be empty");
    yes_ = policy_.tokenizer().encode(options_.yes);
    no_ = policy_.tokenizer().encode(options_.no);
    if (yes_.empty() || no_.empty()) throw invalid_argument("PolicyJudgeOptions: an answer encodes to no tokens");
    if (yes_ == no_) throw invalid_argument("PolicyJudgeOptions: yes and no encode to the same tokens");
  }

  /// The text the policy continues for one question.
  [[nodiscard]] std::string prompt_text(std::string_view instruction, std::string_view code,
                                        std::string_view question) const {
    const std::string user = options_.prompt.render(instruction, code, question);
    if (!options_.chat) {
      std::string out = options_.prompt.system.empty() ? std::string() : options_.prompt.system + "\n\n";
      return out + user + options_.answer_prefix;
    }
    std::vector<ChatMessage> messages;
    if (!options_.prompt.system.empty()) messages.push_back({"system", options_.prompt.system});
    messages.push_back({"user", user});
    return options_.chat->render(messages, /*add_generation_prompt=*/true);
  }

  /// Both answers' log-probabilities for every question (one log_probs call).
  [[nodiscard]] std::vector<PolicyAnswer> answers(std::string_view instruction, std::string_view code,
                                                  std::span<const std::string> questions) {
    std::vector<Sample> samples;
    samples.reserve(2 * questions.size());
    for (const auto& q : questions) {
      std::vector<token_id> prompt = policy_.tokenizer().encode(prompt_text(instruction, code, q));
      for (const auto* answer : {&yes_, &no_}) {
        Sample s;
        s.prompt_tokens = prompt;
        s.tokens = *answer;
        samples.push_back(std::move(s));
      }
    }
    std::vector<PolicyAnswer> out(questions.size());
    if (samples.empty()) return out;
    using B = typename P::backend;
    const auto logp = policy_.log_probs(samples);
    const std::vector<float> values = B::values(logp);
    const auto shape = B::shape(logp);
    const std::size_t width = shape.size() == 2 ? static_cast<std::size_t>(shape[1]) : 0;
    auto sum = [&](std::size_t row, std::size_t n) {
      double total = 0;
      for (std::size_t t = 0; t < n; ++t) total += values[row * width + t];
      return total;
    };
    for (std::size_t i = 0; i < questions.size(); ++i) {
      out[i].log_p_yes = sum(2 * i, yes_.size());
      out[i].log_p_no = sum(2 * i + 1, no_.size());
    }
    return out;
  }

  /// rltf::Judge: yes where the margin exceeds options.margin.
  Judgement judge(std::string_view instruction, std::string_view code, std::span<const std::string> questions) {
    Judgement j;
    for (const auto& a : answers(instruction, code, questions)) j.answers.push_back(a.margin() > options_.margin);
    return j;
  }

  [[nodiscard]] const PolicyJudgeOptions& options() const noexcept { return options_; }

private:
  P& policy_;
  PolicyJudgeOptions options_;
  std::vector<token_id> yes_, no_;
};

} // namespace rltf
