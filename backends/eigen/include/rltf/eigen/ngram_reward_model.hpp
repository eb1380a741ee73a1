#pragma once
/// \file
/// rltf::NgramRewardModel — a fast RLAIF reward-model baseline (docs/rlaif.md): logistic
/// regression on hashed n-gram features of the code (and unigrams of the instruction), trained
/// on accepted/rejected labels with binary cross-entropy. It models rltf::TrainableRewardModel:
/// `score(instruction, code)` is the logit of "accepted". Deterministic: the same options and
/// data give the same weights, bit for bit.
///
/// Features: the code is split into identifiers/keywords, numbers, and single punctuation
/// characters (newlines kept, other whitespace dropped); every 1..max_n-gram of those tokens and
/// every instruction token is hashed (FNV-1a, its own salt per kind) into `dimensions` buckets;
/// each example's counts are L2-normalised. Training: full-batch Adam on the mean cross-entropy
/// plus (l2 / 2)·‖w‖², a seeded held-out split reported as accuracy and ROC AUC.
///
/// \code
/// rltf::NgramRewardModel rm({.epochs = 200});
/// rltf::RewardModelReport report = rm.train(labelled);      // heldout_accuracy, heldout_auc
/// float r = rm.score("Load a BERT model", "from transformers import AutoModel\n...");
/// rm.save("rm.safetensors");  auto same = rltf::NgramRewardModel::load("rm.safetensors");
/// \endcode

#include <Eigen/Core>
#include <Eigen/SparseCore>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/eval/classification.hpp"
#include "rltf/feedback/reward_model.hpp"
#include "rltf/formats/safetensors.hpp"

namespace rltf {

/// Options of NgramRewardModel.
struct NgramRewardModelOptions {
  std::size_t dimensions = std::size_t{1} << 18; ///< hashed feature buckets
  std::size_t max_n = 3;                         ///< code n-grams of 1..max_n tokens
  bool instruction_features = true;              ///< also hash the instruction's tokens
  double l2 = 1e-4;                              ///< weight decay (not on the bias)
  double lr = 0.05;                              ///< Adam's step size
  std::size_t epochs = 100;                      ///< full-batch steps
  double heldout_fraction = 0.2;                 ///< share of the data held out of training for the report
  std::uint64_t seed = 0;                        ///< the held-out split
};
RLTF_OPTIONS_JSON(NgramRewardModelOptions, dimensions, max_n, instruction_features, l2, lr, epochs, heldout_fraction,
                  seed)

namespace detail {

/// Code tokens for hashing: identifiers, numbers, single punctuation characters and newlines.
[[nodiscard]] inline std::vector<std::string_view> ngram_tokens(std::string_view text) {
  std::vector<std::string_view> out;
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           static_cast<unsigned char>(c) >= 0x80;
  };
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (word(c)) {
      std::size_t j = i;
      while (j < text.size() && word(text[j])) ++j;
      out.push_back(text.substr(i, j - i));
      i = j;
    } else {
      if (c != ' ' && c != '\t' && c != '\r') out.push_back(text.substr(i, 1));
      ++i;
    }
  }
  return out;
}

[[nodiscard]] inline std::uint64_t fnv1a(std::uint64_t h, std::string_view bytes) {
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

} // namespace detail

class NgramRewardModel {
public:
  explicit NgramRewardModel(NgramRewardModelOptions options = {}) : options_(options) {
    if (options_.dimensions == 0) throw invalid_argument("NgramRewardModelOptions: dimensions must be positive");
    if (options_.max_n == 0) throw invalid_argument("NgramRewardModelOptions: max_n must be ≥ 1");
    if (!(options_.heldout_fraction >= 0.0 && options_.heldout_fraction < 1.0))
      throw invalid_argument("NgramRewardModelOptions: heldout_fraction must be in [0, 1)");
    if (!(options_.lr > 0.0)) throw invalid_argument("NgramRewardModelOptions: lr must be positive");
    weights_ = Eigen::VectorXf::Zero(static_cast<Eigen::Index>(options_.dimensions));
  }

  /// The logit of "accepted" for (instruction, code).
  [[nodiscard]] float score(std::string_view instruction, std::string_view code) const {
    float s = bias_;
    for (const auto& [index, value] : features(instruction, code)) s += weights_[index] * value;
    return s;
  }

  /// Fits on `data` (after holding out options.heldout_fraction of it, seeded) and reports the
  /// final training loss, training and held-out accuracy, and held-out ROC AUC.
  RewardModelReport train(std::span<const LabelledExample> data) {
    if (data.empty()) throw invalid_argument("NgramRewardModel::train: no labelled examples");
    const HeldoutSplit split = heldout_split(data.size(), options_.heldout_fraction, options_.seed);
    const std::vector<std::size_t>&fit = split.fit, &heldout = split.heldout;
    const std::size_t held = heldout.size();

    const Sparse x = design(data, fit);
    Eigen::VectorXf y(static_cast<Eigen::Index>(fit.size()));
    for (std::size_t i = 0; i < fit.size(); ++i) y[static_cast<Eigen::Index>(i)] = data[fit[i]].accepted ? 1.0F : 0.0F;
    const auto n = static_cast<float>(fit.size());
    Eigen::VectorXf m = Eigen::VectorXf::Zero(weights_.size()), v = Eigen::VectorXf::Zero(weights_.size());
    float mb = 0, vb = 0;
    const float b1 = 0.9F, b2 = 0.999F, eps = 1e-8F, lr = static_cast<float>(options_.lr),
                l2 = static_cast<float>(options_.l2);
    RewardModelReport report;
    for (std::size_t step = 1; step <= options_.epochs; ++step) {
      const Eigen::VectorXf z = (x * weights_).array() + bias_;
      const Eigen::VectorXf p = z.unaryExpr([](float t) { return 1.0F / (1.0F + std::exp(-t)); });
      const Eigen::VectorXf r = (p - y) / n;
      const Eigen::VectorXf g = x.transpose() * r + l2 * weights_;
      const float gb = r.sum();
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g.cwiseProduct(g);
      mb = b1 * mb + (1 - b1) * gb;
      vb = b2 * vb + (1 - b2) * gb * gb;
      const float c1 = 1 - std::pow(b1, static_cast<float>(step)), c2 = 1 - std::pow(b2, static_cast<float>(step));
      weights_.array() -= lr * (m.array() / c1) / ((v.array() / c2).sqrt() + eps);
      bias_ -= lr * (mb / c1) / (std::sqrt(vb / c2) + eps);
      report.steps = step;
    }
    // final loss and accuracies with the trained weights
    const Eigen::VectorXf z = (x * weights_).array() + bias_;
    double loss = 0;
    for (Eigen::Index i = 0; i < z.size(); ++i) {
      const double t = z[i];
      loss += std::max(t, 0.0) - t * y[i] + std::log1p(std::exp(-std::abs(t))); // stable BCE with logits
    }
    report.final_loss = loss / static_cast<double>(z.size());
    report.train_accuracy = accuracy_of(data, fit);
    report.heldout = held;
    if (held > 0) {
      report.heldout_accuracy = accuracy_of(data, heldout);
      std::vector<double> scores;
      const std::unique_ptr<bool[]> labels(new bool[held]); // std::vector<bool> has no span
      for (std::size_t k = 0; k < held; ++k) {
        scores.push_back(score(data[heldout[k]].instruction, data[heldout[k]].code));
        labels[k] = data[heldout[k]].accepted;
      }
      report.heldout_auc = roc_auc_or_zero(scores, std::span<const bool>(labels.get(), held));
    }
    return report;
  }

  /// Writes the weights and options to a safetensors file (atomically).
  void save(const std::filesystem::path& path) const {
    const float bias = bias_;
    const std::vector<safetensors::TensorData> tensors = {
        {"weights", safetensors::Dtype::F32, Shape{static_cast<Shape::value_type>(weights_.size())},
         std::as_bytes(std::span<const float>(weights_.data(), static_cast<std::size_t>(weights_.size())))},
        {"bias", safetensors::Dtype::F32, Shape{1}, std::as_bytes(std::span<const float>(&bias, 1))}};
    safetensors::save(path, tensors,
                      {{"rltf_model", "NgramRewardModel"}, {"options", nlohmann::json(options_).dump()}});
  }

  /// Reads what save() wrote. Errors name the file and what is wrong.
  [[nodiscard]] static NgramRewardModel load(const std::filesystem::path& path) {
    const auto file = safetensors::File::open(path);
    const auto& meta = file.metadata();
    const auto kind = meta.find("rltf_model");
    if (kind == meta.end() || kind->second != "NgramRewardModel")
      throw parse_error(path.string(), 0, "__metadata__.rltf_model", "not an NgramRewardModel file");
    const auto opts = meta.find("options");
    if (opts == meta.end()) throw parse_error(path.string(), 0, "__metadata__.options", "missing");
    NgramRewardModelOptions options;
    try {
      options = nlohmann::json::parse(opts->second).get<NgramRewardModelOptions>();
    } catch (const std::exception& e) {
      throw parse_error(path.string(), 0, "__metadata__.options", e.what());
    }
    NgramRewardModel model(options);
    for (const char* name : {"weights", "bias"})
      if (!file.contains(name)) throw parse_error(path.string(), 0, name, "the tensor is missing");
    const std::vector<float> w = file.to_f32("weights"), b = file.to_f32("bias");
    if (w.size() != options.dimensions)
      throw parse_error(path.string(), 0, "weights",
                        std::to_string(w.size()) + " values but options.dimensions is " +
                            std::to_string(options.dimensions));
    if (b.size() != 1) throw parse_error(path.string(), 0, "bias", "must hold one value");
    model.weights_ = Eigen::Map<const Eigen::VectorXf>(w.data(), static_cast<Eigen::Index>(w.size()));
    model.bias_ = b[0];
    return model;
  }

  [[nodiscard]] const NgramRewardModelOptions& options() const noexcept { return options_; }

  /// The example's normalised hashed features, as (bucket, value) sorted by bucket.
  [[nodiscard]] std::vector<std::pair<Eigen::Index, float>> features(std::string_view instruction,
                                                                     std::string_view code) const {
    std::map<Eigen::Index, float> counts;
    const auto dims = static_cast<std::uint64_t>(options_.dimensions);
    const auto tokens = detail::ngram_tokens(code);
    for (std::size_t n = 1; n <= options_.max_n; ++n) {
      for (std::size_t i = 0; i + n <= tokens.size(); ++i) {
        std::uint64_t h = detail::fnv1a(0xcbf29ce484222325ULL ^ n, "code");
        for (std::size_t k = 0; k < n; ++k) h = detail::fnv1a(detail::fnv1a(h, tokens[i + k]), "\x1f");
        counts[static_cast<Eigen::Index>(h % dims)] += 1.0F;
      }
    }
    if (options_.instruction_features)
      for (const auto t : detail::ngram_tokens(instruction))
        counts[static_cast<Eigen::Index>(detail::fnv1a(detail::fnv1a(0xcbf29ce484222325ULL, "instruction"), t) %
                                         dims)] += 1.0F;
    double norm = 0;
    for (const auto& [k, c] : counts) norm += static_cast<double>(c) * c;
    const auto scale = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0F;
    std::vector<std::pair<Eigen::Index, float>> out;
    out.reserve(counts.size());
    for (const auto& [k, c] : counts) out.emplace_back(k, c * scale);
    return out;
  }

private:
  using Sparse = Eigen::SparseMatrix<float, Eigen::RowMajor>;

  [[nodiscard]] Sparse design(std::span<const LabelledExample> data, std::span<const std::size_t> rows) const {
    std::vector<Eigen::Triplet<float>> triplets;
    for (std::size_t r = 0; r < rows.size(); ++r)
      for (const auto& [k, value] : features(data[rows[r]].instruction, data[rows[r]].code))
        triplets.emplace_back(static_cast<Eigen::Index>(r), k, value);
    Sparse x(static_cast<Eigen::Index>(rows.size()), static_cast<Eigen::Index>(options_.dimensions));
    x.setFromTriplets(triplets.begin(), triplets.end());
    return x;
  }

  [[nodiscard]] double accuracy_of(std::span<const LabelledExample> data, std::span<const std::size_t> rows) const {
    std::size_t right = 0;
    for (const std::size_t i : rows) right += (score(data[i].instruction, data[i].code) > 0.0F) == data[i].accepted;
    return rows.empty() ? 0.0 : static_cast<double>(right) / static_cast<double>(rows.size());
  }

  NgramRewardModelOptions options_;
  Eigen::VectorXf weights_;
  float bias_ = 0.0F;
};

static_assert(TrainableRewardModel<NgramRewardModel>);

} // namespace rltf
