#include <k8snetio/stages/pcre2_service_normalizer.hpp>

#include <array>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

namespace test_service_normalizer {

using namespace std::string_view_literals;
using k8snetio::default_service_name;
using k8snetio::find_default_service_suffix;
using k8snetio::service_match;

namespace {

struct example {
  std::string_view pod;
  std::string_view service;
};

constexpr std::array<example, 7> spec_examples{{
    {"checkout-7d4b9c8f6d-x2k9p", "checkout"},
    {"kube-proxy-x2k9p", "kube-proxy"},
    {"web-abcdef1-x2k9p", "web-abcdef1"},
    {"redis-0", "redis-0"},
    {"api-ABCDEF12-x2k9p", "api-ABCDEF12"},
    {"a_b-c_d_e", "a_b"},
    {"-abcde", ""},
}};

}  // namespace

TEST_CASE("D2.1 the spec's examples") {
  for (const auto& [pod, service] : spec_examples) {
    INFO("pod: " << pod);
    CHECK(default_service_name(pod) == service);
    CHECK(k8snetio::default_service_normalizer{}(pod) == service);
  }
  static_assert(find_default_service_suffix("checkout-7d4b9c8f6d-x2k9p") == service_match{8, 25});
  static_assert(find_default_service_suffix("kube-proxy-x2k9p") == service_match{10, 16});
  static_assert(!find_default_service_suffix("redis-0"));
}

TEST_CASE("D2.1 the leftmost match wins, then the first alternative") {
  CHECK(default_service_name("x-abcdef12-abcde") == "x");
  CHECK(default_service_name("-abcdef12-abcde") == "");
  CHECK(default_service_name("x-abcdef1234-abcde") == "x");
  CHECK(default_service_name("x-abcdef12345-abcde") == "x-abcdef12345");
  CHECK(default_service_name("x-abcDef12-abcde") == "x-abcDef12");
  CHECK(default_service_name("abcdef12-abcde") == "abcdef12");
  CHECK(default_service_name("x_abcdef12-abcde") == "x_abcdef12");
  CHECK(default_service_name("--abcde") == "-");
  CHECK(default_service_name("x-abcdef12--abcde") == "x-abcdef12-");
  CHECK(default_service_name("job-12345678-abcde") == "job");
}

TEST_CASE("D2.1 no match leaves the pod unchanged") {
  for (const auto pod : {""sv, "-"sv, "abcde"sv, "-abcd"sv, "x-abcd"sv, "x-abcdef"sv, "x-abc.e"sv,
                         "x-abcde-"sv, "x-abcde "sv, "x-abcde\r"sv}) {
    INFO("pod: " << pod);
    CHECK(!find_default_service_suffix(pod));
    CHECK(default_service_name(pod) == pod);
  }
}

TEST_CASE("D2.1 \\w is ASCII only") {
  CHECK(default_service_name("web-abcd\xE9") == "web-abcd\xE9");
  CHECK(default_service_name("\xE9t\xE9-x2k9p") == "\xE9t\xE9");
  CHECK(default_service_name("web-\xFF\xFF\xFF\xFF\xFF") == "web-\xFF\xFF\xFF\xFF\xFF");
}

TEST_CASE("D2.1 a trailing newline stays after the service") {
  CHECK(find_default_service_suffix("checkout-7d4b9c8f6d-x2k9p\n") == service_match{8, 25});
  CHECK(default_service_name("checkout-7d4b9c8f6d-x2k9p\n") == "checkout\n");
  CHECK(default_service_name("kube-proxy-x2k9p\n") == "kube-proxy\n");
  CHECK(default_service_name("-abcde\n") == "\n");
  CHECK(default_service_name("kube-proxy-x2k9p\n\n") == "kube-proxy-x2k9p\n\n");
  CHECK(default_service_name("kube-proxy-x2k9p\r\n") == "kube-proxy-x2k9p\r\n");
  CHECK(default_service_name("\n") == "\n");
}

TEST_CASE("D2.2 a custom pattern and a callable normalizer") {
  SECTION("a custom pattern replaces every match, as SPL's replace() does") {
    const k8snetio::regex_service_normalizer ordinal{"-[0-9]+$"};
    CHECK(ordinal("redis-0") == "redis");
    CHECK(ordinal("web-x2k9p") == "web-x2k9p");
    CHECK(k8snetio::regex_service_normalizer{"-"}("a-b-c") == "abc");
    CHECK(k8snetio::regex_service_normalizer{"x*"}("abc") == "abc");
  }
  SECTION("the default pattern as a user pattern (PCRE2, D2.4) agrees with D2.1") {
    const k8snetio::regex_service_normalizer regex{k8snetio::default_service_pattern};
    for (const auto& [pod, service] : spec_examples) CHECK(regex(pod) == service);
    CHECK(regex("x-abcdef12-abcde") == "x");
    CHECK(regex("web-abcd\xE9") == "web-abcd\xE9");
    CHECK(regex("kube-proxy-x2k9p\n") == "kube-proxy\n");
  }
  SECTION("an invalid pattern is refused at construction, naming the pattern") {
    CHECK_THROWS_AS(k8snetio::regex_service_normalizer{"(-\\w{5}$"}, std::invalid_argument);
    CHECK_THROWS_WITH(k8snetio::regex_service_normalizer{"[a-"},
                      Catch::Contains("invalid service pattern \"[a-\""));
  }
  SECTION("any callable from string_view to a string is a normalizer") {
    const auto upper = [](std::string_view pod) {
      std::string service(pod);
      for (auto& c : service) c = c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
      return service;
    };
    const auto first_segment = [](std::string_view pod) { return pod.substr(0, pod.find('-')); };
    static_assert(k8snetio::service_normalizer_for<decltype(upper)>);
    static_assert(k8snetio::service_normalizer_for<decltype(first_segment)>);
    static_assert(k8snetio::service_normalizer_for<const char* (*)(std::string_view)>);
    static_assert(!k8snetio::service_normalizer_for<int (*)(std::string_view)>);
    static_assert(!k8snetio::service_normalizer_for<std::string (*)(int)>);
    static_assert(!k8snetio::service_normalizer_for<std::string>);

    k8snetio::caching_service_normalizer by_upper{upper};
    CHECK(by_upper("web-x2k9p") == "WEB-X2K9P");
    std::string pod = "checkout-7d4b9c8f6d-x2k9p";
    k8snetio::caching_service_normalizer by_segment{first_segment};
    const std::string_view service = by_segment(pod);
    pod.assign(pod.size(), '?');
    CHECK(service == "checkout");
  }
}

TEST_CASE("D2.2 the caching normalizer computes each distinct pod once, with stable views") {
  int calls = 0;
  k8snetio::caching_service_normalizer cache{[&calls](std::string_view pod) {
    ++calls;
    return default_service_name(pod);
  }};
  const std::string_view first = cache("checkout-7d4b9c8f6d-x2k9p");
  const std::string_view second = cache("kube-proxy-x2k9p");
  CHECK(calls == 2);

  std::vector<std::string> pods;
  pods.reserve(5000);
  for (int i = 0; i < 5000; ++i) pods.push_back("svc" + std::to_string(i) + "-7d4b9c8f6d-x2k9p");
  for (int round = 0; round < 3; ++round) {
    for (const auto& pod : pods) cache(pod);
  }
  CHECK(calls == 5002);
  CHECK(cache.size() == 5002);
  CHECK(cache(pods[4321]) == "svc4321");

  CHECK(first == "checkout");
  CHECK(second == "kube-proxy");
  CHECK(cache("checkout-7d4b9c8f6d-x2k9p").data() == first.data());
  CHECK(calls == 5002);

  cache.clear();
  CHECK(cache.size() == 0);
  CHECK(cache("checkout-7d4b9c8f6d-x2k9p") == "checkout");
  CHECK(calls == 5003);
}

TEST_CASE("D2.2 the default caching normalizer is D2.1") {
  k8snetio::caching_service_normalizer<> cache;
  for (const auto& [pod, service] : spec_examples) CHECK(cache(pod) == service);
  CHECK(cache("kube-proxy-x2k9p\n") == "kube-proxy\n");
}

TEST_CASE("D2.3 an empty service is legal") {
  CHECK(default_service_name("-abcde") == "");
  CHECK(default_service_name("-7d4b9c8f6d-x2k9p") == "");
  k8snetio::caching_service_normalizer<> cache;
  const std::string_view service = cache("-abcde");
  CHECK(service.empty());
  CHECK(cache.size() == 1);
  CHECK(std::string("prod") + ":" + std::string(service) == "prod:");
  CHECK(cache("") == "");
  CHECK(cache.size() == 2);
}

}  // namespace test_service_normalizer
