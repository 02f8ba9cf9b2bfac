// S6 — a rolling baseline: the baseline state kept per UTC day (per key and measure the sums,
// sums of squares or stable moments and counts, B2–B5; per key the row count and last_seen).
// Adding a day and dropping the days past the horizon gives the table of a recompute over the
// kept days (within 1e-12 relative: the days' sums are added day by day) without reading old
// data again. daily_baseline_runner splits an input into its days; each day is one snapshot.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../detail/to_text.hpp"

#include "../detail/snapshot.hpp"
#include "../model/metric_point.hpp"
#include "../model/rule_definition.hpp"
#include "../stages/kernel/baseline_builder.hpp"
#include "baseline_runner.hpp"

namespace k8snetio {

inline constexpr std::int64_t seconds_per_day = 86400;

/// The UTC day (days since 1970-01-01) of an epoch time in seconds.
inline std::int64_t utc_day_of(std::int64_t seconds) noexcept {
  return seconds >= 0 ? seconds / seconds_per_day : -((-seconds - 1) / seconds_per_day) - 1;
}

/// A day as YYYY-MM-DD (proleptic Gregorian, H. Hinnant's civil_from_days).
inline std::string utc_day_text(std::int64_t day) {
  const std::int64_t z = day + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  std::string text;  // fmt's "{:04}-{:02}-{:02}"
  const auto padded = [&text](std::int64_t v, std::size_t width) {
    if (v < 0) {
      text.push_back('-');
      v = -v;
      width = width > 0 ? width - 1 : 0;
    }
    const std::string digits = detail::concat(v);
    if (digits.size() < width) text.append(width - digits.size(), '0');
    text += digits;
  };
  padded(y, 4);
  text.push_back('-');
  padded(m, 2);
  text.push_back('-');
  padded(d, 2);
  return text;
}

/// YYYY-MM-DD back to a day; nullopt when it is not one.
inline std::optional<std::int64_t> parse_utc_day(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const auto number = [&](std::size_t at, std::size_t n) -> std::optional<std::int64_t> {
    std::int64_t v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  const auto y = number(0, 4), m = number(5, 2), d = number(8, 2);
  if (!y || !m || !d || *m < 1 || *m > 12 || *d < 1 || *d > 31) return std::nullopt;
  const std::int64_t yy = *y - (*m <= 2 ? 1 : 0);
  const std::int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
  const std::int64_t yoe = yy - era * 400;
  const std::int64_t doy = (153 * (*m > 2 ? *m - 3 : *m + 9) + 2) / 5 + *d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t day = era * 146097 + doe - 719468;
  if (utc_day_text(day) != text) return std::nullopt;  // 2026-02-30 and the like
  return day;
}

/// S1.4 for day states: how far past the clock a baseline input's point, or a day state, may be
/// stamped before it is refused as from the future (the same 5 minutes as `--max-future`).
inline constexpr std::int64_t baseline_max_future_seconds = 300;

/// S1.4: the newest day a state may hold at the clock time `now_seconds` (epoch seconds):
/// the day of now + `max_future_seconds`. A day after it is in the future: refused, and never
/// the newest day the horizon counts back from.
inline std::int64_t latest_plausible_day(
    std::int64_t now_seconds, std::int64_t max_future_seconds = baseline_max_future_seconds) {
  return utc_day_of(now_seconds + max_future_seconds);
}

/// S4: the most rows one key may count in one day's state. A day is 86,400 s, so 2^40 rows is
/// over 12 million rows a second for one key (no real input), and 2^24 such days still add up
/// without wrapping the 64-bit count. A larger count is a damaged or forged state.
inline constexpr std::uint64_t max_day_rows_per_key = std::uint64_t{1} << 40;

struct rolling_baseline_options {
  /// Days kept, counted back from the newest day held (that day included): 30 as the ESCU
  /// baseline search's -30d@d … -1d@d. At least 1.
  std::int64_t horizon_days = 30;
};

/// S4 settings of a day's state: what its sums depend on (not how the input was read).
template <std::size_t N>
std::string baseline_day_settings(const rule_definition<N>& rule,
                                  const baseline_run_options& options) {
  std::string measures;
  for (std::string_view m : rule.measures->names) {
    if (!measures.empty()) measures += ',';
    measures += m;
  }
  return detail::concat(
      "rule=", rule.metadata->name, ";measures=", measures,
      ";per_service=", rule.baseline_per_service, ";span=", options.span.span_seconds,
      ";metric=", options.span.metric_name,
      ";service_pattern=", options.service_pattern.value_or("(default)"),
      ";numerics=", options.numerics.numerics == baseline_numerics::splunk ? "splunk" : "stable");
}

/// The days of a rolling baseline: a builder's state per UTC day.
template <std::size_t N>
class rolling_baseline {
 public:
  explicit rolling_baseline(const rule_definition<N>& rule, baseline_run_options options = {},
                            rolling_baseline_options rolling = {})
      : rule_(rule), options_(std::move(options)), rolling_(rolling) {
    if (rolling_.horizon_days < 1)
      throw std::invalid_argument("rolling_baseline: the horizon must be at least one day");
  }

  /// Adds a day's state; a day already held is merged into (S4.1: sums and counts add, this
  /// state's rows first).
  void add_day(std::int64_t day, const baseline_builder<N>& state) {
    auto it = days_.find(day);
    if (it == days_.end())
      it = days_.emplace(day, baseline_builder<N>(rule_.measures, options_.numerics)).first;
    it->second.merge(state);
  }

  /// Replaces a day's state (a day read again).
  void replace_day(std::int64_t day, const baseline_builder<N>& state) {
    days_.erase(day);
    add_day(day, state);
  }

  bool contains(std::int64_t day) const { return days_.contains(day); }
  std::size_t size() const noexcept { return days_.size(); }
  std::vector<std::int64_t> days() const {
    std::vector<std::int64_t> out;
    for (const auto& [day, state] : days_) out.push_back(day);
    return out;
  }
  std::optional<std::int64_t> newest_day() const {
    if (days_.empty()) return std::nullopt;
    return days_.rbegin()->first;
  }
  const rolling_baseline_options& rolling_options() const noexcept { return rolling_; }

  /// The oldest day inside the horizon (nullopt: no day held).
  std::optional<std::int64_t> oldest_kept_day() const {
    if (days_.empty()) return std::nullopt;
    return days_.rbegin()->first - (rolling_.horizon_days - 1);
  }

  /// Drops the days older than the horizon; returns them, oldest first.
  std::vector<std::int64_t> drop_past_horizon() {
    std::vector<std::int64_t> dropped;
    const auto oldest = oldest_kept_day();
    if (!oldest) return dropped;
    while (!days_.empty() && days_.begin()->first < *oldest) {
      dropped.push_back(days_.begin()->first);
      days_.erase(days_.begin());
    }
    return dropped;
  }

  /// The table of the days inside the horizon (B6), the days' sums added oldest first; keys
  /// whose sums overflow have empty cells and are named (B7).
  [[nodiscard]] baseline_result<N> result() const {
    baseline_builder<N> all(rule_.measures, options_.numerics);
    const auto oldest = oldest_kept_day();
    for (const auto& [day, state] : days_)
      if (day >= *oldest) all.merge(state);
    baseline_result<N> out{all.table(), {}, all.overflowed_keys(), 0, 0, {}};
    return out;
  }

  std::string settings() const { return baseline_day_settings(rule_, options_); }

  /// S4: one day's state as a checked snapshot (kind "baseline_day"); throws
  /// std::out_of_range when the day is not held.
  [[nodiscard]] std::string save_day(std::int64_t day) const {
    detail::snapshot_writer w;
    w.i64(day);
    days_.at(day).save(w);
    return seal_snapshot("baseline_day", settings(), w.bytes());
  }

  /// S4: reads a day's snapshot (checked as every snapshot is); returns its day and state
  /// without adding it. A6: an error of code bad_snapshot when it is refused.
  [[nodiscard]] k8snetio::result<std::pair<std::int64_t, baseline_builder<N>>> open_day(
      std::string_view snapshot) const {
    return detail::restore_result([&] { return open_day_or_throw(snapshot); });
  }

  /// open_day, then add_day (merged into the day if held). Returns the day, or the error of
  /// open_day (nothing added).
  [[nodiscard]] k8snetio::result<std::int64_t> restore_day(std::string_view snapshot) {
    auto opened = open_day(snapshot);
    if (!opened) return tl::unexpected(std::move(opened.error()));
    add_day(opened->first, opened->second);
    return opened->first;
  }

 private:
  std::pair<std::int64_t, baseline_builder<N>> open_day_or_throw(std::string_view snapshot) const {
    detail::snapshot_reader r(open_snapshot(snapshot, "baseline_day", settings()),
                              "baseline_day state");
    const std::int64_t day = r.i64();
    if (day < utc_day_of(-9'000'000'000'000'000) || day > utc_day_of(9'000'000'000'000'000))
      r.fail(detail::concat("day ", day, " is out of range"));
    baseline_builder<N> state(rule_.measures, options_.numerics);
    state.restore(r);
    r.expect_end();
    // The checksum says the bytes are the ones written, not that the values make sense: a
    // count that would wrap when days add up, a key the table's reader refuses, a last_seen
    // outside the day are refused here, naming the key, so the state never makes a table that
    // its own reader (D5.5) refuses.
    const std::int64_t first_second = day * seconds_per_day;
    const std::int64_t last_second = first_second + seconds_per_day - 1;
    std::optional<std::string> why;
    state.for_each_key([&](std::string_view key, const baseline_accumulator<N>& acc) {
      if (why) return;
      if (key.find(':') == std::string_view::npos)
        why = detail::concat("the key '", key, "' has no ':' (keys are cluster:service)");
      else if (acc.count > max_day_rows_per_key)
        why = detail::concat("the key '", key, "' counts ", acc.count, " rows in one day (at most ",
                             max_day_rows_per_key, ")");
      else if (acc.last_seen && (*acc.last_seen < first_second || *acc.last_seen > last_second))
        why = detail::concat("the key '", key, "' has last_seen ", *acc.last_seen,
                             ", outside its day ", utc_day_text(day));
    });
    if (why) r.fail(*why);
    return {day, std::move(state)};
  }

  rule_definition<N> rule_;
  baseline_run_options options_;
  rolling_baseline_options rolling_;
  std::map<std::int64_t, baseline_builder<N>> days_;
};

/// Reads an input of any number of days into one baseline_runner per UTC day (a D1 group never
/// straddles days: the span divides a day), so each day's state comes out whole. The push API
/// of baseline_runner: add, failure (S1: read again with group_closing::at_finish), stats.
template <std::size_t N>
class daily_baseline_runner {
 public:
  daily_baseline_runner(const rule_definition<N>& rule, baseline_run_options options = {})
      : rule_(rule), options_(std::move(options)), undated_(rule_, options_) {
    if (options_.span.span_seconds < 1 || seconds_per_day % options_.span.span_seconds != 0)
      throw std::invalid_argument(
          detail::concat("a rolling baseline needs a span that divides a day; ",
                         options_.span.span_seconds, " s does not"));
  }

  /// S1.4: points stamped after `latest` (epoch seconds: the clock plus its tolerance) are
  /// refused, as drop_reason::time_out_of_range, and counted in future_points(): a day from the
  /// future never reaches a state.
  void refuse_after(double latest) noexcept { latest_time_ = latest; }
  /// The points refused by refuse_after, and the time of the first of them.
  std::uint64_t future_points() const noexcept { return future_points_; }
  std::optional<double> first_future_time() const noexcept { return first_future_time_; }

  add_outcome add(const metric_point& p) {
    // A time without a bucket (non-finite, beyond ±9e15 s) goes to a runner of no day, which
    // counts and drops it as any runner does.
    if (!std::isfinite(p.time) || std::abs(p.time) > 9e15) return note(undated_.add(p));
    if (latest_time_ && p.time > *latest_time_) {
      if (!future_points_++) first_future_time_ = p.time;
      return {drop_reason::time_out_of_range};
    }
    const std::int64_t day = utc_day_of(static_cast<std::int64_t>(std::floor(p.time)));
    if (!last_ || last_->first != day) {
      auto it = days_.find(day);
      if (it == days_.end())
        it = days_.emplace(day, std::make_unique<baseline_runner<N>>(rule_, options_)).first;
      last_ = &*it;
    }
    return note(last_->second->add(p));
  }

  std::optional<drop_reason> failure() const noexcept { return failure_; }

  /// The statistics of every day's runner together.
  aggregation_stats stats() const {
    aggregation_stats s = undated_.total_stats();
    for (const auto& [day, runner] : days_) s += runner->total_stats();
    return s;
  }

  std::uint64_t service_pattern_limit_rows() const {
    std::uint64_t n = undated_.service_pattern_limit_rows();
    for (const auto& [day, runner] : days_) n += runner->service_pattern_limit_rows();
    return n;
  }

  /// A1.4: the points whose direction fed none of the rule's measures, every day's together.
  detail::direction_tally unmapped() const {
    detail::direction_tally all = undated_.unmapped();
    for (const auto& [day, runner] : days_) all.merge(runner->unmapped());
    return all;
  }

  /// Each day's state, days in order; a day whose points all were dropped has no state. Throws
  /// incomplete_baseline when failure() is set.
  [[nodiscard]] std::map<std::int64_t, baseline_builder<N>> finish() {
    if (failure_) throw incomplete_baseline(*failure_);
    std::map<std::int64_t, baseline_builder<N>> out;
    for (auto& [day, runner] : days_) {
      const baseline_builder<N>& state = runner->finish_state();
      if (!state.empty()) out.emplace(day, state);
    }
    return out;
  }

 private:
  add_outcome note(add_outcome used) {
    if (!used && !failure_ &&
        (used.reason == drop_reason::out_of_order || used.reason == drop_reason::memory_limit))
      failure_ = used.reason;
    return used;
  }

  rule_definition<N> rule_;
  baseline_run_options options_;
  baseline_runner<N> undated_;
  std::map<std::int64_t, std::unique_ptr<baseline_runner<N>>> days_;
  std::pair<const std::int64_t, std::unique_ptr<baseline_runner<N>>>* last_ = nullptr;
  std::optional<drop_reason> failure_;
  std::optional<double> latest_time_;
  std::uint64_t future_points_ = 0;
  std::optional<double> first_future_time_;
};

#if defined(K8SNETIO_COMPILED)
// A4, compiled mode (the k8snetio::compiled target): the shipped rules' instantiation is
// compiled once, in src/compiled.cpp; a user's translation unit only declares it.
extern template class rolling_baseline<2>;
extern template class daily_baseline_runner<2>;
#endif

}  // namespace k8snetio
