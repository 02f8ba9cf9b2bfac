// L0: the live detector, transport-free. Payloads in (bytes and their kind), findings out
// through a findings_sink, every point accounted for by one outcome, and, with a state_store,
// a restart that continues where the service stopped:
//
// - Acknowledge what is durable (L6, style 18): with a store, a payload is appended to the
//   write-ahead log *before* it is decoded; if the append fails the ingest result says `retry`
//   and nothing of it is counted or used (issue 28 #3). A record holds the payload's bytes and
//   the receiver's clock when it came, so a replay decodes it exactly as it was decoded live:
//   the OTLP cumulative series come back with it (issue 28 #7) and a point rejected as
//   `future_time` is rejected again (S1.4).
// - Emit once (L6, issue 28 #4, #15, #16): findings go to the sink first; only once the sink
//   says they are durable is a marker record (their ids and statuses) appended to the log, and
//   a replay does not write again what a marker names. A crash between the two writes the
//   finding again after the restart, with the same `finding_id` (O4's uid): at least once, and
//   exactly once in the common case. A failed sink write is retried at the next emit.
// - Checkpoints: when the watermark enters a new window, the whole state (detector, OTLP
//   series, learner, the window emitted through) is written as one snapshot and the log starts
//   a new generation, so a restart replays at most about one window of payloads.
// - L8: with a store the detector keeps the rolling baseline of what it accepts; each day that
//   completes is written to the store's day files, and with `learn` the detection switches to
//   the learned table: the windows still open are detected again, from the last checkpoint and
//   the log, with the new table.
// - S1.4: a point stamped more than max-future ahead of the injectable clock is rejected as
//   future_time: it never reaches the engine, so it never moves the watermark or opens a
//   window.
// - L6, L12: every finding written has a status (final, provisional, partial); without a store
//   a shutdown writes the open windows' findings as partial.
//
// Not thread-safe: a transport serialises calls (serve holds a mutex).
#pragma once

#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <k8snetio/service/decode.hpp>

#include <k8snetio/engine/baseline_learner.hpp>
#include <k8snetio/engine/detector.hpp>
#include <k8snetio/engine/snapshot.hpp>
#include <k8snetio/io/baseline_state_dir.hpp>
#include <k8snetio/model/baseline_table.hpp>
#include <k8snetio/rules/rule_definition.hpp>
#include <k8snetio/service/findings_sink.hpp>
#include <k8snetio/service/live_options.hpp>
#include <k8snetio/service/outcome.hpp>
#include <k8snetio/service/state_store.hpp>

namespace k8snetio::service {

/// Seconds since the epoch, as the receiver's clock says (S1.4). Injectable for tests.
using clock_function = std::function<double()>;

inline double system_clock_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// What became of one payload.
struct ingest_result {
  enum class status : std::uint8_t {
    ok,           ///< decoded; every point counted (some may be rejected: see counts)
    malformed,    ///< the payload is not well formed (HTTP 400)
    unsupported,  ///< a payload kind this build cannot read (HTTP 415)
    retry,        ///< not durable: nothing was used or counted; the sender must retry (503)
  };
  status state = status::ok;
  outcome_counts counts;             ///< the payload's points by outcome
  std::string message;               ///< the first problems, named (partialSuccess, 400 bodies)
  std::uint64_t first_bad_line = 0;  ///< 1-based line of the first malformed part (HEC)
  std::optional<std::uint64_t> first_bad_event;  ///< HEC: 0-based index of the refused event
  std::string error;                             ///< retry: why

  std::uint64_t accepted() const noexcept { return counts.accepted(); }
  std::uint64_t rejected() const noexcept { return counts.rejected(); }
  std::uint64_t ignored() const noexcept { return counts.ignored(); }
};

/// Who the state belongs to: a state written under another identity is refused (L6).
struct live_identity {
  std::string rule = "io";
  std::uint64_t baseline_hash = 0;  ///< e.g. FNV-1a 64 of the baseline file
};

/// FNV-1a 64 of bytes (names the baseline a state was written for); `h`: the hash of the bytes
/// before these, to hash a file in blocks.
inline std::uint64_t fnv1a64(std::string_view bytes,
                             std::uint64_t h = 14695981039346656037ULL) noexcept {
  for (const char ch : bytes) {
    h ^= static_cast<unsigned char>(ch);
    h *= 1099511628211ULL;
  }
  return h;
}

/// What a live detector did since it started (per process run: a replay is not counted again).
struct live_stats {
  outcome_counts points;
  std::array<std::uint64_t, 4> findings{};  ///< written, by finding_status
  std::uint64_t table_switches = 0;
  std::uint64_t replayed_payloads = 0;
  std::int64_t last_state_write = 0;  ///< epoch seconds of the last snapshot written
  std::uint64_t sink_failures = 0;
};

template <std::size_t N = 2>
class live_detector {
 public:
  using table_type = baseline_table<N>;
  using engine_type = detector<N, table_type>;

  /// `rule` and `sink` must outlive the detector. `identity` names the rule and baseline for
  /// the state check. The options must be valid (live_options::validate).
  live_detector(const rule_definition<N>& rule, table_type table, live_options options,
                findings_sink& sink, live_identity identity = {},
                clock_function clock = system_clock_seconds)
      : live_detector(rule, std::make_shared<const table_type>(std::move(table)),
                      std::move(options), sink, std::move(identity), std::move(clock)) {}

  /// The same, sharing one table between detectors (consume: one per partition).
  live_detector(const rule_definition<N>& rule, std::shared_ptr<const table_type> table,
                live_options options, findings_sink& sink, live_identity identity = {},
                clock_function clock = system_clock_seconds)
      : rule_(rule),
        options_(std::move(options)),
        detection_(options_.detection()),
        identity_(std::move(identity)),
        base_table_(std::move(table)),
        engine_(std::make_unique<engine_type>(rule_, *base_table_, detection_)),
        decoder_(options_.reader()),
        sink_(&sink),
        clock_(std::move(clock)) {}

  live_detector(const live_detector&) = delete;
  live_detector& operator=(const live_detector&) = delete;

  /// Lines worth a person's attention (resumed, learned a day, a sink failure…).
  void on_log(std::function<void(const std::string&)> log) { log_ = std::move(log); }
  /// Called with each point the engine accepted live (not on a replay): a transport's own
  /// bookkeeping (consume: K2's pod check, K6's learner).
  void on_accepted(std::function<void(const metric_point&)> f) { on_accepted_ = std::move(f); }

  /// L1, L6: continues from `store` (restores its snapshot, replays its log). An error
  /// sentence when the state is refused (another identity, damaged): then nothing is changed
  /// on disk and the detector must not be used.
  std::optional<std::string> attach(state_store& store) {
    store_ = &store;
    if (!learner_) learner_ = new_learner();
    std::string error, warning;
    const auto snapshot = store.read_snapshot(error);
    if (!error.empty()) return error;
    if (snapshot) {
      try {
        restore_snapshot(*snapshot, true);
      } catch (const snapshot_error& e) {
        return fmt::format("{} cannot be restored: {}", store.name(), e.what());
      } catch (const refused_state& e) {
        return fmt::format("{} {}", store.name(), e.what());
      }
    }
    // The markers first: what the log says was written already is not written again.
    std::set<std::string> written;
    std::uint64_t payloads = 0;
    if (!store.read_log(
            generation_,
            [&](std::string_view record) {
              if (!record.empty() && record[0] == record_marker)
                for (auto& key : marker_keys(record)) written.insert(std::move(key));
              if (!record.empty() && record[0] == record_payload) ++payloads;
              return true;
            },
            error, warning))
      return error;
    if (!warning.empty()) log(warning);
    if (!store.open_log(generation_, error)) return error;
    store.drop_logs_except(generation_);
    emitted_ = std::move(written);
    replaying_ = true;
    std::uint64_t index = 0;
    bool switched = false;
    std::string bad;
    const bool read = store.read_log(
        generation_,
        [&](std::string_view record) {
          if (record.empty() || record[0] != record_payload) return true;
          const auto payload = parse_payload(record);
          if (!payload) {
            bad = "a write-ahead log record that is not a payload";
            return false;
          }
          process(payload->kind, payload->clock, payload->bytes);
          ++index;
          emit();
          switched |= after_payload(index);
          return true;
        },
        error, warning);
    replaying_ = false;
    if (!read) return error;
    if (!bad.empty()) return fmt::format("{}: {}", store.name(), bad);
    stats_.replayed_payloads = payloads;
    log_records_ = index;
    if (payloads)
      log(fmt::format("resumed from {}: {} request{} replayed", store.name(), payloads,
                      payloads == 1 ? "" : "s"));
    // A new state gets its snapshot at once: it names the rule and baseline it belongs to, so
    // a service started on it with other ones is refused even before any point came.
    if (switched || checkpoint_due() || !snapshot) checkpoint();
    return std::nullopt;
  }

  /// One payload. With a store the payload is durable before anything of it is used.
  ingest_result ingest(payload_kind kind, std::string_view bytes) {
    ingest_result out;
    const double now = clock_();
    if (store_) {
      std::string record;
      record.reserve(bytes.size() + 16);
      record += record_payload;
      record += static_cast<char>(kind);
      detail::snapshot_writer w;
      w.f64(now);
      record += w.bytes();
      record += bytes;
      if (!store_->append(record, out.error)) {
        out.state = ingest_result::status::retry;
        log(out.error);
        return out;
      }
      ++log_records_;
    }
    out = process(kind, now, bytes);
    stats_.points += out.counts;
    emit();
    after_payload(log_records_);
    if (checkpoint_due()) checkpoint();
    return out;
  }

  /// L6: the end of the run. With a store: findings of complete windows written, the log made
  /// durable; the open windows live on in the log. Without: the open windows' findings are
  /// written as `partial` (never as if final).
  std::optional<std::string> shut_down() {
    std::string error;
    emit();
    if (!pending_.empty()) error = last_sink_error_;
    if (store_) {
      if (!store_->sync(error)) return error;
      return error.empty() ? std::nullopt : std::optional<std::string>(error);
    }
    std::vector<finding> rest;
    try {
      rest = engine_->finish().findings;
    } catch (const std::exception& e) {
      return fmt::format("the open windows cannot be reported: {}", e.what());
    }
    for (auto& f : rest) f.status = finding_status::partial;
    pending_.insert(pending_.end(), std::make_move_iterator(rest.begin()),
                    std::make_move_iterator(rest.end()));
    write_pending();
    if (!pending_.empty()) return last_sink_error_;
    return error.empty() ? std::nullopt : std::optional<std::string>(error);
  }

  /// K3: the whole state (detector, OTLP series, learner, table in use) as one checked
  /// snapshot, for a store of the transport's own (Kafka's state topic). Findings not yet
  /// written (a failing sink) are not in it: save only when pending() is 0.
  std::string save_state() const { return snapshot_bytes(); }
  /// K3: continues from save_state(). A foreign or damaged state is refused with an error of
  /// code bad_snapshot (A6), leaving this detector as it was.
  [[nodiscard]] result<void> restore_state(std::string_view bytes) {
    try {
      restore_snapshot(bytes, false);
      return {};
    } catch (const refused_state& e) {
      return make_error(error_code::bad_snapshot, "state snapshot", 0, e.what());
    } catch (const snapshot_error& e) {
      return make_error(error_code::bad_snapshot, "state snapshot", 0, e.what());
    }
  }

  /// Findings the sink has not taken yet (it failed); they are retried at the next emit.
  std::size_t pending() const noexcept { return pending_.size(); }
  const live_stats& stats() const noexcept { return stats_; }
  const engine_type& engine() const noexcept { return *engine_; }
  std::size_t series_count() const noexcept { return decoder_.series_count(); }
  const live_options& options() const noexcept { return options_; }
  std::optional<double> watermark() const noexcept {
    if (!latest_) return std::nullopt;
    return *latest_ - static_cast<double>(options_.lateness_seconds);
  }
  const baseline_learner<N>* learner() const noexcept { return learner_.get(); }

  /// L4: the detector's part of /metrics (Prometheus text).
  void render_metrics(std::string& out) const {
    const auto& p = stats_.points;
    out +=
        "# HELP k8snetio_points_accepted_total Points accepted (a cumulative series' first "
        "point and a counter reset included: they are the base of the next delta).\n"
        "# TYPE k8snetio_points_accepted_total counter\n";
    out += fmt::format("k8snetio_points_accepted_total {}\n", p.accepted());
    out +=
        "# HELP k8snetio_points_rejected_total Points rejected, by reason.\n"
        "# TYPE k8snetio_points_rejected_total counter\n";
    const auto by_reason = [&](outcome_class c, std::string_view name) {
      for (std::size_t i = 0; i < point_outcome_count; ++i) {
        const auto o = static_cast<point_outcome>(i);
        if (o != point_outcome::accepted && class_of(o) == c && p[o])
          out += fmt::format("{}{{reason=\"{}\"}} {}\n", name, label(o), p[o]);
      }
    };
    by_reason(outcome_class::rejected, "k8snetio_points_rejected_total");
    out +=
        "# HELP k8snetio_points_ignored_total Points read and not for this rule (another "
        "metric, no recorded value).\n"
        "# TYPE k8snetio_points_ignored_total counter\n";
    by_reason(outcome_class::ignored, "k8snetio_points_ignored_total");
    out +=
        "# HELP k8snetio_points_accepted_without_delta_total Accepted points that only set a "
        "cumulative series' base.\n"
        "# TYPE k8snetio_points_accepted_without_delta_total counter\n";
    by_reason(outcome_class::accepted, "k8snetio_points_accepted_without_delta_total");
    out += "# TYPE k8snetio_late_points_total counter\n";
    out += fmt::format("k8snetio_late_points_total {}\n", p[point_outcome::late]);
    out += "# TYPE k8snetio_future_points_total counter\n";
    out += fmt::format("k8snetio_future_points_total {}\n", p[point_outcome::future_time]);
    out +=
        "# HELP k8snetio_findings_emitted_total Findings written, by status (L12).\n"
        "# TYPE k8snetio_findings_emitted_total counter\n";
    for (const auto s :
         {finding_status::final, finding_status::provisional, finding_status::partial})
      out += fmt::format("k8snetio_findings_emitted_total{{status=\"{}\"}} {}\n", to_string(s),
                         stats_.findings[static_cast<std::size_t>(s)]);
    out += "# TYPE k8snetio_findings_pending gauge\n";
    out += fmt::format("k8snetio_findings_pending {}\n", pending_.size());
    out +=
        "# HELP k8snetio_open_rows Buckets and half-joined rows held by the engine.\n"
        "# TYPE k8snetio_open_rows gauge\n";
    out += fmt::format("k8snetio_open_rows {}\n", engine_->open_rows());
    out +=
        "# HELP k8snetio_cumulative_series OTLP cumulative series whose last value is kept.\n"
        "# TYPE k8snetio_cumulative_series gauge\n";
    out += fmt::format("k8snetio_cumulative_series {}\n", decoder_.series_count());
    out += "# TYPE k8snetio_watermark_seconds gauge\n";
    out += fmt::format("k8snetio_watermark_seconds {}\n", watermark().value_or(0));
    if (learner_) {
      out +=
          "# HELP k8snetio_learned_days UTC days in the learned rolling baseline (L8).\n"
          "# TYPE k8snetio_learned_days gauge\n";
      out += fmt::format("k8snetio_learned_days {}\n", learner_->rolling().size());
      out += "# TYPE k8snetio_learner_late_points_total counter\n";
      out += fmt::format("k8snetio_learner_late_points_total {}\n", learner_->late_points());
      out +=
          "# HELP k8snetio_baseline_switches_total Times the detection took a learned table.\n"
          "# TYPE k8snetio_baseline_switches_total counter\n";
      out += fmt::format("k8snetio_baseline_switches_total {}\n", stats_.table_switches);
    }
    out += "# TYPE k8snetio_last_state_write_timestamp_seconds gauge\n";
    out += fmt::format("k8snetio_last_state_write_timestamp_seconds {}\n", stats_.last_state_write);
  }

 private:
  static constexpr char record_payload = 'P';
  static constexpr char record_marker = 'M';
  static constexpr std::string_view snapshot_kind = "live_detector";

  struct refused_state : std::runtime_error {
    using std::runtime_error::runtime_error;
  };

  struct payload_record {
    payload_kind kind;
    double clock;
    std::string_view bytes;
  };

  static std::optional<payload_record> parse_payload(std::string_view record) {
    if (record.size() < 10) return std::nullopt;
    const auto kind = static_cast<payload_kind>(static_cast<unsigned char>(record[1]));
    if (kind != payload_kind::otlp_json && kind != payload_kind::otlp_protobuf &&
        kind != payload_kind::hec)
      return std::nullopt;
    detail::snapshot_reader r(record.substr(2, 8), "write-ahead log record");
    return payload_record{kind, r.f64(), record.substr(10)};
  }

  static std::string marker_key(const finding& f) {
    return fmt::format("{}:{}", to_string(f.status), finding_id(f));
  }

  static std::vector<std::string> marker_keys(std::string_view record) {
    std::vector<std::string> out;
    std::size_t at = 1;
    while (at < record.size()) {
      const auto end = record.find('\n', at);
      out.emplace_back(record.substr(at, end - at));
      if (end == std::string_view::npos) break;
      at = end + 1;
    }
    return out;
  }

  void log(const std::string& line) {
    if (log_) log_(line);
  }

  std::unique_ptr<baseline_learner<N>> new_learner() const {
    baseline_run_options learn;
    learn.span.span_seconds = options_.span_seconds;
    learn.span.metric_name = options_.metric;
    learn.span.allowed_lateness = options_.lateness_seconds;
    learn.span.max_open_groups = options_.max_open_groups;
    rolling_baseline_options rolling;
    rolling.horizon_days = options_.horizon_days;
    return std::make_unique<baseline_learner<N>>(rule_, std::move(learn), rolling);
  }

  std::int64_t window_of(double time) const {
    const auto t = static_cast<std::int64_t>(std::floor(time));
    const auto w = options_.window_seconds;
    return t - ((t % w) + w) % w;
  }

  /// Decodes and feeds one payload as if it came at `clock`; the learner too when it learns.
  ingest_result process(payload_kind kind, double clock, std::string_view bytes) {
    ingest_result out;
    const double limit = clock + static_cast<double>(options_.max_future_seconds);
    const auto sink = [&](const metric_point& p) {
      if (p.time > limit) {  // S1.4: never reaches the engine (NaN is the engine's to name)
        out.counts.add(point_outcome::future_time);
        return;
      }
      const add_outcome used = engine_->add(p);
      out.counts.add(outcome_of(used.reason));
      // S5.1: a point refused at a cap still moved the engine's watermark (never wedged).
      const bool moved = used || used.reason == drop_reason::memory_limit ||
                         used.reason == drop_reason::series_limit;
      if (moved && (!latest_ || p.time > *latest_)) latest_ = p.time;
      if (!used) return;
      if (learner_ && feed_learner_) (void)learner_->add(p);
      if (on_accepted_ && !replaying_ && feed_learner_) on_accepted_(p);
    };
    const decode_report report = decoder_.decode(kind, bytes, sink);
    out.counts += report.skipped;
    out.first_bad_line = report.first_bad_line;
    out.first_bad_event = report.first_bad_event;
    out.message = report.message;
    if (report.unsupported) out.state = ingest_result::status::unsupported;
    if (report.malformed) out.state = ingest_result::status::malformed;
    for (std::size_t i = 0; i < point_outcome_count; ++i) {
      const auto o = static_cast<point_outcome>(i);
      if (class_of(o) != outcome_class::rejected || !out.counts[o]) continue;
      if (out.message.find(label(o)) == std::string::npos && out.message.size() < 200)
        out.message += fmt::format("{}{} point{}: {}", out.message.empty() ? "" : "; ",
                                   out.counts[o], out.counts[o] == 1 ? "" : "s", label(o));
    }
    return out;
  }

  /// S2.1, L12: the findings of the closed windows (and provisional ones) to the sink.
  void emit() {
    for (auto& f : engine_->take_closed()) {
      if (f.status == finding_status::none) f.status = finding_status::final;
      if (emitted_.count(marker_key(f))) continue;  // written before a restart or a switch
      pending_.push_back(std::move(f));
    }
    write_pending();
  }

  void write_pending() {
    if (pending_.empty()) return;
    std::string error;
    if (!sink_->write(pending_, error)) {
      ++stats_.sink_failures;
      if (error != last_sink_error_) log(error + "; the findings are kept and written again");
      last_sink_error_ = error;
      return;
    }
    std::string marker(1, record_marker);
    for (const auto& f : pending_) {
      ++stats_.findings[static_cast<std::size_t>(f.status)];
      auto key = marker_key(f);
      if (marker.size() > 1) marker += '\n';
      marker += key;
      emitted_.insert(std::move(key));
    }
    if (store_ && !store_->append(marker, error))
      log(error +
          " (the findings written may be written again after a restart, with the same "
          "finding_id)");
    pending_.clear();
  }

  /// L8: after each payload: the days the learner completed go to the store, and with `learn`
  /// the detection takes the learned table. Returns whether it switched.
  bool after_payload(std::uint64_t records) {
    if (!learner_ || !store_) return false;
    const auto days = learner_->take_completed_days();
    if (days.empty()) return false;
    if (auto failed = io::write_day_files(learner_->rolling(), days, store_->learned_days_dir()))
      log(*failed);
    for (const std::int64_t day : days)
      log(fmt::format("learned the day {} ({} days kept in {}){}", utc_day_text(day),
                      learner_->rolling().size(), store_->learned_days_dir(),
                      options_.learn ? "; detecting with its table" : ""));
    if (!options_.learn) return false;
    switch_table(records);
    if (!replaying_) checkpoint();
    return true;
  }

  /// L8: a fresh engine on the learned table, brought to now from the last checkpoint and the
  /// first `records` payloads of the log, without feeding the learner again.
  void switch_table(std::uint64_t records) {
    auto table = std::make_unique<table_type>(learner_->rolling().result().table);
    auto engine = std::make_unique<engine_type>(rule_, *table, detection_);
    payload_decoder decoder(options_.reader());
    std::string error, warning;
    std::optional<double> latest;
    if (const auto snapshot = store_->read_snapshot(error)) {
      detail::snapshot_reader r(open_snapshot(*snapshot, snapshot_kind, identity_text()),
                                "live detector state");
      (void)r.u64();
      (void)r.boolean();
      latest = read_optional(r);
      (void)r.i64();
      detail::throw_if_refused(engine->restore_state(r.str()));
      decoder.restore_series(r.str());
    }
    std::swap(engine, engine_);
    std::swap(decoder, decoder_);
    std::swap(latest, latest_);
    const bool fed = feed_learner_;
    feed_learner_ = false;
    std::uint64_t index = 0;
    (void)store_->read_log(
        generation_,
        [&](std::string_view record) {
          if (index >= records) return false;
          if (record.empty() || record[0] != record_payload) return true;
          if (const auto payload = parse_payload(record)) {
            process(payload->kind, payload->clock, payload->bytes);
            emit();
          }
          ++index;
          return true;
        },
        error, warning);
    feed_learner_ = fed;
    std::swap(decoder, decoder_);  // the live decoder's series are the same, and newer
    learned_table_ = std::move(table);
    table_learned_ = true;
    ++stats_.table_switches;
  }

  static std::optional<double> read_optional(detail::snapshot_reader& r) {
    const bool has = r.boolean();
    const double value = r.f64();
    return has ? std::optional<double>(value) : std::nullopt;
  }

  bool checkpoint_due() const {
    return store_ && latest_ && pending_.empty() &&
           window_of(*latest_ - static_cast<double>(options_.lateness_seconds)) >
               checkpoint_window_;
  }

  /// The whole state to the store; the log starts a new generation.
  void checkpoint() {
    if (!store_ || !pending_.empty()) return;
    std::string error;
    const std::uint64_t next = generation_ + 1;
    const auto previous_window = checkpoint_window_;
    if (latest_)
      checkpoint_window_ = window_of(*latest_ - static_cast<double>(options_.lateness_seconds));
    if (!store_->open_log(next, error)) {
      checkpoint_window_ = previous_window;
      log(error);
      return;
    }
    ++generation_;
    if (!store_->write_snapshot(snapshot_bytes(), error)) {
      --generation_;
      checkpoint_window_ = previous_window;
      log(error);
      std::string again;
      if (!store_->open_log(generation_, again)) log(again);
      return;
    }
    store_->drop_logs_except(generation_);
    emitted_.clear();  // the snapshot's detector has handed them out already
    log_records_ = 0;
    stats_.last_state_write = static_cast<std::int64_t>(clock_());
  }

  std::string identity_text() const {
    return fmt::format(
        "rule {} with baseline {:016x}, window {} s, span {} s, lateness {} s, sigma {}, "
        "min-count {}, early alerts {}",
        identity_.rule, identity_.baseline_hash, options_.window_seconds, options_.span_seconds,
        options_.lateness_seconds, options_.sigma, options_.min_count,
        options_.early_alerts ? "on" : "off");
  }

  std::string snapshot_bytes() const {
    detail::snapshot_writer w;
    w.u64(generation_);
    w.boolean(table_learned_);
    w.boolean(latest_.has_value());
    w.f64(latest_.value_or(0));
    w.i64(checkpoint_window_);
    w.str(engine_->save_state());
    w.str(decoder_.save_series());
    w.boolean(learner_ != nullptr);
    if (learner_) w.str(learner_->save_state());
    return seal_snapshot(snapshot_kind, identity_text(), w.bytes());
  }

  void restore_snapshot(std::string_view bytes, bool with_store) {
    snapshot_info info;
    std::string_view payload;
    try {
      payload = open_snapshot(bytes, snapshot_kind, identity_text(), &info);
    } catch (const snapshot_error&) {
      if (info.kind == snapshot_kind && info.settings != identity_text())
        throw refused_state(fmt::format(
            "was written for {}; this service runs {}: start it with the same options, or "
            "with another state",
            info.settings, identity_text()));
      throw;
    }
    detail::snapshot_reader r(payload, "live detector state");
    const std::uint64_t generation = r.u64();
    const bool learned = r.boolean();
    const std::optional<double> latest = read_optional(r);
    const std::int64_t window = r.i64();
    const std::string_view engine_state = r.str();
    const std::string_view series = r.str();
    std::optional<std::string_view> learner_state;
    if (r.boolean()) learner_state = r.str();
    r.expect_end();
    // Restore into fresh parts first: a refused state leaves this detector as it was.
    std::unique_ptr<baseline_learner<N>> learner;
    std::unique_ptr<table_type> table;
    if (learner_state) {
      learner = new_learner();
      detail::throw_if_refused(learner->restore_state(*learner_state));
    }
    if (learned && options_.learn && learner && !learner->rolling().days().empty())
      table = std::make_unique<table_type>(learner->rolling().result().table);
    auto engine = std::make_unique<engine_type>(rule_, table ? *table : *base_table_, detection_);
    detail::throw_if_refused(engine->restore_state(engine_state));
    payload_decoder decoder(options_.reader());
    decoder.restore_series(series);
    engine_ = std::move(engine);
    learned_table_ = std::move(table);
    table_learned_ = learned_table_ != nullptr;
    decoder_ = std::move(decoder);
    if (learner) learner_ = std::move(learner);
    latest_ = latest;
    checkpoint_window_ = window;
    if (with_store) generation_ = generation;
  }

  const rule_definition<N>& rule_;
  live_options options_;
  detection_options detection_;
  live_identity identity_;
  std::shared_ptr<const table_type> base_table_;
  std::unique_ptr<table_type> learned_table_;  // L8: the table in use once learned
  bool table_learned_ = false;
  std::unique_ptr<engine_type> engine_;
  payload_decoder decoder_;
  std::unique_ptr<baseline_learner<N>> learner_;  // L8, with a store
  bool feed_learner_ = true;
  findings_sink* sink_;
  state_store* store_ = nullptr;
  clock_function clock_;
  std::function<void(const std::string&)> log_;
  std::function<void(const metric_point&)> on_accepted_;
  std::optional<double> latest_;
  std::int64_t checkpoint_window_ = std::numeric_limits<std::int64_t>::min();
  std::uint64_t generation_ = 0;
  std::uint64_t log_records_ = 0;  ///< payload records in the current generation
  bool replaying_ = false;
  std::set<std::string> emitted_;  ///< "status:finding_id" written since the last checkpoint
  std::vector<finding> pending_;   ///< not yet taken by the sink
  std::string last_sink_error_;
  live_stats stats_;
};

}  // namespace k8snetio::service
