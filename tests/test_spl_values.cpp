// Spec §5 (N1–N4, SPL's nulls) and §6 (F1–F2, number to text). The anomaly text's use of
// them (and F3, the baseline cell's own text) is tested with the scorer.
#include <k8snetio/k8snetio.hpp>

#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

namespace test_spl_values {

using k8snetio::spl_number;
namespace spl = k8snetio::spl;

TEST_CASE("F1 tostring of a number: the spec's examples") {
  CHECK(spl::format_number(1500) == "1500");
  CHECK(spl::format_number(0.1) == "0.1");
  CHECK(spl::format_number(0.1 + 0.2) == "0.30000000000000004");
  CHECK(spl::format_number(1e16) == "1e+16");
  CHECK(spl::format_number(1.5e-05) == "1.5e-05");
}

TEST_CASE("F1 no trailing .0 and the exponent thresholds -4 and 16") {
  CHECK(spl::format_number(5.0) == "5");
  CHECK(spl::format_number(0.0) == "0");
  CHECK(spl::format_number(-0.5) == "-0.5");
  CHECK(spl::format_number(1500.25) == "1500.25");
  CHECK(spl::format_number(0.0001) == "0.0001");  // exponent -4: still fixed
  CHECK(spl::format_number(0.00012) == "0.00012");
  CHECK(spl::format_number(0.00001) == "1e-05");          // exponent -5
  CHECK(spl::format_number(1e15) == "1000000000000000");  // exponent 15: still fixed
  CHECK(spl::format_number(9999999999999998.0) == "9999999999999998");
  CHECK(spl::format_number(123456789012345680.0) == "1.2345678901234568e+17");
  CHECK(spl::format_number(-1e16) == "-1e+16");
}

TEST_CASE("F1 the shortest decimal that reads back as the same double") {
  CHECK(spl::format_number(12.615183595289349) == "12.615183595289349");
  CHECK(spl::format_number(3.9900000000000055) == "3.9900000000000055");
  CHECK(spl::format_number(1.0 / 3.0) == "0.3333333333333333");
  CHECK(spl::format_number(2.0 / 3.0) == "0.6666666666666666");
  for (double x : {0.1, 1.0 / 3.0, 12.615183595289349, 1e-300, 1.7976931348623157e308}) {
    const std::string text = spl::format_number(x);
    CHECK(std::stod(text) == x);
  }
  std::string appended = "v=";
  spl::append_number(appended, 0.1 + 0.2);
  CHECK(appended == "v=0.30000000000000004");
}

TEST_CASE("F2 round(x, 2) scales by 100 in double arithmetic: the spec's examples") {
  // 2.555 is 2.55499999999999971578… but 2.555 * 100 is 255.50000000000003, so 2.56.
  CHECK(spl::round2(2.555) == 2.56);
  CHECK(spl::format_round2(2.555) == "2.56");
  CHECK(spl::format_round2(5) == "5.00");
  // 12.345 * 100 is exactly 1234.5 in double arithmetic, which rounds away from zero.
  CHECK(spl::format_round2(12.345) == "12.35");
  CHECK(spl::format_round2(-0.5) == "-0.50");
}

TEST_CASE("F2 half away from zero, not half to even") {
  // 0.125 is exact; x * 100 = 12.5 exactly: away from zero gives 13 (to even would give 12).
  CHECK(spl::format_round2(0.125) == "0.13");
  CHECK(spl::format_round2(-0.125) == "-0.13");
  CHECK(spl::format_round2(0.375) == "0.38");
  // 1.005 * 100 is 100.49999999999999: rounds down.
  CHECK(spl::format_round2(1.005) == "1.00");
  CHECK(spl::format_round2(2.345) == "2.35");  // 234.50000000000003
  CHECK(spl::format_round2(4.5025) == "4.50");
  CHECK(spl::format_round2(4.995) == "5.00");  // 499.5 exactly
  CHECK(spl::format_round2(1234567.891) == "1234567.89");
  CHECK(spl::format_round2(1e16) == "10000000000000000.00");  // fixed notation, never exponent
  std::string appended = "z=";
  spl::append_round2(appended, 2.555);
  CHECK(appended == "z=2.56");
}

TEST_CASE("N1 a comparison with a null operand is false") {
  CHECK(spl::greater(2.0, 1.0));
  CHECK_FALSE(spl::greater(1.0, 1.0));
  CHECK_FALSE(spl::greater(std::nullopt, 1.0));
  CHECK_FALSE(spl::greater(1.0, std::nullopt));
  CHECK_FALSE(spl::greater(std::nullopt, std::nullopt));
  // Not "null is less than everything": a null left side is not greater than -inf either.
  CHECK_FALSE(spl::greater(std::nullopt, -std::numeric_limits<double>::infinity()));
}

TEST_CASE("N2 arithmetic with a null operand is null and division by zero is null") {
  CHECK(spl::add(1.0, 2.0) == spl_number(3.0));
  CHECK(spl::sub(1.0, 2.0) == spl_number(-1.0));
  CHECK(spl::mul(4.0, 2.5) == spl_number(10.0));
  CHECK(spl::div(1.0, 4.0) == spl_number(0.25));
  CHECK_FALSE(spl::add(std::nullopt, 1.0));
  CHECK_FALSE(spl::add(1.0, std::nullopt));
  CHECK_FALSE(spl::sub(std::nullopt, 1.0));
  CHECK_FALSE(spl::mul(1.0, std::nullopt));
  CHECK_FALSE(spl::div(std::nullopt, 1.0));
  CHECK_FALSE(spl::div(1.0, std::nullopt));
  CHECK_FALSE(spl::div(1.0, 0.0));
  CHECK_FALSE(spl::div(0.0, 0.0));
  CHECK_FALSE(spl::div(1.0, -0.0));
  // The D6.2 threshold a + k * s is null when s is null, and then v > null is false (N1).
  CHECK_FALSE(spl::greater(1e300, spl::add(0.0, spl::mul(4.0, std::nullopt))));
}

// N3 and N4 act on the anomaly text: a null text makes the whole `anomalies` null, and the
// `where anomalies != ""` drops it. They are proven on the scorer in
// test_sigma_anomaly_scorer.cpp ("N3 …", "N4 …").

}  // namespace test_spl_values
