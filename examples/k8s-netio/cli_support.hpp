// What every subcommand of k8s-netio shares: exit codes, durations, human-readable numbers,
// the progress line on a terminal, and the one-line summary of what was read and skipped.
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <k8snetio/io/input/read_report.hpp>
#include <k8snetio/io/output/atomic_file.hpp>
#include <k8snetio/io/output/diagnostic_text.hpp>
#include <k8snetio/service/live_options.hpp>
#include <k8snetio/stages/span_aggregator.hpp>

namespace k8snetio_cli {

// Exit codes (also printed at the end of --help):
//   0  success, with or without findings
//   1  runtime or input error: an unreadable file, a bad baseline table (no `key` column, a
//      duplicate key, a bad cell), an input of no known format, a bad row under --strict,
//      a failure to write the output
//   2  usage error: an unknown option, a missing argument, a value out of range
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;
inline constexpr int exit_usage = 2;

inline constexpr std::string_view exit_codes_help =
    "Exit codes: 0 success (findings or not), 1 runtime or input error (unreadable file, bad "
    "baseline, --strict failure), 2 usage error (bad option or value).";

/// A usage error found after parsing (e.g. a window that is no multiple of the span).
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// "3600", "60s", "10m", "1h", "1d", "1w" → seconds; nullopt when malformed or not positive.
/// The live options' parser, so that every command reads a duration alike.
inline std::optional<std::int64_t> parse_duration(std::string_view text) {
  return k8snetio::service::parse_duration(text);
}

/// 1234567 → "1,234,567".
inline std::string with_commas(std::uint64_t n) {
  const std::string digits = fmt::format("{}", n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

/// L6: set once SIGTERM or SIGINT arrives, after stop_on_signals().
inline std::atomic<bool>& stop_requested() {
  static std::atomic<bool> requested{false};
  return requested;
}
extern "C" inline void k8snetio_request_stop(int) { stop_requested() = true; }
/// SIGTERM and SIGINT set stop_requested() (for a command whose one thread polls it).
inline void stop_on_signals() {
  struct sigaction action {};
  action.sa_handler = k8snetio_request_stop;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

/// An address to listen on.
struct address {
  std::string host;
  std::uint16_t port = 0;
};

/// HOST:PORT (an IPv6 host in brackets).
inline std::optional<address> parse_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  address a{text.substr(0, colon), 0};
  if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']')
    a.host = a.host.substr(1, a.host.size() - 2);
  const std::string port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const unsigned long n = std::stoul(port);
  if (n > 65535) return std::nullopt;
  a.port = static_cast<std::uint16_t>(n);
  return a;
}

/// 12345678 → "12.3 MB".
inline std::string human_bytes(double bytes) {
  constexpr const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1000 && u < 4) {
    bytes /= 1000;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} {}", bytes, units[u])
                : fmt::format("{:.1f} {}", bytes, units[u]);
}

/// One updating line on standard error, only when it is a terminal, at most ~4 times a second.
class progress_line {
 public:
  using clock = std::chrono::steady_clock;

  explicit progress_line(std::optional<std::uint64_t> total_bytes = std::nullopt)
      : enabled_(::isatty(STDERR_FILENO) == 1),
        total_(total_bytes),
        start_(clock::now()),
        last_(start_) {}

  bool enabled() const noexcept { return enabled_; }
  void set_total(std::optional<std::uint64_t> total) { total_ = total; }

  void update(std::uint64_t bytes, std::uint64_t rows) {
    if (!enabled_) return;
    const auto now = clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(bytes) / seconds : 0;
    std::string text;
    if (total_ && *total_ > 0) {
      const double done = static_cast<double>(bytes) / static_cast<double>(*total_);
      text =
          fmt::format("{} of {} ({:.0f}%), {} rows, {}/s", human_bytes(static_cast<double>(bytes)),
                      human_bytes(static_cast<double>(*total_)), 100 * std::min(done, 1.0),
                      with_commas(rows), human_bytes(rate));
      if (rate > 0 && bytes < *total_) {
        const auto left = static_cast<std::uint64_t>(static_cast<double>(*total_ - bytes) / rate);
        text += fmt::format(", about {}:{:02} left", left / 60, left % 60);
      }
    } else {
      text = fmt::format("{}, {} rows, {}/s", human_bytes(static_cast<double>(bytes)),
                         with_commas(rows), human_bytes(rate));
    }
    fmt::print(stderr, "\rk8s-netio: {}\033[K", text);
    std::fflush(stderr);
    shown_ = true;
  }

  /// For work counted in items rather than bytes: "1,234 of 5,000 samples (25%), …".
  void update_count(std::uint64_t done, std::uint64_t total, std::string_view noun) {
    if (!enabled_) return;
    const auto now = clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    std::string text =
        fmt::format("{} of {} {} ({:.0f}%), {}/s", with_commas(done), with_commas(total), noun,
                    total ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 0.0,
                    with_commas(static_cast<std::uint64_t>(rate)));
    if (rate > 0 && done < total) {
      const auto left = static_cast<std::uint64_t>(static_cast<double>(total - done) / rate);
      text += fmt::format(", about {}:{:02} left", left / 60, left % 60);
    }
    fmt::print(stderr, "\rk8s-netio: {}\033[K", text);
    std::fflush(stderr);
    shown_ = true;
  }

  /// Erases the line (before the summary or an error is printed).
  void clear() {
    if (!shown_) return;
    fmt::print(stderr, "\r\033[K");
    std::fflush(stderr);
    shown_ = false;
  }

  ~progress_line() { clear(); }

 private:
  bool enabled_;
  bool shown_ = false;
  std::optional<std::uint64_t> total_;
  clock::time_point start_;
  clock::time_point last_;
};

/// Where results go: standard output, or the file of -o. A file is replaced only when close()
/// succeeds (O6.1): an error, a refusal or a kill before that leaves it as it was.
class output_file {
 public:
  output_file() = default;
  output_file(const output_file&) = delete;
  output_file& operator=(const output_file&) = delete;
  ~output_file() = default;  // an uncommitted file's temporary is removed by its destructor

  /// Opens `path` for writing (empty or "-": standard output); false with `error` set if not.
  bool open(const std::string& path, std::string& error) {
    if (path.empty() || path == "-") {
      to_stdout_ = true;
      name_ = "<stdout>";
      return true;
    }
    name_ = path;
    auto file = k8snetio::io::atomic_output_file::create(path);
    if (!file) {
      error = file.error().what();
      return false;
    }
    file_.emplace(std::move(*file));
    return true;
  }

  void write(std::string_view text) {
    if (text.empty()) return;
    if (file_)
      file_->write(text);
    else if (to_stdout_)
      std::fwrite(text.data(), 1, text.size(), stdout);
  }

  /// Flushes (and puts the file in place); false with `error` set when anything failed.
  bool close(std::string& error) {
    if (file_) {
      auto done = file_->commit();
      file_.reset();
      if (!done) error = done.error().what();
      return done.has_value();
    }
    if (!to_stdout_) return true;
    to_stdout_ = false;
    errno = 0;
    const bool ok = std::fflush(stdout) == 0 && !std::ferror(stdout);
    if (!ok) error = fmt::format("cannot write {}: {}", name_, std::strerror(errno ? errno : EIO));
    return ok;
  }

 private:
  std::optional<k8snetio::io::atomic_output_file> file_;
  bool to_stdout_ = false;
  std::string name_;
};

/// O6.3: text from the input, safe to echo in a message (see k8snetio::io::escape_diagnostic).
inline std::string quoted_for_diagnostic(std::string_view text) {
  return k8snetio::io::escape_diagnostic(text);
}

/// O6.4: one message on standard error, never throwing: a closed or full standard error loses
/// the message and changes nothing else.
template <class... Args>
void print_diagnostic(fmt::format_string<Args...> format, Args&&... args) noexcept {
  try {
    const std::string text = fmt::format(format, std::forward<Args>(args)...);
    (void)std::fwrite(text.data(), 1, text.size(), stderr);
    std::clearerr(stderr);
  } catch (...) {  // out of memory while formatting: the message is lost, nothing else
  }
}

namespace detail {

#if defined(__GLIBC__)
// Writes to descriptor 2 and always reports success, so that a closed or full standard error
// (2>&-, 2>/dev/full) can never make a print throw or fail.
inline ssize_t write_ignoring_errors(void*, const char* data, std::size_t size) {
  std::size_t left = size;
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(size);
}
#endif

}  // namespace detail

/// O6.4, called first in main(): standard error can no longer fail. Descriptors 0-2 that are
/// closed are reserved (on /dev/null, opened so that reading 0 or writing 1 fails as before),
/// so no file the program opens can become its standard error; and stderr is a stream that
/// never reports a write error (messages to a full or closed stderr are lost, the run goes on).
inline void make_standard_error_safe() noexcept {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    const int flags = fd == STDOUT_FILENO ? O_RDONLY : O_WRONLY;  // 1 unwritable, 0 unreadable
    const int opened = ::open("/dev/null", flags | O_NOCTTY);
    if (opened >= 0 && opened != fd) {
      ::dup2(opened, fd);
      ::close(opened);
    }
  }
#if defined(__GLIBC__)
  static const cookie_io_functions_t functions{nullptr, &detail::write_ignoring_errors, nullptr,
                                               nullptr};
  if (std::FILE* safe = ::fopencookie(nullptr, "w", functions)) {
    std::setvbuf(safe, nullptr, _IONBF, 0);
    stderr = safe;  // glibc: stderr is an assignable variable
  }
#endif
}

/// O6.2: an output that is one of the inputs (by device and inode, so also through symbolic
/// and hard links) would be destroyed before it is read: a usage error, found before anything
/// is opened for writing. The message holds the raw names: escape it when printing. `inputs` are
/// (option, path) pairs; "-" is standard input. When the output is standard output, a regular file
/// it was redirected to counts too.
inline std::optional<std::string> output_collision(
    const std::string& output, std::string_view output_option,
    const std::vector<std::pair<std::string_view, std::string>>& inputs) {
  struct stat out {};
  const bool to_stdout = output.empty() || output == "-";
  if (to_stdout ? ::fstat(STDOUT_FILENO, &out) != 0 || !S_ISREG(out.st_mode)
                : ::stat(output.c_str(), &out) != 0)
    return std::nullopt;  // a new file cannot be an input
  for (const auto& [option, input] : inputs) {
    struct stat in {};
    const bool read =
        input == "-" ? ::fstat(STDIN_FILENO, &in) == 0 : ::stat(input.c_str(), &in) == 0;
    if (!read || in.st_dev != out.st_dev || in.st_ino != out.st_ino) continue;
    if (!S_ISREG(in.st_mode)) continue;  // /dev/null in and out, a terminal: nothing to lose
    const std::string what =
        input == "-" ? std::string("standard input") : fmt::format("{} {}", option, input);
    if (to_stdout)
      return fmt::format("standard output is {}: it would be overwritten while it is read", what);
    const bool same_name = input == output || input == "-";
    return fmt::format("{} {} is {}{}: it would be overwritten before it is read", output_option,
                       output, what, same_name ? "" : " (the same file through a link)");
  }
  return std::nullopt;
}

/// What a run read and skipped: the readers' reports, the points outside --earliest/--latest,
/// and what the aggregator (D1) dropped.
struct run_summary {
  std::size_t inputs = 0;
  k8snetio::io::read_report report;
  std::uint64_t outside_range = 0;
  k8snetio::aggregation_stats aggregation;
  /// library.md A1.4: points whose direction feeds no measure of the rule, and those directions.
  std::uint64_t unmapped_direction = 0;
  std::vector<std::string> unmapped_directions;

  /// "read 2 inputs: 1,234 rows, 1,200 points used, 34 skipped (20 bad number, 14 missing
  /// dimension); first: a.csv:3: bad number: _value='x'; …"
  std::string line() const {
    using k8snetio::io::skip_reason;
    std::vector<std::pair<std::string, std::uint64_t>> reasons;
    std::uint64_t skipped = 0;
    const auto add = [&](std::string name, std::uint64_t n) {
      if (!n) return;
      skipped += n;
      for (auto& r : reasons)
        if (r.first == name) {
          r.second += n;
          return;
        }
      reasons.emplace_back(std::move(name), n);
    };
    for (std::size_t i = 0; i < k8snetio::io::skip_reason_count; ++i)
      add(std::string(k8snetio::io::to_string(static_cast<skip_reason>(i))), report.skipped[i]);
    add(std::string(k8snetio::io::to_string(skip_reason::other_metric)), aggregation.other_metric);
    add(std::string(k8snetio::io::to_string(skip_reason::missing_dimension)),
        aggregation.missing_dimension);
    add(std::string(k8snetio::io::to_string(skip_reason::non_finite)), aggregation.non_finite);
    add(std::string(k8snetio::io::to_string(skip_reason::late)), aggregation.late);
    add("series limit", aggregation.series_limit);  // S5.1
    add("outside the time range", outside_range);
    std::string unmapped = "unmapped direction";  // A1.4
    for (std::size_t i = 0; i < unmapped_directions.size(); ++i)
      unmapped += (i ? ", " : " (") + unmapped_directions[i] +
                  (i + 1 == unmapped_directions.size() ? ")" : "");
    add(unmapped, unmapped_direction);

    std::string out =
        fmt::format("read {} input{}: {} rows, {} points used, {} skipped", inputs,
                    inputs == 1 ? "" : "s", with_commas(report.rows_read),
                    with_commas(aggregation.aggregated - unmapped_direction), with_commas(skipped));
    if (!reasons.empty()) {
      out += " (";
      for (std::size_t i = 0; i < reasons.size(); ++i)
        out +=
            fmt::format("{}{} {}", i ? ", " : "", with_commas(reasons[i].second), reasons[i].first);
      out += ")";
    }
    bool first = true;
    for (const auto& problem : report.examples) {
      if (!k8snetio::io::is_error(problem.reason)) continue;
      out += first ? "; first: " : "; ";
      out += quoted_for_diagnostic(problem.to_string());
      first = false;
    }
    return out;
  }
};

/// L0, L1: the live options' flags, registered from k8snetio::service::live_options so that
/// `serve` and `consume` (and `detect`, for the detection flags) share one definition, one
/// default and one check each. Durations are taken as text and read by parse_live_options.
struct live_flag_texts {
  std::string span = "10s";
  std::string window = "1h";
  std::string lateness = "30s";
  std::string max_future = "5m";
  std::string read_timeout = "10s";
};

/// The detection flags shared with `detect`: --span, --sigma, --min-count, --metric,
/// --default-cluster, --default-node.
inline void add_detection_flags(CLI::App& cmd, k8snetio::service::live_options& o,
                                live_flag_texts& t) {
  cmd.add_option("--span", t.span, "Aggregation span (D1): 10, 10s, 1m, …")->capture_default_str();
  cmd.add_option("--sigma", o.sigma, "k in value > avg + k * stdev (D6.2); above 0")
      ->capture_default_str();
  cmd.add_option("--min-count", o.min_count,
                 "A pod is a finding with more than this many anomalous buckets (D7.2)")
      ->capture_default_str();
  cmd.add_option("--metric", o.metric, "The metric to read")->capture_default_str();
  cmd.add_option("--default-cluster", o.default_cluster, "k8s.cluster.name for points without");
  cmd.add_option("--default-node", o.default_node, "k8s.node.name for points without");
}

/// The live flags of `serve` and `consume` (the detection flags included).
inline void add_live_flags(CLI::App& cmd, k8snetio::service::live_options& o, live_flag_texts& t,
                           bool http) {
  add_detection_flags(cmd, o, t);
  cmd.add_option("--window", t.window, "Window length (D9), e.g. 1h")->capture_default_str();
  cmd.add_option("--lateness", t.lateness, "Allowed lateness of points (S1.3), e.g. 30s, or 0")
      ->capture_default_str();
  cmd.add_option("--max-future", t.max_future,
                 "S1.4: a point stamped further ahead of this machine's clock is rejected as "
                 "future_time")
      ->capture_default_str();
  cmd.add_option("--max-open-groups", o.max_open_groups,
                 "Cardinality cap (S5.1): buckets held open at once (measured: up to about "
                 "200 bytes each, 400 with --state)")
      ->capture_default_str();
  cmd.add_flag("--early-alerts", o.early_alerts,
               "S3, L12: a provisional finding as soon as a pod passes the threshold, the final "
               "one when its window closes");
  cmd.add_flag("--learn", o.learn,
               "L8: detect with the baseline learned from what is received (kept in the state "
               "directory), from the day after each UTC day completes; needs --state");
  cmd.add_option("--horizon", o.horizon_days, "L8: days of the learned baseline")
      ->capture_default_str();
  if (!http) return;
  cmd.add_option("--max-body", o.max_body, "Largest request body in bytes, after decompression")
      ->capture_default_str();
  cmd.add_option("--max-in-flight", o.max_in_flight,
                 "Data requests read or waiting for the engine at once; beyond it a request "
                 "gets 503 with Retry-After (L5)")
      ->capture_default_str();
  cmd.add_option("--read-timeout", t.read_timeout, "Cut off a client that stalls this long")
      ->capture_default_str();
}

/// Reads the duration flags into `o` and validates the whole; the usage message otherwise.
inline std::optional<std::string> parse_live_options(k8snetio::service::live_options& o,
                                                     const live_flag_texts& t, bool with_state) {
  using k8snetio::service::parse_duration;
  const auto span = parse_duration(t.span);
  if (!span) return "--span must be a duration such as 10s, 1m (got '" + t.span + "')";
  const auto window = parse_duration(t.window);
  if (!window) return "--window must be a duration such as 1h (got '" + t.window + "')";
  const auto lateness = parse_duration(t.lateness, true);
  if (!lateness)
    return "--lateness must be a duration such as 30s, or 0 (got '" + t.lateness + "')";
  const auto future = parse_duration(t.max_future);
  if (!future) return "--max-future must be a duration such as 5m (got '" + t.max_future + "')";
  const auto timeout = parse_duration(t.read_timeout);
  if (!timeout) return "--read-timeout must be a duration such as 10s";
  o.span_seconds = *span;
  o.window_seconds = *window;
  o.lateness_seconds = *lateness;
  o.max_future_seconds = *future;
  o.read_timeout_seconds = *timeout;
  return o.validate(with_state);
}

}  // namespace k8snetio_cli
