// The detector's pods (S5, I3.3): a dense id per (cluster, node, pod), the context its findings
// get (namespace, uid), the marks of its half-joined buckets, and the release of pods nothing
// holds any more; with their part of the detector's state snapshot (S4).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "../../detail/snapshot.hpp"
#include "../../detail/symbol_table.hpp"

namespace k8snetio::detail {

class pod_registry {
 public:
  struct pod_state {
    std::string namespace_name, pod_uid;  ///< I3.3: context for its findings
    std::int64_t sealed_through = std::numeric_limits<std::int64_t>::min();
    std::int64_t newest = std::numeric_limits<std::int64_t>::min();  ///< latest row's bucket
    std::vector<std::int64_t> waiting;  ///< buckets of its half-joined rows (by_series)
    bool kept = false;  ///< it had an anomalous bucket: kept for its findings' context
    bool live = true;   ///< false: released (S5), its id is free
  };

  /// The id of a held pod.
  std::optional<std::uint32_t> find(std::string_view cluster, std::string_view node,
                                    std::string_view pod);
  /// A new id for a pod not held: a released one (the last released first) or the next.
  std::uint32_t add(std::string_view cluster, std::string_view node, std::string_view pod);
  /// S5: a sweep is due once the pods held have doubled since the last one.
  bool sweep_due() const noexcept { return ids_.size() >= next_sweep_; }
  /// S5: releases the live pods `used` does not mark, that had no anomalous bucket and wait on
  /// no row; returns their ids (free now).
  std::vector<std::uint32_t> release_unused(const std::vector<bool>& used);

  /// The ids of the pods held, for a sweep's marks (size(): every id, free ones too).
  std::size_t held() const noexcept { return ids_.size(); }
  std::size_t size() const noexcept { return pods_.size(); }
  pod_state& operator[](std::uint32_t id) { return pods_[id]; }
  const pod_state& operator[](std::uint32_t id) const { return pods_[id]; }

  /// The key (cluster NUL node NUL pod) of a pod id.
  std::string_view name(std::uint32_t id) const { return names_[id]; }
  /// The cluster, node and pod of a pod id, as views that live as long as the registry: rows
  /// held across buckets point here, not at the aggregator's names of a series, which go when
  /// the series is released (S5).
  std::tuple<std::string_view, std::string_view, std::string_view> parts(std::uint32_t id) const;

  /// S4: the pods, their free ids and the next sweep, in the detector's snapshot.
  void save(snapshot_writer& w) const;
  /// S4: into an empty registry; throws snapshot_error.
  void restore(snapshot_reader& r);

 private:
  const std::string& key(std::string_view cluster, std::string_view node, std::string_view pod);

  std::unordered_map<std::string, std::uint32_t, string_hash, std::equal_to<>> ids_;
  std::vector<pod_state> pods_;
  std::vector<std::string_view> names_;  // pod id → its key in ids_ (node-based: stable)
  std::vector<std::uint32_t> free_;      // S5: released pod ids, reused last first
  std::size_t next_sweep_ = 4096;        // S5: pods held at the next sweep
  std::string key_;
};

inline const std::string& pod_registry::key(std::string_view cluster, std::string_view node,
                                            std::string_view pod) {
  key_.assign(cluster);
  key_ += '\0';
  key_ += node;
  key_ += '\0';
  key_ += pod;
  return key_;
}

inline std::optional<std::uint32_t> pod_registry::find(std::string_view cluster,
                                                       std::string_view node,
                                                       std::string_view pod) {
  if (auto it = ids_.find(key(cluster, node, pod)); it != ids_.end()) return it->second;
  return std::nullopt;
}

inline std::uint32_t pod_registry::add(std::string_view cluster, std::string_view node,
                                       std::string_view pod) {
  std::uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
    pods_[id] = pod_state{};
  } else {
    id = static_cast<std::uint32_t>(pods_.size());
    pods_.emplace_back();
    names_.emplace_back();
  }
  names_[id] = ids_.emplace(key(cluster, node, pod), id).first->first;
  return id;
}

inline std::vector<std::uint32_t> pod_registry::release_unused(const std::vector<bool>& used) {
  std::vector<std::uint32_t> released;
  for (std::uint32_t id = 0; id < pods_.size(); ++id) {
    pod_state& p = pods_[id];
    if (!p.live || used[id] || p.kept || !p.waiting.empty()) continue;
    ids_.erase(ids_.find(names_[id]));
    names_[id] = {};
    p = pod_state{};
    p.live = false;
    free_.push_back(id);
    released.push_back(id);
  }
  next_sweep_ = std::max<std::size_t>(4096, 2 * ids_.size());
  return released;
}

inline std::tuple<std::string_view, std::string_view, std::string_view> pod_registry::parts(
    std::uint32_t id) const {
  const std::string_view k = names_[id];
  const std::size_t a = k.find('\0');
  const std::size_t b = k.find('\0', a + 1);
  return {k.substr(0, a), k.substr(a + 1, b - a - 1), k.substr(b + 1)};
}

inline void pod_registry::save(snapshot_writer& w) const {
  w.u64(pods_.size());
  for (std::size_t i = 0; i < pods_.size(); ++i) {
    const pod_state& p = pods_[i];
    w.boolean(p.live);
    if (!p.live) continue;
    w.str(names_[i]);
    w.str(p.namespace_name);
    w.str(p.pod_uid);
    w.i64(p.sealed_through);
    w.i64(p.newest);
    w.u64(p.waiting.size());
    for (std::int64_t t : p.waiting) w.i64(t);
    w.boolean(p.kept);
  }
  w.u64(free_.size());
  for (std::uint32_t id : free_) w.u32(id);
  w.u64(next_sweep_);
}

inline void pod_registry::restore(snapshot_reader& r) {
  const std::size_t pods = r.count(1);
  if (pods >= std::numeric_limits<std::uint32_t>::max()) r.fail("too many pods");
  pods_.resize(pods);
  names_.resize(pods);
  for (std::size_t i = 0; i < pods; ++i) {
    pod_state& p = pods_[i];
    p.live = r.boolean();
    if (!p.live) continue;
    const auto [it, fresh] = ids_.try_emplace(std::string(r.str()), static_cast<std::uint32_t>(i));
    if (!fresh) r.fail("a pod named twice");
    if (std::count(it->first.begin(), it->first.end(), '\0') != 2)
      r.fail("a pod key that is not cluster, node and pod");
    names_[i] = it->first;
    p.namespace_name = r.str();
    p.pod_uid = r.str();
    p.sealed_through = r.i64();
    p.newest = r.i64();
    p.waiting.resize(r.count(8));
    for (std::int64_t& t : p.waiting) t = r.i64();
    p.kept = r.boolean();
  }
  const std::size_t freed = r.count(4);
  for (std::size_t i = 0; i < freed; ++i) {
    const std::uint32_t id = r.u32();
    if (id >= pods || pods_[id].live) r.fail("a free pod id that is not free");
    free_.push_back(id);
  }
  if (ids_.size() + free_.size() != pods) r.fail("the free pod ids do not match the released pods");
  next_sweep_ = static_cast<std::size_t>(r.u64());
}

}  // namespace k8snetio::detail
