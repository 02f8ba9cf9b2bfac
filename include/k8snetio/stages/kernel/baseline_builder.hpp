// B1–B6 BaselineBuilder: the stage's class alone, for the engines, without its range adaptor and so
// without a range library (library.md A4: a translation unit pays only for what it includes).
// The stage, its rules and its adaptor are in ../baseline_builder.hpp, which includes this header.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../../detail/snapshot.hpp"
#include "../../detail/symbol_table.hpp"
#include "../../model/baseline_table.hpp"
#include "../../model/measure_set.hpp"
#include "../../model/rows.hpp"
#include "../../model/spl_values.hpp"
#include "direction_pivot.hpp"

namespace k8snetio {

enum class baseline_numerics {
  splunk,  ///< B3: sum, sum of squares, var = (sumsq − sum·mean)/(n − 1): bit parity with Splunk
  stable,  ///< Welford's update, Chan's merge: no cancellation on large, tightly spread values
};

/// Moments of one measure of one key. Merging adds shards (B3).
class moments {
 public:
  void add(double x, baseline_numerics method) noexcept {
    ++n_;
    if (method == baseline_numerics::splunk) {
      sum_ += x;
      sumsq_ += x * x;
    } else {
      const double delta = x - mean_;
      mean_ += delta / static_cast<double>(n_);
      m2_ += delta * (x - mean_);
    }
  }

  void merge(const moments& o, baseline_numerics method) noexcept {
    if (method == baseline_numerics::splunk) {
      sum_ += o.sum_;
      sumsq_ += o.sumsq_;
    } else if (o.n_) {
      const double n = static_cast<double>(n_), m = static_cast<double>(o.n_);
      const double delta = o.mean_ - mean_;
      mean_ += delta * m / (n + m);
      m2_ += o.m2_ + delta * delta * n * m / (n + m);
    }
    n_ += o.n_;
  }

  std::uint64_t count() const noexcept { return n_; }

  /// S4: the count and both methods' moments, as their IEEE-754 bits (restored bit for bit).
  void save(detail::snapshot_writer& w) const {
    w.u64(n_);
    for (double v : {sum_, sumsq_, mean_, m2_}) w.f64(v);
  }
  static constexpr std::size_t saved_bytes = 8 + 4 * 8;
  void restore(detail::snapshot_reader& r) {
    n_ = r.u64();
    for (double* v : {&sum_, &sumsq_, &mean_, &m2_}) *v = r.f64();
  }

  /// B7: false when finite values overflowed the sums (or the stable method's moments).
  bool finite() const noexcept {
    return std::isfinite(sum_) && std::isfinite(sumsq_) && std::isfinite(mean_) &&
           std::isfinite(m2_);
  }

  /// B2: the mean; null when there are no values.
  spl_number mean(baseline_numerics method) const noexcept {
    if (!n_) return std::nullopt;
    return method == baseline_numerics::splunk ? sum_ / static_cast<double>(n_) : mean_;
  }

  /// B3: the sample standard deviation; 0 for one value, null for none.
  spl_number stdev(baseline_numerics method) const noexcept {
    if (!n_) return std::nullopt;
    if (n_ == 1) return 0.0;
    const double n = static_cast<double>(n_);
    double var;
    if (method == baseline_numerics::splunk) {
      const double mean = sum_ / n;
      var = (sumsq_ - sum_ * mean) / (n - 1);
    } else {
      var = m2_ / (n - 1);
    }
    return std::sqrt(std::max(var, 0.0));
  }

 private:
  std::uint64_t n_ = 0;
  double sum_ = 0, sumsq_ = 0;  // splunk
  double mean_ = 0, m2_ = 0;    // stable
};

struct baseline_options {
  baseline_numerics numerics = baseline_numerics::splunk;
};

/// One key's state: moments per measure, the row count (B4) and the latest bucket (B5).
template <std::size_t N>
struct baseline_accumulator {
  std::array<moments, N> measures;
  std::uint64_t count = 0;
  std::optional<std::int64_t> last_seen;
};

/// Folds rows into per-key state. `add` takes one row's key, time and measures (nulls are
/// skipped; every row counts in B4). `merge` combines shards (add shards in input order to
/// keep Splunk's summation order).
template <std::size_t N>
class baseline_builder {
 public:
  /// A builder of `measures`' table; it keeps a copy of their names (see own_measure_set).
  explicit baseline_builder(const measure_set<N>& measures, baseline_options options = {})
      : baseline_builder(own_measure_set(measures), options) {}
  /// A builder sharing the measures of a rule (rule_definition::measures).
  explicit baseline_builder(std::shared_ptr<const measure_set<N>> measures,
                            baseline_options options = {})
      : measures_(std::move(measures)), options_(options) {
    if (!measures_) throw std::invalid_argument("baseline_builder: the measure_set is null");
  }

  /// The state of `key` (created empty if new): stable for the builder's lifetime, so a caller
  /// may keep it per series and skip the lookup with add_to.
  baseline_accumulator<N>& accumulator_for(std::string_view key) { return accumulator(key); }

  void add(std::string_view key, std::int64_t time, const std::array<spl_number, N>& values) {
    add_to(accumulator(key), time, values);
  }

  void add_to(baseline_accumulator<N>& acc, std::int64_t time,
              const std::array<spl_number, N>& values) {
    for (std::size_t m = 0; m < N; ++m)
      if (values[m]) acc.measures[m].add(*values[m], options_.numerics);
    ++acc.count;
    if (!acc.last_seen || time > *acc.last_seen) acc.last_seen = time;
  }

  /// B1–B4 for a rule without a per-service pivot (the main rule): one D1 row with its
  /// service feeds the measure its direction names (or none, D3.2), and counts in B4 whatever
  /// its direction.
  template <class MeasureOf>
  requires direction_mapping<MeasureOf, N>
  void add(const service_row& r, const MeasureOf& measure_of) {
    make_key(key_, r.cluster, r.service);
    std::array<spl_number, N> values{};
    if (auto m = std::invoke(measure_of, r.direction); m && *m < N) values[*m] = r.io;
    add(key_, r.time, values);
  }

  void merge(const baseline_builder& other) {
    for (const auto& [key, o] : other.keys_) {
      baseline_accumulator<N>& acc = accumulator(key);
      for (std::size_t m = 0; m < N; ++m) acc.measures[m].merge(o.measures[m], options_.numerics);
      acc.count += o.count;
      if (o.last_seen && (!acc.last_seen || *o.last_seen > *acc.last_seen))
        acc.last_seen = o.last_seen;
    }
  }

  std::size_t size() const noexcept { return keys_.size(); }
  bool empty() const noexcept { return keys_.empty(); }
  baseline_numerics numerics() const noexcept { return options_.numerics; }

  /// Calls `f(key, accumulator)` for every key, in no particular order (read-only: a restored
  /// state's values are checked this way, S4).
  template <class F>
  void for_each_key(F&& f) const {
    for (const auto& [key, acc] : keys_) f(std::string_view(key), acc);
  }

  /// S4: every key's state, keys in byte order (the same state gives the same bytes).
  void save(detail::snapshot_writer& w) const {
    std::vector<const std::pair<const std::string, baseline_accumulator<N>>*> sorted;
    sorted.reserve(keys_.size());
    for (const auto& kv : keys_) sorted.push_back(&kv);
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
    w.u64(N);
    w.u64(sorted.size());
    for (const auto* kv : sorted) {
      w.str(kv->first);
      w.u64(kv->second.count);
      w.opt_i64(kv->second.last_seen);
      for (const moments& m : kv->second.measures) m.save(w);
    }
  }

  /// S4: replaces this builder's keys with saved ones; throws snapshot_error (keeping its own)
  /// when they do not hold together.
  void restore(detail::snapshot_reader& r) {
    if (r.u64() != N)
      r.fail(detail::concat("the baseline state has another number of measures than ", N));
    decltype(keys_) keys;
    const std::size_t n = r.count(8 + 8 + 1 + N * moments::saved_bytes);
    keys.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      auto [it, fresh] = keys.try_emplace(std::string(r.str()));
      if (!fresh) r.fail(detail::concat("the key '", it->first, "' twice"));
      baseline_accumulator<N>& acc = it->second;
      acc.count = r.u64();
      acc.last_seen = r.opt_i64();
      if (acc.count && !acc.last_seen)
        r.fail(detail::concat("the key '", it->first, "' has rows but no last_seen"));
      for (moments& m : acc.measures) {
        m.restore(r);
        if (m.count() > acc.count)
          r.fail(
              detail::concat("the key '", it->first, "' has more values of a measure than rows"));
      }
    }
    keys_ = std::move(keys);
  }

  /// B7: the keys (sorted) with a measure whose sums overflowed: their cells are empty.
  std::vector<std::string> overflowed_keys() const {
    std::vector<std::string> out;
    for (const auto& [key, acc] : keys_)
      if (std::any_of(acc.measures.begin(), acc.measures.end(),
                      [](const moments& m) { return !m.finite(); }))
        out.push_back(key);
    std::sort(out.begin(), out.end());
    return out;
  }

  /// B6: the table, one row per key, sorted by key; numbers as F1 text.
  baseline_table<N> table() const {
    baseline_table<N> out(measures_);
    std::vector<const std::pair<const std::string, baseline_accumulator<N>>*> sorted;
    sorted.reserve(keys_.size());
    for (const auto& kv : keys_) sorted.push_back(&kv);
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
    for (const auto* kv : sorted) {
      baseline_entry<N> e;
      for (std::size_t m = 0; m < N; ++m) {
        const moments& mo = kv->second.measures[m];
        if (!mo.finite()) continue;  // B7: empty cells, the key named by overflowed_keys()
        e.avg[m] = baseline_cell::from_number(mo.mean(options_.numerics));
        e.stdev[m] = baseline_cell::from_number(mo.stdev(options_.numerics));
      }
      e.count = kv->second.count;
      e.last_seen = kv->second.last_seen;
      out.insert(kv->first, std::move(e));
    }
    return out;
  }

 private:
  baseline_accumulator<N>& accumulator(std::string_view key) {
    auto it = keys_.find(key);
    if (it == keys_.end()) it = keys_.emplace(std::string(key), baseline_accumulator<N>{}).first;
    return it->second;
  }

  std::shared_ptr<const measure_set<N>> measures_;
  baseline_options options_;
  std::unordered_map<std::string, baseline_accumulator<N>, detail::string_hash, std::equal_to<>>
      keys_;
  std::string key_;
};

#if defined(K8SNETIO_COMPILED)
// A4, compiled mode (the k8snetio::compiled target): the shipped rules' instantiation is
// compiled once, in src/compiled.cpp; a user's translation unit only declares it.
extern template class baseline_builder<2>;
#endif

}  // namespace k8snetio
