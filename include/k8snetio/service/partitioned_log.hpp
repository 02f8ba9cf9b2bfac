// K3, K4, L0: what an adapter over a partitioned log (`k8s-netio consume` over Kafka) does that
// is not the log's client library: the findings' destination (a topic, a file or standard
// output, or kept for one atomic write at exit), the keyed state log (a compacted topic) with
// its chunked generations, and the durable-before-commit order of a checkpoint. The adapter
// supplies only the calls that produce, flush and commit.
#pragma once

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <k8snetio/io/output/findings_writer.hpp>
#include <k8snetio/service/findings_sink.hpp>
#include <k8snetio/service/partitioned_live.hpp>

namespace k8snetio::service {

/// S2.1, K4: where the partitions' findings go, each durable before the offsets that produced
/// it are committed. A topic gets one message per finding, keyed by its id (`produce`, made
/// durable by the adapter's flush before the commit); a line format to a file is appended,
/// flushed and fsynced as its window closes; other formats (csv, table, html) are kept and
/// written whole at exit (whole_text()).
class findings_destination {
 public:
  /// `produce(key, value, error)`: hands one finding to the output topic.
  using producer =
      std::function<bool(const std::string& key, const std::string& value, std::string& error)>;

  findings_destination(io::output_format format, io::findings_write_options options)
      : format_(format), options_(std::move(options)) {}
  findings_destination(const findings_destination&) = delete;
  findings_destination& operator=(const findings_destination&) = delete;
  ~findings_destination() {
    if (file_) std::fclose(file_);
  }

  /// One message per finding: jsonl, hec, ocsf and risk.
  static bool line_format(io::output_format f) {
    return f == io::output_format::jsonl || f == io::output_format::hec ||
           f == io::output_format::ocsf || f == io::output_format::risk;
  }

  /// Findings to a topic through `produce`.
  void to_topic(std::string topic, producer produce) {
    topic_ = std::move(topic);
    produce_ = std::move(produce);
  }

  /// Findings to `path` ("" or "-": standard output). A line format is opened for appending now;
  /// false with `error` when it cannot be.
  bool to_file(const std::string& path, std::string& error) {
    path_ = path;
    if (!line_format(format_)) return true;
    const bool named = !path.empty() && path != "-";
    if (named && !(file_ = std::fopen(path.c_str(), "ae")))
      return error = fmt::format("cannot open {}: {}", path, std::strerror(errno)), false;
    sink_.emplace(named ? file_ : stdout, format_, named, options_);
    return true;
  }

  /// The partitions' findings output (partitioned_live's findings_output).
  bool write(std::span<const finding> found, std::string& error) {
    if (found.empty()) return true;
    if (produce_) {
      for (const auto& f : found) {
        std::string value;
        io::write_findings(value, std::span(&f, 1), format_, options_);
        if (!produce_(io::finding_uid(f), value, error))
          return error = fmt::format("cannot produce a finding to {}: {}", topic_, error), false;
      }
    } else if (sink_) {
      if (!sink_->write(found, error)) {  // K3: nothing is committed past findings not durable
        error = fmt::format("{} ({})", error, file_ ? path_ : "standard output");
        return false;
      }
    } else {
      kept_.insert(kept_.end(), found.begin(), found.end());
    }
    for (const auto& f : found) ++by_status_[static_cast<std::size_t>(f.status)];
    written_ += found.size();
    return true;
  }

  /// The text of a format written whole at exit; nullopt when the findings were written live.
  std::optional<std::string> whole_text() const {
    if (produce_ || sink_) return std::nullopt;
    std::string text;
    io::write_findings(text, kept_, format_, options_);
    return text;
  }
  const std::string& path() const noexcept { return path_; }
  std::uint64_t written() const noexcept { return written_; }
  const std::array<std::uint64_t, 4>& by_status() const noexcept { return by_status_; }

 private:
  io::output_format format_;
  io::findings_write_options options_;
  std::string topic_, path_;
  producer produce_;
  std::FILE* file_ = nullptr;
  std::optional<file_findings_sink> sink_;
  std::vector<finding> kept_;
  std::array<std::uint64_t, 4> by_status_{};
  std::uint64_t written_ = 0;
};

/// K3: the partitions' states in a keyed, compacted log of `partitions` partitions: partition
/// `topic`/`n` of group `group` is under key `group/topic/n`, in the log partition its hash
/// names, as chunks and then the manifest naming them; a new generation's manifest is followed
/// by tombstones for the old generation's chunks.
class state_log {
 public:
  /// One message to produce: a tombstone when `value` is empty.
  struct message {
    std::int32_t partition;
    std::string key;
    std::optional<std::string_view> value;
  };

  state_log(std::string group, std::int32_t partitions)
      : group_(std::move(group)), partitions_(partitions) {}

  std::string key(const partition_id& id) const {
    return fmt::format("{}/{}/{}", group_, id.topic, id.partition);
  }
  std::int32_t partition(const std::string& key) const {
    return static_cast<std::int32_t>(fnv1a64(key) % static_cast<std::uint64_t>(partitions_));
  }
  std::int32_t partitions() const noexcept { return partitions_; }

  /// The log partitions holding `ids`' states, to read up to their ends with collect().
  std::set<std::int32_t> partitions_of(const std::vector<partition_id>& ids) const {
    std::set<std::int32_t> out;
    for (const auto& id : ids) out.insert(partition(key(id)));
    return out;
  }

  /// One message read from the log (`value` nullptr: a tombstone) into `states`, the stored
  /// states of `ids` by key; the last manifest of each key wins, as compaction keeps it.
  void collect(const std::vector<partition_id>& ids, std::string_view key, const char* value,
               std::size_t size, std::int64_t offset, std::map<std::string, stored_state>& states) {
    for (const auto& id : ids) {
      const std::string wanted = this->key(id);
      if (key == wanted) {
        states[wanted].manifest.assign(value ? value : "", value ? size : 0);
        states[wanted].offset = offset;
      } else if (key.rfind(wanted + "/chunk/", 0) == 0) {
        if (value)
          states[wanted].chunks[std::string(key)].assign(value, size);
        else
          states[wanted].chunks.erase(std::string(key));
      }
    }
  }

  /// The state bytes of `id` in `states`, nullopt without one; throws snapshot_error naming
  /// `log_name` and where when its manifest or chunks are wrong.
  std::optional<std::string> stored(const partition_id& id, std::string_view log_name,
                                    const std::map<std::string, stored_state>& states) {
    const std::string k = key(id);
    auto it = states.find(k);
    if (it == states.end() || it->second.manifest.empty()) return std::nullopt;
    const auto where = fmt::format("{} (partition {}, offset {}, key {})", log_name, partition(k),
                                   it->second.offset, k);
    std::string error;
    std::pair<std::string, std::size_t> generation;
    auto bytes = assemble_state(k, it->second, where, error, &generation);
    if (!bytes) throw snapshot_error(error);
    generations_[k] = generation;
    return bytes;
  }

  /// The messages that store `bytes` (covering records before `next_offset`, -1: none) as
  /// `id`'s new generation; views of `bytes`. Call written() once they were all produced.
  std::vector<message> writes(const partition_id& id, const std::string& bytes,
                              std::int64_t next_offset) {
    const std::string k = key(id);
    const std::int32_t p = partition(k);
    std::random_device random;
    pending_ = {
        k, fmt::format("{:08x}{:08x}", random(), static_cast<std::uint32_t>(std::time(nullptr)))};
    split_ = split_state(k, bytes, pending_.second, next_offset);
    std::vector<message> out;
    for (const auto& [chunk, value] : split_.chunks) out.push_back({p, chunk, value});
    out.push_back({p, k, std::string_view(split_.manifest)});
    if (auto old = generations_.find(k); old != generations_.end())
      for (auto& chunk : chunk_keys(k, old->second.first, old->second.second))
        out.push_back({p, std::move(chunk), std::nullopt});
    return out;
  }
  void written() { generations_[pending_.first] = {pending_.second, split_.chunks.size()}; }

 private:
  std::string group_;
  std::int32_t partitions_;
  std::map<std::string, std::pair<std::string, std::size_t>> generations_;
  std::pair<std::string, std::string> pending_;
  state_messages split_;
};

/// K3: assigns `ids` to `core`, each restored from its state in `states` (read from the state
/// log named `log_name`); `log` gets a line per partition assigned. Returns the offset each
/// resumes from (nullopt: no state, the group's committed offset). When a state is refused
/// whole, nothing of it is loaded, every partition is revoked, nothing is consumed or committed:
/// nullopt, and `error` names it and how to start that partition afresh.
inline std::optional<std::vector<std::optional<std::int64_t>>> assign_partitions(
    partitioned_live& core, state_log& states_log, std::string_view log_name,
    const std::vector<partition_id>& ids, const std::map<std::string, stored_state>& states,
    std::string& error, const std::function<void(const std::string&)>& log) {
  const auto refuse = [&](const partition_id& id, std::string_view why) {
    error = fmt::format(
        "the state of {} in {} is refused: {}; remove it (a tombstone for key {}) to start "
        "that partition afresh, or run with the options that wrote it",
        id.to_string(), log_name, why, states_log.key(id));
    for (const auto& assigned : core.partitions()) core.revoke(assigned);
  };
  std::vector<std::optional<std::int64_t>> out;
  for (const auto& id : ids) {
    std::optional<std::string> bytes;
    try {
      bytes = states_log.stored(id, log_name, states);  // its chunks, assembled
    } catch (const snapshot_error& e) {
      refuse(id, e.what());
      return std::nullopt;
    }
    auto resume = bytes ? core.assign(id, *bytes) : core.assign(id);
    if (!resume) {
      refuse(id, resume.error().message);
      return std::nullopt;
    }
    out.push_back(*resume);
    log(fmt::format("assigned {}{}", id.to_string(),
                    out.back() ? fmt::format(", state restored at offset {}", *out.back())
                               : std::string(", no state")));
  }
  return out;
}

/// K3: what the partitions' states depend on beyond the detector's own settings: a state taken
/// under another rule, baseline (`baseline_hash`), window, lateness, input or learner is refused.
inline std::string partition_state_settings(std::string_view rule, std::uint64_t baseline_hash,
                                            const live_options& o, std::string_view input,
                                            bool learn) {
  return fmt::format(
      "rule={};baseline={:016x};window={};lateness={};span={};sigma={};min_count={};"
      "metric={};input={};learn={};early_alerts={}",
      rule, baseline_hash, o.window_seconds, o.lateness_seconds, o.span_seconds, o.sigma,
      o.min_count, o.metric, input, learn ? fmt::format("{}d", o.horizon_days) : "no",
      o.early_alerts);
}

/// K3, issue 28 #1: a checkpoint of the partitions `ids` (all that hold records when `all`):
/// each state due is saved through `store` (not yet durable), then `flush` makes the findings
/// and the states durable, and only then the offsets they cover are returned for the log to
/// commit (call core.committed() once it did). Nothing is returned when a store or the flush
/// failed. `log` gets a line per state saved, naming `why`.
struct checkpoint_result {
  std::vector<std::pair<partition_id, std::int64_t>> commits;
  bool saved = false;  ///< at least one state was made durable
};
inline checkpoint_result checkpoint(
    partitioned_live& core, const std::vector<partition_id>& ids, bool all, std::string_view why,
    const std::function<bool(const partition_id&, const std::string& bytes)>& store,
    const std::function<bool()>& flush, const std::function<void(const std::string&)>& log) {
  checkpoint_result out;
  const auto saved = core.due(ids, all);
  std::map<partition_id, std::size_t> sizes;
  for (const auto& id : saved) {
    const std::string bytes = core.save(id);
    sizes[id] = bytes.size();
    if (!store(id, bytes)) return out;
  }
  // Findings first and states second, both durable before the commit (K3).
  if (!saved.empty() && !flush()) return out;
  out.saved = !saved.empty();
  for (const auto& id : saved) {
    const auto& p = core.partition(id);
    log(fmt::format(
        "state of {} saved ({}) at offset {}: {} points accepted, {} rejected, {} malformed "
        "messages since the group began; {} bytes",
        id.to_string(), why, *core.next_offset(id), p.accepted, p.rejected, p.malformed,
        sizes[id]));
    core.stored(id);
  }
  out.commits = core.commits(ids);
  return out;
}

}  // namespace k8snetio::service
