#pragma once
/// \file
/// rltf::CausalLMRewardModel<Model, Tokenizer> — RLAIF's reward model on any rltf::CausalLM
/// backbone (GPT-2, Llama, Qwen2) with a scalar head (`score`, Hugging Face's
/// *ForSequenceClassification layout) read at the last real token of "instruction ⧺ separator ⧺
/// code". It models rltf::TrainableRewardModel: `score()` is the head's logit; `train(labelled)`
/// fits accepted/rejected labels with binary cross-entropy (the paper), `train_pairs(pairs)`
/// fits preferences with Bradley–Terry, −log σ(r⁺ − r⁻). Training holds out a seeded share and
/// reports held-out accuracy and ROC AUC; `save(dir)` writes a checkpoint `from_pretrained`
/// loads as a sequence classifier (config.json's architectures say so; `score.weight`).
///
/// \code
/// auto model = rltf::load_decoder("qwen2.5-coder-0.5b", {.reward_head = true});
/// rltf::CausalLMRewardModel rm(std::move(model), tokenizer, {.epochs = 2});
/// rltf::RewardModelReport r = rm.train(labelled);   // r.heldout_accuracy, r.heldout_auc
/// float reward = rm.score(instruction, code);
/// rm.save("out/reward-model");
/// \endcode

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rltf/core/error.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/core/rng.hpp"
#include "rltf/detail/random.hpp"
#include "rltf/eval/classification.hpp"
#include "rltf/feedback/reward_model.hpp"
#include "rltf/tokenize/tokenizer.hpp"
#include "rltf/torch/causal_lm.hpp"
#include "rltf/train/trainable_policy.hpp"

namespace rltf {

/// A preference: for `instruction`, `chosen` is better than `rejected` (Bradley–Terry training).
struct PreferencePair {
  std::string instruction;
  std::string chosen;
  std::string rejected;
};

/// Options of CausalLMRewardModel.
struct CausalLMRewardModelOptions {
  std::string separator = "\n"; ///< between the instruction and the code
  std::size_t max_tokens = 512; ///< keep the last this many tokens of an example (and the context length)
  std::size_t epochs = 2;       ///< passes over the training part
  std::size_t batch_size = 8;   ///< examples (or pairs) per step
  OptimizerOptions optimizer{.lr = 1e-4F};
  double heldout_fraction = 0.2; ///< share held out of training for the report
  std::uint64_t seed = 0;        ///< the held-out split and the shuffling
};
RLTF_OPTIONS_JSON(CausalLMRewardModelOptions, separator, max_tokens, epochs, batch_size, optimizer, heldout_fraction,
                  seed)

template <CausalLM Model, Tokenizer Tok>
class CausalLMRewardModel {
public:
  CausalLMRewardModel(Model model, Tok tokenizer, CausalLMRewardModelOptions options = {})
      : model_(std::move(model)), tokenizer_(std::move(tokenizer)), options_(std::move(options)) {
    if (!model_) throw invalid_argument("CausalLMRewardModel: the model is empty");
    if (!model_->has_reward_head())
      throw invalid_argument("CausalLMRewardModel: the model has no reward head (load it with "
                             "{.reward_head = true}, or set the config's reward_head)");
    if (options_.batch_size == 0) throw invalid_argument("CausalLMRewardModelOptions: batch_size must be positive");
    if (options_.max_tokens == 0) throw invalid_argument("CausalLMRewardModelOptions: max_tokens must be positive");
    if (!(options_.heldout_fraction >= 0.0 && options_.heldout_fraction < 1.0))
      throw invalid_argument("CausalLMRewardModelOptions: heldout_fraction must be in [0, 1)");
  }

  /// The reward head's logit for (instruction, code).
  [[nodiscard]] float score(std::string_view instruction, std::string_view code) {
    const std::pair<std::string_view, std::string_view> one{instruction, code};
    return scores(std::span(&one, 1)).front();
  }

  /// Logits of many (instruction, code) pairs, in batches, without autograd.
  [[nodiscard]] std::vector<float> scores(std::span<const std::pair<std::string_view, std::string_view>> pairs) {
    torch::NoGradGuard no_grad;
    const bool was = model_->is_training();
    model_->eval();
    std::vector<float> out;
    out.reserve(pairs.size());
    for (std::size_t begin = 0; begin < pairs.size(); begin += options_.batch_size) {
      const std::size_t end = std::min(pairs.size(), begin + options_.batch_size);
      const torch::Tensor r = logits(pairs.subspan(begin, end - begin)).to(torch::kCPU, torch::kFloat32).contiguous();
      out.insert(out.end(), r.data_ptr<float>(), r.data_ptr<float>() + r.numel());
    }
    model_->train(was);
    return out;
  }

  /// Logits [B] of a batch, differentiable.
  [[nodiscard]] torch::Tensor logits(std::span<const std::pair<std::string_view, std::string_view>> pairs) {
    const std::size_t limit =
        std::min<std::size_t>(options_.max_tokens, static_cast<std::size_t>(model_->context_length()));
    std::vector<std::vector<token_id>> rows;
    std::size_t longest = 1;
    for (const auto& [instruction, code] : pairs) {
      std::string text(instruction);
      text += options_.separator;
      text += code;
      std::vector<token_id> ids = tokenizer_.encode(text);
      if (ids.empty()) ids.push_back(model_->bos_token_id());
      if (ids.size() > limit) ids.erase(ids.begin(), ids.end() - static_cast<std::ptrdiff_t>(limit));
      longest = std::max(longest, ids.size());
      rows.push_back(std::move(ids));
    }
    const auto b = static_cast<std::int64_t>(rows.size()), t = static_cast<std::int64_t>(longest);
    std::vector<std::int64_t> ids(static_cast<std::size_t>(b * t), tokenizer_.eos_id());
    std::vector<std::uint8_t> mask(static_cast<std::size_t>(b * t), 0);
    for (std::size_t r = 0; r < rows.size(); ++r)
      for (std::size_t j = 0; j < rows[r].size(); ++j) {
        ids[r * longest + j] = rows[r][j]; // right padding: the pads come after every real token
        mask[r * longest + j] = 1;
      }
    const torch::Device device = model_->device();
    const torch::Tensor input = torch::from_blob(ids.data(), {b, t}, torch::kInt64).clone().to(device);
    const torch::Tensor real = torch::from_blob(mask.data(), {b, t}, torch::kUInt8).clone().to(device);
    return model_->rewards(model_->transformer(input, real, nullptr), real).to(torch::kFloat32);
  }

  /// Fits accepted/rejected labels with binary cross-entropy on the logit.
  RewardModelReport train(std::span<const LabelledExample> data) {
    if (data.empty()) throw invalid_argument("CausalLMRewardModel::train: no examples");
    const auto [fit, heldout] = heldout_split(data.size(), options_.heldout_fraction, options_.seed);
    RewardModelReport report;
    report.final_loss = fit_epochs(
        fit,
        [&](std::span<const std::size_t> batch) {
          std::vector<std::pair<std::string_view, std::string_view>> pairs;
          std::vector<float> y;
          for (const std::size_t i : batch) {
            pairs.emplace_back(data[i].instruction, data[i].code);
            y.push_back(data[i].accepted ? 1.0F : 0.0F);
          }
          const torch::Tensor z = logits(pairs);
          const torch::Tensor target = torch::tensor(y, torch::kFloat32).to(z.device());
          return torch::nn::functional::binary_cross_entropy_with_logits(z, target);
        },
        report.steps);
    auto measure = [&](const std::vector<std::size_t>& rows, double& acc, double* auc) {
      if (rows.empty()) return;
      std::vector<std::pair<std::string_view, std::string_view>> pairs;
      const std::unique_ptr<bool[]> labels(new bool[rows.size()]); // std::vector<bool> has no span
      for (std::size_t k = 0; k < rows.size(); ++k) {
        pairs.emplace_back(data[rows[k]].instruction, data[rows[k]].code);
        labels[k] = data[rows[k]].accepted;
      }
      const std::vector<float> s = scores(pairs);
      const std::vector<double> sd(s.begin(), s.end());
      const std::span<const bool> lab(labels.get(), rows.size());
      acc = accuracy(sd, lab);
      if (auc != nullptr) *auc = roc_auc_or_zero(sd, lab);
    };
    measure(fit, report.train_accuracy, nullptr);
    measure(heldout, report.heldout_accuracy, &report.heldout_auc);
    report.heldout = heldout.size();
    return report;
  }

  /// Fits preferences with Bradley–Terry, −log σ(r(chosen) − r(rejected)). The accuracies are the
  /// share of pairs ranked the right way; the AUC is left 0.
  RewardModelReport train_pairs(std::span<const PreferencePair> pairs) {
    if (pairs.empty()) throw invalid_argument("CausalLMRewardModel::train_pairs: no pairs");
    const auto [fit, heldout] = heldout_split(pairs.size(), options_.heldout_fraction, options_.seed);
    RewardModelReport report;
    auto margins = [&](std::span<const std::size_t> rows) {
      std::vector<std::pair<std::string_view, std::string_view>> both;
      for (const std::size_t i : rows) both.emplace_back(pairs[i].instruction, pairs[i].chosen);
      for (const std::size_t i : rows) both.emplace_back(pairs[i].instruction, pairs[i].rejected);
      const torch::Tensor z = logits(both);
      const auto n = static_cast<std::int64_t>(rows.size());
      return z.narrow(0, 0, n) - z.narrow(0, n, n);
    };
    report.final_loss = fit_epochs(
        fit,
        [&](std::span<const std::size_t> batch) { return -torch::nn::functional::logsigmoid(margins(batch)).mean(); },
        report.steps);
    auto ranked = [&](const std::vector<std::size_t>& rows) {
      if (rows.empty()) return 0.0;
      torch::NoGradGuard no_grad;
      const bool was = model_->is_training();
      model_->eval();
      double right = 0;
      for (std::size_t begin = 0; begin < rows.size(); begin += options_.batch_size) {
        const auto part = std::span(rows).subspan(begin, std::min(options_.batch_size, rows.size() - begin));
        right += margins(part).gt(0).sum().template item<double>();
      }
      model_->train(was);
      return right / static_cast<double>(rows.size());
    };
    report.train_accuracy = ranked(fit);
    report.heldout_accuracy = ranked(heldout);
    report.heldout = heldout.size();
    return report;
  }

  /// Writes the backbone and its head as a Hugging Face sequence-classification checkpoint.
  void save(const std::filesystem::path& dir) const { save_pretrained(model_, dir); }

  [[nodiscard]] Model& model() noexcept { return model_; }
  [[nodiscard]] const Tok& tokenizer() const noexcept { return tokenizer_; }
  [[nodiscard]] const CausalLMRewardModelOptions& options() const noexcept { return options_; }

private:
  /// Runs the epochs of shuffled minibatches; returns the last epoch's mean loss.
  template <class Loss>
  double fit_epochs(std::vector<std::size_t> rows, Loss&& loss_of, std::size_t& steps) {
    std::vector<torch::Tensor> params;
    for (auto& p : model_->parameters())
      if (p.requires_grad()) params.push_back(p);
    if (params.empty()) throw invalid_argument("CausalLMRewardModel: no parameter requires a gradient");
    const auto& o = options_.optimizer;
    torch::optim::AdamW opt(
        params, torch::optim::AdamWOptions(o.lr).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weight_decay));
    Rng rng = make_rng(options_.seed + 1);
    model_->train(true);
    double last = 0;
    for (std::size_t epoch = 0; epoch < options_.epochs; ++epoch) {
      detail::shuffle(rows, rng);
      double total = 0;
      std::size_t batches = 0;
      for (std::size_t begin = 0; begin < rows.size(); begin += options_.batch_size) {
        const auto batch = std::span(rows).subspan(begin, std::min(options_.batch_size, rows.size() - begin));
        opt.zero_grad();
        const torch::Tensor loss = loss_of(batch);
        loss.backward();
        if (o.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params, static_cast<double>(o.max_grad_norm));
        opt.step();
        total += loss.template item<double>();
        ++batches;
        ++steps;
      }
      last = total / static_cast<double>(std::max<std::size_t>(batches, 1));
    }
    model_->eval();
    return last;
  }

  Model model_;
  Tok tokenizer_;
  CausalLMRewardModelOptions options_;
};

} // namespace rltf
