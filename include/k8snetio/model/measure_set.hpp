// What a rule measures: the measures' names, how a direction feeds them, the anomaly text and
// the baseline table's column order. Both rules are configurations of the same stages; a user's
// own rule is a third measure_set (spec D6, R1–R5).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace k8snetio {

template <std::size_t N>
struct measure_set {
  /// Field names, e.g. "inbound_network_io"; the baseline columns are avg_<name>, stdev_<name>.
  std::array<std::string_view, N> names;
  /// The anomaly text after the measure's name: "{m}<infix>{Z} Standard Deviations. …" (D6.3, R3).
  std::string_view text_infix;
  /// The measures in the order the baseline table writes their columns (B6, R5).
  std::array<std::size_t, N> column_order;

  static constexpr std::size_t size() noexcept { return N; }
  friend bool operator==(const measure_set&, const measure_set&) = default;

  std::optional<std::size_t> index_of(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < N; ++i)
      if (names[i] == name) return i;
    return std::nullopt;
  }

  /// D6.1: the order in which `foreach stdev_*` visits the measures: lexicographic by field name.
  std::array<std::size_t, N> lexicographic_order() const noexcept {
    std::array<std::size_t, N> order{};
    for (std::size_t i = 0; i < N; ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [this](std::size_t a, std::size_t b) { return names[a] < names[b]; });
    return order;
  }
};

/// A copy of `measures` whose texts live as long as the returned pointer. Throws
/// std::invalid_argument when a name is empty or repeated, or when column_order is not a
/// permutation of 0…N−1: such a rule could write no baseline table that reads back.
template <std::size_t N>
std::shared_ptr<const measure_set<N>> own_measure_set(const measure_set<N>& measures) {
  std::array<bool, N> seen{};
  for (std::size_t i = 0; i < N; ++i) {
    if (measures.names[i].empty())
      throw std::invalid_argument("measure_set: a measure has an empty name");
    for (std::size_t j = 0; j < i; ++j)
      if (measures.names[j] == measures.names[i])
        throw std::invalid_argument("measure_set: the measure name \"" +
                                    std::string(measures.names[i]) + "\" is given twice");
    const std::size_t c = measures.column_order[i];
    if (c >= N || seen[c])
      throw std::invalid_argument(
          "measure_set: measure_set::column_order is not a permutation of the measures");
    seen[c] = true;
  }
  struct owned {
    std::array<std::string, N> names;
    std::string infix;
    measure_set<N> view;
  };
  auto o = std::make_shared<owned>();
  for (std::size_t i = 0; i < N; ++i) o->names[i] = std::string(measures.names[i]);
  o->infix = std::string(measures.text_infix);
  for (std::size_t i = 0; i < N; ++i) o->view.names[i] = o->names[i];
  o->view.text_infix = o->infix;
  o->view.column_order = measures.column_order;
  return std::shared_ptr<const measure_set<N>>(o, &o->view);
}

/// The main rule's measures: received and transmitted bytes (D3, D6.1).
inline constexpr measure_set<2> network_io_measures{
    {"inbound_network_io", "outbound_network_io"},
    " higher than average by ",
    {1, 0}};  // B6: avg_outbound…, avg_inbound…, stdev_outbound…, stdev_inbound…

/// Which measure a D1 row's direction feeds in the pivot (D3.1: exact, case-sensitive).
inline constexpr std::optional<std::size_t> network_io_measure_of(std::string_view direction) {
  if (direction == "receive") return 0;
  if (direction == "transmit") return 1;
  return std::nullopt;
}

/// The sibling rule's measures (R1, R3, R5).
inline constexpr measure_set<2> network_io_ratio_measures{
    {"inbound:outbound", "outbound:inbound"},
    " ratio higher than average by ",
    {0, 1}};  // R5: avg_inbound:outbound, avg_outbound:inbound, stdev_…

}  // namespace k8snetio
