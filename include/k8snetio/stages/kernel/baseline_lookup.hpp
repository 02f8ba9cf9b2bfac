// D5 BaselineLookup: the stage's class alone, for the engines, without its range adaptor and so
// without a range library (library.md A4: a translation unit pays only for what it includes).
// The stage, its rules and its adaptor are in ../baseline_lookup.hpp, which includes this header.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "../../model/rows.hpp"
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
  /// A1.2: the lookup keeps a reference, so a temporary baseline is refused.
  template <class B>
  requires std::same_as<B, Baseline>
  explicit baseline_lookup(const B&&) {
    static_assert(sizeof(B) == 0,
                  "baseline_lookup: the baseline is a temporary; keep it in a variable that "
                  "outlives the lookup");
  }

  looked_up_row<N> operator()(const measure_row<N>& row) {
    make_key(key_, row.cluster, row.service);
    return {row, baseline_->find(key_)};
  }

 private:
  const Baseline* baseline_;
  std::string key_;
};

}  // namespace k8snetio
