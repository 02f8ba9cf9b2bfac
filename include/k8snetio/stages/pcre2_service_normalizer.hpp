// D2.4 — user service patterns on PCRE2 (component io: it links libpcre2-8). Including this
// header anywhere in a program also makes it the engines' pattern engine for
// detection_options::service_pattern (without it, a pattern other than D2.1's default is refused
// with an error that names this header).
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#ifndef PCRE2_CODE_UNIT_WIDTH  // pcre2.h wants one; the code below names the 8-bit API itself
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>
#include <tl/expected.hpp>

#include "service_normalizer.hpp"

namespace k8snetio {

/// D2.2/D2.4: removes every match of a user pattern (PCRE2 syntax, as Splunk's replace(); no
/// UTF mode, so \w is ASCII and names are bytes), with match, depth and heap limits: a pod
/// name on which PCRE2 hits a limit gets no service from try_normalize(), never a crash or a
/// stall. Copies share the compiled pattern; calls are thread-safe.
class pcre2_service_normalizer {
 public:
  /// The normalizer, or one sentence naming the pattern, PCRE2's error and its offset.
  static tl::expected<pcre2_service_normalizer, std::string> create(
      std::string_view pattern, service_pattern_limits limits = {}) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    std::shared_ptr<pcre2_code_8> code(
        pcre2_compile_8(reinterpret_cast<PCRE2_SPTR8>(pattern.empty() ? "" : pattern.data()),
                        pattern.size(), PCRE2_NEVER_UTF | PCRE2_NEVER_UCP, &error, &offset,
                        nullptr),
        pcre2_code_free_8);
    if (!code) {
      PCRE2_UCHAR8 message[256];
      if (pcre2_get_error_message_8(error, message, sizeof message) < 0) message[0] = 0;
      return tl::unexpected(
          "k8snetio: invalid service pattern \"" + std::string(pattern) +
          "\" (PCRE2 syntax): " + std::string(reinterpret_cast<const char*>(message)) +
          " at offset " + std::to_string(offset));
    }
    std::shared_ptr<pcre2_match_context_8> context(pcre2_match_context_create_8(nullptr),
                                                   pcre2_match_context_free_8);
    if (!context) return tl::unexpected(std::string("k8snetio: out of memory (PCRE2)"));
    pcre2_set_match_limit_8(context.get(), limits.match_limit);
    pcre2_set_depth_limit_8(context.get(), limits.depth_limit);
    pcre2_set_heap_limit_8(context.get(), limits.heap_limit_kib);
    return pcre2_service_normalizer(std::string(pattern), std::move(code), std::move(context));
  }

  /// Throws std::invalid_argument (the message of create()) when `pattern` does not compile.
  explicit pcre2_service_normalizer(std::string_view pattern, service_pattern_limits limits = {})
      : pcre2_service_normalizer(created(pattern, limits)) {}

  /// `pod` with every match removed; nullopt when PCRE2 hit a limit on it (D2.4: the caller
  /// drops the point and counts it as "service pattern limit").
  std::optional<std::string> try_normalize(std::string_view pod) const {
    std::unique_ptr<pcre2_match_data_8, decltype(&pcre2_match_data_free_8)> match_data(
        pcre2_match_data_create_from_pattern_8(code_.get(), nullptr), pcre2_match_data_free_8);
    if (!match_data) return std::nullopt;
    std::string service(pod.size() + 1, '\0');  // nothing is ever added: the result fits
    PCRE2_SIZE length = service.size();
    const int rc = pcre2_substitute_8(code_.get(),
                                      reinterpret_cast<PCRE2_SPTR8>(pod.empty() ? "" : pod.data()),
                                      pod.size(), 0, PCRE2_SUBSTITUTE_GLOBAL, match_data.get(),
                                      context_.get(), reinterpret_cast<PCRE2_SPTR8>(""), 0,
                                      reinterpret_cast<PCRE2_UCHAR8*>(service.data()), &length);
    if (rc < 0) return std::nullopt;  // a match, depth or heap limit (or no memory)
    service.resize(length);
    return service;
  }

  /// D2.2's callable: as try_normalize(), but a pod on which a limit is hit keeps its whole
  /// name as its service. Use try_normalize() to drop and count such pods instead.
  std::string operator()(std::string_view pod) const {
    auto service = try_normalize(pod);
    return service ? std::move(*service) : std::string(pod);
  }

  const std::string& pattern() const noexcept { return pattern_; }

 private:
  pcre2_service_normalizer(std::string pattern, std::shared_ptr<pcre2_code_8> code,
                           std::shared_ptr<pcre2_match_context_8> context)
      : pattern_(std::move(pattern)), code_(std::move(code)), context_(std::move(context)) {}

  static pcre2_service_normalizer created(std::string_view pattern, service_pattern_limits limits) {
    auto made = create(pattern, limits);
    if (!made) throw std::invalid_argument(made.error());
    return std::move(*made);
  }

  std::string pattern_;
  std::shared_ptr<const pcre2_code_8> code_;
  std::shared_ptr<pcre2_match_context_8> context_;  // read only once made; pcre2 wants non-const
};

/// The name D2.2's user patterns had before D2.4 moved them to PCRE2.
using regex_service_normalizer = pcre2_service_normalizer;

static_assert(service_normalizer_for<pcre2_service_normalizer>);

namespace detail {

inline tl::expected<compiled_service_pattern, std::string> compile_pcre2_service_pattern(
    std::string_view pattern, service_pattern_limits limits) {
  auto made = pcre2_service_normalizer::create(pattern, limits);
  if (!made) return tl::unexpected(std::move(made.error()));
  return compiled_service_pattern([normalizer = std::move(*made)](std::string_view pod) {
    return normalizer.try_normalize(pod);
  });
}

/// Makes PCRE2 the engines' pattern engine in every program that includes this header.
inline const bool pcre2_service_patterns_registered =
    (registered_service_pattern_compiler() = &compile_pcre2_service_pattern, true);

}  // namespace detail

}  // namespace k8snetio
