// S4: the byte form of an engine's state. A snapshot is self-describing and checked:
//
//   "K8NIOSNP"  magic, 8 bytes
//   u32         format version (snapshot_format_version)
//   str         kind: what saved it ("detector", "baseline_runner", "baseline_day", …)
//   str         settings: every option the state depends on, as text (a restore under other
//               settings is refused, naming both)
//   u64         payload size, then the payload
//   u32         CRC-32 (zlib's polynomial) of everything before it
//
// Integers are little-endian, doubles their IEEE-754 bits, strings a u64 length then bytes. A
// truncated, corrupt or foreign snapshot is refused with snapshot_error saying what is wrong
// (inside the library; an engine's restore returns it as error_code::bad_snapshot, A6);
// readers check every count against the bytes left before they allocate, so a forged count
// cannot ask for more memory than the snapshot's own size.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "../error.hpp"
#include "to_text.hpp"

namespace k8snetio {

/// A snapshot that cannot be restored: truncated, corrupt, from another version, of another
/// kind of engine or taken under other settings. Nothing was loaded.
class snapshot_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The version written. 2: the span aggregator keeps the newest point time (S1.3's exact
/// watermark), so the states that hold an aggregator (a detector's, a baseline runner's) of
/// version 1 are refused by name; every other kind (a day file, the OTLP series) reads both.
/// 3: a detector's D5.4 buckets of a key without a baseline row are runs of consecutive
/// buckets rather than every bucket (a live service's state no longer grows with its age);
/// version 2 still restores.
inline constexpr std::uint32_t snapshot_format_version = 3;
/// The oldest version whose states holding a span aggregator this build reads.
inline constexpr std::uint32_t snapshot_aggregator_version = 2;

namespace detail {

inline constexpr std::string_view snapshot_magic = "K8NIOSNP";

/// CRC-32 (IEEE 802.3, as zlib's crc32), table-driven.
inline std::uint32_t crc32(std::string_view bytes, std::uint32_t crc = 0) noexcept {
  static constexpr auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (const char ch : bytes)
    crc = table[(crc ^ std::uint32_t{static_cast<unsigned char>(ch)}) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

/// Appends values to a byte string.
class snapshot_writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(std::uint32_t v) { le(v); }
  void u64(std::uint64_t v) { le(v); }
  void i64(std::int64_t v) { le(static_cast<std::uint64_t>(v)); }
  void f64(double v) { le(std::bit_cast<std::uint64_t>(v)); }
  void boolean(bool v) { u8(v ? 1 : 0); }
  void str(std::string_view s) {
    u64(s.size());
    out_.append(s);
  }
  void opt_i64(const std::optional<std::int64_t>& v) {
    boolean(v.has_value());
    if (v) i64(*v);
  }
  void opt_f64(const std::optional<double>& v) {
    boolean(v.has_value());
    if (v) f64(*v);
  }

  std::string& bytes() noexcept { return out_; }

 private:
  template <class U>
  void le(U v) {
    char b[sizeof(U)];
    for (std::size_t i = 0; i < sizeof(U); ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    out_.append(b, sizeof(U));
  }
  std::string out_;
};

/// Reads what snapshot_writer wrote; every read checks the bytes left.
class snapshot_reader {
 public:
  explicit snapshot_reader(std::string_view bytes, std::string_view what = "snapshot")
      : in_(bytes), what_(what) {}

  std::uint8_t u8() { return static_cast<std::uint8_t>(take(1)[0]); }
  std::uint32_t u32() { return le<std::uint32_t>(); }
  std::uint64_t u64() { return le<std::uint64_t>(); }
  std::int64_t i64() { return static_cast<std::int64_t>(le<std::uint64_t>()); }
  double f64() { return std::bit_cast<double>(le<std::uint64_t>()); }
  bool boolean() {
    const std::uint8_t v = u8();
    if (v > 1) fail(concat("a flag byte is ", v, ", not 0 or 1"));
    return v == 1;
  }
  std::string_view str() {
    const std::uint64_t n = u64();
    if (n > remaining()) fail(concat("a string of ", n, " bytes with ", remaining(), " left"));
    return take(static_cast<std::size_t>(n));
  }
  std::optional<std::int64_t> opt_i64() {
    if (!boolean()) return std::nullopt;
    return i64();
  }
  std::optional<double> opt_f64() {
    if (!boolean()) return std::nullopt;
    return f64();
  }
  /// A count of items each at least `min_bytes` long: refused if the bytes left cannot hold it.
  std::size_t count(std::size_t min_bytes = 1) {
    const std::uint64_t n = u64();
    if (min_bytes == 0) min_bytes = 1;
    if (n > remaining() / min_bytes)
      fail(concat("a count of ", n, " with only ", remaining(), " bytes left"));
    return static_cast<std::size_t>(n);
  }
  /// An enumeration's byte, at most `last`.
  std::uint8_t choice(std::uint8_t last, std::string_view name) {
    const std::uint8_t v = u8();
    if (v > last) fail(concat(name, " is ", v, ", beyond ", last));
    return v;
  }

  std::size_t remaining() const noexcept { return in_.size() - at_; }
  std::size_t position() const noexcept { return at_; }
  void expect_end() const {
    if (remaining()) fail(concat(remaining(), " bytes left over after the state"));
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw snapshot_error(concat(what_, ": corrupt at byte ", at_, ": ", why));
  }

 private:
  std::string_view take(std::size_t n) {
    if (n > remaining())
      throw snapshot_error(concat(what_, ": truncated: needs ", n, " more bytes at byte ", at_,
                                  ", has ", remaining()));
    const std::string_view s = in_.substr(at_, n);
    at_ += n;
    return s;
  }
  template <class U>
  U le() {
    const std::string_view b = take(sizeof(U));
    U v = 0;
    for (std::size_t i = 0; i < sizeof(U); ++i)
      v |= static_cast<U>(static_cast<unsigned char>(b[i])) << (8 * i);
    return v;
  }

  std::string_view in_;
  std::size_t at_ = 0;
  std::string what_;
};

}  // namespace detail

/// Wraps a payload in the checked envelope.
inline std::string seal_snapshot(std::string_view kind, std::string_view settings,
                                 std::string_view payload) {
  detail::snapshot_writer w;
  w.bytes().append(detail::snapshot_magic);
  w.u32(snapshot_format_version);
  w.str(kind);
  w.str(settings);
  w.str(payload);
  w.u32(detail::crc32(w.bytes()));
  return std::move(w.bytes());
}

/// What a snapshot says it is, read without trusting more than the envelope.
struct snapshot_info {
  std::uint32_t version = 0;
  std::string kind;
  std::string settings;
};

/// Checks the envelope and returns the payload (a view into `bytes`). Throws snapshot_error on
/// anything but a whole, uncorrupted snapshot of `kind` taken under `settings`, of a version
/// from `oldest_version` to snapshot_format_version.
inline std::string_view open_snapshot(std::string_view bytes, std::string_view kind,
                                      std::string_view settings, snapshot_info* info = nullptr,
                                      std::uint32_t oldest_version = 1) {
  if (bytes.size() < detail::snapshot_magic.size() ||
      bytes.substr(0, detail::snapshot_magic.size()) != detail::snapshot_magic)
    throw snapshot_error("not a k8snetio state snapshot (no K8NIOSNP magic at its start)");
  detail::snapshot_reader in(bytes.substr(detail::snapshot_magic.size()), "state snapshot");
  const std::uint32_t version = in.u32();
  if (version < oldest_version || version > snapshot_format_version)
    throw snapshot_error(detail::concat("state snapshot of format version ", version,
                                        "; this build of k8snetio reads versions ", oldest_version,
                                        " to ", snapshot_format_version, " of this kind of state"));
  const std::string_view their_kind = in.str();
  const std::string_view their_settings = in.str();
  const std::string_view payload = in.str();
  const std::size_t body = detail::snapshot_magic.size() + in.position();
  const std::uint32_t stored = in.u32();
  in.expect_end();
  if (detail::crc32(bytes.substr(0, body)) != stored)
    throw snapshot_error("state snapshot is corrupt: its CRC-32 does not match its bytes");
  if (info) *info = {version, std::string(their_kind), std::string(their_settings)};
  if (their_kind != kind)
    throw snapshot_error(detail::concat("a state snapshot of a ", their_kind, ", not of a ", kind));
  if (their_settings != settings)
    throw snapshot_error(detail::concat("state snapshot taken under other settings: it has [",
                                        their_settings, "], this engine has [", settings, "]"));
  return payload;
}

namespace detail {

/// A6: runs a restore that reads with snapshot_reader (which throws snapshot_error inside the
/// library) and returns its outcome as the library's error: bad_snapshot, "state snapshot", the
/// reader's sentence. The restore builds its state aside and moves it in last, so a refused
/// snapshot leaves the engine as it was.
template <class F>
[[nodiscard]] result<std::invoke_result_t<F>> restore_result(F&& restore) {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
      std::forward<F>(restore)();
      return {};
    } else {
      return std::forward<F>(restore)();
    }
  } catch (const snapshot_error& e) {
    return make_error(error_code::bad_snapshot, "state snapshot", 0, e.what());
  }
}

/// The reverse, for a restore inside another one's (a learner's day runners, a live detector's
/// engine): a refused part refuses the whole, with the part's own sentence.
template <class T>
T throw_if_refused(result<T>&& restored) {
  if (!restored) throw snapshot_error(restored.error().message);
  if constexpr (!std::is_void_v<T>) return std::move(*restored);
}

}  // namespace detail

}  // namespace k8snetio
