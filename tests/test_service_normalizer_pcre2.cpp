// Proves the hand-written D2.1 equal to PCRE2 itself, which is what Splunk's replace() runs;
// and D2.4: user patterns on PCRE2 with limits.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <k8snetio/stages/pcre2_service_normalizer.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

namespace test_service_normalizer_pcre2 {

namespace {

// The default pattern compiled by PCRE2 with default options (no UTF), applied two ways: the
// first match cut out (D2.1's wording) and a global substitution (SPL replace()'s semantics).
class pcre2_reference {
 public:
  pcre2_reference() {
    int error = 0;
    PCRE2_SIZE offset = 0;
    const auto pattern = k8snetio::default_service_pattern;
    code_.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), 0,
                              &error, &offset, nullptr));
    REQUIRE(code_ != nullptr);
    match_data_.reset(pcre2_match_data_create_from_pattern(code_.get(), nullptr));
    REQUIRE(match_data_ != nullptr);
  }

  std::string first_match_removed(const std::string& pod) {
    const int rc =
        pcre2_match(code_.get(), subject(pod), pod.size(), 0, 0, match_data_.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) return pod;
    REQUIRE(rc > 0);
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_data_.get());
    return pod.substr(0, ovector[0]) + pod.substr(ovector[1]);
  }

  std::string all_matches_replaced(const std::string& pod) {
    std::string out(pod.size() + 1, '\0');
    PCRE2_SIZE length = out.size();
    const int rc =
        pcre2_substitute(code_.get(), subject(pod), pod.size(), 0, PCRE2_SUBSTITUTE_GLOBAL,
                         match_data_.get(), nullptr, reinterpret_cast<PCRE2_SPTR>(""), 0,
                         reinterpret_cast<PCRE2_UCHAR*>(out.data()), &length);
    REQUIRE(rc >= 0);
    out.resize(length);
    return out;
  }

 private:
  static PCRE2_SPTR subject(const std::string& pod) {
    return reinterpret_cast<PCRE2_SPTR>(pod.data());
  }

  struct code_free {
    void operator()(pcre2_code* code) const { pcre2_code_free(code); }
  };
  struct match_data_free {
    void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
  };

  std::unique_ptr<pcre2_code, code_free> code_;
  std::unique_ptr<pcre2_match_data, match_data_free> match_data_;
};

// Pod names shaped like Kubernetes's (Deployment, DaemonSet, StatefulSet, Job), near misses
// and noise. Only the engine's output is used (mt19937 is fully specified), no distributions,
// so the corpus is the same on every platform.
class pod_name_generator {
 public:
  explicit pod_name_generator(std::uint32_t seed) : rng_(seed) {}

  std::string operator()() {
    std::string pod = shape();
    mutate(pod);
    return pod;
  }

 private:
  static constexpr std::string_view lower_hex = "0123456789abcdef";
  static constexpr std::string_view upper_hex = "0123456789ABCDEF";
  static constexpr std::string_view mixed_hex = "0123456789abcdefABCDEF";
  static constexpr std::string_view digits = "0123456789";
  static constexpr std::string_view word =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
  static constexpr std::string_view kube_suffix = "bcdfghjklmnpqrstvwxz2456789";
  static constexpr std::string_view name_chars = "abcdefghijklmnopqrstuvwxyz0123456789-";
  static constexpr std::string_view tricky = "-af09Ag_z\n\r \x80\xff";

  std::size_t below(std::size_t n) { return rng_() % n; }
  bool chance(std::size_t percent) { return below(100) < percent; }
  char pick(std::string_view alphabet) { return alphabet[below(alphabet.size())]; }

  std::string draw(std::string_view alphabet, std::size_t length) {
    std::string s;
    for (std::size_t i = 0; i < length; ++i) s += pick(alphabet);
    return s;
  }

  std::string base() {
    static constexpr std::array<std::string_view, 16> names = {
        "checkout", "kube-proxy", "redis",         "api", "web", "coredns",
        "a",        "deadbeef",   "cafe-babe",     "x",   "",    "my_app",
        "Frontend", "abcdef12",   "node-exporter", "-"};
    if (chance(50)) return std::string(names[below(names.size())]);
    return draw(name_chars, 1 + below(20));
  }

  std::string hash(std::size_t length) {
    switch (below(4)) {
      case 0: return draw(upper_hex, length);
      case 1: return draw(mixed_hex, length);
      default: return draw(lower_hex, length);
    }
  }

  std::string suffix() { return draw(chance(70) ? kube_suffix : word, 5); }

  // Built statement by statement: the operands of `a + b` are unsequenced, and the corpus
  // must not depend on the compiler.
  std::string shape() {
    const std::size_t kind = below(9);
    if (kind == 6) return draw(tricky, below(25));
    if (kind == 7) return random_bytes(below(13));
    if (kind == 8) return "";
    std::string pod = base();
    pod += '-';
    switch (kind) {
      case 0:
      case 1:
        pod += hash(7 + below(5));
        pod += '-';
        pod += suffix();
        break;
      case 2: pod += suffix(); break;
      case 3: pod += draw(digits, 1 + below(4)); break;
      case 4:
        pod += draw(digits, 8 + below(3));
        pod += '-';
        pod += suffix();
        break;
      default:
        pod += hash(6 + below(7));
        pod += '-';
        pod += draw(word, 4 + 2 * below(2));
    }
    return pod;
  }

  std::string random_bytes(std::size_t length) {
    std::string s;
    for (std::size_t i = 0; i < length; ++i) s += static_cast<char>(rng_() & 0xFF);
    return s;
  }

  void mutate(std::string& pod) {
    if (!pod.empty() && chance(10)) {
      char& c = pod[below(pod.size())];
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    if (!pod.empty() && chance(8)) pod[below(pod.size())] = '_';
    if (!pod.empty() && chance(8)) pod[below(pod.size())] = '-';
    if (chance(5)) pod.insert(below(pod.size() + 1), 1, '-');
    if (!pod.empty() && chance(6)) pod[below(pod.size())] = static_cast<char>(0x80 + below(0x80));
    if (chance(5)) pod.resize(below(std::min<std::size_t>(pod.size(), 7) + 1));
    if (chance(15)) pod += '\n';
    if (chance(3)) pod += chance(50) ? "\n\n" : "\r\n";
  }

  std::mt19937 rng_;
};

struct spec_example {
  std::string pod;
  std::string service;
};

}  // namespace

TEST_CASE("D2.1 PCRE2 itself gives the spec's examples, and keeps a trailing newline") {
  std::uint32_t newline = 0;
  pcre2_config(PCRE2_CONFIG_NEWLINE, &newline);
  REQUIRE(newline == PCRE2_NEWLINE_LF);

  pcre2_reference pcre2;
  const std::vector<spec_example> examples = {
      {"checkout-7d4b9c8f6d-x2k9p", "checkout"},
      {"kube-proxy-x2k9p", "kube-proxy"},
      {"web-abcdef1-x2k9p", "web-abcdef1"},
      {"redis-0", "redis-0"},
      {"api-ABCDEF12-x2k9p", "api-ABCDEF12"},
      {"a_b-c_d_e", "a_b"},
      {"-abcde", ""},
      {"x-abcdef12-abcde", "x"},
      {"checkout-7d4b9c8f6d-x2k9p\n", "checkout\n"},
      {"kube-proxy-x2k9p\n\n", "kube-proxy-x2k9p\n\n"},
  };
  for (const auto& [pod, service] : examples) {
    INFO("pod: " << pod);
    CHECK(pcre2.first_match_removed(pod) == service);
    CHECK(pcre2.all_matches_replaced(pod) == service);
    CHECK(k8snetio::default_service_name(pod) == service);
  }
}

TEST_CASE("D2.1 equals PCRE2 on 100000 generated pod names") {
  pcre2_reference pcre2;
  pod_name_generator generate{20240601};
  std::size_t second_alternative = 0;
  std::size_t first_alternative = 0;
  std::size_t unchanged = 0;
  std::size_t newline_kept = 0;
  for (int i = 0; i < 100'000; ++i) {
    const std::string pod = generate();
    const std::string expected = pcre2.first_match_removed(pod);
    INFO("pod #" << i << ": " << pod);
    REQUIRE(k8snetio::default_service_name(pod) == expected);
    REQUIRE(pcre2.all_matches_replaced(pod) == expected);

    const auto match = k8snetio::find_default_service_suffix(pod);
    if (!match) {
      ++unchanged;
      continue;
    }
    ++(match->end - match->begin > 6 ? second_alternative : first_alternative);
    if (match->end < pod.size()) ++newline_kept;
  }
  CHECK(second_alternative > 5'000);
  CHECK(first_alternative > 5'000);
  CHECK(unchanged > 5'000);
  CHECK(newline_kept > 1'000);
}

// ---------------------------------------------------------------------------------------------
// D2.4: user patterns run on PCRE2, with Splunk's match and depth limits

TEST_CASE("D2.4 the default pattern as a user pattern equals D2.1 on 100000 generated names") {
  const auto user = k8snetio::pcre2_service_normalizer::create(k8snetio::default_service_pattern);
  REQUIRE(user.has_value());
  pod_name_generator generate{20251201};
  for (int i = 0; i < 100'000; ++i) {
    const std::string pod = generate();
    INFO("pod #" << i << ": " << pod);
    const auto service = user->try_normalize(pod);
    REQUIRE(service.has_value());
    REQUIRE(*service == k8snetio::default_service_name(pod));
  }
  // PCRE2's `$` also matches before a final newline, as D2.1 (std::regex's did not).
  CHECK((*user)("checkout-7d4b9c8f6d-x2k9p\n") == "checkout\n");
}

TEST_CASE("D2.4 catastrophic backtracking hits the match limit: no service, no stall") {
  // Without a limit (a+)+$ takes 2^n steps on a's followed by a non-a: ~40 would be hours.
  const auto user = k8snetio::pcre2_service_normalizer::create("(a+)+$");
  REQUIRE(user.has_value());
  const std::string pod = std::string(40, 'a') + "-x";
  CHECK_FALSE(user->try_normalize(pod).has_value());
  CHECK((*user)(pod) == pod);  // the plain callable keeps the name when the limit is hit
  // The same pattern on a name it matches at once is fine.
  CHECK(user->try_normalize("web-aaa") == std::optional<std::string>("web-"));
  // A larger limit lets a shorter name through: the limit, not the pattern, refused it.
  const std::string short_pod = std::string(18, 'a') + "-x";
  CHECK_FALSE(user->try_normalize(short_pod).has_value());
  k8snetio::service_pattern_limits generous;
  generous.match_limit = 10'000'000;
  const auto patient = k8snetio::pcre2_service_normalizer::create("(a+)+$", generous);
  REQUIRE(patient.has_value());
  CHECK(patient->try_normalize(short_pod) == std::optional<std::string>(short_pod));
}

TEST_CASE("D2.4 a 30 KB pod name does not exhaust the machine stack") {
  const std::string pod(30'000, 'a');
  const auto everything = k8snetio::pcre2_service_normalizer::create(".*");
  REQUIRE(everything.has_value());
  CHECK(everything->try_normalize(pod) == std::optional<std::string>(""));
  // A group repeated once per character: std::regex recursed once per repetition and
  // overflowed the stack; PCRE2 keeps its backtracking on the heap and stops at the depth limit.
  const auto grouped = k8snetio::pcre2_service_normalizer::create("(a|b)*-x$");
  REQUIRE(grouped.has_value());
  CHECK_FALSE(grouped->try_normalize(pod + "-x").has_value());
  CHECK(grouped->try_normalize("ab-x") == std::optional<std::string>(""));
}

TEST_CASE("D2.4 a bad pattern is refused when the normalizer is made, with PCRE2's reason") {
  const auto bad = k8snetio::pcre2_service_normalizer::create("[a-");
  REQUIRE_FALSE(bad.has_value());
  CHECK_THAT(bad.error(), Catch::Contains("invalid service pattern \"[a-\"") &&
                              Catch::Contains("missing terminating ]") &&
                              Catch::Contains("at offset 3"));
  CHECK_THROWS_AS(k8snetio::pcre2_service_normalizer("(-\\w{5}$"), std::invalid_argument);
  // Names are bytes: a pattern cannot switch UTF mode on (invalid UTF-8 would then error).
  CHECK_FALSE(k8snetio::pcre2_service_normalizer::create("(*UTF)-x").has_value());
}

TEST_CASE("D2.4 PCRE2 syntax that Splunk users write works") {
  // Case-insensitive flag, possessive quantifier, lookbehind: none of them ECMAScript.
  CHECK(k8snetio::pcre2_service_normalizer("(?i)-[a-f0-9]{8}$")("api-DEADBEEF") == "api");
  CHECK(k8snetio::pcre2_service_normalizer("-\\w{5}+$")("web-x2k9p") == "web");
  CHECK(k8snetio::pcre2_service_normalizer("(?<=-)[0-9]+$")("redis-12") == "redis-");
  // Copies share the compiled pattern and give the same results.
  const k8snetio::pcre2_service_normalizer original("-[0-9]+$");
  const k8snetio::pcre2_service_normalizer copy = original;
  CHECK(copy("redis-0") == "redis");
  CHECK(copy.pattern() == "-[0-9]+$");
}

}  // namespace test_service_normalizer_pcre2
