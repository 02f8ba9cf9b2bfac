// Where the readers' bytes come from (spec "Inputs"): a file or standard input ("-"), read in
// large chunks and gunzipped on the fly when the content starts with the gzip magic, however
// the file is named; and the input format, recognised from the first bytes or named.
#pragma once

#include <algorithm>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <fmt/format.h>

#include <k8snetio/io/csv.hpp>
#include <k8snetio/io/error.hpp>

namespace k8snetio::io {

// ---- formats -------------------------------------------------------------------------------

enum class input_format {
  metrics_csv,   ///< I1 Splunk metrics_csv
  hec_json,      ///< I2 Splunk HEC metric events
  otlp_json,     ///< I3 OTLP JSON from the collector's file exporter
  baseline_csv,  ///< I4 the baseline lookup table
};

/// The name `--input-format` takes: "csv", "hec", "otlp", "baseline".
constexpr std::string_view to_string(input_format f) noexcept {
  switch (f) {
    case input_format::metrics_csv: return "csv";
    case input_format::hec_json: return "hec";
    case input_format::otlp_json: return "otlp";
    case input_format::baseline_csv: return "baseline";
  }
  return "unknown";
}

/// The format `--input-format NAME` forces; nullopt for a name that is none of them.
constexpr std::optional<input_format> parse_input_format(std::string_view name) noexcept {
  for (auto f : {input_format::metrics_csv, input_format::hec_json, input_format::otlp_json,
                 input_format::baseline_csv})
    if (name == to_string(f)) return f;
  return std::nullopt;
}

/// The format of an input from its first bytes (a chunk's worth is plenty): JSON objects are
/// OTLP when "resourceMetrics" appears in `head`, HEC otherwise; CSV is the baseline table
/// when its header has a `key` column and no `_value`, metrics_csv otherwise.
inline input_format detect_format(std::string_view head) {
  if (head.starts_with("\xEF\xBB\xBF")) head.remove_prefix(3);
  const auto first = head.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && head[first] == '{')
    return head.find("\"resourceMetrics\"") != std::string_view::npos ? input_format::otlp_json
                                                                      : input_format::hec_json;
  // The header is the first non-blank record; a head cut inside it is taken as it is.
  csv_tokenizer tokenizer;
  std::size_t pos = 0;
  while (tokenizer.parse(head.substr(pos), true) == csv_tokenizer::status::record) {
    const csv_record header = tokenizer.record();
    pos += tokenizer.consumed();
    if (header.blank) continue;
    bool key = false;
    bool value = false;
    for (std::string_view name : header.fields) {
      key = key || name == "key";
      value = value || name == "_value";
    }
    return key && !value ? input_format::baseline_csv : input_format::metrics_csv;
  }
  return input_format::metrics_csv;
}

// ---- bytes ---------------------------------------------------------------------------------

/// An open input delivering its (decompressed) bytes chunk by chunk:
///
///     auto in = input_source::open(path);        // "-" is standard input
///     if (!in) return tl::unexpected(in.error());
///     while (true) { auto chunk = in->next(); if (!chunk) …; if (chunk->empty()) break; … }
///
/// Chunks are full (`chunk_bytes`) except the last, so the first one holds enough to detect
/// the format. Progress is in bytes of the file as stored: compressed bytes for a .gz.
class input_source {
 public:
  static constexpr std::size_t default_chunk_bytes = std::size_t{4} << 20;

  static result<input_source> open(std::string path, std::size_t chunk_bytes = default_chunk_bytes);

  /// The next chunk, valid until the next call; empty at the end of the input.
  result<std::string_view> next();

  /// The name for messages: the path, or "<stdin>".
  const std::string& name() const noexcept { return state_->name; }
  /// Bytes read from the file so far (compressed bytes when gzipped).
  std::uint64_t bytes_read() const noexcept { return state_->bytes_read; }
  /// The file's size when it is a regular file (a pipe's is unknown).
  std::optional<std::uint64_t> total_bytes() const noexcept { return state_->total; }
  /// Whether the content is gzip (known after the first next()).
  bool gzipped() const noexcept { return state_->gzipped; }

 private:
  enum class mode : std::uint8_t { unstarted, plain, gzip, done };

  // Behind a pointer: zlib's state points back at its z_stream, so that must never move.
  struct state {
    std::string name;
    int fd = -1;
    bool owns_fd = false;
    std::size_t chunk_bytes = 0;
    std::vector<char> raw;  ///< bytes as read from the file
    std::size_t raw_size = 0;
    std::size_t raw_pos = 0;
    bool eof = false;
    std::vector<char> out;  ///< inflated bytes (gzip only)
    z_stream zs{};
    bool zs_ready = false;
    bool member_open = false;  ///< inside a gzip member: its end not reached yet
    mode current = mode::unstarted;
    bool gzipped = false;
    std::uint64_t bytes_read = 0;
    std::optional<std::uint64_t> total;

    ~state() {
      if (zs_ready) inflateEnd(&zs);
      if (owns_fd && fd >= 0) ::close(fd);
    }
  };

  explicit input_source(std::unique_ptr<state> s) : state_(std::move(s)) {}

  result<void> fill_raw();
  result<std::string_view> next_inflated();
  tl::unexpected<input_error> failure(error_code code, std::string message) const {
    return make_error(code, state_->name, 0, std::move(message));
  }

  std::unique_ptr<state> state_;
};

inline result<input_source> input_source::open(std::string path, std::size_t chunk_bytes) {
  auto s = std::make_unique<state>();
  // zlib counts in 32 bits: keep a chunk well below that.
  s->chunk_bytes = std::clamp<std::size_t>(chunk_bytes, 64, std::size_t{1} << 30);
  if (path == "-") {
    s->name = "<stdin>";
    s->fd = STDIN_FILENO;
  } else {
    s->name = std::move(path);
    s->fd = ::open(s->name.c_str(), O_RDONLY | O_CLOEXEC);
    if (s->fd < 0)
      return make_error(error_code::cannot_open, s->name, 0,
                        fmt::format("cannot open: {}", std::strerror(errno)));
    s->owns_fd = true;
  }
  struct stat st {};
  if (::fstat(s->fd, &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return make_error(error_code::cannot_open, s->name, 0, "cannot open: is a directory");
    if (S_ISREG(st.st_mode)) s->total = static_cast<std::uint64_t>(st.st_size);
  }
  s->raw.resize(s->chunk_bytes);
  return input_source(std::move(s));
}

inline result<void> input_source::fill_raw() {
  state& s = *state_;
  s.raw_size = 0;
  s.raw_pos = 0;
  while (!s.eof && s.raw_size < s.chunk_bytes) {
    const ssize_t n = ::read(s.fd, s.raw.data() + s.raw_size, s.chunk_bytes - s.raw_size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failure(error_code::read_failed, fmt::format("read failed: {}", std::strerror(errno)));
    }
    if (n == 0) s.eof = true;
    s.raw_size += static_cast<std::size_t>(n);
    s.bytes_read += static_cast<std::uint64_t>(n);
  }
  return {};
}

inline result<std::string_view> input_source::next() {
  state& s = *state_;
  switch (s.current) {
    case mode::done: return std::string_view();
    case mode::unstarted: {
      if (auto filled = fill_raw(); !filled) return tl::unexpected(filled.error());
      if (s.raw_size >= 2 && static_cast<unsigned char>(s.raw[0]) == 0x1f &&
          static_cast<unsigned char>(s.raw[1]) == 0x8b) {
        // windowBits 15 + 32: zlib detects the gzip header itself.
        if (inflateInit2(&s.zs, 15 + 32) != Z_OK)
          return failure(error_code::read_failed, "cannot start gzip decompression");
        s.zs_ready = true;
        s.member_open = true;
        s.out.resize(s.chunk_bytes);
        s.current = mode::gzip;
        s.gzipped = true;
        return next_inflated();
      }
      s.current = mode::plain;
      if (s.raw_size == 0) s.current = mode::done;
      return std::string_view(s.raw.data(), s.raw_size);
    }
    case mode::plain: {
      if (auto filled = fill_raw(); !filled) return tl::unexpected(filled.error());
      if (s.raw_size == 0) s.current = mode::done;
      return std::string_view(s.raw.data(), s.raw_size);
    }
    case mode::gzip: return next_inflated();
  }
  return std::string_view();
}

inline result<std::string_view> input_source::next_inflated() {
  state& s = *state_;
  std::size_t out_size = 0;
  while (out_size < s.chunk_bytes) {
    if (s.raw_pos == s.raw_size) {
      if (s.eof) break;
      if (auto filled = fill_raw(); !filled) return tl::unexpected(filled.error());
      if (s.raw_size == 0) break;
    }
    if (!s.member_open) {
      // Another gzip member follows the one that ended (as `cat a.gz b.gz` makes).
      inflateReset(&s.zs);
      s.member_open = true;
    }
    s.zs.next_in = reinterpret_cast<Bytef*>(s.raw.data() + s.raw_pos);
    s.zs.avail_in = static_cast<uInt>(s.raw_size - s.raw_pos);
    s.zs.next_out = reinterpret_cast<Bytef*>(s.out.data() + out_size);
    s.zs.avail_out = static_cast<uInt>(s.chunk_bytes - out_size);
    const int rc = inflate(&s.zs, Z_NO_FLUSH);
    s.raw_pos = s.raw_size - s.zs.avail_in;
    out_size = s.chunk_bytes - s.zs.avail_out;
    if (rc == Z_STREAM_END) {
      s.member_open = false;
    } else if (rc != Z_OK && !(rc == Z_BUF_ERROR && s.raw_pos == s.raw_size)) {
      return failure(error_code::read_failed,
                     fmt::format("corrupt gzip data: {}", s.zs.msg ? s.zs.msg : "inflate failed"));
    }
  }
  if (out_size == 0) {
    if (s.member_open)
      return failure(error_code::read_failed, "truncated gzip data: the stream ends mid-member");
    s.current = mode::done;
  }
  return std::string_view(s.out.data(), out_size);
}

/// A whole input in memory (a baseline table, a test fixture), gunzipped if need be.
struct whole_input {
  std::string name;  ///< for messages: the path, or "<stdin>"
  std::string text;
};

/// Reads all of `path` ("-": standard input).
inline result<whole_input> read_whole_input(std::string path) {
  auto in = input_source::open(std::move(path));
  if (!in) return tl::unexpected(in.error());
  whole_input out{in->name(), {}};
  for (;;) {
    auto chunk = in->next();
    if (!chunk) return tl::unexpected(chunk.error());
    if (chunk->empty()) return out;
    out.text.append(*chunk);
  }
}

/// What for_each_chunk hands each chunk to: (chunk, bytes read so far, file size if known).
/// It returns void, or result<void> to stop with an error.
template <class F>
concept input_chunk_handler =
    std::invocable<F&, std::string_view, std::uint64_t, std::optional<std::uint64_t>>;

/// Open `path` ("-": standard input) and hand every chunk of its content to `on_chunk`.
template <input_chunk_handler OnChunk>
result<void> for_each_chunk(std::string path, OnChunk&& on_chunk,
                            std::size_t chunk_bytes = input_source::default_chunk_bytes) {
  auto in = input_source::open(std::move(path), chunk_bytes);
  if (!in) return tl::unexpected(in.error());
  for (;;) {
    auto chunk = in->next();
    if (!chunk) return tl::unexpected(chunk.error());
    if (chunk->empty()) return {};
    using returned = std::invoke_result_t<OnChunk&, std::string_view, std::uint64_t,
                                          std::optional<std::uint64_t>>;
    if constexpr (std::is_same_v<returned, result<void>>) {
      if (auto r = on_chunk(*chunk, in->bytes_read(), in->total_bytes()); !r) return r;
    } else {
      on_chunk(*chunk, in->bytes_read(), in->total_bytes());
    }
  }
}

}  // namespace k8snetio::io
