#pragma once
/// \file
/// Binary-classification metrics for reward models: accuracy at a threshold, the area under
/// the ROC curve (the probability that a random positive scores above a random negative, ties
/// counting one half — the Mann–Whitney statistic, computed exactly from average ranks), and the
/// seeded held-out split their training reports on.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "rltf/core/error.hpp"
#include "rltf/core/rng.hpp"
#include "rltf/detail/random.hpp"

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

/// \overload: 0 when one class is absent (a report's "no AUC" rather than an error).
[[nodiscard]] inline double roc_auc_or_zero(std::span<const double> scores, std::span<const bool> labels) {
  const bool both = std::find(labels.begin(), labels.end(), true) != labels.end() &&
                    std::find(labels.begin(), labels.end(), false) != labels.end();
  return both ? roc_auc(scores, labels) : 0.0;
}

/// Example indices 0..n−1 split for a classifier's report: a seeded shuffle, the first
/// ⌊fraction·n⌋ held out, the rest to train on.
struct HeldoutSplit {
  std::vector<std::size_t> fit;
  std::vector<std::size_t> heldout;
};

/// Splits n examples (throws rltf::invalid_argument for none, or for nothing left to fit).
[[nodiscard]] inline HeldoutSplit heldout_split(std::size_t n, double fraction, std::uint64_t seed) {
  if (n == 0) throw invalid_argument("heldout_split: no examples");
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  Rng rng = make_rng(seed);
  detail::shuffle(order, rng);
  const auto held = static_cast<std::size_t>(fraction * static_cast<double>(n));
  if (held >= n)
    throw invalid_argument("heldout_split: nothing left to train on after holding out " + std::to_string(held) +
                           " of " + std::to_string(n));
  const auto cut = order.begin() + static_cast<std::ptrdiff_t>(held);
  return {std::vector<std::size_t>(cut, order.end()), std::vector<std::size_t>(order.begin(), cut)};
}

} // namespace rltf
