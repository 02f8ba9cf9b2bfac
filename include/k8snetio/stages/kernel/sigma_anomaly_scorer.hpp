// D6 SigmaAnomalyScorer: the stage's class alone, for the engines, without its range adaptor and so
// without a range library (library.md A4: a translation unit pays only for what it includes).
// The stage, its rules and its adaptor are in ../sigma_anomaly_scorer.hpp, which includes this
// header.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../../model/baseline_table.hpp"
#include "../../model/finding.hpp"
#include "../../model/measure_set.hpp"
#include "../../model/rows.hpp"
#include "../../model/rule_definition.hpp"
#include "../../model/spl_values.hpp"

namespace k8snetio {

/// D6.1: the order `foreach stdev_*` visits the measures.
enum class measure_order {
  lexicographic,  ///< by field name (the default; what Splunk's foreach does)
  table,          ///< as the baseline table lists its stdev_* columns
};

/// D6.4: what a zero stdev does when the value is above the average.
enum class zero_stdev_policy {
  drop_row,   ///< the z-score is null, so is the text, so is the whole row (the SPL's result)
  print_inf,  ///< keep the row and print the z-score as "inf"
};

struct scorer_options {
  double sigma = 4.0;  ///< k in v > a + k * s (D6.2)
  measure_order order = measure_order::lexicographic;
  zero_stdev_policy zero_stdev = zero_stdev_policy::drop_row;
};

/// A bucket the scorer kept: the group fields and its anomaly text (D6.5 already applied).
struct anomalous_row {
  std::string_view cluster;
  std::string_view node;
  std::string_view pod;
  std::string_view service;
  std::int64_t time = 0;
  std::string anomalies;
  std::vector<anomalous_measure> measures{};  ///< the same, as data, in visiting order
};

template <std::size_t N>
class sigma_anomaly_scorer {
 public:
  explicit sigma_anomaly_scorer(const measure_set<N>& measures, scorer_options options = {})
      : measures_(measures), options_(options), order_(measures.lexicographic_order()) {}

  /// Uses the table's stdev_* column order when the options ask for it (D6.1).
  void use_table_order(const std::array<std::size_t, N>& stdev_column_order) {
    if (options_.order == measure_order::table) order_ = stdev_column_order;
  }

  const scorer_options& options() const noexcept { return options_; }

  /// The order in which measures are visited (D6.1).
  const std::array<std::size_t, N>& order() const noexcept { return order_; }

  /// D6.2 for one measure: v > a + k * s, false when any operand is null (N1).
  bool exceeds(spl_number v, const baseline_cell& avg, const baseline_cell& stdev) const noexcept {
    return spl::greater(v, spl::add(avg.value, spl::mul(options_.sigma, stdev.value)));
  }

  /// D6.4–D6.6 decided without text: kept iff some measure exceeds and, under drop_row, no
  /// exceeding measure (in visiting order up to the first such) has a zero stdev.
  bool keeps(const measure_row<N>& row, const baseline_entry<N>* base) const noexcept {
    if (!base) return false;  // D5.2: all null, every comparison false (N1)
    bool any = false;
    for (std::size_t m : order_) {
      if (!exceeds(row.values[m], base->avg[m], base->stdev[m])) continue;
      if (*base->stdev[m].value == 0 && options_.zero_stdev == zero_stdev_policy::drop_row)
        return false;  // N2/N3: null text makes `anomalies` null for the rest of the row
      any = true;
    }
    return any;
  }

  /// The row's `anomalies` value (D6.3, D6.5), or nullopt when D6.6 drops the row.
  std::optional<std::string> describe(const measure_row<N>& row,
                                      const baseline_entry<N>* base) const {
    if (!keeps(row, base)) return std::nullopt;
    std::string text;
    for (std::size_t m : order_) {
      if (!exceeds(row.values[m], base->avg[m], base->stdev[m])) continue;
      append_measure_text(text, m, *row.values[m], base->avg[m], base->stdev[m]);
    }
    // D6.5: replace(anomalies, ",\s$", ""): every appended text ends in ", ".
    if (text.size() >= 2 && text.ends_with(", ")) text.resize(text.size() - 2);
    return text;
  }

  std::optional<anomalous_row> score(const looked_up_row<N>& r) const {
    auto text = describe(r.row, r.baseline);
    if (!text || text->empty()) return std::nullopt;  // D6.6, N4
    anomalous_row out{r.row.cluster, r.row.node,       r.row.pod, r.row.service,
                      r.row.time,    std::move(*text), {}};
    for (std::size_t m : order_) {
      const baseline_cell& avg = r.baseline->avg[m];
      const baseline_cell& stdev = r.baseline->stdev[m];
      if (!exceeds(r.row.values[m], avg, stdev)) continue;
      const double v = *r.row.values[m];
      out.measures.push_back(
          {r.row.time, std::string(measures_.names[m]), v, avg.value, stdev.value, avg.text,
           stdev.text,
           *stdev.value == 0 ? std::nullopt : std::optional((v - *avg.value) / *stdev.value)});
    }
    return out;
  }

  /// D6.3 for one exceeding measure: appends
  /// "{m}<infix>{Z} Standard Deviations. {m}={V} avg_{m}={A} 'stdev_{m}'={S}, ".
  void append_measure_text(std::string& out, std::size_t m, double v, const baseline_cell& avg,
                           const baseline_cell& stdev) const {
    const std::string_view name = measures_.names[m];
    const double s = *stdev.value;
    out += name;
    out += measures_.text_infix;
    if (s == 0)
      out += "inf";  // only reached under print_inf (D6.4)
    else
      spl::append_round2(out, (v - *avg.value) / s);
    out += " Standard Deviations. ";
    out += name;
    out += '=';
    spl::append_number(out, v);
    out += " avg_";
    out += name;
    out += '=';
    out += avg.text;  // F3: the cell's own text
    out += " 'stdev_";
    out += name;
    out += "'=";
    out += stdev.text;
    out += ", ";
  }

 private:
  measure_set<N> measures_;  ///< by value; its texts are the rule's
  scorer_options options_;
  std::array<std::size_t, N> order_;
};

}  // namespace k8snetio
