// D3 — DirectionPivot (`stats avg(eval(if(direction="transmit", io, null()))) … by cluster node
// pod service _time`), D4 (the key), and how D2's normalize_service adaptor feeds them. The
// normalizer itself (D2.1, D2.2 patterns) is tested in test_service_normalizer.cpp.
#include <k8snetio/k8snetio.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <catch2/catch.hpp>

namespace test_direction_pivot {

using k8snetio::measure_row;
using k8snetio::service_row;
using k8snetio::span_row;
using k8snetio::spl_number;

namespace {

constexpr std::size_t inbound = 0;   // network_io_measures: "receive"
constexpr std::size_t outbound = 1;  // network_io_measures: "transmit"

service_row row(std::string_view pod, std::string_view direction, std::int64_t time, double io,
                std::string_view service = "web", std::string_view node = "node-1",
                std::string_view cluster = "prod") {
  return service_row{{cluster, pod, node, direction, time, io}, service};
}

std::vector<measure_row<2>> pivot(const std::vector<service_row>& rows) {
  k8snetio::direction_pivot<2> p(k8snetio::network_io_measure_of);
  for (const auto& r : rows) p.add(r);
  std::vector<measure_row<2>> out;
  p.finish([&out](const measure_row<2>& r) { out.push_back(r); });
  return out;
}

template <class Range>
auto to_vector(Range&& rng) {
  std::vector<std::remove_cvref_t<decltype(*rng.begin())>> out;
  for (auto&& x : rng) out.push_back(x);
  return out;
}

}  // namespace

TEST_CASE("D2 integration: normalize_service() gives each D1 row its service") {
  const std::vector<span_row> rows{
      {"prod", "checkout-7d4b9c8f6d-x2k9p", "node-1", "transmit", 1700000000, 1500},
      {"prod", "kube-proxy-x2k9p", "node-2", "receive", 1700000010, 7},
      {"prod", "redis-0", "node-3", "transmit", 1700000020, 0.5},
  };
  // The services are views into the adaptor's cache: keep the view while reading them.
  auto services = rows | k8snetio::normalize_service();
  const auto out = to_vector(services);
  REQUIRE(out.size() == 3);
  CHECK(out[0].service == "checkout");
  CHECK(out[1].service == "kube-proxy");
  CHECK(out[2].service == "redis-0");
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(static_cast<const span_row&>(out[i]) == rows[i]);  // D1's fields pass unchanged
  }
}

TEST_CASE("D2.2 integration: normalize_service takes any callable") {
  const std::vector<span_row> rows{
      {"prod", "checkout-7d4b9c8f6d-x2k9p", "node-1", "transmit", 0, 1},
      {"prod", "api-v2-0", "node-1", "transmit", 0, 2},
  };
  const auto upto_dash = [](std::string_view pod) {
    return std::string(pod.substr(0, pod.find('-')));
  };
  auto services = rows | k8snetio::normalize_service(upto_dash);
  const auto out = to_vector(services);
  REQUIRE(out.size() == 2);
  CHECK(out[0].service == "checkout");
  CHECK(out[1].service == "api");
}

TEST_CASE("D2.3 an empty service flows on to the pivot and the key cluster:") {
  const std::vector<span_row> rows{{"prod", "-abcde", "node-1", "transmit", 10, 3}};
  auto view = rows | k8snetio::normalize_service();
  const auto services = to_vector(view);
  REQUIRE(services.size() == 1);
  CHECK(services[0].service.empty());
  CHECK(services[0].pod == "-abcde");

  const auto pivoted = pivot(services);
  REQUIRE(pivoted.size() == 1);
  CHECK(pivoted[0].service.empty());
  CHECK(pivoted[0].pod == "-abcde");
  CHECK(pivoted[0].values[outbound] == spl_number(3));
  CHECK(k8snetio::make_key(pivoted[0].cluster, pivoted[0].service) == "prod:");
}

TEST_CASE("D3.1 outbound is the mean of transmit rows and inbound of receive rows") {
  const auto out = pivot({
      row("web-0", "transmit", 100, 1400),
      row("web-0", "transmit", 100, 1601),
      row("web-0", "receive", 100, 2100),
  });
  REQUIRE(out.size() == 1);
  CHECK(out[0].cluster == "prod");
  CHECK(out[0].node == "node-1");
  CHECK(out[0].pod == "web-0");
  CHECK(out[0].service == "web");
  CHECK(out[0].time == 100);
  CHECK(out[0].values[outbound] == spl_number(1500.5));
  CHECK(out[0].values[inbound] == spl_number(2100));
}

TEST_CASE("D3.1 a measure with no row of its direction is null") {
  const auto out = pivot({row("web-0", "transmit", 0, 5), row("web-1", "receive", 0, 6)});
  REQUIRE(out.size() == 2);
  CHECK(out[0].values[outbound] == spl_number(5));
  CHECK_FALSE(out[0].values[inbound].has_value());
  CHECK_FALSE(out[1].values[outbound].has_value());
  CHECK(out[1].values[inbound] == spl_number(6));
}

TEST_CASE("D3.1 directions match exactly and case-sensitively") {
  const auto out = pivot({
      row("web-0", "Transmit", 0, 1),
      row("web-0", "RECEIVE", 0, 2),
      row("web-0", "transmit ", 0, 3),
      row("web-0", "transmit", 0, 40),
  });
  REQUIRE(out.size() == 1);
  CHECK(out[0].values[outbound] == spl_number(40));  // only the exact "transmit" row
  CHECK_FALSE(out[0].values[inbound].has_value());
}

TEST_CASE("D3.1 one row per cluster node pod service and _time") {
  const auto out = pivot({
      row("web-0", "transmit", 0, 1), row("web-0", "transmit", 10, 2),  // other _time
      row("web-0", "transmit", 0, 3, "web", "node-2"),                  // other node
      row("web-0", "transmit", 0, 4, "web", "node-1", "dev"),           // other cluster
      row("web-1", "transmit", 0, 5),                                   // other pod
      row("web-0", "transmit", 0, 6, "other"),                          // other service
      row("web-0", "receive", 0, 7),                                    // same as the first
  });
  REQUIRE(out.size() == 6);
  // First-appearance order.
  CHECK(out[0].time == 0);
  CHECK(out[0].values[outbound] == spl_number(1));
  CHECK(out[0].values[inbound] == spl_number(7));
  CHECK(out[1].time == 10);
  CHECK(out[2].node == "node-2");
  CHECK(out[3].cluster == "dev");
  CHECK(out[4].pod == "web-1");
  CHECK(out[5].service == "other");
  CHECK(out[5].values[outbound] == spl_number(6));
}

TEST_CASE("D3.2 a group with only other directions still yields a row with both null") {
  const auto out = pivot({row("web-0", "unknown", 30, 1), row("web-0", "Receive", 30, 2)});
  REQUIRE(out.size() == 1);
  CHECK(out[0].pod == "web-0");
  CHECK(out[0].time == 30);
  CHECK_FALSE(out[0].values[inbound].has_value());
  CHECK_FALSE(out[0].values[outbound].has_value());
}

TEST_CASE("D3 pivot_direction adaptor over service rows") {
  const std::vector<service_row> rows{row("web-0", "transmit", 0, 1400),
                                      row("web-0", "receive", 0, 2100),
                                      row("web-0", "other", 10, 9)};
  const auto out = to_vector(rows | k8snetio::pivot_direction(k8snetio::anomalous_network_io));
  REQUIRE(out.size() == 2);
  CHECK(out[0].values == std::array<spl_number, 2>{2100.0, 1400.0});
  CHECK(out[1].values == std::array<spl_number, 2>{std::nullopt, std::nullopt});
}

TEST_CASE("D3 the section 8 example from points: transmit 1500 and receive 2100") {
  const std::vector<k8snetio::metric_point> points{
      {1700000001, 1400, "k8s.pod.network.io", "prod", "checkout-7d4b9c8f6d-x2k9p", "node-1",
       "transmit"},
      {1700000002, 1600, "k8s.pod.network.io", "prod", "checkout-7d4b9c8f6d-x2k9p", "node-1",
       "transmit"},
      {1700000003, 2100, "k8s.pod.network.io", "prod", "checkout-7d4b9c8f6d-x2k9p", "node-1",
       "receive"},
  };
  // The pipeline's result owns the strings its rows point into: keep it while reading them.
  const auto pivoted = points | k8snetio::aggregate_spans() | k8snetio::normalize_service() |
                       k8snetio::pivot_direction(k8snetio::anomalous_network_io);
  const auto out = to_vector(pivoted);
  REQUIRE(out.size() == 1);
  CHECK(out[0].cluster == "prod");
  CHECK(out[0].node == "node-1");
  CHECK(out[0].pod == "checkout-7d4b9c8f6d-x2k9p");
  CHECK(out[0].service == "checkout");
  CHECK(out[0].time == 1700000000);
  CHECK(out[0].values[outbound] == spl_number(1500));
  CHECK(out[0].values[inbound] == spl_number(2100));
}

TEST_CASE("D4 key is cluster + colon + service") {
  CHECK(k8snetio::make_key("prod", "checkout") == "prod:checkout");
  CHECK(k8snetio::make_key("prod", "") == "prod:");
  CHECK(k8snetio::make_key("a:b", "c") == "a:b:c");
  CHECK(k8snetio::make_key("Prod", "Checkout") == "Prod:Checkout");  // case kept
  std::string buffer = "previous content";
  k8snetio::make_key(buffer, "dev", "web");
  CHECK(buffer == "dev:web");
}

}  // namespace test_direction_pivot
