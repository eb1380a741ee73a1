#pragma once
/// \file
/// RLTF's coarse and adaptive feedbacks (docs/feedback.md): one reward R for the whole completion.
///
///     rltf::Coarse coarse;     // pass +1, failure −0.3, runtime error (incl. timeout) −0.6, syntax error −1
///     rltf::Adaptive adaptive; // the same, but a failure scores −0.3 + 1.3 · passed / total
///
/// Both read their values from a FeedbackTable (FeedbackTable::defaults() unless given one) and
/// set TokenRewards::sequence only; TokenRewards::token is left empty.

#include <memory>
#include <utility>

#include "rltf/core/execution_result.hpp"
#include "rltf/core/sample.hpp"
#include "rltf/core/span.hpp"
#include "rltf/feedback/feedback.hpp"
#include "rltf/feedback/table.hpp"

namespace rltf {

/// Coarse feedback: R by outcome (a rule's coarse_reward overrides its error's value).
class Coarse {
public:
  /// With FeedbackTable::defaults().
  Coarse() : table_(feedback::detail::default_table()) {}
  /// With a table of the user's.
  explicit Coarse(FeedbackTable table) : table_(std::make_shared<const FeedbackTable>(std::move(table))) {}
  explicit Coarse(std::shared_ptr<const FeedbackTable> table) : table_(std::move(table)) {
    if (!table_) throw invalid_argument("rltf::Coarse: the table is null");
  }

  [[nodiscard]] TokenRewards operator()(const Sample& sample, const ExecutionResult& result,
                                        const TokenOffsets& /*offsets*/) const {
    return TokenRewards{classify(*table_, sample, result).coarse_reward, {}};
  }

  [[nodiscard]] const FeedbackTable& table() const noexcept { return *table_; }

private:
  std::shared_ptr<const FeedbackTable> table_;
};

/// Adaptive feedback: Coarse, except that a failure scores failure + (pass − failure) · passed/total
/// (−0.3 + 1.3 · passed/total with the default values), so partial passes earn partial reward.
class Adaptive {
public:
  Adaptive() : table_(feedback::detail::default_table()) {}
  explicit Adaptive(FeedbackTable table) : table_(std::make_shared<const FeedbackTable>(std::move(table))) {}
  explicit Adaptive(std::shared_ptr<const FeedbackTable> table) : table_(std::move(table)) {
    if (!table_) throw invalid_argument("rltf::Adaptive: the table is null");
  }

  [[nodiscard]] TokenRewards operator()(const Sample& sample, const ExecutionResult& result,
                                        const TokenOffsets& /*offsets*/) const {
    if (result.outcome == Outcome::failure && result.total > 0) {
      const auto& c = table_->coarse;
      return TokenRewards{c.failure + (c.pass - c.failure) * static_cast<float>(result.pass_ratio()), {}};
    }
    return TokenRewards{classify(*table_, sample, result).coarse_reward, {}};
  }

  [[nodiscard]] const FeedbackTable& table() const noexcept { return *table_; }

private:
  std::shared_ptr<const FeedbackTable> table_;
};

static_assert(Feedback<Coarse>);
static_assert(Feedback<Adaptive>);

} // namespace rltf
