#pragma once
/// \file
/// RLTF's fine-grained feedback (docs/feedback.md): the penalty R_fine = −0.3 on the tokens at fault.
///
///     rltf::FineGrained fine;                                   // α = T / (E − S), the paper's
///     rltf::FineGrained released{{.alpha = rltf::Alpha::one}};   // α = 1, as the released code
///     rltf::FineGrainedDetail d = fine.explain(sample, result, offsets);  // what and why
///
/// The error is classified by a FeedbackTable (classify()): U_global penalises every token, U_line
/// the tokens whose bytes intersect the offending line of the completion, U_ignore nothing. The
/// token rewards are α · R_fine on the span [S, E) and 0 elsewhere; TokenRewards::sequence is 0.

#include <memory>
#include <optional>
#include <utility>

#include "rltf/core/execution_result.hpp"
#include "rltf/core/sample.hpp"
#include "rltf/core/span.hpp"
#include "rltf/feedback/feedback.hpp"
#include "rltf/feedback/spans.hpp"
#include "rltf/feedback/table.hpp"

namespace rltf {

/// The scale α of the fine-grained penalty.
enum class Alpha {
  paper, ///< α = T / (E − S): the span's total penalty is T · R_fine, whatever its length (the paper)
  one,   ///< α = 1 (what the authors' released code does)
};

/// Options of FineGrained.
struct FineGrainedOptions {
  Alpha alpha = Alpha::paper;
};

/// Everything FineGrained decided for one sample (for inspection and logs).
struct FineGrainedDetail {
  Classification classification;
  std::optional<ByteRange> line_bytes; ///< the offending line in the completion (category line)
  TokenSpan span;                      ///< [S, E): the penalised tokens (empty when none)
  float alpha = 0.0F;                  ///< 0 when nothing is penalised
  TokenRewards rewards;                ///< what operator() returns
};

/// Fine-grained feedback.
class FineGrained {
public:
  /// With FeedbackTable::defaults().
  FineGrained() : FineGrained(FineGrainedOptions{}) {}
  explicit FineGrained(FineGrainedOptions options) : table_(feedback::detail::default_table()), options_(options) {}
  /// With a table of the user's.
  explicit FineGrained(FeedbackTable table, FineGrainedOptions options = {})
      : table_(std::make_shared<const FeedbackTable>(std::move(table))), options_(options) {}
  explicit FineGrained(std::shared_ptr<const FeedbackTable> table, FineGrainedOptions options = {})
      : table_(std::move(table)), options_(options) {
    if (!table_) throw invalid_argument("rltf::FineGrained: the table is null");
  }

  /// α · R_fine on the penalised span, 0 elsewhere; one value per completion token. Throws
  /// rltf::invalid_argument when `offsets` does not have one entry per token of `sample`.
  [[nodiscard]] TokenRewards operator()(const Sample& sample, const ExecutionResult& result,
                                        const TokenOffsets& offsets) const {
    return explain(sample, result, offsets).rewards;
  }

  /// The classification, the line, the span, α and the rewards.
  [[nodiscard]] FineGrainedDetail explain(const Sample& sample, const ExecutionResult& result,
                                          const TokenOffsets& offsets) const {
    feedback::detail::require_offsets("rltf::FineGrained", sample, offsets);
    FineGrainedDetail d;
    d.classification = classify(*table_, sample, result);
    const std::size_t T = sample.tokens.size();
    d.span = {T, T};
    d.rewards.token.assign(T, 0.0F);
    switch (d.classification.category) {
    case FineCategory::ignore:
      break;
    case FineCategory::global:
      d.span = {0, T};
      break;
    case FineCategory::line:
      d.line_bytes = line_byte_range(sample.text, *d.classification.completion_line);
      if (d.line_bytes) d.span = tokens_intersecting(offsets, *d.line_bytes);
      break;
    }
    if (d.span.empty()) return d;
    d.alpha = options_.alpha == Alpha::paper ? static_cast<float>(T) / static_cast<float>(d.span.size()) : 1.0F;
    const float r = d.alpha * d.classification.fine_reward;
    for (std::size_t t = d.span.begin; t < d.span.end; ++t) d.rewards.token[t] = r;
    return d;
  }

  [[nodiscard]] const FeedbackTable& table() const noexcept { return *table_; }
  [[nodiscard]] const FineGrainedOptions& options() const noexcept { return options_; }

private:
  std::shared_ptr<const FeedbackTable> table_;
  FineGrainedOptions options_;
};

static_assert(Feedback<FineGrained>);

} // namespace rltf
