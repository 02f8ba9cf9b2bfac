// What every metrics reader (I1 CSV, I2 HEC, I3 OTLP) is told, and what it hands points to.
// One struct for all of them, so that the CLI sets an option once whatever the format.
#pragma once

#include <concepts>
#include <cstddef>
#include <string>

#include <k8snetio/io/number.hpp>
#include <k8snetio/model/metric_point.hpp>

namespace k8snetio::io {

/// What an OTLP cumulative counter becomes (spec I3, `--otlp-counter`).
enum class otlp_counter_mode {
  delta,  ///< the difference between consecutive points (what Splunk's metrics index holds)
  rate,   ///< that difference per second
  raw,    ///< the counter as it is
};

struct reader_options {
  /// The metric read; points of others are counted (other_metric), not handed on.
  std::string metric_name = std::string(default_metric_name);
  /// The first defective row ends the read with error_code::bad_row.
  bool strict = false;
  /// k8s.cluster.name for points without one (I3); empty: none.
  std::string default_cluster;
  /// k8s.node.name for points without one after every other source (I3.1); empty: none.
  std::string default_node;
  /// The unit of epoch numbers in CSV and HEC times (I1.4, `--time-unit`). In seconds, a
  /// value of 1e11 or more is refused with the unit it most likely is.
  time_unit epoch_unit = time_unit::seconds;
  otlp_counter_mode otlp_counter = otlp_counter_mode::delta;
  /// S5.1: the most OTLP cumulative series whose last point the reader holds (each costs
  /// about 300 bytes with its key). A new series beyond it is refused and counted
  /// (skip_reason::too_many_series); the series already held keep flowing.
  std::size_t otlp_max_series = 500'000;
  /// S5: a cumulative series without a point for this long, in data time (behind the newest
  /// point the reader has taken), is released; its next point is a first point again. 0: never.
  double otlp_series_idle_seconds = 2 * 3600;
};

/// Where a reader hands its points. A point's strings live only during the call.
template <class Sink>
concept metric_point_sink = std::invocable<Sink&, const metric_point&>;

}  // namespace k8snetio::io
