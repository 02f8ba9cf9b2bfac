// L0, L1: the options of the live service, with their defaults and their validation, once.
// `serve`, `consume` and an embedding program all take a live_options; the CLI registers its
// flags from it (examples/k8s-netio/cli_support.hpp), so the defaults and the checks cannot
// drift between commands.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <k8snetio/engine/detector.hpp>
#include <k8snetio/io/input/reader_options.hpp>

namespace k8snetio::service {

/// "30s", "5m", "1h", "1d", "1w" or plain seconds, positive; nullopt otherwise. `allow_zero`
/// accepts "0" (a lateness of none).
inline std::optional<std::int64_t> parse_duration(std::string_view text, bool allow_zero = false) {
  if (allow_zero && text == "0") return 0;
  if (text.empty()) return std::nullopt;
  std::int64_t unit = 1;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    default: unit = 0;
  }
  if (unit)
    text.remove_suffix(1);
  else
    unit = 1;
  if (text.empty() || text.size() > 12) return std::nullopt;
  std::int64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n < 1) return std::nullopt;
  return n * unit;
}

/// The defaults, each named once.
struct live_defaults {
  static constexpr std::int64_t window_seconds = 3600;           ///< L1: the hourly schedule
  static constexpr std::int64_t lateness_seconds = 30;           ///< L1
  static constexpr std::int64_t max_future_seconds = 300;        ///< S1.4
  static constexpr std::int64_t span_seconds = 10;               ///< D1.3
  static constexpr double sigma = 4;                             ///< D6.2
  static constexpr std::uint64_t min_count = 5;                  ///< D7.2
  static constexpr std::size_t max_body = std::size_t{8} << 20;  ///< L5
  static constexpr std::size_t max_in_flight = 16;               ///< L5
  static constexpr std::int64_t read_timeout_seconds = 10;       ///< L5
  /// S5.1: groups held open at once. Measured (benchmarks/live_group_cost.cpp, README
  /// 2026-12-07): a held group costs up to about 200 bytes, and up to about 400 with a state
  /// (the learner of L8 holds the same groups), when every group is its own series (a burst of
  /// new pods); about 95 / 190 bytes when each series holds three buckets. 2^19 groups, the
  /// worst case with a state, measured 203 MiB: within 256 MiB.
  static constexpr std::size_t max_open_groups = std::size_t{1} << 19;
  static constexpr std::int64_t horizon_days = 30;  ///< L8, S6
};

/// Everything the live core needs to know, with the spec's defaults.
struct live_options {
  // Detection (shared with `detect`)
  std::int64_t span_seconds = live_defaults::span_seconds;
  double sigma = live_defaults::sigma;
  std::uint64_t min_count = live_defaults::min_count;
  std::string metric = std::string(default_metric_name);
  std::string default_cluster;
  std::string default_node;
  // Live
  std::int64_t window_seconds = live_defaults::window_seconds;
  std::int64_t lateness_seconds = live_defaults::lateness_seconds;
  std::int64_t max_future_seconds = live_defaults::max_future_seconds;
  std::size_t max_open_groups = live_defaults::max_open_groups;
  bool early_alerts = false;  ///< S3, L12
  bool learn = false;         ///< L8: detect with the learned table (needs a state store)
  std::int64_t horizon_days = live_defaults::horizon_days;
  // Transport limits (the adapters apply them; kept here so every transport has the same)
  std::size_t max_body = live_defaults::max_body;
  std::size_t max_in_flight = live_defaults::max_in_flight;
  std::int64_t read_timeout_seconds = live_defaults::read_timeout_seconds;

  /// The first thing wrong, as a usage message naming the flag; nullopt when valid.
  /// `with_state`: a state store is used (L8 learns per UTC day).
  std::optional<std::string> validate(bool with_state) const {
    if (span_seconds < 1) return "--span must be a positive duration such as 10s";
    if (!(sigma > 0) || !std::isfinite(sigma))
      return fmt::format("--sigma must be a finite number above 0 (got {})", sigma);
    if (window_seconds < 1 || window_seconds % span_seconds != 0)
      return fmt::format("--window ({} s) must be a multiple of --span ({} s)", window_seconds,
                         span_seconds);
    if (lateness_seconds < 0) return "--lateness must be a duration such as 30s, or 0";
    if (max_future_seconds < 1) return "--max-future must be a positive duration such as 5m";
    if (max_open_groups < 1) return "--max-open-groups must be at least 1";
    if (max_body < 1) return "--max-body must be at least 1 byte";
    if (max_in_flight < 1) return "--max-in-flight must be at least 1";
    if (read_timeout_seconds < 1) return "--read-timeout must be a positive duration";
    if (horizon_days < 1) return "--horizon must be at least one day";
    if (learn && !with_state)
      return "--learn needs --state: the learned days are kept in the state directory";
    if (with_state && 86400 % span_seconds != 0)
      return fmt::format(
          "with --state the service learns per UTC day (L8): --span ({} s) must divide a day",
          span_seconds);
    if (metric.empty()) return "--metric must not be empty";
    return std::nullopt;
  }

  /// The engine's options for these.
  detection_options detection() const {
    detection_options d;
    d.span.span_seconds = span_seconds;
    d.span.metric_name = metric;
    d.span.allowed_lateness = lateness_seconds;
    d.span.max_open_groups = max_open_groups;
    d.scoring.sigma = sigma;
    d.min_count = min_count;
    d.window_seconds = window_seconds;
    d.early_alerts = early_alerts;
    return d;
  }

  /// The readers' options for these.
  io::reader_options reader() const {
    io::reader_options r;
    r.metric_name = metric;
    r.default_cluster = default_cluster;
    r.default_node = default_node;
    return r;
  }
};

}  // namespace k8snetio::service
