#pragma once
/// \file
/// Portable random draws for the trainers. The standard distributions are implementation-defined
/// (libstdc++ and libc++ draw differently from the same engine), so everything a checkpoint must
/// reproduce is drawn here, from the raw 64-bit output of rltf::Rng.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "rltf/core/error.hpp"
#include "rltf/core/rng.hpp"

namespace rltf::detail {

/// A uniform integer in [0, n), unbiased (rejection on the low end of the 64-bit range).
[[nodiscard]] inline std::size_t uniform_index(Rng& rng, std::size_t n) {
  if (n == 0) throw invalid_argument("uniform_index: the range [0, 0) is empty");
  const std::uint64_t range = static_cast<std::uint64_t>(n);
  const std::uint64_t limit = std::uint64_t(-1) - (std::uint64_t(-1) % range + 1) % range;
  std::uint64_t x = rng();
  while (x > limit) x = rng();
  return static_cast<std::size_t>(x % range);
}

/// A uniform double in [0, 1) with 53 random bits.
[[nodiscard]] inline double uniform01(Rng& rng) {
  return static_cast<double>(rng() >> 11U) * (1.0 / 9007199254740992.0);
}

/// A standard normal draw (Box–Muller on two uniform draws; portable, unlike std::normal_distribution).
[[nodiscard]] inline double normal(Rng& rng) {
  double u1 = uniform01(rng);
  const double u2 = uniform01(rng);
  if (u1 < 1e-300) u1 = 1e-300;
  constexpr double two_pi = 6.283185307179586476925286766559;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(two_pi * u2);
}

/// Fisher–Yates shuffle of `v` driven by uniform_index.
template <class T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (std::size_t i = v.size(); i > 1; --i) {
    const std::size_t j = uniform_index(rng, i);
    std::swap(v[i - 1], v[j]);
  }
}

} // namespace rltf::detail
