// The detector's windows (D7, D9, S2.1, S3): a persistence_filter per epoch-aligned window
// (or one for the whole input), the watermark marks of what was closed and scored, and the
// findings of closed windows not yet taken; with their part of the state snapshot (S4).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "../../detail/snapshot.hpp"
#include "../../model/finding.hpp"
#include "../../stages/kernel/persistence_filter.hpp"

namespace k8snetio::detail {

/// What every window's persistence_filter is made with.
struct window_settings {
  std::uint64_t min_count = 5;                   ///< D7.2
  std::shared_ptr<const rule_metadata> rule;     ///< the findings' rule
  std::int64_t span_seconds = 10;                ///< D1
  std::optional<std::int64_t> window_seconds{};  ///< D9; unset: one window, the input
};

class detector_windows {
 public:
  explicit detector_windows(window_settings settings) : settings_(std::move(settings)) {}

  /// D9: the start of the window of `bucket` (0 without windows: one window).
  std::int64_t window_of(std::int64_t bucket) const noexcept;
  /// The window of `bucket`, made when new.
  persistence_filter& window_for(std::int64_t bucket);
  /// The open windows by start, in time order.
  std::map<std::int64_t, persistence_filter>& open() noexcept { return windows_; }

  /// Live: the start of the first window not closed once every bucket through `t` is
  /// complete, when that is later than the last call's (a sweep is due); nullopt otherwise.
  std::optional<std::int64_t> closing_through(std::int64_t t);
  /// Live, early alerts: true once for each `t` beyond the last (the buckets to score now).
  bool sweep_through(std::int64_t t);

  /// The findings of closed windows, and provisional ones (S3), not yet taken.
  std::vector<finding>& closed() noexcept { return closed_; }
  const std::vector<finding>& closed() const noexcept { return closed_; }

  /// S4: the marks, the open windows and the findings not yet taken.
  void save(snapshot_writer& w) const;
  /// S4: into an empty one; throws snapshot_error.
  void restore(snapshot_reader& r);

 private:
  window_settings settings_;
  std::map<std::int64_t, persistence_filter> windows_;
  std::optional<std::int64_t> closed_before_;  // live: windows before it were handed out
  std::optional<std::int64_t> swept_through_;  // live, early alerts: buckets scored so far
  std::vector<finding> closed_;
};

inline std::int64_t detector_windows::window_of(std::int64_t bucket) const noexcept {
  if (!settings_.window_seconds) return 0;
  const std::int64_t w = *settings_.window_seconds;
  return (bucket >= 0 ? bucket / w : (bucket - w + 1) / w) * w;
}

inline persistence_filter& detector_windows::window_for(std::int64_t bucket) {
  // One window (no D9 split): its bounds, first to last bucket of the input, are set at finish.
  const std::int64_t start = window_of(bucket);
  auto it = windows_.find(start);
  if (it != windows_.end()) return it->second;
  persistence_options persist;
  persist.min_count = settings_.min_count;
  persist.rule = settings_.rule;
  persist.span_seconds = settings_.span_seconds;
  // D8's filter runs when the detector hands findings out, once they have their context (I3.3).
  if (settings_.window_seconds) {
    persist.window_start = start;
    persist.window_end = start + *settings_.window_seconds;
  }
  return windows_.emplace(start, persistence_filter(std::move(persist))).first->second;
}

inline std::optional<std::int64_t> detector_windows::closing_through(std::int64_t t) {
  if (!settings_.window_seconds) return std::nullopt;  // one window: it closes with the input
  const std::int64_t closing = window_of(t + settings_.span_seconds);
  if (closed_before_ && closing <= *closed_before_) return std::nullopt;
  closed_before_ = closing;
  return closing;
}

inline bool detector_windows::sweep_through(std::int64_t t) {
  if (swept_through_ && t <= *swept_through_) return false;
  swept_through_ = t;
  return true;
}

inline void detector_windows::save(snapshot_writer& w) const {
  w.opt_i64(closed_before_);
  w.opt_i64(swept_through_);
  w.u64(windows_.size());
  for (const auto& [start, filter] : windows_) {
    w.i64(start);
    filter.save(w);
  }
  w.u64(closed_.size());
  for (const finding& f : closed_) save_finding(w, f);
}

inline void detector_windows::restore(snapshot_reader& r) {
  closed_before_ = r.opt_i64();
  swept_through_ = r.opt_i64();
  const std::size_t windows = r.count(8 + 4 + 8);
  for (std::size_t i = 0; i < windows; ++i) {
    const std::int64_t start = r.i64();
    if (windows_.contains(start)) r.fail("a window twice");
    window_for(start).restore(r);
    if (window_of(start) != start) r.fail("a window that does not start on its boundary");
  }
  closed_.resize(r.count(saved_finding_min_bytes));
  for (finding& f : closed_) f = restore_finding(r, settings_.rule);
}

}  // namespace k8snetio::detail
