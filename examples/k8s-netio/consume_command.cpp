// `k8s-netio consume` (service.md K1–K5): a Kafka adapter over the library's live core (L0).
// What is not Kafka lives in include/k8snetio/service/partitioned_live.hpp: one live detector
// per assigned partition (K2), replays skipped, the counts, the state of each partition with
// the offset it covers and which offsets may be committed (K3), the K6 learners, /metrics and
// the summary. This file holds the Kafka side: the consumer and producer, the rebalance, the
// compacted state topic as the partitions' state store (chunked, K3), the output topic or file
// (K4), and the commits, made only after the state covering them and the findings it produced
// are durable (issue 28 #1).
#include "consume_command.hpp"

#include <memory>
#include <string>
#include <vector>

#include "cli_support.hpp"

#if K8SNETIO_HAVE_RDKAFKA

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
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

#include <fmt/format.h>
#include <httplib.h>
#include <librdkafka/rdkafka.h>

#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/k8snetio.hpp>
#include <k8snetio/service/partitioned_live.hpp>
#include <k8snetio/service/service.hpp>

namespace k8snetio_cli {
namespace {

namespace io = k8snetio::io;
namespace svc = k8snetio::service;
using k8snetio::partition_id;

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

std::vector<partition_id> ids_of(const rd_kafka_topic_partition_list_t* partitions) {
  std::vector<partition_id> ids;
  for (int i = 0; i < partitions->cnt; ++i)
    ids.push_back({partitions->elems[i].topic, partitions->elems[i].partition});
  return ids;
}

class consumer {
 public:
  consumer(const consume_options& o, const k8snetio::rule_definition<2>& rule,
           std::shared_ptr<const k8snetio::baseline_table<2>> table, io::output_format format,
           svc::partitioned_live_options core)
      : o_(o),
        format_(format),
        core_(
            rule, std::move(table), std::move(core),
            [this](std::span<const k8snetio::finding> found, std::string& error) {
              return write_findings(found, error);
            },
            [](const std::string& line) {
              print_diagnostic("k8s-netio: {}\n", quoted_for_diagnostic(line));
            }) {
    state_topic_ = o.state_topic.empty() ? o.group + ".k8snetio-state" : o.state_topic;
    line_format_ = format == io::output_format::jsonl || format == io::output_format::hec ||
                   format == io::output_format::ocsf || format == io::output_format::risk;
    write_options_.hec_index = o.hec_index;
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
    while (!stop_requested && fatal().empty()) {
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.rk, 100)) {
        handle(*m);
        rd_kafka_message_destroy(m);
      }
      rd_kafka_poll(producer_.rk, 0);
      const auto now = std::chrono::steady_clock::now();
      if (now >= next_checkpoint && fatal().empty()) {
        save_and_commit(core_.partitions(), false, "checkpoint");
        next_checkpoint = std::chrono::steady_clock::now() + interval;
      }
      if (metrics_server_ && now >= next_metrics) {
        publish_metrics();  // the poll thread owns the counters; /metrics reads a copy
        next_metrics = now + std::chrono::milliseconds(500);
      }
    }
    if (fatal().empty()) {
      // L6: complete windows were flushed as they closed; open ones stay in the state.
      save_and_commit(core_.partitions(), true, "shutdown");
      shutting_down_ = true;
    }
    leave_group();
    rd_kafka_consumer_close(consumer_.rk);  // revokes (and saves, unless fatal) what is left
    rd_kafka_flush(producer_.rk, 10000);
    stop_metrics();
    if (!fatal().empty()) return error = fatal(), false;
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
    while (!core_.partitions().empty() && std::chrono::steady_clock::now() < deadline) {
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.rk, 100)) {
        if (fatal().empty()) handle(*m);
        rd_kafka_message_destroy(m);
      }
    }
  }

  /// Line formats to a file: opened for appending now, each finding written, flushed and
  /// fsynced as its window closes, before any offset that produced it is committed (K3,
  /// issue 28 #1). False with `error` when it cannot be opened.
  bool open_output(std::string& error) {
    if (!o_.output_topic.empty() || !line_format_) return true;
    const bool to_file = !o_.output.empty() && o_.output != "-";
    if (to_file && !(out_file_ = std::fopen(o_.output.c_str(), "ae")))
      return error = fmt::format("cannot open {}: {}", o_.output, std::strerror(errno)), false;
    file_sink_.emplace(to_file ? out_file_ : stdout, format_, to_file, write_options_);
    return true;
  }

  /// Other formats (csv, table, html) are written whole, atomically, at exit.
  bool write_output(std::string& error) {
    if (!o_.output_topic.empty() || line_format_) return true;  // written live
    output_file out;
    if (!out.open(o_.output, error)) return false;
    std::string text;
    io::write_findings(text, findings_, format_, write_options_);
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
    for (const auto& line : core_.summary(o_.topic, findings_written_))
      print_diagnostic("k8s-netio: {}\n", quoted_for_diagnostic(line));
    if (core_.messages() < 2) return;
    const double seconds = std::chrono::duration<double>(last_message_ - first_message_).count();
    const auto rate = [&](std::uint64_t n) {
      return with_commas(
          static_cast<std::uint64_t>(static_cast<double>(n) / std::max(seconds, 1e-9)));
    };
    print_diagnostic(
        "k8s-netio: {:.2f} s from the first message to the last (from {:.3f} epoch): {} "
        "points/s, {} messages/s\n",
        seconds, std::chrono::duration<double>(first_message_epoch_.time_since_epoch()).count(),
        rate(core_.counts().accepted() + core_.counts().rejected()), rate(core_.messages()));
  }

 private:
  const std::string& fatal() const { return fatal_.empty() ? core_.fatal() : fatal_; }

  void handle(const rd_kafka_message_t& m) {
    if (m.err) {
      if (m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        print_diagnostic("k8s-netio: kafka: {}\n", rd_kafka_message_errstr(&m));
      return;
    }
    const partition_id id{rd_kafka_topic_name(m.rkt), m.partition};
    const std::string_view payload(static_cast<const char*>(m.payload), m.len);
    if (core_.message(id, m.offset, payload) != svc::partitioned_live::message_outcome::used)
      return;
    last_message_ = std::chrono::steady_clock::now();
    if (core_.messages() == 1) {
      first_message_ = last_message_;
      first_message_epoch_ = std::chrono::system_clock::now();
    }
  }

  /// L4's exposition of this process's counters (K1), taken on the poll thread.
  void publish_metrics() {
    std::string out;
    core_.render_metrics(out, findings_by_status_, last_state_write_);
    std::lock_guard lock(metrics_mutex_);
    metrics_text_ = std::move(out);
  }

  /// S2.1, K4: the findings a partition's detector emitted, to the output. A file gets them
  /// appended, flushed and fsynced now (durable before the offsets are committed); a topic
  /// gets them produced now and flushed before the commit (save_and_commit).
  bool write_findings(std::span<const k8snetio::finding> found, std::string& error) {
    if (found.empty()) return true;
    if (!o_.output_topic.empty()) {
      for (const auto& f : found) {
        std::string value;
        io::write_findings(value, std::span(&f, 1), format_, write_options_);
        const std::string key = io::finding_uid(f);
        if (const auto err =
                rd_kafka_producev(producer_.rk, RD_KAFKA_V_TOPIC(o_.output_topic.c_str()),
                                  RD_KAFKA_V_KEY(key.data(), key.size()),
                                  RD_KAFKA_V_VALUE(value.data(), value.size()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END))
          return fatal_ = error = fmt::format("cannot produce a finding to {}: {}", o_.output_topic,
                                              rd_kafka_err2str(err)),
                 false;
      }
    } else if (file_sink_) {
      if (!file_sink_->write(found, error)) {
        error = fmt::format("{} ({})", error, out_file_ ? o_.output : "standard output");
        return fatal_ = error, false;  // K3: nothing is committed past findings not durable
      }
    } else {
      findings_.insert(findings_.end(), found.begin(), found.end());
    }
    for (const auto& f : found) ++findings_by_status_[static_cast<std::size_t>(f.status)];
    findings_written_ += found.size();
    return true;
  }

  // ---- the state topic: the partitions' state store (K3) -------------------------------------

  std::string state_key(const partition_id& id) const {
    return fmt::format("{}/{}/{}", o_.group, id.topic, id.partition);
  }
  std::int32_t state_partition(const std::string& key) const {
    return static_cast<std::int32_t>(svc::fnv1a64(key) %
                                     static_cast<std::uint64_t>(state_partitions_));
  }

  bool produce_state_message(std::int32_t partition, const std::string& key,
                             std::optional<std::string_view> value) {
    char* data = value ? const_cast<char*>(value->data()) : nullptr;
    const std::size_t size = value ? value->size() : 0;
    const auto err = rd_kafka_producev(
        producer_.rk, RD_KAFKA_V_TOPIC(state_topic_.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(data, size),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY | RD_KAFKA_MSG_F_BLOCK), RD_KAFKA_V_END);
    if (err)
      print_diagnostic("k8s-netio: error: cannot produce to {}: {}\n", state_topic_,
                       rd_kafka_err2str(err));
    return !err;
  }

  /// Writes the partition's state as chunks, then the manifest that names them (K3); the old
  /// generation's chunks get tombstones once the manifest is written. Not yet durable: call
  /// flush_producer().
  bool write_state(const partition_id& id) {
    const std::string bytes = core_.save(id);
    state_bytes_[id] = bytes.size();
    const std::string key = state_key(id);
    const std::int32_t partition = state_partition(key);
    std::random_device random;
    const std::string generation =
        fmt::format("{:08x}{:08x}", random(), static_cast<std::uint32_t>(std::time(nullptr)));
    const auto messages =
        svc::split_state(key, bytes, generation, core_.next_offset(id).value_or(-1));
    for (const auto& [chunk, value] : messages.chunks)
      if (!produce_state_message(partition, chunk, value)) return false;
    if (!produce_state_message(partition, key, messages.manifest)) return false;
    if (auto old = generations_.find(key); old != generations_.end())
      for (const auto& chunk : svc::chunk_keys(key, old->second.first, old->second.second))
        produce_state_message(partition, chunk, std::nullopt);
    generations_[key] = {generation, messages.chunks.size()};
    return true;
  }

  bool flush_producer() {
    const auto err = rd_kafka_flush(producer_.rk, 30000);
    if (!err && !delivery_failures_) return true;
    print_diagnostic("k8s-netio: error: {} message{} not delivered{}\n", delivery_failures_,
                     delivery_failures_ == 1 ? "" : "s",
                     err ? fmt::format(" ({})", rd_kafka_err2str(err)) : std::string());
    delivery_failures_ = 0;
    return false;
  }

  /// Saves the state of every partition of `ids` with new records (all that hold records when
  /// `all`), then commits the offsets the stored states cover. A refused commit is retried next
  /// time.
  void save_and_commit(const std::vector<partition_id>& ids, bool all, const char* why) {
    const auto saved = core_.due(ids, all);
    for (const auto& id : saved)
      if (!write_state(id)) return;
    // Findings first and states second, both durable before the commit (K3).
    if (!saved.empty() && !flush_producer()) return;
    if (!saved.empty()) last_state_write_ = static_cast<std::int64_t>(std::time(nullptr));
    for (const auto& id : saved) {
      const auto& p = core_.partition(id);
      print_diagnostic(
          "k8s-netio: state of {} saved ({}) at offset {}: {} points accepted, {} rejected, {} "
          "malformed messages since the group began; {} bytes\n",
          id.to_string(), why, *core_.next_offset(id), p.accepted, p.rejected, p.malformed,
          state_bytes_[id]);
      core_.stored(id);
    }
    const auto commits = core_.commits(ids);
    if (commits.empty()) return;
    partition_list offsets;
    for (const auto& [id, offset] : commits)
      rd_kafka_topic_partition_list_add(offsets.list, id.topic.c_str(), id.partition)->offset =
          offset;
    for (int attempt = 0; attempt < 3; ++attempt) {
      const auto err = rd_kafka_commit(consumer_.rk, offsets.list, 0);
      if (!err || err == RD_KAFKA_RESP_ERR__NO_OFFSET) return core_.committed(commits);
      print_diagnostic("k8s-netio: offset commit refused ({}); {}\n", rd_kafka_err2str(err),
                       attempt < 2 ? "retrying" : "the next checkpoint retries");
      rd_kafka_poll(producer_.rk, 100);
    }
  }

  /// Reads the state topic's partitions that hold `ids`' states, up to their ends; the last
  /// manifest of each key wins (a compacted topic keeps only it).
  bool read_states(const std::vector<partition_id>& ids,
                   std::map<std::string, svc::stored_state>& out, std::string& error) {
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
            out[wanted].manifest.assign(value);
            out[wanted].offset = m->offset;
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

  void assign(rd_kafka_topic_partition_list_t* partitions) {
    const auto ids = ids_of(partitions);
    std::map<std::string, svc::stored_state> stored;
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
      try {
        if (auto it = stored.find(key); it != stored.end() && !it->second.manifest.empty()) {
          const auto where = fmt::format("{} (partition {}, offset {}, key {})", state_topic_,
                                         state_partition(key), it->second.offset, key);
          std::pair<std::string, std::size_t> generation;
          const auto bytes = svc::assemble_state(key, it->second, where, error, &generation);
          if (!bytes) throw k8snetio::snapshot_error(error);
          generations_[key] = generation;
          resume = core_.assign(id, *bytes);
        } else {
          core_.assign(id);
        }
      } catch (const k8snetio::snapshot_error& e) {
        // K3: refused whole; nothing of it was loaded, nothing is consumed or committed.
        fatal_ = fmt::format(
            "the state of {} in {} is refused: {}; remove it (a tombstone for key {}) to start "
            "that partition afresh, or run with the options that wrote it",
            id.to_string(), state_topic_, e.what(), key);
        for (const auto& assigned : core_.partitions()) core_.revoke(assigned);
        rd_kafka_assign(consumer_.rk, nullptr);
        return;
      }
      partitions->elems[i].offset = resume ? *resume : RD_KAFKA_OFFSET_INVALID;
      print_diagnostic("k8s-netio: assigned {}{}\n", id.to_string(),
                       resume ? fmt::format(", state restored at offset {}", *resume)
                              : std::string(", no state"));
    }
    rd_kafka_assign(consumer_.rk, partitions);
  }

  void revoke(rd_kafka_topic_partition_list_t* partitions) {
    const auto ids = ids_of(partitions);
    if (fatal().empty()) save_and_commit(ids, false, "revoke");
    for (const auto& id : ids) {
      core_.revoke(id);
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
    if (!m->err) return;
    ++static_cast<consumer*>(opaque)->delivery_failures_;
    print_diagnostic("k8s-netio: delivery to {} failed: {}\n", rd_kafka_topic_name(m->rkt),
                     rd_kafka_err2str(m->err));
  }

  const consume_options& o_;
  io::output_format format_;
  io::findings_write_options write_options_;
  bool line_format_ = false;
  svc::partitioned_live core_;
  std::string state_topic_;
  std::int32_t state_partitions_ = 0;
  kafka_handle producer_;  // destroyed after the consumer (members go in reverse order)
  kafka_handle consumer_;
  std::string fatal_;
  bool shutting_down_ = false;
  std::uint64_t delivery_failures_ = 0;
  std::uint64_t findings_written_ = 0;
  std::array<std::uint64_t, 4> findings_by_status_{};
  std::FILE* out_file_ = nullptr;
  std::optional<svc::file_findings_sink> file_sink_;
  std::vector<k8snetio::finding> findings_;
  std::map<std::string, std::pair<std::string, std::size_t>> generations_;
  std::chrono::steady_clock::time_point first_message_, last_message_;
  std::chrono::system_clock::time_point first_message_epoch_;
  std::map<partition_id, std::size_t> state_bytes_;
  std::unique_ptr<httplib::Server> metrics_server_;
  std::thread metrics_thread_;
  std::mutex metrics_mutex_;
  std::string metrics_text_;
  std::int64_t last_state_write_ = 0;
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
  if (!o.baseline_state.empty() && 86400 % o.live.span_seconds != 0)
    return fail(
        fmt::format("--baseline-state keeps one state per UTC day: --span ({} s) must divide a day",
                    o.live.span_seconds));

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
  svc::partitioned_live_options core;
  core.live = o.live;
  core.format = *svc::parse_message_format(o.input_format);
  core.learned_days_dir = o.baseline_state;
  // A state taken under another rule, baseline, window, lateness or input is refused (K3).
  core.settings = fmt::format(
      "rule={};baseline={:016x};window={};lateness={};span={};sigma={};min_count={};"
      "metric={};input={};learn={};early_alerts={}",
      o.rule, svc::fnv1a64(baseline_bytes), o.live.window_seconds, o.live.lateness_seconds,
      o.live.span_seconds, o.live.sigma, o.live.min_count, o.live.metric, o.input_format,
      o.baseline_state.empty() ? "no" : fmt::format("{}d", o.live.horizon_days),
      o.live.early_alerts);

  struct sigaction action {};
  action.sa_handler = request_stop;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  consumer c(o, rule, std::make_shared<const k8snetio::baseline_table<2>>(std::move(*table)),
             *format, std::move(core));
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
