// docs/library.md, "Errors": what the library refuses, and how it says so (A6). A factory returns
// k8snetio::result<T> with a coded error (bad_rule); a constructor throws std::invalid_argument
// with the same sentence; restoring a damaged snapshot returns bad_snapshot and leaves the engine
// as it was; an engine whose answer could not be exact says so through failure() before
// finish() would throw.
// The core component alone.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include <k8snetio/engine/detector.hpp>
#include <k8snetio/rules/anomalous_network_io.hpp>
#include <k8snetio/rules/network_io_ratio.hpp>

namespace k = k8snetio;

int main() {
  std::vector<k::metric_point> points;
  for (int i = 0; i < 30; ++i)
    for (const char* direction : {"transmit", "receive"})
      points.push_back({1'700'000'000.0 + 10 * i, 1000.0 + i, k::default_metric_name, "prod",
                        "web-x2k9p", "node-1", direction});
  const k::baseline_table<2> ratio_table = k::build_network_io_ratio_baseline(points).table;
  const k::baseline_table<2> io_table = k::build_network_io_baseline(points).table;
  int refused = 0;

  // [factory] A1.1: the ratio rule's table given to the main rule is refused, not run.
  const auto made = k::make_detector(k::anomalous_network_io, ratio_table, {});
  if (!made) {
    std::printf("refused: %s\n", made.error().what().c_str());  // [k8snetio.error.140] …
    ++refused;
  }
  // [factory]

  // [options] A window that is not a multiple of the span: the constructor throws.
  k::detection_options options;
  options.window_seconds = 15;
  try {
    k::detector engine(k::anomalous_network_io, io_table, options);
  } catch (const std::invalid_argument& e) {
    std::printf("refused: %s\n", e.what());
    ++refused;
  }
  // [options]

  // [snapshot] S4: a damaged state is refused, and the engine keeps its own.
  k::detector engine(k::anomalous_network_io, io_table, {});
  std::string state = engine.save_state();
  state[state.size() / 2] ^= 0x20;
  if (const auto restored = engine.restore_state(state); !restored) {
    std::printf("refused: %s\n", restored.error().what().c_str());  // [k8snetio.error.150] …
    ++refused;
  }
  // [snapshot]

  // [failure] S1: a point for a bucket the streaming engine has closed ends the attempt; the
  // one-call detect() then reads the input again with every bucket held.
  points.push_back(points.front());  // the first bucket again, at the end
  k::detection_options streaming;
  streaming.span.closing = k::group_closing::by_series;
  k::detector strict(k::anomalous_network_io, io_table, streaming);
  for (const k::metric_point& p : points) (void)strict.add(p);
  strict.end_of_input();
  if (const auto why = strict.failure()) {
    std::printf("not exact streamed: %s\n", std::string(k::to_string(*why)).c_str());
    ++refused;
  }
  const auto held = k::detect(k::anomalous_network_io, points, io_table);  // any order
  // [failure]
  return refused == 4 && held.findings.empty() ? 0 : 1;
}
