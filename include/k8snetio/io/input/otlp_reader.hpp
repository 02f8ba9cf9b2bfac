// Reads OTLP metrics (spec I3, I3.5): one ExportMetricsServiceRequest / MetricsData object per
// line of JSON, as the OpenTelemetry Collector's `file` exporter writes them, or one protobuf
// request at a time (feed_protobuf: HTTP bodies, Kafka messages), or a file of length-prefixed
// protobuf requests (feed_frames: the file exporter's `format: proto`). Cumulative sums become
// deltas per series (or rates, or stay raw); delta sums and gauges pass through. Points that
// fail D1.1 (a dimension missing) or D1.2 (a non-finite value) are counted, never passed on.
//
// Decisions, so that nobody has to reverse-engineer them:
// - A line is all or nothing: its points reach the sink only after the whole line parsed. A
//   line that is not JSON (or not shaped like OTLP: `resourceMetrics` not an array, …) counts
//   once as bad_syntax, and the series state is rolled back to what it was before the line.
// - Attribute values: stringValue as is; intValue, doubleValue and boolValue as their text
//   (`"intValue": 42` → "42", `"boolValue": true` → "true"); bytesValue as its base64 text;
//   arrayValue and kvlistValue as their raw JSON. A data point attribute wins over a resource
//   attribute with the same key; within one list a later duplicate wins.
// - `direction` falls back to `network.io.direction` (I1.6); `reader_options::default_cluster`
//   fills an absent or empty `k8s.cluster.name`. `k8s.namespace.name` and `k8s.pod.uid` are
//   carried on the point (I3.3).
// - I3.1 `k8s.node.name` comes from the point, else its resource, else the one node resource
//   of the line (a resource with `k8s.node.name` and no `k8s.pod.name`: the plain kubeletstats
//   receiver scrapes one kubelet per request), else `reader_options::default_node`. Two node
//   resources with different names in one line name no node. A point still without one is
//   missing_dimension "k8s.node.name", which the report turns into a hint.
// - I3.2 a point whose `flags` has bit 0 (NO_RECORDED_VALUE) is no_recorded_value: counted,
//   never a value and never the base of a delta.
// - A cumulative series is the metric name plus every merged attribute (sorted), so
//   `interface` (or `network.interface.name`) separates series although it is no dimension.
//   State lives in the reader: it carries across lines, chunks and files.
// - Within a series, a point not newer than the last one seen (timeUnixNano <= previous: out
//   of order, or the same file read twice) is skipped as `late` and leaves the state as it
//   was; treating it as a reset would count an interval twice. So `rate` never divides by a
//   zero interval.
// - A decrease, or a changed startTimeUnixNano, is a counter_reset whatever `isMonotonic`
//   says (the spec defines it so); the point starts the series afresh and yields nothing.
// - aggregationTemporality 1 (delta) and 0 (unspecified) pass through, like gauges.
// - timeUnixNano absent or 0 is missing_field (OTLP calls 0 "unset"); an absent
//   startTimeUnixNano counts as 0. asDouble accepts the OTLP/JSON strings "NaN", "Infinity"
//   and "-Infinity", and rejects them as non_finite (D1.2).
// - Histogram, exponential histogram and summary points of the configured metric have no
//   single value: each counts as missing_field.
// - I3.5 protobuf gives what its JSON twin gives: the same points in the same order, the same
//   report (bytes aside), the same series (a series goes on from one encoding to the other).
//   Decoded by protozero (libprotozero-dev) where it lies: measured on the benchmark corpus
//   (2026-12-07), libprotobuf's generated parser alone took 5.7x the time of this whole reader.
//   Field numbers in otlp_protobuf.hpp. A request is a record like a JSON line: all or nothing,
//   its line number in the report is its place in the input. A malformed request (truncated
//   varint, length past the end, a known field of the wrong wire type, a string that is not
//   UTF-8, values nested over 64 deep) is bad_syntax naming the byte offset of the field being
//   read ("byte 17: NumberDataPoint: wrong wire type for the field"). Unknown fields are skipped
//   unread, as protobuf requires. Attribute values become the text the JSON path reads from the
//   JSON the collector writes for them: intValue in decimal, boolValue true/false, doubleValue in
//   Go's shortest form ("2.5", "1e+21", "1e-7", "NaN"), bytesValue in base64, arrayValue and
//   kvlistValue as compact OTLP/JSON ({"values":[{"stringValue":"a"},…]}). proto3 reads an
//   absent attribute key as "" (JSON skips an attribute without "key"); a oneof set twice keeps
//   its last member, as JSON keeps the last key. The metric name of another metric is not
//   checked as UTF-8 (it is not used).
// - S5 / S5.1 the cumulative series are capped at reader_options::otlp_max_series (a new series
//   beyond is too_many_series, named in the report); a series without a point for
//   otlp_series_idle_seconds of data time (behind the newest point taken) is released, checked
//   between records once the data time has moved half that since the last check.
// - Only what is read is validated: simdjson On Demand skips the values we do not need after a
//   structural check, so garbage inside, say, an ignored `exemplars` array may go unseen. Keys
//   are matched as written: an escaped key such as "\u006eame" is not recognised.
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>
#include <zstd.h>

#include <k8snetio/detail/flat_hash.hpp>
#include <k8snetio/detail/snapshot.hpp>
#include <k8snetio/io/error.hpp>
#include <k8snetio/io/input/detail/json_input.hpp>
#include <k8snetio/io/input/otlp_protobuf.hpp>
#include <k8snetio/io/input/read_report.hpp>
#include <k8snetio/io/input/reader_options.hpp>
#include <k8snetio/io/number.hpp>
#include <k8snetio/model/metric_point.hpp>

namespace k8snetio::io {

/// Reads OTLP JSON lines into metric points, converting cumulative counters (spec I3).
///
///     otlp_reader reader(options);
///     reader.start_file("metrics.json");
///     for (auto chunk : chunks) if (auto r = reader.feed(chunk, sink); !r) return r;
///     if (auto r = reader.finish(sink); !r) return r;
///
/// The points handed to the sink borrow their strings from the reader's buffers: they are valid
/// only during the call. One reader reads any number of inputs one after the other; the series
/// state (for deltas) and the report accumulate across them. Under `reader_options::strict`
/// the first error-kind skip (io::is_error) ends the read with error_code::bad_row; the reader
/// then refuses further input until start_file().
class otlp_reader : public detail::json_reader<otlp_reader> {
 public:
  explicit otlp_reader(reader_options options = {}) : json_reader(std::move(options)) {
    limit_line_bytes(default_max_line_bytes);
    apply_series_limits();
  }
  /// As metrics_csv_reader: the first input's name, then the options.
  explicit otlp_reader(std::string file, reader_options options = {})
      : json_reader(std::move(options)) {
    limit_line_bytes(default_max_line_bytes);
    apply_series_limits();
    start_file(file);
  }

  /// I3.5: reads one protobuf ExportMetricsServiceRequest (or MetricsData: the same wire
  /// shape), as feed() reads one JSON line: the same points in the same order, the same report,
  /// the same series state. All or nothing: a malformed request changes no series and counts
  /// once as bad_syntax, its detail naming the byte offset ("byte 17: NumberDataPoint: …");
  /// under `strict` that ends the read as feed() does. The request is the next record of the
  /// input (its line number in the report), so call start_file() to number from 1 again. Do
  /// not interleave it with feed() inside one input without finish() between them.
  template <metric_point_sink Sink>
  [[nodiscard]] result<void> feed_protobuf(std::string_view request, Sink&& sink) {
    return feed_protobuf(request, detail::sink_ref::to(sink));
  }
  [[nodiscard]] result<void> feed_protobuf(std::string_view request, detail::sink_ref sink) {
    if (input_.failure()) return tl::unexpected(*input_.failure());
    input_.report().bytes += request.size();
    auto r = process_protobuf(request, 0, sink);
    ++line_;
    return r;
  }

  /// I3.5 files: the collector file exporter's `format: proto` framing (each message preceded
  /// by its length as a 4-byte big-endian integer), each message a protobuf request, or that
  /// compressed on its own by zstd (`compression: zstd`), or, as the exporter writes JSON when
  /// compressing, a JSON request. Errors name the file's byte offset. A whole-file zstd stream
  /// is the caller's to undo (input_source does). Like feed()/finish(): chunks of any size.
  template <metric_point_sink Sink>
  [[nodiscard]] result<void> feed_frames(std::string_view chunk, Sink&& sink) {
    if (input_.failure()) return tl::unexpected(*input_.failure());
    input_.report().bytes += chunk.size();
    return feed_frames_impl(chunk, detail::sink_ref::to(sink));
  }
  /// The end of a framed input: a message cut short is counted as bad_syntax.
  template <metric_point_sink Sink>
  [[nodiscard]] result<void> finish_frames(Sink&& sink) {
    if (input_.failure()) return tl::unexpected(*input_.failure());
    (void)sink;
    result<void> r;
    if (!frames_.empty())
      r = input_.skip_row(line_, skip_reason::bad_syntax,
                          fmt::format("byte {}: the input ends inside a message", frames_at_));
    reset_stream();
    return r;
  }

  /// S5: cumulative series released because they had sent nothing for
  /// reader_options::otlp_series_idle_seconds.
  std::uint64_t series_released() const noexcept { return series_released_; }

  /// Cumulative series seen so far.
  std::size_t series_count() const noexcept { return series_.size(); }
  /// Forgets every cumulative series: the next point of each is a first point again.
  void clear_series() noexcept {
    series_.clear();
    clear_memo();
  }

  /// S4: the cumulative series' last points as a checked snapshot (kind "otlp_reader"), in
  /// key order, so an engine's state can carry its reader's (service.md K3).
  [[nodiscard]] std::string save_series() const {
    std::vector<const series_map::value_type*> sorted;
    sorted.reserve(series_.size());
    for (const auto& entry : series_) sorted.push_back(&entry);
    std::sort(sorted.begin(), sorted.end(),
              [](const auto* a, const auto* b) { return a->first < b->first; });
    k8snetio::detail::snapshot_writer w;
    w.u64(sorted.size());
    for (const auto* entry : sorted) {
      w.str(entry->first);
      w.u64(entry->second.start_ns);
      w.u64(entry->second.time_ns);
      w.f64(entry->second.value);
      w.i64(entry->second.int_value);
      w.boolean(entry->second.is_int);
    }
    return seal_snapshot("otlp_reader", series_settings(), w.bytes());
  }
  /// restore_series() returning its refusal instead of throwing it (the message of the
  /// snapshot_error, as an input_error of code read_failed).
  [[nodiscard]] result<void> try_restore_series(std::string_view snapshot) {
    try {
      restore_series(snapshot);
      return {};
    } catch (const std::exception& e) {
      return make_error(error_code::read_failed, "otlp_reader state", 0, e.what());
    }
  }

  /// Replaces the series by a save_series() snapshot; throws snapshot_error (and keeps the
  /// series as they were) on a corrupt, foreign or other-mode snapshot.
  void restore_series(std::string_view snapshot) {
    k8snetio::detail::snapshot_reader in(open_snapshot(snapshot, "otlp_reader", series_settings()),
                                         "otlp_reader state");
    series_map loaded;
    const std::size_t n = in.count(8 + 8 + 8 + 8 + 8 + 1);
    for (std::size_t i = 0; i < n; ++i) {
      std::string key(in.str());
      series_state s;
      s.start_ns = in.u64();
      s.time_ns = in.u64();
      s.value = in.f64();
      s.int_value = in.i64();
      s.is_int = in.boolean();
      if (!loaded.emplace(std::move(key), s).second) in.fail("a series twice");
    }
    in.expect_end();
    series_ = std::move(loaded);
    clear_memo();
    clock_ns_ = 0;
    const auto ceiling = clock_ceiling_ns();
    for (const auto& entry : series_)
      if (entry.second.time_ns <= ceiling) clock_ns_ = std::max(clock_ns_, entry.second.time_ns);
    swept_at_ns_ = clock_ns_;
  }

  /// A line longer than this is skipped as bad_syntax without being held in memory.
  static constexpr std::size_t default_max_line_bytes = std::size_t{256} << 20;
  /// The reader then holds at most about this plus one 1 MiB slice, never twice it (S5.2).
  void limit_line_bytes(std::size_t n) noexcept {
    max_line_bytes_ = detail::byte_limit(n);
    buffer_.limit_growth(detail::buffer_growth_limit(max_line_bytes_));
  }
  /// Bytes the reader's line buffer has allocated.
  std::size_t buffered_capacity() const noexcept { return buffer_.allocated(); }

 private:
  using error_code_t = simdjson::error_code;
  using value_t = simdjson::ondemand::value;
  using object_t = simdjson::ondemand::object;
  using array_t = simdjson::ondemand::array;
  using sink_ref = detail::sink_ref;
  using number_status = detail::number_status;

  struct attribute {
    std::string_view key, value;
  };
  struct series_state {
    std::uint64_t start_ns = 0;
    std::uint64_t time_ns = 0;
    double value = 0;
    std::int64_t int_value = 0;
    bool is_int = false;
  };
  struct string_hash {
    using is_transparent = void;
    // Series keys are a few hundred bytes: 16 bytes a step, mixed by one 128-bit product (as
    // wyhash does), then murmur's finaliser. Not noexcept on purpose: libstdc++ then keeps
    // each key's hash in its node, so a lookup compares keys (long, and alike in their first
    // hundred bytes) only when the hashes match.
    std::size_t operator()(std::string_view s) const {
      __extension__ using u128 = unsigned __int128;  // GCC and Clang, where this builds
      const auto mix = [](std::uint64_t a, std::uint64_t b) noexcept {
        const auto product = static_cast<u128>(a) * b;
        return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
      };
      const auto word_at = [&s](std::size_t at, std::size_t n) noexcept {
        std::uint64_t word = 0;
        std::memcpy(&word, s.data() + at, n);
        return word;
      };
      std::uint64_t h = 0x9E37'79B9'7F4A'7C15u ^ s.size();
      std::size_t i = 0;
      for (; i + 16 <= s.size(); i += 16)
        h = mix(word_at(i, 8) ^ 0xA076'1D64'78BD'642Fu, word_at(i + 8, 8) ^ h);
      if (i + 8 <= s.size()) {
        h = mix(word_at(i, 8) ^ 0xE703'7ED1'A0B4'28DBu, h);
        i += 8;
      }
      if (i < s.size()) h = mix(word_at(i, s.size() - i) ^ 0x8EBC'6AF0'9C88'C6E3u, h);
      h ^= h >> 33;
      h *= 0xFF51'AFD7'ED55'8CCDu;
      h ^= h >> 33;
      return static_cast<std::size_t>(h);
    }
  };
  using series_map = std::unordered_map<std::string, series_state, string_hash, std::equal_to<>>;

  // What a line produced, in order; handed on only when the whole line parsed.
  struct staged {
    metric_point point;
    std::string_view detail;
    skip_reason reason{};
    bool is_point = false;
    bool needs_node = false;  ///< I3.1: the node comes from the line's node resource, if any
  };
  // How to undo a line's changes to the series state if the line turns out malformed.
  struct undo_entry {
    series_state* state;
    series_state before;
    const std::string* inserted_key;  // set when the line created the series
  };
  enum class kind : std::uint8_t { gauge, sum, no_single_value };

  // What a saved series state depends on: deltas and rates come from the same last points,
  // but raw mode keeps none, and the metric name selects which series exist.
  std::string series_settings() const {
    return fmt::format("metric={};otlp_counter={}", input_.options().metric_name,
                       static_cast<int>(input_.options().otlp_counter));
  }

  void apply_series_limits() {
    const double idle = input_.options().otlp_series_idle_seconds;
    series_idle_ns_ = idle > 0 ? static_cast<std::uint64_t>(std::min(idle, 1e9) * 1e9) : 0;
    series_cap_detail_ =
        fmt::format("more than {} cumulative series held (reader_options::otlp_max_series)",
                    input_.options().otlp_max_series);
  }

  // The data time the idle rule measures by. A point stamped past the wall clock by more than
  // the idle horizon (2^64-1 ns, a year ahead) does not move it: one such point would otherwise
  // release every series at once (the engine refuses such points itself, S1.4). Historic
  // files are in the past and unaffected.
  void advance_clock(std::uint64_t time_ns) noexcept {
    if (time_ns <= record_ceiling_ns_) record_clock_ns_ = std::max(record_clock_ns_, time_ns);
  }
  std::uint64_t clock_ceiling_ns() const noexcept {
    const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const auto wall = static_cast<std::uint64_t>(std::max<std::int64_t>(now, 0));
    const std::uint64_t margin = std::max<std::uint64_t>(series_idle_ns_, 3'600'000'000'000u);
    return wall > ~margin ? ~std::uint64_t{0} : wall + margin;
  }

  // S5: forgets the series idle past the horizon, between records only (undo_ is empty).
  void release_idle() {
    swept_at_ns_ = clock_ns_;
    if (clock_ns_ < series_idle_ns_) return;
    const std::uint64_t oldest = clock_ns_ - series_idle_ns_;
    const auto released =
        std::erase_if(series_, [&](const auto& e) { return e.second.time_ns < oldest; });
    series_released_ += released;
    if (released != 0) clear_memo();  // the memo points at series
  }

  // ---- input buffering -------------------------------------------------------------------

  friend class detail::json_reader<otlp_reader>;

  result<void> feed_chunk(std::string_view chunk, sink_ref sink) {
    if (buffer_.size() == 0 && !skipping_long_line_) {
      // Nothing carried over: the complete lines that have SIMDJSON_PADDING bytes of the chunk
      // after them are parsed where they are, without a copy.
      std::size_t begin = 0;
      while (true) {
        auto* nl =
            static_cast<const char*>(std::memchr(chunk.data() + begin, '\n', chunk.size() - begin));
        if (!nl) break;
        auto end = static_cast<std::size_t>(nl - chunk.data());
        if (end + simdjson::SIMDJSON_PADDING > chunk.size()) break;
        auto r = end - begin > max_line_bytes_
                     ? skip_long_line()
                     : process_line(chunk.data() + begin, end - begin, chunk.size() - begin, sink);
        ++line_;
        begin = end + 1;
        if (!r) return r;
      }
      chunk.remove_prefix(begin);
    }
    // The rest goes through the padded buffer.
    return detail::feed_in_slices(buffer_, chunk, [&] { return drain(sink, false); });
  }

  void reset_stream() noexcept {
    buffer_.clear();
    scanned_ = 0;
    line_ = 1;
    skipping_long_line_ = false;
    frames_.clear();
    frames_at_ = 0;
    frame_skip_ = 0;
  }

  // ---- framed files (I3.5) ---------------------------------------------------------------

  result<void> feed_frames_impl(std::string_view chunk, sink_ref sink) {
    while (!chunk.empty()) {
      if (frame_skip_ != 0) {  // inside a message over the size limit
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(frame_skip_, chunk.size()));
        frame_skip_ -= n;
        frames_at_ += n;
        chunk.remove_prefix(n);
        continue;
      }
      if (!frames_.empty()) {  // the rest of a message begun in an earlier chunk
        if (frames_.size() < 4) {
          const std::size_t n = std::min(4 - frames_.size(), chunk.size());
          frames_.append(chunk.substr(0, n));
          chunk.remove_prefix(n);
          if (frames_.size() < 4) continue;
          if (const auto length = frame_length(frames_); length > max_line_bytes_) {
            frames_.clear();
            auto r = skip_long_frame(length);
            frames_at_ += 4;
            frame_skip_ = length;
            if (!r) return r;
            continue;
          }
        }
        const std::size_t total = 4 + static_cast<std::size_t>(frame_length(frames_));
        const std::size_t n = std::min(total - frames_.size(), chunk.size());
        frames_.append(chunk.substr(0, n));
        chunk.remove_prefix(n);
        if (frames_.size() < total) continue;
        auto r = process_frame(std::string_view(frames_).substr(4), sink);
        frames_at_ += total;
        frames_.clear();
        if (!r) return r;
        continue;
      }
      // Whole messages are read where they lie in the chunk; a partial one is kept.
      while (chunk.size() >= 4) {
        const std::uint64_t length = frame_length(chunk);
        if (length > max_line_bytes_) {
          auto r = skip_long_frame(length);
          chunk.remove_prefix(4);
          const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(length, chunk.size()));
          frames_at_ += 4 + n;
          frame_skip_ = length - n;
          chunk.remove_prefix(n);
          if (!r) return r;
          if (frame_skip_ != 0) break;
          continue;
        }
        if (chunk.size() < 4 + length) break;
        auto r = process_frame(chunk.substr(4, length), sink);
        frames_at_ += 4 + length;
        chunk.remove_prefix(4 + length);
        if (!r) return r;
      }
      if (frame_skip_ == 0) {
        frames_.append(chunk);
        chunk = {};
      }
    }
    return {};
  }

  static std::uint64_t frame_length(std::string_view bytes) noexcept {
    const auto byte = [&](std::size_t i) {
      return std::uint64_t{static_cast<unsigned char>(bytes[i])};
    };
    return (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
  }

  result<void> skip_long_frame(std::uint64_t length) {
    auto r = input_.skip_row(line_, skip_reason::bad_syntax,
                             fmt::format("byte {}: message of {} bytes, longer than {} bytes",
                                         frames_at_, length, max_line_bytes_));
    ++line_;
    return r;
  }

  result<void> process_frame(std::string_view message, sink_ref sink) {
    const std::uint64_t at = frames_at_ + 4;
    std::string_view content = message;
    if (message.starts_with(detail::zstd_frame_magic)) {
      if (auto error = unzstd_frame(message)) {
        auto r = input_.skip_row(line_, skip_reason::bad_syntax,
                                 fmt::format("byte {}: zstd: {}", at, error));
        ++line_;
        return r;
      }
      content = {unzstd_.data(), unzstd_.size()};
    }
    result<void> r;
    if (looks_like_otlp_json(content)) {
      // The exporter frames JSON too when it compresses it (`format: json`, `compression`).
      json_frame_.clear();
      json_frame_.append(content);
      r = process_line(json_frame_.data(), json_frame_.size(), json_frame_.capacity_from(0), sink);
    } else {
      r = process_protobuf(content, content.data() == message.data() ? at : 0, sink);
    }
    ++line_;
    return r;
  }

  // Decompresses one zstd-compressed message into unzstd_, within the message size limit;
  // the reason when it cannot.
  const char* unzstd_frame(std::string_view compressed) {
    if (!zstd_) zstd_.reset(ZSTD_createDCtx());
    if (!zstd_) return "out of memory";
    ZSTD_DCtx_reset(zstd_.get(), ZSTD_reset_session_only);
    unzstd_.clear();
    ZSTD_inBuffer in{compressed.data(), compressed.size(), 0};
    std::size_t left = 1;
    while (true) {
      if (unzstd_.capacity() - unzstd_.size() < (std::size_t{64} << 10))
        unzstd_.reserve(std::max<std::size_t>(unzstd_.capacity() * 2, std::size_t{256} << 10));
      const std::size_t before = unzstd_.size();
      const std::size_t room = unzstd_.capacity() - before;
      unzstd_.resize(unzstd_.capacity());
      ZSTD_outBuffer out{unzstd_.data() + before, room, 0};
      left = ZSTD_decompressStream(zstd_.get(), &out, &in);
      unzstd_.resize(before + out.pos);
      if (ZSTD_isError(left)) return ZSTD_getErrorName(left);
      if (unzstd_.size() > max_line_bytes_) return "the message is larger than the size limit";
      if (left == 0 && in.pos == in.size) return nullptr;
      if (in.pos == in.size && out.pos < room) return "the compressed message ends early";
    }
  }

  result<void> drain(sink_ref sink, bool at_end) {
    std::size_t begin = 0;
    result<void> outcome;
    while (outcome && scanned_ < buffer_.size()) {
      auto* nl = static_cast<const char*>(
          std::memchr(buffer_.data() + scanned_, '\n', buffer_.size() - scanned_));
      if (!nl) break;
      auto end = static_cast<std::size_t>(nl - buffer_.data());
      if (skipping_long_line_)
        skipping_long_line_ = false;
      else if (end - begin > max_line_bytes_)
        outcome = skip_long_line();
      else
        outcome = process_line(begin, end - begin, sink);
      ++line_;
      begin = scanned_ = end + 1;
    }
    if (outcome) {
      if (skipping_long_line_) {
        begin = buffer_.size();
      } else if (buffer_.size() - begin > max_line_bytes_) {
        outcome = skip_long_line();
        skipping_long_line_ = !at_end;
        begin = buffer_.size();
      } else if (at_end && begin < buffer_.size()) {
        outcome = process_line(begin, buffer_.size() - begin, sink);
        begin = buffer_.size();
      }
    }
    if (!outcome) begin = buffer_.size();  // strict mode ended the read: nothing more to keep
    buffer_.discard_front(begin);
    scanned_ = buffer_.size();
    return outcome;
  }

  result<void> skip_long_line() {
    return input_.skip_row(line_, skip_reason::bad_syntax,
                           detail::too_long("line", max_line_bytes_));
  }

  // ---- one line --------------------------------------------------------------------------

  result<void> process_line(std::size_t offset, std::size_t length, sink_ref sink) {
    return process_line(buffer_.data() + offset, length, buffer_.capacity_from(offset), sink);
  }

  // `capacity`: the bytes readable from `text` on, at least length + SIMDJSON_PADDING.
  result<void> process_line(const char* text, std::size_t length, std::size_t capacity,
                            sink_ref sink) {
    if (line_ == 1 && length >= 3 && std::memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
      text += 3;  // a UTF-8 byte order mark
      length -= 3;
      capacity -= 3;
    }
    std::size_t first = 0;
    while (first < length && detail::is_space(text[first])) ++first;
    if (first == length) return {};  // blank lines are no rows

    begin_record();
    if (auto e = parse_line(text, length, capacity))
      return refuse_record(fmt::format("{}: {}", failed_at_, simdjson::error_message(e)));
    return deliver_record(sink);
  }

  // ---- one record (a JSON line or a protobuf request): all or nothing ---------------------

  void begin_record() {
    if (series_idle_ns_ != 0 && clock_ns_ - swept_at_ns_ >= series_idle_ns_ / 2) release_idle();
    // The memo is emptied between records only: a record's staged points borrow its texts.
    if (resource_memo_.size() > max_resource_memo || resource_bytes_.used() > max_memo_bytes)
      clear_resource_memo();
    if (point_memo_.size() > max_point_memo || point_bytes_.used() > max_memo_bytes)
      clear_point_memo();
    record_ceiling_ns_ = clock_ceiling_ns();
    staged_.clear();
    undo_.clear();
    rows_in_line_ = 0;
    line_node_ = {};
    line_nodes_ = 0;
    record_clock_ns_ = clock_ns_;
    pending_skips_.fill(0);
  }

  // The record is malformed: its changes to the series state are undone and it counts once.
  result<void> refuse_record(std::string_view detail) {
    rollback();
    return input_.skip_row(line_, skip_reason::bad_syntax, detail);
  }

  result<void> deliver_record(sink_ref sink) {
    clock_ns_ = record_clock_ns_;
    auto& report = input_.report();
    report.rows_read += rows_in_line_;
    for (std::size_t i = 0; i < skip_reason_count; ++i) report.skipped[i] += pending_skips_[i];
    const std::string_view node =
        line_nodes_ == 1 ? line_node_ : std::string_view(input_.options().default_node);
    for (auto& s : staged_) {
      if (s.needs_node) {
        s.point.node = node;
        if (node.empty()) {
          s.is_point = false;
          s.reason = skip_reason::missing_dimension;
          s.detail = "k8s.node.name";
        }
      }
      if (s.is_point) {
        ++report.points;
        sink.call(sink.object, s.point);
      } else if (auto r = input_.count_skip(line_, s.reason, s.detail); !r) {
        return r;
      }
    }
    return {};
  }

  error_code_t failed(error_code_t e, const char* where) noexcept {
    failed_at_ = where;
    return e;
  }

  error_code_t parse_line(const char* text, std::size_t length, std::size_t capacity) {
    simdjson::ondemand::document doc;
    if (auto e = parser_.iterate(text, length, capacity).get(doc)) return failed(e, "document");
    object_t root;
    if (auto e = doc.get_object().get(root)) return failed(e, "document");
    for (auto item : root) {
      simdjson::ondemand::field f;
      if (auto e = std::move(item).get(f)) return failed(e, "document");
      if (f.key().unsafe_is_equal("resourceMetrics")) {
        if (auto e = read_resource_metrics(f.value())) return e;
      }
    }
    const char* rest = nullptr;  // simdjson 3.0 has no document::at_end()
    if (doc.current_location().get(rest) == simdjson::SUCCESS)
      return failed(simdjson::TRAILING_CONTENT, "document");
    return simdjson::SUCCESS;
  }

  // simdjson 3.0's find_field_unordered() trusts, when it wraps around, that the part of the
  // object it passed before is well formed (SIMDJSON_ASSUME: undefined behaviour otherwise), so
  // untrusted input is only ever walked forward, field by field. Where a field must be known
  // before another (resource before metrics, name before data, aggregationTemporality before
  // dataPoints) and comes after it, the object is walked a second time with reset().

  error_code_t read_resource_metrics(value_t& v) {
    array_t list;
    if (auto e = v.get_array().get(list)) return failed(e, "resourceMetrics");
    for (auto item : list) {
      object_t rm;
      if (auto e = item.get_object().get(rm)) return failed(e, "resourceMetrics");
      resource_attributes_.clear();
      resource_sorted_valid_ = false;
      bool have_resource = false, deferred = false;
      for (int pass = 0; pass < 2; ++pass) {
        for (auto field_result : rm) {
          simdjson::ondemand::field f;
          if (auto e = std::move(field_result).get(f)) return failed(e, "resourceMetrics");
          auto key = f.key();
          if (key.unsafe_is_equal("resource")) {
            if (pass == 1) break;  // the scopes after the resource were read in the first pass
            if (auto e = read_resource(f.value())) return e;
            have_resource = true;
            note_node_resource();
            continue;
          }
          const char* scopes = key.unsafe_is_equal("scopeMetrics") ? "scopeMetrics"
                               : key.unsafe_is_equal("instrumentationLibraryMetrics")
                                   ? "instrumentationLibraryMetrics"
                                   : nullptr;
          if (!scopes) continue;
          if (pass == 0 && !have_resource) {
            deferred = true;
            continue;
          }
          if (auto e = read_scope_metrics(f.value(), scopes)) return e;
        }
        if (!deferred || pass == 1) break;
        bool not_empty = false;
        if (auto e = rm.reset().get(not_empty)) return failed(e, "resourceMetrics");
      }
    }
    return simdjson::SUCCESS;
  }

  // I3.1: a resource naming a node and no pod is the kubelet the line was scraped from.
  void note_node_resource() {
    std::string_view node, pod;
    for (const auto& a : resource_attributes_) {
      if (a.key == "k8s.node.name") node = a.value;
      if (a.key == "k8s.pod.name") pod = a.value;
    }
    if (node.empty() || !pod.empty() || node == line_node_) return;
    line_node_ = node;
    ++line_nodes_;
  }

  error_code_t read_resource(value_t& v) {
    object_t resource;
    if (auto e = v.get_object().get(resource)) return failed(e, "resource");
    for (auto field_result : resource) {
      simdjson::ondemand::field f;
      if (auto e = std::move(field_result).get(f)) return failed(e, "resource");
      if (f.key().unsafe_is_equal("attributes")) {
        if (auto e = read_attributes(f.value(), resource_attributes_)) return e;
        resource_sorted_valid_ = false;
      }
    }
    return simdjson::SUCCESS;
  }

  error_code_t read_scope_metrics(value_t& v, const char* where) {
    array_t list;
    if (auto e = v.get_array().get(list)) return failed(e, where);
    for (auto item : list) {
      object_t scope;
      if (auto e = item.get_object().get(scope)) return failed(e, where);
      for (auto field_result : scope) {
        simdjson::ondemand::field f;
        if (auto e = std::move(field_result).get(f)) return failed(e, where);
        if (!f.key().unsafe_is_equal("metrics")) continue;
        array_t metric_list;
        if (auto e = f.value().get_array().get(metric_list)) return failed(e, "metrics");
        for (auto m : metric_list) {
          object_t metric;
          if (auto e = m.get_object().get(metric)) return failed(e, "metrics");
          if (auto e = read_metric(metric)) return e;
        }
      }
    }
    return simdjson::SUCCESS;
  }

  // `name` normally comes first; if a data field comes before it, a second pass reads it.
  error_code_t read_metric(object_t& metric) {
    std::string_view name;
    bool named = false;
    bool deferred = false;
    for (int pass = 0; pass < 2; ++pass) {
      for (auto item : metric) {
        simdjson::ondemand::field f;
        if (auto e = std::move(item).get(f)) return failed(e, "metrics");
        auto key = f.key();
        if (key.unsafe_is_equal("name")) {
          if (pass == 1) break;  // what follows the name was read in the first pass
          if (f.value().get_string().get(name)) name = {};  // not a string: no metric of ours
          named = true;
          continue;
        }
        auto data = data_kind(key);
        if (!data) continue;
        if (pass == 0 && !named) {
          deferred = true;
          continue;
        }
        if (auto e = read_metric_data(f.value(), *data, name)) return e;
      }
      if (!deferred || pass == 1) break;
      bool not_empty = false;
      if (auto e = metric.reset().get(not_empty)) return failed(e, "metrics");
      named = true;  // an absent or non-string name is "" in the second pass
    }
    return simdjson::SUCCESS;
  }

  static std::optional<kind> data_kind(simdjson::ondemand::raw_json_string key) noexcept {
    if (key.unsafe_is_equal("sum")) return kind::sum;
    if (key.unsafe_is_equal("gauge")) return kind::gauge;
    if (key.unsafe_is_equal("histogram") || key.unsafe_is_equal("exponentialHistogram") ||
        key.unsafe_is_equal("summary"))
      return kind::no_single_value;
    return std::nullopt;
  }

  error_code_t read_metric_data(value_t& v, kind k, std::string_view name) {
    object_t data;
    if (auto e = v.get_object().get(data)) return failed(e, "metric data");
    bool ours = name == input_.options().metric_name;
    // The collector writes aggregationTemporality after dataPoints: a sum of ours is walked
    // twice, the first time skipping the points (cheap), unless the temporality comes first.
    bool temporality_known = !ours || k != kind::sum, deferred = false;
    std::int64_t temporality = 0;
    for (int pass = 0; pass < 2; ++pass) {
      for (auto field_result : data) {
        simdjson::ondemand::field f;
        if (auto e = std::move(field_result).get(f)) return failed(e, "metric data");
        auto key = f.key();
        if (key.unsafe_is_equal("aggregationTemporality")) {
          if (pass == 1) break;  // the points after it were read in the first pass
          temporality = read_temporality(f.value());
          temporality_known = true;
          continue;
        }
        if (!key.unsafe_is_equal("dataPoints")) continue;
        if (pass == 0 && !temporality_known) {
          deferred = true;
          continue;
        }
        if (auto e = read_data_points(f.value(), k, ours, name, temporality == 2)) return e;
      }
      if (!deferred || pass == 1) break;
      bool not_empty = false;
      if (auto e = data.reset().get(not_empty)) return failed(e, "metric data");
    }
    return simdjson::SUCCESS;
  }

  error_code_t read_data_points(value_t& v, kind k, bool ours, std::string_view name,
                                bool cumulative) {
    array_t list;
    if (auto e = v.get_array().get(list)) return failed(e, "dataPoints");
    for (auto item : list) {
      if (!ours || k == kind::no_single_value) {
        if (auto e = item.error()) return failed(e, "dataPoints");
        ++rows_in_line_;
        if (!ours)
          stage_skip(skip_reason::other_metric, name);
        else
          stage_skip(skip_reason::missing_field, "asInt|asDouble (histogram or summary)");
        continue;
      }
      object_t point;
      if (auto e = item.get_object().get(point)) return failed(e, "dataPoints");
      if (auto e = read_data_point(point, k == kind::sum && cumulative)) return e;
    }
    return simdjson::SUCCESS;
  }

  // What a NumberDataPoint said, whichever encoding carried it.
  struct number_fields {
    std::uint64_t time_ns = 0, start_ns = 0;
    number_status time_status = number_status::absent, start_status = number_status::absent;
    number_status value_status = number_status::absent;
    const char* value_field = "asInt|asDouble";
    double value = 0;
    std::int64_t int_value = 0;
    bool is_int = false;
    std::uint64_t flags = 0;
  };

  error_code_t read_data_point(object_t& point, bool cumulative) {
    point_attributes_.clear();
    number_fields n;
    for (auto item : point) {
      simdjson::ondemand::field f;
      if (auto e = std::move(item).get(f)) return failed(e, "dataPoints");
      auto key = f.key();
      if (key.unsafe_is_equal("attributes")) {
        if (auto e = read_attributes(f.value(), point_attributes_)) return e;
      } else if (key.unsafe_is_equal("timeUnixNano")) {
        n.time_status = detail::read_integer(f.value(), n.time_ns);
      } else if (key.unsafe_is_equal("startTimeUnixNano")) {
        n.start_status = detail::read_integer(f.value(), n.start_ns);
      } else if (key.unsafe_is_equal("asInt")) {
        n.value_field = "asInt";
        n.value_status = detail::read_integer(f.value(), n.int_value);
        n.value = static_cast<double>(n.int_value);
        n.is_int = true;
      } else if (key.unsafe_is_equal("asDouble")) {
        n.value_field = "asDouble";
        n.value_status = read_double(f.value(), n.value);
        n.is_int = false;
      } else if (key.unsafe_is_equal("flags")) {
        if (detail::read_integer(f.value(), n.flags) != number_status::ok) n.flags = 0;
      }
    }
    return stage_number_point(n, cumulative, current_dims(), nullptr);
  }

  // The dimensions of the point being read, from its attributes and its resource's.
  struct point_dims {
    std::string_view cluster, pod, node, direction, namespace_name, pod_uid;
  };
  point_dims current_dims() const {
    point_dims d;
    d.cluster = attribute_value("k8s.cluster.name");
    if (d.cluster.empty()) d.cluster = input_.options().default_cluster;
    d.pod = attribute_value("k8s.pod.name");
    d.node = attribute_value("k8s.node.name");
    d.direction = attribute_value("direction");
    if (d.direction.empty()) d.direction = attribute_value("network.io.direction");
    d.namespace_name = attribute_value("k8s.namespace.name");
    d.pod_uid = attribute_value("k8s.pod.uid");
    return d;
  }

  // I3.5 speed: what was worked out from the same bytes before. A Resource message's bytes
  // give its attributes and an id; the id and a NumberDataPoint's attribute bytes give the
  // point's dimensions and its series. Both are pure functions of the bytes (and the options),
  // so a hit gives what reading again would; the series pointers are dropped whenever a series
  // is (release, rollback, clear, restore). Bounded: emptied between records when over size.
  // Flat tables (one probe into entries of plain values), the bytes kept in an arena that
  // never moves them (a record's points view them): the memo is looked up for every resource
  // and point, and its entries are cold by the time a series' next scrape comes.
  class byte_arena {
   public:
    char* allocate(std::size_t n) {
      if (n > left_) {
        const std::size_t size = std::max(n, block_size);
        blocks_.emplace_back(new char[size]);
        at_ = blocks_.back().get();
        left_ = size;
      }
      char* out = at_;
      at_ += n;
      left_ -= n;
      used_ += n;
      return out;
    }
    std::size_t used() const noexcept { return used_; }
    void clear() noexcept {
      std::vector<std::unique_ptr<char[]>>().swap(blocks_);
      at_ = nullptr;
      left_ = 0;
      used_ = 0;
    }

   private:
    static constexpr std::size_t block_size = std::size_t{64} << 10;
    std::vector<std::unique_ptr<char[]>> blocks_;
    char* at_ = nullptr;
    std::size_t left_ = 0;
    std::size_t used_ = 0;
  };
  // A Resource message's bytes, then for each attribute its key's and value's sizes (two
  // uint32) and texts.
  struct resource_memo_entry {
    const char* bytes = nullptr;
    std::uint32_t key_size = 0;
    std::uint32_t attribute_count = 0;
    std::uint64_t id = 0;
  };
  // A point's attribute fields (with the Resource's id), then its dimensions' texts.
  struct point_memo_entry {
    const char* bytes = nullptr;
    std::uint64_t resource_id = 0;
    std::uint32_t key_size = 0;
    std::array<std::uint32_t, 6> sizes{};
    series_map::value_type* series = nullptr;

    point_dims dims() const noexcept {
      std::array<std::string_view, 6> texts;
      const char* at = bytes + key_size;
      for (std::size_t i = 0; i < texts.size(); ++i) {
        texts[i] = {at, sizes[i]};
        at += sizes[i];
      }
      return {texts[0], texts[1], texts[2], texts[3], texts[4], texts[5]};
    }
  };
  static constexpr std::size_t max_resource_memo = std::size_t{1} << 16;
  static constexpr std::size_t max_point_memo = std::size_t{1} << 17;
  static constexpr std::size_t max_memo_bytes = std::size_t{32} << 20;  ///< each of the two
  static constexpr std::size_t max_memo_key = std::size_t{16} << 10;    ///< larger: not kept
  static constexpr std::uint64_t no_resource_id = 1;  ///< ids 2 and up name Resource bytes
  void clear_resource_memo() noexcept {
    resource_memo_ = {};  // freed, not only emptied
    resource_bytes_.clear();
  }
  void clear_point_memo() noexcept {
    point_memo_ = {};
    point_bytes_.clear();
  }
  void clear_memo() noexcept {
    clear_resource_memo();
    clear_point_memo();
  }

  // The point's checks, dimensions and cumulative-to-delta step, shared by both encodings.
  // `memo_series`: where the protobuf path remembers the point's series (null: not kept); a
  // series found there is the one the key would find.
  error_code_t stage_number_point(const number_fields& n, bool cumulative, const point_dims& dims,
                                  series_map::value_type** memo_series) {
    const auto& [time_ns, start_ns, time_status, start_status, value_status, value_field, value,
                 int_value, is_int, flags] = n;
    ++rows_in_line_;
    constexpr std::uint64_t no_recorded_value = 1;  // DataPointFlags.FLAG_NO_RECORDED_VALUE
    if (flags & no_recorded_value) return stage_skip(skip_reason::no_recorded_value, {});

    if (time_status == number_status::absent || (time_status == number_status::ok && time_ns == 0))
      return stage_skip(skip_reason::missing_field, "timeUnixNano");
    if (time_status != number_status::ok)
      return stage_skip(skip_reason::bad_number, "timeUnixNano");
    if (value_status == number_status::absent)
      return stage_skip(skip_reason::missing_field, value_field);
    if (value_status == number_status::bad) return stage_skip(skip_reason::bad_number, value_field);
    if (value_status == number_status::non_finite)
      return stage_skip(skip_reason::non_finite, value_field);

    metric_point p;
    p.metric_name = input_.options().metric_name;
    p.time = to_seconds(time_ns);
    p.value = value;
    p.cluster = dims.cluster;
    p.pod = dims.pod;
    p.node = dims.node;
    p.direction = dims.direction;
    p.namespace_name = dims.namespace_name;
    p.pod_uid = dims.pod_uid;
    if (p.cluster.empty()) return stage_skip(skip_reason::missing_dimension, "k8s.cluster.name");
    if (p.pod.empty()) return stage_skip(skip_reason::missing_dimension, "k8s.pod.name");
    if (p.direction.empty()) return stage_skip(skip_reason::missing_dimension, "direction");
    // I3.1: without a node of its own the point waits for the end of the line, where the
    // line's node resource (or the default) is known.
    needs_node_ = p.node.empty();

    if (!cumulative || input_.options().otlp_counter == otlp_counter_mode::raw)
      return stage_point(p);
    if (start_status == number_status::bad || start_status == number_status::non_finite)
      return stage_skip(skip_reason::bad_number, "startTimeUnixNano");

    series_state now{start_ns, time_ns, value, int_value, is_int};
    series_map::value_type* series = memo_series ? *memo_series : nullptr;
    if (!series) {
      if (memo_series) read_pending_attributes();
      build_series_key();
      auto it = series_.find(std::string_view(series_key_));
      if (it == series_.end()) {
        if (series_.size() >= input_.options().otlp_max_series) {
          return stage_skip(skip_reason::too_many_series, series_cap_detail_);
        }
        auto where = series_.emplace(series_key_, now).first;
        if (memo_series) *memo_series = &*where;
        advance_clock(time_ns);
        undo_.push_back({&where->second, now, &where->first});
        return stage_skip(skip_reason::first_of_series, {});
      }
      series = &*it;
      if (memo_series) *memo_series = series;
    }
    auto& before = series->second;
    if (time_ns <= before.time_ns)
      return stage_skip(skip_reason::late, "not newer than the previous point of its series");
    bool decreased =
        (is_int && before.is_int) ? int_value < before.int_value : value < before.value;
    undo_.push_back({&before, before, nullptr});
    advance_clock(time_ns);
    auto previous = std::exchange(before, now);
    if (start_ns != previous.start_ns || decreased)
      return stage_skip(skip_reason::counter_reset, {});

    double delta = (is_int && previous.is_int)
                       ? static_cast<double>(static_cast<std::uint64_t>(int_value) -
                                             static_cast<std::uint64_t>(previous.int_value))
                       : value - previous.value;
    if (input_.options().otlp_counter == otlp_counter_mode::rate)
      delta /= static_cast<double>(time_ns - previous.time_ns) / 1e9;
    if (!std::isfinite(delta)) return stage_skip(skip_reason::non_finite, value_field);
    p.value = delta;
    return stage_point(p);
  }

  error_code_t stage_skip(skip_reason reason, std::string_view detail) {
    needs_node_ = false;
    if (!is_error(reason)) {
      // Expected skips are only counted (never named, never a strict-mode failure): their
      // order does not matter, so they wait as counts rather than as staged rows.
      ++pending_skips_[static_cast<std::size_t>(reason)];
      return simdjson::SUCCESS;
    }
    staged_.push_back({metric_point{}, detail, reason, false});
    return simdjson::SUCCESS;
  }
  error_code_t stage_point(const metric_point& p) {
    staged_.push_back({p, {}, skip_reason{}, true, needs_node_});
    needs_node_ = false;
    return simdjson::SUCCESS;
  }

  void rollback() {
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
      if (it->inserted_key) {
        series_.erase(series_.find(std::string_view(*it->inserted_key)));
        clear_point_memo();  // it may point at the series
      } else {
        *it->state = it->before;
      }
    }
    undo_.clear();
    staged_.clear();
  }

  // ---- protobuf (I3.5) --------------------------------------------------------------------
  //
  // protozero walks the request where it lies. Known fields of the wrong wire type, strings
  // that are not UTF-8, and nesting deeper than max_any_value_depth are malformed like what
  // protozero itself refuses (a truncated varint, a length past the end); every such error
  // names the byte offset of the field being read. Each message is walked forward; where a
  // field must be known before another that may precede it (the resource before the scopes,
  // the name before the data, the temporality before the points) the message is walked twice,
  // the first time skipping, which costs a few bytes' reading per field.

  struct protobuf_error {
    const char* what;
  };
  using pbf = protozero::pbf_reader;
  using wire = protozero::pbf_wire_type;
  static constexpr int max_any_value_depth = 64;

  result<void> process_protobuf(std::string_view request, std::uint64_t base, sink_ref sink) {
    begin_record();
    rendered_used_ = 0;
    proto_base_ = request.data();
    proto_at_ = request.data();
    proto_where_ = "ExportMetricsServiceRequest";
    const char* what = nullptr;
    try {
      read_proto_request(request);
    } catch (const protobuf_error& e) {
      what = e.what;
    } catch (const protozero::exception& e) {
      what = e.what();
    }
    if (what)
      return refuse_record(fmt::format("byte {}: {}: {}",
                                       base + static_cast<std::uint64_t>(proto_at_ - proto_base_),
                                       proto_where_, what));
    return deliver_record(sink);
  }

  // The next field of `m`, remembering where it starts for an error's offset.
  bool next_field(pbf& m, const char* where) {
    proto_at_ = m.data().data();
    proto_where_ = where;
    return m.next();
  }
  static void expect(const pbf& m, wire type) {
    if (m.wire_type() != type) throw protobuf_error{"wrong wire type for the field"};
  }
  static std::string_view view_of(pbf& m) {
    expect(m, wire::length_delimited);
    auto v = m.get_view();
    return {v.data(), v.size()};
  }
  static std::string_view text_of(pbf& m) {
    auto v = view_of(m);
    if (!is_utf8(v)) throw protobuf_error{"a string that is not UTF-8"};
    return v;
  }
  // Attribute texts are nearly always ASCII: checked 8 bytes at a time before simdjson's
  // validator (whose dispatch costs more than these short strings).
  static bool is_utf8(std::string_view s) noexcept {
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, s.data() + i, 8);
      if (word & 0x8080'8080'8080'8080u) return simdjson::validate_utf8(s.data(), s.size());
    }
    for (; i < s.size(); ++i)
      if (static_cast<unsigned char>(s[i]) >= 0x80)
        return simdjson::validate_utf8(s.data(), s.size());
    return true;
  }

  // Calls f(bytes) for each length-delimited field `tag` of the message `bytes` (named `where`
  // in errors), in order; every other field is skipped.
  template <class F>
  void for_each_message(std::string_view bytes, const char* where, protozero::pbf_tag_type tag,
                        F&& f) {
    pbf m(bytes.data(), bytes.size());
    while (next_field(m, where)) {
      if (m.tag() == tag)
        f(view_of(m));
      else
        m.skip();
    }
  }

  void read_proto_request(std::string_view request) {
    for_each_message(request, "ExportMetricsServiceRequest", otlp_field::request_resource_metrics,
                     [this](std::string_view m) { read_proto_resource_metrics(m); });
  }

  void read_proto_resource_metrics(std::string_view bytes) {
    resource_attributes_.clear();
    resource_sorted_valid_ = false;
    std::size_t resources = 0;
    std::uint64_t resource = 0;
    // One walk: the resources read as they come, the scopes' places noted and read after it.
    scope_fields_.clear();
    pbf m(bytes.data(), bytes.size());
    while (next_field(m, "ResourceMetrics")) {
      const auto tag = m.tag();
      if (tag == otlp_field::resource_metrics_resource) {
        const auto resource_bytes = view_of(m);
        ++resources;
        resource = read_proto_resource(resource_bytes);
      } else if (tag == otlp_field::resource_metrics_scope_metrics ||
                 tag == otlp_field::resource_metrics_instrumentation_library_metrics) {
        scope_fields_.push_back(note_field(m, tag));
      } else {
        m.skip();
      }
    }
    // The points' memo is keyed by the one Resource message's bytes (or by its absence).
    resource_id_ = resources == 0 ? no_resource_id : resources == 1 ? resource : 0;
    note_node_resource();
    for (const auto& scope : scope_fields_)
      read_proto_scope_metrics(noted_bytes(scope, "ResourceMetrics"));
  }

  // A field whose reading waits for the end of its message's walk: where it starts, and its
  // bytes, or (wrong wire type) the error that reading it in place would have raised.
  struct noted_field {
    protozero::pbf_tag_type tag;
    const char* at;
    std::string_view bytes;
    bool wrong_wire_type;
  };
  noted_field note_field(pbf& m, protozero::pbf_tag_type tag) {
    noted_field f{tag, proto_at_, {}, m.wire_type() != wire::length_delimited};
    if (f.wrong_wire_type)
      m.skip();
    else
      f.bytes = view_of(m);
    return f;
  }
  std::string_view noted_bytes(const noted_field& f, const char* where) {
    if (f.wrong_wire_type) {
      proto_at_ = f.at;
      proto_where_ = where;
      throw protobuf_error{"wrong wire type for the field"};
    }
    return f.bytes;
  }

  // A Resource's attributes join resource_attributes_ (a later duplicate wins, as within one
  // list); a Resource whose bytes were read before is not read again. Returns its memo id.
  std::uint64_t read_proto_resource(std::string_view bytes) {
    if (bytes.size() > max_memo_key) {
      for_each_message(
          bytes, "Resource", otlp_field::resource_attributes,
          [this](std::string_view m) { read_proto_attribute(m, resource_attributes_); });
      return 0;
    }
    const auto hash = k8snetio::detail::hash_bytes(bytes);
    const auto same = [&](const resource_memo_entry& e) {
      return e.key_size == bytes.size() &&
             (bytes.empty() || std::memcmp(e.bytes, bytes.data(), bytes.size()) == 0);
    };
    const resource_memo_entry* known = resource_memo_.find(hash, same);
    if (!known) {
      resource_scratch_.clear();
      for_each_message(bytes, "Resource", otlp_field::resource_attributes,
                       [this](std::string_view m) { read_proto_attribute(m, resource_scratch_); });
      resource_memo_entry entry;
      entry.id = next_resource_id_++;
      std::size_t size = bytes.size();
      for (const auto& a : resource_scratch_) size += 8 + a.key.size() + a.value.size();
      char* at = resource_bytes_.allocate(size);
      entry.bytes = at;
      entry.key_size = static_cast<std::uint32_t>(bytes.size());
      entry.attribute_count = static_cast<std::uint32_t>(resource_scratch_.size());
      const auto put = [&at](const void* from, std::size_t n) {
        if (n != 0) std::memcpy(at, from, n);
        at += n;
      };
      put(bytes.data(), bytes.size());
      for (const auto& a : resource_scratch_) {
        const std::array<std::uint32_t, 2> sizes{static_cast<std::uint32_t>(a.key.size()),
                                                 static_cast<std::uint32_t>(a.value.size())};
        put(sizes.data(), sizeof sizes);
        put(a.key.data(), a.key.size());
        put(a.value.data(), a.value.size());
      }
      known = &resource_memo_.insert(hash, entry);
    }
    const char* at = known->bytes + known->key_size;
    const bool first = resource_attributes_.empty();  // then the entry's list is the list
    for (std::uint32_t i = 0; i < known->attribute_count; ++i) {
      std::array<std::uint32_t, 2> sizes;
      std::memcpy(sizes.data(), at, sizeof sizes);
      at += sizeof sizes;
      const attribute a{{at, sizes[0]}, {at + sizes[0], sizes[1]}};
      at += sizes[0] + sizes[1];
      if (first) {
        resource_attributes_.push_back(a);
        continue;
      }
      auto same_key = std::find_if(resource_attributes_.begin(), resource_attributes_.end(),
                                   [&](const attribute& o) { return o.key == a.key; });
      if (same_key != resource_attributes_.end())
        same_key->value = a.value;
      else
        resource_attributes_.push_back(a);
    }
    return known->id;
  }

  void read_proto_scope_metrics(std::string_view bytes) {
    for_each_message(bytes, "ScopeMetrics", otlp_field::scope_metrics_metrics,
                     [this](std::string_view m) { read_proto_metric(m); });
  }

  void read_proto_metric(std::string_view bytes) {
    // One walk: the name (the last one counts) and the data fields' places, then the data
    // fields in order, with every error where a second walk would have raised it.
    std::string_view name;  // checked as text below when it is the metric read
    data_fields_.clear();
    pbf m(bytes.data(), bytes.size());
    while (next_field(m, "Metric")) {
      const auto tag = m.tag();
      switch (tag) {
        case otlp_field::metric_name: name = view_of(m); break;
        case otlp_field::metric_gauge:
        case otlp_field::metric_sum:
        case otlp_field::metric_histogram:
        case otlp_field::metric_exponential_histogram:
        case otlp_field::metric_summary: data_fields_.push_back(note_field(m, tag)); break;
        default: m.skip();
      }
    }
    if (name == input_.options().metric_name && !is_utf8(name))
      throw protobuf_error{"a string that is not UTF-8"};
    for (const auto& data : data_fields_) {
      const auto data_bytes = noted_bytes(data, "Metric");
      const kind k = data.tag == otlp_field::metric_gauge ? kind::gauge
                     : data.tag == otlp_field::metric_sum ? kind::sum
                                                          : kind::no_single_value;
      read_proto_metric_data(data_bytes, k, name);
    }
  }

  void read_proto_metric_data(std::string_view bytes, kind k, std::string_view name) {
    const bool ours = name == input_.options().metric_name;
    std::uint64_t temporality = 0;
    if (ours && k == kind::sum) {
      pbf m(bytes.data(), bytes.size());
      while (next_field(m, "Sum")) {
        if (m.tag() == otlp_field::sum_aggregation_temporality) {
          expect(m, wire::varint);
          temporality = m.get_uint64();
        } else {
          m.skip();
        }
      }
    }
    pbf m(bytes.data(), bytes.size());
    while (next_field(m, "dataPoints")) {
      if (m.tag() != otlp_field::data_points) {
        m.skip();
        continue;
      }
      if (!ours || k == kind::no_single_value) {
        expect(m, wire::length_delimited);
        m.skip();
        ++rows_in_line_;
        if (!ours)
          stage_skip(skip_reason::other_metric, name);
        else
          stage_skip(skip_reason::missing_field, "asInt|asDouble (histogram or summary)");
        continue;
      }
      read_proto_number_point(view_of(m), k == kind::sum && temporality == 2);
    }
  }

  // A NumberDataPoint. Its attributes, when they lie together, are read only if the memo does
  // not know them (with the same Resource): the memo gives the point's dimensions and series.
  // Attributes not yet read are read before any later error is raised, so that errors come in
  // the order the fields do.
  void read_proto_number_point(std::string_view bytes, bool cumulative) {
    point_attributes_.clear();
    pending_attributes_.clear();
    bool memo = resource_id_ != 0;
    const char* span_begin = nullptr;
    const char* span_end = nullptr;
    number_fields n;
    pbf m(bytes.data(), bytes.size());
    try {
      while (next_field(m, "NumberDataPoint")) {
        switch (m.tag()) {
          case otlp_field::point_attributes: {
            const char* at = proto_at_;
            const auto key_value = view_of(m);
            if (memo && (span_begin == nullptr || span_end == at) &&
                m.data().data() - (span_begin ? span_begin : at) <=
                    static_cast<std::ptrdiff_t>(max_memo_key)) {
              if (!span_begin) span_begin = at;
              span_end = m.data().data();
              pending_attributes_.push_back(key_value);
              break;
            }
            if (memo) {  // attributes apart from each other (or many): read as they come
              memo = false;
              read_pending_attributes();
            }
            read_proto_attribute(key_value, point_attributes_);
            break;
          }
          case otlp_field::point_start_time_unix_nano:
            expect(m, wire::fixed64);
            n.start_ns = m.get_fixed64();
            n.start_status = number_status::ok;
            break;
          case otlp_field::point_time_unix_nano:
            expect(m, wire::fixed64);
            n.time_ns = m.get_fixed64();
            n.time_status = number_status::ok;
            break;
          case otlp_field::point_as_double:
            expect(m, wire::fixed64);
            n.value_field = "asDouble";
            n.value = m.get_double();
            n.value_status = std::isfinite(n.value) ? number_status::ok : number_status::non_finite;
            n.is_int = false;
            break;
          case otlp_field::point_as_int:
            expect(m, wire::fixed64);
            n.value_field = "asInt";
            n.int_value = m.get_sfixed64();
            n.value = static_cast<double>(n.int_value);
            n.value_status = number_status::ok;
            n.is_int = true;
            break;
          case otlp_field::point_flags:
            expect(m, wire::varint);
            n.flags = m.get_uint64() & 0xFFFF'FFFFu;  // a uint32 field: wider varints truncate
            break;
          default: m.skip();
        }
      }
    } catch (...) {
      // The attributes before the failed field fail first, if they do.
      const char* at = proto_at_;
      const char* where = proto_where_;
      read_pending_attributes();
      proto_at_ = at;
      proto_where_ = where;
      throw;
    }
    if (!memo) {
      read_pending_attributes();
      stage_number_point(n, cumulative, current_dims(), nullptr);
      return;
    }
    const std::string_view key =
        span_begin ? std::string_view(span_begin, static_cast<std::size_t>(span_end - span_begin))
                   : std::string_view();
    const auto hash = k8snetio::detail::hash_bytes(key, resource_id_);
    point_memo_entry* known = point_memo_.find(hash, [&](const point_memo_entry& e) {
      return e.resource_id == resource_id_ && e.key_size == key.size() &&
             (key.empty() || std::memcmp(e.bytes, key.data(), key.size()) == 0);
    });
    if (!known) {
      read_pending_attributes();
      const point_dims d = current_dims();
      const std::array<std::string_view, 6> texts{d.cluster,        d.pod,    d.node, d.direction,
                                                  d.namespace_name, d.pod_uid};
      std::size_t size = key.size();
      for (const auto t : texts) size += t.size();
      point_memo_entry entry;
      entry.resource_id = resource_id_;
      entry.key_size = static_cast<std::uint32_t>(key.size());
      char* at = point_bytes_.allocate(size);
      entry.bytes = at;
      if (!key.empty()) std::memcpy(at, key.data(), key.size());
      at += key.size();
      for (std::size_t i = 0; i < texts.size(); ++i) {
        entry.sizes[i] = static_cast<std::uint32_t>(texts[i].size());
        if (!texts[i].empty()) std::memcpy(at, texts[i].data(), texts[i].size());
        at += texts[i].size();
      }
      known = &point_memo_.insert(hash, entry);
    }
    // `known` stays where it is until the next insert, after this point's series is set.
    stage_number_point(n, cumulative, known->dims(), &known->series);
  }

  // Reads the attributes the memo may have spared (they are valid: their bytes were read).
  void read_pending_attributes() {
    for (const auto key_value : pending_attributes_)
      read_proto_attribute(key_value, point_attributes_);
    pending_attributes_.clear();
  }

  // A KeyValue; proto3 reads an absent key as "" (present), unlike JSON's absent "key".
  void read_proto_attribute(std::string_view bytes, std::vector<attribute>& out) {
    attribute a;
    pbf m(bytes.data(), bytes.size());
    while (next_field(m, "KeyValue")) {
      if (m.tag() == otlp_field::key_value_key)
        a.key = text_of(m);
      else if (m.tag() == otlp_field::key_value_value)
        a.value = proto_any_value_text(view_of(m));
      else
        m.skip();
    }
    auto same =
        std::find_if(out.begin(), out.end(), [&](const attribute& o) { return o.key == a.key; });
    if (same != out.end())
      same->value = a.value;
    else
      out.push_back(a);
  }

  // The attribute text of an AnyValue: a string as it is (no copy); any other kind rendered
  // as the JSON path reads its JSON twin, into text that lives until the next request.
  std::string_view proto_any_value_text(std::string_view bytes) {
    std::string_view out;
    pbf m(bytes.data(), bytes.size());
    while (next_field(m, "AnyValue")) {
      switch (m.tag()) {
        case otlp_field::any_string: out = text_of(m); break;
        case otlp_field::any_bool:
          expect(m, wire::varint);
          out = m.get_uint64() != 0 ? "true" : "false";
          break;
        case otlp_field::any_int: {
          expect(m, wire::varint);
          auto& text = rendered_text();
          text = std::to_string(m.get_int64());
          out = text;
          break;
        }
        case otlp_field::any_double: {
          expect(m, wire::fixed64);
          auto& text = rendered_text();
          detail::append_otlp_json_double(text, m.get_double());
          out = text;
          break;
        }
        case otlp_field::any_bytes: {
          auto raw = view_of(m);
          auto& text = rendered_text();
          detail::append_base64(text, raw);
          out = text;
          break;
        }
        case otlp_field::any_array:
        case otlp_field::any_kvlist: {
          const bool array = m.tag() == otlp_field::any_array;
          auto nested = view_of(m);
          auto& text = rendered_text();
          render_proto_list(text, nested, array, 1);
          out = text;
          break;
        }
        default: m.skip();
      }
    }
    return out;
  }

  // An ArrayValue or KeyValueList as compact OTLP/JSON: {"values":[…]}, {} when empty.
  void render_proto_list(std::string& out, std::string_view bytes, bool array, int depth) {
    if (depth > max_any_value_depth) throw protobuf_error{"values nested too deeply"};
    out += '{';
    bool first = true;
    pbf m(bytes.data(), bytes.size());
    while (next_field(m, array ? "ArrayValue" : "KeyValueList")) {
      if (m.tag() != otlp_field::list_values) {
        m.skip();
        continue;
      }
      auto item = view_of(m);
      out += first ? "\"values\":[" : ",";
      first = false;
      if (array) {
        render_proto_any_value(out, item, depth);
        continue;
      }
      std::string_view key, value;
      bool has_value = false;
      pbf kv(item.data(), item.size());
      while (next_field(kv, "KeyValue")) {
        if (kv.tag() == otlp_field::key_value_key) {
          key = text_of(kv);
        } else if (kv.tag() == otlp_field::key_value_value) {
          value = view_of(kv);
          has_value = true;
        } else {
          kv.skip();
        }
      }
      out += "{\"key\":";
      detail::append_json_string(out, key);
      out += ",\"value\":";
      if (has_value)
        render_proto_any_value(out, value, depth);
      else
        out += "{}";
      out += '}';
    }
    if (!first) out += ']';
    out += '}';
  }

  void render_proto_any_value(std::string& out, std::string_view bytes, int depth) {
    // The oneof's last member wins, so the member is found first and rendered after.
    protozero::pbf_tag_type tag = 0;
    std::string_view payload;
    std::uint64_t scalar = 0;
    pbf m(bytes.data(), bytes.size());
    while (next_field(m, "AnyValue")) {
      const auto member = m.tag();  // protozero's debug builds forget it once a value is read
      switch (member) {
        case otlp_field::any_string: payload = text_of(m); break;
        case otlp_field::any_bool:
        case otlp_field::any_int:
          expect(m, wire::varint);
          scalar = m.get_uint64();
          break;
        case otlp_field::any_double:
          expect(m, wire::fixed64);
          scalar = m.get_fixed64();
          break;
        case otlp_field::any_bytes:
        case otlp_field::any_array:
        case otlp_field::any_kvlist: payload = view_of(m); break;
        default: m.skip(); continue;
      }
      tag = member;
    }
    switch (tag) {
      case otlp_field::any_string:
        out += "{\"stringValue\":";
        detail::append_json_string(out, payload);
        break;
      case otlp_field::any_bool:
        out += scalar ? "{\"boolValue\":true" : "{\"boolValue\":false";
        break;
      case otlp_field::any_int:
        out += "{\"intValue\":\"";
        out += std::to_string(static_cast<std::int64_t>(scalar));
        out += '"';
        break;
      case otlp_field::any_double: {
        double d = 0;
        std::memcpy(&d, &scalar, sizeof d);
        out += "{\"doubleValue\":";
        const bool quoted = !std::isfinite(d);
        if (quoted) out += '"';
        detail::append_otlp_json_double(out, d);
        if (quoted) out += '"';
        break;
      }
      case otlp_field::any_bytes:
        out += "{\"bytesValue\":\"";
        detail::append_base64(out, payload);
        out += '"';
        break;
      case otlp_field::any_array:
      case otlp_field::any_kvlist:
        out += tag == otlp_field::any_array ? "{\"arrayValue\":" : "{\"kvlistValue\":";
        render_proto_list(out, payload, tag == otlp_field::any_array, depth + 1);
        break;
      default: out += '{'; break;
    }
    out += '}';
  }

  // A string for rendered attribute text that stays where it is until the next request.
  std::string& rendered_text() {
    if (rendered_used_ == rendered_.size()) rendered_.emplace_back();
    auto& text = rendered_[rendered_used_++];
    text.clear();
    return text;
  }

  // ---- attributes ------------------------------------------------------------------------

  error_code_t read_attributes(value_t& v, std::vector<attribute>& out) {
    array_t list;
    if (auto e = v.get_array().get(list)) return failed(e, "attributes");
    for (auto item : list) {
      object_t kv;
      if (auto e = item.get_object().get(kv)) return failed(e, "attributes");
      attribute a;
      bool has_key = false;
      for (auto field_result : kv) {
        simdjson::ondemand::field f;
        if (auto e = std::move(field_result).get(f)) return failed(e, "attributes");
        auto key = f.key();
        if (key.unsafe_is_equal("key")) {
          has_key = f.value().get_string().get(a.key) == simdjson::SUCCESS;
        } else if (key.unsafe_is_equal("value")) {
          if (auto e = read_any_value(f.value(), a.value)) return e;
        }
      }
      if (!has_key) continue;  // an attribute without a key names nothing
      auto same =
          std::find_if(out.begin(), out.end(), [&](const attribute& o) { return o.key == a.key; });
      if (same != out.end())
        same->value = a.value;
      else
        out.push_back(a);
    }
    return simdjson::SUCCESS;
  }

  error_code_t read_any_value(value_t& v, std::string_view& out) {
    out = {};
    object_t any;
    if (v.get_object().get(any) != simdjson::SUCCESS) return simdjson::SUCCESS;  // not AnyValue
    for (auto item : any) {
      simdjson::ondemand::field f;
      if (auto e = std::move(item).get(f)) return failed(e, "attribute value");
      auto key = f.key();
      auto& value = f.value();
      simdjson::ondemand::json_type type;
      if (auto e = value.type().get(type)) return failed(e, "attribute value");
      if (type == simdjson::ondemand::json_type::string) {
        if (auto e = value.get_string().get(out)) return failed(e, "attribute value");
      } else if (key.unsafe_is_equal("arrayValue") || key.unsafe_is_equal("kvlistValue")) {
        if (type == simdjson::ondemand::json_type::object) {
          object_t nested;
          if (auto e = value.get_object().get(nested)) return failed(e, "attribute value");
          if (auto e = nested.raw_json().get(out)) return failed(e, "attribute value");
        }
      } else if (type == simdjson::ondemand::json_type::number ||
                 type == simdjson::ondemand::json_type::boolean) {
        out = detail::trim_right(value.raw_json_token());
      } else {
        out = {};  // null, or a shape we do not know: the attribute is empty
      }
    }
    return simdjson::SUCCESS;
  }

  std::string_view attribute_value(std::string_view key) const noexcept {
    for (const auto& a : point_attributes_)
      if (a.key == key) return a.value;
    for (const auto& a : resource_attributes_)
      if (a.key == key) return a.value;
    return {};
  }

  // metric name, then every merged attribute sorted by key, each length-prefixed so that no
  // two different attribute sets give the same key. The resource's attributes are sorted once
  // per resource, the point's (a few) per point, and the two merged, the point's winning.
  void build_series_key() {
    if (!resource_sorted_valid_) {
      resource_sorted_.assign(resource_attributes_.begin(), resource_attributes_.end());
      std::sort(resource_sorted_.begin(), resource_sorted_.end(), by_key);
      resource_sorted_valid_ = true;
    }
    point_sorted_.assign(point_attributes_.begin(), point_attributes_.end());
    std::sort(point_sorted_.begin(), point_sorted_.end(), by_key);
    series_key_.clear();
    append_sized(series_key_, input_.options().metric_name);
    auto r = resource_sorted_.begin();
    auto p = point_sorted_.begin();
    while (r != resource_sorted_.end() || p != point_sorted_.end()) {
      if (p == point_sorted_.end() || (r != resource_sorted_.end() && r->key < p->key)) {
        append_sized(series_key_, r->key);
        append_sized(series_key_, r->value);
        ++r;
        continue;
      }
      if (r != resource_sorted_.end() && r->key == p->key) ++r;  // the point's wins
      append_sized(series_key_, p->key);
      append_sized(series_key_, p->value);
      ++p;
    }
  }
  static bool by_key(const attribute& a, const attribute& b) noexcept { return a.key < b.key; }

  static void append_sized(std::string& out, std::string_view s) {
    auto n = static_cast<std::uint32_t>(s.size());
    char size[sizeof n];
    std::memcpy(size, &n, sizeof n);
    out.append(size, sizeof n);
    out.append(s);
  }

  // ---- numbers ---------------------------------------------------------------------------

  // 1 delta, 2 cumulative; protobuf JSON may also spell the enum by name.
  static std::int64_t read_temporality(value_t& v) {
    std::int64_t n = 0;
    if (v.get_int64().get(n) == simdjson::SUCCESS) return n;
    std::string_view s;
    if (v.get_string().get(s) != simdjson::SUCCESS) return 0;
    if (s == "AGGREGATION_TEMPORALITY_CUMULATIVE" || s == "2") return 2;
    if (s == "AGGREGATION_TEMPORALITY_DELTA" || s == "1") return 1;
    return 0;
  }

  static number_status read_double(value_t& v, double& out) {
    simdjson::ondemand::json_type type;
    if (v.type().get(type)) return number_status::bad;
    if (type == simdjson::ondemand::json_type::number)
      return v.get_double().get(out) ? number_status::bad : number_status::ok;
    if (type != simdjson::ondemand::json_type::string) return number_status::bad;
    std::string_view s;
    if (v.get_string().get(s)) return number_status::bad;
    if (s.empty()) return number_status::absent;
    // OTLP/JSON writes the special doubles as "NaN", "Infinity" and "-Infinity".
    if (io::parse_number(s, out) != io::number_status::ok) return number_status::bad;
    return std::isfinite(out) ? number_status::ok : number_status::non_finite;
  }

  /// Exact to the double: whole seconds plus the fraction, not ns / 1e9 in one rounding.
  static double to_seconds(std::uint64_t ns) noexcept {
    return static_cast<double>(ns / 1'000'000'000u) +
           static_cast<double>(ns % 1'000'000'000u) / 1e9;
  }

  detail::padded_buffer buffer_;
  std::size_t scanned_ = 0;  // [0, scanned_) holds no newline
  std::uint64_t line_ = 1;   // the line that starts at buffer_[0]
  bool skipping_long_line_ = false;
  std::size_t max_line_bytes_ = default_max_line_bytes;

  simdjson::ondemand::parser parser_;
  const char* failed_at_ = "";
  std::vector<attribute> resource_attributes_, point_attributes_;
  std::vector<attribute> resource_sorted_, point_sorted_;  ///< for the series key
  bool resource_sorted_valid_ = false;
  std::vector<staged> staged_;
  std::vector<undo_entry> undo_;
  std::uint64_t rows_in_line_ = 0;
  std::array<std::uint64_t, skip_reason_count> pending_skips_{};  ///< expected skips of the record
  std::string_view line_node_;  ///< I3.1: the node resource's k8s.node.name in this line
  std::size_t line_nodes_ = 0;  ///< distinct node resources in this line
  bool needs_node_ = false;     ///< the point being staged takes the line's node
  std::string series_key_;
  series_map series_;

  // S5 / S5.1: the data-time clock (the newest point taken), the last sweep, and the limits.
  std::uint64_t clock_ns_ = 0, record_clock_ns_ = 0, swept_at_ns_ = 0, record_ceiling_ns_ = 0;
  std::uint64_t series_idle_ns_ = 0;
  std::uint64_t series_released_ = 0;
  std::string series_cap_detail_;

  // protobuf
  k8snetio::detail::flat_hash_slots<resource_memo_entry> resource_memo_;
  k8snetio::detail::flat_hash_slots<point_memo_entry> point_memo_;
  byte_arena resource_bytes_, point_bytes_;
  std::uint64_t next_resource_id_ = 2;
  std::uint64_t resource_id_ = 0;  ///< the ResourceMetrics being read; 0: no memo for it
  std::vector<attribute> resource_scratch_;
  std::vector<std::string_view> pending_attributes_;
  std::vector<noted_field> scope_fields_, data_fields_;

  const char* proto_base_ = nullptr;
  const char* proto_at_ = nullptr;  ///< the field being read, for an error's offset
  const char* proto_where_ = "";
  std::deque<std::string> rendered_;  ///< rendered attribute texts; a deque never moves them
  std::size_t rendered_used_ = 0;
  // framed files
  std::string frames_;            ///< an unfinished frame
  std::uint64_t frames_at_ = 0;   ///< the input's byte offset of the next frame
  std::uint64_t frame_skip_ = 0;  ///< bytes of an over-long message still to skip
  detail::padded_buffer json_frame_;
  std::string unzstd_;
  struct zstd_free {
    void operator()(ZSTD_DCtx* c) const noexcept { ZSTD_freeDCtx(c); }
  };
  std::unique_ptr<ZSTD_DCtx, zstd_free> zstd_;
};

}  // namespace k8snetio::io
