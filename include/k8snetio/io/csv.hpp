// RFC 4180 CSV for every CSV reader (spec I1, I4): records of a buffer, fields as views into
// the input, unescaped into a reused scratch buffer only when they hold doubled quotes; a
// stream that carries a record split across chunks (even a quoted field with newlines) forward
// and drops a UTF-8 byte order mark before the first record (I1.3); and the one header finder:
// the header is the first non-blank record.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include <k8snetio/io/number.hpp>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace k8snetio::io {

/// Whether a record is well formed. Stable names: the readers report them as "bad syntax".
enum class csv_syntax : std::uint8_t {
  ok,
  stray_quote,         ///< a quote inside an unquoted field, or text after a closing quote
  unterminated_quote,  ///< the input ended inside a quoted field
  record_too_long,     ///< longer than the limit: most likely an opening quote never closed
};

constexpr std::string_view to_string(csv_syntax s) noexcept {
  switch (s) {
    case csv_syntax::ok: return "well formed";
    case csv_syntax::stray_quote: return "stray quote";
    case csv_syntax::unterminated_quote: return "unterminated quoted field";
    case csv_syntax::record_too_long: return "record too long (unclosed quote?)";
  }
  return "unknown";
}

/// One record. The views live until the next record is parsed.
struct csv_record {
  std::span<const std::string_view> fields;  ///< empty when syntax is unterminated/too long
  std::uint64_t line = 0;                    ///< 1-based line where the record starts
  csv_syntax syntax = csv_syntax::ok;
  bool blank = false;  ///< an empty line (one empty unquoted field)
};

/// A record longer than this is reported as record_too_long and reading resumes at the next
/// line, so a stray quote in a 50 GB file costs one row, not all the memory.
inline constexpr std::size_t default_max_csv_record_bytes = std::size_t{1} << 20;

namespace detail {

/// The first ',', '"' or '\n' in [p, e), or e. 16 bytes per step where SSE2 exists.
inline const char* find_csv_structural(const char* p, const char* e) noexcept {
#if defined(__SSE2__)
  const __m128i comma = _mm_set1_epi8(',');
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i newline = _mm_set1_epi8('\n');
  for (; e - p >= 16; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i hit =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, quote)),
                     _mm_cmpeq_epi8(v, newline));
    if (const auto mask = static_cast<unsigned>(_mm_movemask_epi8(hit)))
      return p + std::countr_zero(mask);
  }
#endif
  for (; p < e; ++p)
    if (*p == ',' || *p == '"' || *p == '\n') return p;
  return e;
}

/// The number of '\n' in `text` if it is nothing but blank lines ("\n" and "\r\n"), else -1.
/// At memory speed: a gzip of newlines must not cost a parse per line. A '\r' not followed by
/// '\n' is a line's content ("\r\r\n" is a row of one field, as the tokenizer reads it), so
/// it makes the answer -1.
inline std::int64_t count_if_only_line_ends(std::string_view text) noexcept {
  const char* p = text.data();
  const char* const e = p + text.size();
  std::int64_t newlines = 0;
#if defined(__SSE2__)
  const __m128i newline = _mm_set1_epi8('\n');
  const __m128i carriage_return = _mm_set1_epi8('\r');
  for (; e - p >= 16; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const auto nl = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, newline)));
    const auto cr = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, carriage_return)));
    if ((nl | cr) != 0xFFFFu) return -1;
    if (((cr << 1) & ~nl & 0xFFFFu) != 0) return -1;  // a '\r' whose next byte is not '\n'
    if ((cr & 0x8000u) != 0 && (e - p == 16 || p[16] != '\n')) return -1;
    newlines += std::popcount(nl);
  }
#endif
  for (; p < e; ++p) {
    if (*p == '\n')
      ++newlines;
    else if (*p != '\r' || p + 1 == e || p[1] != '\n')
      return -1;
  }
  return newlines;
}

/// Whether a cell must be quoted in RFC 4180 CSV.
inline bool csv_needs_quotes(std::string_view cell) noexcept {
  return cell.find_first_of(",\"\r\n") != std::string_view::npos;
}

/// Appends `cell` as one CSV field, quoted (with doubled quotes) only when it has to be.
inline void append_csv_field(std::string& out, std::string_view cell) {
  if (!csv_needs_quotes(cell)) {
    out += cell;
    return;
  }
  out += '"';
  for (char ch : cell) {
    if (ch == '"') out += '"';
    out += ch;
  }
  out += '"';
}

}  // namespace detail

/// Parses one record at a time from the start of a buffer. Line ends are "\n" or "\r\n"
/// (a lone '\r' is data). Allocates only to grow its reused field list and scratch buffer.
class csv_tokenizer {
 public:
  enum class status : std::uint8_t {
    record,              ///< a record: see record() and consumed()
    need_more,           ///< the buffer ends inside a record; call again with more input
    end,                 ///< at_end and the buffer is empty
    unterminated_quote,  ///< at_end inside a quoted field (the record starts at line())
    too_long,            ///< no record end within max_record_bytes (starts at line())
  };

  explicit csv_tokenizer(std::size_t max_record_bytes = default_max_csv_record_bytes)
      : max_record_bytes_(std::max<std::size_t>(max_record_bytes, 1)) {}

  /// Parse the record at the start of `input`. `at_end`: no input follows this buffer, so a
  /// last record without a line end is complete. Results of the same input are the same
  /// however it was split, which csv_record_stream relies on.
  status parse(std::string_view input, bool at_end);

  /// The record of the last status::record (fields valid until the next parse).
  csv_record record() const noexcept {
    return {std::span<const std::string_view>(fields_.data(), field_count_), record_line_, syntax_,
            blank_};
  }
  /// Bytes of the input the last record took, its line end included.
  std::size_t consumed() const noexcept { return consumed_; }
  /// The line where the next record starts (or where the failed one started).
  std::uint64_t line() const noexcept { return next_line_; }
  void set_line(std::uint64_t line) noexcept { next_line_ = line; }
  std::size_t max_record_bytes() const noexcept { return max_record_bytes_; }

 private:
  void push(std::string_view field) {
    // fields_ only grows; field_count_ says how much of it this record uses.
    if (field_count_ == fields_.size())
      fields_.resize(std::max<std::size_t>(16, 2 * fields_.size()));
    fields_[field_count_++] = field;
  }
  void push(std::string_view field, bool doubled_quotes) {
    if (doubled_quotes) escaped_.push_back(field_count_);
    push(field);
  }
  status complete(std::size_t consumed, std::uint64_t inner_newlines);
  status parse_plain(const char* b, const char* e);
  status parse_general(const char* b, const char* e, bool at_end, status incomplete);

  std::vector<std::string_view> fields_;
  std::size_t field_count_ = 0;
  std::vector<std::size_t> escaped_;  ///< indices of fields holding doubled quotes
  std::string scratch_;
  std::size_t max_record_bytes_;
  std::size_t consumed_ = 0;
  std::uint64_t record_line_ = 0;
  std::uint64_t next_line_ = 1;
  csv_syntax syntax_ = csv_syntax::ok;
  bool blank_ = false;
};

inline csv_tokenizer::status csv_tokenizer::complete(std::size_t consumed,
                                                     std::uint64_t inner_newlines) {
  if (!escaped_.empty()) {
    // Unescape after the record is whole, so the scratch buffer never moves under a view.
    std::size_t total = 0;
    for (auto i : escaped_) total += fields_[i].size();
    if (scratch_.size() < total) scratch_.resize(total);
    char* out = scratch_.data();
    for (auto i : escaped_) {
      const std::string_view raw = fields_[i];
      char* const begin = out;
      for (std::size_t k = 0; k < raw.size(); ++k) {
        *out++ = raw[k];
        if (raw[k] == '"') ++k;  // the pair's second quote
      }
      fields_[i] = std::string_view(begin, static_cast<std::size_t>(out - begin));
    }
  }
  consumed_ = consumed;
  record_line_ = next_line_;
  next_line_ += 1 + inner_newlines;
  return status::record;
}

inline csv_tokenizer::status csv_tokenizer::parse(std::string_view input, bool at_end) {
  field_count_ = 0;
  escaped_.clear();
  syntax_ = csv_syntax::ok;
  blank_ = false;
  // Look no further than the limit: a record that does not end within it is too long,
  // whether the input came whole or in chunks.
  const bool truncated = input.size() > max_record_bytes_;
  if (truncated) {
    input = input.substr(0, max_record_bytes_);
    at_end = false;
  }
  const char* const b = input.data();
  const char* const e = b + input.size();
  if (b == e) return at_end ? status::end : status::need_more;
  if (const status st = parse_plain(b, e); st == status::record) [[likely]]
    return st;
  return parse_general(b, e, at_end, truncated ? status::too_long : status::need_more);
}

/// The common case, fast: a record without quotes that ends in a '\n' at least 32 bytes
/// before the end of the buffer. Its structural characters come 32 at a time as bit masks.
/// Anything else answers need_more, and parse_general takes the record from its start.
inline csv_tokenizer::status csv_tokenizer::parse_plain(const char* b, const char* e) {
#if defined(__SSE2__)
  const __m128i comma = _mm_set1_epi8(',');
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i newline = _mm_set1_epi8('\n');
  const auto mask_of = [](__m128i low, __m128i high, __m128i c) {
    return static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(low, c))) |
           static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(high, c))) << 16;
  };
  const char* field_start = b;
  for (const char* block = b; e - block >= 32; block += 32) {
#if defined(__GNUC__)
    // The input streams from memory (a mapped file, a read buffer): the hardware prefetcher
    // stops at page ends, so ask a kilobyte ahead (9 % less CPU for the bare parse of the
    // benchmark's file; fetching past the buffer's end does no harm).
    __builtin_prefetch(block + 1024);
#endif
    const __m128i low = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block));
    const __m128i high = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16));
    const std::uint32_t quotes = mask_of(low, high, quote);
    const std::uint32_t newlines = mask_of(low, high, newline);
    std::uint32_t commas = mask_of(low, high, comma);
    const std::uint32_t in_record = newlines != 0 ? (newlines & (0u - newlines)) - 1 : ~0u;
    if ((quotes & in_record) != 0) [[unlikely]]
      break;  // a quote in this record: the general path handles it
    for (commas &= in_record; commas != 0; commas &= commas - 1) {
      const char* const s = block + std::countr_zero(commas);
      push(std::string_view(field_start, static_cast<std::size_t>(s - field_start)));
      field_start = s + 1;
    }
    if (newlines != 0) {
      const char* const s = block + std::countr_zero(newlines);
      const char* field_end = s;
      if (field_end > field_start && field_end[-1] == '\r') --field_end;
      blank_ = field_count_ == 0 && field_end == b;
      push(std::string_view(field_start, static_cast<std::size_t>(field_end - field_start)));
      return complete(static_cast<std::size_t>(s + 1 - b), 0);
    }
  }
  field_count_ = 0;
#else
  (void)b;
  (void)e;
#endif
  return status::need_more;
}

inline csv_tokenizer::status csv_tokenizer::parse_general(const char* const b, const char* const e,
                                                          bool at_end, const status incomplete) {
  std::uint64_t inner_newlines = 0;
  const char* p = b;
  for (;;) {
    const char* field_start = p;
    const char* scan_from = p;
    if (p < e && *p == '"') {
      const char* q = p + 1;
      bool doubled = false;
      for (;;) {
        q = q < e ? static_cast<const char*>(std::memchr(q, '"', static_cast<std::size_t>(e - q)))
                  : nullptr;
        if (!q) return at_end ? status::unterminated_quote : incomplete;
        if (q + 1 == e) {
          if (!at_end) return incomplete;  // a doubled quote or the closing one?
          break;
        }
        if (q[1] != '"') break;
        doubled = true;
        q += 2;
      }
      const std::string_view content(p + 1, static_cast<std::size_t>(q - p - 1));
      inner_newlines +=
          static_cast<std::uint64_t>(std::count(content.begin(), content.end(), '\n'));
      const char* const after = q + 1;
      if (after == e) {  // closing quote at the end of the input
        push(content, doubled);
        return complete(static_cast<std::size_t>(e - b), inner_newlines);
      }
      if (*after == ',') {
        push(content, doubled);
        p = after + 1;
        continue;
      }
      if (*after == '\n') {
        push(content, doubled);
        return complete(static_cast<std::size_t>(after + 1 - b), inner_newlines);
      }
      if (*after == '\r') {
        if (after + 1 == e) {
          if (!at_end) return incomplete;
          push(content, doubled);
          return complete(static_cast<std::size_t>(e - b), inner_newlines);
        }
        if (after[1] == '\n') {
          push(content, doubled);
          return complete(static_cast<std::size_t>(after + 2 - b), inner_newlines);
        }
      }
      // Text after the closing quote: keep the raw text up to the delimiter, flag the record.
      syntax_ = csv_syntax::stray_quote;
      scan_from = after;
    }
    const char* s = detail::find_csv_structural(scan_from, e);
    while (s < e && *s == '"') {
      syntax_ = csv_syntax::stray_quote;
      s = detail::find_csv_structural(s + 1, e);
    }
    if (s < e && *s == ',') {
      push(std::string_view(field_start, static_cast<std::size_t>(s - field_start)), false);
      p = s + 1;
      continue;
    }
    if (s == e && !at_end) return incomplete;
    // The record ends: at a '\n', or at the end of the input.
    const char* field_end = s;
    if (field_end > field_start && field_end[-1] == '\r') --field_end;
    if (field_count_ == 0 && field_end == field_start && field_start == b) blank_ = true;
    push(std::string_view(field_start, static_cast<std::size_t>(field_end - field_start)), false);
    return complete(static_cast<std::size_t>((s == e ? e : s + 1) - b), inner_newlines);
  }
}

/// The bytes of a UTF-8 byte order mark, as spreadsheets and PowerShell write it (I1.3).
inline constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

/// Whether `record` is the header, given that none was found before it: the header is the
/// first non-blank record (I1, I4). Every CSV reader asks this and nothing else.
constexpr bool is_csv_header(const csv_record& record) noexcept { return !record.blank; }

/// Where a buffer's header is: its record (views into `text` or the tokenizer) and the bytes
/// up to the end of it, a byte order mark included.
struct csv_header_position {
  csv_record record;
  std::size_t end = 0;
};

/// The header of `text` (the start of an input): after a byte order mark, the first non-blank
/// record. nullopt when `text` ends before one is complete (`at_end`: no more input follows)
/// or a malformed record (unterminated, too long) comes first. The record's views live until
/// `tokenizer` parses again.
inline std::optional<csv_header_position> find_csv_header(std::string_view text, bool at_end,
                                                          csv_tokenizer& tokenizer) {
  std::size_t pos = text.starts_with(utf8_bom) ? utf8_bom.size() : 0;
  while (tokenizer.parse(text.substr(pos), at_end) == csv_tokenizer::status::record) {
    pos += tokenizer.consumed();
    const csv_record record = tokenizer.record();
    if (is_csv_header(record)) return csv_header_position{record, pos};
  }
  return std::nullopt;
}

/// What a csv_record_stream hands records to; returning false stops the stream.
template <class F>
concept csv_record_handler = std::is_invocable_r_v<bool, F&, const csv_record&>;

/// Records of an input that arrives in chunks. Records wholly inside a chunk are parsed in
/// place; only a record split across chunks is copied (into `carry_`). A record with a
/// syntax error of its extent (unterminated quote, too long) is reported with empty fields,
/// and reading resumes at the line after the one where it started.
class csv_record_stream {
 public:
  explicit csv_record_stream(std::size_t max_record_bytes = default_max_csv_record_bytes)
      : tokenizer_(max_record_bytes) {}

  /// Hand every record completed by `chunk` to `on_record`. False when the handler stopped.
  template <csv_record_handler Handler>
  bool feed(std::string_view chunk, Handler& on_record);

  /// The input has ended: hand over the last record. False when the handler stopped.
  template <csv_record_handler Handler>
  bool finish(Handler& on_record);

  /// The line where the next record starts.
  std::uint64_t line() const noexcept { return tokenizer_.line(); }
  /// Number the lines from `line` on (a stream that starts mid-input, at a record boundary:
  /// no byte order mark is looked for there).
  void set_line(std::uint64_t line) noexcept {
    tokenizer_.set_line(line);
    bom_seen_ = utf8_bom.size();
  }
  /// Whether everything fed so far ended at a record boundary: no partial record carried and
  /// no bad line being skipped. A stream started there with the same line behaves the same.
  bool at_record_boundary() const noexcept { return carry_.empty() && !skipping_line_; }

 private:
  /// Parse the records of `buffer`; `consumed` gets the bytes used: the rest is an
  /// incomplete record, unless the stream is now skipping to the next line end.
  template <class Handler>
  bool run(std::string_view buffer, bool at_end, Handler& on_record, std::size_t& consumed);

  /// Drops the part of a byte order mark at the start of the input that `chunk` holds.
  void skip_bom(std::string_view& chunk);

  csv_tokenizer tokenizer_;
  std::string carry_;
  bool skipping_line_ = false;  ///< resuming after a bad record: drop bytes up to a '\n'
  std::size_t bom_seen_ = 0;    ///< bytes of the input matched against utf8_bom so far
};

inline void csv_record_stream::skip_bom(std::string_view& chunk) {
  // The input's first bytes may come in several chunks; those that match the mark are
  // held back here (in bom_seen_) until it is whole or one byte differs, then given back.
  while (bom_seen_ < utf8_bom.size() && !chunk.empty()) {
    if (chunk.front() != utf8_bom[bom_seen_]) {
      const std::size_t held = bom_seen_;
      bom_seen_ = utf8_bom.size();
      carry_.assign(utf8_bom.substr(0, held));  // not a mark: the bytes are data after all
      return;
    }
    chunk.remove_prefix(1);
    ++bom_seen_;
  }
}

template <class Handler>
bool csv_record_stream::run(std::string_view buffer, bool at_end, Handler& on_record,
                            std::size_t& consumed) {
  std::size_t pos = 0;
  for (;;) {
    const auto st = tokenizer_.parse(buffer.substr(pos), at_end);
    if (st == csv_tokenizer::status::record) {
      pos += tokenizer_.consumed();
      if (!on_record(tokenizer_.record())) {
        consumed = pos;
        return false;
      }
      continue;
    }
    if (st == csv_tokenizer::status::need_more || st == csv_tokenizer::status::end) {
      consumed = pos;
      return true;
    }
    const std::uint64_t line = tokenizer_.line();
    const csv_record bad{{},
                         line,
                         st == csv_tokenizer::status::too_long ? csv_syntax::record_too_long
                                                               : csv_syntax::unterminated_quote,
                         false};
    tokenizer_.set_line(line + 1);
    const bool go_on = on_record(bad);
    const auto newline = buffer.find('\n', pos);
    if (newline == std::string_view::npos) {
      skipping_line_ = !at_end;
      consumed = buffer.size();
      return go_on;
    }
    pos = newline + 1;
    if (!go_on) {
      consumed = pos;
      return false;
    }
  }
}

template <csv_record_handler Handler>
bool csv_record_stream::feed(std::string_view chunk, Handler& on_record) {
  if (bom_seen_ < utf8_bom.size()) [[unlikely]] {
    skip_bom(chunk);
    if (bom_seen_ < utf8_bom.size()) return true;  // all of it may still be the mark
  }
  std::size_t pos = 0;
  for (;;) {
    if (skipping_line_) {
      const auto newline = chunk.find('\n', pos);
      if (newline == std::string_view::npos) return true;
      pos = newline + 1;
      skipping_line_ = false;
    }
    if (carry_.empty()) break;
    if (pos == chunk.size()) return true;
    // Complete the carried record with bytes of this chunk, taking at least as many as are
    // carried so that re-parsing the carry costs O(record) overall.
    const std::size_t carried = carry_.size();
    const std::size_t take =
        std::min(chunk.size() - pos, std::max<std::size_t>(carried, std::size_t{64} << 10));
    carry_.append(chunk.data() + pos, take);
    pos += take;
    std::size_t used = 0;
    const bool go_on = run(carry_, false, on_record, used);
    if (skipping_line_ || used >= carried) {
      // The carried record is done; what is left of the carry came from this chunk, so go
      // back to parsing the chunk in place.
      if (!skipping_line_) pos -= carry_.size() - used;
      carry_.clear();
    } else {
      carry_.erase(0, used);
    }
    if (!go_on) return false;
  }
  std::size_t used = 0;
  const bool go_on = run(chunk.substr(pos), false, on_record, used);
  if (!skipping_line_) carry_.assign(chunk.substr(pos + used));
  return go_on;
}

template <csv_record_handler Handler>
bool csv_record_stream::finish(Handler& on_record) {
  if (bom_seen_ < utf8_bom.size()) {  // the input ended inside what could have been a mark
    carry_.assign(utf8_bom.substr(0, bom_seen_));
    bom_seen_ = utf8_bom.size();
  }
  std::size_t used = 0;
  const bool go_on = skipping_line_ || run(carry_, true, on_record, used);
  carry_.clear();
  skipping_line_ = false;
  return go_on;
}

}  // namespace k8snetio::io
