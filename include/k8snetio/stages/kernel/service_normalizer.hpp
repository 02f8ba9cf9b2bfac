// D2 ServiceNormalizer: the stage's class alone, for the engines, without its range adaptor and so
// without a range library (library.md A4: a translation unit pays only for what it includes).
// The stage, its rules and its adaptor are in ../service_normalizer.hpp, which includes this
// header.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include <tl/expected.hpp>

#include "../../model/rows.hpp"

namespace k8snetio {

/// The SPL's pattern (PCRE syntax). D2.1 implements it by hand; see default_service_name().
inline constexpr std::string_view default_service_pattern = R"(-\w{5}$|-[abcdef0-9]{8,10}-\w{5}$)";

/// The part of a pod name that the pattern matched, and D2.1 removes: [begin, end).
struct service_match {
  std::size_t begin = 0;
  std::size_t end = 0;

  friend constexpr bool operator==(const service_match&, const service_match&) = default;
};

namespace detail {

// ASCII only: PCRE without UTF mode does not count bytes >= 0x80 as \w.
constexpr bool is_word_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

constexpr bool is_lower_hex_digit(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

}  // namespace detail

/// D2.1 without allocating: where the first match of default_service_pattern lies in `pod`,
/// with PCRE2's semantics (no UTF, newline LF).
constexpr std::optional<service_match> find_default_service_suffix(std::string_view pod) noexcept {
  // Both alternatives end in `-\w{5}$`. `$` holds at the end and before a final '\n', but a
  // match cannot end after that '\n' (it is no \w), so every match ends at `end`.
  const std::size_t end = !pod.empty() && pod.back() == '\n' ? pod.size() - 1 : pod.size();
  constexpr std::size_t tail = 6;  // -\w{5}
  if (end < tail || pod[end - tail] != '-') return std::nullopt;
  for (std::size_t i = end - tail + 1; i < end; ++i) {
    if (!detail::is_word_char(pod[i])) return std::nullopt;
  }
  // The second alternative would start further left, so it wins whenever it matches: a '-'
  // and then exactly 8 to 10 lowercase hex digits right before the tail ('-' is no digit).
  const std::size_t hex_end = end - tail;
  std::size_t digits = 0;
  while (digits < hex_end && digits <= 10 &&
         detail::is_lower_hex_digit(pod[hex_end - 1 - digits])) {
    ++digits;
  }
  if (digits >= 8 && digits <= 10 && digits < hex_end && pod[hex_end - 1 - digits] == '-') {
    return service_match{hex_end - 1 - digits, end};
  }
  return service_match{hex_end, end};
}

/// D2.1: `pod` with the first match of default_service_pattern removed. A '\n' that ends the
/// pod stays at the end of the service (see the header's opening comment).
inline std::string default_service_name(std::string_view pod) {
  const auto match = find_default_service_suffix(pod);
  if (!match) return std::string(pod);
  std::string service(pod.substr(0, match->begin));
  service += pod.substr(match->end);
  return service;
}

/// D2.2: what can turn a pod name into a service name.
template <class F>
concept service_normalizer_for = std::invocable<F&, std::string_view> &&
    (std::convertible_to<std::invoke_result_t<F&, std::string_view>, std::string> ||
     std::convertible_to<std::invoke_result_t<F&, std::string_view>, std::string_view>);

/// D2.1 as a function object: the default normalizer.
struct default_service_normalizer {
  std::string operator()(std::string_view pod) const { return default_service_name(pod); }
};

/// D2.4: what PCRE2 may spend on one pod name before it gives up. The defaults are Splunk's
/// own for rex/replace (limits.conf [rex] match_limit and depth_limit), plus a heap cap.
struct service_pattern_limits {
  std::uint32_t match_limit = 100000;    ///< calls of PCRE2's internal match() per attempt
  std::uint32_t depth_limit = 1000;      ///< nested backtracking points (on the heap in 10.30+)
  std::uint32_t heap_limit_kib = 65536;  ///< heap for backtracking frames
};

/// D2.2/D2.4: a user pattern made ready to run: the service of a pod name, or nullopt when the
/// pattern hit one of its limits on it.
using compiled_service_pattern = std::function<std::optional<std::string>(std::string_view)>;

namespace detail {

/// How the engines compile detection_options::service_pattern. The pattern engine is PCRE2,
/// which the core component does not link: <k8snetio/stages/pcre2_service_normalizer.hpp>
/// (component io) sets this when it is included anywhere in the program.
using service_pattern_compiler = tl::expected<compiled_service_pattern, std::string> (*)(
    std::string_view pattern, service_pattern_limits limits);

inline service_pattern_compiler& registered_service_pattern_compiler() noexcept {
  static service_pattern_compiler compiler = nullptr;
  return compiler;
}

/// The pattern compiled, or one sentence saying why not (PCRE2's error and offset, or that no
/// pattern engine is in the program).
inline tl::expected<compiled_service_pattern, std::string> compile_service_pattern(
    std::string_view pattern, service_pattern_limits limits = {}) {
  if (const service_pattern_compiler compile = registered_service_pattern_compiler())
    return compile(pattern, limits);
  return tl::unexpected(
      "k8snetio: the service pattern \"" + std::string(pattern) +
      "\" needs PCRE2: include <k8snetio/stages/pcre2_service_normalizer.hpp> and link "
      "k8snetio::io");
}

}  // namespace detail

/// D2.2: memoizes a normalizer per distinct pod name, so the hot path computes each pod's
/// service once. Returned views stay valid until clear() or destruction, however many pods
/// follow. Not thread-safe.
template <service_normalizer_for F = default_service_normalizer>
class caching_service_normalizer {
  static_assert(std::is_object_v<F>,
                "caching_service_normalizer stores its normalizer by value: use a function "
                "object or a function pointer, not a function or reference type");

 public:
  caching_service_normalizer() requires std::is_class_v<F>
  = default;
  explicit caching_service_normalizer(F normalize) : normalize_(std::move(normalize)) {}

  std::string_view operator()(std::string_view pod) {
    if (const auto known = services_.find(pod); known != services_.end()) return known->second;
    std::string service(std::invoke(normalize_, pod));
    return services_.emplace(std::string(pod), std::move(service)).first->second;
  }

  /// The number of distinct pod names seen.
  std::size_t size() const noexcept { return services_.size(); }

  /// Forgets every pod; views returned so far dangle.
  void clear() noexcept { services_.clear(); }

  const F& normalizer() const noexcept { return normalize_; }

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  F normalize_{};
  // Node-based: a value's std::string never moves, so views of it survive rehashing.
  std::unordered_map<std::string, std::string, string_hash, std::equal_to<>> services_;
};

static_assert(service_normalizer_for<default_service_normalizer>);

}  // namespace k8snetio
