// O5 for the detector (keep_finding_series): each pod's pivoted values per bucket until its
// window closes, from which a finding's chart series is cut; with their part of the state
// snapshot (S4), and the codec of the series of findings not yet taken.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "../../detail/snapshot.hpp"
#include "../../model/finding.hpp"
#include "../../model/spl_values.hpp"
#include "pod_registry.hpp"

namespace k8snetio::detail {

template <std::size_t N>
class series_recorder {
 public:
  /// One pod's pivoted (R1: derived) values in one bucket.
  struct recorded_bucket {
    std::int64_t time = 0;
    std::array<spl_number, N> values{};
  };

  /// The bucket of a pod's recorded series, made when new. Buckets mostly come in time order
  /// per pod (a series-major input gives a direction's buckets again).
  recorded_bucket& at(std::uint32_t pod, std::int64_t time);
  /// A pod's buckets, ascending.
  const std::vector<recorded_bucket>& of(std::uint32_t pod) const;
  /// S5: a released pod's buckets go with it.
  void forget(std::uint32_t pod);
  /// The buckets of closed windows: drawn, or they never will be.
  void drop_before(std::int64_t closing);
  /// Every pod's buckets (for tests).
  std::size_t buckets() const noexcept;

  /// S4: the live pods' buckets, then the series of the findings not yet taken.
  void save(snapshot_writer& w, const pod_registry& pods,
            const std::vector<finding>& not_taken) const;
  /// S4: into an empty recorder; throws snapshot_error.
  void restore(snapshot_reader& r, const pod_registry& pods, std::vector<finding>& not_taken);

 private:
  static void save_series(snapshot_writer& w, const std::optional<finding_series>& s);
  static std::optional<finding_series> restore_series(snapshot_reader& r);

  std::vector<std::vector<recorded_bucket>> by_pod_;
};

template <std::size_t N>
auto series_recorder<N>::at(std::uint32_t pod, std::int64_t time) -> recorded_bucket& {
  if (pod >= by_pod_.size()) by_pod_.resize(pod + std::size_t{1});
  auto& series = by_pod_[pod];
  if (series.empty() || series.back().time < time)
    return series.emplace_back(recorded_bucket{time, {}});
  auto it = std::lower_bound(series.begin(), series.end(), time,
                             [](const recorded_bucket& b, std::int64_t t) { return b.time < t; });
  if (it == series.end() || it->time != time) it = series.insert(it, recorded_bucket{time, {}});
  return *it;
}

template <std::size_t N>
auto series_recorder<N>::of(std::uint32_t pod) const -> const std::vector<recorded_bucket>& {
  static const std::vector<recorded_bucket> none;
  return pod < by_pod_.size() ? by_pod_[pod] : none;
}

template <std::size_t N>
void series_recorder<N>::forget(std::uint32_t pod) {
  if (pod < by_pod_.size()) by_pod_[pod] = {};
}

template <std::size_t N>
void series_recorder<N>::drop_before(std::int64_t closing) {
  for (auto& series : by_pod_)
    std::erase_if(series, [closing](const recorded_bucket& b) { return b.time < closing; });
}

template <std::size_t N>
std::size_t series_recorder<N>::buckets() const noexcept {
  std::size_t n = 0;
  for (const auto& series : by_pod_) n += series.size();
  return n;
}

template <std::size_t N>
void series_recorder<N>::save(snapshot_writer& w, const pod_registry& pods,
                              const std::vector<finding>& not_taken) const {
  for (std::uint32_t i = 0; i < pods.size(); ++i) {
    if (!pods[i].live) continue;
    const auto& series = of(i);
    w.u64(series.size());
    for (const recorded_bucket& b : series) {
      w.i64(b.time);
      for (const auto& v : b.values) w.opt_f64(v);
    }
  }
  for (const finding& f : not_taken) save_series(w, f.series);
}

template <std::size_t N>
void series_recorder<N>::restore(snapshot_reader& r, const pod_registry& pods,
                                 std::vector<finding>& not_taken) {
  by_pod_.resize(pods.size());
  for (std::uint32_t i = 0; i < pods.size(); ++i) {
    if (!pods[i].live) continue;
    auto& series = by_pod_[i];
    series.resize(r.count(8 + N));
    for (recorded_bucket& b : series) {
      b.time = r.i64();
      for (auto& v : b.values) v = r.opt_f64();
    }
    for (std::size_t j = 1; j < series.size(); ++j)
      if (series[j - 1].time >= series[j].time) r.fail("a pod's buckets out of order");
  }
  for (finding& f : not_taken) f.series = restore_series(r);
}

template <std::size_t N>
void series_recorder<N>::save_series(snapshot_writer& w, const std::optional<finding_series>& s) {
  w.boolean(s.has_value());
  if (!s) return;
  w.u64(s->times.size());
  for (std::int64_t t : s->times) w.i64(t);
  w.u64(s->measures.size());
  for (const measure_series& m : s->measures) {
    w.str(m.measure);
    w.opt_f64(m.avg);
    w.opt_f64(m.stdev);
    for (const auto& v : m.values) w.opt_f64(v);
  }
}

template <std::size_t N>
std::optional<finding_series> series_recorder<N>::restore_series(snapshot_reader& r) {
  if (!r.boolean()) return std::nullopt;
  finding_series s;
  s.times.resize(r.count(8));
  for (std::int64_t& t : s.times) t = r.i64();
  s.measures.resize(r.count(8 + 2 + s.times.size()));
  if (s.measures.size() != N) r.fail("a finding's series with another number of measures");
  for (measure_series& m : s.measures) {
    m.measure = r.str();
    m.avg = r.opt_f64();
    m.stdev = r.opt_f64();
    m.values.resize(s.times.size());
    for (auto& v : m.values) v = r.opt_f64();
  }
  return s;
}

}  // namespace k8snetio::detail
