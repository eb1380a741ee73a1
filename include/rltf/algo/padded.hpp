#pragma once
/// \file
/// Ragged per-sequence data → padded [batch, time] backend tensors with a mask (the one place
/// the trainers pad from).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "rltf/core/backend.hpp"
#include "rltf/core/sample.hpp"
#include "rltf/core/span.hpp"

namespace rltf::algo {

/// A padded batch: `values` [B, T_max], and `mask` [B, T_max] holding 1 on real entries, 0 on padding.
template <Backend B>
struct Padded {
  tensor_t<B> values;
  tensor_t<B> mask;
};

/// The length of the longest row.
template <class Row>
[[nodiscard]] std::size_t max_length(const std::vector<Row>& rows) noexcept {
  std::size_t t = 0;
  for (const auto& r : rows) t = std::max(t, static_cast<std::size_t>(r.size()));
  return t;
}

/// Right-pads ragged rows of floats with `pad` into a [rows, T_max] tensor and its mask.
template <Backend B>
[[nodiscard]] Padded<B> padded(const std::vector<std::vector<float>>& rows, float pad = 0.0F) {
  const std::size_t t_max = max_length(rows);
  std::vector<float> values(rows.size() * t_max, pad);
  std::vector<float> mask(rows.size() * t_max, 0.0F);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::copy(rows[i].begin(), rows[i].end(), values.begin() + static_cast<std::ptrdiff_t>(i * t_max));
    std::fill_n(mask.begin() + static_cast<std::ptrdiff_t>(i * t_max), rows[i].size(), 1.0F);
  }
  const Shape shape{static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(t_max)};
  return {B::from_values(values, shape), B::from_values(mask, shape)};
}

/// The [rows, T_max] mask of sequences of the given lengths.
template <Backend B>
[[nodiscard]] tensor_t<B> length_mask(const std::vector<std::size_t>& lengths, std::size_t t_max) {
  std::vector<float> mask(lengths.size() * t_max, 0.0F);
  for (std::size_t i = 0; i < lengths.size(); ++i)
    std::fill_n(mask.begin() + static_cast<std::ptrdiff_t>(i * t_max), std::min(lengths[i], t_max), 1.0F);
  return B::from_values(mask, Shape{static_cast<std::int64_t>(lengths.size()), static_cast<std::int64_t>(t_max)});
}

/// Right-pads (or cuts) ragged rows of floats with `pad` to exactly `t_max` columns: a
/// [rows, t_max] tensor (e.g. per-token weights aligned with policy.log_probs(samples)).
template <Backend B>
[[nodiscard]] tensor_t<B> padded_to(const std::vector<std::vector<float>>& rows, std::size_t t_max, float pad = 0.0F) {
  std::vector<float> values(rows.size() * t_max, pad);
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::copy_n(rows[i].begin(), std::min(rows[i].size(), t_max),
                values.begin() + static_cast<std::ptrdiff_t>(i * t_max));
  return B::from_values(values, Shape{static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(t_max)});
}

/// The [samples, T_max] mask of the samples' completion tokens (T_max: the longest completion),
/// the shape policy.log_probs(samples) returns.
template <Backend B>
[[nodiscard]] tensor_t<B> completion_mask(std::span<const Sample> samples) {
  std::vector<std::size_t> lengths;
  lengths.reserve(samples.size());
  std::size_t t_max = 0;
  for (const auto& s : samples) {
    lengths.push_back(s.tokens.size());
    t_max = std::max(t_max, s.tokens.size());
  }
  return length_mask<B>(lengths, t_max);
}

/// Right-pads ragged rows of token ids with `pad` into a [rows, T_max] index tensor.
template <Backend B>
[[nodiscard]] typename B::index_tensor padded_indices(const std::vector<std::vector<token_id>>& rows,
                                                      token_id pad = 0) {
  const std::size_t t_max = max_length(rows);
  std::vector<std::int64_t> ids(rows.size() * t_max, pad);
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::copy(rows[i].begin(), rows[i].end(), ids.begin() + static_cast<std::ptrdiff_t>(i * t_max));
  return B::indices(ids, Shape{static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(t_max)});
}

} // namespace rltf::algo
