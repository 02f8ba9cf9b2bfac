// D1 SpanAggregator: the stage's class alone, for the engines, without its range adaptor and so
// without a range library (library.md A4: a translation unit pays only for what it includes).
// The stage, its rules and its adaptor are in ../span_aggregator.hpp, which includes this header.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "../../detail/flat_hash.hpp"
#include "../../detail/snapshot.hpp"
#include "../../detail/symbol_table.hpp"
#include "../../model/drop_reason.hpp"
#include "../../model/metric_point.hpp"
#include "../../model/rows.hpp"

namespace k8snetio {

/// When the aggregator may close a group and emit its row.
enum class group_closing {
  at_finish,  ///< hold every group until finish: any input order (S1), memory grows
  by_series,  ///< when its series reaches a later bucket, or to stay within `series_window`:
              ///< time-major and series-major input in flat memory (S1.1); a point for a
              ///< group already closed is refused as drop_reason::out_of_order
};

struct span_options {
  std::int64_t span_seconds = 10;  ///< D1.3; whole seconds >= 1
  /// The metric read; points of another metric are counted and skipped. An empty
  /// metric_name on a point means "this is the metric" (metrics_csv without that column).
  std::string metric_name = std::string(default_metric_name);
  /// Unset: hold every group until finish (input in any order). Set to L seconds: once the
  /// input has reached a bucket more than L seconds past a group's bucket end, that group is
  /// final and is emitted; a later point for it is counted as `late` and not aggregated.
  /// Set, it takes precedence over `closing`: the live watermark of S1.3.
  std::optional<std::int64_t> allowed_lateness{};
  group_closing closing = group_closing::at_finish;
  /// by_series: groups waiting behind an open one before the oldest is closed anyway (at least
  /// this many, and at least four per series seen), so a series that has ended (series-major
  /// input) does not hold the rest back.
  std::size_t series_window = std::size_t{1} << 16;
  /// The most groups held open at once (0: no limit); a point that would open one more is
  /// refused as drop_reason::memory_limit. With an allowed lateness such a point still moves
  /// the watermark (S5.1), so that the groups it passes close and make room again. The cost
  /// of a held group is measured in benchmarks/README.md (live_group_cost).
  std::size_t max_open_groups = 0;
  /// S5 (by_series and live): a series with no open group whose newest bucket is more than
  /// this many seconds of event time behind the newest bucket seen releases its state, and its
  /// id may go to a new series (series_epoch tells them apart). by_series then refuses, as out
  /// of order, a point of a series it does not hold for a bucket at or before the newest one
  /// it released (it may be a released series' emitted bucket): the caller reads the input
  /// again held, as for any other disorder. Live, the watermark already refuses such points as
  /// late. 0: never release. Consumers keeping per-series state must check series_epoch.
  std::int64_t idle_seconds = 0;
  /// S5.1: the most series held at once (0: no limit); a point of one more series is refused
  /// as drop_reason::series_limit and counted, and every series already held goes on.
  std::size_t max_series = std::size_t{1} << 22;
};

/// S4: the options a saved state depends on, as the text a snapshot records.
inline std::string snapshot_settings(const span_options& o) {
  return detail::concat(
      "span=", o.span_seconds, ";metric=", o.metric_name,
      ";lateness=", o.allowed_lateness ? detail::concat(*o.allowed_lateness) : "none",
      ";closing=", o.closing == group_closing::at_finish ? "at_finish" : "by_series",
      ";idle=", o.idle_seconds);
}

/// What the aggregator did with the points it was given (nothing is dropped silently).
struct aggregation_stats {
  std::uint64_t points_in = 0;
  std::uint64_t aggregated = 0;
  std::uint64_t other_metric = 0;
  std::uint64_t missing_dimension = 0;  ///< D1.1
  std::uint64_t non_finite = 0;         ///< D1.2 (value or time)
  std::uint64_t late = 0;               ///< past the allowed lateness
  std::uint64_t time_out_of_range = 0;  ///< finite, but beyond ±9e15 s
  std::uint64_t out_of_order = 0;       ///< group_closing::by_series: its group was closed
  std::uint64_t memory_limit = 0;       ///< refused by max_open_groups
  std::uint64_t series_limit = 0;       ///< S5.1: a new series beyond max_series
  std::uint64_t series_released = 0;    ///< S5: idle series whose state was released
  std::uint64_t rows_out = 0;
  std::optional<std::int64_t> first_bucket;  ///< earliest bucket aggregated
  std::optional<std::int64_t>
      last_bucket;  ///< latest bucket aggregated (live: or refused at a cap)

  void save(detail::snapshot_writer& w) const {
    for (std::uint64_t v :
         {points_in, aggregated, other_metric, missing_dimension, non_finite, late,
          time_out_of_range, out_of_order, memory_limit, series_limit, series_released, rows_out})
      w.u64(v);
    w.opt_i64(first_bucket);
    w.opt_i64(last_bucket);
  }
  void restore(detail::snapshot_reader& r) {
    for (std::uint64_t* v : {&points_in, &aggregated, &other_metric, &missing_dimension,
                             &non_finite, &late, &time_out_of_range, &out_of_order, &memory_limit,
                             &series_limit, &series_released, &rows_out})
      *v = r.u64();
    first_bucket = r.opt_i64();
    last_bucket = r.opt_i64();
  }

  std::uint64_t dropped() const noexcept {
    return other_metric + missing_dimension + non_finite + late + time_out_of_range + out_of_order +
           memory_limit + series_limit;
  }
  aggregation_stats& operator+=(const aggregation_stats& o) {
    points_in += o.points_in;
    aggregated += o.aggregated;
    other_metric += o.other_metric;
    missing_dimension += o.missing_dimension;
    non_finite += o.non_finite;
    late += o.late;
    time_out_of_range += o.time_out_of_range;
    out_of_order += o.out_of_order;
    memory_limit += o.memory_limit;
    series_limit += o.series_limit;
    series_released += o.series_released;
    rows_out += o.rows_out;
    auto lo = [](auto a, auto b) { return !a ? b : !b ? a : std::optional(std::min(*a, *b)); };
    auto hi = [](auto a, auto b) { return !a ? b : !b ? a : std::optional(std::max(*a, *b)); };
    first_bucket = lo(first_bucket, o.first_bucket);
    last_bucket = hi(last_bucket, o.last_bucket);
    return *this;
  }
};

/// What the aggregator emits rows to: `sink(row)`, or `sink(row, series)` to learn the row's
/// series as a dense id (0, 1, … in order of first appearance, for the aggregator's lifetime),
/// so that a later stage can keep per-series state in a flat array instead of a lookup.
template <class Sink>
concept span_row_sink =
    std::invocable<Sink&, const span_row&> || std::invocable<Sink&, const span_row&, std::uint32_t>;

/// D1.3: floor(time / span) * span, aligned to the epoch.
inline std::int64_t bucket_of(double time, std::int64_t span_seconds) noexcept {
  const double q = time / static_cast<double>(span_seconds);
  // std::floor is a library call where the target has no rounding instruction (x86-64
  // without SSE4.1); within ±2^62 truncation and one step down is the same number.
  constexpr double exact = 4611686018427387904.0;  // 2^62
  if (q > -exact && q < exact) {
    const auto t = static_cast<std::int64_t>(q);
    return (static_cast<double>(t) > q ? t - 1 : t) * span_seconds;
  }
  return static_cast<std::int64_t>(std::floor(q)) * span_seconds;
}

class span_aggregator {
 public:
  explicit span_aggregator(span_options options = {}) : options_(std::move(options)) {
    if (options_.span_seconds < 1)
      throw std::invalid_argument("span_aggregator: span_seconds must be a whole number >= 1");
    if (options_.allowed_lateness && *options_.allowed_lateness < 0)
      throw std::invalid_argument("span_aggregator: allowed_lateness must be >= 0");
  }
  // Each series owns its names on the heap: copies and moves keep them valid.
  span_aggregator(const span_aggregator&) = default;
  span_aggregator& operator=(const span_aggregator&) = default;
  span_aggregator(span_aggregator&&) = default;
  span_aggregator& operator=(span_aggregator&&) = default;
  ~span_aggregator() = default;

  const span_options& options() const noexcept { return options_; }
  const aggregation_stats& stats() const noexcept { return stats_; }

  /// Adds one point; says whether it was aggregated, or why not. Never throws on bad data: it
  /// counts.
  add_outcome add(const metric_point& p) {
    ++stats_.points_in;
    // A reader that checked the batch's metric names says which one they all have.
    const detail::series_hint& hint = detail::current_series_hint;
    const std::string_view metric = hint.point == &p && hint.metric.size() == p.metric_name.size()
                                        ? hint.metric
                                        : p.metric_name;
    if (!p.metric_name.empty() && !detail::same_bytes(metric, options_.metric_name)) {
      ++stats_.other_metric;
      return {drop_reason::other_metric};
    }
    if (p.cluster.empty() || p.pod.empty() || p.node.empty() || p.direction.empty()) {
      ++stats_.missing_dimension;
      return {drop_reason::missing_dimension};
    }
    // D1.2; a non-finite or out-of-range time has no bucket either.
    if (!std::isfinite(p.value) || !std::isfinite(p.time)) {
      ++stats_.non_finite;
      return {drop_reason::non_finite};
    }
    constexpr double time_limit = 9.0e15;
    if (std::abs(p.time) > time_limit) {
      ++stats_.time_out_of_range;
      return {drop_reason::time_out_of_range};
    }
    const std::int64_t bucket = bucket_of(p.time, options_.span_seconds);
    const std::optional<std::uint32_t> known = series_id(p, bucket);
    if (!known) {
      if (series_refusal_ == drop_reason::out_of_order) {
        ++stats_.out_of_order;
        return {drop_reason::out_of_order};
      }
      ++stats_.series_limit;
      advance_watermark(bucket, p.time);
      return {drop_reason::series_limit};
    }
    const std::uint32_t id = *known;
    series_info& s = series_[id];
    if (!s.context && (!p.namespace_name.empty() || !p.pod_uid.empty()))  // I3.3
      s.context = std::make_shared<const std::pair<std::string, std::string>>(
          std::string(p.namespace_name), std::string(p.pod_uid));
    // Time-ordered input finds its group without a lookup: each series remembers its newest
    // group, and no group of the series is newer. Only an older bucket needs the index.
    group* g = nullptr;
    if (bucket == s.newest_bucket) {
      if (s.newest_group >= popped_) g = &open_[s.newest_group - popped_];
    } else if (bucket < s.newest_bucket) {
      g = find_group(id, bucket);
    }
    if (g) {
      g->sum += p.value;
      ++g->count;
    } else {
      // S1.3: late once the watermark has passed the end of its bucket, whether or not a group
      // of that bucket was ever opened (complete_through() has already reported it complete).
      if (const auto passed = passed_through(); passed && bucket <= *passed) {
        ++stats_.late;
        return {drop_reason::late};
      }
      if (by_series() && bucket <= s.closed_through) {
        ++stats_.out_of_order;  // its group was emitted: merging it now would change the answer
        return {drop_reason::out_of_order};
      }
      if (options_.max_open_groups && open_.size() >= options_.max_open_groups) {
        ++stats_.memory_limit;
        advance_watermark(bucket, p.time);
        return {drop_reason::memory_limit};
      }
      const std::uint64_t position = popped_ + open_.size();
      open_.push_back(group{id, bucket, p.value, 1});
      s.last_group = position;
      if (bucket >= s.newest_bucket) {  // equal: the newest group was emitted (after finish)
        s.newest_bucket = bucket;
        s.newest_group = position;
      }
      if (indexed_) group_index_.insert(group_hash(id, bucket), {id, bucket, position});
      if (options_.allowed_lateness) track_minimum(bucket, position);
    }
    ++stats_.aggregated;
    if (!stats_.first_bucket || bucket < *stats_.first_bucket) stats_.first_bucket = bucket;
    if (!stats_.last_bucket || bucket > *stats_.last_bucket) stats_.last_bucket = bucket;
    if (p.time > newest_time_) newest_time_ = p.time;
    return {};
  }

  /// Emits (in first-appearance order) the groups that the closing policy lets us close: by
  /// series, or by the allowed lateness. Does nothing when groups close at finish.
  template <span_row_sink Sink>
  void emit_closed(Sink&& sink) {
    if (by_series()) {
      // The oldest group is final once its series has moved to a later bucket; past the
      // window it is closed anyway (a later point for it is then refused, never merged).
      // S5: so is the group of a series idle for longer than idle_seconds (a pod that is gone
      // has no later bucket to close its last one), so that the series can be released.
      const std::size_t window = std::max(options_.series_window, 4 * live_series());
      const std::int64_t idle_before = options_.idle_seconds > 0 && !keep_all_ && stats_.last_bucket
                                           ? *stats_.last_bucket - options_.idle_seconds
                                           : no_bucket;
      while (!open_.empty()) {
        const std::int64_t newest = series_[open_.front().series].newest_bucket;
        if (open_.front().bucket < newest || open_.size() > window || newest < idle_before)
          pop_front(sink);
        else
          break;
      }
      return;
    }
    // A group is final once the watermark has passed the end of its bucket.
    const auto horizon = passed_through();
    if (!horizon) return;
    while (!open_.empty() && open_.front().bucket <= *horizon) pop_front(sink);
  }

  /// Emits every group still open, in first-appearance order.
  template <span_row_sink Sink>
  void finish(Sink&& sink) {
    while (!open_.empty()) pop_front(sink);
  }

  std::size_t open_groups() const noexcept { return open_.size(); }

  /// The series ids given to sinks are below it (ids are dense, 0, 1, … in order of first
  /// appearance; with idle_seconds a released id may be given to a new series).
  std::size_t series_count() const noexcept { return series_.size(); }

  /// S5: changes when the series of `id` is released, so that a consumer keeping per-series
  /// state knows that the id now names another series.
  std::uint32_t series_epoch(std::uint32_t id) const noexcept { return series_[id].epoch; }

  /// I3.3: the namespace and pod uid of a series (empty when its points had none).
  std::pair<std::string_view, std::string_view> series_context(std::uint32_t id) const noexcept {
    const auto& c = series_[id].context;
    if (!c) return {};
    return {c->first, c->second};
  }

  /// Calls f(cluster, pod, node) for every series held now (S5: what a consumer's per-pod state
  /// must keep).
  template <class F>
  void for_each_series(F&& f) const {
    for (const series_info& s : series_)
      if (s.live) f(s.names.cluster(), s.names.pod(), s.names.node());
  }

  /// Series held now (seen and not released).
  std::size_t live_series() const noexcept { return series_.size() - free_.size(); }

  /// S4: writes the whole state (series, open groups, statistics, watermark); `restore` on an
  /// aggregator with the same options continues exactly where this one was.
  void save(detail::snapshot_writer& w) const {
    stats_.save(w);
    w.u64(series_.size());
    for (const series_info& s : series_) {
      w.boolean(s.live);
      w.u32(s.epoch);
      if (!s.live) continue;
      w.str(s.names.cluster());
      w.str(s.names.pod());
      w.str(s.names.node());
      w.str(s.names.direction());
      w.i64(s.newest_bucket);
      w.u64(s.newest_group);
      w.u64(s.last_group);
      w.u32(s.next);
      w.i64(s.closed_through);
      w.str(s.context ? std::string_view(s.context->first) : std::string_view());
      w.str(s.context ? std::string_view(s.context->second) : std::string_view());
    }
    w.u64(free_.size());
    for (std::uint32_t id : free_) w.u32(id);
    w.opt_i64(released_through_);
    w.u64(next_sweep_);
    w.boolean(keep_all_);
    w.u32(last_series_);
    w.u32(missed_guesses_);
    w.u64(popped_);
    w.u64(open_.size());
    for (const group& g : open_) {
      w.u32(g.series);
      w.i64(g.bucket);
      w.f64(g.sum);
      w.u64(g.count);
    }
    w.opt_i64(closed_through_);
    w.u64(open_minimum_.size());
    for (const bucket_mark& m : open_minimum_) {
      w.i64(m.bucket);
      w.u64(m.position);
    }
    w.f64(newest_time_);
  }

  /// Replaces this aggregator's state with a saved one; throws snapshot_error (and keeps its
  /// own state) when the saved one does not hold together.
  void restore(detail::snapshot_reader& r) {
    span_aggregator a(options_);
    a.stats_.restore(r);
    const std::size_t n = r.count(5);
    if (n >= no_series) r.fail("too many series");
    a.series_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      series_info s;
      s.live = r.boolean();
      s.epoch = r.u32();
      if (s.live) {
        const std::string_view cluster = r.str(), pod = r.str(), node = r.str(),
                               direction = r.str();
        s.names = series_names(cluster, pod, node, direction);
        s.newest_bucket = r.i64();
        s.newest_group = r.u64();
        s.last_group = r.u64();
        s.next = r.u32();
        s.closed_through = r.i64();
        const std::string_view namespace_name = r.str(), pod_uid = r.str();
        if (!namespace_name.empty() || !pod_uid.empty())
          s.context =
              std::make_shared<const std::pair<std::string, std::string>>(namespace_name, pod_uid);
        if (s.next != no_series && s.next >= n) r.fail("a series follows one that does not exist");
        a.series_index_.insert(series_hash(cluster, pod, node, direction),
                               static_cast<std::uint32_t>(i));
      }
      a.series_.push_back(std::move(s));
    }
    const std::size_t freed = r.count(4);
    for (std::size_t i = 0; i < freed; ++i) {
      const std::uint32_t id = r.u32();
      if (id >= n || a.series_[id].live) r.fail("a free series id that is not free");
      a.free_.push_back(id);
    }
    if (a.live_series() + 0 !=
        static_cast<std::size_t>(std::count_if(a.series_.begin(), a.series_.end(),
                                               [](const series_info& x) { return x.live; })))
      r.fail("the free series ids do not match the released series");
    a.released_through_ = r.opt_i64();
    a.next_sweep_ = static_cast<std::size_t>(r.u64());
    a.keep_all_ = r.boolean();
    a.last_series_ = r.u32();
    a.missed_guesses_ = r.u32();
    if (a.last_series_ != no_series && (a.last_series_ >= n || !a.series_[a.last_series_].live))
      r.fail("the last series is unknown");
    a.popped_ = r.u64();
    const std::size_t groups = r.count(28);
    for (std::size_t i = 0; i < groups; ++i) {
      group g{r.u32(), r.i64(), r.f64(), r.u64()};
      if (g.series >= n || !a.series_[g.series].live)
        r.fail("an open group of a series that does not exist");
      if (g.count == 0) r.fail("an open group without points");
      a.open_.push_back(g);
    }
    const std::uint64_t end = a.popped_ + a.open_.size();
    if (end < a.popped_) r.fail("group positions overflow");
    for (const series_info& s : a.series_)
      if (s.newest_bucket != no_bucket && (s.newest_group >= end || s.last_group >= end))
        r.fail("a series' newest group lies beyond the groups opened");
    a.closed_through_ = r.opt_i64();
    const std::size_t marks = r.count(16);
    for (std::size_t i = 0; i < marks; ++i) {
      bucket_mark m{r.i64(), r.u64()};
      if (m.position < a.popped_ || m.position >= end)
        r.fail("a watermark mark outside the open groups");
      a.open_minimum_.push_back(m);
    }
    a.newest_time_ = r.f64();
    if (a.stats_.last_bucket &&
        bucket_of(a.newest_time_, a.options_.span_seconds) != *a.stats_.last_bucket)
      r.fail("the newest point time is not in the newest bucket");
    *this = std::move(a);
  }

  /// S5.1: whether a point refused with `reason` still moved the live watermark, so that the
  /// caller closes what it passed (emit_closed, complete_through) as after an accepted point.
  bool refusal_moves_watermark(drop_reason reason) const noexcept {
    return options_.allowed_lateness &&
           (reason == drop_reason::memory_limit || reason == drop_reason::series_limit);
  }

  /// The latest bucket all of whose rows have been emitted, when the lateness allows emitting:
  /// no later point can add to it, and no open group is at or before it.
  std::optional<std::int64_t> complete_through() const noexcept {
    const auto passed = passed_through();
    if (!passed) return std::nullopt;
    std::int64_t t = *passed;
    if (!open_minimum_.empty()) t = std::min(t, open_minimum_.front().bucket - 1);
    return t;
  }

 private:
  static constexpr std::int64_t no_bucket = std::numeric_limits<std::int64_t>::min();
  static constexpr std::uint32_t no_series = std::numeric_limits<std::uint32_t>::max();

  struct group {
    std::uint32_t series;
    std::int64_t bucket;
    double sum;
    std::uint64_t count;
  };
  struct group_entry {
    std::uint32_t series;
    std::int64_t bucket;
    std::uint64_t position;  ///< in the sequence of all groups ever opened
  };
  /// A series' four names in one heap block (stable under moves of the series table).
  class series_names {
   public:
    series_names() = default;
    series_names(std::string_view cluster, std::string_view pod, std::string_view node,
                 std::string_view direction)
        : lengths_{static_cast<std::uint32_t>(cluster.size()),
                   static_cast<std::uint32_t>(pod.size()), static_cast<std::uint32_t>(node.size()),
                   static_cast<std::uint32_t>(direction.size())},
          bytes_(std::make_unique<char[]>(cluster.size() + pod.size() + node.size() +
                                          direction.size())) {
      char* at = bytes_.get();
      for (std::string_view v : {cluster, pod, node, direction}) {
        if (!v.empty()) std::memcpy(at, v.data(), v.size());
        at += v.size();
      }
    }
    series_names(const series_names& o)
        : series_names(o.cluster(), o.pod(), o.node(), o.direction()) {}
    series_names& operator=(const series_names& o) {
      if (this != &o) *this = series_names(o);
      return *this;
    }
    series_names(series_names&&) noexcept = default;
    series_names& operator=(series_names&&) noexcept = default;
    ~series_names() = default;

    std::string_view cluster() const noexcept { return part(0); }
    std::string_view pod() const noexcept { return part(1); }
    std::string_view node() const noexcept { return part(2); }
    std::string_view direction() const noexcept { return part(3); }
    const char* bytes() const noexcept { return bytes_.get(); }

   private:
    std::string_view part(int i) const noexcept {
      std::size_t offset = 0;
      for (int k = 0; k < i; ++k) offset += lengths_[static_cast<std::size_t>(k)];
      return {bytes_.get() + offset, lengths_[static_cast<std::size_t>(i)]};
    }
    std::array<std::uint32_t, 4> lengths_{};
    std::unique_ptr<char[]> bytes_;
  };

  struct series_info {
    series_names names;
    std::int64_t newest_bucket = no_bucket;   ///< the latest bucket the series opened a group for
    std::uint64_t newest_group = 0;           ///< that group's position
    std::uint64_t last_group = 0;             ///< the latest position of its groups (S5)
    std::uint32_t next = no_series;           ///< the series that followed it last time
    std::uint32_t epoch = 0;                  ///< S5: bumped when the id is released
    std::int64_t closed_through = no_bucket;  ///< by_series: its latest group emitted
    bool live = false;                        ///< false: released (its id is free)
    /// I3.3: k8s.namespace.name and k8s.pod.uid of its first point that had them (context).
    std::shared_ptr<const std::pair<std::string, std::string>> context;
  };

  bool by_series() const noexcept {
    return !options_.allowed_lateness && options_.closing == group_closing::by_series;
  }

  static std::uint64_t group_hash(std::uint32_t series, std::int64_t bucket) noexcept {
    return detail::hash_mix(series, static_cast<std::uint64_t>(bucket));
  }
  static std::uint64_t series_hash(std::string_view cluster, std::string_view pod,
                                   std::string_view node, std::string_view direction) noexcept {
    std::uint64_t h = detail::hash_bytes(cluster);
    h = detail::hash_bytes(pod, h);
    h = detail::hash_bytes(node, h);
    return detail::hash_bytes(direction, h);
  }

  K8SNETIO_ALWAYS_INLINE bool same_series(std::uint32_t id, const metric_point& p) const noexcept {
    const series_names& s = series_[id].names;
    // Direction and pod first: they tell neighbouring series apart soonest.
    return detail::same_bytes(s.direction(), p.direction) && detail::same_bytes(s.pod(), p.pod) &&
           detail::same_bytes(s.node(), p.node) && detail::same_bytes(s.cluster(), p.cluster);
  }

  /// Time-major input visits the series in the order of the bucket before: while the point
  /// of `id` is handled, the names of the series expected next and the state of the one after
  /// are fetched into cache (thousands of series do not stay there between two buckets).
  K8SNETIO_ALWAYS_INLINE void prefetch_after(std::uint32_t id) const noexcept {
#if defined(__GNUC__)
    const std::uint32_t next = series_[id].next;
    if (next == no_series) return;
    const series_info& s = series_[next];
    __builtin_prefetch(s.names.bytes());
    const std::uint32_t after = s.next;
    if (after == no_series) return;
    const char* state = reinterpret_cast<const char*>(&series_[after]);
    __builtin_prefetch(state);
    __builtin_prefetch(state + sizeof(series_info) - 1);
#else
    (void)id;
#endif
  }

 public:
  /// The series the next point most likely belongs to (the one that followed the last
  /// point's series before), for consumers that keep per-series state to fetch ahead; none:
  /// a number not below series_count().
  std::uint32_t likely_next_series() const noexcept {
    return last_series_ == no_series ? no_series : series_[last_series_].next;
  }

 private:
  /// The id of the point's series, made if new; nullopt when a new series is refused
  /// (series_refusal_ says why).
  std::optional<std::uint32_t> series_id(const metric_point& p, std::int64_t bucket) {
    // A reader that grouped this point's batch by series on its own thread: each series of
    // the batch is looked up once; the state changes exactly as the lookup below changes it.
    const detail::series_hint& hint = detail::current_series_hint;
    if (hint.point == &p && hint.batch != 0) {
      if (hint.batch != hint_batch_) {
        hint_batch_ = hint.batch;
        hint_ids_.assign(hint.count, no_series);
      }
      if (hint.index < hint_ids_.size()) {
        std::uint32_t& cached = hint_ids_[hint.index];
        if (cached != no_series) return hinted(cached);
        const std::optional<std::uint32_t> id = series_id_of(p, bucket);
        // hint_ids_ is cleared when series are released: only an id still held is kept.
        if (id && hint_batch_ == hint.batch) hint_ids_[hint.index] = *id;
        return id;
      }
    }
    return series_id_of(p, bucket);
  }

  /// series_id_of's effect on the state for a point of series `id`, known without comparing.
  K8SNETIO_ALWAYS_INLINE std::uint32_t hinted(std::uint32_t id) noexcept {
    if (last_series_ != no_series && (missed_guesses_ < 8 || (stats_.points_in & 63) == 0)) {
      if (id == last_series_) {
        missed_guesses_ = 0;
        return id;
      }
      if (id == series_[last_series_].next) {
        missed_guesses_ = 0;
        prefetch_after(id);
        return last_series_ = id;
      }
      if (missed_guesses_ < 8) ++missed_guesses_;
    }
    if (last_series_ != no_series) series_[last_series_].next = id;
    return last_series_ = id;
  }

  std::optional<std::uint32_t> series_id_of(const metric_point& p, std::int64_t bucket) {
    // Inputs repeat their order: a pod's interfaces back to back, and the series of each
    // bucket in the order of the one before. So before hashing, try the last series and the
    // one that followed it last time: a comparison the lookup would make anyway.
    // When the guesses keep failing (shuffled input) they are tried only now and then.
    if (last_series_ != no_series && (missed_guesses_ < 8 || (stats_.points_in & 63) == 0)) {
      const std::uint32_t guess = series_[last_series_].next;
      if (same_series(last_series_, p)) {
        missed_guesses_ = 0;
        return last_series_;
      }
      if (guess != no_series && same_series(guess, p)) {
        missed_guesses_ = 0;
        prefetch_after(guess);
        return last_series_ = guess;
      }
      if (missed_guesses_ < 8) ++missed_guesses_;
    }
    const std::uint64_t h = series_hash(p.cluster, p.pod, p.node, p.direction);
    const auto same = [this, &p](std::uint32_t id) { return same_series(id, p); };
    std::uint32_t id;
    if (const std::uint32_t* known = series_index_.find(h, same)) {
      id = *known;
    } else {
      if (by_series() && options_.idle_seconds > 0 && stats_.last_bucket &&
          bucket < *stats_.last_bucket - options_.idle_seconds) {
        // A new series far behind the newest bucket: the input is not time-major.
        if (released_through_ && bucket <= *released_through_) {
          series_refusal_ = drop_reason::out_of_order;  // S5: maybe a released series' bucket
          return std::nullopt;
        }
        if (!released_through_) keep_all_ = true;  // series-major: releasing would refuse it
      }
      if (options_.idle_seconds > 0 && !keep_all_ && (by_series() || options_.allowed_lateness) &&
          live_series() >= next_sweep_)
        release_idle();
      if (options_.max_series && live_series() >= options_.max_series) {
        series_refusal_ = drop_reason::series_limit;
        return std::nullopt;
      }
      series_info fresh;
      fresh.names = series_names(p.cluster, p.pod, p.node, p.direction);
      fresh.live = true;
      if (!free_.empty()) {
        id = free_.back();
        free_.pop_back();
        fresh.epoch = series_[id].epoch;
        series_[id] = std::move(fresh);
      } else {
        id = static_cast<std::uint32_t>(series_.size());
        series_.push_back(std::move(fresh));
      }
      series_index_.insert(h, id);
    }
    if (last_series_ != no_series) series_[last_series_].next = id;
    return last_series_ = id;
  }

  /// S5: releases every series idle for longer than idle_seconds with no open group; next
  /// time when the series held have doubled, so that the sweeps cost O(1) a series.
  void release_idle() {
    hint_batch_ = 0;  // ids may now name other series
    hint_ids_.clear();
    if (stats_.last_bucket) {
      const std::int64_t idle_before = *stats_.last_bucket - options_.idle_seconds;
      for (std::uint32_t id = 0; id < series_.size(); ++id) {
        series_info& s = series_[id];
        if (!s.live) continue;
        const bool opened = s.newest_bucket != no_bucket;  // else: every point was refused
        if (opened && (s.newest_bucket >= idle_before || s.last_group >= popped_)) continue;
        series_index_.erase(
            series_hash(s.names.cluster(), s.names.pod(), s.names.node(), s.names.direction()),
            [id](std::uint32_t x) { return x == id; });
        if (opened && (!released_through_ || s.newest_bucket > *released_through_))
          released_through_ = s.newest_bucket;
        const std::uint32_t epoch = s.epoch + 1;
        s = series_info{};
        s.epoch = epoch;
        free_.push_back(id);
        if (last_series_ == id) last_series_ = no_series;
        ++stats_.series_released;
      }
    }
    next_sweep_ = std::max<std::size_t>(4096, 2 * live_series());
  }

  /// S5.1: live, a point refused at a cap (max_open_groups, max_series) is still a point of
  /// the stream: its time moves the watermark (S1.3), so the groups it passes close and
  /// release their room. Otherwise a full cap refuses every later point, nothing ever closes
  /// and the engine is wedged for good (issue 28 #9). Batch (no lateness) is left alone: there
  /// a refusal at the cap makes the answer inexact and the run fails.
  void advance_watermark(std::int64_t bucket, double time) noexcept {
    if (!options_.allowed_lateness) return;
    if (!stats_.last_bucket || bucket > *stats_.last_bucket) stats_.last_bucket = bucket;
    if (time > newest_time_) newest_time_ = time;
  }

  /// S1.3: the latest bucket whose end the live watermark (the newest point time seen minus
  /// the allowed lateness) has reached: complete, so a point for it is late. Exact for any
  /// lateness, a multiple of the span or not. nullopt without a lateness or before any point.
  std::optional<std::int64_t> passed_through() const noexcept {
    if (!options_.allowed_lateness || !stats_.last_bucket) return std::nullopt;
    const double watermark = newest_time_ - static_cast<double>(*options_.allowed_lateness);
    return bucket_of(watermark, options_.span_seconds) - options_.span_seconds;
  }

  /// The open group of (series, bucket), through the index of open groups, which is built on
  /// the first need: a time-ordered input never pays for it.
  group* find_group(std::uint32_t series, std::int64_t bucket) {
    if (!indexed_) {
      for (std::size_t i = 0; i < open_.size(); ++i)
        group_index_.insert(group_hash(open_[i].series, open_[i].bucket),
                            {open_[i].series, open_[i].bucket, popped_ + i});
      indexed_ = true;
    }
    const group_entry* e = group_index_.find(group_hash(series, bucket), [&](const group_entry& x) {
      return x.series == series && x.bucket == bucket;
    });
    return e ? &open_[e->position - popped_] : nullptr;
  }

  /// The least bucket of the open groups, as a sliding-window minimum over the FIFO of groups:
  /// ascending buckets, each with the last position that holds it. O(1) amortized per group.
  void track_minimum(std::int64_t bucket, std::uint64_t position) {
    if (!open_minimum_.empty() && open_minimum_.back().bucket == bucket) {
      open_minimum_.back().position = position;
      return;
    }
    while (!open_minimum_.empty() && open_minimum_.back().bucket > bucket) open_minimum_.pop_back();
    open_minimum_.push_back({bucket, position});
  }

  template <class Sink>
  void pop_front(Sink& sink) {
    const group g = open_.front();
    open_.pop_front();
    if (indexed_) {
      group_index_.erase(group_hash(g.series, g.bucket), [&g](const group_entry& x) {
        return x.series == g.series && x.bucket == g.bucket;
      });
    }
    if (!open_minimum_.empty() && open_minimum_.front().position == popped_)
      open_minimum_.pop_front();
    ++popped_;
    if (open_.empty() && indexed_) {  // nothing left to find: back to the lookup-free path
      group_index_.clear();
      indexed_ = false;
    }
    if (!closed_through_ || g.bucket > *closed_through_) closed_through_ = g.bucket;
    series_info& s = series_[g.series];
    if (g.bucket > s.closed_through) s.closed_through = g.bucket;
    ++stats_.rows_out;
    const span_row row{s.names.cluster(),   s.names.pod(), s.names.node(),
                       s.names.direction(), g.bucket,      g.sum / static_cast<double>(g.count)};
    if constexpr (std::invocable<Sink&, const span_row&, std::uint32_t>)
      sink(row, g.series);
    else
      sink(row);
  }

  span_options options_;
  aggregation_stats stats_;
  std::vector<series_info> series_;
  std::vector<std::uint32_t> free_;               // S5: released ids, reused last first
  std::optional<std::int64_t> released_through_;  // S5: the newest bucket of a released series
  std::size_t next_sweep_ = 4096;                 // S5: series held at the next sweep
  bool keep_all_ = false;  // S5: the input went back in time before any release: none
  drop_reason series_refusal_ = drop_reason::none;
  detail::flat_hash_slots<std::uint32_t> series_index_;  // series hash → id
  std::uint32_t last_series_ = no_series;
  std::uint32_t missed_guesses_ = 0;  // in a row
  std::uint64_t hint_batch_ = 0;      // the batch of detail::current_series_hint seen last
  std::vector<std::uint32_t>
      hint_ids_;            // its series' ids, by the batch's index; no_series: not yet
  std::deque<group> open_;  // in first-appearance order; position = popped_ + index
  std::uint64_t popped_ = 0;
  detail::flat_hash_slots<group_entry> group_index_;  // only while indexed_
  bool indexed_ = false;
  std::optional<std::int64_t> closed_through_;
  struct bucket_mark {
    std::int64_t bucket;
    std::uint64_t position;
  };
  std::deque<bucket_mark> open_minimum_;  // with a lateness only, for complete_through()
  /// The newest point time seen (with last_bucket): the live watermark's event time (S1.3).
  double newest_time_ = -std::numeric_limits<double>::infinity();
};

}  // namespace k8snetio
