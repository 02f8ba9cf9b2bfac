// D7 PersistenceFilter: the stage's class alone, for the engines, without its range adaptor and so
// without a range library (library.md A4: a translation unit pays only for what it includes).
// The stage, its rules and its adaptor are in ../persistence_filter.hpp, which includes this
// header.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "../../detail/snapshot.hpp"
#include "../../model/finding.hpp"
#include "../../model/rule_definition.hpp"
#include "sigma_anomaly_scorer.hpp"

namespace k8snetio {

namespace detail {

/// S4: an anomalous measure and a finding in a snapshot.
inline void save_measure(snapshot_writer& w, const anomalous_measure& m) {
  w.i64(m.time);
  w.str(m.measure);
  w.f64(m.value);
  w.opt_f64(m.avg);
  w.opt_f64(m.stdev);
  w.str(m.avg_text);
  w.str(m.stdev_text);
  w.opt_f64(m.z);
}
inline anomalous_measure restore_measure(snapshot_reader& r) {
  anomalous_measure m;
  m.time = r.i64();
  m.measure = r.str();
  m.value = r.f64();
  m.avg = r.opt_f64();
  m.stdev = r.opt_f64();
  m.avg_text = r.str();
  m.stdev_text = r.str();
  m.z = r.opt_f64();
  return m;
}
inline constexpr std::size_t saved_measure_min_bytes = 8 + 8 + 8 + 3 + 16;
inline constexpr std::size_t saved_finding_min_bytes = 4 * 8 + 8 + 8 + 16 + 8 + 1 + 16;

inline void save_finding(snapshot_writer& w, const finding& f) {
  for (const std::string* s : {&f.cluster, &f.host, &f.pod, &f.service}) w.str(*s);
  w.u64(f.count);
  w.u64(f.anomalies.size());
  for (const std::string& a : f.anomalies) w.str(a);
  w.i64(f.window_start);
  w.i64(f.window_end);
  w.u64(f.measures.size());
  for (const anomalous_measure& m : f.measures) save_measure(w, m);
  w.u8(static_cast<std::uint8_t>(f.status));
  w.str(f.namespace_name);
  w.str(f.pod_uid);
}
/// The rule is the restoring engine's own (its settings name it).
inline finding restore_finding(snapshot_reader& r, std::shared_ptr<const rule_metadata> rule) {
  finding f;
  for (std::string* s : {&f.cluster, &f.host, &f.pod, &f.service}) *s = r.str();
  f.count = r.u64();
  f.anomalies.resize(r.count(8));
  for (std::string& a : f.anomalies) a = r.str();
  f.window_start = r.i64();
  f.window_end = r.i64();
  f.measures.resize(r.count(saved_measure_min_bytes));
  for (anomalous_measure& m : f.measures) m = restore_measure(r);
  f.status = static_cast<finding_status>(r.choice(2, "a finding's status"));
  f.namespace_name = r.str();
  f.pod_uid = r.str();
  f.rule = std::move(rule);
  return f;
}

}  // namespace detail

struct persistence_options {
  std::uint64_t min_count = 5;  ///< D7.2: a finding needs count > min_count
  /// The rule whose findings these are (a rule_definition's `metadata`); required.
  std::shared_ptr<const rule_metadata> rule{};
  /// The search window (D9). When unset, each finding is dated from its own pod's first to
  /// its last anomalous bucket (window_end = last bucket + span_seconds), never from other
  /// pods' buckets (library.md A2); the engines set it to the input's first and last bucket,
  /// which persist_over(rule, n, search_window_of(span_rows)) (../persistence_filter.hpp) does
  /// for a pipeline.
  std::optional<std::int64_t> window_start{}, window_end{};
  std::int64_t span_seconds = 10;
  /// D8: the `…_filter` macro; keeps every finding when empty.
  std::function<bool(const finding&)> filter{};
};

class persistence_filter {
 public:
  /// Throws std::invalid_argument when options.rule is not set: a finding names its rule.
  explicit persistence_filter(persistence_options options) : options_(std::move(options)) {
    if (!options_.rule)
      throw std::invalid_argument(
          "persistence_filter: persistence_options::rule is not set (give the rule's metadata)");
  }

  /// Counts one anomalous bucket. Returns the pod's finding so far, provisional (S3), when this
  /// bucket is the one that passes the threshold (count = min_count + 1), else nothing. The D8
  /// filter is not applied to it here (it runs once per finding, in findings()).
  std::optional<finding> add(const anomalous_row& r) {
    auto [it, fresh] = groups_.try_emplace(group_key{std::string(r.cluster), std::string(r.node),
                                                     std::string(r.pod), std::string(r.service)});
    group& g = it->second;
    ++g.count;
    g.texts.insert(r.anomalies);
    g.measures.insert(g.measures.end(), r.measures.begin(), r.measures.end());
    if (fresh || r.time < g.first) g.first = r.time;
    if (fresh || r.time > g.last) g.last = r.time;
    if (g.count != options_.min_count + 1) return std::nullopt;
    finding f = make_finding(it->first, g);
    f.status = finding_status::provisional;
    return f;
  }

  /// Sets the window's bounds once they are known (a whole-input window ends with the input).
  void set_window(std::int64_t start, std::int64_t end) {
    options_.window_start = start;
    options_.window_end = end;
  }

  /// S4: the counts so far (the options are the owner's: it makes them again on restore).
  void save(detail::snapshot_writer& w) const {
    w.opt_i64(options_.window_start);
    w.opt_i64(options_.window_end);
    w.u64(groups_.size());
    for (const auto& [key, g] : groups_) {
      for (const std::string* s : {&key.cluster, &key.node, &key.pod, &key.service}) w.str(*s);
      w.u64(g.count);
      w.i64(g.first);
      w.i64(g.last);
      w.u64(g.texts.size());
      for (const std::string& t : g.texts) w.str(t);
      w.u64(g.measures.size());
      for (const anomalous_measure& m : g.measures) detail::save_measure(w, m);
    }
  }
  void restore(detail::snapshot_reader& r) {
    persistence_filter f(options_);
    f.options_.window_start = r.opt_i64();
    f.options_.window_end = r.opt_i64();
    const std::size_t n = r.count(4 * 8 + 40);
    for (std::size_t i = 0; i < n; ++i) {
      group_key key;
      for (std::string* s : {&key.cluster, &key.node, &key.pod, &key.service}) *s = r.str();
      group g;
      g.count = r.u64();
      g.first = r.i64();
      g.last = r.i64();
      if (g.first > g.last) r.fail("a pod's first anomalous bucket after its last");
      const std::size_t texts = r.count(8);
      for (std::size_t t = 0; t < texts; ++t) g.texts.emplace(r.str());
      g.measures.resize(r.count(detail::saved_measure_min_bytes));
      for (anomalous_measure& m : g.measures) m = detail::restore_measure(r);
      if (!f.groups_.emplace(std::move(key), std::move(g)).second)
        r.fail("a pod counted twice in one window");
    }
    *this = std::move(f);
  }

  /// D7.2, D7.3, D8: the findings, sorted by (cluster, node, pod, service), byte order.
  std::vector<finding> findings() const {
    std::vector<finding> out;
    for (const auto& [key, g] : groups_) {
      if (g.count <= options_.min_count) continue;
      finding f = make_finding(key, g);
      if (!options_.filter || options_.filter(f)) out.push_back(std::move(f));
    }
    return out;  // std::map order is the (cluster, node, pod, service) byte order
  }

 private:
  struct group_key;
  struct group;
  finding make_finding(const group_key& key, const group& g) const {
    const std::int64_t start = options_.window_start.value_or(g.first);
    const std::int64_t end = options_.window_end.value_or(g.last + options_.span_seconds);
    finding f{key.cluster, key.node, key.pod,
              key.service, g.count,  std::vector<std::string>(g.texts.begin(), g.texts.end()),
              start,       end,      options_.rule,
              g.measures};
    std::stable_sort(
        f.measures.begin(), f.measures.end(),
        [](const anomalous_measure& a, const anomalous_measure& b) { return a.time < b.time; });
    return f;
  }

  struct group_key {
    std::string cluster, node, pod, service;
    friend auto operator<=>(const group_key&, const group_key&) = default;
  };
  struct group {
    std::uint64_t count = 0;
    std::int64_t first = 0, last = 0;  // the pod's first and last anomalous bucket
    std::set<std::string> texts;       // D7.1: distinct, byte order
    std::vector<anomalous_measure> measures;
  };
  persistence_options options_;
  std::map<group_key, group> groups_;
};

}  // namespace k8snetio
