// D1 — SpanAggregator: `mstats avg(k8s.pod.network.io) as io by cluster pod node direction
// span=10s`. Points become one row per (cluster, pod, node, direction, bucket) whose `io` is the
// plain mean of the group's points in input order (D1.1–D1.5). A group-by: by default it holds
// every group until `finish`; with an allowed lateness it emits a bucket as soon as the input
// has moved past it, so a time-ordered input of any length needs memory for one bucket only.
#pragma once

#include <cmath>
#include <concepts>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <range/v3/range/access.hpp>
#include <range/v3/range/concepts.hpp>
#include <range/v3/view/interface.hpp>

#include "detail/pipe.hpp"
#include "detail/symbol_table.hpp"
#include "metric_point.hpp"
#include "rows.hpp"

namespace k8snetio {

struct span_options {
  std::int64_t span_seconds = 10;  ///< D1.3; whole seconds >= 1
  /// The metric read; points of another metric are counted and skipped. An empty
  /// metric_name on a point means "this is the metric" (metrics_csv without that column).
  std::string metric_name = std::string(default_metric_name);
  /// Unset: hold every group until finish (input in any order). Set to L seconds: once the
  /// input has reached a bucket more than L seconds past a group's bucket end, that group is
  /// final and is emitted; a later point for it is counted as `late` and not aggregated.
  std::optional<std::int64_t> allowed_lateness;
};

/// What the aggregator did with the points it was given (nothing is dropped silently).
struct aggregation_stats {
  std::uint64_t points_in = 0;
  std::uint64_t aggregated = 0;
  std::uint64_t other_metric = 0;
  std::uint64_t missing_dimension = 0;  ///< D1.1
  std::uint64_t non_finite = 0;         ///< D1.2 (value or time)
  std::uint64_t late = 0;               ///< past the allowed lateness
  std::uint64_t rows_out = 0;
  std::optional<std::int64_t> first_bucket;  ///< earliest bucket aggregated
  std::optional<std::int64_t> last_bucket;   ///< latest bucket aggregated

  std::uint64_t dropped() const noexcept {
    return other_metric + missing_dimension + non_finite + late;
  }
  aggregation_stats& operator+=(const aggregation_stats& o) {
    points_in += o.points_in;
    aggregated += o.aggregated;
    other_metric += o.other_metric;
    missing_dimension += o.missing_dimension;
    non_finite += o.non_finite;
    late += o.late;
    rows_out += o.rows_out;
    auto lo = [](auto a, auto b) { return !a ? b : !b ? a : std::optional(std::min(*a, *b)); };
    auto hi = [](auto a, auto b) { return !a ? b : !b ? a : std::optional(std::max(*a, *b)); };
    first_bucket = lo(first_bucket, o.first_bucket);
    last_bucket = hi(last_bucket, o.last_bucket);
    return *this;
  }
};

/// D1.3: floor(time / span) * span, aligned to the epoch.
inline std::int64_t bucket_of(double time, std::int64_t span_seconds) noexcept {
  return static_cast<std::int64_t>(std::floor(time / static_cast<double>(span_seconds))) *
         span_seconds;
}

class span_aggregator {
 public:
  explicit span_aggregator(span_options options = {}) : options_(std::move(options)) {
    if (options_.span_seconds < 1)
      throw std::invalid_argument("span_aggregator: span_seconds must be a whole number >= 1");
    if (options_.allowed_lateness && *options_.allowed_lateness < 0)
      throw std::invalid_argument("span_aggregator: allowed_lateness must be >= 0");
  }

  const span_options& options() const noexcept { return options_; }
  const aggregation_stats& stats() const noexcept { return stats_; }

  /// Adds one point; returns whether it was aggregated. Never throws on bad data: it counts.
  bool add(const metric_point& p) {
    ++stats_.points_in;
    if (!p.metric_name.empty() && p.metric_name != options_.metric_name) {
      ++stats_.other_metric;
      return false;
    }
    if (p.cluster.empty() || p.pod.empty() || p.node.empty() || p.direction.empty()) {
      ++stats_.missing_dimension;
      return false;
    }
    // D1.2; a non-finite or out-of-range time has no bucket either.
    constexpr double time_limit = 9.0e15;
    if (!std::isfinite(p.value) || !std::isfinite(p.time) || std::abs(p.time) > time_limit) {
      ++stats_.non_finite;
      return false;
    }
    const std::int64_t bucket = bucket_of(p.time, options_.span_seconds);
    const std::uint32_t series = series_id(p);
    const group_key gk{series, bucket};
    if (auto it = index_.find(gk); it != index_.end()) {
      group& g = open_[it->second - popped_];
      g.sum += p.value;
      ++g.count;
    } else {
      if (options_.allowed_lateness && (closed_through_ && bucket <= *closed_through_)) {
        ++stats_.late;
        return false;
      }
      index_.emplace(gk, popped_ + open_.size());
      open_.push_back(group{series, bucket, p.value, 1});
      ++open_buckets_[bucket];
    }
    ++stats_.aggregated;
    if (!stats_.first_bucket || bucket < *stats_.first_bucket) stats_.first_bucket = bucket;
    if (!stats_.last_bucket || bucket > *stats_.last_bucket) stats_.last_bucket = bucket;
    return true;
  }

  /// Emits (in first-appearance order) the groups that the allowed lateness lets us close.
  /// Does nothing when no lateness is set.
  template <std::invocable<const span_row&> Sink>
  void emit_closed(Sink&& sink) {
    if (!options_.allowed_lateness || !stats_.last_bucket) return;
    // A group is final once the newest bucket seen starts more than `lateness` after its end.
    const std::int64_t horizon =
        *stats_.last_bucket - *options_.allowed_lateness - options_.span_seconds;
    while (!open_.empty() && open_.front().bucket <= horizon) pop_front(sink);
  }

  /// Emits every group still open, in first-appearance order.
  template <std::invocable<const span_row&> Sink>
  void finish(Sink&& sink) {
    while (!open_.empty()) pop_front(sink);
  }

  std::size_t open_groups() const noexcept { return open_.size(); }

  /// The latest bucket all of whose rows have been emitted, when the lateness allows emitting:
  /// no later point can add to it, and no open group is at or before it.
  std::optional<std::int64_t> complete_through() const noexcept {
    if (!options_.allowed_lateness || !stats_.last_bucket) return std::nullopt;
    std::int64_t t = *stats_.last_bucket - *options_.allowed_lateness - options_.span_seconds;
    if (!open_buckets_.empty()) t = std::min(t, open_buckets_.begin()->first - 1);
    return t;
  }

 private:
  struct group {
    std::uint32_t series;
    std::int64_t bucket;
    double sum;
    std::uint64_t count;
  };
  struct group_key {
    std::uint32_t series;
    std::int64_t bucket;
    friend bool operator==(const group_key&, const group_key&) = default;
  };
  struct group_hash {
    std::size_t operator()(const group_key& k) const noexcept {
      auto h = static_cast<std::uint64_t>(k.bucket) * 0x9E3779B97F4A7C15ull ^ k.series;
      return static_cast<std::size_t>(h ^ (h >> 29));
    }
  };
  struct series_info {
    std::string_view cluster, pod, node, direction;
  };

  std::uint32_t series_id(const metric_point& p) {
    // One lookup per point on the four values joined; \x1f cannot be confused with content
    // because the lengths are prefixed.
    key_buffer_.clear();
    for (std::string_view part : {p.cluster, p.pod, p.node, p.direction}) {
      auto n = static_cast<std::uint32_t>(part.size());
      key_buffer_.append(reinterpret_cast<const char*>(&n), sizeof n);
      key_buffer_.append(part);
    }
    if (auto it = series_index_.find(std::string_view(key_buffer_)); it != series_index_.end())
      return it->second;
    auto id = static_cast<std::uint32_t>(series_.size());
    series_.push_back({symbols_.view(symbols_.intern(p.cluster)),
                       symbols_.view(symbols_.intern(p.pod)),
                       symbols_.view(symbols_.intern(p.node)),
                       symbols_.view(symbols_.intern(p.direction))});
    series_index_.emplace(key_buffer_, id);
    return id;
  }

  template <class Sink>
  void pop_front(Sink& sink) {
    const group g = open_.front();
    open_.pop_front();
    index_.erase(group_key{g.series, g.bucket});
    if (auto it = open_buckets_.find(g.bucket); --it->second == 0) open_buckets_.erase(it);
    ++popped_;
    if (!closed_through_ || g.bucket > *closed_through_) closed_through_ = g.bucket;
    const series_info& s = series_[g.series];
    ++stats_.rows_out;
    sink(span_row{s.cluster, s.pod, s.node, s.direction, g.bucket,
                  g.sum / static_cast<double>(g.count)});
  }

  span_options options_;
  aggregation_stats stats_;
  detail::symbol_table symbols_;
  std::vector<series_info> series_;
  std::unordered_map<std::string, std::uint32_t, detail::string_hash, std::equal_to<>>
      series_index_;
  std::string key_buffer_;
  std::deque<group> open_;
  std::uint64_t popped_ = 0;
  std::unordered_map<group_key, std::uint64_t, group_hash> index_;
  std::optional<std::int64_t> closed_through_;
  std::map<std::int64_t, std::uint64_t> open_buckets_;  // bucket → open groups
};

/// The D1 rows of a whole input with the aggregator that owns their strings. A view: copies
/// share the rows, so it can flow on through lazy stages and keep the strings alive.
class span_table : public ranges::view_interface<span_table> {
 public:
  span_table() = default;
  explicit span_table(span_options options)
      : state_(std::make_shared<state>(state{span_aggregator(std::move(options)), {}})) {}

  span_aggregator& aggregator() { return state_->aggregator; }
  const aggregation_stats& stats() const { return state_->aggregator.stats(); }
  std::vector<span_row>& rows() { return state_->rows; }

  const span_row* begin() const { return state_ ? state_->rows.data() : nullptr; }
  const span_row* end() const { return state_ ? state_->rows.data() + state_->rows.size() : nullptr; }

 private:
  struct state {
    span_aggregator aggregator;
    std::vector<span_row> rows;
  };
  std::shared_ptr<state> state_;
};

/// Adaptor: `points | aggregate_spans(options)` → span_table. Eager (a group-by): it reads the
/// whole range before it yields its first row.
inline auto aggregate_spans(span_options options = {}) {
  return detail::make_stage([options = std::move(options)]<ranges::input_range R>(R&& points) {
    static_assert(std::convertible_to<ranges::range_reference_t<R>, const metric_point&>,
                  "aggregate_spans: the input must be a range of k8snetio::metric_point");
    span_table table(options);
    auto& agg = table.aggregator();
    auto& rows = table.rows();
    for (const metric_point& p : points) agg.add(p);
    agg.finish([&rows](const span_row& r) { rows.push_back(r); });
    return table;
  });
}

}  // namespace k8snetio
