// The rows the detector holds between D1 and D6 (D3, S2.2): half-joined pivot rows waiting for
// their pod's other directions, in the order they opened (for sealing), and the main rule's
// exceeding measures per pod and bucket until their window closes; with their part of the
// state snapshot (S4).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "../../detail/flat_hash.hpp"
#include "../../detail/snapshot.hpp"
#include "../../detail/symbol_table.hpp"
#include "../../model/rows.hpp"
#include "pod_registry.hpp"

namespace k8snetio::detail {

/// One pod's bucket.
struct pod_bucket {
  std::uint32_t pod;
  std::int64_t time;
  friend bool operator==(const pod_bucket&, const pod_bucket&) = default;
};
struct pod_bucket_hash {
  std::size_t operator()(const pod_bucket& k) const noexcept {
    return static_cast<std::size_t>(hash_mix(k.pod, static_cast<std::uint64_t>(k.time)));
  }
};

template <std::size_t N>
struct held_rows {
  /// D3: a pivoted row whose measures are still coming.
  struct pending_row {
    measure_row<N> row;
    std::size_t filled = 0;                ///< measures present: complete at N
    std::array<double, N> sum{};           ///< D3: the io of the rows each measure had
    std::array<std::uint64_t, N> count{};  ///< D3: and how many
  };
  /// Main rule: the exceeding measures of one pod's bucket, joined when its window closes.
  struct anomalous_measures {
    std::string_view cluster, node, pod, service;
    std::array<std::optional<double>, N> values{};  ///< the exceeding measures only
  };
  using pending_map = std::unordered_map<pod_bucket, pending_row, pod_bucket_hash>;
  using anomalous_map = std::unordered_map<pod_bucket, anomalous_measures, pod_bucket_hash>;

  pending_map pending;
  std::deque<pod_bucket> order;  ///< pending rows in the order they opened (lazily pruned)
  anomalous_map anomalous;

  /// S4: the half-joined rows, their order, the anomalous buckets.
  void save(snapshot_writer& w) const;
  /// S4: into empty ones, rows of the live pods of `pods` only; throws snapshot_error.
  void restore(snapshot_reader& r, const pod_registry& pods);

 private:
  static void save_row(snapshot_writer& w, const pod_bucket& k, std::string_view cluster,
                       std::string_view node, std::string_view pod, std::string_view service,
                       const std::array<std::optional<double>, N>& values);
  void restore_row(snapshot_reader& r, const pod_registry& pods, pod_bucket& k,
                   std::string_view& cluster, std::string_view& node, std::string_view& pod,
                   std::string_view& service, std::array<std::optional<double>, N>& values);

  symbol_table restored_;  // S4: the strings of restored rows
};

template <std::size_t N>
void held_rows<N>::save_row(snapshot_writer& w, const pod_bucket& k, std::string_view cluster,
                            std::string_view node, std::string_view pod, std::string_view service,
                            const std::array<std::optional<double>, N>& values) {
  w.u32(k.pod);
  w.i64(k.time);
  for (std::string_view v : {cluster, node, pod, service}) w.str(v);
  for (const auto& v : values) w.opt_f64(v);
}

template <std::size_t N>
void held_rows<N>::restore_row(snapshot_reader& r, const pod_registry& pods, pod_bucket& k,
                               std::string_view& cluster, std::string_view& node,
                               std::string_view& pod, std::string_view& service,
                               std::array<std::optional<double>, N>& values) {
  k.pod = r.u32();
  k.time = r.i64();
  if (k.pod >= pods.size() || !pods[k.pod].live) r.fail("a row of a pod that does not exist");
  for (std::string_view* v : {&cluster, &node, &pod, &service})
    *v = restored_.view(restored_.intern(r.str()));
  for (auto& v : values) v = r.opt_f64();
}

template <std::size_t N>
void held_rows<N>::save(snapshot_writer& w) const {
  w.u64(pending.size());
  for (const auto& [k, p] : pending) {
    save_row(w, k, p.row.cluster, p.row.node, p.row.pod, p.row.service, p.row.values);
    w.u64(p.filled);
    for (std::size_t m = 0; m < N; ++m) {
      w.f64(p.sum[m]);
      w.u64(p.count[m]);
    }
  }
  w.u64(order.size());
  for (const pod_bucket& k : order) {
    w.u32(k.pod);
    w.i64(k.time);
  }
  w.u64(anomalous.size());
  for (const auto& [k, a] : anomalous)
    save_row(w, k, a.cluster, a.node, a.pod, a.service, a.values);
}

template <std::size_t N>
void held_rows<N>::restore(snapshot_reader& r, const pod_registry& pods) {
  const std::size_t rows = r.count(12 + 32 + N + 8 + 16 * N);
  for (std::size_t i = 0; i < rows; ++i) {
    pod_bucket k{};
    pending_row p{};
    restore_row(r, pods, k, p.row.cluster, p.row.node, p.row.pod, p.row.service, p.row.values);
    p.row.time = k.time;
    p.filled = r.u64();
    if (p.filled > N) r.fail("a half-joined row with more measures than the rule has");
    std::size_t counted = 0;
    for (std::size_t m = 0; m < N; ++m) {
      p.sum[m] = r.f64();
      p.count[m] = r.u64();
      counted += p.count[m] > 0;
    }
    if (counted != p.filled) r.fail("a half-joined row whose measures do not add up");
    if (!pending.emplace(k, std::move(p)).second) r.fail("a half-joined row twice");
  }
  const std::size_t opened = r.count(12);
  for (std::size_t i = 0; i < opened; ++i) {
    pod_bucket k{r.u32(), 0};
    k.time = r.i64();
    order.push_back(k);
  }
  const std::size_t exceeding = r.count(12 + 32 + N);
  for (std::size_t i = 0; i < exceeding; ++i) {
    pod_bucket k{};
    anomalous_measures a{};
    restore_row(r, pods, k, a.cluster, a.node, a.pod, a.service, a.values);
    if (!anomalous.emplace(k, a).second) r.fail("an anomalous bucket twice");
  }
}

}  // namespace k8snetio::detail
