// D2 — ServiceNormalizer: a pod's service is its name without the controller's suffix, as in
// the SPL's `replace('k8s.pod.name', "-\w{5}$|-[abcdef0-9]{8,10}-\w{5}$", "")`. Implements
// D2.1 (the default, by hand, exact to PCRE), D2.2 (other patterns, any callable, memoized),
// D2.3 (an empty service is an ordinary result); D2.4 (user patterns on PCRE2, with limits) is
// in pcre2_service_normalizer.hpp, the one stage header that needs PCRE2 (component io).
//
// Design: the default's core, find_default_service_suffix(), is constexpr and never
// allocates; it reports the removed range [begin, end). The service is usually the prefix
// pod.substr(0, begin), but PCRE's `$` also matches before a final "\n", and that "\n" stays:
// "web-x2k9p\n" gives "web\n", which is not a view of the pod. So default_service_name()
// returns std::string, and caching_service_normalizer serves views into its own storage.
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
#include <tl/expected.hpp>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include <range/v3/view/all.hpp>
#include <range/v3/view/transform.hpp>

#include "../detail/pipe.hpp"
#include "kernel/service_normalizer.hpp"

namespace k8snetio {

/// Adaptor: `span_rows | normalize_service()` → a lazy view of service_row (D2). The shared
/// caching normalizer owns the service strings, and the view keeps it alive.
template <service_normalizer_for F>
auto normalize_service(std::shared_ptr<caching_service_normalizer<F>> normalizer) {
  return detail::make_stage([normalizer]<ranges::viewable_range R>(R&& rows) {
    static_assert(std::convertible_to<ranges::range_reference_t<R>, const span_row&>,
                  "normalize_service: the input must be a range of k8snetio::span_row");
    return ranges::views::all(std::forward<R>(rows)) |
           ranges::views::transform([normalizer](const span_row& r) {
             return service_row{r, (*normalizer)(r.pod)};
           });
  });
}

/// `normalize_service(f)`: any callable string_view → string (D2.2); `normalize_service()`:
/// the hand-written default (D2.1).
template <service_normalizer_for F = default_service_normalizer>
auto normalize_service(F normalize = {}) {
  return normalize_service(std::make_shared<caching_service_normalizer<F>>(std::move(normalize)));
}

}  // namespace k8snetio
