#pragma once
/// \file
/// Text metrics of generated code against a reference: BLEU-4 and ROUGE-L, on code tokens.
///
/// - `code_tokens(text)`: maximal runs of letters, digits and '_' (identifiers, numbers), and every
///   other non-whitespace character as a token of its own. `whitespace_tokens` splits on whitespace.
/// - `sentence_bleu`: BLEU-4 (Papineni et al. 2002) of one candidate, uniform weights, with add-one
///   smoothing of the 2- to 4-gram precisions (Lin & Och 2004, "BLEU+1": p_n = (m_n + 1)/(c_n + 1)
///   for n ≥ 2; p_1 = m_1/c_1 unsmoothed), brevity penalty exp(1 − r/c) when c < r; 0 for an empty
///   candidate or no matching unigram.
/// - `corpus_bleu`: BLEU-4 over a corpus, clipped n-gram matches and lengths summed over all pairs,
///   no smoothing (0 when some order has no match), brevity penalty on the summed lengths.
/// - `rouge_l`: the LCS F-measure (Lin 2004) with β = 1: P = LCS/|candidate|, R = LCS/|reference|,
///   F = 2PR/(P + R); 0 when either is empty.

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rltf/core/error.hpp"

namespace rltf {

/// Identifier/number runs and single punctuation characters.
[[nodiscard]] inline std::vector<std::string> code_tokens(std::string_view text) {
  std::vector<std::string> out;
  const auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; };
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      ++i;
    } else if (word(c)) {
      std::size_t j = i;
      while (j < text.size() && word(text[j])) ++j;
      out.emplace_back(text.substr(i, j - i));
      i = j;
    } else {
      out.emplace_back(1, c);
      ++i;
    }
  }
  return out;
}

/// Whitespace-separated tokens.
[[nodiscard]] inline std::vector<std::string> whitespace_tokens(std::string_view text) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < text.size();) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) != 0) ++i;
    std::size_t j = i;
    while (j < text.size() && std::isspace(static_cast<unsigned char>(text[j])) == 0) ++j;
    if (j > i) out.emplace_back(text.substr(i, j - i));
    i = j;
  }
  return out;
}

/// Clipped n-gram matches and candidate n-gram counts, n = 1..4, of one pair.
struct BleuCounts {
  std::array<std::size_t, 4> matches{}, totals{};
  std::size_t candidate_length = 0, reference_length = 0;
};

[[nodiscard]] inline BleuCounts bleu_counts(std::span<const std::string> candidate,
                                            std::span<const std::string> reference) {
  BleuCounts b;
  b.candidate_length = candidate.size();
  b.reference_length = reference.size();
  for (std::size_t n = 1; n <= 4; ++n) {
    std::map<std::vector<std::string>, std::size_t> ref;
    for (std::size_t i = 0; i + n <= reference.size(); ++i)
      ++ref[std::vector<std::string>(reference.begin() + static_cast<std::ptrdiff_t>(i),
                                     reference.begin() + static_cast<std::ptrdiff_t>(i + n))];
    std::map<std::vector<std::string>, std::size_t> cand;
    for (std::size_t i = 0; i + n <= candidate.size(); ++i)
      ++cand[std::vector<std::string>(candidate.begin() + static_cast<std::ptrdiff_t>(i),
                                      candidate.begin() + static_cast<std::ptrdiff_t>(i + n))];
    for (const auto& [gram, count] : cand) {
      b.totals[n - 1] += count;
      const auto it = ref.find(gram);
      if (it != ref.end()) b.matches[n - 1] += std::min(count, it->second);
    }
  }
  return b;
}

namespace eval::detail {
[[nodiscard]] inline double brevity(std::size_t c, std::size_t r) {
  return c >= r ? 1.0 : std::exp(1.0 - static_cast<double>(r) / static_cast<double>(c));
}
} // namespace eval::detail

/// Sentence BLEU-4 with add-one smoothing for n ≥ 2 (see the file comment), in [0, 1].
[[nodiscard]] inline double sentence_bleu(std::span<const std::string> candidate,
                                          std::span<const std::string> reference) {
  const auto b = bleu_counts(candidate, reference);
  if (b.candidate_length == 0 || b.matches[0] == 0) return 0.0;
  double log_p = std::log(static_cast<double>(b.matches[0]) / static_cast<double>(b.totals[0]));
  for (std::size_t n = 1; n < 4; ++n)
    log_p += std::log((static_cast<double>(b.matches[n]) + 1.0) / (static_cast<double>(b.totals[n]) + 1.0));
  return eval::detail::brevity(b.candidate_length, b.reference_length) * std::exp(log_p / 4.0);
}
[[nodiscard]] inline double sentence_bleu(std::string_view candidate, std::string_view reference) {
  const auto c = code_tokens(candidate);
  const auto r = code_tokens(reference);
  return sentence_bleu(c, r);
}

/// Corpus BLEU-4, unsmoothed (see the file comment), in [0, 1].
[[nodiscard]] inline double corpus_bleu(std::span<const std::vector<std::string>> candidates,
                                        std::span<const std::vector<std::string>> references) {
  if (candidates.size() != references.size())
    throw invalid_argument("rltf::corpus_bleu: " + std::to_string(candidates.size()) + " candidates but " +
                           std::to_string(references.size()) + " references");
  BleuCounts sum;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const auto b = bleu_counts(candidates[i], references[i]);
    for (std::size_t n = 0; n < 4; ++n) {
      sum.matches[n] += b.matches[n];
      sum.totals[n] += b.totals[n];
    }
    sum.candidate_length += b.candidate_length;
    sum.reference_length += b.reference_length;
  }
  if (sum.candidate_length == 0) return 0.0;
  double log_p = 0.0;
  for (std::size_t n = 0; n < 4; ++n) {
    if (sum.matches[n] == 0) return 0.0;
    log_p += std::log(static_cast<double>(sum.matches[n]) / static_cast<double>(sum.totals[n]));
  }
  return eval::detail::brevity(sum.candidate_length, sum.reference_length) * std::exp(log_p / 4.0);
}

/// Length of the longest common subsequence.
[[nodiscard]] inline std::size_t lcs_length(std::span<const std::string> a, std::span<const std::string> b) {
  std::vector<std::size_t> row(b.size() + 1, 0);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = 0;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = a[i - 1] == b[j - 1] ? diag + 1 : std::max(row[j], row[j - 1]);
      diag = up;
    }
  }
  return row[b.size()];
}

/// ROUGE-L F-measure (β = 1), in [0, 1].
[[nodiscard]] inline double rouge_l(std::span<const std::string> candidate, std::span<const std::string> reference) {
  if (candidate.empty() || reference.empty()) return 0.0;
  const auto l = static_cast<double>(lcs_length(candidate, reference));
  if (l == 0.0) return 0.0;
  const double p = l / static_cast<double>(candidate.size());
  const double r = l / static_cast<double>(reference.size());
  return 2.0 * p * r / (p + r);
}
[[nodiscard]] inline double rouge_l(std::string_view candidate, std::string_view reference) {
  const auto c = code_tokens(candidate);
  const auto r = code_tokens(reference);
  return rouge_l(c, r);
}

} // namespace rltf
