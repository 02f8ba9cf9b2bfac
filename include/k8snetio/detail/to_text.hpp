// Numbers and short messages to text without fmt's formatting machinery (A4: the core headers
// include only what they need; fmt's format.h costs a core translation unit about 2 s of
// code generation for the handful of numbers the stages print). std::to_chars does the
// conversions: it is exact, locale-free and compiled into libstdc++, not into the user's TU.
// The shortest form reproduces fmt's "{}" for a double byte for byte (tests/test_to_text.cpp
// compares them over random and edge-case values).
#pragma once

#include <charconv>
#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>

namespace k8snetio::detail {

/// Appends an integer in decimal.
template <std::integral T>
void append_int(std::string& out, T value) {
  char buffer[24];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, end);
}

/// Appends `value` in hexadecimal, lower case, padded with zeros to `width` digits.
inline void append_hex(std::string& out, unsigned long long value, std::size_t width) {
  char buffer[24];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value, 16);
  const auto digits = static_cast<std::size_t>(end - buffer);
  if (digits < width) out.append(width - digits, '0');
  out.append(buffer, end);
}

/// Appends the shortest decimal that reads back as `x`, laid out as fmt's "{}" does it: fixed
/// notation for a decimal exponent in [-4, 16), else d[.ddd]e±XX (at least two exponent
/// digits); no trailing ".0"; "nan", "inf", "-inf".
inline void append_shortest(std::string& out, double x) {
  char buffer[40];
  const auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof buffer, x, std::chars_format::scientific);
  const std::string_view text(buffer, static_cast<std::size_t>(end - buffer));
  const std::size_t e = text.find('e');
  if (e == std::string_view::npos) {  // nan, inf, -inf
    out.append(text);
    return;
  }
  std::size_t at = 0;
  if (text[0] == '-') {
    out.push_back('-');
    at = 1;
  }
  char digits[24];
  std::size_t n = 0;
  for (std::size_t i = at; i < e; ++i)
    if (text[i] != '.') digits[n++] = text[i];
  int exponent = 0;  // the decimal exponent of the first digit
  const char* exponent_begin = text.data() + e + 1;
  if (*exponent_begin == '+') ++exponent_begin;
  std::from_chars(exponent_begin, text.data() + text.size(), exponent);
  const std::string_view significand(digits, n);

  if (exponent < -4 || exponent >= 16) {
    out.push_back(digits[0]);
    if (n > 1) {
      out.push_back('.');
      out.append(significand.substr(1));
    }
    out.push_back('e');
    out.push_back(exponent < 0 ? '-' : '+');
    const int magnitude = exponent < 0 ? -exponent : exponent;
    if (magnitude < 10) out.push_back('0');
    append_int(out, magnitude);
    return;
  }
  const int integer_digits = exponent + 1;  // digits before the point (<= 0: none)
  const int size = static_cast<int>(n);
  if (integer_digits >= size) {  // 1234e5 -> 123400000
    out.append(significand);
    out.append(static_cast<std::size_t>(integer_digits - size), '0');
  } else if (integer_digits > 0) {  // 1234e-2 -> 12.34
    const auto point = static_cast<std::size_t>(integer_digits);
    out.append(significand.substr(0, point));
    out.push_back('.');
    out.append(significand.substr(point));
  } else {  // 1234e-6 -> 0.001234
    out.append("0.");
    out.append(static_cast<std::size_t>(-integer_digits), '0');
    out.append(significand);
  }
}

/// Appends `x` with exactly `decimals` digits after the point (fmt's "{:.Nf}"), exactly rounded.
inline void append_fixed(std::string& out, double x, int decimals) {
  char buffer[352];  // the longest fixed form of a double with a few decimals
  const auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof buffer, x, std::chars_format::fixed, decimals);
  out.append(buffer, end);
}

/// Concatenates strings, characters, integers, bools and doubles, each as fmt's "{}" prints
/// it: concat("the key '", key, "' twice"), concat("sigma=", 4.0) is "sigma=4".
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  const auto add = [&out]<class Part>(const Part& part) {
    if constexpr (std::same_as<Part, bool>)
      out.append(part ? "true" : "false");
    else if constexpr (std::same_as<Part, char>)
      out.push_back(part);
    else if constexpr (std::integral<Part>)
      append_int(out, part);
    else if constexpr (std::floating_point<Part>)
      append_shortest(out, static_cast<double>(part));
    else
      out.append(std::string_view(part));
  };
  (add(parts), ...);
  return out;
}

}  // namespace k8snetio::detail
