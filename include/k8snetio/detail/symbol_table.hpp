// Interned strings: each distinct dimension value is stored once and named by a small integer,
// so per-point work compares integers and rows carry views that stay valid as long as the table.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "flat_hash.hpp"

namespace k8snetio::detail {

/// A transparent string hash for the library's string-keyed maps (hash_bytes: a few
/// multiplies per 16 bytes, where std::hash's murmur takes several per 8).
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return static_cast<std::size_t>(hash_bytes(s));
  }
};

/// Maps strings to dense ids. Views returned by `view` and `intern` stay valid for the table's
/// lifetime (the strings live in a deque, which never relocates its elements; a move keeps
/// them in place too). A copy has its own strings, with the same ids.
class symbol_table {
 public:
  symbol_table() = default;
  symbol_table(const symbol_table& other) {
    for (const std::string& s : other.strings_) intern(s);
  }
  symbol_table& operator=(const symbol_table& other) {
    if (this != &other) {
      symbol_table copy(other);
      *this = std::move(copy);
    }
    return *this;
  }
  symbol_table(symbol_table&&) = default;
  symbol_table& operator=(symbol_table&&) = default;
  ~symbol_table() = default;

  std::uint32_t intern(std::string_view s) {
    if (auto it = ids_.find(s); it != ids_.end()) return it->second;
    auto id = static_cast<std::uint32_t>(strings_.size());
    const std::string& stored = strings_.emplace_back(s);
    ids_.emplace(std::string_view(stored), id);
    return id;
  }
  std::string_view view(std::uint32_t id) const { return strings_[id]; }
  std::size_t size() const noexcept { return strings_.size(); }

 private:
  std::deque<std::string> strings_;
  std::unordered_map<std::string_view, std::uint32_t, string_hash, std::equal_to<>> ids_;
};

/// A reader that parsed a batch of points on another thread and grouped them by series there
/// (io/input/parallel_csv.hpp) says so for the point it is handing over: points of a batch
/// with the same `index` have the same cluster, pod, node and direction (compared byte for
/// byte), and no two batches share a `batch` number. The span aggregator then looks each
/// series of a batch up once, not once per point. Valid only during the hand-over of `point`
/// (the reader clears it): a stage given another point ignores it.
struct series_hint {
  const void* point = nullptr;  ///< the metric_point being handed over
  std::uint64_t batch = 0;      ///< unique per batch (next_series_batch); 0: not grouped
  std::uint32_t index = 0;      ///< the point's series within the batch
  std::uint32_t count = 0;      ///< series in the batch
  /// Every point of the batch with a metric name has this one (the reader checked it): a
  /// stage compares its own with this, in cache, rather than with the point's.
  std::string_view metric{};
};

inline thread_local series_hint current_series_hint{};

/// A batch number not given out before in this process (never 0).
inline std::uint64_t next_series_batch() noexcept {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace k8snetio::detail
