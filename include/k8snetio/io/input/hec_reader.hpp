// Reads Splunk HEC metric events (spec I2): JSON objects one per line or concatenated (several
// on a line, or one spread over lines), each with `time` and a `fields` object in the
// single-measurement form (`metric_name` + `_value`) or the multi-measurement form
// (`"metric_name:<name>": <number>` keys sharing the other fields). Points that fail D1.1 (a
// dimension missing) or D1.2 (a non-finite value) are counted, never passed on.
//
// Decisions, so that nobody has to reverse-engineer them:
// - A line that parses as one object is one event (the fast, common case); otherwise events are
//   found by a small scanner (braces, brackets and strings) and each is parsed with simdjson On
//   Demand. How the input is chunked never changes the outcome. A row is one measurement: an
//   event in the multi-measurement form is as many rows as it has `metric_name:` keys (plus
//   one if it also has `metric_name`).
// - Resynchronisation after bad JSON: an event whose braces balance but which does not parse
//   counts as one bad_syntax and reading goes on right after it; anything else that cannot
//   start an event (stray text, a line break inside a string) skips the rest of its line. A
//   `{` in the first column of a line always starts a new event, so a truncated line costs
//   only itself; pretty-printed input must therefore indent nested objects (as every printer
//   does).
// - `time` and the values are JSON numbers or numeric strings ("1700000010.5", io::parse_number's
//   grammar: no spaces, no '+'); `time` may also be an ISO 8601 string with a zone (I1.1). An
//   empty string or null counts as missing. "NaN"/"inf" strings are rejected as non_finite
//   (D1.2). A time of 1e11 or more is refused as time_out_of_range naming the likely unit,
//   unless `reader_options::epoch_unit` says what it is (I1.4).
// - Dimensions come from `fields` only (never the top-level `host`). A number or boolean
//   dimension counts as its JSON text (`"direction": 1` → "1"); null, objects and arrays as
//   absent. `direction` falls back to `network.io.direction` (I1.6);
//   `reader_options::default_cluster` and `default_node` fill an absent `k8s.cluster.name` and
//   `k8s.node.name`. `k8s.namespace.name` and `k8s.pod.uid` are carried (I3.3).
// - Only what is read is validated: simdjson On Demand skips the values we do not need after a
//   structural check, so garbage inside, say, an ignored `event` object may go unseen.
#pragma once

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include <k8snetio/io/error.hpp>
#include <k8snetio/io/input/detail/json_input.hpp>
#include <k8snetio/io/input/read_report.hpp>
#include <k8snetio/io/input/reader_options.hpp>
#include <k8snetio/io/number.hpp>
#include <k8snetio/model/metric_point.hpp>

namespace k8snetio::io {

/// Reads Splunk HEC metric events into metric points (spec I2).
///
///     hec_reader reader(options);
///     reader.start_file("events.json");
///     for (auto chunk : chunks) if (auto r = reader.feed(chunk, sink); !r) return r;
///     if (auto r = reader.finish(sink); !r) return r;
///
/// The points handed to the sink borrow their strings from the reader's buffers: they are valid
/// only during the call. Line numbers in the report are those where an event starts; an event
/// still open at finish() counts as bad_syntax. Under
/// `reader_options::strict` the first error-kind skip (io::is_error) ends the read with
/// error_code::bad_row; the reader then refuses further input until start_file().
class hec_reader : public detail::json_reader<hec_reader> {
 public:
  explicit hec_reader(reader_options options = {}) : json_reader(std::move(options)) {
    limit_event_bytes(default_max_event_bytes);
  }
  /// As metrics_csv_reader: the first input's name, then the options.
  explicit hec_reader(std::string file, reader_options options = {})
      : json_reader(std::move(options)) {
    limit_event_bytes(default_max_event_bytes);
    start_file(file);
  }

  /// An event longer than this is skipped as bad_syntax without being held in memory.
  static constexpr std::size_t default_max_event_bytes = std::size_t{16} << 20;
  void limit_event_bytes(std::size_t n) noexcept {
    max_event_bytes_ = detail::byte_limit(n);
    buffer_.limit_growth(detail::buffer_growth_limit(max_event_bytes_));
  }
  /// Bytes the reader's event buffer has allocated.
  std::size_t buffered_capacity() const noexcept { return buffer_.allocated(); }

  /// Splunk HEC's rule for one request (service.md L3, issue 28 #19/#27): the first event that
  /// is refused (bad JSON, a field or dimension missing, a bad or non-finite number; not an event
  /// of another metric, which is only ignored) ends the read: the events before it are read, it
  /// is counted with its reason, the events after it are not read at all. Off by default (a
  /// file is read whole).
  void stop_at_bad_event(bool on) noexcept { stop_at_bad_event_ = on; }
  /// The 0-based index of the event that ended the read under stop_at_bad_event(), counting
  /// events (several may share a line, one may span lines) of the input (kept after finish(),
  /// until the next input's first feed()).
  std::optional<std::uint64_t> bad_event() const noexcept { return bad_event_; }
  /// Events concluded (read or refused) in the input.
  std::uint64_t events() const noexcept { return events_; }

 private:
  using error_code_t = simdjson::error_code;
  using value_t = simdjson::ondemand::value;
  using object_t = simdjson::ondemand::object;
  using sink_ref = detail::sink_ref;
  using number_status = detail::number_status;
  enum class scan_state : std::uint8_t { between_events, in_event, rest_of_line };

  struct measurement {
    std::string_view field;  // "_value" or "metric_name:<name>", for the report
    std::string_view name;
    number_status status = number_status::absent;
    double value = 0;
  };

  // ---- input buffering and event boundaries ----------------------------------------------

  friend class detail::json_reader<hec_reader>;

  result<void> feed_chunk(std::string_view chunk, sink_ref sink) {
    if (new_input_) {
      events_ = 0;
      bad_event_.reset();
      new_input_ = false;
    }
    return detail::feed_in_slices(buffer_, chunk, [&] { return drain(sink, false); });
  }

  void reset_stream() noexcept {
    buffer_.clear();
    pos_ = event_start_ = 0;
    line_ = 1;
    state_ = scan_state::between_events;
    at_file_start_ = blank_so_far_ = true;
    newline_free_to_ = 0;
    new_input_ = true;  // the event count restarts with the next input, kept until then
  }

  result<void> drain(sink_ref sink, bool at_end) {
    result<void> outcome;
    const char* text = buffer_.data();
    bool wait_for_more = false;
    while (outcome && pos_ < buffer_.size() && !wait_for_more && !bad_event_) {
      switch (state_) {
        case scan_state::between_events: {
          char c = text[pos_];
          if (c == '\n') {
            ++line_;
            ++pos_;
            blank_so_far_ = true;
          } else if (c == ' ' || c == '\t' || c == '\r') {
            ++pos_;
          } else if (c == '{') {
            auto line_start = std::exchange(blank_so_far_, false);
            auto tried = line_start ? try_whole_line(sink, at_end) : attempt::not_applicable;
            if (!tried) {
              outcome = tl::unexpected(tried.error());
            } else if (*tried == attempt::wait) {
              blank_so_far_ = true;
              wait_for_more = true;
              break;
            } else if (*tried == attempt::not_applicable) {
              if (auto r = try_single_line_event(sink); !r)
                outcome = tl::unexpected(r.error());
              else if (!*r)
                start_event();
            }
          } else if (at_file_start_ && c == '\xEF') {  // a UTF-8 byte order mark?
            auto n = std::min<std::size_t>(3, buffer_.size() - pos_);
            if (n < 3 && !at_end) {
              wait_for_more = true;
              break;
            }
            if (std::memcmp(text + pos_, "\xEF\xBB\xBF", n) == 0)
              pos_ += n;
            else
              outcome = stray_text();
          } else {
            blank_so_far_ = false;
            outcome = stray_text();
          }
          at_file_start_ = false;
          break;
        }
        case scan_state::rest_of_line: {
          auto* nl =
              static_cast<const char*>(std::memchr(text + pos_, '\n', buffer_.size() - pos_));
          if (!nl) {
            pos_ = buffer_.size();
          } else {
            pos_ = static_cast<std::size_t>(nl - text) + 1;
            ++line_;
            state_ = scan_state::between_events;
            blank_so_far_ = true;
          }
          break;
        }
        case scan_state::in_event: outcome = scan_event(sink); break;
      }
    }
    // An over-long event is still scanned to its end (so that chunking changes nothing) but no
    // longer kept.
    if (state_ == scan_state::in_event && pos_ - event_start_ > max_event_bytes_) oversized_ = true;
    if (outcome && at_end && state_ == scan_state::in_event && !bad_event_) {
      outcome = concluded(skip_row(event_line_, skip_reason::bad_syntax, "unterminated event"));
      state_ = scan_state::between_events;
    }
    if (bad_event_) {  // HEC: nothing after the refused event is read
      state_ = scan_state::between_events;
      pos_ = buffer_.size();
    }
    if (!outcome) {  // strict mode ended the read: nothing more to keep
      buffer_.clear();
      pos_ = event_start_ = newline_free_to_ = 0;
      return outcome;
    }
    auto keep_from = state_ == scan_state::in_event && !oversized_ ? event_start_ : pos_;
    buffer_.discard_front(keep_from);
    pos_ -= keep_from;
    event_start_ -= std::min(event_start_, keep_from);
    newline_free_to_ -= std::min(newline_free_to_, keep_from);
    return outcome;
  }

  void start_event() noexcept {
    state_ = scan_state::in_event;
    event_start_ = pos_++;
    event_line_ = line_;
    depth_ = 1;
    in_string_ = escaped_ = at_line_start_ = oversized_ = false;
  }

  result<void> stray_text() {
    state_ = scan_state::rest_of_line;
    return concluded(skip_row(line_, skip_reason::bad_syntax, "expected '{' to start an event"));
  }

  /// One more event has ended (read or refused).
  result<void> concluded(result<void> r) noexcept {
    ++events_;
    return r;
  }

  // Advances through an event until it closes (then parses it) or the data ends.
  result<void> scan_event(sink_ref sink) {
    const char* text = buffer_.data();
    while (pos_ < buffer_.size() && !bad_event_) {
      char c = text[pos_];
      if (in_string_) {
        if (escaped_) {
          escaped_ = false;
        } else if (c == '\\') {
          escaped_ = true;
        } else if (c == '"') {
          in_string_ = false;
        }
        if (c == '\n') {  // JSON strings hold no raw line break: the event is broken
          ++pos_;
          ++line_;
          state_ = scan_state::between_events;
          blank_so_far_ = true;
          return concluded(
              skip_row(event_line_, skip_reason::bad_syntax, "line break inside a string"));
        }
        ++pos_;
        continue;
      }
      switch (c) {
        case '"': in_string_ = true; break;
        case '[': ++depth_; break;
        case '{':
          if (at_line_start_) {  // the previous event was cut short
            auto r =
                concluded(skip_row(event_line_, skip_reason::bad_syntax, "unterminated event"));
            start_event();
            if (!r) return r;
            continue;
          }
          ++depth_;
          break;
        case '}':
        case ']':
          if (--depth_ == 0) {
            state_ = scan_state::between_events;
            ++pos_;
            if (oversized_ || pos_ - event_start_ > max_event_bytes_)
              return concluded(skip_row(event_line_, skip_reason::bad_syntax,
                                        detail::too_long("event", max_event_bytes_)));
            return concluded(handle_event(event_start_, pos_ - event_start_, event_line_, sink));
          }
          break;
        case '\n':
          ++line_;
          ++pos_;
          at_line_start_ = true;
          continue;
        default: break;
      }
      at_line_start_ = false;
      ++pos_;
    }
    return {};
  }

  // ---- one event -------------------------------------------------------------------------

  enum class attempt : std::uint8_t { done, not_applicable, wait };

  // The common case, one event per line: when the line that starts with this `{` parses as
  // one object, that object is the event, without scanning its bytes first. The line must be
  // complete, so this waits for its end (or the end of the input); a line longer than
  // max_event_bytes_, or not ending in `}`, or not parsing, goes to the scanner instead. The
  // choice depends on the line alone, never on how the input was chunked. (simdjson On Demand
  // is lenient with some malformed objects that the scanner would split elsewhere; such a line
  // is then one malformed event either way.)
  result<attempt> try_whole_line(sink_ref sink, bool at_end) {
    const char* text = buffer_.data();
    auto from = std::max(pos_, newline_free_to_);
    auto* nl = static_cast<const char*>(std::memchr(text + from, '\n', buffer_.size() - from));
    std::size_t end = buffer_.size();
    if (nl) {
      end = static_cast<std::size_t>(nl - text);
    } else {
      newline_free_to_ = buffer_.size();
      if (!at_end)
        return buffer_.size() - pos_ > max_event_bytes_ ? attempt::not_applicable : attempt::wait;
    }
    while (end > pos_ && (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\r'))
      --end;
    if (text[end - 1] != '}' || end - pos_ > max_event_bytes_) return attempt::not_applicable;
    if (parse_event(text + pos_, end - pos_, buffer_.capacity_from(pos_)))
      return attempt::not_applicable;
    auto line = line_;
    pos_ = end;
    if (auto r = concluded(emit_event(line, sink)); !r) return tl::unexpected(r.error());
    return attempt::done;
  }

  // Otherwise, an event that closes before the end of its line, found word by word
  // rather than by the byte-by-byte scanner. It applies the scanner's rules (strings with their
  // escapes, brackets of both kinds), so the boundary is the one the scanner would find; a line
  // break or the end of the data first hands over to the scanner (false), which knows what to
  // do about those.
  result<bool> try_single_line_event(sink_ref sink) {
    auto length = single_line_event_length(buffer_.data() + pos_, buffer_.size() - pos_);
    if (length == 0) return false;
    auto start = pos_, line = line_;
    pos_ += length;
    auto r =
        concluded(length > max_event_bytes_ ? skip_row(line, skip_reason::bad_syntax,
                                                       detail::too_long("event", max_event_bytes_))
                                            : handle_event(start, length, line, sink));
    if (!r) return tl::unexpected(r.error());
    return true;
  }

  /// The length of the object starting at text[0] == '{' if it closes before any line break
  /// and before `n`, else 0.
  static std::size_t single_line_event_length(const char* text, std::size_t n) noexcept {
    std::size_t depth = 0, i = 0;
    bool in_string = false;
    while (i < n) {
      i = in_string ? next_in_string(text, i, n) : next_outside_string(text, i, n);
      if (i >= n) return 0;
      char c = text[i];
      if (c == '\n') return 0;
      if (in_string) {
        if (c == '\\') {
          if (i + 1 < n && text[i + 1] == '\n') return 0;
          i += 2;  // whatever else is escaped, it does not end the string
          continue;
        }
        in_string = false;  // the closing quote
      } else if (c == '"') {
        in_string = true;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (--depth == 0) {
        return i + 1;
      }
      ++i;
    }
    return 0;
  }

  // SWAR: eight bytes at a time, the first byte of interest from `i` on (or n).
  static constexpr std::uint64_t every_byte(unsigned char c) noexcept {
    return 0x0101010101010101ull * c;
  }
  static std::uint64_t bytes_equal(std::uint64_t word, unsigned char c) noexcept {
    auto x = word ^ every_byte(c);  // the lowest set high bit marks the first match exactly
    return (x - every_byte(1)) & ~x & every_byte(0x80);
  }
  static std::size_t first_match(std::size_t i, std::uint64_t mask) noexcept {
    return i + static_cast<std::size_t>(std::countr_zero(mask)) / 8;
  }
  static std::size_t next_in_string(const char* text, std::size_t i, std::size_t n) noexcept {
    if constexpr (std::endian::native == std::endian::little) {
      for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, text + i, 8);
        if (auto m = bytes_equal(w, '"') | bytes_equal(w, '\\') | bytes_equal(w, '\n'))
          return first_match(i, m);
      }
    }
    for (; i < n; ++i)
      if (text[i] == '"' || text[i] == '\\' || text[i] == '\n') return i;
    return n;
  }
  static std::size_t next_outside_string(const char* text, std::size_t i, std::size_t n) noexcept {
    if constexpr (std::endian::native == std::endian::little) {
      for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, text + i, 8);
        auto folded = w | every_byte(0x20);  // '[' -> '{', ']' -> '}', nothing else
        if (auto m = bytes_equal(w, '"') | bytes_equal(folded, '{') | bytes_equal(folded, '}') |
                     bytes_equal(w, '\n'))
          return first_match(i, m);
      }
    }
    for (; i < n; ++i) {
      char c = text[i];
      if (c == '"' || c == '{' || c == '}' || c == '[' || c == ']' || c == '\n') return i;
    }
    return n;
  }

  result<void> handle_event(std::size_t offset, std::size_t length, std::uint64_t line,
                            sink_ref sink) {
    auto capacity = buffer_.capacity_from(offset);  // >= length + SIMDJSON_PADDING
    if (auto e = parse_event(buffer_.data() + offset, length, capacity))
      return skip_row(line, skip_reason::bad_syntax,
                      fmt::format("{}: {}", failed_at_, simdjson::error_message(e)));
    return emit_event(line, sink);
  }

  result<void> emit_event(std::uint64_t line, sink_ref sink) {
    if (!has_fields_) return skip_row(line, skip_reason::missing_field, "fields");
    if (measurements_.empty()) return skip_row(line, skip_reason::missing_field, "metric_name");
    metric_point p;
    if (stop_at_bad_event_) {
      // HEC: an event is taken whole or refused whole, so its measurements are checked first.
      for (const auto& m : measurements_)
        if (auto refused = point_of(m, p); refused && refused->reason != skip_reason::other_metric)
          return refuse(*refused, line);
    }
    for (const auto& m : measurements_) {
      if (auto refused = point_of(m, p)) {
        if (auto r = refuse(*refused, line); !r) return r;
        continue;
      }
      ++input_.report().rows_read;
      ++input_.report().points;
      sink.call(sink.object, p);
    }
    return {};
  }

  struct refusal {
    skip_reason reason;
    std::string_view detail;
    bool time_range = false;  // the detail is formatted when the refusal is counted
  };

  result<void> refuse(const refusal& r, std::uint64_t line) {
    if (r.time_range) return skip_row(line, r.reason, time_out_of_range_detail());
    return skip_row(line, r.reason, r.detail);
  }

  /// The point of one measurement of the event just parsed, or why there is none.
  std::optional<refusal> point_of(const measurement& m, metric_point& p) const {
    if (m.name != input_.options().metric_name) return refusal{skip_reason::other_metric, m.name};
    if (time_status_ == number_status::absent) return refusal{skip_reason::missing_field, "time"};
    if (time_status_ == number_status::bad) return refusal{skip_reason::bad_number, "time"};
    if (time_status_ == number_status::non_finite) return refusal{skip_reason::non_finite, "time"};
    double time = 0;
    if (epoch_seconds(time_, input_.options().epoch_unit, time) != time_status::ok)
      return refusal{skip_reason::time_out_of_range, {}, true};
    if (m.status == number_status::absent) return refusal{skip_reason::missing_field, m.field};
    if (m.status == number_status::bad) return refusal{skip_reason::bad_number, m.field};
    if (m.status == number_status::non_finite) return refusal{skip_reason::non_finite, m.field};
    p = metric_point{};
    p.time = time;
    p.value = m.value;
    p.metric_name = input_.options().metric_name;
    p.cluster = cluster_.empty() ? std::string_view(input_.options().default_cluster) : cluster_;
    p.pod = pod_;
    p.node = node_.empty() ? std::string_view(input_.options().default_node) : node_;
    p.direction = direction_.empty() ? newer_direction_ : direction_;
    p.namespace_name = namespace_;
    p.pod_uid = pod_uid_;
    if (p.cluster.empty()) return refusal{skip_reason::missing_dimension, "k8s.cluster.name"};
    if (p.pod.empty()) return refusal{skip_reason::missing_dimension, "k8s.pod.name"};
    if (p.node.empty()) return refusal{skip_reason::missing_dimension, "k8s.node.name"};
    if (p.direction.empty()) return refusal{skip_reason::missing_dimension, "direction"};
    return std::nullopt;
  }

  // Cold: formatted only for the rows refused this way.
  std::string time_out_of_range_detail() const {
    const auto unit = input_.options().epoch_unit;
    if (const auto likely = likely_time_unit(time_); likely && unit == time_unit::seconds)
      return fmt::format("time={}: looks like epoch {}; set reader_options::epoch_unit to {}",
                         time_, unit_word(*likely), to_string(*likely));
    return fmt::format("time={}: not an epoch time in {}", time_, unit_word(unit));
  }

  result<void> skip_row(std::uint64_t line, skip_reason reason, std::string_view detail) {
    auto r = input_.skip_row(line, reason, detail);
    if (stop_at_bad_event_ && reason != skip_reason::other_metric && !bad_event_)
      bad_event_ = events_;
    if (!r) state_ = scan_state::between_events;  // strict mode ended the read
    return r;
  }

  error_code_t failed(error_code_t e, const char* where) noexcept {
    failed_at_ = where;
    return e;
  }

  error_code_t parse_event(const char* text, std::size_t length, std::size_t capacity) {
    time_status_ = number_status::absent;
    has_fields_ = false;
    measurements_.clear();
    clear_dimensions();
    simdjson::ondemand::document doc;
    if (auto e = parser_.iterate(text, length, capacity).get(doc)) return failed(e, "event");
    object_t root;
    if (auto e = doc.get_object().get(root)) return failed(e, "event");
    for (auto item : root) {
      simdjson::ondemand::field f;
      if (auto e = std::move(item).get(f)) return failed(e, "event");
      std::string_view key;
      if (auto e = f.unescaped_key().get(key)) return failed(e, "event");
      if (key == "time") {
        time_status_ = read_time_value(f.value(), time_);
      } else if (key == "fields") {
        if (auto e = read_fields(f.value())) return e;
      }
    }
    const char* rest = nullptr;  // simdjson 3.0 has no document::at_end()
    if (doc.current_location().get(rest) == simdjson::SUCCESS)
      return failed(simdjson::TRAILING_CONTENT, "event");
    return simdjson::SUCCESS;
  }

  error_code_t read_fields(value_t& v) {
    object_t fields;
    auto e = v.get_object().get(fields);
    if (e == simdjson::INCORRECT_TYPE) return simdjson::SUCCESS;  // not an object: no fields
    if (e) return failed(e, "fields");
    has_fields_ = true;
    measurements_.clear();  // a repeated `fields` replaces the earlier one
    clear_dimensions();
    std::optional<measurement> single;
    constexpr std::string_view multi_prefix = "metric_name:";
    for (auto item : fields) {
      simdjson::ondemand::field f;
      if ((e = std::move(item).get(f))) return failed(e, "fields");
      std::string_view key;
      if ((e = f.unescaped_key().get(key))) return failed(e, "fields");
      auto& value = f.value();
      if (key == "metric_name") {
        if (!single) single = measurement{"_value", {}, number_status::absent, 0};
        if ((e = read_text(value, single->name))) return e;
      } else if (key == "_value") {
        if (!single) single = measurement{"_value", {}, number_status::absent, 0};
        single->status = read_number(value, single->value);
      } else if (key.substr(0, multi_prefix.size()) == multi_prefix) {
        measurement m{key, key.substr(multi_prefix.size()), number_status::absent, 0};
        m.status = read_number(value, m.value);
        measurements_.push_back(m);
      } else if (key == "k8s.cluster.name") {
        if ((e = read_text(value, cluster_))) return e;
      } else if (key == "k8s.pod.name") {
        if ((e = read_text(value, pod_))) return e;
      } else if (key == "k8s.node.name") {
        if ((e = read_text(value, node_))) return e;
      } else if (key == "direction") {
        if ((e = read_text(value, direction_))) return e;
      } else if (key == "network.io.direction") {
        if ((e = read_text(value, newer_direction_))) return e;
      } else if (key == "k8s.namespace.name") {
        if ((e = read_text(value, namespace_))) return e;
      } else if (key == "k8s.pod.uid") {
        if ((e = read_text(value, pod_uid_))) return e;
      }
    }
    // `_value` without `metric_name` is a measurement of no metric: "metric_name" is missing.
    if (single && single->name.empty() && measurements_.empty()) return simdjson::SUCCESS;
    if (single && !single->name.empty()) measurements_.insert(measurements_.begin(), *single);
    return simdjson::SUCCESS;
  }

  error_code_t read_text(value_t& v, std::string_view& out) {
    out = {};
    simdjson::ondemand::json_type type;
    if (auto e = v.type().get(type)) return failed(e, "fields");
    switch (type) {
      case simdjson::ondemand::json_type::string:
        if (auto e = v.get_string().get(out)) return failed(e, "fields");
        break;
      case simdjson::ondemand::json_type::number:
      case simdjson::ondemand::json_type::boolean:
        out = detail::trim_right(v.raw_json_token());
        break;
      default: break;  // null, object, array: absent
    }
    return simdjson::SUCCESS;
  }

  void clear_dimensions() noexcept {
    cluster_ = pod_ = node_ = direction_ = newer_direction_ = namespace_ = pod_uid_ = {};
  }

  /// A value: a JSON number, or a string in io::parse_number's grammar.
  static number_status read_number(value_t& v, double& out) {
    std::string_view s;
    switch (read_number_or_string(v, out, s)) {
      case number_status::ok: break;
      case number_status::absent: return s.empty() ? number_status::absent : string_number(s, out);
      default: return number_status::bad;
    }
    return std::isfinite(out) ? number_status::ok : number_status::non_finite;
  }

  /// `time`: a JSON number, a numeric string, or an ISO 8601 string with a zone (I1.1), as
  /// read (the unit is applied later, I1.4).
  static number_status read_time_value(value_t& v, double& out) {
    std::string_view s;
    switch (read_number_or_string(v, out, s)) {
      case number_status::ok:
        return std::isfinite(out) ? number_status::ok : number_status::non_finite;
      case number_status::absent: break;
      default: return number_status::bad;
    }
    if (s.empty()) return number_status::absent;
    if (s.size() >= 20 && s[4] == '-')
      return parse_iso8601(s, out) ? number_status::ok : number_status::bad;
    return string_number(s, out);
  }

  /// ok with `out` for a JSON number; absent with `text` for a string ("" and null: absent).
  static number_status read_number_or_string(value_t& v, double& out, std::string_view& text) {
    text = {};
    simdjson::ondemand::json_type type;
    if (v.type().get(type)) return number_status::bad;
    switch (type) {
      case simdjson::ondemand::json_type::number:
        return v.get_double().get(out) ? number_status::bad : number_status::ok;
      case simdjson::ondemand::json_type::null: return number_status::absent;
      case simdjson::ondemand::json_type::string:
        return v.get_string().get(text) ? number_status::bad : number_status::absent;
      default: return number_status::bad;
    }
  }

  static number_status string_number(std::string_view s, double& out) {
    if (io::parse_number(s, out) != io::number_status::ok) return number_status::bad;
    return std::isfinite(out) ? number_status::ok : number_status::non_finite;
  }

  detail::padded_buffer buffer_;
  std::size_t pos_ = 0;     // next byte to scan
  std::uint64_t line_ = 1;  // the line of buffer_[pos_]
  scan_state state_ = scan_state::between_events;
  std::size_t event_start_ = 0;
  std::uint64_t event_line_ = 0;
  std::size_t depth_ = 0;
  bool in_string_ = false, escaped_ = false, at_line_start_ = false, at_file_start_ = true;
  bool oversized_ = false;           // the open event passed max_event_bytes_: scanned, not kept
  bool blank_so_far_ = true;         // only blanks precede pos_ on its line
  std::size_t newline_free_to_ = 0;  // [pos_, newline_free_to_) holds no line break
  std::size_t max_event_bytes_ = default_max_event_bytes;
  std::uint64_t events_ = 0;  // events concluded in this input (kept after finish())
  bool new_input_ = true;
  bool stop_at_bad_event_ = false;          // HEC's rule for one request
  std::optional<std::uint64_t> bad_event_;  // the event that ended the read

  simdjson::ondemand::parser parser_;
  const char* failed_at_ = "";
  number_status time_status_ = number_status::absent;
  double time_ = 0;
  bool has_fields_ = false;
  std::vector<measurement> measurements_;
  std::string_view cluster_, pod_, node_, direction_, newer_direction_, namespace_, pod_uid_;
};

}  // namespace k8snetio::io
