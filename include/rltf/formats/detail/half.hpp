#pragma once
/// \file
/// IEEE binary16 (F16) and bfloat16 (BF16) ↔ binary32 conversions on the host, bit-exact with
/// LibTorch's (round to nearest, ties to even; NaN stays NaN; overflow goes to ±inf).

#include <bit>
#include <cstdint>

namespace rltf::formats::detail {

/// The float32 value of an IEEE half-precision bit pattern (exact: every half is a float).
[[nodiscard]] inline float f16_to_f32(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000U) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1FU;
  std::uint32_t mantissa = h & 0x3FFU;
  std::uint32_t bits = 0;
  if (exponent == 0x1FU) { // inf or NaN
    bits = sign | 0x7F800000U | (mantissa << 13);
  } else if (exponent != 0) { // normal
    bits = sign | ((exponent + 112U) << 23) | (mantissa << 13);
  } else if (mantissa != 0) { // subnormal: normalise
    std::uint32_t e = 113U;
    while ((mantissa & 0x400U) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3FFU) << 13);
  } else { // ±0
    bits = sign;
  }
  return std::bit_cast<float>(bits);
}

/// The nearest IEEE half-precision bit pattern to `f` (ties to even).
[[nodiscard]] inline std::uint16_t f32_to_f16(float f) noexcept {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000U);
  const std::uint32_t abs = bits & 0x7FFFFFFFU;
  if (abs > 0x7F800000U) // NaN: keep it quiet and keep the top payload bits
    return static_cast<std::uint16_t>(sign | 0x7E00U | ((abs >> 13) & 0x3FFU));
  if (abs >= 0x477FF000U) // ≥ 65520 rounds to inf (65504 is the largest half)
    return static_cast<std::uint16_t>(sign | 0x7C00U);
  if (abs < 0x38800000U) {              // below the smallest normal half (2^-14): subnormal or zero
    if (abs < 0x33000000U) return sign; // < 2^-25 rounds to zero (2^-25 itself ties to even: 0)
    const std::uint32_t exponent = abs >> 23;
    const std::uint32_t mantissa = (abs & 0x7FFFFFU) | 0x800000U;
    const std::uint32_t shift = 126U - exponent; // 14..24
    const std::uint32_t half = mantissa >> shift;
    const std::uint32_t rest = mantissa & ((1U << shift) - 1U);
    const std::uint32_t halfway = 1U << (shift - 1U);
    const std::uint32_t rounded = half + ((rest > halfway || (rest == halfway && (half & 1U) != 0)) ? 1U : 0U);
    return static_cast<std::uint16_t>(sign | rounded);
  }
  // normal: rebias the exponent and round the mantissa to 10 bits
  const std::uint32_t rebased = abs - 0x38000000U; // exponent 127 → 15
  const std::uint32_t lower = rebased & 0x1FFFU;
  std::uint32_t result = rebased >> 13;
  if (lower > 0x1000U || (lower == 0x1000U && (result & 1U) != 0)) ++result; // may carry into the exponent: fine
  return static_cast<std::uint16_t>(sign | result);
}

/// The float32 value of a bfloat16 bit pattern (exact).
[[nodiscard]] inline float bf16_to_f32(std::uint16_t b) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

/// The nearest bfloat16 bit pattern to `f` (ties to even; NaN stays a quiet NaN).
[[nodiscard]] inline std::uint16_t f32_to_bf16(float f) noexcept {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  if ((bits & 0x7FFFFFFFU) > 0x7F800000U) return static_cast<std::uint16_t>((bits >> 16) | 0x0040U);
  const std::uint32_t rounding = 0x7FFFU + ((bits >> 16) & 1U);
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

} // namespace rltf::formats::detail
