// library.md A1.4: the points of the rule's metric whose direction feeds none of the rule's
// measures (an unknown direction value such as `tx`), counted, with the first directions named.
// One tally for every engine that reads points (detector, baseline_runner), so that detection and
// baseline say the same about the same input.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace k8snetio::detail {

inline constexpr std::size_t max_named_directions = 16;

class direction_tally {
 public:
  /// Whether `direction` feeds a measure below `measures` by `measure_of` (the rule's mapping);
  /// counts it when not. The answers for the first directions are kept, so that the mapping is
  /// not called per point.
  template <class MeasureOf>
  bool maps(std::string_view direction, const MeasureOf& measure_of, std::size_t measures) {
    bool mapped;
    if (auto known = std::find_if(known_.begin(), known_.end(),
                                  [direction](const auto& d) { return d.first == direction; });
        known != known_.end()) {
      mapped = known->second;
    } else {
      const std::optional<std::size_t> m = measure_of(direction);
      mapped = m && *m < measures;
      if (known_.size() < 64) known_.emplace_back(std::string(direction), mapped);
    }
    if (!mapped) {
      ++points_;
      if (auto it = names_.find(direction); it != names_.end())
        ++it->second;
      else if (names_.size() < max_named_directions)
        names_.emplace(std::string(direction), 1);
    }
    return mapped;
  }

  /// Points whose direction fed no measure.
  std::uint64_t points() const noexcept { return points_; }
  /// The first max_named_directions of those directions with their point counts, sorted.
  std::vector<std::pair<std::string, std::uint64_t>> named() const {
    return {names_.begin(), names_.end()};
  }

  /// Adds the counts of a tally of another part of the input.
  void merge(const direction_tally& other) {
    points_ += other.points_;
    for (const auto& [name, n] : other.names_) {
      if (auto it = names_.find(name); it != names_.end())
        it->second += n;
      else if (names_.size() < max_named_directions)
        names_.emplace(name, n);
    }
  }

  /// S4: the count, then the named directions (engine/snapshot.hpp's writer and reader).
  template <class Writer>
  void save(Writer& w) const {
    w.u64(points_);
    w.u64(names_.size());
    for (const auto& [name, n] : names_) {
      w.str(name);
      w.u64(n);
    }
  }
  template <class Reader>
  void restore(Reader& r) {
    points_ = r.u64();
    const std::size_t named = r.count(8 + 8);
    if (named > max_named_directions) r.fail("too many unmapped directions");
    names_.clear();
    for (std::size_t i = 0; i < named; ++i) {
      std::string name(r.str());
      if (!names_.emplace(std::move(name), r.u64()).second) r.fail("an unmapped direction twice");
    }
  }

 private:
  std::uint64_t points_ = 0;
  std::map<std::string, std::uint64_t, std::less<>> names_;  // the first ones
  std::vector<std::pair<std::string, bool>> known_;          // direction → mapped
};

}  // namespace k8snetio::detail
