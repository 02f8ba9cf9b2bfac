// A fast string hash and a small open-addressing table for the per-point lookups of the hot
// path (series ids, open groups): one probe into a flat array instead of a node-based
// std::unordered_map's bucket and node, and no allocation per insert.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

// The per-point helpers below are small; in a large translation unit GCC may leave them out of
// line, and the call then costs as much as the work.
#if defined(__GNUC__)
#define K8SNETIO_ALWAYS_INLINE [[gnu::always_inline]] inline
#else
#define K8SNETIO_ALWAYS_INLINE inline
#endif

namespace k8snetio::detail {

namespace hashing {

inline constexpr std::uint64_t p0 = 0xa0761d6478bd642full;
inline constexpr std::uint64_t p1 = 0xe7037ed1a0b428dbull;

/// 64×64 → 128-bit multiply, folded: the mixing step of wyhash.
inline std::uint64_t fold_multiply(std::uint64_t a, std::uint64_t b) noexcept {
#if defined(__SIZEOF_INT128__)
  __extension__ using wide = unsigned __int128;
  const wide r = static_cast<wide>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
#else
  const std::uint64_t lo_lo = (a & 0xffffffff) * (b & 0xffffffff);
  const std::uint64_t hi_lo = (a >> 32) * (b & 0xffffffff);
  const std::uint64_t lo_hi = (a & 0xffffffff) * (b >> 32);
  const std::uint64_t hi_hi = (a >> 32) * (b >> 32);
  const std::uint64_t cross = (lo_lo >> 32) + (hi_lo & 0xffffffff) + lo_hi;
  const std::uint64_t upper = hi_hi + (hi_lo >> 32) + (cross >> 32);
  return (cross << 32 | (lo_lo & 0xffffffff)) ^ upper;
#endif
}

inline std::uint64_t read8(const char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline std::uint64_t read4(const char* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace hashing

/// A 64-bit hash of a byte string (wyhash's structure: 16 bytes per multiply). Not for
/// adversarial keys' sake (a collision costs a comparison, never a wrong answer); the value may
/// differ between platforms of different byte order.
inline std::uint64_t hash_bytes(std::string_view s, std::uint64_t seed = 0) noexcept {
  using namespace hashing;
  const char* p = s.data();
  const std::size_t n = s.size();
  seed ^= p0;
  std::uint64_t a = 0, b = 0;
  if (n <= 16) {
    if (n >= 4) {
      const std::size_t shift = (n >> 3) << 2;  // 0 for 4..7 bytes, 4 for 8..16
      a = read4(p) << 32 | read4(p + shift);
      b = read4(p + n - 4) << 32 | read4(p + n - 4 - shift);
    } else if (n > 0) {
      a = static_cast<std::uint64_t>(static_cast<unsigned char>(p[0])) << 16 |
          static_cast<std::uint64_t>(static_cast<unsigned char>(p[n >> 1])) << 8 |
          static_cast<unsigned char>(p[n - 1]);
    }
  } else {
    std::size_t left = n;
    while (left > 16) {
      seed = fold_multiply(read8(p) ^ p1, read8(p + 8) ^ seed);
      p += 16;
      left -= 16;
    }
    a = read8(p + left - 16);
    b = read8(p + left - 8);
  }
  return fold_multiply(p1 ^ n, fold_multiply(a ^ p1, b ^ seed));
}

/// Byte equality of two short strings without a call to memcmp: word loads, the last one
/// overlapping. For the dimension values of the hot path (tens of bytes).
K8SNETIO_ALWAYS_INLINE bool same_bytes(std::string_view a, std::string_view b) noexcept {
  using namespace hashing;
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  const char* p = a.data();
  const char* q = b.data();
  if (n >= 8) {  // no early exit: fewer branches, and the strings are short
    std::uint64_t diff = read8(p + n - 8) ^ read8(q + n - 8);
    for (std::size_t i = 0; i + 8 < n; i += 8) diff |= read8(p + i) ^ read8(q + i);
    return diff == 0;
  }
  if (n >= 4) return read4(p) == read4(q) && read4(p + n - 4) == read4(q + n - 4);
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] != q[i]) return false;
  return true;
}

/// An integer mix for keys that are already numbers.
inline std::uint64_t hash_mix(std::uint64_t a, std::uint64_t b) noexcept {
  return hashing::fold_multiply(a ^ hashing::p0, b ^ hashing::p1);
}

/// Open addressing with linear probing over precomputed 64-bit hashes. The caller keeps the
/// keys (or puts them in Value) and says, through `matches(const Value&)`, which slot is the
/// one it looks for: the table never compares keys itself. Erase shifts back the following
/// entries, so there are no tombstones and probe runs stay short.
template <class Value>
class flat_hash_slots {
 public:
  flat_hash_slots() = default;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  template <class Matches>
  Value* find(std::uint64_t hash, Matches&& matches) noexcept {
    if (slots_.empty()) return nullptr;
    hash = stored(hash);
    for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
      slot& s = slots_[i];
      if (s.hash == 0) return nullptr;
      if (s.hash == hash && matches(static_cast<const Value&>(s.value))) return &s.value;
    }
  }

  /// Adds an entry that is not in the table (the caller has checked with find).
  Value& insert(std::uint64_t hash, Value value) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    hash = stored(hash);
    std::size_t i = hash & mask_;
    while (slots_[i].hash != 0) i = (i + 1) & mask_;
    slots_[i] = slot{hash, std::move(value)};
    ++size_;
    return slots_[i].value;
  }

  /// Removes the entry that `matches`; false when there is none.
  template <class Matches>
  bool erase(std::uint64_t hash, Matches&& matches) noexcept {
    if (slots_.empty()) return false;
    hash = stored(hash);
    std::size_t i = hash & mask_;
    for (;; i = (i + 1) & mask_) {
      const slot& s = slots_[i];
      if (s.hash == 0) return false;
      if (s.hash == hash && matches(s.value)) break;
    }
    // Backward shift: move each following entry of the run into the hole if its home slot
    // does not lie (cyclically) between the hole and where it sits.
    for (std::size_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
      if (slots_[j].hash == 0) break;
      const std::size_t home = slots_[j].hash & mask_;
      const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (stays) continue;
      slots_[i] = std::move(slots_[j]);
      i = j;
    }
    slots_[i].hash = 0;
    --size_;
    return true;
  }

  void clear() noexcept {
    for (slot& s : slots_) s.hash = 0;
    size_ = 0;
  }

  /// Calls f(Value&) for every entry, in no particular order.
  template <class F>
  void for_each(F&& f) {
    for (slot& s : slots_)
      if (s.hash != 0) f(s.value);
  }

 private:
  struct slot {
    std::uint64_t hash = 0;  // 0: empty
    Value value{};
  };

  static std::uint64_t stored(std::uint64_t hash) noexcept { return hash ? hash : 1; }

  void grow() {
    std::vector<slot> old = std::move(slots_);
    const std::size_t capacity = old.empty() ? 16 : old.size() * 2;
    slots_.assign(capacity, slot{});
    mask_ = capacity - 1;
    for (slot& s : old) {
      if (s.hash == 0) continue;
      std::size_t i = s.hash & mask_;
      while (slots_[i].hash != 0) i = (i + 1) & mask_;
      slots_[i] = std::move(s);
    }
  }

  std::vector<slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace k8snetio::detail
