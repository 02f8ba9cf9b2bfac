// The baseline lookup table (spec B6, D5, I4): per key, the average and standard deviation of
// each measure. Cells keep their own text, because the anomaly text echoes it unchanged (F3).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../detail/symbol_table.hpp"
#include "measure_set.hpp"
#include "spl_values.hpp"

namespace k8snetio {

/// One cell: its number (null when empty, D5.2) and its text as the table holds it (F3).
struct baseline_cell {
  spl_number value;
  std::string text;

  static baseline_cell from_number(spl_number v) {
    return {v, v ? spl::format_number(*v) : std::string()};
  }
  friend bool operator==(const baseline_cell&, const baseline_cell&) = default;
};

template <std::size_t N>
struct baseline_entry {
  std::array<baseline_cell, N> avg;
  std::array<baseline_cell, N> stdev;
  std::optional<std::uint64_t> count;     ///< B4 (informational at lookup)
  std::optional<std::int64_t> last_seen;  ///< B5 (informational at lookup)
  friend bool operator==(const baseline_entry&, const baseline_entry&) = default;
};

/// A keyed table that refuses duplicate keys (D5.3). Entries keep insertion order; `sort`
/// orders them by key (B6). Entry addresses stay valid until the next insert or sort.
template <std::size_t N>
class baseline_table {
 public:
  /// The main rule's table (N = 2 only).
  baseline_table() : baseline_table(default_measures()) {}
  /// A table of `measures`' columns; it keeps a copy of their names (see own_measure_set).
  explicit baseline_table(const measure_set<N>& measures)
      : baseline_table(own_measure_set(measures)) {}
  /// A table sharing the measures of a rule (rule_definition::measures).
  explicit baseline_table(std::shared_ptr<const measure_set<N>> measures)
      : measures_(std::move(measures)) {
    if (!measures_) throw std::invalid_argument("baseline_table: the measure_set is null");
    stdev_column_order_ = measures_->column_order;
  }

  const measure_set<N>& measures() const noexcept { return *measures_; }

  /// Inserts a row; returns false (and changes nothing) when the key is already present.
  bool insert(std::string key, baseline_entry<N> entry) {
    if (index_.contains(std::string_view(key))) return false;
    index_.emplace(key, rows_.size());
    rows_.push_back({std::move(key), std::move(entry)});
    return true;
  }

  /// D5.1: exact, case-sensitive match.
  const baseline_entry<N>* find(std::string_view key) const {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &rows_[it->second].entry;
  }

  struct row {
    std::string key;
    baseline_entry<N> entry;
    friend bool operator==(const row&, const row&) = default;
  };
  const std::vector<row>& rows() const noexcept { return rows_; }
  std::size_t size() const noexcept { return rows_.size(); }

  /// B6: rows by key, byte order.
  void sort() {
    std::sort(rows_.begin(), rows_.end(), [](const row& a, const row& b) { return a.key < b.key; });
    reindex_all();
  }

  /// The order of the table's stdev_* columns, as loaded from a file (D6.1's "table" order).
  const std::array<std::size_t, N>& stdev_column_order() const noexcept {
    return stdev_column_order_;
  }
  void set_stdev_column_order(const std::array<std::size_t, N>& order) {
    stdev_column_order_ = order;
  }

 private:
  static std::shared_ptr<const measure_set<N>> default_measures() {
    static_assert(N == 2, "baseline_table: give the measure_set of your rule");
    static const std::shared_ptr<const measure_set<N>> main = own_measure_set(network_io_measures);
    return main;
  }
  void reindex_all() {
    index_.clear();
    for (std::size_t i = 0; i < rows_.size(); ++i) index_.emplace(rows_[i].key, i);
  }

  std::shared_ptr<const measure_set<N>> measures_;
  std::array<std::size_t, N> stdev_column_order_{};
  std::vector<row> rows_;
  std::unordered_map<std::string, std::size_t, detail::string_hash, std::equal_to<>> index_;
};

}  // namespace k8snetio
