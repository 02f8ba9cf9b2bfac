// `k8s-netio serve` (service.md L1–L6): OTLP/HTTP JSON and Splunk HEC pushes into one live
// detector (S1.3 watermark, S2.1 findings as windows close), guarded by one mutex, with a
// Prometheus /metrics, and a write-ahead log under --state so that a restart loses no point.
// With --state it also learns (L8): the windows leaving the log feed a rolling baseline, kept
// per UTC day in STATE.baseline/ (the files of `baseline --state`); --learn then detects with
// the table of the complete days from the day after each day completes.
#include "serve_command.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <httplib.h>

// findings_writer.hpp first: its io::detail::parse_finite names `number_status` unqualified,
// which the readers' io::detail::number_status would capture if they came before it.
#include <k8snetio/io/output/findings_writer.hpp>

#include <k8snetio/engine/baseline_learner.hpp>
#include <k8snetio/engine/detector.hpp>
#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/io/baseline_state_dir.hpp>
#include <k8snetio/io/input/hec_reader.hpp>
#include <k8snetio/io/input/otlp_reader.hpp>
#include <k8snetio/k8snetio.hpp>

#include "cli_support.hpp"
#include "serve_state.hpp"

namespace k8snetio_cli {
namespace {

namespace io = k8snetio::io;
using detector_type = k8snetio::detector<2, k8snetio::baseline_table<2>>;

struct serve_options {
  std::string baseline;
  std::string rule = "io";
  std::string listen = "127.0.0.1:8088";
  std::string window = "1h";
  std::string lateness = "30s";
  std::string output = "-";
  std::string format = "jsonl";
  std::vector<std::string> hec_tokens;
  std::string otlp_token;
  std::size_t max_body = std::size_t{8} << 20;
  std::size_t max_in_flight = 16;  ///< L5: data requests read or queued for the engine at once
  std::string read_timeout = "10s";
  std::size_t max_open_groups = std::size_t{1} << 22;
  std::string state;
  std::string metric = std::string(k8snetio::default_metric_name);
  std::int64_t span = 10;
  double sigma = 4;
  std::uint64_t min_count = 5;
  std::string default_cluster;
  std::string default_node;
  bool early_alerts = false;
  bool learn = false;         ///< L8: detect with the learned table once a day is complete
  std::int64_t horizon = 30;  ///< L8: days of the learned baseline
};

/// L5: admits a data request while fewer than `limit` are being read or wait for the engine;
/// beyond that the sender is told to come back (503 + Retry-After), so that a burst costs at
/// most `limit` bodies of memory, never a growing queue.
class admission {
 public:
  admission(std::atomic<std::size_t>& in_flight, std::size_t limit)
      : in_flight_(in_flight), admitted_(in_flight.fetch_add(1) < limit) {}
  admission(const admission&) = delete;
  admission& operator=(const admission&) = delete;
  ~admission() { in_flight_.fetch_sub(1); }
  explicit operator bool() const noexcept { return admitted_; }

 private:
  std::atomic<std::size_t>& in_flight_;
  bool admitted_;
};

/// L5: the reply to a request beyond the in-flight limit, in the endpoint's own dialect.
void reply_busy(httplib::Response& res, bool hec) {
  res.status = 503;
  res.set_header("Retry-After", "1");
  res.set_header("Connection", "close");  // its body was not read
  res.set_content(hec ? R"({"text":"Server is busy","code":9})"
                      : R"({"code":14,"message":"the service is busy: retry after 1 s"})",
                  "application/json");
}

std::string metric_label(std::string_view reason) {
  std::string out(reason);
  for (char& c : out)
    if (c == ' ' || c == '-') c = '_';
  return out;
}

/// Constant time in the token's content: every byte of the longer one is compared.
bool same_token(std::string_view given, std::string_view expected) {
  const std::size_t n = std::max(given.size(), expected.size());
  unsigned diff = given.size() == expected.size() ? 0U : 1U;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char a = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    const unsigned char b = i < expected.size() ? static_cast<unsigned char>(expected[i]) : 0;
    diff |= static_cast<unsigned>(a ^ b);
  }
  return diff == 0;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

/// Request counters and the latency histogram of /metrics (L4).
class request_metrics {
 public:
  static constexpr std::array<double, 12> bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                    0.05,   0.1,   0.25,   0.5,   1,    2.5};
  void record(const std::string& path, int status, double seconds) {
    std::lock_guard lock(mutex_);
    ++requests_[{path, status}];
    for (std::size_t i = 0; i < bounds.size(); ++i)
      if (seconds <= bounds[i]) ++buckets_[i];
    ++count_;
    sum_ += seconds;
  }
  void render(std::string& out) {
    std::lock_guard lock(mutex_);
    out +=
        "# HELP k8snetio_requests_total HTTP requests by path and status.\n"
        "# TYPE k8snetio_requests_total counter\n";
    for (const auto& [key, n] : requests_)
      out += fmt::format("k8snetio_requests_total{{path=\"{}\",status=\"{}\"}} {}\n", key.first,
                         key.second, n);
    out +=
        "# HELP k8snetio_request_duration_seconds Time to handle a request.\n"
        "# TYPE k8snetio_request_duration_seconds histogram\n";
    for (std::size_t i = 0; i < bounds.size(); ++i)
      out += fmt::format("k8snetio_request_duration_seconds_bucket{{le=\"{}\"}} {}\n", bounds[i],
                         buckets_[i]);
    out += fmt::format("k8snetio_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", count_);
    out += fmt::format("k8snetio_request_duration_seconds_sum {}\n", sum_);
    out += fmt::format("k8snetio_request_duration_seconds_count {}\n", count_);
  }

 private:
  std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  std::array<std::uint64_t, bounds.size()> buckets_{};
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

/// What one request's points came to.
struct push_outcome {
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;
  std::uint64_t bad_syntax = 0;
  std::uint64_t first_bad_line = 0;
  std::string message;  ///< the first reasons, for partialSuccess and 400 bodies
};

/// The live service: one engine, its readers and its outputs, behind one mutex.
class live_service {
 public:
  using state_header = serve::state_header;

  live_service(const serve_options& o, const k8snetio::rule_definition<2>& rule,
               k8snetio::baseline_table<2> table, k8snetio::detection_options options,
               io::output_format format)
      : o_(o),
        rule_(rule),
        options_(std::move(options)),
        window_(*options_.window_seconds),
        lateness_(*options_.span.allowed_lateness),
        table_(std::move(table)),
        engine_(std::make_unique<detector_type>(rule_, table_, options_)),
        format_(format) {
    if (!o.state.empty()) {
      k8snetio::baseline_run_options learn;
      learn.span.span_seconds = options_.span.span_seconds;
      learn.span.metric_name = options_.span.metric_name;
      learn.span.allowed_lateness = options_.span.allowed_lateness;
      learn.span.max_open_groups = options_.span.max_open_groups;
      k8snetio::rolling_baseline_options rolling;
      rolling.horizon_days = o.horizon;
      learner_.emplace(rule_, std::move(learn), rolling);
    }
    io::reader_options r;
    r.metric_name = o.metric;
    r.default_cluster = o.default_cluster;
    r.default_node = o.default_node;
    otlp_ = std::make_unique<io::otlp_reader>(r);
    hec_ = std::make_unique<io::hec_reader>(r);
  }

  bool open_output(std::string& error) {
    if (o_.output.empty() || o_.output == "-") {
      out_ = stdout;
      return true;
    }
    out_ = std::fopen(o_.output.c_str(), "ae");
    if (!out_) error = fmt::format("cannot open {}: {}", o_.output, std::strerror(errno));
    return out_ != nullptr;
  }

  /// --state: refuses a state of another rule or baseline, else replays the log.
  bool resume(const state_header& identity, std::string& error) {
    header_ = identity;
    if (o_.state.empty()) return true;
    wal_ = std::make_unique<serve::write_ahead_log>(o_.state);
    std::ifstream in(o_.state, std::ios::binary);
    if (in) {
      std::stringstream text;
      text << in.rdbuf();
      std::string why;
      auto stored = state_header::parse(text.str(), why);
      if (!stored) {
        error = fmt::format("the state {} cannot be read: {}", o_.state, why);
        return false;
      }
      if (stored->rule != identity.rule || stored->baseline_hash != identity.baseline_hash ||
          stored->window_seconds != identity.window_seconds ||
          stored->span_seconds != identity.span_seconds) {
        error = fmt::format(
            "the state {} was written for rule {} with baseline {:016x}, window {}s, span {}s; "
            "this service runs rule {} with baseline {:016x}, window {}s, span {}s: start it with "
            "the same options, or with another --state",
            o_.state, stored->rule, stored->baseline_hash, stored->window_seconds,
            stored->span_seconds, identity.rule, identity.baseline_hash, identity.window_seconds,
            identity.span_seconds);
        return false;
      }
      header_.emitted_through = stored->emitted_through;
    }
    // The OTLP cumulative series as of the last clean shutdown: their next points yield
    // their deltas. Removed once read, so that after a crash (no clean shutdown to write
    // it again) no stale value is taken as a series' last: those series start afresh.
    const std::string series_path = o_.state + ".otlp-series";
    if (std::ifstream series_in{series_path, std::ios::binary}) {
      std::stringstream bytes;
      bytes << series_in.rdbuf();
      try {
        otlp_->restore_series(bytes.str());
      } catch (const k8snetio::snapshot_error& e) {
        error =
            fmt::format("the OTLP series state {} cannot be restored: {}", series_path, e.what());
        return false;
      }
      series_in.close();
      if (std::remove(series_path.c_str()) != 0) {
        error = fmt::format("cannot remove {}: {}", series_path, std::strerror(errno));
        return false;
      }
    }
    if (!restore_learner(error)) return false;
    if (o_.learn && !learner_->rolling().days().empty()) use_learned_table();
    std::uint64_t replayed = 0;
    for (const auto& [start, path] : wal_->segments())
      replayed += replay_segment(path, [this](const k8snetio::metric_point& p) {
        if (engine_->add(p)) note_time(p.time);
      });
    if (!emit_closed(error)) return false;
    if (replayed)
      print_diagnostic(
          "k8s-netio: resumed from {}: {} point{} replayed, findings written through "
          "{}\n",
          o_.state, with_commas(replayed), replayed == 1 ? "" : "s", header_.emitted_through);
    return write_state(error);
  }

  /// L2: one OTLP ExportMetricsServiceRequest. The body is one JSON document that may span
  /// lines; JSON strings hold no raw line breaks, so it is read as one line.
  push_outcome push_otlp(std::string& body) {
    std::replace(body.begin(), body.end(), '\n', ' ');
    std::replace(body.begin(), body.end(), '\r', ' ');
    body += '\n';
    std::lock_guard lock(mutex_);
    otlp_->start_file("request");
    return push([&](auto& sink) {
      auto r = otlp_->feed(body, sink);
      return otlp_->take_report();
    });
  }

  /// L3: HEC events, one or many per body.
  push_outcome push_hec(const std::string& body) {
    std::lock_guard lock(mutex_);
    hec_->start_file("request");
    return push([&](auto& sink) {
      auto r = hec_->feed(body, sink);
      if (r) r = hec_->finish(sink);
      return hec_->take_report();
    });
  }

  /// Shutdown: with a state, the open windows stay in the log; without, they are reported.
  bool shut_down(std::string& error) {
    std::lock_guard lock(mutex_);
    if (wal_) {
      wal_->sync();
      return emit_closed(error) && write_state(error) &&
             serve::write_file_atomically(o_.state + ".otlp-series", otlp_->save_series(), error);
    }
    auto rest = engine_->finish();
    std::vector<k8snetio::finding> all = engine_->take_closed();
    std::move(rest.findings.begin(), rest.findings.end(), std::back_inserter(all));
    return write_findings(all, error);
  }

  void render_metrics(std::string& out) {
    std::lock_guard lock(mutex_);
    out +=
        "# HELP k8snetio_points_accepted_total Points accepted (a cumulative series' first "
        "point included).\n# TYPE k8snetio_points_accepted_total counter\n";
    out += fmt::format("k8snetio_points_accepted_total {}\n", accepted_);
    out +=
        "# HELP k8snetio_points_rejected_total Points rejected, by reason.\n"
        "# TYPE k8snetio_points_rejected_total counter\n";
    for (const auto& [reason, n] : rejected_)
      out += fmt::format("k8snetio_points_rejected_total{{reason=\"{}\"}} {}\n", reason, n);
    out +=
        "# HELP k8snetio_points_ignored_total Points read and not for this rule (other "
        "metrics, first points of cumulative series, counter resets).\n"
        "# TYPE k8snetio_points_ignored_total counter\n";
    for (const auto& [reason, n] : ignored_)
      out += fmt::format("k8snetio_points_ignored_total{{reason=\"{}\"}} {}\n", reason, n);
    out += "# TYPE k8snetio_late_points_total counter\n";
    out += fmt::format("k8snetio_late_points_total {}\n", engine_->stats().late);
    out +=
        "# HELP k8snetio_findings_emitted_total Findings written.\n"
        "# TYPE k8snetio_findings_emitted_total counter\n";
    out += fmt::format("k8snetio_findings_emitted_total{{status=\"final\"}} {}\n",
                       findings_ - provisional_);
    out +=
        fmt::format("k8snetio_findings_emitted_total{{status=\"provisional\"}} {}\n", provisional_);
    out +=
        "# HELP k8snetio_open_rows Buckets and half-joined rows held by the engine.\n"
        "# TYPE k8snetio_open_rows gauge\n";
    out += fmt::format("k8snetio_open_rows {}\n", engine_->open_rows());
    out += "# TYPE k8snetio_open_windows gauge\n";
    out += fmt::format("k8snetio_open_windows {}\n", open_windows());
    out +=
        "# HELP k8snetio_cumulative_series OTLP cumulative series whose last value is kept.\n"
        "# TYPE k8snetio_cumulative_series gauge\n";
    out += fmt::format("k8snetio_cumulative_series {}\n", otlp_->series_count());
    out += "# TYPE k8snetio_watermark_seconds gauge\n";
    out += fmt::format("k8snetio_watermark_seconds {}\n", latest_ ? *latest_ - lateness_ : 0);
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
      out += fmt::format("k8snetio_baseline_switches_total {}\n", table_switches_);
    }
    out += "# TYPE k8snetio_last_state_write_timestamp_seconds gauge\n";
    out += fmt::format("k8snetio_last_state_write_timestamp_seconds {}\n", last_state_write_);
  }

 private:
  std::int64_t window_of(double time) const {
    const auto t = static_cast<std::int64_t>(std::floor(time));
    return t - ((t % window_) + window_) % window_;
  }

  std::size_t open_windows() const {
    if (!latest_) return 0;
    return 1 + static_cast<std::size_t>(std::max<std::int64_t>(
                   0, (window_of(*latest_) - window_of(*latest_ - static_cast<double>(lateness_) -
                                                       2.0 * static_cast<double>(o_.span))) /
                          window_));
  }

  void note_time(double t) {
    if (!latest_ || t > *latest_) latest_ = t;
  }

  template <class Read>
  push_outcome push(Read&& read) {
    push_outcome out;
    std::map<std::int64_t, std::string> logged;
    std::map<std::string, std::uint64_t> reasons;
    const auto sink = [&](const k8snetio::metric_point& p) {
      const k8snetio::add_outcome used = engine_->add(p);
      if (used) {
        ++out.accepted;
        note_time(p.time);
        if (wal_) serve::append_log_line(logged[window_of(p.time)], p);
      } else {
        ++out.rejected;
        ++reasons[metric_label(k8snetio::to_string(used.reason))];
      }
    };
    const io::read_report report = read(sink);
    for (std::size_t i = 0; i < io::skip_reason_count; ++i) {
      const auto reason = static_cast<io::skip_reason>(i);
      const std::uint64_t n = report.skipped[i];
      if (!n) continue;
      if (io::is_error(reason)) {
        out.rejected += n;
        reasons[metric_label(io::to_string(reason))] += n;
      } else {
        out.accepted += n;
        ignored_[metric_label(io::to_string(reason))] += n;
      }
    }
    out.bad_syntax = report.count(io::skip_reason::bad_syntax);
    for (const auto& e : report.examples) {
      if (e.reason == io::skip_reason::bad_syntax && !out.first_bad_line)
        out.first_bad_line = e.line;
      if (out.message.size() < 200)
        out.message += (out.message.empty() ? "" : "; ") + e.to_string();
    }
    for (const auto& [reason, n] : reasons) {
      rejected_[reason] += n;
      if (out.message.find(reason) == std::string::npos && out.message.size() < 200)
        out.message += fmt::format("{}{} point{}: {}", out.message.empty() ? "" : "; ", n,
                                   n == 1 ? "" : "s", reason);
    }
    accepted_ += out.accepted;
    std::string error;
    if (wal_)
      for (const auto& [start, lines] : logged)
        if (!wal_->append(start, lines, error)) print_diagnostic("k8s-netio: error: {}\n", error);
    if (!emit_closed(error)) print_diagnostic("k8s-netio: error: {}\n", error);
    return out;
  }

  /// S2.1: the findings of the windows the watermark closed, written and made durable; a
  /// window written before a restart is not written again.
  bool emit_closed(std::string& error) {
    auto closed = engine_->take_closed();
    std::erase_if(closed, [&](const k8snetio::finding& f) {
      return f.window_end <= header_.emitted_through;
    });
    bool ok = true;
    if (!closed.empty()) {
      ok = write_findings(closed, error);
      for (const auto& f : closed) {
        // S3: a provisional finding's window is still open; only a final one closes it here.
        if (f.status == k8snetio::finding_status::provisional) {
          ++provisional_;
          continue;
        }
        header_.emitted_through = std::max(header_.emitted_through, f.window_end);
      }
      if (ok && wal_) ok = write_state(error);
    }
    if (wal_ && latest_) {
      // A segment goes once its window is a whole window and the lateness behind the
      // watermark: the engine closed it then whatever its open groups were.
      const std::int64_t keep_from =
          window_of(*latest_ - static_cast<double>(lateness_ + 2 * o_.span)) - window_;
      if (keep_from > dropped_before_) {
        // L8: the segments leave the log through the learner, whose state then covers them.
        if (ok) ok = learn_before(keep_from, error);
        if (ok) {
          wal_->drop_before(keep_from);
          dropped_before_ = keep_from;
        }
      }
    }
    return ok;
  }

  /// Reads one log segment's points into `add`; returns how many.
  template <class Add>
  static std::uint64_t replay_segment(const std::string& path, Add&& add) {
    std::ifstream segment(path, std::ios::binary);
    std::string line;
    serve::logged_point point;
    std::uint64_t n = 0;
    while (std::getline(segment, line)) {
      if (!point.parse(line)) continue;  // a line cut by a crash
      add(point.point());
      ++n;
    }
    return n;
  }

  std::string learner_path() const { return o_.state + ".learn"; }
  std::string learned_days_dir() const { return o_.state + ".baseline"; }

  /// L8: the learner as the last segments it read left it (STATE.learn), if any.
  bool restore_learner(std::string& error) {
    std::ifstream in(learner_path(), std::ios::binary);
    if (!in) return true;
    std::stringstream bytes;
    bytes << in.rdbuf();
    const std::string text = bytes.str();  // the reader's views point into it
    try {
      k8snetio::detail::snapshot_reader r(k8snetio::open_snapshot(text, "serve_learner", ""),
                                          "serve learner state");
      const std::int64_t through = r.i64();
      learner_->restore_state(r.str());
      r.expect_end();
      learned_through_ = through;
    } catch (const k8snetio::snapshot_error& e) {
      error = fmt::format("the learned baseline state {} cannot be restored: {}", learner_path(),
                          e.what());
      return false;
    }
    return true;
  }

  /// L8: feeds the learner the log segments of windows before `keep_from` (each once, in
  /// window order), saves its state, writes the days it completed, and with --learn detects
  /// from then on with the table of the complete days.
  bool learn_before(std::int64_t keep_from, std::string& error) {
    if (!learner_) return true;
    for (const auto& [start, path] : wal_->segments()) {
      if (start >= keep_from) break;
      if (start < learned_through_) continue;  // read before a crash that kept the segment
      replay_segment(path, [this](const k8snetio::metric_point& p) { learner_->add(p); });
    }
    learned_through_ = keep_from;
    const auto days = learner_->take_completed_days();
    if (!days.empty())
      if (auto failed = io::write_day_files(learner_->rolling(), days, learned_days_dir())) {
        error = *failed;
        return false;
      }
    k8snetio::detail::snapshot_writer w;
    w.i64(learned_through_);
    w.str(learner_->save_state());
    if (!serve::write_file_atomically(
            learner_path(), k8snetio::seal_snapshot("serve_learner", "", w.bytes()), error))
      return false;
    for (const std::int64_t day : days)
      print_diagnostic("k8s-netio: learned the day {} ({} days kept in {}){}\n",
                       k8snetio::utc_day_text(day), learner_->rolling().size(), learned_days_dir(),
                       o_.learn ? "; detecting with its table" : "");
    if (o_.learn && !days.empty()) {
      // The windows still open are detected again, from the log, with the new table; those
      // already closed keep the findings (or none) the old table gave.
      if (latest_)
        header_.emitted_through =
            std::max(header_.emitted_through,
                     window_of(*latest_ - static_cast<double>(lateness_ + 2 * o_.span)));
      use_learned_table();
      for (const auto& [start, path] : wal_->segments())
        if (start >= keep_from)
          replay_segment(path, [this](const k8snetio::metric_point& p) { engine_->add(p); });
      if (!write_state(error)) return false;
    }
    return true;
  }

  /// L8: a fresh engine on the learned table (the caller replays the log into it).
  void use_learned_table() {
    table_ = learner_->rolling().result().table;
    engine_ = std::make_unique<detector_type>(rule_, table_, options_);
    ++table_switches_;
  }

  bool write_findings(const std::vector<k8snetio::finding>& found, std::string& error) {
    if (found.empty()) return true;
    std::string text;
    io::write_findings(text, found, format_, io::findings_write_options{});
    findings_ += found.size();
    if (std::fwrite(text.data(), 1, text.size(), out_) != text.size() || std::fflush(out_) != 0) {
      error = fmt::format("cannot write the findings: {}", std::strerror(errno));
      return false;
    }
    if (out_ != stdout) ::fsync(::fileno(out_));
    return true;
  }

  bool write_state(std::string& error) {
    if (o_.state.empty()) return true;
    if (!serve::write_file_atomically(o_.state, header_.text(), error)) return false;
    last_state_write_ = static_cast<std::int64_t>(std::time(nullptr));
    return true;
  }

  const serve_options& o_;
  const k8snetio::rule_definition<2>& rule_;
  k8snetio::detection_options options_;
  std::int64_t window_;
  std::int64_t lateness_;
  std::mutex mutex_;
  k8snetio::baseline_table<2> table_;  // the --baseline file's, or the learned one (L8)
  std::unique_ptr<detector_type> engine_;
  std::optional<k8snetio::baseline_learner<2>> learner_;  // L8, with --state
  std::int64_t learned_through_ = std::numeric_limits<std::int64_t>::min();
  std::uint64_t table_switches_ = 0;
  io::output_format format_;
  std::unique_ptr<io::otlp_reader> otlp_;
  std::unique_ptr<io::hec_reader> hec_;
  std::unique_ptr<serve::write_ahead_log> wal_;
  state_header header_;
  std::FILE* out_ = nullptr;
  std::optional<double> latest_;
  std::int64_t dropped_before_ = std::numeric_limits<std::int64_t>::min();
  std::uint64_t accepted_ = 0;
  std::uint64_t findings_ = 0;
  std::uint64_t provisional_ = 0;
  std::int64_t last_state_write_ = 0;
  std::map<std::string, std::uint64_t> rejected_;
  std::map<std::string, std::uint64_t> ignored_;
};

/// The body of a request, at most `cap` bytes after decompression (L5); nullopt beyond it.
std::optional<std::string> read_body(const httplib::ContentReader& reader, std::size_t cap) {
  std::string body;
  bool too_large = false;
  reader([&](const char* data, std::size_t n) {
    if (body.size() + n > cap) {
      too_large = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  if (too_large) return std::nullopt;
  return body;
}

void reply_too_large(httplib::Response& res, std::size_t cap, bool hec) {
  res.status = 413;
  res.set_header("Connection", "close");
  res.set_content(
      hec ? fmt::format("{{\"text\":\"Content too large\",\"code\":27,\"limit\":{}}}", cap)
          : fmt::format("{{\"code\":8,\"message\":{}}}",
                        json_string(fmt::format("the request body is larger than {} bytes "
                                                "(--max-body); send smaller batches",
                                                cap))),
      "application/json");
}

thread_local std::chrono::steady_clock::time_point request_start;
std::atomic<bool> stop_requested{false};

int run_serve(const serve_options& o) {
  const auto fail = [](const std::string& message) {
    print_diagnostic("k8s-netio: error: {}\n", quoted_for_diagnostic(message));
    return exit_failure;
  };
  const auto window = parse_duration(o.window);
  const auto lateness =
      o.lateness == "0" ? std::optional<std::int64_t>(0) : parse_duration(o.lateness);
  const auto read_timeout = parse_duration(o.read_timeout);
  if (!window || *window % o.span) return fail("--window must be a positive multiple of --span");
  if (!lateness) return fail("--lateness must be a duration such as 30s");
  if (!read_timeout) return fail("--read-timeout must be a duration such as 10s");
  const auto format = io::parse_output_format(o.format);
  if (!format) return fail(format.error().what());
  if (*format != io::output_format::jsonl && *format != io::output_format::hec &&
      *format != io::output_format::ocsf && *format != io::output_format::risk)
    return fail("serve writes one line per finding: use --format jsonl, hec, ocsf or risk");
  const auto colon = o.listen.rfind(':');
  if (colon == std::string::npos) return fail("--listen must be HOST:PORT");
  const std::string host = o.listen.substr(0, colon);
  int port = 0;
  try {
    port = std::stoi(o.listen.substr(colon + 1));
  } catch (const std::exception&) {
    return fail("--listen must be HOST:PORT");
  }

  const auto& rule =
      o.rule == "ratio" ? k8snetio::network_io_ratio : k8snetio::anomalous_network_io;
  auto table = io::load_baseline_csv<2>(o.baseline, *rule.measures);
  if (!table) return fail(table.error().what());
  const auto baseline_hash = serve::hash_file(o.baseline);
  if (!baseline_hash) return fail("cannot read " + o.baseline);

  k8snetio::detection_options options;
  options.span.span_seconds = o.span;
  options.span.metric_name = o.metric;
  options.span.allowed_lateness = *lateness;
  options.span.max_open_groups = o.max_open_groups;  // L5: the cardinality cap (S5.1)
  options.scoring.sigma = o.sigma;
  options.min_count = o.min_count;
  options.window_seconds = *window;
  options.early_alerts = o.early_alerts;  // S3

  // Signals are taken by one thread (sigwait); every other thread inherits them blocked.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (o.learn && o.state.empty())
    return fail("--learn needs --state: the learned days are kept beside the state");
  if (o.horizon < 1) return fail("--horizon must be at least one day");
  if (!o.state.empty() && 86400 % o.span != 0)
    return fail(
        fmt::format("with --state the service learns per UTC day (L8): --span ({} s) "
                    "must divide a day",
                    o.span));
  live_service service(o, rule, std::move(*table), options, *format);
  std::string error;
  if (!service.open_output(error)) return fail(error);

  httplib::Server server;
  // A reply is written as headers, then body: without TCP_NODELAY, Nagle's algorithm holds the
  // body until the client's delayed ACK (40 ms a request on a kept-alive connection). This
  // httplib sets no option on accepted sockets; Linux gives them the listening socket's.
  server.set_socket_options([](socket_t sock) {
    const int on = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  });
  const int bound =
      port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
  if (bound < 0) return fail(fmt::format("cannot listen on {}", o.listen));
  print_diagnostic("k8s-netio: listening on {}:{}\n", host, bound);

  serve::state_header identity;
  identity.rule = o.rule;
  identity.baseline_hash = *baseline_hash;
  identity.window_seconds = *window;
  identity.span_seconds = o.span;
  if (!service.resume(identity, error)) return fail(error);

  request_metrics metrics;
  server.set_payload_max_length(o.max_body);
  // Collectors keep their connections; httplib's default closes one after 5 requests.
  server.set_keep_alive_max_count(100000);
  server.set_read_timeout(static_cast<time_t>(*read_timeout), 0);
  server.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
    request_start = std::chrono::steady_clock::now();
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server.set_logger([&](const httplib::Request& req, const httplib::Response& res) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - request_start).count();
    const bool known = req.path == "/v1/metrics" || req.path == "/services/collector" ||
                       req.path == "/services/collector/event" || req.path == "/healthz" ||
                       req.path == "/metrics";
    metrics.record(known ? req.path : "other", res.status, seconds);
  });
  server.set_error_handler(httplib::Server::HandlerWithResponse([&o](const httplib::Request& req,
                                                                     httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 413) {
      reply_too_large(res, o.max_body, req.path.rfind("/services/collector", 0) == 0);
      return httplib::Server::HandlerResponse::Handled;
    }
    res.set_content(
        fmt::format("{{\"code\":{},\"message\":{}}}", res.status == 404 ? 5 : 3,
                    json_string(res.status == 404 ? "no such path: " + req.path : "bad request")),
        "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));

  std::atomic<std::size_t> in_flight{0};
  server.Post("/v1/metrics", [&](const httplib::Request& req, httplib::Response& res,
                                 const httplib::ContentReader& content) {
    const admission admitted(in_flight, o.max_in_flight);
    if (!admitted) return reply_busy(res, false);
    auto body = read_body(content, o.max_body);
    if (!body) return reply_too_large(res, o.max_body, false);
    if (!o.otlp_token.empty() &&
        !same_token(req.get_header_value("Authorization"), "Bearer " + o.otlp_token)) {
      res.status = 401;
      res.set_content(R"({"code":16,"message":"Authorization: Bearer <token> is required"})",
                      "application/json");
      return;
    }
    const std::string type = req.get_header_value("Content-Type");
    if (type.rfind("application/json", 0) != 0) {
      res.status = 415;
      res.set_content(
          fmt::format("{{\"code\":3,\"message\":{}}}",
                      json_string(fmt::format(
                          "content type '{}' is not read: this service reads OTLP/HTTP JSON; set "
                          "`encoding: json` on the collector's otlphttp exporter",
                          type))),
          "application/json");
      return;
    }
    const push_outcome out = service.push_otlp(*body);
    if (out.bad_syntax) {
      res.status = 400;
      res.set_content(fmt::format("{{\"code\":3,\"message\":{}}}", json_string(out.message)),
                      "application/json");
    } else if (out.rejected) {
      res.set_content(
          fmt::format(R"({{"partialSuccess":{{"rejectedDataPoints":"{}","errorMessage":{}}}}})",
                      out.rejected, json_string(out.message)),
          "application/json");
    } else {
      res.set_content("{}", "application/json");
    }
  });

  const auto hec = [&](const httplib::Request& req, httplib::Response& res,
                       const httplib::ContentReader& content) {
    const admission admitted(in_flight, o.max_in_flight);
    if (!admitted) return reply_busy(res, true);
    auto body = read_body(content, o.max_body);
    if (!body) return reply_too_large(res, o.max_body, true);
    if (!o.hec_tokens.empty()) {
      const std::string auth = req.get_header_value("Authorization");
      if (auth.empty()) {
        res.status = 401;
        res.set_content(R"({"text":"Token is required","code":2})", "application/json");
        return;
      }
      if (auth.rfind("Splunk ", 0) != 0) {
        res.status = 401;
        res.set_content(R"({"text":"Invalid authorization","code":3})", "application/json");
        return;
      }
      bool known = false;
      for (const auto& token : o.hec_tokens) known |= same_token(auth.substr(7), token);
      if (!known) {
        res.status = 403;
        res.set_content(R"({"text":"Invalid token","code":4})", "application/json");
        return;
      }
    }
    if (body->find_first_not_of(" \t\r\n") == std::string::npos) {
      res.status = 400;
      res.set_content(R"({"text":"No data","code":5})", "application/json");
      return;
    }
    const push_outcome out = service.push_hec(*body);
    if (out.bad_syntax) {
      res.status = 400;
      res.set_content(
          fmt::format(R"({{"text":"Invalid data format","code":6,"invalid-event-number":{}}})",
                      out.first_bad_line ? out.first_bad_line - 1 : 0),
          "application/json");
      return;
    }
    res.set_content(R"({"text":"Success","code":0})", "application/json");
  };
  server.Post("/services/collector", hec);
  server.Post("/services/collector/event", hec);
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    std::string text;
    service.render_metrics(text);
    metrics.render(text);
    res.set_content(text, "text/plain; version=0.0.4");
  });
  const auto not_allowed = [](const char* allow) {
    return [allow](const httplib::Request& req, httplib::Response& res) {
      res.status = 405;
      res.set_header("Allow", allow);
      res.set_content(fmt::format("{{\"code\":12,\"message\":{}}}",
                                  json_string(fmt::format("{} is not allowed on {}; use {}",
                                                          req.method, req.path, allow))),
                      "application/json");
    };
  };
  for (const char* path : {"/v1/metrics", "/services/collector", "/services/collector/event"}) {
    server.Get(path, not_allowed("POST"));
    server.Put(path, not_allowed("POST"));
    server.Delete(path, not_allowed("POST"));
    server.Patch(path, not_allowed("POST"));
  }
  for (const char* path : {"/healthz", "/metrics"}) {
    server.Post(path, not_allowed("GET"));
    server.Put(path, not_allowed("GET"));
    server.Delete(path, not_allowed("GET"));
  }

  // L6: SIGTERM or SIGINT stops accepting; listen_after_bind returns once the requests in
  // flight are done (the thread pool is joined).
  std::atomic<bool> listening_done{false};
  std::thread signal_thread([&] {
    int received = 0;
    sigwait(&signals, &received);
    stop_requested = true;
    for (int i = 0; i < 2000 && !listening_done; ++i) {
      if (server.is_running()) server.stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  if (!stop_requested) server.listen_after_bind();
  listening_done = true;
  if (!stop_requested) pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();

  if (!service.shut_down(error)) return fail(error);
  print_diagnostic("k8s-netio: stopped{}\n", o.state.empty() ? "" : "; state kept in " + o.state);
  return exit_ok;
}

}  // namespace

serve_command add_serve_command(CLI::App& app) {
  auto o = std::make_shared<serve_options>();
  serve_command serve;
  auto* cmd = app.add_subcommand("serve", "Receive OTLP/HTTP and HEC pushes and detect live");
  serve.command = cmd;
  cmd->add_option("--baseline", o->baseline, "Baseline table (from `k8s-netio baseline`)")
      ->required();
  cmd->add_option("--rule", o->rule, "io or ratio")->check(CLI::IsMember({"io", "ratio"}));
  cmd->add_option("--listen", o->listen, "HOST:PORT (port 0: any free port)");
  cmd->add_option("--window", o->window, "Window length (D9), e.g. 1h");
  cmd->add_option("--lateness", o->lateness, "Allowed lateness of points (S1.3), e.g. 30s");
  cmd->add_option("-o,--output", o->output, "Findings file, appended (default: standard output)");
  cmd->add_option("--format", o->format, "jsonl, hec, ocsf or risk");
  cmd->add_option("--hec-token", o->hec_tokens, "A HEC token accepted (repeatable)");
  cmd->add_option("--otlp-token", o->otlp_token,
                  "Require Authorization: Bearer TOKEN on /v1/metrics");
  cmd->add_option("--max-body", o->max_body, "Largest request body in bytes, after decompression");
  cmd->add_option("--max-in-flight", o->max_in_flight,
                  "Data requests read or waiting for the engine at once; beyond it a request "
                  "gets 503 with Retry-After (L5)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--read-timeout", o->read_timeout, "Cut off a client that stalls this long");
  cmd->add_option("--max-open-groups", o->max_open_groups,
                  "Cardinality cap: buckets held open at once (about 64 bytes each)");
  cmd->add_option("--state", o->state, "State file; a write-ahead log is kept beside it");
  cmd->add_option("--metric", o->metric, "Metric name read");
  cmd->add_option("--span", o->span, "Bucket span in seconds (D1.3)")->check(CLI::PositiveNumber);
  cmd->add_option("--sigma", o->sigma, "Sigma threshold (D6)");
  cmd->add_option("--min-count", o->min_count, "Persistence: count > N (D7.2)");
  cmd->add_option("--default-cluster", o->default_cluster, "k8s.cluster.name for points without");
  cmd->add_option("--default-node", o->default_node, "k8s.node.name for points without");
  cmd->add_flag("--early-alerts", o->early_alerts,
                "S3: a provisional finding as soon as a pod passes the threshold, the final one "
                "when its window closes");
  cmd->add_flag("--learn", o->learn,
                "L8: detect with the baseline learned from what the service receives (kept with "
                "--state in STATE.baseline/), from the day after each UTC day completes; off by "
                "default, as the ESCU baseline is computed from past days only");
  cmd->add_option("--horizon", o->horizon, "L8: days of the learned baseline")
      ->capture_default_str();
  serve.run = [o] { return run_serve(*o); };
  return serve;
}

}  // namespace k8snetio_cli
