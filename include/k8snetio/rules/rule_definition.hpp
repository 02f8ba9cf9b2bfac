// What makes a rule out of the shared stages: its measures and text (D6/R3), how directions feed
// them (D3), an optional step on each pivoted row (R1's ratios), and its metadata (§7, R4).
// The main rule and the ratio rule are two values of this type; a user's rule is a third.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>

#include "../model/finding.hpp"
#include "../model/measure_set.hpp"
#include "../model/rows.hpp"

namespace k8snetio {

template <std::size_t N>
struct rule_definition {
  const measure_set<N>* measures;
  const rule_metadata* metadata;
  /// D3: which measure a direction feeds before `derive`.
  std::optional<std::size_t> (*measure_of)(std::string_view direction);
  /// Applied to each pivoted row before the lookup; null for none (R1 for the ratio rule).
  void (*derive)(measure_row<N>& row) = nullptr;
  /// The baseline pivots per (key, _time) across pods before `derive` (R5); otherwise it
  /// takes the D1 rows as they are (B1–B4).
  bool baseline_per_service = false;
};

}  // namespace k8snetio
