// What `k8s-netio consume` keeps per assigned partition (service.md K2, K3): the partition's
// live detector of the library's live core (L0: the same decoding, accounting, statuses and
// OTLP series state as serve), the point counts since the group began and, with
// --baseline-state, its learner of per-day baselines (K6), saved and restored together as one
// checked state (engine.md S4).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <k8snetio/service/service.hpp>

#include <k8snetio/engine/baseline_learner.hpp>
#include <k8snetio/engine/snapshot.hpp>
#include <k8snetio/k8snetio.hpp>

namespace k8snetio_cli::consume {

namespace svc = k8snetio::service;

/// Where a partition's findings go: the consumer's output, durable before the offsets that
/// produced them are committed (K3, issue 28 #1).
using findings_output = std::function<bool(std::span<const k8snetio::finding>, std::string& error)>;

/// Counts what a partition wrote and hands it to the consumer's output.
class partition_sink final : public svc::findings_sink {
 public:
  explicit partition_sink(findings_output out) : out_(std::move(out)) {}
  bool write(std::span<const k8snetio::finding> found, std::string& error) override {
    if (!out_(found, error)) return false;
    written += found.size();
    return true;
  }
  std::uint64_t written = 0;

 private:
  findings_output out_;
};

/// One partition's engine, as partitioned_engines holds it (never moved: the detector's
/// callbacks point at it).
class partition_pipeline {
 public:
  partition_pipeline(const k8snetio::rule_definition<2>& rule,
                     std::shared_ptr<const k8snetio::baseline_table<2>> table,
                     const svc::live_options& options, findings_output out,
                     const std::optional<k8snetio::baseline_run_options>& learn = std::nullopt,
                     k8snetio::rolling_baseline_options rolling = {})
      : sink(std::move(out)), live(rule, std::move(table), options, sink) {
    if (learn) learner.emplace(rule, *learn, rolling);
    live.on_accepted([this](const k8snetio::metric_point& p) {
      if (learner) (void)learner->add(p);  // K6: what the detector took
      if (on_point) on_point(p);
    });
  }
  partition_pipeline(const partition_pipeline&) = delete;
  partition_pipeline& operator=(const partition_pipeline&) = delete;

  partition_sink sink;
  svc::live_detector<2> live;
  /// K6: the per-day baseline state of the points this partition's detector accepted.
  std::optional<k8snetio::baseline_learner<2>> learner;
  std::function<void(const k8snetio::metric_point&)> on_point;  ///< K2's pod check
  // Since the group began on this partition (carried by the state), so that every point is
  // accounted for across failovers (K5).
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;
  std::uint64_t ignored = 0;
  std::uint64_t messages = 0;
  std::uint64_t malformed = 0;
  std::uint64_t findings_before = 0;  ///< written by earlier owners

  std::uint64_t findings() const noexcept { return findings_before + sink.written; }

  std::string save_state() const {
    k8snetio::detail::snapshot_writer w;
    w.u64(accepted);
    w.u64(rejected);
    w.u64(ignored);
    w.u64(messages);
    w.u64(malformed);
    w.u64(findings());
    w.str(live.save_state());
    w.boolean(learner.has_value());
    if (learner) w.str(learner->save_state());
    return k8snetio::seal_snapshot("consume_partition", "2", w.bytes());
  }

  /// On a fresh pipeline; throws snapshot_error, changing nothing that matters (the pipeline
  /// is then discarded by partitioned_engines), on anything but its own kind of state.
  void restore_state(std::string_view bytes) {
    k8snetio::detail::snapshot_reader in(k8snetio::open_snapshot(bytes, "consume_partition", "2"),
                                         "consume partition state");
    const std::uint64_t a = in.u64(), r = in.u64(), i = in.u64(), m = in.u64(), bad = in.u64(),
                        f = in.u64();
    const std::string_view engine = in.str();
    const bool learned = in.boolean();
    if (learned != learner.has_value())
      in.fail(learned ? "it holds a learned baseline (--baseline-state), this consumer keeps none"
                      : "it holds no learned baseline, this consumer keeps one (--baseline-state)");
    const std::string_view learned_state = learned ? in.str() : std::string_view{};
    in.expect_end();
    live.restore_state(engine);
    if (learner) learner->restore_state(learned_state);
    accepted = a;
    rejected = r;
    ignored = i;
    messages = m;
    malformed = bad;
    findings_before = f;
    sink.written = 0;
  }
};

}  // namespace k8snetio_cli::consume
