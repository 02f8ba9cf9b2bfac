// D5 — BaselineLookup: `lookup k8s_container_network_io_baseline key`. Each measure row gains
// its key's baseline entry, or none (all four fields null, D5.2). The store is a concept, so a
// user may back it with their own (a KV store, a cache); baseline_table is ours. Lazy.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <range/v3/range/traits.hpp>
#include <range/v3/view/all.hpp>
#include <range/v3/view/transform.hpp>

#include "../detail/pipe.hpp"
#include "direction_pivot.hpp"
#include "kernel/baseline_lookup.hpp"

namespace k8snetio {

namespace detail {

template <class Row>
struct measure_row_size {};
template <std::size_t N>
struct measure_row_size<measure_row<N>> : std::integral_constant<std::size_t, N> {};

/// The lookup view over `rows`; `keep` holds the baseline when the caller shares it.
template <class Baseline, class R>
auto looked_up_rows(R&& rows, const Baseline& baseline, std::shared_ptr<const void> keep) {
  using row = std::remove_cvref_t<ranges::range_reference_t<R>>;
  // A1.1: rows straight from pivot_direction(rule) name the rule's measures; a baseline table
  // names its own. Another rule's table is refused before a row is looked up.
  if constexpr (
      requires { rows.rule_measures(); } && requires { baseline.measures().names; }) {
    if (const auto* measures = rows.rule_measures()) {
      const auto& have = baseline.measures().names;
      if (!std::equal(have.begin(), have.end(), measures->names.begin(), measures->names.end())) {
        std::string message = "lookup_baseline: the baseline table holds the measures (";
        for (std::size_t i = 0; i < have.size(); ++i)
          message += (i ? ", " : "") + std::string(have[i]);
        message += ") but the rows are of a rule with the measures (";
        for (std::size_t i = 0; i < measures->names.size(); ++i)
          message += (i ? ", " : "") + std::string(measures->names[i]);
        throw std::invalid_argument(message + "): it is the table of another rule");
      }
    }
  }
  static_assert(
      requires { measure_row_size<row>::value; },
      "lookup_baseline: the input must be a range of k8snetio::measure_row<N> (pipe it "
      "through pivot_direction() first)");
  constexpr std::size_t N = measure_row_size<row>::value;
  static_assert(
      baseline_source<Baseline, N>,
      "lookup_baseline: the baseline needs `const baseline_entry<N>* find(std::string_view "
      "key) const` with the rows' N");
  auto lookup = std::make_shared<baseline_lookup<N, Baseline>>(baseline);
  return ranges::views::all(std::forward<R>(rows)) |
         ranges::views::transform([lookup, keep](const measure_row<N>& r) { return (*lookup)(r); });
}

}  // namespace detail

/// Adaptor: `measure_rows | lookup_baseline(table)` → a lazy view of looked_up_row<N>, N being
/// the rows'. The table is held by reference and must outlive the view (a temporary is refused
/// at compile time, A1.2: pass a std::shared_ptr to share it). Rows straight from
/// pivot_direction(rule) are checked against the table's measures (A1.1: std::invalid_argument
/// for the table of another rule).
template <class Baseline>
auto lookup_baseline(const Baseline& baseline) {
  return detail::make_stage([&baseline]<ranges::viewable_range R>(R&& rows) {
    return detail::looked_up_rows(std::forward<R>(rows), baseline, nullptr);
  });
}

/// A1.2: a temporary baseline would be destroyed before the lazy view reads it.
template <class Baseline>
requires(!std::is_lvalue_reference_v<Baseline>) auto lookup_baseline(Baseline&&) {
  static_assert(sizeof(Baseline) == 0,
                "lookup_baseline: the baseline is a temporary and would be destroyed before "
                "the view reads it; keep it in a variable, or pass a std::shared_ptr");
}

/// Adaptor with shared ownership: the view keeps the baseline alive (a table a service swaps).
template <class Baseline>
auto lookup_baseline(std::shared_ptr<Baseline> baseline) {
  if (!baseline) throw std::invalid_argument("lookup_baseline: the baseline is null");
  return detail::make_stage([baseline]<ranges::viewable_range R>(R&& rows) {
    const std::remove_const_t<Baseline>& table = *baseline;
    return detail::looked_up_rows(std::forward<R>(rows), table, baseline);
  });
}

}  // namespace k8snetio
