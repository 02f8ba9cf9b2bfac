// Where the readers' bytes come from (spec "Inputs", I3.4): a file or standard input ("-"),
// read in large chunks and decompressed on the fly when the content starts with the gzip or
// zstd magic, however the file is named; and the input format, recognised from the first bytes
// or named. compression_of() is the one place that knows the magic numbers.
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
#include <zstd.h>

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
  if (head.starts_with(utf8_bom)) head.remove_prefix(utf8_bom.size());
  const auto first = head.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && head[first] == '{')
    return head.find("\"resourceMetrics\"") != std::string_view::npos ? input_format::otlp_json
                                                                      : input_format::hec_json;
  // A head cut inside the header is taken as it is.
  csv_tokenizer tokenizer;
  const auto header = find_csv_header(head, true, tokenizer);
  if (!header) return input_format::metrics_csv;
  bool key = false;
  bool value = false;
  for (std::string_view name : header->record.fields) {
    key = key || name == "key";
    value = value || name == "_value" || name.starts_with("metric_name:");
  }
  return key && !value ? input_format::baseline_csv : input_format::metrics_csv;
}

// ---- compression ---------------------------------------------------------------------------

/// How an input's bytes are stored (I3.4: recognised from the content, never from the name).
enum class compression : std::uint8_t { none, gzip, zstd };

constexpr std::string_view to_string(compression c) noexcept {
  switch (c) {
    case compression::none: return "none";
    case compression::gzip: return "gzip";
    case compression::zstd: return "zstd";
  }
  return "unknown";
}

/// The compression of an input from its first bytes: gzip starts 1F 8B, a zstd frame
/// 28 B5 2F FD. Fewer than four bytes of a zstd magic are taken as plain text.
constexpr compression compression_of(std::string_view head) noexcept {
  const auto byte = [&head](std::size_t i) { return static_cast<unsigned char>(head[i]); };
  if (head.size() >= 2 && byte(0) == 0x1f && byte(1) == 0x8b) return compression::gzip;
  if (head.size() >= 4 && byte(0) == 0x28 && byte(1) == 0xb5 && byte(2) == 0x2f && byte(3) == 0xfd)
    return compression::zstd;
  return compression::none;
}

// ---- bytes ---------------------------------------------------------------------------------

/// An open input delivering its (decompressed) bytes chunk by chunk:
///
///     auto in = input_source::open(path);        // "-" is standard input
///     if (!in) return tl::unexpected(in.error());
///     while (true) { auto chunk = in->next(); if (!chunk) …; if (chunk->empty()) break; … }
///
/// Chunks are full (`chunk_bytes`) except the last, so the first one holds enough to detect
/// the format. Progress is in bytes of the file as stored: compressed bytes for gzip or zstd.
/// Decompression streams: whatever the ratio, no more than one chunk of output is held.
class input_source {
 public:
  static constexpr std::size_t default_chunk_bytes = std::size_t{4} << 20;

  static result<input_source> open(std::string path, std::size_t chunk_bytes = default_chunk_bytes);

  /// The next chunk, valid until the next call; empty at the end of the input.
  result<std::string_view> next();

  /// The name for messages: the path, or "<stdin>".
  const std::string& name() const noexcept { return state_->name; }
  /// Bytes read from the file so far (compressed bytes when compressed).
  std::uint64_t bytes_read() const noexcept { return state_->bytes_read; }
  /// Bytes handed out so far (after decompression).
  std::uint64_t bytes_out() const noexcept { return state_->bytes_out; }
  /// The file's size when it is a regular file (a pipe's is unknown).
  std::optional<std::uint64_t> total_bytes() const noexcept { return state_->total; }
  /// Whether the content is gzip (known after the first next()).
  bool gzipped() const noexcept { return state_->stored == compression::gzip; }
  /// How the content is stored (known after the first next()).
  io::compression compression() const noexcept { return state_->stored; }

 private:
  enum class mode : std::uint8_t { unstarted, plain, gzip, zstd, done };

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
    std::vector<char> out;  ///< decompressed bytes (gzip and zstd only)
    z_stream zs{};
    bool zs_ready = false;
    bool member_open = false;  ///< inside a gzip member or zstd frame: its end not reached yet
    ZSTD_DStream* zstd = nullptr;
    mode current = mode::unstarted;
    io::compression stored = io::compression::none;
    std::uint64_t bytes_read = 0;
    std::uint64_t bytes_out = 0;
    std::optional<std::uint64_t> total;

    ~state() {
      if (zs_ready) inflateEnd(&zs);
      if (zstd) ZSTD_freeDStream(zstd);
      if (owns_fd && fd >= 0) ::close(fd);
    }
  };

  explicit input_source(std::unique_ptr<state> s) : state_(std::move(s)) {}

  result<void> fill_raw();
  result<std::string_view> next_inflated();
  result<std::string_view> next_zstd();
  result<std::string_view> handed_out(std::string_view chunk) noexcept {
    state_->bytes_out += chunk.size();
    return chunk;
  }
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
      s.stored = compression_of(std::string_view(s.raw.data(), s.raw_size));
      if (s.stored == io::compression::gzip) {
        // windowBits 15 + 32: zlib detects the gzip header itself.
        if (inflateInit2(&s.zs, 15 + 32) != Z_OK)
          return failure(error_code::read_failed, "cannot start gzip decompression");
        s.zs_ready = true;
        s.member_open = true;
        s.out.resize(s.chunk_bytes);
        s.current = mode::gzip;
        return next_inflated();
      }
      if (s.stored == io::compression::zstd) {
        s.zstd = ZSTD_createDStream();
        if (!s.zstd || ZSTD_isError(ZSTD_initDStream(s.zstd)))
          return failure(error_code::read_failed, "cannot start zstd decompression");
        // A frame may ask for a window of up to 2^27 bytes (what zstd itself allows without
        // --long); a larger one is refused rather than allocated.
        ZSTD_DCtx_setParameter(s.zstd, ZSTD_d_windowLogMax, 27);
        s.out.resize(s.chunk_bytes);
        s.current = mode::zstd;
        return next_zstd();
      }
      s.current = mode::plain;
      if (s.raw_size == 0) s.current = mode::done;
      return handed_out(std::string_view(s.raw.data(), s.raw_size));
    }
    case mode::plain: {
      if (auto filled = fill_raw(); !filled) return tl::unexpected(filled.error());
      if (s.raw_size == 0) s.current = mode::done;
      return handed_out(std::string_view(s.raw.data(), s.raw_size));
    }
    case mode::gzip: return next_inflated();
    case mode::zstd: return next_zstd();
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
  return handed_out(std::string_view(s.out.data(), out_size));
}

inline result<std::string_view> input_source::next_zstd() {
  state& s = *state_;
  std::size_t out_size = 0;
  while (out_size < s.chunk_bytes) {
    if (s.raw_pos == s.raw_size) {
      if (s.eof) break;
      if (auto filled = fill_raw(); !filled) return tl::unexpected(filled.error());
      if (s.raw_size == 0) break;
    }
    ZSTD_inBuffer in{s.raw.data(), s.raw_size, s.raw_pos};
    ZSTD_outBuffer out{s.out.data(), s.chunk_bytes, out_size};
    // Concatenated frames (as `cat a.zst b.zst` makes) are decoded one after the other.
    const std::size_t rc = ZSTD_decompressStream(s.zstd, &out, &in);
    s.raw_pos = in.pos;
    out_size = out.pos;
    if (ZSTD_isError(rc))
      return failure(error_code::read_failed,
                     fmt::format("corrupt zstd data: {}", ZSTD_getErrorName(rc)));
    s.member_open = rc != 0;  // 0: a frame ended, and nothing of the next one is buffered
  }
  if (out_size == 0) {
    if (s.member_open)
      return failure(error_code::read_failed, "truncated zstd data: the stream ends mid-frame");
    s.current = mode::done;
  }
  return handed_out(std::string_view(s.out.data(), out_size));
}

/// A whole input in memory (a test fixture, a small table), decompressed if need be.
struct whole_input {
  std::string name;  ///< for messages: the path, or "<stdin>"
  std::string text;
};

/// What read_whole_input and the baseline loader hold at most by default (S5.2): room for a
/// table of ten million keys, and a bound on what a decompression bomb can make us hold.
inline constexpr std::uint64_t default_max_input_bytes = std::uint64_t{2} << 30;

/// The error of an input that decompresses (or reads) to more than `limit` bytes.
inline tl::unexpected<input_error> input_too_large(const input_source& in, std::uint64_t limit) {
  return make_error(error_code::input_too_large, in.name(), 0,
                    fmt::format("the input is larger than {} bytes{}; refused", limit,
                                in.compression() == compression::none
                                    ? std::string()
                                    : fmt::format(" once decompressed ({}, {} bytes stored)",
                                                  to_string(in.compression()), in.bytes_read())));
}

/// Reads all of `path` ("-": standard input); more than `max_bytes` (after decompression) is
/// error_code::input_too_large, found as soon as the limit is passed.
inline result<whole_input> read_whole_input(std::string path,
                                            std::uint64_t max_bytes = default_max_input_bytes) {
  auto in = input_source::open(std::move(path));
  if (!in) return tl::unexpected(in.error());
  whole_input out{in->name(), {}};
  for (;;) {
    auto chunk = in->next();
    if (!chunk) return tl::unexpected(chunk.error());
    if (chunk->empty()) return out;
    if (in->bytes_out() > max_bytes) return input_too_large(*in, max_bytes);
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
