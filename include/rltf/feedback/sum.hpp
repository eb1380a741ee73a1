#pragma once
/// \file
/// Composing feedbacks: a sum of feedbacks is a feedback, and so is a scaled one.
///
///     auto f = rltf::sum(rltf::Adaptive{}, rltf::FineGrained{}, MyPenalty{});
///     auto g = rltf::Coarse{} + rltf::FineGrained{} + MyPenalty{};   // the same, with operator+
///     auto h = rltf::scaled(MyPenalty{}, 0.1F) + rltf::Coarse{};
///
/// The sum adds the sequence rewards and the token rewards (TokenRewards::operator+=). operator+
/// is found by argument-dependent lookup when one operand is an rltf feedback (or a sum).

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "rltf/core/execution_result.hpp"
#include "rltf/core/sample.hpp"
#include "rltf/core/span.hpp"
#include "rltf/feedback/feedback.hpp"

namespace rltf {

/// The sum of feedbacks Fs...: TokenRewards added part by part.
template <Feedback... Fs>
class Sum {
public:
  static_assert(sizeof...(Fs) > 0, "rltf::Sum needs at least one feedback");

  constexpr explicit Sum(Fs... parts) : parts_(std::move(parts)...) {}

  [[nodiscard]] TokenRewards operator()(const Sample& sample, const ExecutionResult& result,
                                        const TokenOffsets& offsets) const {
    TokenRewards total;
    std::apply([&](const auto&... f) { ((total += f(sample, result, offsets)), ...); }, parts_);
    return total;
  }

  /// The feedbacks, in order.
  [[nodiscard]] constexpr const std::tuple<Fs...>& parts() const noexcept { return parts_; }
  /// The I-th feedback.
  template <std::size_t I>
  [[nodiscard]] constexpr const auto& get() const noexcept {
    return std::get<I>(parts_);
  }

private:
  std::tuple<Fs...> parts_;
};

/// A feedback whose rewards (sequence and token) are multiplied by a weight.
template <Feedback F>
class Scaled {
public:
  constexpr Scaled(F feedback, float weight) : feedback_(std::move(feedback)), weight_(weight) {}

  [[nodiscard]] TokenRewards operator()(const Sample& sample, const ExecutionResult& result,
                                        const TokenOffsets& offsets) const {
    TokenRewards r = feedback_(sample, result, offsets);
    r.sequence *= weight_;
    for (auto& v : r.token) v *= weight_;
    return r;
  }

  [[nodiscard]] constexpr const F& feedback() const noexcept { return feedback_; }
  [[nodiscard]] constexpr float weight() const noexcept { return weight_; }

private:
  F feedback_;
  float weight_;
};

namespace feedback::detail {
template <class F>
struct is_sum : std::false_type {};
template <class... Fs>
struct is_sum<Sum<Fs...>> : std::true_type {};

/// A feedback as a tuple of summands: a Sum's parts, or the feedback alone.
template <class F>
constexpr auto summands(F&& f) {
  if constexpr (is_sum<std::remove_cvref_t<F>>::value)
    return std::forward<F>(f).parts();
  else
    return std::tuple<std::remove_cvref_t<F>>(std::forward<F>(f));
}

template <class... Fs>
constexpr Sum<Fs...> sum_of_tuple(std::tuple<Fs...>&& t) {
  return std::make_from_tuple<Sum<Fs...>>(std::move(t));
}
} // namespace feedback::detail

/// The sum of the given feedbacks (sums among them are flattened).
template <class... Fs>
requires(sizeof...(Fs) > 0 && (Feedback<std::remove_cvref_t<Fs>> && ...))
    [[nodiscard]] constexpr auto sum(Fs&&... feedbacks) {
  return feedback::detail::sum_of_tuple(std::tuple_cat(feedback::detail::summands(std::forward<Fs>(feedbacks))...));
}

/// `feedback` with its rewards multiplied by `weight`.
template <class F>
requires Feedback<std::remove_cvref_t<F>>
[[nodiscard]] constexpr Scaled<std::remove_cvref_t<F>> scaled(F&& feedback, float weight) {
  return Scaled<std::remove_cvref_t<F>>(std::forward<F>(feedback), weight);
}

/// `a + b` is rltf::sum(a, b).
template <class A, class B>
requires Feedback<std::remove_cvref_t<A>> && Feedback<std::remove_cvref_t<B>>
[[nodiscard]] constexpr auto operator+(A&& a, B&& b) { return sum(std::forward<A>(a), std::forward<B>(b)); }

} // namespace rltf
