// What the detector's lookups could not map, counted for the result (D5.4 keys without a
// baseline row, D2.4 rows whose pod name hit the user pattern's limit, A1.4 directions that
// feed no measure), with their part of the detector's state snapshot (S4).
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
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

/// D5.4: the distinct bucket starts of one key, as runs of consecutive starts (`step` apart), so
/// that a key seen in every bucket of a live service's months takes one run, not 8 bytes per
/// bucket, in memory and in the state snapshot. Rows come mostly in time order: a start one step
/// after the newest lengthens the last run, a later one opens a run; one at or before the newest
/// is looked up in the runs and, if new, kept in a set of out-of-order starts, which is folded
/// into the runs once it holds `fold_at` (memory follows the gaps, not the buckets). Every start
/// of that set is below the newest when it is added and the newest only grows, so no start is
/// counted twice: the count is exact in any input order. Starts that are not a multiple of
/// `step` (bucket_of never gives one) are kept apart, one by one, so that runs never overlap.
class distinct_buckets {
 public:
  /// `count` starts: first, first + step, …
  struct run {
    std::int64_t first = 0;
    std::uint64_t count = 0;
    friend bool operator==(const run&, const run&) = default;
  };
  static constexpr std::size_t fold_at = 4096;

  explicit distinct_buckets(std::int64_t step) : step_(step > 0 ? step : 1) {}

  void insert(std::int64_t t) {
    if (!aligned(t)) {
      if (unaligned_.insert(t).second) ++size_;
      return;
    }
    if (runs_.empty()) {
      runs_.push_back({t, 1});
      ++size_;
      return;
    }
    const std::int64_t newest = last_of(runs_.back());
    if (t > newest) {
      if (next_after(runs_.back(), t))
        ++runs_.back().count;
      else
        runs_.push_back({t, 1});
      ++size_;
      return;
    }
    if (t == newest || in_runs(t)) return;  // the common repeat comes first
    if (!out_of_order_.insert(t).second) return;
    ++size_;
    if (out_of_order_.size() >= fold_at) fold();
  }
  /// Restoring a snapshot: a run after every start held. False if it is not one (empty, not a
  /// multiple of the step, not after the last run, or past the largest start).
  bool append_run(run r) {
    if (r.count == 0 || !aligned(r.first) || !out_of_order_.empty()) return false;
    if (!runs_.empty() && r.first <= last_of(runs_.back())) return false;
    // The largest start minus the first, in unsigned arithmetic (exact for a negative first).
    const std::uint64_t room =
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) -
        static_cast<std::uint64_t>(r.first);
    if (r.count - 1 > room / static_cast<std::uint64_t>(step_)) return false;
    constexpr std::uint64_t most = std::numeric_limits<std::uint64_t>::max();
    if (size_ > most - r.count) return false;  // more starts than 64 bits count (span 1)
    if (!runs_.empty() && next_after(runs_.back(), r.first))
      runs_.back().count += r.count;  // at most size_ + r.count: no wrap
    else
      runs_.push_back(r);
    size_ += r.count;
    return true;
  }
  /// Restoring a snapshot: a start that is not a multiple of the step; false if it is one or is
  /// already held.
  bool insert_unaligned(std::int64_t t) {
    if (aligned(t) || !unaligned_.insert(t).second) return false;
    ++size_;
    return true;
  }

  std::uint64_t size() const noexcept { return size_; }
  /// Every start that is a multiple of the step, as the fewest runs, ascending.
  std::vector<run> runs() const {
    std::vector<std::int64_t> late(out_of_order_.begin(), out_of_order_.end());
    std::sort(late.begin(), late.end());
    std::vector<run> out;
    out.reserve(runs_.size() + late.size());
    const auto add = [&](run r) {
      if (!out.empty() && next_after(out.back(), r.first))
        out.back().count += r.count;
      else
        out.push_back(r);
    };
    auto l = late.begin();
    for (const run& r : runs_) {
      for (; l != late.end() && *l < r.first; ++l) add({*l, 1});
      add(r);
    }
    for (; l != late.end(); ++l) add({*l, 1});
    return out;
  }
  /// The other starts, ascending.
  std::vector<std::int64_t> unaligned() const {
    std::vector<std::int64_t> out(unaligned_.begin(), unaligned_.end());
    std::sort(out.begin(), out.end());
    return out;
  }
  /// Runs and single starts held: what the memory follows.
  std::size_t pieces() const noexcept {
    return runs_.size() + out_of_order_.size() + unaligned_.size();
  }

 private:
  bool aligned(std::int64_t t) const noexcept { return t % step_ == 0; }
  /// In unsigned arithmetic, as a forged run may be as long as the int64 range (append_run
  /// checks the last start is one): the result is exact, the steps never overflow.
  std::int64_t last_of(const run& r) const noexcept {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(r.first) +
                                     (r.count - 1) * static_cast<std::uint64_t>(step_));
  }
  /// Whether `t` is the start one step after `r`'s last (in unsigned arithmetic: no overflow).
  bool next_after(const run& r, std::int64_t t) const noexcept {
    return static_cast<std::uint64_t>(t) - static_cast<std::uint64_t>(last_of(r)) ==
           static_cast<std::uint64_t>(step_);
  }
  bool in_runs(std::int64_t t) const {
    // The last run starting at or before t holds it if it reaches that far (runs are disjoint
    // and ascending, all on the same multiples of the step).
    auto it = std::upper_bound(runs_.begin(), runs_.end(), t,
                               [](std::int64_t v, const run& r) { return v < r.first; });
    return it != runs_.begin() && t <= last_of(*std::prev(it));
  }
  void fold() {
    runs_ = runs();
    out_of_order_.clear();
  }

  std::int64_t step_;
  std::vector<run> runs_;  ///< ascending, disjoint
  std::unordered_set<std::int64_t> out_of_order_;
  std::unordered_set<std::int64_t> unaligned_;
  std::uint64_t size_ = 0;
};

class lookup_misses {
 public:
  /// D5.4: the pods and buckets of one key without a baseline row.
  struct unbaselined_state {
    std::unordered_set<std::string> pods;  ///< (cluster, node, pod) keys: pod ids are reused
    distinct_buckets buckets;
  };

  /// `bucket_seconds`: the span, the distance of consecutive bucket starts.
  explicit lookup_misses(std::int64_t bucket_seconds) : bucket_seconds_(bucket_seconds) {}

  /// The counts of `key` (cluster:service); node-based: the reference stays valid.
  unbaselined_state& unbaselined(const std::string& key) {
    auto found = unbaselined_.find(key);
    if (found != unbaselined_.end()) return found->second;
    return unbaselined_.try_emplace(key, unbaselined_state{{}, distinct_buckets(bucket_seconds_)})
        .first->second;
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
  /// S4: into an empty one, from a snapshot of format `version`; throws snapshot_error.
  void restore(snapshot_reader& r, std::uint32_t version);

 private:
  std::int64_t bucket_seconds_;
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
    // Format 3: the buckets as runs (format 2 listed every start).
    const std::vector<distinct_buckets::run> runs = u.buckets.runs();
    w.u64(runs.size());
    for (const distinct_buckets::run& r : runs) {
      w.i64(r.first);
      w.u64(r.count);
    }
    const std::vector<std::int64_t> unaligned = u.buckets.unaligned();
    w.u64(unaligned.size());
    for (std::int64_t t : unaligned) w.i64(t);
  }
  w.u64(pattern_limit_rows_);
  unmapped_.save(w);
}

inline void lookup_misses::restore(snapshot_reader& r, std::uint32_t version) {
  const std::size_t keys = r.count(8 + 16);
  for (std::size_t i = 0; i < keys; ++i) {
    auto [it, fresh] = unbaselined_.try_emplace(
        std::string(r.str()), unbaselined_state{{}, distinct_buckets(bucket_seconds_)});
    if (!fresh) r.fail("an unbaselined key twice");
    const std::size_t n = r.count(8);
    for (std::size_t j = 0; j < n; ++j) it->second.pods.emplace(r.str());
    distinct_buckets& buckets = it->second.buckets;
    if (version < 3) {  // every start, ascending
      const std::size_t b = r.count(8);
      for (std::size_t j = 0; j < b; ++j) buckets.insert(r.i64());
      continue;
    }
    const std::size_t runs = r.count(16);
    for (std::size_t j = 0; j < runs; ++j) {
      const std::int64_t first = r.i64();
      const std::uint64_t count = r.u64();
      if (!buckets.append_run({first, count}))
        r.fail(concat("a run of ", count, " buckets from ", first,
                      " is empty, off the span's multiples or not after the runs before it"));
    }
    const std::size_t unaligned = r.count(8);
    for (std::size_t j = 0; j < unaligned; ++j)
      if (!buckets.insert_unaligned(r.i64()))
        r.fail("a bucket start off the span's multiples held twice, or one on them");
  }
  pattern_limit_rows_ = r.u64();
  unmapped_.restore(r);
}

}  // namespace detail
}  // namespace k8snetio
