// The one number parser of every reader (CSV cells, HEC strings, OTLP strings, baseline cells)
// and of the findings reader, and the one reading of a time: epoch seconds (I1), ISO 8601 as
// Splunk exports `_time` (I1.1), and epoch values in another unit refused or converted (I1.4).
// Strict on purpose: std::from_chars' grammar, no spaces, no leading '+'; every real shape we
// know (Splunk's CSV and HEC, the collector's OTLP JSON) writes numbers that way.
#pragma once

#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <system_error>

namespace k8snetio::io {

/// How a text cell read as a number (parse_number).
enum class number_status : std::uint8_t { ok, invalid, out_of_range };

namespace detail {

/// If the 8 bytes at `p` are digits: their value into `out`, `p` past them. SWAR, as in
/// fast_float: three multiplications for the eight digits instead of eight.
inline bool take_eight_digits(const char*& p, std::uint64_t& out) noexcept {
  if constexpr (std::endian::native != std::endian::little) {
    return false;
  } else {
    std::uint64_t v = 0;
    std::memcpy(&v, p, 8);
    if ((((v & 0xF0F0F0F0F0F0F0F0) | (((v + 0x0606060606060606) & 0xF0F0F0F0F0F0F0F0) >> 4)) !=
         0x3333333333333333))
      return false;
    constexpr std::uint64_t mask = 0x000000FF000000FF;
    constexpr std::uint64_t mul1 = 100 + (1000000ULL << 32);
    constexpr std::uint64_t mul2 = 1 + (10000ULL << 32);
    v -= 0x3030303030303030;
    v = (v * 10) + (v >> 8);
    out = static_cast<std::uint32_t>((((v & mask) * mul1) + (((v >> 16) & mask) * mul2)) >> 32);
    p += 8;
    return true;
  }
}

}  // namespace detail

/// The whole of `text` as a double, with std::from_chars' grammar (no leading '+' or
/// space; "nan" and "inf" parse and are left for the caller to reject). Plain decimals of up
/// to 15 digits take an exact fast path: the digits as an integer divided by a power of ten
/// are both exact doubles, so the one rounding of the division gives from_chars' result.
inline number_status parse_number(std::string_view text, double& out) noexcept {
  static constexpr std::array<double, 23> powers_of_ten = {
      1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
      1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const char* p = text.data();
  const char* const e = p + text.size();
  const bool negative = p < e && *p == '-';
  if (negative) ++p;
  std::uint64_t mantissa = 0;
  int digits = 0;
  int fraction_digits = 0;
  if (e - p >= 8 && detail::take_eight_digits(p, mantissa)) digits = 8;  // epoch seconds
  for (; p < e && static_cast<unsigned char>(*p - '0') < 10; ++p, ++digits)
    mantissa = mantissa * 10 + static_cast<unsigned>(*p - '0');
  if (p < e && *p == '.') {
    for (++p; p < e && static_cast<unsigned char>(*p - '0') < 10; ++p, ++digits, ++fraction_digits)
      mantissa = mantissa * 10 + static_cast<unsigned>(*p - '0');
  }
  if (p == e && digits > 0 && digits <= 15) {
    double magnitude = static_cast<double>(mantissa);
    if (fraction_digits != 0) magnitude /= powers_of_ten[static_cast<std::size_t>(fraction_digits)];
    out = negative ? -magnitude : magnitude;
    return number_status::ok;
  }
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (end != text.data() + text.size()) return number_status::invalid;
  if (ec == std::errc::result_out_of_range) return number_status::out_of_range;
  return ec == std::errc{} ? number_status::ok : number_status::invalid;
}

/// The whole of `text` as an integer (decimal, an optional '-' for signed types only): the
/// 64-bit integers OTLP/JSON writes as strings, a baseline `count`.
template <class Integer>
number_status parse_integer(std::string_view text, Integer& out) noexcept {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (text.empty() || end != text.data() + text.size()) return number_status::invalid;
  if (ec == std::errc::result_out_of_range) return number_status::out_of_range;
  return ec == std::errc{} ? number_status::ok : number_status::invalid;
}

// ---- times ---------------------------------------------------------------------------------

/// The unit of epoch numbers (I1.4, `--time-unit`): seconds unless told otherwise.
enum class time_unit : std::uint8_t { seconds, milliseconds, microseconds, nanoseconds };

constexpr std::string_view to_string(time_unit u) noexcept {
  switch (u) {
    case time_unit::seconds: return "s";
    case time_unit::milliseconds: return "ms";
    case time_unit::microseconds: return "us";
    case time_unit::nanoseconds: return "ns";
  }
  return "s";
}

/// The unit `--time-unit NAME` names ("s", "ms", "us", "ns"); nullopt for anything else.
constexpr std::optional<time_unit> parse_time_unit(std::string_view name) noexcept {
  for (auto u : {time_unit::seconds, time_unit::milliseconds, time_unit::microseconds,
                 time_unit::nanoseconds})
    if (name == to_string(u)) return u;
  return std::nullopt;
}

/// Epoch seconds at or beyond this (in magnitude) are year 5138 on: no time of ours. A number
/// there is almost surely milliseconds, microseconds or nanoseconds (I1.4).
inline constexpr double max_epoch_seconds = 1e11;

/// How a time read (read_time, epoch_seconds).
enum class time_status : std::uint8_t {
  ok,
  bad_number,    ///< neither a number nor an ISO 8601 time with a zone
  non_finite,    ///< NaN or ±inf (D1.2)
  out_of_range,  ///< not a plausible epoch time in the unit it was read in (I1.4)
};

/// `value` (a number in `unit`) as epoch seconds into `out`.
inline time_status epoch_seconds(double value, time_unit unit, double& out) noexcept {
  if (!std::isfinite(value)) return time_status::non_finite;
  switch (unit) {
    case time_unit::seconds: break;
    case time_unit::milliseconds: value /= 1e3; break;
    case time_unit::microseconds: value /= 1e6; break;
    case time_unit::nanoseconds: value /= 1e9; break;
  }
  if (std::fabs(value) >= max_epoch_seconds) return time_status::out_of_range;
  out = value;
  return time_status::ok;
}

/// The unit an out-of-range epoch number was most likely written in, for the message that
/// refuses it ("looks like epoch milliseconds"); nullopt when it is none of them either.
inline std::optional<time_unit> likely_time_unit(double seconds_read) noexcept {
  const double v = std::fabs(seconds_read);
  if (v >= 1e11 && v < 1e14) return time_unit::milliseconds;
  if (v >= 1e14 && v < 1e17) return time_unit::microseconds;
  if (v >= 1e17 && v < 1e20) return time_unit::nanoseconds;
  return std::nullopt;
}

/// Word for a unit in messages.
constexpr std::string_view unit_word(time_unit u) noexcept {
  switch (u) {
    case time_unit::seconds: return "seconds";
    case time_unit::milliseconds: return "milliseconds";
    case time_unit::microseconds: return "microseconds";
    case time_unit::nanoseconds: return "nanoseconds";
  }
  return "seconds";
}

namespace detail {

/// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's
/// days_from_civil).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

constexpr bool take_digits(std::string_view& s, std::size_t n, unsigned& out) noexcept {
  if (s.size() < n) return false;
  out = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (static_cast<unsigned char>(s[i] - '0') >= 10) return false;
    out = out * 10 + static_cast<unsigned>(s[i] - '0');
  }
  s.remove_prefix(n);
  return true;
}

constexpr bool take_char(std::string_view& s, char c) noexcept {
  if (s.empty() || s.front() != c) return false;
  s.remove_prefix(1);
  return true;
}

}  // namespace detail

/// An ISO 8601 / RFC 3339 time as Splunk exports `_time` (I1.1):
/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM)`, 'T' or a space between date and time.
/// The zone is required: a local time without one names no instant.
inline bool parse_iso8601(std::string_view s, double& out) noexcept {
  using detail::take_char;
  using detail::take_digits;
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!take_digits(s, 4, year) || !take_char(s, '-') || !take_digits(s, 2, month) ||
      !take_char(s, '-') || !take_digits(s, 2, day))
    return false;
  if (!take_char(s, 'T') && !take_char(s, 't') && !take_char(s, ' ')) return false;
  if (!take_digits(s, 2, hour) || !take_char(s, ':') || !take_digits(s, 2, minute) ||
      !take_char(s, ':') || !take_digits(s, 2, second))
    return false;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return false;
  static constexpr std::array<unsigned, 12> month_days = {31, 29, 31, 30, 31, 30,
                                                          31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > month_days[month - 1] || (month == 2 && day == 29 && !leap)) return false;
  double fraction = 0;
  if (take_char(s, '.') || take_char(s, ',')) {
    double scale = 0.1;
    std::size_t n = 0;
    while (!s.empty() && static_cast<unsigned char>(s.front() - '0') < 10) {
      fraction += (s.front() - '0') * scale;
      scale /= 10;
      s.remove_prefix(1);
      ++n;
    }
    if (n == 0) return false;
  }
  std::int64_t offset = 0;
  if (take_char(s, 'Z') || take_char(s, 'z')) {
  } else if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    const int sign = s.front() == '-' ? -1 : 1;
    s.remove_prefix(1);
    unsigned oh = 0, om = 0;
    if (!take_digits(s, 2, oh)) return false;
    take_char(s, ':');
    if (!s.empty() && !take_digits(s, 2, om)) return false;
    if (oh > 23 || om > 59) return false;
    offset = sign * static_cast<std::int64_t>(oh * 3600 + om * 60);
  } else {
    return false;
  }
  if (!s.empty()) return false;
  const std::int64_t days = detail::days_from_civil(year, month, day);
  const std::int64_t whole = days * 86400 + hour * 3600 + minute * 60 + second - offset;
  out = static_cast<double>(whole) + fraction;
  return true;
}

/// A time cell or string (I1, I1.1, I1.4): ISO 8601 with a zone, or an epoch number in `unit`,
/// as epoch seconds. out_of_range leaves the number as read in `out`, for likely_time_unit.
inline time_status read_time(std::string_view text, time_unit unit, double& out) noexcept {
  if (text.size() >= 20 && text[4] == '-') {
    if (parse_iso8601(text, out)) return time_status::ok;
    return time_status::bad_number;
  }
  double value = 0;
  const number_status st = parse_number(text, value);
  if (st == number_status::out_of_range) {
    out = HUGE_VAL;
    return time_status::out_of_range;
  }
  if (st != number_status::ok) return time_status::bad_number;
  const time_status ts = epoch_seconds(value, unit, out);
  if (ts == time_status::out_of_range) out = value;
  return ts;
}

}  // namespace k8snetio::io
