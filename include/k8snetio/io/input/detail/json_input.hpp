// What the JSON readers (hec_reader, otlp_reader) share: the type-erased sink, the padded input
// buffer that carries an unfinished record from one chunk to the next, the report with its
// skip / strict-mode failure logic, and the small number and whitespace helpers.
#pragma once

#include <algorithm>
#include <charconv>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include <k8snetio/io/error.hpp>
#include <k8snetio/io/input/read_report.hpp>
#include <k8snetio/io/input/reader_options.hpp>
#include <k8snetio/io/number.hpp>
#include <k8snetio/model/metric_point.hpp>

namespace k8snetio::io::detail {

/// A metric point sink behind one indirect call: type erasure keeps the parsing code out of the
/// per-sink templates, and one call per point costs nothing next to the parse.
struct sink_ref {
  void* object;
  void (*call)(void*, const metric_point&);
  template <class Sink>
  static sink_ref to(Sink& s) {
    return {const_cast<void*>(static_cast<const void*>(std::addressof(s))),
            [](void* o, const metric_point& p) {
              std::invoke(*static_cast<std::remove_reference_t<Sink>*>(o), p);
            }};
  }
};

/// The unread input, followed by at least SIMDJSON_PADDING readable bytes so that simdjson can
/// parse a record where it lies.
class padded_buffer {
 public:
  char* data() noexcept { return bytes_.data(); }
  const char* data() const noexcept { return bytes_.data(); }
  /// Bytes of input held.
  std::size_t size() const noexcept { return size_; }
  /// Bytes readable from `offset` on: at least size() - offset + SIMDJSON_PADDING.
  std::size_t capacity_from(std::size_t offset) const noexcept { return bytes_.size() - offset; }

  /// Bytes allocated (what the buffer costs in memory).
  std::size_t allocated() const noexcept { return bytes_.size(); }
  /// Growth past `n` bytes goes no further than what is needed: a reader that never holds
  /// more than its record limit plus a slice then never allocates twice that (S5.2).
  void limit_growth(std::size_t n) noexcept { growth_limit_ = n; }

  void append(std::string_view data) {
    auto need = size_ + data.size() + simdjson::SIMDJSON_PADDING;
    if (bytes_.size() < need)
      bytes_.resize(std::max(need, std::min(bytes_.size() * 2, growth_limit_)));
    std::memcpy(bytes_.data() + size_, data.data(), data.size());
    size_ += data.size();
  }
  /// Drops the first `n` bytes (n <= size()); the rest moves to the front.
  void discard_front(std::size_t n) noexcept {
    if (n == 0) return;
    std::memmove(bytes_.data(), bytes_.data() + n, size_ - n);
    std::memset(bytes_.data() + (size_ - n), 0, n);
    size_ -= n;
  }
  void clear() noexcept {
    if (size_ != 0) std::memset(bytes_.data(), 0, size_);
    size_ = 0;
  }

  // Every byte past size() is zero: a last record without a line end is parsed with the
  // padding after it, and stale bytes of an earlier record there changed simdjson's answer
  // (fuzz_otlp: the same input read whole and in chunks disagreed).

 private:
  std::vector<char> bytes_;
  std::size_t size_ = 0;
  std::size_t growth_limit_ = static_cast<std::size_t>(-1);
};

/// The slice feed_in_slices appends at a time.
inline constexpr std::size_t feed_slice_bytes = std::size_t{1} << 20;

/// The growth limit of a reader's buffer whose records are at most `record_limit` bytes.
constexpr std::size_t buffer_growth_limit(std::size_t record_limit) noexcept {
  return record_limit + feed_slice_bytes + simdjson::SIMDJSON_PADDING;
}

/// Appends `chunk` to `buffer` in slices that keep the buffer (and the cache footprint) small
/// however large the chunk, calling `drain()` (→ result<void>) after each; stops at its first
/// error.
template <class Drain>
result<void> feed_in_slices(padded_buffer& buffer, std::string_view chunk, Drain&& drain) {
  while (!chunk.empty()) {
    auto n = std::min(chunk.size(), feed_slice_bytes);
    buffer.append(chunk.substr(0, n));
    chunk.remove_prefix(n);
    if (auto r = drain(); !r) return r;
  }
  return {};
}

/// A size limit set by the user: at least one byte.
constexpr std::size_t byte_limit(std::size_t n) noexcept { return std::max<std::size_t>(n, 1); }

/// The bad_syntax detail of a record over its size limit ("event longer than 16 bytes").
inline std::string too_long(std::string_view what, std::size_t limit) {
  return fmt::format("{} longer than {} bytes", what, limit);
}

/// A reader's options, input name, report and strict-mode failure, and the logic that counts a
/// skipped row and, under `reader_options::strict`, turns an error-kind skip into the failure
/// that ends the read.
class json_input {
 public:
  explicit json_input(reader_options options) : options_(std::move(options)) {}

  const reader_options& options() const noexcept { return options_; }
  const std::string& file() const noexcept { return file_; }
  const read_report& report() const noexcept { return report_; }
  read_report& report() noexcept { return report_; }
  read_report take_report() { return std::exchange(report_, read_report{}); }

  /// Names the input and clears a strict-mode failure.
  void start_file(std::string_view name) {
    file_.assign(name);
    failure_.reset();
  }

  /// The strict-mode failure, if the read has ended; the reader refuses input until
  /// start_file().
  const std::optional<input_error>& failure() const noexcept { return failure_; }

  /// A row read and skipped.
  result<void> skip_row(std::uint64_t line, skip_reason reason, std::string_view detail) {
    ++report_.rows_read;
    return count_skip(line, reason, detail);
  }

  /// A skip of a row already counted as read.
  result<void> count_skip(std::uint64_t line, skip_reason reason, std::string_view detail) {
    report_.skip(file_, line, reason, detail);
    if (options_.strict && is_error(reason)) return fail(line, reason, detail);
    return {};
  }

  tl::unexpected<input_error> fail(std::uint64_t line, skip_reason reason,
                                   std::string_view detail) {
    std::string field;
    switch (reason) {
      case skip_reason::missing_field:
      case skip_reason::bad_number:
      case skip_reason::non_finite:
      case skip_reason::missing_dimension: field.assign(detail); break;
      default: break;
    }
    auto message = detail.empty() ? std::string(to_string(reason))
                                  : fmt::format("{}: {}", to_string(reason), detail);
    failure_ =
        input_error{error_code::bad_row, file_, line, 0, std::move(field), std::move(message)};
    return tl::unexpected(*failure_);
  }

 private:
  reader_options options_;
  std::string file_ = "-";
  read_report report_;
  std::optional<input_error> failure_;
};

/// The public face both JSON readers share (CRTP), on top of a json_input:
///
///     Reader reader(options);                // or Reader(file, options)
///     reader.start_file("metrics.json");
///     for (auto chunk : chunks) if (auto r = reader.feed(chunk, sink); !r) return r;
///     if (auto r = reader.finish(sink); !r) return r;
///
/// `Reader` provides `feed_chunk(chunk, sink_ref)` (the chunk's complete records; a partial
/// one waits for more), `drain(sink_ref, at_end)` and `reset_stream()`, and befriends this.
template <class Reader>
class json_reader {
 public:
  /// Names the input for the report and errors ("-" until set) and restarts the line count.
  /// Drops an unfinished record of the previous input (call finish() first to read it) and
  /// clears a strict-mode failure.
  void start_file(std::string_view name) {
    input_.start_file(name);
    self().reset_stream();
  }

  /// Reads the complete records of `chunk`; an incomplete last one waits for more.
  template <metric_point_sink Sink>
  [[nodiscard]] result<void> feed(std::string_view chunk, Sink&& sink) {
    return feed_impl(chunk, sink_ref::to(sink));
  }

  /// Reads what is left and ends the input; a later feed() starts again at line 1 under the
  /// same file name.
  template <metric_point_sink Sink>
  [[nodiscard]] result<void> finish(Sink&& sink) {
    return finish_impl(sink_ref::to(sink));
  }

  /// feed(whole) then finish().
  template <metric_point_sink Sink>
  [[nodiscard]] result<void> read(std::string_view whole, Sink&& sink) {
    auto s = sink_ref::to(sink);
    if (auto r = feed_impl(whole, s); !r) return r;
    return finish_impl(s);
  }

  const read_report& report() const noexcept { return input_.report(); }
  /// Mutable, e.g. to raise `max_examples` before reading.
  read_report& report() noexcept { return input_.report(); }
  /// Hands the report over and starts a fresh one.
  read_report take_report() { return input_.take_report(); }
  const reader_options& options() const noexcept { return input_.options(); }
  const std::string& file() const noexcept { return input_.file(); }

 protected:
  explicit json_reader(reader_options options) : input_(std::move(options)) {}

  json_input input_;

 private:
  Reader& self() noexcept { return static_cast<Reader&>(*this); }

  result<void> feed_impl(std::string_view chunk, sink_ref sink) {
    if (input_.failure()) return tl::unexpected(*input_.failure());
    if (chunk.empty()) return {};
    input_.report().bytes += chunk.size();
    return self().feed_chunk(chunk, sink);
  }

  result<void> finish_impl(sink_ref sink) {
    if (input_.failure()) return tl::unexpected(*input_.failure());
    auto r = self().drain(sink, true);
    self().reset_stream();
    return r;
  }
};

// ---- numbers and blanks -------------------------------------------------------------------

enum class number_status : std::uint8_t { absent, ok, bad, non_finite };

constexpr bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

constexpr std::string_view trim_right(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

/// A JSON integer, or a string holding one exactly (as protobuf JSON writes 64-bit integers);
/// "" is absent.
template <class Integer>
requires std::same_as<Integer, std::uint64_t> || std::same_as<Integer, std::int64_t> number_status
read_integer(simdjson::ondemand::value& v, Integer& out) {
  simdjson::ondemand::json_type type;
  if (v.type().get(type)) return number_status::bad;
  if (type == simdjson::ondemand::json_type::number) {
    simdjson::error_code e;
    if constexpr (std::same_as<Integer, std::uint64_t>)
      e = v.get_uint64().get(out);
    else
      e = v.get_int64().get(out);
    return e ? number_status::bad : number_status::ok;
  }
  if (type != simdjson::ondemand::json_type::string) return number_status::bad;
  std::string_view s;
  if (v.get_string().get(s)) return number_status::bad;
  if (s.empty()) return number_status::absent;
  return io::parse_integer(s, out) == io::number_status::ok ? number_status::ok
                                                            : number_status::bad;
}

}  // namespace k8snetio::io::detail
