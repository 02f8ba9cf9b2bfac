// One metrics_csv file (spec I1) parsed on several cores, with exactly the result of one
// metrics_csv_reader reading it start to end: the same points in the same order, the same
// report, the same first error. The stages downstream sum in input order (D1.4, B3), so the
// order is the contract; parsing is what is spread out, never the stages.
//
// The file is cut into segments of about `segment_bytes` at line ends. Threads claim segments
// in order, read each with pread into a buffer of huge pages and parse it there, with a reader
// that continues the header's; the calling thread hands the segments' points to the sink in
// file order, parsing segments itself while the next one it needs is not ready. A segment
// starts at a record boundary if the one before it ended at one; when a quoted field runs
// across a cut (a newline inside quotes), the segment before the cut does not end at a
// boundary, and from that segment on the file is read by one reader in order, as if there had
// been no threads at all. A file found shorter than it was when read() began is an error
// (read_failed), wherever it is found; a file that shrinks after its last bytes were read is
// read as it was.
//
// Standard input, gzip, small files and `threads == 1` are read by one reader in order.
//
// Why pread rather than a mapping of the file (which input_source uses for one reader): on two
// threads, the bare parse of the benchmark's 1.06 GB file took 1.5-1.9 s of CPU from a mapping
// and 0.9-1.1 s from buffers of huge pages, the kernel's copy counted (2026-12-07,
// benchmarks/README.md). The parse reads every byte and the sink's thread reads the names back;
// why the mapping costs more than the copy was not measured (no PMU in that VM): most likely the
// misses of 4 KiB pages' TLB entries, and the release of consumed pages flushing the other
// core's.
#pragma once

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <k8snetio/detail/flat_hash.hpp>
#include <k8snetio/detail/symbol_table.hpp>
#include <k8snetio/io/error.hpp>
#include <k8snetio/io/input/input_source.hpp>
#include <k8snetio/io/input/metrics_csv_reader.hpp>
#include <k8snetio/io/input/read_report.hpp>
#include <k8snetio/io/input/reader_options.hpp>
#include <k8snetio/model/metric_point.hpp>

namespace k8snetio::io {

struct parallel_read_options {
  /// Threads parsing, the caller's included; 0: one per core, at most `default_max_threads`.
  unsigned threads = 0;
  /// About how much of the file one thread parses at a time (64 bytes to 1 GiB); a file under
  /// twice this is read by one reader. The default leaves 64 KiB for the record a cut runs
  /// into, so that a segment's text fits in two huge pages rather than taking a third.
  std::size_t segment_bytes = (std::size_t{4} << 20) - (std::size_t{64} << 10);
  /// Parsed segments held for the sink, at most: memory is about this many times
  /// 2 × segment_bytes (the text, in whole 2 MiB pages from 1 MiB on, and its points).
  /// 0: 2 × threads + 2.
  std::size_t segments_ahead = 0;
  /// The parsing threads also group each segment's points by series (cluster, pod, node,
  /// direction) and hand that over with each point (k8snetio::detail::series_hint), so that the
  /// span aggregator on the sink's thread looks each series up once per segment rather than
  /// comparing names per point. That moves work off the sink's thread but adds some: it pays
  /// when the sink's thread is the bottleneck, with 3 threads or more; on 2 the threads share
  /// the work evenly and it costs more than it saves (benchmarks/README.md, 2026-12-07).
  /// Unset: on with 3 threads or more. Off is a bare parse.
  std::optional<bool> group_series{};

  /// The sink runs on one thread and takes points at a few times the rate one thread parses
  /// them, so beyond a few parsing threads more cores only add memory.
  static constexpr unsigned default_max_threads = 4;
};

/// Reads one metrics_csv file ("-": standard input; gzip read in order), on several threads
/// when it is a large enough regular file:
///
///     parallel_metrics_csv_reader reader("metrics.csv", options, {.threads = 2});
///     if (auto r = reader.read(sink); !r) …;   // sink(const metric_point&), on this thread
///     reader.report();
///
/// `after(const read_report& so_far)` is called after each segment (its bytes are those read
/// so far) and may return false to stop reading, which read() then reports as success.
/// After an error, `report().bytes` counts what was parsed, which depends on the cuts; every
/// other field is what one reader in order gives. The file is read up to the size it had
/// when read() began.
class parallel_metrics_csv_reader {
 public:
  explicit parallel_metrics_csv_reader(std::string path, reader_options options = {},
                                       parallel_read_options parallel = {})
      : path_(std::move(path)), options_(std::move(options)), parallel_(parallel) {
    if (parallel_.threads == 0)
      parallel_.threads = std::clamp(std::thread::hardware_concurrency(), 1u,
                                     parallel_read_options::default_max_threads);
    // At most 1 GiB, so that a segment's offsets fit in 31 bits (packed_field).
    parallel_.segment_bytes =
        std::clamp<std::size_t>(parallel_.segment_bytes, 64, std::size_t{1} << 30);
    if (parallel_.segments_ahead == 0) parallel_.segments_ahead = 2 * parallel_.threads + 2;
    if (!parallel_.group_series) parallel_.group_series = parallel_.threads >= 3;
  }

  template <metric_point_sink Sink, class After>
  [[nodiscard]] result<void> read(Sink&& sink, After&& after);

  template <metric_point_sink Sink>
  [[nodiscard]] result<void> read(Sink&& sink) {
    return read(sink, [](const read_report&) { return true; });
  }

  const read_report& report() const noexcept { return report_; }
  /// How many defects the report names (read_report::max_examples; 5 unless told).
  void set_max_examples(std::size_t n) noexcept { max_examples_ = n; }
  /// Threads started for the last read (1 when the whole input was read in order).
  unsigned threads_used() const noexcept { return threads_used_; }
  /// Whether a newline inside quotes across a cut made the rest of the file be read in order.
  bool fell_back() const noexcept { return fell_back_; }
  /// The name for messages: the path, or "<stdin>".
  const std::string& name() const noexcept { return name_; }

 private:
  /// Where one of a point's strings is: `offset` into the segment's text, or with
  /// `owned_bit` set into its `owned` bytes. Segments are under 2 GiB (segment_bytes is
  /// clamped to 1 GiB, a record to default_max_csv_record_bytes), so 32 bits do.
  struct packed_field {
    std::uint32_t offset = 0;
    std::uint32_t size = 0;
  };
  static constexpr std::uint32_t owned_bit = std::uint32_t{1} << 31;
  /// A metric_point as a segment holds it for the sink's thread: 72 bytes instead of 128
  /// (offsets instead of pointers), which the parsing thread writes and the sink's thread reads
  /// back once per point.
  struct packed_point {
    static constexpr std::size_t fields = 7;  ///< metric, cluster, pod, node, direction, ns, uid
    double time = 0;
    double value = 0;
    std::array<packed_field, fields> field;
  };
  static_assert(sizeof(packed_point) == 72);

  /// A series of a segment (group_series): its cluster, pod, node and direction, back to back
  /// in the segment's `key_bytes` from `offset`, so that the next points are compared with
  /// bytes in cache rather than with a row far back in the text.
  struct series_key {
    std::uint32_t offset = 0;
    std::array<std::uint32_t, 4> size{};
  };

  struct segment;
  /// The series of a point just parsed (its names in cache), numbered in the segment in order
  /// of first appearance, compared byte for byte.
  static std::uint32_t series_in_segment(segment& s, const metric_point& p);
  static packed_field keep_owned(segment& s, std::string_view v, std::size_t k);
  /// Field `k` of a point: its offset in the segment's text (at `base`, `size` bytes), else a
  /// copy in `owned`.
  K8SNETIO_ALWAYS_INLINE static packed_field pack_field(segment& s, std::uintptr_t base,
                                                        std::size_t size, std::string_view v,
                                                        std::size_t k) {
    // Compared as unsigned, a view that is not in the text is far out.
    const auto offset = static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(v.data()) - base);
    if (offset < size && v.size() <= size - offset) [[likely]]
      return {static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(v.size())};
    return v.empty() ? packed_field{} : keep_owned(s, v, k);
  }
  static std::string_view field_of(const segment& s, packed_field f) noexcept {
    const char* const base = (f.offset & owned_bit) ? s.owned.data() : s.text_view.data();
    return f.size ? std::string_view(base + (f.offset & ~owned_bit), f.size) : std::string_view();
  }
  static metric_point unpack(const segment& s, const packed_point& p) noexcept {
    metric_point point{p.time,
                       p.value,
                       field_of(s, p.field[0]),
                       field_of(s, p.field[1]),
                       field_of(s, p.field[2]),
                       field_of(s, p.field[3]),
                       field_of(s, p.field[4])};
    point.namespace_name = field_of(s, p.field[5]);
    point.pod_uid = field_of(s, p.field[6]);
    return point;
  }

  struct free_text {
    void operator()(char* p) const noexcept { std::free(p); }
  };
  using text_memory = std::unique_ptr<char, free_text>;
  /// Memory for `n` bytes of a segment's text (`capacity` set to what it holds). From 1 MiB
  /// on, whole 2 MiB pages, asked of the kernel as huge pages (transparent huge pages, where it
  /// gives them in madvise or always mode; without them 4 KiB pages, the same bytes).
  static text_memory allocate_text(std::size_t n, std::size_t& capacity) {
    constexpr std::size_t huge = std::size_t{2} << 20;
    const std::size_t align = n >= huge / 2 ? huge : 64;
    const std::size_t size = (std::max<std::size_t>(n, 1) + align - 1) / align * align;
    void* p = std::aligned_alloc(align, size);  // size: a multiple of align, as it must be
    if (!p) throw std::bad_alloc();
#if defined(MADV_HUGEPAGE)
    if (align == huge) ::madvise(p, size, MADV_HUGEPAGE);  // advice: ignored where not given
#endif
    capacity = size;
    return text_memory(static_cast<char*>(p));
  }

  struct segment {
    text_memory text;
    std::size_t capacity = 0;
    std::string_view text_view;        ///< the bytes parsed (in `text`)
    std::vector<packed_point> points;  ///< what the sink's thread reads back, compact
    std::string owned;  ///< bytes of fields not in the text (unescaped quoted fields, defaults)
    /// Per field: the last bytes copied into `owned`, so that a default or a header's name is
    /// kept once per segment rather than once per point.
    std::array<packed_field, packed_point::fields> last_owned{};
    std::vector<std::uint32_t> series_of;    ///< group_series: each point's series in the segment
    std::vector<series_key> series_keys;     ///< each series' names, in `key_bytes`
    std::string key_bytes;                   ///< the series' names, back to back
    std::vector<std::uint32_t> series_next;  ///< the series that followed each one last time
    k8snetio::detail::flat_hash_slots<std::uint32_t> series_index;  ///< hash of the names → series
    std::uint64_t batch = 0;  ///< k8snetio::detail::series_hint::batch
    read_report report;
    std::optional<input_error> error;
    std::exception_ptr exception;
    bool at_boundary = true;  ///< ended at a record boundary
    bool parsed = false;      ///< false: its cuts were not found, nothing was read
    std::uint64_t begin = 0;  ///< where it starts in the file
    std::uint64_t end = 0;    ///< where the next one starts
    std::uint64_t lines = 0;  ///< lines the segment took
  };

  struct file_closer {
    int fd = -1;
    ~file_closer() {
      if (fd >= 0) ::close(fd);
    }
  };

  template <class Sink, class After>
  result<void> read_in_order(Sink& sink, After& after);
  template <class Sink, class After>
  result<void> read_rest_in_order(int fd, std::uint64_t from, std::uint64_t first_line, Sink& sink,
                                  After& after);

  /// Reads exactly `n` bytes at `at`; fewer (the file shrank since read() began) is
  /// shrank_error, so that no path parses a file shorter than the one it cut.
  result<void> pread_exactly(int fd, char* out, std::size_t n, std::uint64_t at) const;
  /// The error of a file that shrank while it was read (`fd`: the file, to say its size now).
  input_error shrank_error(int fd) const {
    struct stat st {};
    return make_error(error_code::read_failed, name_, 0,
                      ::fstat(fd, &st) == 0
                          ? fmt::format("the file changed size while being read: {} bytes when "
                                        "opened, {} now",
                                        size_, st.st_size)
                          : fmt::format("the file changed size while being read ({} bytes when "
                                        "opened)",
                                        size_))
        .value();
  }
  result<std::optional<std::uint64_t>> line_start_from(int fd, std::uint64_t at) const;
  void parse_segment(int fd, std::size_t k, segment& s) const;

  std::string path_;
  reader_options options_;
  parallel_read_options parallel_;
  read_report report_;
  std::size_t max_examples_ = read_report{}.max_examples;
  std::string name_;
  unsigned threads_used_ = 1;
  bool fell_back_ = false;

  // Set by read() for the parallel path.
  std::optional<metrics_csv_reader> lead_;  ///< the header's reader
  std::uint64_t body_ = 0;                  ///< where the first record after the header starts
  std::uint64_t size_ = 0;
  std::size_t segments_ = 0;
  std::vector<std::unique_ptr<segment>> spare_;  ///< parsed segments' buffers, for reuse
};

inline result<void> parallel_metrics_csv_reader::pread_exactly(int fd, char* out, std::size_t n,
                                                               std::uint64_t at) const {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, out + got, n - got, static_cast<off_t>(at + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return make_error(error_code::read_failed, name_, 0,
                        fmt::format("read failed: {}", std::strerror(errno)));
    }
    if (r == 0) return tl::unexpected(shrank_error(fd));
    got += static_cast<std::size_t>(r);
  }
  return {};
}

/// The first offset ≥ `at` where a line starts (just after a '\n'), or the file's size;
/// nullopt when no line ends within a record's maximum size: such a line is `too_long` for
/// the reader, and the file is then read in order rather than scanned to the end here.
inline result<std::optional<std::uint64_t>> parallel_metrics_csv_reader::line_start_from(
    int fd, std::uint64_t at) const {
  if (at <= body_) return body_;
  char block[16384];
  const std::uint64_t limit = std::min(size_, at - 1 + default_max_csv_record_bytes + 1);
  for (std::uint64_t pos = at - 1; pos < limit;) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(sizeof block, limit - pos));
    if (auto got = pread_exactly(fd, block, want, pos); !got) return tl::unexpected(got.error());
    if (const void* nl = std::memchr(block, '\n', want))
      return pos + static_cast<std::uint64_t>(static_cast<const char*>(nl) - block) + 1;
    pos += want;
  }
  if (limit == size_) return size_;
  return std::nullopt;
}

inline void parallel_metrics_csv_reader::parse_segment(int fd, std::size_t k, segment& s) const {
  s.points.clear();
  s.owned.clear();
  s.last_owned = {};
  s.text_view = {};
  s.report = {};
  s.error.reset();
  s.exception = nullptr;
  s.at_boundary = true;
  s.parsed = false;
  s.begin = s.end = 0;
  s.lines = 0;
  s.batch = 0;
  s.series_of.clear();
  s.series_keys.clear();
  s.key_bytes.clear();
  s.series_next.clear();
  s.series_index.clear();
  try {
    const std::uint64_t step = parallel_.segment_bytes;
    auto begin = line_start_from(fd, body_ + k * step);
    if (!begin) {
      s.error = begin.error();
      return;
    }
    const bool last = k + 1 == segments_;
    auto end = last ? result<std::optional<std::uint64_t>>(size_)
                    : line_start_from(fd, body_ + (k + 1) * step);
    if (!end) {
      s.error = end.error();
      return;
    }
    if (!*begin || !*end) return;  // a line too long to find a cut in: read in order
    s.begin = **begin;
    s.end = std::max(**end, s.begin);
    const auto n = static_cast<std::size_t>(s.end - s.begin);
    if (n > s.capacity) {
      s.text.reset();  // before the new one: at most one segment's text more
      s.capacity = 0;
      s.text = allocate_text(n, s.capacity);
    }
    if (auto got = pread_exactly(fd, s.text.get(), n, s.begin); !got) {
      s.error = got.error();
      return;
    }
    const std::string_view text(s.text.get(), n);
    s.parsed = true;
    s.text_view = text;
    // About one point per 64 bytes before the first growth (this data: one per 122).
    s.points.reserve(std::min<std::size_t>(n / 64 + 16, std::size_t{1} << 24));
    const auto pack = [&s, base = reinterpret_cast<std::uintptr_t>(text.data()),
                       size = text.size()](std::string_view v, std::size_t slot) {
      return pack_field(s, base, size, v, slot);
    };
    const bool grouping = *parallel_.group_series;
    if (grouping) s.series_of.reserve(s.points.capacity());
    const auto collect = [&](const metric_point& p) {
      if (grouping) s.series_of.push_back(series_in_segment(s, p));
      packed_point& kept = s.points.emplace_back();
      kept.time = p.time;
      kept.value = p.value;
      kept.field = {pack(p.metric_name, 0), pack(p.cluster, 1),   pack(p.pod, 2),
                    pack(p.node, 3),        pack(p.direction, 4), pack(p.namespace_name, 5),
                    pack(p.pod_uid, 6)};  // I3.3: context, as one thread gives it
    };
    metrics_csv_reader reader = lead_->continuation(1);
    auto fed = reader.feed(text, collect);
    if (fed && last) fed = reader.finish(collect);
    if (!fed) s.error = fed.error();
    if (grouping && s.points.size() < std::numeric_limits<std::uint32_t>::max())
      s.batch = k8snetio::detail::next_series_batch();
    s.at_boundary = last || reader.at_record_boundary();
    s.lines = reader.next_line() - 1;
    s.report = std::move(reader.report());
  } catch (...) {
    s.exception = std::current_exception();
  }
}

/// A field of a point that is not in the segment's text, copied into its `owned` bytes once per
/// run of the same bytes in that field (defaults and header names repeat on every point).
[[gnu::noinline]] inline parallel_metrics_csv_reader::packed_field
parallel_metrics_csv_reader::keep_owned(segment& s, std::string_view v, std::size_t k) {
  packed_field& last = s.last_owned[k];
  if (last.size == v.size() &&
      std::string_view(s.owned).substr(last.offset & ~owned_bit, last.size) == v)
    return last;
  if (s.owned.size() + v.size() >= owned_bit)  // more than the text itself: cannot happen
    throw std::length_error("parallel_metrics_csv_reader: a segment's fields exceed 2 GiB");
  last = {static_cast<std::uint32_t>(s.owned.size()) | owned_bit,
          static_cast<std::uint32_t>(v.size())};
  s.owned.append(v);
  return last;
}

inline std::uint32_t parallel_metrics_csv_reader::series_in_segment(segment& s,
                                                                    const metric_point& p) {
  constexpr std::uint32_t none = std::numeric_limits<std::uint32_t>::max();
  const std::array<std::string_view, 4> names{p.cluster, p.pod, p.node, p.direction};
  const auto same = [&s, &names](std::uint32_t series) {
    const series_key& k = s.series_keys[series];
    const char* at = s.key_bytes.data() + k.offset;
    // Direction and pod first: they tell neighbouring series apart soonest.
    for (const std::size_t f : {std::size_t{3}, std::size_t{1}, std::size_t{2}, std::size_t{0}}) {
      std::size_t from = 0;
      for (std::size_t g = 0; g < f; ++g) from += k.size[g];
      if (!k8snetio::detail::same_bytes(std::string_view(at + from, k.size[f]), names[f]))
        return false;
    }
    return true;
  };
  // Inputs repeat their order: the series of the point before, or the one that followed it
  // last time, before a hash.
  const std::uint32_t before = s.series_of.empty() ? none : s.series_of.back();
  if (before != none) {
    if (same(before)) return before;
    const std::uint32_t guess = s.series_next[before];
    if (guess != none && same(guess)) return guess;
  }
  std::uint64_t h = k8snetio::detail::hash_bytes(names[0]);
  for (std::size_t f = 1; f < 4; ++f) h = k8snetio::detail::hash_bytes(names[f], h);
  std::uint32_t series;
  if (const std::uint32_t* known = s.series_index.find(h, same)) {
    series = *known;
  } else {
    series = static_cast<std::uint32_t>(s.series_keys.size());
    series_key k;
    k.offset = static_cast<std::uint32_t>(s.key_bytes.size());
    for (std::size_t f = 0; f < 4; ++f) {
      k.size[f] = static_cast<std::uint32_t>(names[f].size());
      s.key_bytes.append(names[f]);
    }
    if (s.key_bytes.size() >= owned_bit)  // more than the text itself: cannot happen
      throw std::length_error("parallel_metrics_csv_reader: a segment's names exceed 2 GiB");
    s.series_keys.push_back(k);
    s.series_next.push_back(none);
    s.series_index.insert(h, series);
  }
  if (before != none) s.series_next[before] = series;
  return series;
}

template <class Sink, class After>
result<void> parallel_metrics_csv_reader::read_in_order(Sink& sink, After& after) {
  auto in = input_source::open(path_);
  if (!in) return tl::unexpected(in.error());
  name_ = in->name();
  metrics_csv_reader reader(in->name(), options_);
  reader.report().max_examples = max_examples_;
  result<void> outcome;
  for (;;) {
    auto chunk = in->next();
    if (!chunk) {
      outcome = tl::unexpected(chunk.error());
      break;
    }
    if (chunk->empty()) {
      outcome = reader.finish(sink);
      break;
    }
    if (outcome = reader.feed(*chunk, sink); !outcome) break;
    if (!after(reader.report())) break;
  }
  report_ = reader.report();
  return outcome;
}

template <class Sink, class After>
result<void> parallel_metrics_csv_reader::read_rest_in_order(int fd, std::uint64_t from,
                                                             std::uint64_t first_line, Sink& sink,
                                                             After& after) {
  fell_back_ = true;
  metrics_csv_reader reader = lead_->continuation(first_line);
  const std::size_t chunk_bytes = input_source::default_chunk_bytes;
  auto buffer = std::make_unique_for_overwrite<char[]>(chunk_bytes);
  const read_report before = report_;
  result<void> outcome;
  for (std::uint64_t pos = from;;) {
    const auto want = static_cast<std::size_t>(
        std::min<std::uint64_t>(chunk_bytes, size_ - std::min(pos, size_)));
    if (auto got = pread_exactly(fd, buffer.get(), want, pos); !got) {
      outcome = tl::unexpected(got.error());
      break;
    }
    const std::string_view chunk(buffer.get(), want);
    if (chunk.empty()) {
      outcome = reader.finish(sink);
      break;
    }
    pos += chunk.size();
    if (outcome = reader.feed(chunk, sink); !outcome) break;
    report_ = before;
    report_ += reader.report();
    if (!after(report_)) break;
  }
  report_ = before;
  report_ += reader.report();
  return outcome;
}

template <metric_point_sink Sink, class After>
result<void> parallel_metrics_csv_reader::read(Sink&& sink, After&& after) {
  report_ = {};
  report_.max_examples = max_examples_;
  threads_used_ = 1;
  fell_back_ = false;
  name_ = path_ == "-" ? "<stdin>" : path_;
  const std::size_t step = parallel_.segment_bytes;

  file_closer file;
  struct stat st {};
  // stat first: opening a FIFO would wait for a writer, and closing it again lose its data.
  if (parallel_.threads > 1 && path_ != "-" && ::stat(path_.c_str(), &st) == 0 &&
      S_ISREG(st.st_mode)) {
    file.fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (file.fd >= 0 && (::fstat(file.fd, &st) != 0 || !S_ISREG(st.st_mode))) {
      ::close(file.fd);
      file.fd = -1;
    }
  }
  // Only a regular file of two segments or more is worth the threads.
  if (file.fd < 0 || static_cast<std::uint64_t>(st.st_size) < 2 * step)
    return read_in_order(sink, after);
  size_ = static_cast<std::uint64_t>(st.st_size);

  // The header: the first non-blank record, within the first MiB; else read in order.
  {
    std::string head(static_cast<std::size_t>(std::min<std::uint64_t>(size_, 1u << 20)), '\0');
    if (auto got = pread_exactly(file.fd, head.data(), head.size(), 0); !got)
      return tl::unexpected(got.error());
    if (compression_of(head) != compression::none)
      return read_in_order(sink, after);  // gzip or zstd: one stream, read in order
    csv_tokenizer tokenizer;
    const auto header = find_csv_header(head, false, tokenizer);
    if (!header) return read_in_order(sink, after);
    const std::size_t pos = header->end;
    lead_.emplace(name_, options_);
    lead_->report().max_examples = max_examples_;
    const auto none = [](const metric_point&) {};
    if (!lead_->feed(std::string_view(head).substr(0, pos), none) || !lead_->has_header() ||
        !lead_->at_record_boundary())
      return read_in_order(sink, after);  // the reader in order says what is wrong
    body_ = pos;
    report_ = lead_->report();
  }
  segments_ = static_cast<std::size_t>((size_ - body_ + step - 1) / step);
  if (segments_ < 2) return read_in_order(sink, after);

  const std::size_t count = segments_;
  const std::size_t ahead = parallel_.segments_ahead;
  std::mutex mutex;
  std::condition_variable changed;
  std::size_t next_claim = 0;
  std::size_t consumed = 0;
  bool stop = false;
  // Segment k's slot is k % ahead: at most `ahead` are claimed and not yet consumed. Their
  // buffers are made here, so that claiming never allocates (a worker must not throw).
  std::vector<std::unique_ptr<segment>> done(ahead);
  std::vector<std::unique_ptr<segment>>& spare = spare_;  // kept for the next read()
  spare.reserve(ahead);
  while (spare.size() < ahead) spare.push_back(std::make_unique<segment>());
  const int fd = file.fd;

  // Claims the next segment (the window allows it); parses it outside the lock.
  const auto claim_and_parse = [&](std::unique_lock<std::mutex>& lock) {
    const std::size_t k = next_claim++;
    std::unique_ptr<segment> s = std::move(spare.back());
    spare.pop_back();
    lock.unlock();
    parse_segment(fd, k, *s);  // catches everything into s->exception
    lock.lock();
    done[k % ahead] = std::move(s);
    changed.notify_all();
  };
  const auto may_claim = [&] { return next_claim < count && next_claim < consumed + ahead; };

  std::vector<std::jthread> workers;
  struct stopper {
    std::mutex& m;
    std::condition_variable& cv;
    bool& stop;
    std::vector<std::jthread>& threads;
    ~stopper() {
      {
        std::lock_guard lock(m);
        stop = true;
      }
      cv.notify_all();
      threads.clear();  // joins
    }
  } stop_workers{mutex, changed, stop, workers};
  workers.reserve(parallel_.threads - 1);
  for (unsigned t = 1; t < parallel_.threads; ++t) {
    try {
      workers.emplace_back([&] {
        std::unique_lock lock(mutex);
        for (;;) {
          changed.wait(lock, [&] { return stop || next_claim >= count || may_claim(); });
          if (stop || next_claim >= count) return;
          claim_and_parse(lock);
        }
      });
    } catch (const std::system_error&) {
      break;  // no more threads to be had: fewer parse, the result is the same
    }
  }
  threads_used_ = 1 + static_cast<unsigned>(workers.size());

  const auto stop_all = [&] {
    {
      std::lock_guard lock(mutex);
      stop = true;
    }
    changed.notify_all();
  };
  std::uint64_t line = lead_->next_line();  // where segment k's first record is
  std::uint64_t position = body_;           // and where it must begin
  for (std::size_t k = 0; k < count; ++k) {
    std::unique_ptr<segment> s;
    {
      std::unique_lock lock(mutex);
      while (!done[k % ahead]) {
        if (may_claim())
          claim_and_parse(lock);
        else
          changed.wait(lock);
      }
      s = std::move(done[k % ahead]);
    }
    if (s->exception) std::rethrow_exception(s->exception);
    if (s->error && !s->parsed) {  // reading failed before any parsing
      stop_all();
      return tl::unexpected(std::move(*s->error));
    }
    if (!s->parsed || s->begin != position || (!s->error && !s->at_boundary)) {
      // A quoted field runs across the cut after this segment, or a line too long to cut:
      // from this segment's start on, one reader in order.
      stop_all();
      return read_rest_in_order(fd, position, line, sink, after);
    }
    {
      k8snetio::detail::series_hint& hint = k8snetio::detail::current_series_hint;
      struct clear_hint {
        k8snetio::detail::series_hint& h;
        ~clear_hint() { h = {}; }
      } clear{hint};
      const auto series_count =
          s->batch ? static_cast<std::uint32_t>(s->series_keys.size()) : std::uint32_t{0};
      // metrics_csv_reader hands on only points of its metric (or with no metric name).
      const std::string_view metric = options_.metric_name;
      for (std::size_t i = 0; i < s->points.size(); ++i) {
        const metric_point p = unpack(*s, s->points[i]);
        hint = {&p, s->batch, s->batch ? s->series_of[i] : 0, series_count, metric};
        std::invoke(sink, p);
      }
    }
    if (line > 1)
      for (input_problem& e : s->report.examples)
        if (e.line) e.line += line - 1;
    report_ += s->report;
    if (s->error) {
      input_error e = std::move(*s->error);
      if (e.line && line > 1) e.line += line - 1;
      stop_all();
      return tl::unexpected(std::move(e));
    }
    line += s->lines;
    position = s->end;
    {
      std::lock_guard lock(mutex);
      consumed = k + 1;
      spare.push_back(std::move(s));  // within the capacity reserved above
    }
    changed.notify_all();
    if (!after(report_)) return {};
  }
  return {};
}

}  // namespace k8snetio::io
