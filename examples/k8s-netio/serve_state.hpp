// `k8s-netio serve --state FILE` (L6): what lets a restarted service continue where it stopped.
// FILE is a small text header (rule, baseline hash, window, last window emitted), replaced
// atomically; the accepted points of each window not yet closed live in a write-ahead log,
// one segment per window (FILE.wal.<window start>), replayed through a fresh engine on start.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <k8snetio/model/metric_point.hpp>

namespace k8snetio_cli::serve {

inline constexpr std::string_view state_magic = "k8s-netio-serve-state 1";

/// FNV-1a 64 of a file's bytes: names the baseline a state was written for.
inline std::optional<std::uint64_t> hash_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::uint64_t h = 0xcbf29ce484222325ULL;
  char buffer[1 << 16];
  while (in) {
    in.read(buffer, sizeof buffer);
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      h ^= static_cast<unsigned char>(buffer[i]);
      h *= 0x100000001b3ULL;
    }
  }
  return h;
}

/// The header of a state: a state is only resumed by a service with the same identity.
struct state_header {
  std::string rule;
  std::uint64_t baseline_hash = 0;
  std::int64_t window_seconds = 0;
  std::int64_t span_seconds = 0;
  /// The latest window_end of any finding written: a finding of a window ending at or before
  /// it was written already and is not written again after a replay.
  std::int64_t emitted_through = 0;

  std::string text() const {
    return fmt::format(
        "{}\nrule {}\nbaseline_fnv1a64 {:016x}\nwindow {}\nspan {}\nemitted_through {}\n",
        state_magic, rule, baseline_hash, window_seconds, span_seconds, emitted_through);
  }

  /// Reads a header; an error sentence when it is not one.
  static std::optional<state_header> parse(const std::string& text, std::string& error) {
    std::istringstream in(text);
    std::string line;
    if (!std::getline(in, line) || line != state_magic) {
      error =
          "not a k8s-netio serve state (its first line is not '" + std::string(state_magic) + "')";
      return std::nullopt;
    }
    state_header h;
    int seen = 0;
    while (std::getline(in, line)) {
      const auto space = line.find(' ');
      if (space == std::string::npos) continue;
      const std::string key = line.substr(0, space), value = line.substr(space + 1);
      try {
        if (key == "rule") h.rule = value, seen |= 1;
        if (key == "baseline_fnv1a64") h.baseline_hash = std::stoull(value, nullptr, 16), seen |= 2;
        if (key == "window") h.window_seconds = std::stoll(value), seen |= 4;
        if (key == "span") h.span_seconds = std::stoll(value), seen |= 8;
        if (key == "emitted_through") h.emitted_through = std::stoll(value), seen |= 16;
      } catch (const std::exception&) {
        error = "bad value for '" + key + "'";
        return std::nullopt;
      }
    }
    if (seen != 31) {
      error = "a field is missing (rule, baseline_fnv1a64, window, span, emitted_through)";
      return std::nullopt;
    }
    return h;
  }
};

/// Writes `text` to `path` through a temporary file, fsync and rename: never half a state.
inline bool write_file_atomically(const std::string& path, std::string_view text,
                                  std::string& error) {
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = fmt::format("cannot write {}: {}", temp, std::strerror(errno));
    return false;
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok || std::rename(temp.c_str(), path.c_str()) != 0) {
    error = fmt::format("cannot write {}: {}", path, std::strerror(errno));
    ::unlink(temp.c_str());
    return false;
  }
  return true;
}

/// One accepted point as a write-ahead log line: tab-separated, with \\, \t, \n, \r escaped.
inline void append_log_line(std::string& out, const k8snetio::metric_point& p) {
  const auto field = [&](std::string_view s) {
    out += '\t';
    for (char c : s) {
      switch (c) {
        case '\\': out += "\\\\"; break;
        case '\t': out += "\\t"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        default: out += c;
      }
    }
  };
  fmt::format_to(std::back_inserter(out), "{}\t{}", p.time, p.value);
  field(p.metric_name);
  field(p.cluster);
  field(p.pod);
  field(p.node);
  field(p.direction);
  field(p.namespace_name);
  field(p.pod_uid);
  out += '\n';
}

/// A log line read back: owns its strings; point() borrows them.
struct logged_point {
  double time = 0, value = 0;
  std::string fields[7];

  bool parse(std::string_view line) {
    std::vector<std::string> parts(1);
    for (std::size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (c == '\t') {
        parts.emplace_back();
      } else if (c == '\\' && i + 1 < line.size()) {
        const char e = line[++i];
        parts.back() += e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : e;
      } else {
        parts.back() += c;
      }
    }
    if (parts.size() != 9) return false;
    try {
      time = std::stod(parts[0]);
      value = std::stod(parts[1]);
    } catch (const std::exception&) {
      return false;
    }
    for (int i = 0; i < 7; ++i) fields[i] = std::move(parts[static_cast<std::size_t>(i) + 2]);
    return true;
  }
  k8snetio::metric_point point() const {
    k8snetio::metric_point p{time, value, fields[0], fields[1], fields[2], fields[3], fields[4]};
    p.namespace_name = fields[5];
    p.pod_uid = fields[6];
    return p;
  }
};

/// The write-ahead log: one append-only segment per window, removed once the window is closed
/// and a whole window more has passed (a margin, so that the engine has surely closed it).
class write_ahead_log {
 public:
  explicit write_ahead_log(std::string state_path) : prefix_(std::move(state_path) + ".wal.") {}
  write_ahead_log(const write_ahead_log&) = delete;
  write_ahead_log& operator=(const write_ahead_log&) = delete;
  ~write_ahead_log() {
    for (auto& [start, fd] : open_) ::close(fd);
  }

  /// The segments on disk, oldest window first.
  std::vector<std::pair<std::int64_t, std::string>> segments() const {
    std::vector<std::pair<std::int64_t, std::string>> out;
    const std::filesystem::path prefix(prefix_);
    const auto dir = prefix.has_parent_path() ? prefix.parent_path() : std::filesystem::path(".");
    const std::string name = prefix.filename().string();
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      const std::string file = entry.path().filename().string();
      if (file.size() <= name.size() || file.compare(0, name.size(), name) != 0) continue;
      try {
        std::size_t used = 0;
        const std::string rest = file.substr(name.size());
        const std::int64_t start = std::stoll(rest, &used);
        if (used == rest.size()) out.emplace_back(start, entry.path().string());
      } catch (const std::exception&) {
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  /// Appends the lines of window `start` (one write per request and window).
  bool append(std::int64_t start, std::string_view lines, std::string& error) {
    auto it = open_.find(start);
    if (it == open_.end()) {
      const std::string path = prefix_ + std::to_string(start);
      const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd < 0) {
        error = fmt::format("cannot write {}: {}", path, std::strerror(errno));
        return false;
      }
      it = open_.emplace(start, fd).first;
    }
    if (::write(it->second, lines.data(), lines.size()) != static_cast<ssize_t>(lines.size())) {
      error = fmt::format("cannot append to the write-ahead log: {}", std::strerror(errno));
      return false;
    }
    return true;
  }

  /// Removes the segments of windows starting before `start`.
  void drop_before(std::int64_t start) {
    for (const auto& [window, path] : segments()) {
      if (window >= start) break;
      if (auto it = open_.find(window); it != open_.end()) {
        ::close(it->second);
        open_.erase(it);
      }
      std::remove(path.c_str());
    }
  }

  /// Makes every segment durable (at shutdown).
  void sync() {
    for (auto& [start, fd] : open_) ::fsync(fd);
  }

 private:
  std::string prefix_;
  std::map<std::int64_t, int> open_;
};

}  // namespace k8snetio_cli::serve
