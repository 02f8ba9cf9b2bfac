// K2, K3, K5, K6 (service.md), L0: the live core over a partitioned log, transport-free. Kafka
// (`k8s-netio consume`), Kinesis shards or a SIEM's own queue hand it messages by partition and
// offset; it keeps, per assigned partition, a live_detector (the same decoding, accounting,
// statuses and defaults as serve), the points' counts since the group began, the K6 learner of
// per-day baselines, the offset its state covers, and which offsets may be committed:
//
// - message(): a record its partition's state already covers (a replay after a failover) is
//   skipped, not counted twice (K3); otherwise its points go to that partition's detector (K2)
//   and the learner, a pod seen on two partitions is noted (K2), and the days the learner
//   completed are written to the partition's folder of day states (K6).
// - Commit after durable (K3, issue 28 #1): findings go to the output as their windows close
//   (the output makes them durable before it returns); due() names the partitions whose state
//   to save, save() gives it, and once the transport has stored it durably stored() makes the
//   offsets it covers committable: commits() lists them until committed() confirms them (a
//   refused commit is retried at the next checkpoint, never fatal).
// - State chunks (K3): a state larger than one message is split into chunks and a manifest
//   naming them (split_state); assemble_state puts them together, or names what is wrong.
// - Accounting (K1, K5, L4): the outcome counts, the /metrics text and the closing summary.
//
// Not thread-safe: one thread polls, assigns and revokes, as a Kafka consumer does.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <k8snetio/engine/baseline_learner.hpp>
#include <k8snetio/engine/partitioned.hpp>
#include <k8snetio/engine/snapshot.hpp>
#include <k8snetio/io/baseline_state_dir.hpp>
#include <k8snetio/model/baseline_table.hpp>
#include <k8snetio/rules/rule_definition.hpp>
#include <k8snetio/service/decode.hpp>
#include <k8snetio/service/findings_sink.hpp>
#include <k8snetio/service/live_detector.hpp>
#include <k8snetio/service/live_options.hpp>
#include <k8snetio/service/outcome.hpp>

namespace k8snetio::service {

/// Where the partitions' findings go: durable before it returns true (K3: the offsets that
/// produced them are committed only after).
using findings_output = std::function<bool(std::span<const finding>, std::string& error)>;

/// K1.1: how a partition's messages are read. `otlp` tells protobuf and JSON apart by content.
enum class message_format : std::uint8_t { otlp, otlp_json, otlp_protobuf, hec };

/// "otlp", "otlp-json", "otlp-proto" or "hec" (the --input-format values).
inline std::optional<message_format> parse_message_format(std::string_view text) {
  if (text == "otlp") return message_format::otlp;
  if (text == "otlp-json") return message_format::otlp_json;
  if (text == "otlp-proto") return message_format::otlp_protobuf;
  if (text == "hec") return message_format::hec;
  return std::nullopt;
}

/// Everything the partitions are built with.
struct partitioned_live_options {
  live_options live;  ///< L0: the options, defaults and checks serve has
  message_format format = message_format::otlp;
  /// K6: keep each partition's per-day baseline state and write its complete UTC days to
  /// `learned_days_dir/TOPIC-PARTITION/`; empty: no learner.
  std::string learned_days_dir;
  /// Names what a saved state depends on beyond the detector's own settings (the rule, the
  /// baseline's hash, the input format): a state saved under other settings is refused.
  std::string settings;
};

/// One partition: its live detector, its learner (K6) and its counts since the group began
/// (carried by its state, so that every point is accounted for across failovers, K5).
class live_partition {
 public:
  live_partition(const rule_definition<2>& rule, std::shared_ptr<const baseline_table<2>> table,
                 const partitioned_live_options& options, findings_output out)
      : sink_(std::move(out)), live(rule, std::move(table), options.live, sink_) {
    if (!options.learned_days_dir.empty()) {
      baseline_run_options learn;
      learn.span.span_seconds = options.live.span_seconds;
      learn.span.metric_name = options.live.metric;
      learn.span.allowed_lateness = options.live.lateness_seconds;
      learn.span.max_open_groups = options.live.max_open_groups;
      rolling_baseline_options rolling;
      rolling.horizon_days = options.live.horizon_days;
      learner.emplace(rule, std::move(learn), rolling);
    }
    live.on_accepted([this](const metric_point& p) {
      if (learner) (void)learner->add(p);  // K6: what the detector took
      if (on_point) on_point(p);
    });
  }
  live_partition(const live_partition&) = delete;
  live_partition& operator=(const live_partition&) = delete;

 private:
  /// Counts what the partition wrote and hands it to the output.
  class counting_sink final : public findings_sink {
   public:
    explicit counting_sink(findings_output out) : out_(std::move(out)) {}
    bool write(std::span<const finding> found, std::string& error) override {
      if (!out_(found, error)) return false;
      written += found.size();
      return true;
    }
    std::uint64_t written = 0;

   private:
    findings_output out_;
  };
  counting_sink sink_;  // before `live`, which keeps a reference to it

 public:
  live_detector<2> live;
  std::optional<baseline_learner<2>> learner;             ///< K6
  std::function<void(const metric_point&)> on_point;      ///< K2's pod check
  std::uint64_t accepted = 0, rejected = 0, ignored = 0;  ///< points since the group began
  std::uint64_t messages = 0, malformed = 0;
  std::uint64_t findings_before = 0;  ///< written by earlier owners

  std::uint64_t findings() const noexcept { return findings_before + sink_.written; }

  std::string save_state() const {
    detail::snapshot_writer w;
    w.u64(accepted);
    w.u64(rejected);
    w.u64(ignored);
    w.u64(messages);
    w.u64(malformed);
    w.u64(findings());
    w.str(live.save_state());
    w.boolean(learner.has_value());
    if (learner) w.str(learner->save_state());
    return seal_snapshot("consume_partition", "2", w.bytes());
  }

  /// On a fresh partition. A6: anything but its own kind of state is an error of code
  /// bad_snapshot; the partition may then be partly restored, so discard it (partitioned_engines
  /// does: the partition is not assigned).
  [[nodiscard]] result<void> restore_state(std::string_view bytes) {
    return detail::restore_result([&] { restore_or_throw(bytes); });
  }

 private:
  void restore_or_throw(std::string_view bytes) {
    detail::snapshot_reader in(open_snapshot(bytes, "consume_partition", "2"),
                               "consume partition state");
    const std::uint64_t a = in.u64(), r = in.u64(), i = in.u64(), m = in.u64(), bad = in.u64(),
                        f = in.u64();
    const std::string_view engine = in.str();
    const bool learned = in.boolean();
    if (learned != learner.has_value())
      in.fail(learned ? "it holds a learned baseline, this consumer keeps none"
                      : "it holds no learned baseline, this consumer keeps one");
    const std::string_view learned_state = learned ? in.str() : std::string_view{};
    in.expect_end();
    detail::throw_if_refused(live.restore_state(engine));
    if (learner) detail::throw_if_refused(learner->restore_state(learned_state));
    accepted = a;
    rejected = r;
    ignored = i;
    messages = m;
    malformed = bad;
    findings_before = f;
    sink_.written = 0;
  }
};

/// The live partitions assigned to this process (see the top of this file).
class partitioned_live {
 public:
  /// `log` gets the lines worth a person's attention (a learned day, a pod on two partitions
  /// is not one: see summary()). `rule` must outlive this object.
  partitioned_live(const rule_definition<2>& rule, std::shared_ptr<const baseline_table<2>> table,
                   partitioned_live_options options, findings_output out,
                   std::function<void(const std::string&)> log = {})
      : options_(std::move(options)),
        out_(std::move(out)),
        log_(std::move(log)),
        engines_(
            [this, &rule, table](const partition_id& id) {
              auto p = std::make_unique<live_partition>(rule, table, options_, out_);
              p->on_point = [this, id](const metric_point& point) { note_pod(point, id); };
              return p;
            },
            options_.settings) {}

  partitioned_live(const partitioned_live&) = delete;
  partitioned_live& operator=(const partitioned_live&) = delete;

  // ---- K3: assignment ------------------------------------------------------------------------

  /// A fresh partition, restored from `saved` when given. Returns the offset to resume from
  /// (its offset is then committable: the previous owner's commit may have been refused), or
  /// nullopt without a state. A6: an error of code bad_snapshot, leaving `id` unassigned, when
  /// `saved` is not a state of this partition under these settings: nothing is half-loaded.
  [[nodiscard]] result<std::optional<std::int64_t>> assign(
      const partition_id& id, std::optional<std::string_view> saved = std::nullopt) {
    auto resume = engines_.assign(id, saved);
    if (resume && *resume) uncommitted_.insert(id);
    return resume;
  }
  /// Drops the partition (save and commit it first).
  void revoke(const partition_id& id) {
    if (engines_.assigned(id)) engines_.revoke(id);
    uncommitted_.erase(id);
  }
  bool assigned(const partition_id& id) const { return engines_.assigned(id); }
  std::vector<partition_id> partitions() const { return engines_.partitions(); }
  live_partition& partition(const partition_id& id) { return engines_.engine(id); }
  const live_partition& partition(const partition_id& id) const { return engines_.engine(id); }
  std::optional<std::int64_t> next_offset(const partition_id& id) const {
    return engines_.next_offset(id);
  }

  // ---- K1, K2: messages ----------------------------------------------------------------------

  enum class message_outcome : std::uint8_t {
    used,          ///< decoded and counted (a malformed message is counted as such)
    replayed,      ///< its partition's state already holds it (K3): skipped
    not_assigned,  ///< fetched before a revoke: ignored
  };

  /// One message of partition `id` at `offset`.
  message_outcome message(const partition_id& id, std::int64_t offset, std::string_view payload) {
    if (!engines_.assigned(id)) return message_outcome::not_assigned;
    if (!engines_.is_new(id, offset)) {
      ++replayed_;
      return message_outcome::replayed;
    }
    ++messages_;
    last_message_ = std::chrono::steady_clock::now();
    if (messages_ == 1) {
      first_message_ = last_message_;
      first_message_epoch_ = std::chrono::system_clock::now();
    }
    auto& p = engines_.engine(id);
    ++p.messages;
    if (payload.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      note_malformed(id, offset, "empty message");
    } else {
      const ingest_result r = p.live.ingest(kind_of(payload), payload);
      if (r.state == ingest_result::status::unsupported ||
          r.state == ingest_result::status::malformed)
        note_malformed(id, offset, r.message.empty() ? "bad syntax" : r.message);
      p.accepted += r.accepted();
      p.rejected += r.rejected();
      p.ignored += r.ignored();
      counts_ += r.counts;
    }
    engines_.processed(id, offset);
    learn(id, p);
    return message_outcome::used;
  }

  /// Set when a learned day could not be written (K6): the transport should stop, committing
  /// nothing more.
  const std::string& fatal() const noexcept { return fatal_; }

  // ---- K3: save, then commit -----------------------------------------------------------------

  /// Of `ids`, the assigned partitions whose state to save now: those with records since the
  /// last save, or all that hold records (`all`, at shutdown).
  std::vector<partition_id> due(const std::vector<partition_id>& ids, bool all) const {
    std::vector<partition_id> out;
    for (const auto& id : ids)
      if (engines_.assigned(id) && (all || engines_.dirty(id)) && engines_.next_offset(id))
        out.push_back(id);
    return out;
  }
  /// The partition's state with the offset it covers (S4); store it, then call stored().
  std::string save(const partition_id& id) { return engines_.save(id); }
  /// The state save() gave is durable: the offset it covers may be committed.
  void stored(const partition_id& id) {
    if (engines_.assigned(id)) uncommitted_.insert(id);
  }
  /// Of `ids`, the offsets stored states cover and the log has not confirmed.
  std::vector<std::pair<partition_id, std::int64_t>> commits(
      const std::vector<partition_id>& ids) const {
    std::vector<std::pair<partition_id, std::int64_t>> out;
    for (const auto& id : uncommitted_)
      if (std::find(ids.begin(), ids.end(), id) != ids.end() && engines_.assigned(id) &&
          engines_.next_offset(id))
        out.emplace_back(id, *engines_.next_offset(id));
    return out;
  }
  /// The log confirmed these commits.
  void committed(const std::vector<std::pair<partition_id, std::int64_t>>& done) {
    for (const auto& [id, offset] : done) uncommitted_.erase(id);
  }

  // ---- accounting ----------------------------------------------------------------------------

  const outcome_counts& counts() const noexcept { return counts_; }
  std::uint64_t messages() const noexcept { return messages_; }
  std::uint64_t replayed() const noexcept { return replayed_; }
  std::uint64_t malformed() const noexcept { return malformed_.size() + malformed_more_; }

  /// L4: this process's counters as Prometheus text (K1: the same names and labels as serve).
  /// `findings_by_status`: what the output wrote, by finding_status.
  void render_metrics(std::string& out, const std::array<std::uint64_t, 4>& findings_by_status,
                      std::int64_t last_state_write) const {
    const auto counter = [&out](std::string_view name, std::string_view help, auto value) {
      out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, value);
    };
    counter("k8snetio_points_accepted_total",
            "Points accepted (a cumulative series' first point included).", counts_.accepted());
    out +=
        "# HELP k8snetio_points_rejected_total Points rejected, by reason.\n"
        "# TYPE k8snetio_points_rejected_total counter\n"
        "# HELP k8snetio_points_ignored_total Points not for this rule, by reason.\n"
        "# TYPE k8snetio_points_ignored_total counter\n";
    for (std::size_t i = 0; i < point_outcome_count; ++i) {
      const auto o = static_cast<point_outcome>(i);
      const auto c = class_of(o);
      if (c == outcome_class::accepted || !counts_[o]) continue;
      out +=
          fmt::format("k8snetio_points_{}_total{{reason=\"{}\"}} {}\n",
                      c == outcome_class::rejected ? "rejected" : "ignored", label(o), counts_[o]);
    }
    counter("k8snetio_messages_total", "Messages consumed (replays skipped excluded).", messages_);
    counter("k8snetio_malformed_messages_total", "Messages that were not OTLP JSON or HEC.",
            malformed());
    counter("k8snetio_replayed_messages_skipped_total",
            "Messages a restored state already held (K3).", replayed_);
    out +=
        "# HELP k8snetio_findings_emitted_total Findings written, by status (L12).\n"
        "# TYPE k8snetio_findings_emitted_total counter\n";
    for (const auto st :
         {finding_status::final, finding_status::provisional, finding_status::partial})
      out += fmt::format("k8snetio_findings_emitted_total{{status=\"{}\"}} {}\n", to_string(st),
                         findings_by_status[static_cast<std::size_t>(st)]);
    std::uint64_t learned = 0;
    for (const auto& id : engines_.partitions())
      if (const auto& p = engines_.engine(id); p.learner) learned += p.learner->rolling().size();
    out += fmt::format(
        "# TYPE k8snetio_late_points_total counter\nk8snetio_late_points_total {}\n"
        "# HELP k8snetio_assigned_partitions Partitions this consumer holds.\n"
        "# TYPE k8snetio_assigned_partitions gauge\nk8snetio_assigned_partitions {}\n",
        counts_[point_outcome::late], engines_.size());
    if (!options_.learned_days_dir.empty())
      out += fmt::format(
          "# HELP k8snetio_learned_days Days held by the partitions' learners (K6), summed.\n"
          "# TYPE k8snetio_learned_days gauge\nk8snetio_learned_days {}\n",
          learned);
    out += fmt::format(
        "# TYPE k8snetio_last_state_write_timestamp_seconds gauge\n"
        "k8snetio_last_state_write_timestamp_seconds {}\n",
        last_state_write);
  }

  /// K1's closing summary lines (points accepted and rejected by reason, malformed messages
  /// named by partition and offset, replays skipped) and K2's warnings: pods on two partitions.
  std::vector<std::string> summary(std::string_view source, std::uint64_t findings_written) const {
    const auto n = [](std::uint64_t v) { return with_commas(v); };
    const auto s = [](std::uint64_t v) { return v == 1 ? "" : "s"; };
    std::string reasons;
    for (std::size_t i = 0; i < point_outcome_count; ++i) {
      const auto o = static_cast<point_outcome>(i);
      if (class_of(o) == outcome_class::rejected && counts_[o])
        reasons += fmt::format("{}{} {}", reasons.empty() ? " (" : ", ", n(counts_[o]), label(o));
    }
    if (!reasons.empty()) reasons += ")";
    std::vector<std::string> out;
    out.push_back(fmt::format(
        "{} message{} from {}: points {} accepted, {} rejected{}, {} ignored; {} malformed "
        "message{}; {} replayed message{} skipped; {} finding{} written",
        n(messages_), s(messages_), source, n(counts_.accepted()), n(counts_.rejected()), reasons,
        n(counts_.ignored()), n(malformed()), s(malformed()), n(replayed_), s(replayed_),
        n(findings_written), s(findings_written)));
    for (const auto& [where, why] : malformed_)
      out.push_back(fmt::format("malformed message {}: {}", where, why));
    if (malformed_more_)
      out.push_back(fmt::format("… and {} more malformed messages", malformed_more_));
    for (const auto& [pod, where] : split_pods_)
      out.push_back(fmt::format(
          "warning: pod {} is on partitions {}: its series are split, so its buckets are "
          "incomplete (key the collector's kafka exporter by pod)",
          pod, where));
    return out;
  }

  /// K1's closing throughput line: points and messages a second from the first message to the
  /// last (nullopt under two messages).
  std::optional<std::string> throughput() const {
    if (messages_ < 2) return std::nullopt;
    const double seconds = std::chrono::duration<double>(last_message_ - first_message_).count();
    const auto rate = [&](std::uint64_t n) {
      return with_commas(
          static_cast<std::uint64_t>(static_cast<double>(n) / std::max(seconds, 1e-9)));
    };
    return fmt::format(
        "{:.2f} s from the first message to the last (from {:.3f} epoch): {} points/s, {} "
        "messages/s",
        seconds, std::chrono::duration<double>(first_message_epoch_.time_since_epoch()).count(),
        rate(counts_.accepted() + counts_.rejected()), rate(messages_));
  }

  /// 1234567 as "1,234,567".
  static std::string with_commas(std::uint64_t v) {
    std::string digits = fmt::format("{}", v), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
      if (i && (digits.size() - i) % 3 == 0) out += ',';
      out += digits[i];
    }
    return out;
  }

 private:
  payload_kind kind_of(std::string_view payload) const {
    switch (options_.format) {
      case message_format::hec: return payload_kind::hec;
      case message_format::otlp_json: return payload_kind::otlp_json;
      case message_format::otlp_protobuf: return payload_kind::otlp_protobuf;
      case message_format::otlp: break;
    }
    return sniff_otlp(payload);
  }

  void note_malformed(const partition_id& id, std::int64_t offset, std::string why) {
    ++engines_.engine(id).malformed;
    if (malformed_.size() < 10)
      malformed_.emplace_back(fmt::format("{}@{}", id.to_string(), offset), std::move(why));
    else
      ++malformed_more_;
  }

  /// K2: the same pod on two partitions is a configuration error, reported, not split silently.
  void note_pod(const metric_point& p, const partition_id& id) {
    pod_key_.assign(p.cluster);
    pod_key_ += '/';
    pod_key_ += p.pod;
    auto it = pod_partition_.find(pod_key_);
    if (it == pod_partition_.end())
      pod_partition_.emplace(pod_key_, id.partition);
    else if (it->second != id.partition && !split_pods_.count(pod_key_) && split_pods_.size() < 20)
      split_pods_.emplace(pod_key_, fmt::format("{} and {}", it->second, id.partition));
  }

  /// K6: the days this partition's learner completed, written to its folder of day states
  /// (`baseline --merge DIR/*` combines the partitions'). Written again, identical, when a
  /// message is replayed after a failover.
  void learn(const partition_id& id, live_partition& p) {
    if (!p.learner) return;
    const auto days = p.learner->take_completed_days();
    if (days.empty()) return;
    const std::string dir = (std::filesystem::path(options_.learned_days_dir) /
                             fmt::format("{}-{}", id.topic, id.partition))
                                .string();
    if (auto failed = io::write_day_files(p.learner->rolling(), days, dir)) {
      fatal_ = *failed;
      return;
    }
    if (log_)
      for (const std::int64_t day : days)
        log_(fmt::format("{} learned the day {} into {}", id.to_string(), utc_day_text(day), dir));
  }

  partitioned_live_options options_;
  findings_output out_;
  std::function<void(const std::string&)> log_;
  partitioned_engines<live_partition> engines_;
  std::set<partition_id> uncommitted_;  ///< states stored whose offsets are not confirmed
  outcome_counts counts_;               ///< L0: one outcome per point, as serve counts them
  std::uint64_t messages_ = 0, replayed_ = 0;
  std::chrono::steady_clock::time_point first_message_, last_message_;
  std::chrono::system_clock::time_point first_message_epoch_;
  std::vector<std::pair<std::string, std::string>> malformed_;  ///< the first ten, named
  std::uint64_t malformed_more_ = 0;
  std::string fatal_;
  std::string pod_key_;
  std::unordered_map<std::string, std::int32_t> pod_partition_;
  std::map<std::string, std::string> split_pods_;
};

// ---- K3: a state in chunks -------------------------------------------------------------------

/// The largest value of one state message; larger states are chunked.
inline constexpr std::size_t state_chunk_bytes = 512 * 1024;
inline constexpr std::string_view state_manifest_magic = "k8snetio-state-manifest 1";

/// A state as messages: its chunks (key, value) and, last, the manifest under `key` itself.
struct state_messages {
  std::vector<std::pair<std::string, std::string_view>> chunks;  ///< views of the state's bytes
  std::string manifest;
};

/// Splits `bytes` (covering records before `next_offset`, -1: none) into chunks keyed
/// `key/chunk/generation/i` and the manifest that names them.
inline state_messages split_state(const std::string& key, std::string_view bytes,
                                  std::string_view generation, std::int64_t next_offset) {
  state_messages out;
  const std::size_t chunks = (bytes.size() + state_chunk_bytes - 1) / state_chunk_bytes;
  for (std::size_t i = 0; i < chunks; ++i)
    out.chunks.emplace_back(fmt::format("{}/chunk/{}/{}", key, generation, i),
                            bytes.substr(i * state_chunk_bytes, state_chunk_bytes));
  out.manifest = fmt::format("{} {} {} {} {}\n", state_manifest_magic, generation, chunks,
                             bytes.size(), next_offset);
  return out;
}

/// The chunk keys of a manifest's generation: `chunk_keys(key, generation, n)`.
inline std::vector<std::string> chunk_keys(const std::string& key, std::string_view generation,
                                           std::size_t chunks) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < chunks; ++i)
    out.push_back(fmt::format("{}/chunk/{}/{}", key, generation, i));
  return out;
}

/// A stored manifest and the chunks read with it.
struct stored_state {
  std::string manifest;
  std::int64_t offset = -1;                   ///< where the manifest is (for messages)
  std::map<std::string, std::string> chunks;  ///< key -> latest value
};

/// The state bytes `s`'s manifest names, with its generation and chunk count; nullopt and
/// `error` naming `where` and what is wrong (not a manifest, a chunk missing, a wrong size).
inline std::optional<std::string> assemble_state(const std::string& key, const stored_state& s,
                                                 std::string_view where, std::string& error,
                                                 std::pair<std::string, std::size_t>* generation) {
  char name[64] = {};
  unsigned long long chunks = 0, size = 0;
  long long offset = 0;
  if (s.manifest.rfind(state_manifest_magic, 0) != 0 ||
      std::sscanf(s.manifest.c_str() + state_manifest_magic.size(), " %63s %llu %llu %lld", name,
                  &chunks, &size, &offset) != 4 ||
      chunks > (size / state_chunk_bytes) + 1) {
    error = fmt::format("the state message in {} is not a k8snetio state manifest", where);
    return std::nullopt;
  }
  std::string bytes;
  std::size_t i = 0;
  for (const auto& chunk : chunk_keys(key, name, static_cast<std::size_t>(chunks))) {
    auto it = s.chunks.find(chunk);
    if (it == s.chunks.end()) {
      error = fmt::format("the state in {} lacks its chunk {} of {}", where, i + 1, chunks);
      return std::nullopt;
    }
    bytes += it->second;
    ++i;
  }
  if (bytes.size() != size) {
    error = fmt::format("the state in {} has {} bytes where its manifest says {}", where,
                        bytes.size(), size);
    return std::nullopt;
  }
  if (generation) *generation = {name, static_cast<std::size_t>(chunks)};
  return bytes;
}

}  // namespace k8snetio::service
