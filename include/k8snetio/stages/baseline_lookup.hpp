// D5 — BaselineLookup: `lookup k8s_container_network_io_baseline key`. Each measure row gains
// its key's baseline entry, or none (all four fields null, D5.2). The store is a concept, so a
// user may back it with their own (a KV store, a cache); baseline_table is ours. Lazy.
#pragma once

#include <concepts>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <range/v3/view/all.hpp>
#include <range/v3/view/transform.hpp>

#include "../detail/pipe.hpp"
#include "../model/rows.hpp"
#include "direction_pivot.hpp"

namespace k8snetio {

/// A baseline store: finds the entry of a key (D5.1: exact, case-sensitive), or null.
template <class B, std::size_t N>
concept baseline_source = requires(const B& b, std::string_view key) {
  { b.find(key) } -> std::convertible_to<const baseline_entry<N>*>;
};

/// The lookup of one row; keeps a key buffer so that the hot path does not allocate.
template <std::size_t N, baseline_source<N> Baseline>
class baseline_lookup {
 public:
  explicit baseline_lookup(const Baseline& baseline) : baseline_(&baseline) {}

  looked_up_row<N> operator()(const measure_row<N>& row) {
    make_key(key_, row.cluster, row.service);
    return {row, baseline_->find(key_)};
  }

 private:
  const Baseline* baseline_;
  std::string key_;
};

/// Adaptor: `measure_rows | lookup_baseline(table)` → a lazy view of looked_up_row<N>.
/// The table is held by reference and must outlive the view.
template <std::size_t N = 2, class Baseline>
auto lookup_baseline(const Baseline& baseline) {
  static_assert(
      baseline_source<Baseline, N>,
      "lookup_baseline: the baseline needs `const baseline_entry<N>* find(std::string_view "
      "key) const`");
  return detail::make_stage([&baseline]<ranges::viewable_range R>(R&& rows) {
    auto lookup = std::make_shared<baseline_lookup<N, Baseline>>(baseline);
    return ranges::views::all(std::forward<R>(rows)) |
           ranges::views::transform([lookup](const measure_row<N>& row) { return (*lookup)(row); });
  });
}

}  // namespace k8snetio
