// What `k8s-netio consume` keeps per assigned partition (service.md K2, K3): the partition's
// OTLP and HEC readers, its live detector, the point counts since the group began and, with
// --baseline-state, its learner of per-day baselines (K6), saved and restored together as one
// checked state (engine.md S4).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

// findings_writer.hpp first: its io::detail::parse_finite names `number_status` unqualified,
// which the readers' io::detail::number_status would capture if they came before it.
#include <k8snetio/io/output/findings_writer.hpp>

#include <k8snetio/engine/baseline_learner.hpp>
#include <k8snetio/engine/detector.hpp>
#include <k8snetio/engine/snapshot.hpp>
#include <k8snetio/io/input/hec_reader.hpp>
#include <k8snetio/io/input/otlp_reader.hpp>
#include <k8snetio/k8snetio.hpp>

namespace k8snetio_cli::consume {

using detector_type = k8snetio::detector<2, k8snetio::baseline_table<2>>;

/// Whether this build's detector can save its state (engine.md S4; being added to detector).
template <class D>
constexpr bool can_save_state = requires(const D& d, D& m, std::string_view s) {
  { d.save_state() } -> std::convertible_to<std::string>;
  m.restore_state(s);
};

/// The detector's state, or a refusal in a build whose detector cannot save one (templates, so
/// that the call is only compiled where it exists).
template <class D>
std::string save_detector(const D& d) {
  if constexpr (can_save_state<D>)
    return d.save_state();
  else
    throw std::logic_error("this build's detector cannot save its state (engine.md S4)");
}
template <class D>
void restore_detector(D& d, std::string_view bytes) {
  if constexpr (can_save_state<D>)
    d.restore_state(bytes);
  else
    throw k8snetio::snapshot_error("this build's detector cannot restore a state (S4)");
}

/// One partition's engine: readers, detector and counts, as partitioned_engines holds them.
class partition_pipeline {
 public:
  partition_pipeline(const k8snetio::rule_definition<2>& rule,
                     const k8snetio::baseline_table<2>& table,
                     const k8snetio::detection_options& options,
                     const k8snetio::io::reader_options& reader,
                     const std::optional<k8snetio::baseline_run_options>& learn = std::nullopt,
                     k8snetio::rolling_baseline_options rolling = {})
      : detector(rule, table, options), otlp(reader), hec(reader) {
    if (learn) learner.emplace(rule, *learn, rolling);
  }

  detector_type detector;
  /// K6: the per-day baseline state of the points this partition's detector accepted.
  std::optional<k8snetio::baseline_learner<2>> learner;
  k8snetio::io::otlp_reader otlp;
  k8snetio::io::hec_reader hec;
  // Since the group began on this partition (carried by the state), so that every point is
  // accounted for across failovers (K5).
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;
  std::uint64_t messages = 0;
  std::uint64_t malformed = 0;
  std::uint64_t findings = 0;

  std::string save_state() const {
    k8snetio::detail::snapshot_writer w;
    w.u64(accepted);
    w.u64(rejected);
    w.u64(messages);
    w.u64(malformed);
    w.u64(findings);
    w.str(otlp.save_series());
    w.str(save_detector(detector));
    w.boolean(learner.has_value());
    if (learner) w.str(learner->save_state());
    return k8snetio::seal_snapshot("consume_partition", "", w.bytes());
  }

  /// On a fresh pipeline; throws snapshot_error, changing nothing that matters (the pipeline
  /// is then discarded by partitioned_engines), on anything but its own kind of state.
  void restore_state(std::string_view bytes) {
    k8snetio::detail::snapshot_reader in(k8snetio::open_snapshot(bytes, "consume_partition", ""),
                                         "consume partition state");
    const std::uint64_t a = in.u64(), r = in.u64(), m = in.u64(), bad = in.u64(), f = in.u64();
    const std::string_view series = in.str();
    const std::string_view engine = in.str();
    const bool learned = in.boolean();
    if (learned != learner.has_value())
      in.fail(learned ? "it holds a learned baseline (--baseline-state), this consumer keeps none"
                      : "it holds no learned baseline, this consumer keeps one (--baseline-state)");
    const std::string_view learned_state = learned ? in.str() : std::string_view{};
    in.expect_end();
    otlp.restore_series(series);
    restore_detector(detector, engine);
    if (learner) learner->restore_state(learned_state);
    accepted = a;
    rejected = r;
    messages = m;
    malformed = bad;
    findings = f;
  }
};

}  // namespace k8snetio_cli::consume
