// What the detector's lookups could not map, counted for the result (D5.4 keys without a
// baseline row, D2.4 rows whose pod name hit the user pattern's limit, A1.4 directions that
// feed no measure), with their part of the detector's state snapshot (S4).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "../../detail/direction_tally.hpp"
#include "../../detail/snapshot.hpp"

namespace k8snetio {

/// D5.4: a key seen in the input with no row in the baseline table (it cannot alert).
struct unbaselined_key {
  std::string key;
  std::uint64_t pods = 0;     ///< distinct (cluster, node, pod)
  std::uint64_t buckets = 0;  ///< distinct bucket starts
  friend bool operator==(const unbaselined_key&, const unbaselined_key&) = default;
};

namespace detail {

/// D5.4: the distinct bucket starts of one key. Rows come mostly in time order: a start after
/// the newest is appended to a sorted vector (8 bytes, no allocation per bucket); one at or
/// before it is looked up there and, if new, kept in a set of the out-of-order ones. Every start
/// in that set is below the vector's newest when it is added, and the newest only grows, so no
/// start is in both: the count is exact in any input order.
class distinct_buckets {
 public:
  void insert(std::int64_t t) {
    if (in_order_.empty() || t > in_order_.back()) {
      in_order_.push_back(t);
      return;
    }
    if (t == in_order_.back()) return;  // the common repeat: another pod in the same bucket
    if (!std::binary_search(in_order_.begin(), in_order_.end(), t)) out_of_order_.insert(t);
  }
  std::size_t size() const noexcept { return in_order_.size() + out_of_order_.size(); }
  /// Every start, ascending.
  std::vector<std::int64_t> sorted() const {
    std::vector<std::int64_t> all(in_order_);
    all.insert(all.end(), out_of_order_.begin(), out_of_order_.end());
    std::sort(all.begin(), all.end());
    return all;
  }

 private:
  std::vector<std::int64_t> in_order_;
  std::unordered_set<std::int64_t> out_of_order_;
};

class lookup_misses {
 public:
  /// D5.4: the pods and buckets of one key without a baseline row.
  struct unbaselined_state {
    std::unordered_set<std::string> pods;  ///< (cluster, node, pod) keys: pod ids are reused
    distinct_buckets buckets;
  };

  /// The counts of `key` (cluster:service); node-based: the reference stays valid.
  unbaselined_state& unbaselined(const std::string& key) {
    return unbaselined_.try_emplace(key).first->second;
  }
  /// D2.4: a row dropped because its pod name hit the pattern's limit.
  void pattern_limit_row() noexcept { ++pattern_limit_rows_; }
  /// A1.4: the points of the rule's metric whose direction feeds no measure.
  direction_tally& unmapped() noexcept { return unmapped_; }
  const direction_tally& unmapped() const noexcept { return unmapped_; }
  std::uint64_t pattern_limit_rows() const noexcept { return pattern_limit_rows_; }

  /// D5.4's keys, sorted.
  std::vector<unbaselined_key> unbaselined_keys() const;

  /// S4: the unbaselined keys, then the two counts, in the detector's snapshot.
  void save(snapshot_writer& w) const;
  /// S4: into an empty one; throws snapshot_error.
  void restore(snapshot_reader& r);

 private:
  std::unordered_map<std::string, unbaselined_state> unbaselined_;  // node-based: stable
  std::uint64_t pattern_limit_rows_ = 0;
  direction_tally unmapped_;
};

inline std::vector<unbaselined_key> lookup_misses::unbaselined_keys() const {
  std::vector<unbaselined_key> out;
  for (const auto& [key, u] : unbaselined_) out.push_back({key, u.pods.size(), u.buckets.size()});
  std::sort(out.begin(), out.end(),
            [](const unbaselined_key& a, const unbaselined_key& b) { return a.key < b.key; });
  return out;
}

inline void lookup_misses::save(snapshot_writer& w) const {
  w.u64(unbaselined_.size());
  for (const auto& [key, u] : unbaselined_) {
    w.str(key);
    std::vector<std::string_view> pods(u.pods.begin(), u.pods.end());
    std::sort(pods.begin(), pods.end());
    w.u64(pods.size());
    for (std::string_view pod : pods) w.str(pod);
    const std::vector<std::int64_t> buckets = u.buckets.sorted();
    w.u64(buckets.size());
    for (std::int64_t t : buckets) w.i64(t);
  }
  w.u64(pattern_limit_rows_);
  unmapped_.save(w);
}

inline void lookup_misses::restore(snapshot_reader& r) {
  const std::size_t keys = r.count(8 + 16);
  for (std::size_t i = 0; i < keys; ++i) {
    auto [it, fresh] = unbaselined_.try_emplace(std::string(r.str()));
    if (!fresh) r.fail("an unbaselined key twice");
    const std::size_t n = r.count(8);
    for (std::size_t j = 0; j < n; ++j) it->second.pods.emplace(r.str());
    const std::size_t b = r.count(8);
    for (std::size_t j = 0; j < b; ++j) it->second.buckets.insert(r.i64());
  }
  pattern_limit_rows_ = r.u64();
  unmapped_.restore(r);
}

}  // namespace detail
}  // namespace k8snetio
