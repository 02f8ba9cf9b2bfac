// What makes a rule out of the shared stages: its measures and text (D6/R3), how directions feed
// them (D3), an optional step on each pivoted row (R1's ratios), and its metadata (§7, R4).
// The main rule and the ratio rule are two values of this type; a user's rule is a third.
//
// A rule owns what it describes: building one copies the texts of its measure_set and
// rule_metadata into storage that every copy of the rule shares, and every engine, adaptor and
// finding made from it keeps that storage alive. So a rule may be built at run time from
// configuration, from strings that die right after, and dropped while its findings live on.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "finding.hpp"
#include "measure_set.hpp"
#include "rows.hpp"

namespace k8snetio {

/// D3: which measure of the rule a direction feeds, or nullopt (the row still counts, D3.2).
using direction_mapping_fn = std::function<std::optional<std::size_t>(std::string_view)>;

/// A rule's per-row step after the pivot (R1 for the ratio rule); empty for none.
template <std::size_t N>
using derive_fn = std::function<void(measure_row<N>&)>;

/// A rule: N, its measures and metadata are known from it, so every engine and adaptor that is
/// given the rule needs nothing else (`pivot_direction(rule)`, `score_sigma(rule)`,
/// `persist_over(rule)`, `detect(rule, …)`, `build_baseline(rule, …)`). Copies are cheap and
/// share the rule's texts.
template <std::size_t N>
struct rule_definition {
  static constexpr std::size_t size() noexcept { return N; }

  /// Copies the texts of `measures` and `metadata` (see own_measure_set for what is refused).
  /// `measure_of` must be set; `derive` may be empty.
  /// (The parameters are named apart from the members, so that a user's -Wshadow stays quiet.)
  rule_definition(const measure_set<N>& rule_measures, const rule_metadata& rule_meta,
                  direction_mapping_fn direction_to_measure, derive_fn<N> derive_step = {},
                  bool per_service_baseline = false)
      : measures(own_measure_set(rule_measures)),
        metadata(own_rule_metadata(rule_meta)),
        measure_of(std::move(direction_to_measure)),
        derive(std::move(derive_step)),
        baseline_per_service(per_service_baseline) {
    if (!measure_of)
      throw std::invalid_argument("rule_definition: the direction mapping (measure_of) is empty");
  }

  /// A rule whose measure i is fed by the one direction `directions[i]` (exact,
  /// case-sensitive): the engine then scores a bucket as soon as each measure has its row.
  rule_definition(const measure_set<N>& rule_measures, const rule_metadata& rule_meta,
                  const std::array<std::string_view, N>& directions, derive_fn<N> derive_step = {},
                  bool per_service_baseline = false)
      : rule_definition(rule_measures, rule_meta, mapping_of(directions), std::move(derive_step),
                        per_service_baseline) {
    one_direction_per_measure = true;
  }

  std::shared_ptr<const measure_set<N>> measures;
  std::shared_ptr<const rule_metadata> metadata;
  /// D3: which measure a direction feeds before `derive`.
  direction_mapping_fn measure_of;
  /// Applied to each pivoted row before the lookup; empty for none (R1 for the ratio rule).
  derive_fn<N> derive;
  /// The baseline pivots per (key, _time) across pods before `derive` (R5); otherwise it
  /// takes the D1 rows as they are (B1–B4).
  bool baseline_per_service = false;
  /// Each measure is fed by at most one direction (true for the shipped rules and the
  /// directions constructor). When false, the engine waits for the end of a pod's bucket before
  /// scoring it, since two directions that feed one measure give their mean (D3).
  bool one_direction_per_measure = false;

 private:
  static direction_mapping_fn mapping_of(const std::array<std::string_view, N>& directions) {
    std::array<std::string, N> owned;
    for (std::size_t i = 0; i < N; ++i) {
      for (std::size_t j = 0; j < i; ++j)
        if (directions[j] == directions[i])
          throw std::invalid_argument("rule_definition: the direction \"" +
                                      std::string(directions[i]) + "\" feeds two measures");
      owned[i] = std::string(directions[i]);
    }
    return [owned = std::move(owned)](std::string_view direction) -> std::optional<std::size_t> {
      for (std::size_t i = 0; i < N; ++i)
        if (owned[i] == direction) return i;
      return std::nullopt;
    };
  }
};

}  // namespace k8snetio
