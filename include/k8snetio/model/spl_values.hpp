// SPL's nulls and number-to-text rules (spec §5 N1–N4, §6 F1–F2). Nulls are std::optional,
// never NaN, so that every place a null can arise or be tested is visible in the code.
#pragma once

#include <cmath>
#include <optional>
#include <string>

#include "../detail/to_text.hpp"

namespace k8snetio {

/// A number that may be SPL null.
using spl_number = std::optional<double>;

namespace spl {

/// N1: a comparison with a null operand is false.
constexpr bool greater(spl_number a, spl_number b) noexcept { return a && b && *a > *b; }

/// N2: arithmetic with a null operand is null.
constexpr spl_number add(spl_number a, spl_number b) noexcept {
  return a && b ? spl_number(*a + *b) : std::nullopt;
}
constexpr spl_number sub(spl_number a, spl_number b) noexcept {
  return a && b ? spl_number(*a - *b) : std::nullopt;
}
constexpr spl_number mul(spl_number a, spl_number b) noexcept {
  return a && b ? spl_number(*a * *b) : std::nullopt;
}
/// N2: division by zero is null too.
constexpr spl_number div(spl_number a, spl_number b) noexcept {
  return a && b && *b != 0 ? spl_number(*a / *b) : std::nullopt;
}

/// F1: tostring(number) — shortest round-trip decimal, no trailing ".0", exponent form only
/// below 1e-4 or from 1e16 on: fmt's "{}", which detail::append_shortest reproduces.
inline std::string format_number(double x) {
  std::string s;
  detail::append_shortest(s, x);
  return s;
}

/// Appends F1 text without a temporary string.
inline void append_number(std::string& out, double x) { detail::append_shortest(out, x); }

/// F2's rounding: round(x, 2) as Splunk does it, by scaling in double arithmetic with
/// half-away-from-zero (so round(2.555, 2) is 2.56: 2.555 * 100 is 255.50000000000003).
inline double round2(double x) noexcept { return std::round(x * 100) / 100 + 0.0; }

/// F2: tostring(round(x, 2)) — the rounded value with exactly two decimals.
inline void append_round2(std::string& out, double x) { detail::append_fixed(out, round2(x), 2); }
inline std::string format_round2(double x) {
  std::string s;
  append_round2(s, x);
  return s;
}

}  // namespace spl
}  // namespace k8snetio
