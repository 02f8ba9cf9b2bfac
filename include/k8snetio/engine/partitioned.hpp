// One engine per partition of a partitioned log (service.md K2, K3): Kafka partitions, Kinesis
// shards, Pulsar partitions or a SIEM's own queue. Each partition's state is saved with the
// offset it covers and restored before that partition's next record, so a record the state
// already holds (replayed after a failure) is skipped rather than counted twice.
#pragma once

#include <compare>
#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/to_text.hpp"

#include "../detail/snapshot.hpp"

namespace k8snetio {

/// An engine whose whole state goes to bytes and back (S4): `restore_state` on a fresh engine
/// built with the same settings, refusing without loading anything the bytes that are not its
/// own: as an error (result<void>, A6: the library's engines) or by throwing snapshot_error.
template <class Engine>
concept savable_engine = requires(Engine& e, const Engine& c, std::string_view bytes) {
  { c.save_state() } -> std::convertible_to<std::string>;
  e.restore_state(bytes);
};

/// A partition of a topic (or stream, or shard set).
struct partition_id {
  std::string topic;
  std::int32_t partition = 0;

  friend auto operator<=>(const partition_id&, const partition_id&) = default;
  friend bool operator==(const partition_id&, const partition_id&) = default;
  /// `topic/partition`, as messages and state keys name it.
  std::string to_string() const { return detail::concat(topic, '/', partition); }
};

/// The engines of the partitions assigned to this process, keyed by partition. Not
/// thread-safe: one thread polls, assigns and revokes, as a Kafka consumer does.
template <savable_engine Engine>
class partitioned_engines {
 public:
  /// Builds a fresh engine for a partition (the same rule and options every time).
  using factory_type = std::function<std::unique_ptr<Engine>(const partition_id&)>;

  /// `settings` names everything a saved state depends on beyond the engine's own settings
  /// (for example the baseline's hash); a state saved under other settings is refused.
  explicit partitioned_engines(factory_type make, std::string settings = {})
      : make_(std::move(make)), settings_(std::move(settings)) {
    if (!make_) throw std::invalid_argument("partitioned_engines: no engine factory");
  }

  /// K3 assign: a fresh engine for `id`, restored from `saved` (a save() of the same
  /// partition under the same settings) when there is one. Returns the offset to resume from,
  /// or nullopt when no state was given (the transport's committed or earliest offset).
  /// A6: an error of code bad_snapshot, leaving `id` unassigned, if `saved` is corrupt,
  /// foreign, of another partition or taken under other settings: nothing is half-loaded.
  [[nodiscard]] result<std::optional<std::int64_t>> assign(
      const partition_id& id, std::optional<std::string_view> saved = std::nullopt) {
    slot fresh;
    fresh.engine = make_(id);
    if (!fresh.engine) throw std::invalid_argument("partitioned_engines: the factory gave null");
    if (saved) {
      auto restored = detail::restore_result([&] { restore(id, *saved, fresh); });
      if (!restored) return tl::unexpected(std::move(restored.error()));
    }
    const auto resume = fresh.next_offset;
    slots_.insert_or_assign(id, std::move(fresh));
    return resume;
  }

  bool assigned(const partition_id& id) const { return slots_.count(id) != 0; }
  std::vector<partition_id> partitions() const {
    std::vector<partition_id> out;
    for (const auto& [id, s] : slots_) out.push_back(id);
    return out;
  }
  std::size_t size() const noexcept { return slots_.size(); }

  /// The engine of an assigned partition (std::out_of_range otherwise).
  Engine& engine(const partition_id& id) { return *at(id).engine; }
  const Engine& engine(const partition_id& id) const { return *at(id).engine; }

  /// False for a record the partition's state already covers (a replay after a failure).
  bool is_new(const partition_id& id, std::int64_t offset) const {
    const auto& s = at(id);
    return !s.next_offset || offset >= *s.next_offset;
  }
  /// The record at `offset` has gone into the engine: a state saved now covers it.
  void processed(const partition_id& id, std::int64_t offset) {
    auto& s = at(id);
    s.next_offset = offset + 1;
    s.dirty = true;
  }
  /// The first offset not yet covered (nullopt before the first record of a fresh state).
  std::optional<std::int64_t> next_offset(const partition_id& id) const {
    return at(id).next_offset;
  }
  /// Records went in since the last save().
  bool dirty(const partition_id& id) const { return at(id).dirty; }

  /// The partition's state with the offset it covers, as a checked snapshot (S4). The state
  /// covers every record before next_offset(id); commit that offset only once this is stored.
  [[nodiscard]] std::string save(const partition_id& id) {
    auto& s = at(id);
    detail::snapshot_writer w;
    w.str(id.topic);
    w.i64(id.partition);
    w.opt_i64(s.next_offset);
    w.str(s.engine->save_state());
    s.dirty = false;
    return seal_snapshot(snapshot_kind, settings_, w.bytes());
  }

  /// K3 revoke: the partition's engine is dropped (save() it first).
  void revoke(const partition_id& id) { slots_.erase(id); }

  static constexpr std::string_view snapshot_kind = "partitioned_engine";

 private:
  struct slot {
    std::unique_ptr<Engine> engine;
    std::optional<std::int64_t> next_offset;
    bool dirty = false;
  };

  /// Reads a save() of `id` into `fresh`; throws snapshot_error (assign returns it).
  void restore(const partition_id& id, std::string_view saved, slot& fresh) {
    Engine& engine = *fresh.engine;
    detail::snapshot_reader in(open_snapshot(saved, snapshot_kind, settings_),
                               detail::concat("state of ", id.to_string()));
    const std::string_view topic = in.str();
    const auto partition = static_cast<std::int32_t>(in.i64());
    if (topic != id.topic || partition != id.partition)
      throw snapshot_error(detail::concat("a state of partition ", topic, '/', partition,
                                          ", not of ", id.to_string()));
    fresh.next_offset = in.opt_i64();
    const std::string_view engine_state = in.str();
    in.expect_end();
    if constexpr (std::is_void_v<decltype(engine.restore_state(engine_state))>)
      engine.restore_state(engine_state);
    else
      detail::throw_if_refused(engine.restore_state(engine_state));
  }

  slot& at(const partition_id& id) {
    auto it = slots_.find(id);
    if (it == slots_.end())
      throw std::out_of_range("partitioned_engines: " + id.to_string() + " is not assigned");
    return it->second;
  }
  const slot& at(const partition_id& id) const {
    return const_cast<partitioned_engines*>(this)->at(id);
  }

  factory_type make_;
  std::string settings_;
  std::map<partition_id, slot> slots_;
};

}  // namespace k8snetio
