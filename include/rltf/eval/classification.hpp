#pragma once
/// \file
/// Binary-classification metrics for reward models: accuracy at a threshold and the area under
/// the ROC curve (the probability that a random positive scores above a random negative, ties
/// counting one half — the Mann–Whitney statistic, computed exactly from average ranks).

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <span>
#include <vector>

#include "rltf/core/error.hpp"

namespace rltf {

/// The fraction of examples whose `score > threshold` equals their label.
[[nodiscard]] inline double accuracy(std::span<const double> scores, std::span<const bool> labels,
                                     double threshold = 0.0) {
  if (scores.size() != labels.size())
    throw invalid_argument("accuracy: " + std::to_string(scores.size()) + " scores but " +
                           std::to_string(labels.size()) + " labels");
  if (scores.empty()) return 0.0;
  std::size_t right = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) right += (scores[i] > threshold) == labels[i] ? 1 : 0;
  return static_cast<double>(right) / static_cast<double>(scores.size());
}

/// ROC AUC of `scores` against `labels` (true = positive). Throws rltf::invalid_argument when the
/// sizes differ or one class is absent (the AUC is undefined then).
[[nodiscard]] inline double roc_auc(std::span<const double> scores, std::span<const bool> labels) {
  if (scores.size() != labels.size())
    throw invalid_argument("roc_auc: " + std::to_string(scores.size()) + " scores but " +
                           std::to_string(labels.size()) + " labels");
  const auto positives = static_cast<std::size_t>(std::count(labels.begin(), labels.end(), true));
  const std::size_t negatives = labels.size() - positives;
  if (positives == 0 || negatives == 0)
    throw invalid_argument("roc_auc: needs both classes (" + std::to_string(positives) + " positive, " +
                           std::to_string(negatives) + " negative)");
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  double rank_sum = 0.0; // of the positives, 1-based, ties averaged
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double average = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (std::size_t k = i; k < j; ++k)
      if (labels[order[k]]) rank_sum += average;
    i = j;
  }
  const auto p = static_cast<double>(positives), n = static_cast<double>(negatives);
  return (rank_sum - p * (p + 1.0) / 2.0) / (p * n);
}

} // namespace rltf
