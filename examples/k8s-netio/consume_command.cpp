// `k8s-netio consume` (service.md K1–K5): a Kafka adapter over the library's live core (L0).
// What is not Kafka is the library's: service/partitioned_live.hpp (one live detector per
// assigned partition, K2; replays skipped, the counts, the state of each partition with the
// offset it covers and which offsets may be committed, K3; the K6 learners, /metrics text and
// the summary), service/partitioned_log.hpp (the findings' destination, K4; the state topic's
// keys and chunked generations; the durable-before-commit order of a checkpoint, issue 28 #1)
// and service/metrics_listener.hpp (L4). This file holds the librdkafka calls: the consumer and
// producer, the rebalance, reading and producing the state topic, and the commits.
#include "consume_command.hpp"

#include <memory>
#include <string>
#include <vector>

#include "cli_support.hpp"

#if K8SNETIO_HAVE_RDKAFKA

#include <chrono>
#include <cstdint>
#include <ctime>
#include <map>
#include <optional>
#include <span>
#include <string_view>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/k8snetio.hpp>
#include <k8snetio/service/live_baseline.hpp>
#include <k8snetio/service/metrics_listener.hpp>
#include <k8snetio/service/partitioned_live.hpp>
#include <k8snetio/service/partitioned_log.hpp>
#include <k8snetio/service/service.hpp>

namespace k8snetio_cli {
namespace {

namespace io = k8snetio::io;
namespace svc = k8snetio::service;
using k8snetio::partition_id;

/// A -X property only consumers read: not given to the producer, which would warn about it.
bool is_consumer_property(std::string_view name) {
  for (std::string_view prefix :
       {"session.", "heartbeat.", "group.", "partition.assignment", "auto.", "enable.auto",
        "max.poll", "fetch.", "isolation.", "check.crcs", "queued.", "enable.partition.eof"})
    if (name.substr(0, prefix.size()) == prefix) return true;
  return false;
}

/// librdkafka's objects, destroyed once.
struct kafka_deleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using kafka_handle = std::unique_ptr<rd_kafka_t, kafka_deleter>;
using partition_list = std::unique_ptr<rd_kafka_topic_partition_list_t, kafka_deleter>;

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
        output_(format, write_options(o)),
        core_(
            rule, std::move(table), std::move(core),
            [this](std::span<const k8snetio::finding> found, std::string& error) {
              if (output_.write(found, error)) return true;
              return fatal_ = error, false;  // K3: nothing is committed past findings not durable
            },
            [](const std::string& line) {
              print_diagnostic("k8s-netio: {}\n", quoted_for_diagnostic(line));
            }) {
    state_topic_ = o.state_topic.empty() ? o.group + ".k8snetio-state" : o.state_topic;
  }

  /// The librdkafka settings of the consumer (`for_consumer`) or the producer, with the -X
  /// properties; false with `error` naming a property librdkafka refuses.
  bool configure(rd_kafka_conf_t* conf, bool for_consumer, std::string& error) const {
    char why[512];
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
  }

  /// Creates the consumer and the producer; false with `error` set when librdkafka refuses.
  bool start(std::string& error) {
    char why[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    if (!configure(conf, true, error)) return rd_kafka_conf_destroy(conf), false;
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_rebalance_cb(conf, &consumer::on_rebalance);
    consumer_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why));
    if (!consumer_) return error = why, false;
    rd_kafka_poll_set_consumer(consumer_.get());

    conf = rd_kafka_conf_new();
    if (!configure(conf, false, error)) return rd_kafka_conf_destroy(conf), false;
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, &consumer::on_delivery);
    producer_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why));
    if (!producer_) return error = why, false;

    // The state topic's partition count fixes where each partition's state lives.
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_topic_t* handle = rd_kafka_topic_new(producer_.get(), state_topic_.c_str(), nullptr);
    const auto err = rd_kafka_metadata(producer_.get(), 0, handle, &metadata, 10000);
    rd_kafka_topic_destroy(handle);
    if (err)
      return error = fmt::format("cannot read the metadata of the state topic {}: {}", state_topic_,
                                 rd_kafka_err2str(err)),
             false;
    std::int32_t state_partitions = 0;
    if (metadata->topic_cnt == 1 && !metadata->topics[0].err)
      state_partitions = metadata->topics[0].partition_cnt;
    const auto topic_err =
        metadata->topic_cnt ? metadata->topics[0].err : RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_metadata_destroy(metadata);
    if (state_partitions <= 0)
      return error = fmt::format(
                 "the state topic {} does not exist ({}): create it with cleanup.policy=compact, "
                 "or name another with --state-topic",
                 state_topic_, rd_kafka_err2str(topic_err)),
             false;
    state_log_.emplace(o_.group, state_partitions);

    partition_list topics(rd_kafka_topic_partition_list_new(8));
    rd_kafka_topic_partition_list_add(topics.get(), o_.topic.c_str(), RD_KAFKA_PARTITION_UA);
    if (const auto e = rd_kafka_subscribe(consumer_.get(), topics.get()))
      return error = fmt::format("cannot subscribe to {}: {}", o_.topic, rd_kafka_err2str(e)),
             false;
    print_diagnostic("k8s-netio: consuming {} as group {} (state in {}, {} partition{})\n",
                     o_.topic, o_.group, state_topic_, state_partitions,
                     state_partitions == 1 ? "" : "s");
    return true;
  }

  /// Polls until SIGTERM/SIGINT or a fatal error; then shuts down as L6 says.
  bool run(std::string& error) {
    const auto interval = std::chrono::seconds(*parse_duration(o_.checkpoint));
    auto next_checkpoint = std::chrono::steady_clock::now() + interval;
    auto next_metrics = std::chrono::steady_clock::now();
    while (!stop_requested() && fatal().empty()) {
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), 100)) {
        handle(*m);
        rd_kafka_message_destroy(m);
      }
      rd_kafka_poll(producer_.get(), 0);
      const auto now = std::chrono::steady_clock::now();
      if (now >= next_checkpoint && fatal().empty()) {
        save_and_commit(core_.partitions(), false, "checkpoint");
        next_checkpoint = std::chrono::steady_clock::now() + interval;
      }
      if (metrics_.listening() && now >= next_metrics) {
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
    rd_kafka_consumer_close(consumer_.get());  // revokes (and saves, unless fatal) what is left
    rd_kafka_flush(producer_.get(), 10000);
    publish_metrics();
    metrics_.stop();
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
    rd_kafka_unsubscribe(consumer_.get());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!core_.partitions().empty() && std::chrono::steady_clock::now() < deadline) {
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), 100)) {
        if (fatal().empty()) handle(*m);
        rd_kafka_message_destroy(m);
      }
    }
  }

  /// K4: the findings to the output topic, or to -o (line formats opened for appending now).
  bool open_output(std::string& error) {
    if (o_.output_topic.empty()) return output_.to_file(o_.output, error);
    output_.to_topic(o_.output_topic, [this](const std::string& key, const std::string& value,
                                             std::string& why) {
      const auto err = rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(o_.output_topic.c_str()),
                                         RD_KAFKA_V_KEY(key.data(), key.size()),
                                         RD_KAFKA_V_VALUE(value.data(), value.size()),
                                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      return err ? (why = rd_kafka_err2str(err), false) : true;
    });
    return true;
  }

  /// Other formats (csv, table, html) are written whole, atomically, at exit.
  bool write_output(std::string& error) {
    const auto text = output_.whole_text();
    if (!text) return true;  // written live
    output_file out;
    if (!out.open(o_.output, error)) return false;
    out.write(*text);
    return out.close(error);
  }

  /// K1, L4: /metrics and /healthz on --metrics-listen, served from a thread of their own. The
  /// first line it prints names the port (HOST:0 picks a free one). False with `error` set when
  /// it cannot listen.
  bool start_metrics(std::string& error) {
    if (o_.metrics_listen.empty()) return true;
    const auto where = parse_address(o_.metrics_listen);
    if (!where) return error = "--metrics-listen must be HOST:PORT", false;
    const auto bound = metrics_.start(where->host, where->port);
    if (!bound) return error = fmt::format("cannot listen on {}", o_.metrics_listen), false;
    publish_metrics();
    print_diagnostic("k8s-netio: metrics on {}:{}\n", where->host, *bound);
    return true;
  }

  void print_summary() const {
    for (const auto& line : core_.summary(o_.topic, output_.written()))
      print_diagnostic("k8s-netio: {}\n", quoted_for_diagnostic(line));
    if (const auto line = core_.throughput()) print_diagnostic("k8s-netio: {}\n", *line);
  }

 private:
  static void print_line(const std::string& line) { print_diagnostic("k8s-netio: {}\n", line); }
  const std::string& fatal() const { return fatal_.empty() ? core_.fatal() : fatal_; }

  void handle(const rd_kafka_message_t& m) {
    if (m.err) {
      if (m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        print_diagnostic("k8s-netio: kafka: {}\n", rd_kafka_message_errstr(&m));
      return;
    }
    const partition_id id{rd_kafka_topic_name(m.rkt), m.partition};
    const std::string_view payload(static_cast<const char*>(m.payload), m.len);
    core_.message(id, m.offset, payload);
  }

  /// L4's exposition of this process's counters (K1), taken on the poll thread.
  void publish_metrics() {
    if (!metrics_.listening()) return;
    std::string out;
    core_.render_metrics(out, output_.by_status(), last_state_write_);
    metrics_.publish(std::move(out));
  }

  // ---- the state topic: the partitions' state store (K3) -------------------------------------

  bool produce_state_message(std::int32_t partition, const std::string& key,
                             std::optional<std::string_view> value) {
    char* data = value ? const_cast<char*>(value->data()) : nullptr;
    const std::size_t size = value ? value->size() : 0;
    const auto err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(state_topic_.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(data, size),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY | RD_KAFKA_MSG_F_BLOCK), RD_KAFKA_V_END);
    if (err)
      print_diagnostic("k8s-netio: error: cannot produce to {}: {}\n", state_topic_,
                       rd_kafka_err2str(err));
    return !err;
  }

  /// Produces the partition's state as its new generation (K3); not yet durable: flush.
  bool write_state(const partition_id& id, const std::string& bytes) {
    for (const auto& m : state_log_->writes(id, bytes, core_.next_offset(id).value_or(-1)))
      if (!produce_state_message(m.partition, m.key, m.value)) return false;
    state_log_->written();
    return true;
  }

  bool flush_producer() {
    const auto err = rd_kafka_flush(producer_.get(), 30000);
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
    const auto done = svc::checkpoint(
        core_, ids, all, why,
        [this](const partition_id& id, const std::string& bytes) { return write_state(id, bytes); },
        [this] { return flush_producer(); }, print_line);
    if (done.saved) last_state_write_ = static_cast<std::int64_t>(std::time(nullptr));
    const auto& commits = done.commits;
    if (commits.empty()) return;
    partition_list offsets(rd_kafka_topic_partition_list_new(8));
    for (const auto& [id, offset] : commits)
      rd_kafka_topic_partition_list_add(offsets.get(), id.topic.c_str(), id.partition)->offset =
          offset;
    for (int attempt = 0; attempt < 3; ++attempt) {
      const auto err = rd_kafka_commit(consumer_.get(), offsets.get(), 0);
      if (!err || err == RD_KAFKA_RESP_ERR__NO_OFFSET) return core_.committed(commits);
      print_diagnostic("k8s-netio: offset commit refused ({}); {}\n", rd_kafka_err2str(err),
                       attempt < 2 ? "retrying" : "the next checkpoint retries");
      rd_kafka_poll(producer_.get(), 100);
    }
  }

  /// Reads the state topic's partitions that hold `ids`' states, up to their ends; the last
  /// manifest of each key wins (a compacted topic keeps only it).
  bool read_states(const std::vector<partition_id>& ids,
                   std::map<std::string, svc::stored_state>& out, std::string& error) {
    const auto partitions = state_log_->partitions_of(ids);
    char why[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    (void)configure(conf, true, error);  // checked at start()
    // A manual assignment that never joins the group; rd_kafka_consumer_poll needs a group id.
    rd_kafka_conf_set(conf, "bootstrap.servers", o_.brokers.c_str(), why, sizeof why);
    rd_kafka_conf_set(conf, "group.id", (o_.group + ".k8snetio-state-reader").c_str(), why,
                      sizeof why);
    kafka_handle reader;
    reader.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why));
    if (!reader) return error = why, false;
    partition_list assignment(rd_kafka_topic_partition_list_new(8));
    std::map<std::int32_t, std::int64_t> ends;
    for (const auto p : partitions) {
      std::int64_t low = 0, high = 0;
      const auto err = rd_kafka_query_watermark_offsets(reader.get(), state_topic_.c_str(), p, &low,
                                                        &high, 10000);
      if (err)
        return error = fmt::format("cannot read the state topic {} partition {}: {}", state_topic_,
                                   p, rd_kafka_err2str(err)),
               false;
      if (high > low) {
        ends[p] = high;
        rd_kafka_topic_partition_list_add(assignment.get(), state_topic_.c_str(), p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
      }
    }
    if (ends.empty()) return true;
    rd_kafka_assign(reader.get(), assignment.get());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::map<std::int32_t, std::int64_t> reached;
    while (reached.size() < ends.size()) {
      if (std::chrono::steady_clock::now() > deadline)
        return error = fmt::format("reading the state topic {} took over 60 s", state_topic_),
               false;
      rd_kafka_message_t* m = rd_kafka_consumer_poll(reader.get(), 200);
      if (!m) continue;
      if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
          print_diagnostic("k8s-netio: reading {}: {}\n", state_topic_, rd_kafka_message_errstr(m));
      } else {
        state_log_->collect(ids,
                            m->key ? std::string_view(static_cast<const char*>(m->key), m->key_len)
                                   : std::string_view(),
                            static_cast<const char*>(m->payload), m->len, m->offset, out);
        if (m->offset + 1 >= ends[m->partition]) reached[m->partition] = m->offset;
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(reader.get(), nullptr);
    return true;
  }

  void assign(rd_kafka_topic_partition_list_t* partitions) {
    const auto ids = ids_of(partitions);
    std::map<std::string, svc::stored_state> stored;
    std::string error;
    if (read_states(ids, stored, error)) {
      if (const auto resume = svc::assign_partitions(core_, *state_log_, state_topic_, ids, stored,
                                                     error, print_line)) {
        for (int i = 0; i < partitions->cnt; ++i)
          partitions->elems[i].offset =
              (*resume)[static_cast<std::size_t>(i)].value_or(RD_KAFKA_OFFSET_INVALID);
        rd_kafka_assign(consumer_.get(), partitions);
        return;
      }
    }
    fatal_ = error;
    rd_kafka_assign(consumer_.get(), nullptr);
  }

  void revoke(rd_kafka_topic_partition_list_t* partitions) {
    const auto ids = ids_of(partitions);
    if (fatal().empty()) save_and_commit(ids, false, "revoke");
    for (const auto& id : ids) {
      core_.revoke(id);
      if (!shutting_down_) print_diagnostic("k8s-netio: revoked {}\n", id.to_string());
    }
    rd_kafka_assign(consumer_.get(), nullptr);
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

  static io::findings_write_options write_options(const consume_options& o) {
    io::findings_write_options w;
    w.hec_index = o.hec_index;
    return w;
  }

  const consume_options& o_;
  svc::findings_destination output_;
  svc::partitioned_live core_;
  std::string state_topic_;
  std::optional<svc::state_log> state_log_;
  kafka_handle producer_;  // destroyed after the consumer (members go in reverse order)
  kafka_handle consumer_;
  std::string fatal_;
  bool shutting_down_ = false;
  std::uint64_t delivery_failures_ = 0;
  svc::metrics_listener metrics_;
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
  const auto format = check_consume_options(o);
  if (!format) return fail(format.error());

  const auto& rule =
      o.rule == "ratio" ? k8snetio::network_io_ratio : k8snetio::anomalous_network_io;
  auto baseline = svc::load_live_baseline<2>(o.baseline, rule);
  if (!baseline) return fail(baseline.error().what());
  svc::partitioned_live_options core;
  core.live = o.live;
  core.format = *svc::parse_message_format(o.input_format);
  core.learned_days_dir = o.baseline_state;
  // A state taken under another rule, baseline, window, lateness or input is refused (K3).
  core.settings = svc::partition_state_settings(o.rule, baseline->hash, o.live, o.input_format,
                                                !o.baseline_state.empty());

  stop_on_signals();

  consumer c(o, rule,
             std::make_shared<const k8snetio::baseline_table<2>>(std::move(baseline->table)),
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
  add_consume_flags(*cmd, *o);
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
