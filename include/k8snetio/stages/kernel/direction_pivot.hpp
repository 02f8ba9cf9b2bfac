// D3 DirectionPivot: the stage's class alone, for the engines, without its range adaptor and so
// without a range library (library.md A4: a translation unit pays only for what it includes).
// The stage, its rules and its adaptor are in ../direction_pivot.hpp, which includes this header.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../../detail/flat_hash.hpp"
#include "../../detail/snapshot.hpp"
#include "../../detail/symbol_table.hpp"
#include "../../model/measure_set.hpp"
#include "../../model/rows.hpp"
#include "../../model/rule_definition.hpp"

namespace k8snetio {

/// Maps a direction to the index of the measure it feeds, or nullopt (D3.2: still a row).
template <class F, std::size_t N>
concept direction_mapping = std::invocable<const F&, std::string_view> &&
    std::convertible_to<std::invoke_result_t<const F&, std::string_view>,
                        std::optional<std::size_t>>;

/// per_pod: D3 (cluster, node, pod, service, _time). per_service: R5 (cluster, service, _time),
/// across all pods of the service.
enum class pivot_grouping { per_pod, per_service };

/// D4: key = cluster + ":" + service.
inline void make_key(std::string& out, std::string_view cluster, std::string_view service) {
  out.assign(cluster);
  out += ':';
  out += service;
}
inline std::string make_key(std::string_view cluster, std::string_view service) {
  std::string k;
  make_key(k, cluster, service);
  return k;
}

/// Pivots service rows into measure rows: each measure is the mean (plain sum in input order
/// over the count) of the io of the rows whose direction maps to it; null when none did (D3.1).
/// Rows come out in the order their group first appeared.
template <std::size_t N, class MeasureOf = direction_mapping_fn>
requires direction_mapping<MeasureOf, N>
class direction_pivot {
 public:
  explicit direction_pivot(MeasureOf measure_of, pivot_grouping grouping = pivot_grouping::per_pod)
      : measure_of_(std::move(measure_of)), grouping_(grouping) {}

  void add(const service_row& r) {
    const bool per_pod = grouping_ == pivot_grouping::per_pod;
    const group_key k{r.cluster, per_pod ? r.node : std::string_view(),
                      per_pod ? r.pod : std::string_view(), r.service, r.time};
    // Rows in time order (as the aggregator gives them) need an index of the current time's
    // groups only: small, and in cache. An older time makes it index every group from then on.
    if (!full_index_ && k.time != index_time_) {
      if (k.time < index_time_) {
        index_.clear();
        for (std::size_t i = 0; i < groups_.size(); ++i)
          index_.insert(hash_of(groups_[i].key), popped_ + i);
        full_index_ = true;
      } else {
        index_.clear();
        index_time_ = k.time;
      }
    }
    std::size_t pos;
    if (last_ >= popped_ && last_ - popped_ < groups_.size() && groups_[last_ - popped_].key == k) {
      pos = last_;
    } else {
      const std::uint64_t h = hash_of(k);
      const std::size_t* found =
          index_.find(h, [&](std::size_t at) { return groups_[at - popped_].key == k; });
      if (found) {
        pos = *found;
      } else {
        pos = popped_ + groups_.size();
        index_.insert(h, pos);
        groups_.push_back({k, {}, {}});
      }
      last_ = pos;
    }
    group& g = groups_[pos - popped_];
    if (auto m = std::invoke(measure_of_, r.direction); m && *m < N) {
      g.sum[*m] += r.io;
      ++g.count[*m];
    }
  }

  /// Emits every group, in first-appearance order, and forgets them.
  template <std::invocable<const measure_row<N>&> Sink>
  void finish(Sink&& sink) {
    while (!groups_.empty()) pop_front(sink);
  }

  /// Emits, in first-appearance order, the leading groups whose bucket is at or before `time`:
  /// for time-ordered input whose buckets up to `time` are complete, memory stays bounded.
  template <std::invocable<const measure_row<N>&> Sink>
  void flush_through(std::int64_t time, Sink&& sink) {
    while (!groups_.empty() && groups_.front().key.time <= time) pop_front(sink);
  }

  std::size_t size() const noexcept { return groups_.size(); }

  /// S4: the open groups with their partial sums, in first-appearance order, and where the
  /// index stands; `restore` on a pivot of the same grouping continues exactly from there.
  void save(detail::snapshot_writer& w) const {
    w.u8(grouping_ == pivot_grouping::per_pod ? 0 : 1);
    w.u64(N);
    w.u64(popped_);
    w.boolean(full_index_);
    w.i64(index_time_);
    w.u64(groups_.size());
    for (const group& g : groups_) {
      for (std::string_view v : {g.key.cluster, g.key.node, g.key.pod, g.key.service}) w.str(v);
      w.i64(g.key.time);
      for (std::size_t m = 0; m < N; ++m) {
        w.f64(g.sum[m]);
        w.u64(g.count[m]);
      }
    }
  }

  /// Replaces this pivot's groups with saved ones (their strings owned by the pivot); throws
  /// snapshot_error, keeping its own, when they do not hold together.
  void restore(detail::snapshot_reader& r) {
    direction_pivot p(measure_of_, grouping_);
    if (r.choice(1, "the pivot's grouping") != (grouping_ == pivot_grouping::per_pod ? 0 : 1))
      r.fail("the pivot's grouping is not this rule's");
    if (r.u64() != N) r.fail("the pivot has another number of measures than the rule");
    p.popped_ = r.u64();
    p.full_index_ = r.boolean();
    p.index_time_ = r.i64();
    const std::size_t n = r.count(4 * 8 + 8 + N * 16);
    for (std::size_t i = 0; i < n; ++i) {
      group g{};
      for (std::string_view* v : {&g.key.cluster, &g.key.node, &g.key.pod, &g.key.service})
        *v = p.restored_.view(p.restored_.intern(r.str()));
      g.key.time = r.i64();
      for (std::size_t m = 0; m < N; ++m) {
        g.sum[m] = r.f64();
        g.count[m] = r.u64();
      }
      if (!p.full_index_ && g.key.time > p.index_time_)
        r.fail("a pivot group later than the time its index holds");
      if (p.full_index_ || g.key.time == p.index_time_) {
        const std::uint64_t h = hash_of(g.key);
        if (p.index_.find(h,
                          [&](std::size_t at) { return p.groups_[at - p.popped_].key == g.key; }))
          r.fail("a pivot group twice");
        p.index_.insert(h, p.popped_ + i);
      }
      p.groups_.push_back(g);
    }
    if (p.popped_ + p.groups_.size() < p.popped_) r.fail("pivot group positions overflow");
    *this = std::move(p);
  }

 private:
  struct group_key {
    std::string_view cluster, node, pod, service;
    std::int64_t time;
    friend bool operator==(const group_key&, const group_key&) = default;
  };
  struct group_hash {
    std::size_t operator()(const group_key& k) const noexcept {
      std::hash<std::string_view> h;
      std::size_t x = h(k.pod) ^ (h(k.cluster) * 31) ^ (h(k.node) * 131) ^ (h(k.service) * 7);
      return x ^ (std::hash<std::int64_t>{}(k.time) * 0x9E3779B97F4A7C15ull);
    }
  };
  struct group {
    group_key key;
    std::array<double, N> sum;
    std::array<std::uint64_t, N> count;
  };

  template <class Sink>
  void pop_front(Sink& sink) {
    const group& g = groups_.front();
    measure_row<N> out{g.key.cluster, g.key.node, g.key.pod, g.key.service, g.key.time, {}};
    for (std::size_t m = 0; m < N; ++m)
      if (g.count[m]) out.values[m] = g.sum[m] / static_cast<double>(g.count[m]);
    if (full_index_ || g.key.time == index_time_)
      index_.erase(hash_of(g.key), [this](std::size_t at) { return at == popped_; });
    groups_.pop_front();
    ++popped_;
    sink(out);
  }

  MeasureOf measure_of_;
  pivot_grouping grouping_;
  detail::symbol_table restored_;  ///< the strings of restored groups (S4)
  std::deque<group> groups_;
  std::uint64_t popped_ = 0;
  detail::flat_hash_slots<std::size_t> index_;
  std::size_t last_ = static_cast<std::size_t>(-1);
  bool full_index_ = false;
  std::int64_t index_time_ = std::numeric_limits<std::int64_t>::min();
  static std::uint64_t hash_of(const group_key& k) noexcept {
    std::uint64_t h = detail::hash_bytes(k.cluster, static_cast<std::uint64_t>(k.time));
    h = detail::hash_bytes(k.node, h);
    h = detail::hash_bytes(k.pod, h);
    return detail::hash_bytes(k.service, h);
  }
};

}  // namespace k8snetio
