// Where the readers' bytes come from (spec "Inputs", I3.4): a file or standard input ("-"),
// read in large chunks and decompressed on the fly when the content starts with the gzip or
// zstd magic, however the file is named; and the input format, recognised from the first bytes
// or named. compression_of() is the one place that knows the magic numbers.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <concepts>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
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

namespace detail {

/// The SIGBUS guard of mapped files. Reading a page of a mapping that lies past the end of a
/// file that shrank after it was mapped raises SIGBUS, which would end the process. While a
/// mapped_file lives, its address range is registered here; the handler puts a page of zeros
/// in place of such a page and marks the mapping, so the read goes on and its owner reports
/// the change as an error. A fault anywhere else goes to the handler that was there before.
/// Installed on the first mapping; when it cannot be (a sanitizer keeps SIGBUS for itself, or
/// every slot is taken), files are not mapped and are read with read(2).
class mapping_guard {
 public:
  static constexpr std::size_t max_ranges = 64;

  /// A slot for [begin, end), or nullptr when none is free or the handler is not in place.
  static std::atomic<int>* enter(const void* begin, std::size_t size) noexcept {
    if (!installed()) return nullptr;
    const auto b = reinterpret_cast<std::uintptr_t>(begin);
    for (std::size_t i = 0; i < max_ranges; ++i) {
      range& r = ranges()[i];
      std::uintptr_t expected = 0;
      if (r.begin.load(std::memory_order_relaxed) == 0 &&
          r.begin.compare_exchange_strong(expected, b, std::memory_order_acq_rel)) {
        r.faulted.store(0, std::memory_order_relaxed);
        r.end.store(b + size, std::memory_order_release);
        return &r.faulted;
      }
    }
    return nullptr;
  }

  /// Whether files can be mapped safely here (the handler is in place; installs it).
  static bool available() noexcept { return installed(); }

  /// Frees the slot of `faulted` (before the range is unmapped).
  static void leave(std::atomic<int>* faulted) noexcept {
    for (std::size_t i = 0; i < max_ranges; ++i) {
      range& r = ranges()[i];
      if (&r.faulted == faulted) {
        r.end.store(0, std::memory_order_release);
        r.begin.store(0, std::memory_order_release);
      }
    }
  }

 private:
  struct range {
    std::atomic<std::uintptr_t> begin{0};
    std::atomic<std::uintptr_t> end{0};
    std::atomic<int> faulted{0};
  };
  static range* ranges() noexcept {
    static range all[max_ranges];
    return all;
  }
  struct state {
    struct sigaction previous {};
    std::uintptr_t page = 4096;
    bool ok = false;
  };
  static state& saved() noexcept {
    static state s;
    return s;
  }

  static void on_sigbus(int sig, siginfo_t* info, void* context) {
    const auto at = reinterpret_cast<std::uintptr_t>(info->si_addr);
    const std::uintptr_t page = saved().page;
    for (std::size_t i = 0; i < max_ranges; ++i) {
      range& r = ranges()[i];
      const std::uintptr_t b = r.begin.load(std::memory_order_acquire);
      const std::uintptr_t e = r.end.load(std::memory_order_acquire);
      if (b == 0 || at < b || at >= e) continue;
      void* zero = ::mmap(reinterpret_cast<void*>(at & ~(page - 1)), page, PROT_READ,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
      if (zero != MAP_FAILED) {
        r.faulted.store(1, std::memory_order_release);
        return;  // the read is made again, and finds zeros
      }
    }
    // Not ours: what was there before.
    const struct sigaction& before = saved().previous;
    if (before.sa_flags & SA_SIGINFO) {
      if (before.sa_sigaction) before.sa_sigaction(sig, info, context);
      return;
    }
    if (before.sa_handler != SIG_DFL && before.sa_handler != SIG_IGN) {
      before.sa_handler(sig);
      return;
    }
    // The default action: restored, and the faulting read, made again, ends the process.
    struct sigaction fallback {};
    fallback.sa_handler = SIG_DFL;
    sigemptyset(&fallback.sa_mask);
    ::sigaction(SIGBUS, &fallback, nullptr);
  }

  /// Whether the handler is in place (installs it on the first call).
  static bool installed() noexcept {
    static const bool ok = [] {
      state& s = saved();
      const long page = ::sysconf(_SC_PAGESIZE);
      if (page <= 0) return false;
      s.page = static_cast<std::uintptr_t>(page);
      struct sigaction mine {};
      mine.sa_sigaction = &on_sigbus;
      mine.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
      sigemptyset(&mine.sa_mask);
      if (::sigaction(SIGBUS, &mine, &s.previous) != 0) return false;
      // A sanitizer may answer success and keep its own handler: check.
      struct sigaction now {};
      if (::sigaction(SIGBUS, nullptr, &now) != 0 || !(now.sa_flags & SA_SIGINFO) ||
          now.sa_sigaction != &on_sigbus)
        return false;
      return true;
    }();
    return ok;
  }
};

}  // namespace detail

/// A regular file mapped read-only (for the readers of uncompressed files: no copy from the
/// page cache into a buffer). Pages that were read can be given back (`release`), so memory
/// stays flat whatever the file's size. A file that shrinks while mapped is no crash: the
/// bytes past its new end read as zeros and `shrank()` says so (see detail::mapping_guard);
/// the readers then end with error_code::read_failed, and check the size between chunks too.
class mapped_file {
 public:
  mapped_file() = default;
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;
  mapped_file(mapped_file&& o) noexcept { *this = std::move(o); }
  mapped_file& operator=(mapped_file&& o) noexcept {
    if (this != &o) {
      unmap();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      released_ = std::exchange(o.released_, 0);
      faulted_ = std::exchange(o.faulted_, nullptr);
    }
    return *this;
  }
  ~mapped_file() { unmap(); }

  /// The first `size` bytes of the open regular file `fd`, mapped; nullopt when it cannot be
  /// (an empty file, no address space, no SIGBUS guard): read it with read(2) then.
  static std::optional<mapped_file> map(int fd, std::uint64_t size) noexcept {
    if (size == 0 || size > std::numeric_limits<std::size_t>::max() / 2) return std::nullopt;
    const auto n = static_cast<std::size_t>(size);
    void* at = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE, fd, 0);
    if (at == MAP_FAILED) return std::nullopt;
    std::atomic<int>* faulted = detail::mapping_guard::enter(at, n);
    if (!faulted) {
      ::munmap(at, n);
      return std::nullopt;
    }
    ::madvise(at, n, MADV_SEQUENTIAL);
    mapped_file m;
    m.data_ = static_cast<const char*>(at);
    m.size_ = n;
    m.faulted_ = faulted;
    return m;
  }

  /// Whether files are mapped in this process (false where a sanitizer owns SIGBUS).
  static bool available() noexcept { return detail::mapping_guard::available(); }

  std::string_view bytes() const noexcept { return {data_, size_}; }
  std::size_t size() const noexcept { return size_; }
  const char* data() const noexcept { return data_; }

  /// Whether a page past the file's end was read (the file shrank after it was mapped): what
  /// was read since cannot be trusted.
  bool shrank() const noexcept { return faulted_ && faulted_->load(std::memory_order_acquire); }

  /// Maps [from, to) now, in one call rather than a fault per page (where the kernel can).
  void prefetch(std::size_t from, std::size_t to) const noexcept {
#if defined(MADV_POPULATE_READ)
    const std::uintptr_t page = page_size();
    const auto b = reinterpret_cast<std::uintptr_t>(data_ + from) & ~(page - 1);
    const auto e = reinterpret_cast<std::uintptr_t>(data_ + std::min(to, size_));
    if (e > b) ::madvise(reinterpret_cast<void*>(b), e - b, MADV_POPULATE_READ);
#else
    (void)from;
    (void)to;
#endif
  }

  /// Gives back the whole pages below `through` (they were read; the page cache keeps them).
  void release(std::size_t through) noexcept {
    const std::uintptr_t page = page_size();
    const auto base = reinterpret_cast<std::uintptr_t>(data_);
    const std::uintptr_t end = (base + std::min(through, size_)) & ~(page - 1);
    const std::uintptr_t begin = base + released_;
    if (end <= begin) return;
    ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
    released_ = end - base;
  }

 private:
  static std::uintptr_t page_size() noexcept {
    static const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    return page;
  }
  void unmap() noexcept {
    if (!data_) return;
    detail::mapping_guard::leave(faulted_);
    ::munmap(const_cast<char*>(data_), size_);
    data_ = nullptr;
  }

  const char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t released_ = 0;  ///< bytes from the start given back (whole pages)
  std::atomic<int>* faulted_ = nullptr;
};

/// An open input delivering its (decompressed) bytes chunk by chunk:
///
///     auto in = input_source::open(path);        // "-" is standard input
///     if (!in) return tl::unexpected(in.error());
///     while (true) { auto chunk = in->next(); if (!chunk) …; if (chunk->empty()) break; … }
///
/// Chunks are full (`chunk_bytes`) except the last, so the first one holds enough to detect
/// the format. Progress is in bytes of the file as stored: compressed bytes for gzip or zstd.
/// Decompression streams: whatever the ratio, no more than one chunk of output is held.
/// An uncompressed regular file is mapped (mapped_file) and its chunks are views of the
/// mapping, each page given back once the next chunk is asked for; bytes the file gains
/// after that are then read with read(2), as from a pipe. A file that shrinks while read is
/// error_code::read_failed. Pipes, standard input and compressed files are read with read(2).
class input_source {
 public:
  static constexpr std::size_t default_chunk_bytes = std::size_t{4} << 20;

  [[nodiscard]] static result<input_source> open(std::string path,
                                                 std::size_t chunk_bytes = default_chunk_bytes);

  /// The next chunk, valid until the next call; empty at the end of the input.
  [[nodiscard]] result<std::string_view> next();

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
  /// Whether the chunks are views of a mapping of the file (known after the first next()).
  bool mapped() const noexcept { return state_->map.has_value(); }

  /// Calls `observer` with each run of the file's bytes as stored (compressed, if they are),
  /// in order, as they are read: once the input's end is reached it has seen every byte of the
  /// file, once. Set it before the first next(); for naming what was read (a hash) in the same
  /// pass that reads it.
  void observe_stored(std::function<void(std::string_view)> observer) {
    state_->observer = std::move(observer);
  }

 private:
  enum class mode : std::uint8_t { unstarted, plain, mapped, gzip, zstd, done };

  /// What read(2) or a decompressor writes into. Not zeroed first: a vector's resize would
  /// write (and fault in) every byte of a 4 MiB chunk for each file, also when the read that
  /// follows returns a few bytes or none (the end of a mapped file is read so).
  struct chunk_buffer {
    std::unique_ptr<char[]> bytes;
    std::size_t capacity = 0;
    void reserve(std::size_t n) {
      if (capacity >= n) return;
      bytes = std::make_unique_for_overwrite<char[]>(n);
      capacity = n;
    }
    char* data() const noexcept { return bytes.get(); }
  };

  // Behind a pointer: zlib's state points back at its z_stream, so that must never move.
  struct state {
    std::string name;
    int fd = -1;
    bool owns_fd = false;
    std::size_t chunk_bytes = 0;
    chunk_buffer raw;  ///< bytes as read from the file
    std::size_t raw_size = 0;
    std::size_t raw_pos = 0;
    bool eof = false;
    chunk_buffer out;  ///< decompressed bytes (gzip and zstd only)
    z_stream zs{};
    bool zs_ready = false;
    bool member_open = false;  ///< inside a gzip member or zstd frame: its end not reached yet
    ZSTD_DStream* zstd = nullptr;
    mode current = mode::unstarted;
    io::compression stored = io::compression::none;
    std::uint64_t bytes_read = 0;
    std::uint64_t bytes_out = 0;
    std::optional<std::uint64_t> total;
    std::uint64_t start = 0;  ///< a regular file's offset when opened (standard input read in part)
    std::optional<mapped_file> map;  ///< mode::mapped: the file up to its size at the start
    std::size_t map_pos = 0;         ///< bytes of the mapping handed out
    std::function<void(std::string_view)> observer;  ///< observe_stored

    ~state() {
      if (zs_ready) inflateEnd(&zs);
      if (zstd) ZSTD_freeDStream(zstd);
      if (owns_fd && fd >= 0) ::close(fd);
    }
  };

  explicit input_source(std::unique_ptr<state> s) : state_(std::move(s)) {}

  result<void> fill_raw();
  result<std::string_view> next_mapped();
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
    if (S_ISREG(st.st_mode)) {
      s->total = static_cast<std::uint64_t>(st.st_size);
      if (const off_t at = ::lseek(s->fd, 0, SEEK_CUR); at > 0)
        s->start = std::min(static_cast<std::uint64_t>(at), *s->total);
    }
  }
  return input_source(std::move(s));
}

inline result<void> input_source::fill_raw() {
  state& s = *state_;
  s.raw.reserve(s.chunk_bytes);
  s.raw_size = 0;
  s.raw_pos = 0;
  while (!s.eof && s.raw_size < s.chunk_bytes) {
    const ssize_t n = ::read(s.fd, s.raw.data() + s.raw_size, s.chunk_bytes - s.raw_size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failure(error_code::read_failed, fmt::format("read failed: {}", std::strerror(errno)));
    }
    if (n == 0) {
      // The end before the size the file had when opened (less what was read of it before
      // us: standard input), and the file is smaller now: it shrank, and what was read may
      // end anywhere (a compressed file cut at a member's end would decompress cleanly). A
      // file whose size says more than it holds (/sys) has not shrunk.
      struct stat now {};
      if (s.total && s.bytes_read < *s.total - s.start && ::fstat(s.fd, &now) == 0 &&
          static_cast<std::uint64_t>(now.st_size) < *s.total)
        return failure(error_code::read_failed,
                       fmt::format("the file changed size while being read: {} bytes when "
                                   "opened, {} now, its end reached after {}",
                                   *s.total, now.st_size, s.start + s.bytes_read));
      s.eof = true;
    }
    if (s.observer && n > 0)
      s.observer(std::string_view(s.raw.data() + s.raw_size, static_cast<std::size_t>(n)));
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
      if (s.total && *s.total > 0 && s.owns_fd) {
        s.map = mapped_file::map(s.fd, *s.total);
        if (s.map && compression_of(s.map->bytes().substr(0, 4)) == io::compression::none) {
          s.current = mode::mapped;
          return next_mapped();
        }
        s.map.reset();  // compressed (or not mappable): read(2) from the start
      }
      if (auto filled = fill_raw(); !filled) return tl::unexpected(filled.error());
      s.stored = compression_of(std::string_view(s.raw.data(), s.raw_size));
      if (s.stored == io::compression::gzip) {
        // windowBits 15 + 32: zlib detects the gzip header itself.
        if (inflateInit2(&s.zs, 15 + 32) != Z_OK)
          return failure(error_code::read_failed, "cannot start gzip decompression");
        s.zs_ready = true;
        s.member_open = true;
        s.out.reserve(s.chunk_bytes);
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
        s.out.reserve(s.chunk_bytes);
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
    case mode::mapped: return next_mapped();
    case mode::gzip: return next_inflated();
    case mode::zstd: return next_zstd();
  }
  return std::string_view();
}

inline result<std::string_view> input_source::next_mapped() {
  state& s = *state_;
  mapped_file& map = *s.map;
  map.release(s.map_pos);  // the chunk handed out last is done with
  const auto shrank = [&](std::uint64_t now) {
    return failure(error_code::read_failed,
                   fmt::format("the file changed size while being read: {} bytes when opened, {} "
                               "after {} bytes were read",
                               map.size(), now, s.map_pos));
  };
  if (map.shrank()) return shrank(s.map_pos);
  if (s.map_pos == map.size()) {
    // The size it had when opened is read; what it gained since is read as from a pipe.
    s.map.reset();
    if (::lseek(s.fd, static_cast<off_t>(s.map_pos), SEEK_SET) < 0)
      return failure(error_code::read_failed, fmt::format("seek failed: {}", std::strerror(errno)));
    s.current = mode::plain;
    if (auto filled = fill_raw(); !filled) return tl::unexpected(filled.error());
    if (s.raw_size == 0) s.current = mode::done;
    return handed_out(std::string_view(s.raw.data(), s.raw_size));
  }
  const std::size_t n = std::min(s.chunk_bytes, map.size() - s.map_pos);
  struct stat st {};
  if (::fstat(s.fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) < s.map_pos + n)
    return shrank(static_cast<std::uint64_t>(st.st_size));
  const std::string_view chunk = map.bytes().substr(s.map_pos, n);
  if (s.observer) s.observer(chunk);
  s.map_pos += n;
  s.bytes_read += n;
  return handed_out(chunk);
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
[[nodiscard]] inline result<whole_input> read_whole_input(
    std::string path, std::uint64_t max_bytes = default_max_input_bytes) {
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
