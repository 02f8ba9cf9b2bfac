// `k8s-netio consume` (service.md K1–K5): a Kafka adapter over the library's live core (L0).
// Each assigned partition has its own live detector (K2, partitioned_engines): the same
// decoding, accounting, statuses and defaults as serve. Its state goes to a compacted state
// topic (the consumer's state store) on revoke, at checkpoints and at shutdown, and comes back
// on assign before any message (K3); offsets are committed only after the state covering them
// and the findings it produced are durable. Findings go to an output topic keyed by finding id,
// or to a file appended and fsynced as windows close (K4, issue 28 #1).
#include "consume_command.hpp"

#include <memory>
#include <string>
#include <vector>

#include "cli_support.hpp"

#if K8SNETIO_HAVE_RDKAFKA

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <sstream>
#include <string_view>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <httplib.h>
#include <librdkafka/rdkafka.h>

#include "consume_partition.hpp"

#include <k8snetio/engine/partitioned.hpp>
#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/io/baseline_state_dir.hpp>

namespace k8snetio_cli {
namespace {

namespace io = k8snetio::io;
namespace svc = k8snetio::service;
using consume::partition_pipeline;
using k8snetio::partition_id;
using engine_set = k8snetio::partitioned_engines<partition_pipeline>;

struct consume_options {
  std::string brokers;
  std::string topic;
  std::string group = "k8s-netio";
  std::string baseline;
  std::string input_format = "otlp";
  std::string state_topic;
  std::string output_topic;
  std::string output;
  std::string format = "jsonl";
  std::vector<std::string> properties;  // -X name=value
  std::string rule = "io";
  std::string checkpoint = "5s";
  svc::live_options live;  ///< L0: the same options, defaults and checks as serve
  live_flag_texts texts;
  std::string hec_index;
  std::string metrics_listen;  ///< K1: HOST:PORT of the L4 /metrics and /healthz
  std::string baseline_state;  ///< K6: per-partition per-day baseline states, one folder each
};

std::atomic<bool> stop_requested{false};
extern "C" void request_stop(int) { stop_requested = true; }

/// The largest value of one state message; larger states are chunked (K3).
constexpr std::size_t state_chunk_bytes = 512 * 1024;
constexpr std::string_view manifest_magic = "k8snetio-state-manifest 1";

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

/// A -X property only consumers read: not given to the producer, which would warn about it.
bool is_consumer_property(std::string_view name) {
  for (std::string_view prefix :
       {"session.", "heartbeat.", "group.", "partition.assignment", "auto.", "enable.auto",
        "max.poll", "fetch.", "isolation.", "check.crcs", "queued.", "enable.partition.eof"})
    if (name.substr(0, prefix.size()) == prefix) return true;
  return false;
}

/// A librdkafka handle that is destroyed once.
struct kafka_handle {
  rd_kafka_t* rk = nullptr;
  kafka_handle() = default;
  kafka_handle(const kafka_handle&) = delete;
  kafka_handle& operator=(const kafka_handle&) = delete;
  ~kafka_handle() {
    if (rk) rd_kafka_destroy(rk);
  }
};

struct partition_list {
  rd_kafka_topic_partition_list_t* list;
  explicit partition_list(int size = 8) : list(rd_kafka_topic_partition_list_new(size)) {}
  partition_list(const partition_list&) = delete;
  partition_list& operator=(const partition_list&) = delete;
  ~partition_list() { rd_kafka_topic_partition_list_destroy(list); }
};

/// A malformed message, named by where it is (K1: never fatal).
struct malformed_message {
  std::string where;
  std::string why;
};

class consumer {
 public:
  consumer(const consume_options& o, const k8snetio::rule_definition<2>& rule,
           std::shared_ptr<const k8snetio::baseline_table<2>> table, io::output_format format,
           std::string settings, std::optional<k8snetio::baseline_run_options> learn)
      : o_(o),
        format_(format),
        engines_(
            [this, &rule, table, learn, horizon = o.live.horizon_days](const partition_id& id) {
              k8snetio::rolling_baseline_options rolling;
              rolling.horizon_days = horizon;
              auto p = std::make_unique<partition_pipeline>(
                  rule, table, o_.live,
                  [this](std::span<const k8snetio::finding> found, std::string& error) {
                    return write_findings(found, error);
                  },
                  learn, rolling);
              p->on_point = [this, id](const k8snetio::metric_point& point) {
                note_pod(point, id);
              };
              return p;
            },
            std::move(settings)) {
    state_topic_ = o.state_topic.empty() ? o.group + ".k8snetio-state" : o.state_topic;
    line_format_ = format == io::output_format::jsonl || format == io::output_format::hec ||
                   format == io::output_format::ocsf || format == io::output_format::risk;
  }

  /// Creates the consumer and the producer; false with `error` set when librdkafka refuses.
  bool start(std::string& error) {
    char why[512];
    const auto configure = [&](rd_kafka_conf_t* conf, bool for_consumer) {
      const auto set = [&](const std::string& name, const std::string& value) {
        if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), why, sizeof why) !=
            RD_KAFKA_CONF_OK) {
          error = fmt::format("-X {}={}: {}", name, value, why);
          return false;
        }
        return true;
      };
      if (!set("bootstrap.servers", o_.brokers)) return false;
      if (for_consumer) {
        if (!set("group.id", o_.group) || !set("enable.auto.commit", "false") ||
            !set("enable.auto.offset.store", "false") || !set("auto.offset.reset", "earliest"))
          return false;
      } else {
        if (!set("linger.ms", "5")) return false;
      }
      for (const auto& property : o_.properties) {
        const auto eq = property.find('=');
        if (eq == std::string::npos) {
          error = fmt::format("-X {}: expected name=value", property);
          return false;
        }
        const std::string name = property.substr(0, eq), value = property.substr(eq + 1);
        if (!for_consumer && is_consumer_property(name)) continue;
        if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), why, sizeof why) !=
                RD_KAFKA_CONF_OK &&
            for_consumer) {
          error = fmt::format("-X {}: {}", property, why);
          return false;
        }
      }
      return true;
    };

    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    if (!configure(conf, true)) return rd_kafka_conf_destroy(conf), false;
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_rebalance_cb(conf, &consumer::on_rebalance);
    consumer_.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!consumer_.rk) return error = why, false;
    rd_kafka_poll_set_consumer(consumer_.rk);

    conf = rd_kafka_conf_new();
    if (!configure(conf, false)) return rd_kafka_conf_destroy(conf), false;
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, &consumer::on_delivery);
    producer_.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    if (!producer_.rk) return error = why, false;

    // The state topic's partition count fixes where each partition's state lives.
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_topic_t* handle = rd_kafka_topic_new(producer_.rk, state_topic_.c_str(), nullptr);
    const auto err = rd_kafka_metadata(producer_.rk, 0, handle, &metadata, 10000);
    rd_kafka_topic_destroy(handle);
    if (err)
      return error = fmt::format("cannot read the metadata of the state topic {}: {}", state_topic_,
                                 rd_kafka_err2str(err)),
             false;
    if (metadata->topic_cnt == 1 && !metadata->topics[0].err)
      state_partitions_ = metadata->topics[0].partition_cnt;
    const auto topic_err =
        metadata->topic_cnt ? metadata->topics[0].err : RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_metadata_destroy(metadata);
    if (state_partitions_ <= 0)
      return error = fmt::format(
                 "the state topic {} does not exist ({}): create it with cleanup.policy=compact, "
                 "or name another with --state-topic",
                 state_topic_, rd_kafka_err2str(topic_err)),
             false;

    partition_list topics;
    rd_kafka_topic_partition_list_add(topics.list, o_.topic.c_str(), RD_KAFKA_PARTITION_UA);
    if (const auto e = rd_kafka_subscribe(consumer_.rk, topics.list))
      return error = fmt::format("cannot subscribe to {}: {}", o_.topic, rd_kafka_err2str(e)),
             false;
    print_diagnostic("k8s-netio: consuming {} as group {} (state in {}, {} partition{})\n",
                     o_.topic, o_.group, state_topic_, state_partitions_,
                     state_partitions_ == 1 ? "" : "s");
    return true;
  }

  /// Polls until SIGTERM/SIGINT or a fatal error; then shuts down as L6 says.
  bool run(std::string& error) {
    const auto interval = std::chrono::seconds(*parse_duration(o_.checkpoint));
    auto next_checkpoint = std::chrono::steady_clock::now() + interval;
    auto next_metrics = std::chrono::steady_clock::now();
    while (!stop_requested && fatal_.empty()) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.rk, 100);
      if (m) {
        handle(*m);
        rd_kafka_message_destroy(m);
      }
      rd_kafka_poll(producer_.rk, 0);
      const auto now = std::chrono::steady_clock::now();
      if (now >= next_checkpoint && fatal_.empty()) {
        checkpoint(false);
        next_checkpoint = std::chrono::steady_clock::now() + interval;
      }
      if (metrics_server_ && now >= next_metrics) {
        publish_metrics();  // the poll thread owns the counters; /metrics reads a copy
        next_metrics = now + std::chrono::milliseconds(500);
      }
    }
    if (fatal_.empty()) {
      // L6: complete windows were flushed as they closed; open ones stay in the state.
      checkpoint(true);
      shutting_down_ = true;
    }
    leave_group();
    rd_kafka_consumer_close(consumer_.rk);  // revokes (and saves, unless fatal) what is left
    rd_kafka_flush(producer_.rk, 10000);
    stop_metrics();
    if (!fatal_.empty()) return error = fatal_, false;
    return true;
  }

  /// Leaves the group before rd_kafka_consumer_close: librdkafka 2.x aborts the process in
  /// rd_kafka_consumer_close ("rd_kafka_cgrp_terminated: assert:
  /// !rd_kafka_assignment_in_progress") when another member's join is still being served
  /// (confluentinc/librdkafka#4792; seen here in kafka.K5 with three consumers). Unsubscribing
  /// and serving the revoke from this loop first is that workaround. Messages still
  /// delivered meanwhile are handled as usual, so the state saved at the revoke covers them.
  void leave_group() {
    rd_kafka_unsubscribe(consumer_.rk);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!engines_.partitions().empty() && std::chrono::steady_clock::now() < deadline) {
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.rk, 100)) {
        if (fatal_.empty()) handle(*m);
        rd_kafka_message_destroy(m);
      }
    }
  }

  /// Line formats to a file: opened for appending now, each finding written, flushed and
  /// fsynced as its window closes, before any offset that produced it is committed (K3,
  /// issue 28 #1). False with `error` when it cannot be opened.
  bool open_output(std::string& error) {
    if (!o_.output_topic.empty() || !line_format_ || o_.output.empty() || o_.output == "-")
      return true;
    out_file_ = std::fopen(o_.output.c_str(), "ae");
    if (!out_file_) {
      error = fmt::format("cannot open {}: {}", o_.output, std::strerror(errno));
      return false;
    }
    return true;
  }

  bool write_output(std::string& error) {
    if (!o_.output_topic.empty() || line_format_) return true;  // written live
    output_file out;
    if (!out.open(o_.output, error)) return false;
    io::findings_write_options options;
    options.hec_index = o_.hec_index;
    std::string text;
    io::write_findings(text, findings_, format_, options);
    out.write(text);
    return out.close(error);
  }

  /// K1, L4: /metrics and /healthz on --metrics-listen, served from a thread of their own. The
  /// first line it prints names the port (HOST:0 picks a free one). False with `error` set when
  /// it cannot listen.
  bool start_metrics(std::string& error) {
    if (o_.metrics_listen.empty()) return true;
    const auto colon = o_.metrics_listen.rfind(':');
    int port = -1;
    if (colon != std::string::npos) {
      try {
        port = std::stoi(o_.metrics_listen.substr(colon + 1));
      } catch (const std::exception&) {
      }
    }
    if (port < 0 || port > 65535) return error = "--metrics-listen must be HOST:PORT", false;
    const std::string host = o_.metrics_listen.substr(0, colon);
    metrics_server_ = std::make_unique<httplib::Server>();
    publish_metrics();
    metrics_server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok\n", "text/plain");
    });
    metrics_server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(metrics_mutex_);
      res.set_content(metrics_text_, "text/plain; version=0.0.4");
    });
    const int bound = port == 0 ? metrics_server_->bind_to_any_port(host)
                                : (metrics_server_->bind_to_port(host, port) ? port : -1);
    if (bound < 0) {
      metrics_server_.reset();
      return error = fmt::format("cannot listen on {}", o_.metrics_listen), false;
    }
    print_diagnostic("k8s-netio: metrics on {}:{}\n", host, bound);
    metrics_thread_ = std::thread([this] { metrics_server_->listen_after_bind(); });
    return true;
  }

  void stop_metrics() {
    if (!metrics_server_) return;
    publish_metrics();
    metrics_server_->stop();
    if (metrics_thread_.joinable()) metrics_thread_.join();
    metrics_server_.reset();
  }

  ~consumer() {
    stop_metrics();
    if (out_file_) std::fclose(out_file_);
  }

  void print_summary() const {
    std::string reasons;
    for (std::size_t i = 0; i < svc::point_outcome_count; ++i) {
      const auto o = static_cast<svc::point_outcome>(i);
      if (svc::class_of(o) == svc::outcome_class::rejected && counts_[o])
        reasons += fmt::format("{}{} {}", reasons.empty() ? " (" : ", ", with_commas(counts_[o]),
                               svc::label(o));
    }
    if (!reasons.empty()) reasons += ")";
    print_diagnostic(
        "k8s-netio: {} message{} from {}: points {} accepted, {} rejected{}, {} ignored; {} "
        "malformed message{}; {} replayed message{} skipped; {} finding{} written\n",
        with_commas(messages_), messages_ == 1 ? "" : "s", o_.topic,
        with_commas(counts_.accepted()), with_commas(counts_.rejected()), reasons,
        with_commas(counts_.ignored()), with_commas(malformed_.size() + malformed_more_),
        malformed_.size() + malformed_more_ == 1 ? "" : "s", with_commas(replayed_),
        replayed_ == 1 ? "" : "s", with_commas(findings_written_),
        findings_written_ == 1 ? "" : "s");
    if (messages_ > 1) {
      const double seconds = std::chrono::duration<double>(last_message_ - first_message_).count();
      print_diagnostic(
          "k8s-netio: {:.2f} s from the first message to the last (from {:.3f} epoch): {} "
          "points/s, {} messages/s\n",
          seconds, std::chrono::duration<double>(first_message_epoch_.time_since_epoch()).count(),
          with_commas(static_cast<std::uint64_t>(
              static_cast<double>(counts_.accepted() + counts_.rejected()) /
              std::max(seconds, 1e-9))),
          with_commas(static_cast<std::uint64_t>(static_cast<double>(messages_) /
                                                 std::max(seconds, 1e-9))));
    }
    for (const auto& m : malformed_)
      print_diagnostic("k8s-netio: malformed message {}: {}\n", m.where,
                       quoted_for_diagnostic(m.why));
    if (malformed_more_)
      print_diagnostic("k8s-netio: … and {} more malformed messages\n", malformed_more_);
    for (const auto& [pod, where] : split_pods_)
      print_diagnostic(
          "k8s-netio: warning: pod {} is on partitions {}: its series are split, so its buckets "
          "are incomplete (key the collector's kafka exporter by pod)\n",
          quoted_for_diagnostic(pod), where);
  }

 private:
  // ---- messages ------------------------------------------------------------------------------

  void note_malformed(const partition_id& id, std::int64_t offset, std::string why) {
    auto& pipeline = engines_.engine(id);
    ++pipeline.malformed;
    if (malformed_.size() < 10)
      malformed_.push_back({fmt::format("{}@{}", id.to_string(), offset), std::move(why)});
    else
      ++malformed_more_;
  }

  void handle(const rd_kafka_message_t& m) {
    if (m.err) {
      if (m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
      print_diagnostic("k8s-netio: kafka: {}\n", rd_kafka_message_errstr(&m));
      return;
    }
    const partition_id id{rd_kafka_topic_name(m.rkt), m.partition};
    if (!engines_.assigned(id)) return;  // a message fetched before a revoke
    if (!engines_.is_new(id, m.offset)) {
      ++replayed_;  // K3: the restored state already holds it
      return;
    }
    ++messages_;
    last_message_ = std::chrono::steady_clock::now();
    if (messages_ == 1) {
      first_message_ = last_message_;
      first_message_epoch_ = std::chrono::system_clock::now();
    }
    auto& pipeline = engines_.engine(id);
    ++pipeline.messages;
    const std::string_view payload(static_cast<const char*>(m.payload), m.len);
    decode(id, m.offset, payload, pipeline);
    engines_.processed(id, m.offset);
    learn(id, pipeline);
  }

  /// L4's exposition of this process's counters (K1), taken on the poll thread.
  void publish_metrics() {
    std::string out;
    const auto counter = [&out](std::string_view name, std::string_view help, auto value) {
      out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, value);
    };
    counter("k8snetio_points_accepted_total",
            "Points accepted (a cumulative series' first point included).", counts_.accepted());
    out +=
        "# HELP k8snetio_points_rejected_total Points rejected, by reason.\n"
        "# TYPE k8snetio_points_rejected_total counter\n";
    out +=
        "# HELP k8snetio_points_ignored_total Points not for this rule, by reason.\n"
        "# TYPE k8snetio_points_ignored_total counter\n";
    for (std::size_t i = 0; i < svc::point_outcome_count; ++i) {
      const auto o = static_cast<svc::point_outcome>(i);
      const auto c = svc::class_of(o);
      if (c == svc::outcome_class::accepted || !counts_[o]) continue;
      out += fmt::format("k8snetio_points_{}_total{{reason=\"{}\"}} {}\n",
                         c == svc::outcome_class::rejected ? "rejected" : "ignored", svc::label(o),
                         counts_[o]);
    }
    counter("k8snetio_messages_total", "Messages consumed (replays skipped excluded).", messages_);
    counter("k8snetio_malformed_messages_total", "Messages that were not OTLP JSON or HEC.",
            malformed_.size() + malformed_more_);
    counter("k8snetio_replayed_messages_skipped_total",
            "Messages a restored state already held (K3).", replayed_);
    out +=
        "# HELP k8snetio_findings_emitted_total Findings written, by status (L12).\n"
        "# TYPE k8snetio_findings_emitted_total counter\n";
    for (const auto st : {k8snetio::finding_status::final, k8snetio::finding_status::provisional,
                          k8snetio::finding_status::partial})
      out +=
          fmt::format("k8snetio_findings_emitted_total{{status=\"{}\"}} {}\n",
                      k8snetio::to_string(st), findings_by_status_[static_cast<std::size_t>(st)]);
    std::uint64_t late = counts_[svc::point_outcome::late], learned = 0;
    for (const auto& id : engines_.partitions()) {
      const auto& p = engines_.engine(id);
      if (p.learner) learned += p.learner->rolling().size();
    }
    out += fmt::format(
        "# TYPE k8snetio_late_points_total counter\nk8snetio_late_points_total {}\n"
        "# HELP k8snetio_assigned_partitions Partitions this consumer holds.\n"
        "# TYPE k8snetio_assigned_partitions gauge\nk8snetio_assigned_partitions {}\n",
        late, engines_.partitions().size());
    if (!o_.baseline_state.empty())
      out += fmt::format(
          "# HELP k8snetio_learned_days Days held by the partitions' learners (K6), summed.\n"
          "# TYPE k8snetio_learned_days gauge\nk8snetio_learned_days {}\n",
          learned);
    out += fmt::format(
        "# TYPE k8snetio_last_state_write_timestamp_seconds gauge\n"
        "k8snetio_last_state_write_timestamp_seconds {}\n",
        last_state_write_);
    std::lock_guard lock(metrics_mutex_);
    metrics_text_ = std::move(out);
  }

  /// K6: the days this partition's learner completed, written to its folder of day states
  /// (`baseline --merge DIR/*` combines the partitions'). Written again, identical, when a
  /// message is replayed after a failover.
  void learn(const partition_id& id, partition_pipeline& pipeline) {
    if (!pipeline.learner) return;
    const auto days = pipeline.learner->take_completed_days();
    if (days.empty()) return;
    const std::string dir =
        (std::filesystem::path(o_.baseline_state) / fmt::format("{}-{}", id.topic, id.partition))
            .string();
    if (auto failed = io::write_day_files(pipeline.learner->rolling(), days, dir)) {
      fatal_ = *failed;
      return;
    }
    for (const std::int64_t day : days)
      print_diagnostic("k8s-netio: {} learned the day {} into {}\n", id.to_string(),
                       k8snetio::utc_day_text(day), quoted_for_diagnostic(dir));
  }

  /// K1.1: one message into its partition's live detector (the core decodes and counts).
  void decode(const partition_id& id, std::int64_t offset, std::string_view payload,
              partition_pipeline& pipeline) {
    const auto first = payload.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return note_malformed(id, offset, "empty message");
    const svc::payload_kind kind = o_.input_format == "hec"         ? svc::payload_kind::hec
                                   : o_.input_format == "otlp-json" ? svc::payload_kind::otlp_json
                                   : o_.input_format == "otlp-proto"
                                       ? svc::payload_kind::otlp_protobuf
                                       : svc::sniff_otlp(payload);
    const svc::ingest_result r = pipeline.live.ingest(kind, payload);
    if (r.state == svc::ingest_result::status::unsupported ||
        r.state == svc::ingest_result::status::malformed)
      note_malformed(id, offset, r.message.empty() ? "bad syntax" : r.message);
    pipeline.accepted += r.accepted();
    pipeline.rejected += r.rejected();
    pipeline.ignored += r.ignored();
    counts_ += r.counts;
  }

  /// K2: the same pod on two partitions is a configuration error, reported, not split silently.
  void note_pod(const k8snetio::metric_point& p, const partition_id& id) {
    pod_key_.assign(p.cluster);
    pod_key_ += '/';
    pod_key_ += p.pod;
    auto it = pod_partition_.find(pod_key_);
    if (it == pod_partition_.end()) {
      pod_partition_.emplace(pod_key_, id.partition);
    } else if (it->second != id.partition && !split_pods_.count(pod_key_) &&
               split_pods_.size() < 20) {
      split_pods_.emplace(pod_key_, fmt::format("{} and {}", it->second, id.partition));
    }
  }

  /// S2.1, K4: the findings a partition's detector emitted, to the output. A file gets them
  /// appended, flushed and fsynced now (durable before the offsets are committed); a topic
  /// gets them produced now and flushed before the commit (save_and_commit).
  bool write_findings(std::span<const k8snetio::finding> found, std::string& error) {
    if (found.empty()) return true;
    io::findings_write_options options;
    options.hec_index = o_.hec_index;
    if (!o_.output_topic.empty()) {
      for (const auto& f : found) {
        std::string value;
        io::write_findings(value, std::span(&f, 1), format_, options);
        const std::string key = io::finding_uid(f);
        const auto err = rd_kafka_producev(
            producer_.rk, RD_KAFKA_V_TOPIC(o_.output_topic.c_str()),
            RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(value.data(), value.size()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err) {
          error = fmt::format("cannot produce a finding to {}: {}", o_.output_topic,
                              rd_kafka_err2str(err));
          fatal_ = error;
          return false;
        }
      }
    } else if (line_format_) {
      std::string text;
      io::write_findings(text, found, format_, options);
      std::FILE* out = out_file_ ? out_file_ : stdout;
      if (std::fwrite(text.data(), 1, text.size(), out) != text.size() || std::fflush(out) != 0 ||
          (out_file_ && ::fsync(::fileno(out_file_)) != 0)) {
        error = fmt::format("cannot write the findings to {}: {}",
                            out_file_ ? o_.output : "standard output", std::strerror(errno));
        fatal_ = error;  // K3: nothing is committed past findings that are not durable
        return false;
      }
    } else {
      findings_.insert(findings_.end(), found.begin(), found.end());
    }
    for (const auto& f : found) ++findings_by_status_[static_cast<std::size_t>(f.status)];
    findings_written_ += found.size();
    return true;
  }

  // ---- state (K3) ----------------------------------------------------------------------------

  std::string state_key(const partition_id& id) const {
    return fmt::format("{}/{}/{}", o_.group, id.topic, id.partition);
  }
  std::int32_t state_partition(const std::string& key) const {
    return static_cast<std::int32_t>(fnv1a(key) % static_cast<std::uint64_t>(state_partitions_));
  }

  bool produce_state_message(std::int32_t partition, const std::string& key,
                             std::optional<std::string_view> value) {
    char* data = value ? const_cast<char*>(value->data()) : nullptr;
    const std::size_t size = value ? value->size() : 0;
    const auto err = rd_kafka_producev(
        producer_.rk, RD_KAFKA_V_TOPIC(state_topic_.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(data, size),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY | RD_KAFKA_MSG_F_BLOCK), RD_KAFKA_V_END);
    if (err) {
      print_diagnostic("k8s-netio: error: cannot produce to {}: {}\n", state_topic_,
                       rd_kafka_err2str(err));
      return false;
    }
    return true;
  }

  /// Writes the partition's state as chunks, then the manifest that names them (K3); the old
  /// generation's chunks get tombstones once the manifest is written. Not yet durable: call
  /// flush_producer().
  bool write_state(const partition_id& id) {
    const std::string bytes = engines_.save(id);
    state_bytes_[id] = bytes.size();
    const std::string key = state_key(id);
    const std::int32_t partition = state_partition(key);
    std::random_device random;
    const std::string generation =
        fmt::format("{:08x}{:08x}", random(), static_cast<std::uint32_t>(std::time(nullptr)));
    const std::size_t chunks = (bytes.size() + state_chunk_bytes - 1) / state_chunk_bytes;
    for (std::size_t i = 0; i < chunks; ++i)
      if (!produce_state_message(
              partition, fmt::format("{}/chunk/{}/{}", key, generation, i),
              std::string_view(bytes).substr(i * state_chunk_bytes, state_chunk_bytes)))
        return false;
    const std::string manifest = fmt::format("{} {} {} {} {}\n", manifest_magic, generation, chunks,
                                             bytes.size(), engines_.next_offset(id).value_or(-1));
    if (!produce_state_message(partition, key, manifest)) return false;
    if (auto old = generations_.find(key); old != generations_.end())
      for (std::size_t i = 0; i < old->second.second; ++i)
        produce_state_message(partition, fmt::format("{}/chunk/{}/{}", key, old->second.first, i),
                              std::nullopt);
    generations_[key] = {generation, chunks};
    return true;
  }

  bool flush_producer() {
    const auto err = rd_kafka_flush(producer_.rk, 30000);
    if (err || delivery_failures_) {
      print_diagnostic("k8s-netio: error: {} message{} not delivered{}\n", delivery_failures_,
                       delivery_failures_ == 1 ? "" : "s",
                       err ? fmt::format(" ({})", rd_kafka_err2str(err)) : std::string());
      delivery_failures_ = 0;
      return false;
    }
    return true;
  }

  /// Saves the state of every partition with new records (all of `ids` when given), then
  /// commits the offsets the stored states cover. A refused commit is retried next time.
  void save_and_commit(const std::vector<partition_id>& ids, bool all, const char* why) {
    {
      std::vector<partition_id> saved;
      for (const auto& id : ids)
        if (engines_.assigned(id) && (all || engines_.dirty(id)) && engines_.next_offset(id)) {
          if (!write_state(id)) return;
          saved.push_back(id);
        }
      // Findings first and states second, both durable before the commit (K3).
      if (!saved.empty() && !flush_producer()) return;
      if (!saved.empty()) last_state_write_ = static_cast<std::int64_t>(std::time(nullptr));
      for (const auto& id : saved) {
        const auto& p = engines_.engine(id);
        if (verbose_states_)
          print_diagnostic(
              "k8s-netio: state of {} saved ({}) at offset {}: {} points accepted, {} rejected, "
              "{} malformed messages since the group began; {} bytes\n",
              id.to_string(), why, *engines_.next_offset(id), p.accepted, p.rejected, p.malformed,
              state_bytes_[id]);
        uncommitted_.insert(id);
      }
      // Every offset a stored state covers and the group has not confirmed: those just saved,
      // those restored on assign (the previous owner's commit may have been refused during the
      // rebalance), and those a refused commit left.
      partition_list offsets;
      std::vector<partition_id> committing;
      for (const auto& id : uncommitted_)
        if (std::find(ids.begin(), ids.end(), id) != ids.end() && engines_.assigned(id) &&
            engines_.next_offset(id)) {
          rd_kafka_topic_partition_list_add(offsets.list, id.topic.c_str(), id.partition)->offset =
              *engines_.next_offset(id);
          committing.push_back(id);
        }
      if (committing.empty()) return;
      for (int attempt = 0; attempt < 3; ++attempt) {
        const auto err = rd_kafka_commit(consumer_.rk, offsets.list, 0);
        if (!err || err == RD_KAFKA_RESP_ERR__NO_OFFSET) {
          for (const auto& id : committing) uncommitted_.erase(id);
          return;
        }
        print_diagnostic("k8s-netio: offset commit refused ({}); {}\n", rd_kafka_err2str(err),
                         attempt < 2 ? "retrying" : "the next checkpoint retries");
        rd_kafka_poll(producer_.rk, 100);
      }
    }
  }

  void checkpoint(bool all) {
    save_and_commit(engines_.partitions(), all, all ? "shutdown" : "checkpoint");
  }

  struct stored_state {
    std::string manifest;
    std::int64_t offset = -1;
    std::map<std::string, std::string> chunks;  // key -> value (latest)
  };

  /// Reads the state topic's partitions that hold `ids`' states, up to their ends; the last
  /// manifest of each key wins (a compacted topic keeps only it).
  bool read_states(const std::vector<partition_id>& ids, std::map<std::string, stored_state>& out,
                   std::string& error) {
    std::set<std::int32_t> partitions;
    std::set<std::string> keys;
    for (const auto& id : ids) {
      keys.insert(state_key(id));
      partitions.insert(state_partition(state_key(id)));
    }
    char why[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    for (const auto& property : o_.properties) {
      const auto eq = property.find('=');
      if (eq != std::string::npos)
        rd_kafka_conf_set(conf, property.substr(0, eq).c_str(), property.substr(eq + 1).c_str(),
                          why, sizeof why);
    }
    // A manual assignment that never joins the group; rd_kafka_consumer_poll needs a group id.
    rd_kafka_conf_set(conf, "bootstrap.servers", o_.brokers.c_str(), why, sizeof why);
    rd_kafka_conf_set(conf, "group.id", (o_.group + ".k8snetio-state-reader").c_str(), why,
                      sizeof why);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", why, sizeof why);
    kafka_handle reader;
    reader.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!reader.rk) return error = why, false;
    partition_list assignment;
    std::map<std::int32_t, std::int64_t> ends;
    for (const auto p : partitions) {
      std::int64_t low = 0, high = 0;
      const auto err =
          rd_kafka_query_watermark_offsets(reader.rk, state_topic_.c_str(), p, &low, &high, 10000);
      if (err)
        return error = fmt::format("cannot read the state topic {} partition {}: {}", state_topic_,
                                   p, rd_kafka_err2str(err)),
               false;
      if (high > low) {
        ends[p] = high;
        rd_kafka_topic_partition_list_add(assignment.list, state_topic_.c_str(), p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
      }
    }
    if (ends.empty()) return true;
    rd_kafka_assign(reader.rk, assignment.list);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::map<std::int32_t, std::int64_t> reached;
    while (reached.size() < ends.size()) {
      if (std::chrono::steady_clock::now() > deadline)
        return error = fmt::format("reading the state topic {} took over 60 s", state_topic_),
               false;
      rd_kafka_message_t* m = rd_kafka_consumer_poll(reader.rk, 200);
      if (!m) continue;
      if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
          print_diagnostic("k8s-netio: reading {}: {}\n", state_topic_, rd_kafka_message_errstr(m));
      } else {
        const std::string key =
            m->key ? std::string(static_cast<const char*>(m->key), m->key_len) : std::string();
        const std::string_view value(static_cast<const char*>(m->payload), m->len);
        for (const auto& wanted : keys) {
          if (key == wanted) {
            auto& s = out[wanted];
            s.manifest.assign(value);
            s.offset = m->offset;
          } else if (key.rfind(wanted + "/chunk/", 0) == 0) {
            if (m->payload)
              out[wanted].chunks[key].assign(value);
            else
              out[wanted].chunks.erase(key);
          }
        }
        if (m->offset + 1 >= ends[m->partition]) reached[m->partition] = m->offset;
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(reader.rk, nullptr);
    return true;
  }

  /// The state bytes a manifest names, or an error naming what is wrong with it.
  std::optional<std::string> assemble(const std::string& key, const stored_state& s,
                                      std::string& error) {
    const auto where = fmt::format("{} (partition {}, offset {}, key {})", state_topic_,
                                   state_partition(key), s.offset, key);
    char generation[64] = {};
    unsigned long long chunks = 0, size = 0;
    long long offset = 0;
    if (s.manifest.rfind(manifest_magic, 0) != 0 ||
        std::sscanf(s.manifest.c_str() + manifest_magic.size(), " %63s %llu %llu %lld", generation,
                    &chunks, &size, &offset) != 4 ||
        chunks > (size / state_chunk_bytes) + 1) {
      error = fmt::format("the state message in {} is not a k8snetio state manifest", where);
      return std::nullopt;
    }
    std::string bytes;
    for (unsigned long long i = 0; i < chunks; ++i) {
      auto it = s.chunks.find(fmt::format("{}/chunk/{}/{}", key, generation, i));
      if (it == s.chunks.end()) {
        error = fmt::format("the state in {} lacks its chunk {} of {}", where, i + 1, chunks);
        return std::nullopt;
      }
      bytes += it->second;
    }
    if (bytes.size() != size) {
      error = fmt::format("the state in {} has {} bytes where its manifest says {}", where,
                          bytes.size(), size);
      return std::nullopt;
    }
    generations_[key] = {generation, static_cast<std::size_t>(chunks)};
    return bytes;
  }

  void assign(rd_kafka_topic_partition_list_t* partitions) {
    std::vector<partition_id> ids;
    for (int i = 0; i < partitions->cnt; ++i)
      ids.push_back({partitions->elems[i].topic, partitions->elems[i].partition});
    std::map<std::string, stored_state> stored;
    std::string error;
    if (!read_states(ids, stored, error)) {
      fatal_ = error;
      rd_kafka_assign(consumer_.rk, nullptr);
      return;
    }
    for (int i = 0; i < partitions->cnt; ++i) {
      const partition_id& id = ids[static_cast<std::size_t>(i)];
      const std::string key = state_key(id);
      std::optional<std::int64_t> resume;
      auto it = stored.find(key);
      try {
        if (it != stored.end() && !it->second.manifest.empty()) {
          auto bytes = assemble(key, it->second, error);
          if (!bytes) throw k8snetio::snapshot_error(error);
          resume = engines_.assign(id, *bytes);
        } else {
          engines_.assign(id);
        }
      } catch (const k8snetio::snapshot_error& e) {
        // K3: refused whole; nothing of it was loaded, nothing is consumed or committed.
        fatal_ = fmt::format(
            "the state of {} in {} is refused: {}; remove it (a tombstone for key {}) to start "
            "that partition afresh, or run with the options that wrote it",
            id.to_string(), state_topic_, e.what(), key);
        for (const auto& assigned : engines_.partitions()) engines_.revoke(assigned);
        rd_kafka_assign(consumer_.rk, nullptr);
        return;
      }
      partitions->elems[i].offset = resume ? *resume : RD_KAFKA_OFFSET_INVALID;
      if (resume) uncommitted_.insert(id);
      print_diagnostic("k8s-netio: assigned {}{}\n", id.to_string(),
                       resume ? fmt::format(", state restored at offset {}", *resume)
                              : std::string(", no state"));
    }
    rd_kafka_assign(consumer_.rk, partitions);
  }

  void revoke(rd_kafka_topic_partition_list_t* partitions) {
    std::vector<partition_id> ids;
    for (int i = 0; i < partitions->cnt; ++i)
      ids.push_back({partitions->elems[i].topic, partitions->elems[i].partition});
    if (fatal_.empty()) save_and_commit(ids, false, "revoke");
    for (const auto& id : ids) {
      if (engines_.assigned(id)) engines_.revoke(id);
      uncommitted_.erase(id);
      if (!shutting_down_) print_diagnostic("k8s-netio: revoked {}\n", id.to_string());
    }
    rd_kafka_assign(consumer_.rk, nullptr);
  }

  static void on_rebalance(rd_kafka_t*, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    auto* self = static_cast<consumer*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
      self->assign(partitions);
    else
      self->revoke(partitions);
  }

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    if (m->err) {
      auto* self = static_cast<consumer*>(opaque);
      ++self->delivery_failures_;
      print_diagnostic("k8s-netio: delivery to {} failed: {}\n", rd_kafka_topic_name(m->rkt),
                       rd_kafka_err2str(m->err));
    }
  }

  const consume_options& o_;
  io::output_format format_;
  bool line_format_ = false;
  engine_set engines_;
  std::string state_topic_;
  std::int32_t state_partitions_ = 0;
  kafka_handle producer_;  // destroyed after the consumer (members go in reverse order)
  kafka_handle consumer_;
  std::string body_;
  std::string fatal_;
  bool shutting_down_ = false;
  bool verbose_states_ = true;
  std::uint64_t delivery_failures_ = 0;
  std::uint64_t messages_ = 0, replayed_ = 0;
  svc::outcome_counts counts_;  ///< L0: one outcome per point, as serve counts them
  std::uint64_t findings_written_ = 0;
  std::array<std::uint64_t, 4> findings_by_status_{};
  std::FILE* out_file_ = nullptr;
  std::vector<malformed_message> malformed_;
  std::uint64_t malformed_more_ = 0;
  std::vector<k8snetio::finding> findings_;
  std::map<std::string, std::pair<std::string, std::size_t>> generations_;
  std::chrono::steady_clock::time_point first_message_, last_message_;
  std::chrono::system_clock::time_point first_message_epoch_;
  std::set<partition_id> uncommitted_;
  std::map<partition_id, std::size_t>
      state_bytes_;  // states stored whose offsets the group has not taken
  std::string pod_key_;
  std::unique_ptr<httplib::Server> metrics_server_;
  std::thread metrics_thread_;
  std::mutex metrics_mutex_;
  std::string metrics_text_;
  std::int64_t last_state_write_ = 0;
  std::unordered_map<std::string, std::int32_t> pod_partition_;
  std::map<std::string, std::string> split_pods_;
};

int run_consume(consume_options& o) {
  const auto fail = [](const std::string& message) {
    print_diagnostic("k8s-netio: error: {}\n", quoted_for_diagnostic(message));
    return exit_failure;
  };
  if (auto bad = parse_live_options(o.live, o.texts, false)) {
    print_diagnostic("k8s-netio: error: {}\n", quoted_for_diagnostic(*bad));
    return exit_usage;
  }
  if (!parse_duration(o.checkpoint))
    return fail("--checkpoint-interval must be a duration such as 5s");
  const auto format = io::parse_output_format(o.format);
  if (!format) return fail(format.error().what());
  if (!o.output_topic.empty() && !o.output.empty())
    return fail("give --output-topic or -o, not both");
  if (!o.output_topic.empty() && *format != io::output_format::jsonl &&
      *format != io::output_format::hec && *format != io::output_format::ocsf &&
      *format != io::output_format::risk)
    return fail(
        "--output-topic takes one message per finding: use --format jsonl, hec, ocsf or risk");

  const auto& rule =
      o.rule == "ratio" ? k8snetio::network_io_ratio : k8snetio::anomalous_network_io;
  auto table = io::load_baseline_csv<2>(o.baseline, *rule.measures);
  if (!table) return fail(table.error().what());
  std::string baseline_bytes;
  {
    std::ifstream in(o.baseline, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in && !in.eof()) return fail("cannot read " + o.baseline);
    baseline_bytes = text.str();
  }
  // A state taken under another rule, baseline, window, lateness or input is refused (K3).
  const std::string settings = fmt::format(
      "rule={};baseline={:016x};window={};lateness={};span={};sigma={};min_count={};"
      "metric={};input={};learn={};early_alerts={}",
      o.rule, svc::fnv1a64(baseline_bytes), o.live.window_seconds, o.live.lateness_seconds,
      o.live.span_seconds, o.live.sigma, o.live.min_count, o.live.metric, o.input_format,
      o.baseline_state.empty() ? "no" : fmt::format("{}d", o.live.horizon_days),
      o.live.early_alerts);
  std::optional<k8snetio::baseline_run_options> learn;
  if (!o.baseline_state.empty()) {
    if (86400 % o.live.span_seconds != 0)
      return fail(
          fmt::format("--baseline-state keeps one state per UTC day: --span ({} s) must "
                      "divide a day",
                      o.live.span_seconds));
    learn.emplace();
    learn->span.span_seconds = o.live.span_seconds;
    learn->span.metric_name = o.live.metric;
    learn->span.allowed_lateness = o.live.lateness_seconds;
    learn->span.max_open_groups = o.live.max_open_groups;
  }

  struct sigaction action {};
  action.sa_handler = request_stop;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  consumer c(o, rule, std::make_shared<const k8snetio::baseline_table<2>>(std::move(*table)),
             *format, settings, learn);
  std::string error;
  if (!c.open_output(error) || !c.start(error) || !c.start_metrics(error)) return fail(error);
  const bool ok = c.run(error);
  c.print_summary();
  if (!ok) return fail(error);
  if (!c.write_output(error)) return fail(error);
  return exit_ok;
}

}  // namespace

consume_command add_consume_command(CLI::App& app) {
  auto o = std::make_shared<consume_options>();
  consume_command c;
  auto* cmd = app.add_subcommand(
      "consume", "Detect as a member of a Kafka consumer group, state following the partitions");
  c.command = cmd;
  cmd->add_option("--brokers", o->brokers, "Bootstrap brokers, HOST:PORT[,…]")->required();
  cmd->add_option("--topic", o->topic, "Topic of OTLP JSON (or HEC) messages")->required();
  cmd->add_option("--group", o->group, "Consumer group id");
  cmd->add_option("--baseline", o->baseline, "Baseline table (from `k8s-netio baseline`)")
      ->required();
  cmd->add_option("--input-format", o->input_format,
                  "otlp (protobuf or JSON, told apart by content), otlp-proto, otlp-json or hec")
      ->check(CLI::IsMember({"otlp", "otlp-proto", "otlp-json", "hec"}))
      ->capture_default_str();
  cmd->add_option("--state-topic", o->state_topic,
                  "Compacted topic of partition states (default <group>.k8snetio-state)");
  cmd->add_option("--output-topic", o->output_topic, "Topic for findings, keyed by finding id");
  cmd->add_option("-o,--output", o->output,
                  "Findings file: line formats appended and fsynced as windows close, before the "
                  "offsets are committed; other formats written atomically at exit");
  cmd->add_option("--format", o->format, "jsonl, csv, table, hec, risk, ocsf or html");
  cmd->add_option("-X", o->properties, "A librdkafka property, name=value (repeatable)");
  cmd->add_option("--rule", o->rule, "io or ratio")->check(CLI::IsMember({"io", "ratio"}));
  cmd->add_option("--checkpoint-interval", o->checkpoint,
                  "Save states and commit offsets this often, e.g. 5s");
  add_live_flags(*cmd, o->live, o->texts, false);
  cmd->add_option("--metrics-listen", o->metrics_listen,
                  "Serve the L4 /metrics (Prometheus text) and /healthz on HOST:PORT (port 0: any "
                  "free port, named on standard error)");
  cmd->add_option("--baseline-state", o->baseline_state,
                  "K6: keep each partition's per-day baseline state and write its complete UTC "
                  "days to DIR/TOPIC-PARTITION/ (combine them with `baseline --merge DIR/*`)");
  cmd->add_option("--hec-index", o->hec_index, "index of --format hec and risk events");
  c.run = [o] { return run_consume(*o); };
  return c;
}

}  // namespace k8snetio_cli

#else  // librdkafka was not found when this program was configured

#include <cstdio>

namespace k8snetio_cli {

consume_command add_consume_command(CLI::App& app) {
  consume_command c;
  c.command = app.add_subcommand("consume",
                                 "Detect on a Kafka consumer group (this build has no librdkafka)");
  c.command->allow_extras();
  c.run = [] {
    print_diagnostic(
        "k8s-netio: error: this k8s-netio was built without librdkafka; install librdkafka-dev "
        "(or your system's librdkafka development package) and build it again\n");
    return exit_failure;
  };
  return c;
}

}  // namespace k8snetio_cli

#endif
