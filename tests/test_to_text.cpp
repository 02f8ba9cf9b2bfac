// F1, F2 and A4: the core headers print numbers with std::to_chars (detail/to_text.hpp), not
// fmt; these cases hold that text to fmt's, byte for byte, over edge cases and random values.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <k8snetio/detail/to_text.hpp>
#include <k8snetio/model/spl_values.hpp>

namespace test_to_text {

std::string shortest(double x) {
  std::string s;
  k8snetio::detail::append_shortest(s, x);
  return s;
}

double from_bits(std::uint64_t bits) {
  double x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

std::vector<double> edge_cases() {
  std::vector<double> v = {0.0,
                           -0.0,
                           1.0,
                           -1.0,
                           0.1,
                           0.5,
                           2.555,
                           100.0,
                           1e5,
                           123456.0,
                           1e15,
                           9999999999999998.0,
                           1e16,
                           1.5e16,
                           1e17,
                           1e21,
                           1e22,
                           1e-4,
                           0.00012345,
                           9.9999e-5,
                           1e-5,
                           1.5e-5,
                           5e-324,
                           2.2250738585072014e-308,
                           1.7976931348623157e308,
                           4.35,
                           1000000.5,
                           12345678901234567890.0,
                           3.0e-7,
                           299792458.0,
                           1.0 / 3.0,
                           2.0 / 3.0,
                           42.4242,
                           1e100,
                           1e-100,
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::quiet_NaN()};
  for (int e = -30; e <= 30; ++e) {
    v.push_back(std::pow(10.0, e));
    v.push_back(1.25 * std::pow(10.0, e));
    v.push_back(-9.875 * std::pow(10.0, e));
  }
  return v;
}

TEST_CASE("F1: the shortest number text is fmt's \"{}\" byte for byte, edge cases") {
  for (const double x : edge_cases()) {
    INFO("x bits " << fmt::format("{:a}", x));
    CHECK(shortest(x) == fmt::format("{}", x));
    CHECK(k8snetio::spl::format_number(x) == fmt::format("{}", x));
  }
}

TEST_CASE("F1: the shortest number text is fmt's \"{}\" byte for byte, 200,000 random doubles") {
  std::mt19937_64 random(20261207);
  std::uniform_real_distribution<double> everyday(-1e7, 1e7);
  std::size_t differing = 0;
  for (int i = 0; i < 100'000; ++i) {
    const double any = from_bits(random());  // every exponent, NaNs included
    const double usual = everyday(random);
    for (const double x : {any, usual})
      if (shortest(x) != fmt::format("{}", x)) {
        if (++differing < 5) FAIL_CHECK(fmt::format("{:a}: {} vs fmt {}", x, shortest(x), x));
      }
  }
  CHECK(differing == 0);
}

TEST_CASE("F2: two-decimal text is fmt's \"{:.2f}\" byte for byte") {
  std::mt19937_64 random(7);
  std::uniform_real_distribution<double> everyday(-1e9, 1e9);
  std::vector<double> values = edge_cases();
  for (int i = 0; i < 100'000; ++i) values.push_back(everyday(random));
  for (int i = 0; i < 1000; ++i) values.push_back(static_cast<double>(i) / 200.0);
  std::size_t differing = 0;
  for (const double x : values) {
    const double rounded = k8snetio::spl::round2(x);
    if (k8snetio::spl::format_round2(x) != fmt::format("{:.2f}", rounded)) ++differing;
  }
  CHECK(differing == 0);
}

TEST_CASE("A4: concat and append_hex give the text fmt gave for messages and ids") {
  using k8snetio::detail::concat;
  CHECK(concat("the key '", std::string("prod:web"), "' twice") == "the key 'prod:web' twice");
  CHECK(concat("measures: ", std::size_t{2}, ", lateness ", std::int64_t{-30}, ' ',
               true ? "a" : "b") == "measures: 2, lateness -30 a");
  std::string hex;
  k8snetio::detail::append_hex(hex, 0xabcULL, 16);
  CHECK(hex == fmt::format("{:016x}", 0xabcULL));
  hex.clear();
  k8snetio::detail::append_hex(hex, 0xfedcba9876543210ULL, 16);
  CHECK(hex == fmt::format("{:016x}", 0xfedcba9876543210ULL));
}

}  // namespace test_to_text
