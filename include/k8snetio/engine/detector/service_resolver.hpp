// D2 for the engines (the detector and the baseline runner): a pod name's service, by the
// hand-written default (D2.1) or a user pattern on PCRE2 (D2.2, D2.4), cached per pod name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "../../detail/symbol_table.hpp"
#include "../../stages/kernel/service_normalizer.hpp"

namespace k8snetio::detail {

/// A name on which the user pattern hits its limit has no service (nullopt): the engines drop
/// its rows and count them. Services are kept for the resolver's lifetime (they are the keys);
/// the cache of pod names is cleared when it grows past `cache_limit`, so that pods replaced
/// every rollout do not grow memory (S5).
class service_resolver {
 public:
  /// Throws std::invalid_argument naming the pattern's error when it does not compile.
  explicit service_resolver(const std::optional<std::string>& pattern);

  /// The service of `pod`; the view lives as long as the resolver.
  std::optional<std::string_view> operator()(std::string_view pod);

  static constexpr std::size_t cache_limit = std::size_t{1} << 16;

 private:
  compiled_service_pattern user_;  // D2.4: empty for the default
  symbol_table services_;          // stable views
  std::unordered_map<std::string, std::optional<std::uint32_t>, string_hash, std::equal_to<>>
      cache_;
};

inline service_resolver::service_resolver(const std::optional<std::string>& pattern) {
  if (pattern && *pattern != default_service_pattern) {
    auto compiled = compile_service_pattern(*pattern);
    if (!compiled) throw std::invalid_argument(compiled.error());
    user_ = std::move(*compiled);
  }
}

inline std::optional<std::string_view> service_resolver::operator()(std::string_view pod) {
  auto it = cache_.find(pod);
  if (it == cache_.end()) {
    const std::optional<std::string> service =
        user_ ? user_(pod) : std::optional(default_service_normalizer{}(pod));
    if (cache_.size() >= cache_limit) cache_.clear();
    it = cache_
             .emplace(std::string(pod),
                      service ? std::optional(services_.intern(*service)) : std::nullopt)
             .first;
  }
  if (!it->second) return std::nullopt;
  return services_.view(*it->second);
}

}  // namespace k8snetio::detail
