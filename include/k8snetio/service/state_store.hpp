// L0, L1, L6: where the live detector keeps what lets a restart continue: a snapshot of its
// whole state (written atomically) and a write-ahead log of the payloads received since, in
// framed, checksummed records. `state_store` is the concept (an interface, so that a service
// can choose one at run time); `directory_store` is `--state DIR`: created if missing, locked
// against a second process, refused when others can write it, every file opened inside it
// without following links (issue 28 #12, #17, #21).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <k8snetio/engine/snapshot.hpp>

namespace k8snetio::service {

/// The write-ahead log's record frame: "K8WR", u32 length, u32 CRC-32 of the payload, payload.
namespace wal_frame {
inline constexpr std::string_view magic = "K8WR";
inline constexpr std::size_t header_size = 12;

inline void append(std::string& out, std::string_view payload) {
  const auto put32 = [&out](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  out += magic;
  put32(static_cast<std::uint32_t>(payload.size()));
  put32(detail::crc32(payload));
  out += payload;
}

inline std::uint32_t get32(std::string_view s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]))
         << (8 * i);
  return v;
}

/// What reading a log found.
struct scan_result {
  bool ok = true;
  std::size_t good_bytes = 0;  ///< bytes of whole, checked records
  bool torn_tail = false;      ///< the last record is cut short (a write a crash interrupted)
  std::string error;           ///< a damaged record, with its offset
};

/// Calls `record` with each record's payload; stops at a damaged record (error) or a cut-short
/// last one (torn_tail: never acknowledged, so dropped).
inline scan_result scan(std::string_view bytes,
                        const std::function<bool(std::string_view)>& record) {
  scan_result r;
  std::size_t at = 0;
  while (at < bytes.size()) {
    if (bytes.size() - at < header_size) {
      const auto rest = bytes.substr(at, std::min(magic.size(), bytes.size() - at));
      r.torn_tail = magic.substr(0, rest.size()) == rest;
      if (!r.torn_tail) {
        r.ok = false;
        r.error = fmt::format("a damaged record at byte offset {} (no record frame)", at);
      }
      break;
    }
    if (bytes.substr(at, magic.size()) != magic) {
      r.ok = false;
      r.error = fmt::format("a damaged record at byte offset {} (no record frame)", at);
      break;
    }
    const std::uint32_t length = get32(bytes, at + 4), crc = get32(bytes, at + 8);
    if (bytes.size() - at - header_size < length) {
      r.torn_tail = true;
      break;
    }
    const std::string_view payload = bytes.substr(at + header_size, length);
    if (detail::crc32(payload) != crc) {
      r.ok = false;
      r.error = fmt::format("a damaged record at byte offset {} (its CRC-32 does not match)", at);
      break;
    }
    at += header_size + length;
    r.good_bytes = at;
    if (!record(payload)) break;
  }
  return r;
}
}  // namespace wal_frame

/// Where a live detector keeps its state. Generation g's log holds the payloads received after
/// the snapshot that names g.
class state_store {
 public:
  virtual ~state_store() = default;
  /// For messages: "the state directory /var/lib/x".
  virtual std::string name() const = 0;
  /// The snapshot, or nullopt (error empty: there is none yet; else why it cannot be read).
  virtual std::optional<std::string> read_snapshot(std::string& error) = 0;
  /// Replaces the snapshot atomically (never half a snapshot).
  virtual bool write_snapshot(std::string_view bytes, std::string& error) = 0;
  /// Opens generation `g`'s log for appending (created empty if missing).
  virtual bool open_log(std::uint64_t g, std::string& error) = 0;
  /// Appends one record to the open log, whole or not at all (issue 28 #3).
  virtual bool append(std::string_view record, std::string& error) = 0;
  /// Reads generation `g`'s records; a damaged record is an error naming its offset; a torn
  /// last record is cut off (`warning` says so).
  virtual bool read_log(std::uint64_t g, const std::function<bool(std::string_view)>& record,
                        std::string& error, std::string& warning) = 0;
  /// Removes every log but generation `keep`'s.
  virtual void drop_logs_except(std::uint64_t keep) = 0;
  /// Makes the open log durable.
  virtual bool sync(std::string& error) = 0;
  /// A directory for the learned days (L8), or empty when the store has none.
  virtual std::string learned_days_dir() const = 0;
};

/// `--state DIR`.
class directory_store final : public state_store {
 public:
  /// Opens (creating it 0700 if missing) and locks DIR; nullopt and `error` when refused.
  static std::unique_ptr<directory_store> open(const std::string& path, std::string& error) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno != ENOENT || ::mkdir(path.c_str(), 0700) != 0 || ::lstat(path.c_str(), &st) != 0) {
        error = fmt::format("cannot create the state directory {}: {}", path, std::strerror(errno));
        return nullptr;
      }
    }
    if (S_ISLNK(st.st_mode)) {
      error =
          fmt::format("the state directory {} is a symbolic link: give the directory itself", path);
      return nullptr;
    }
    if (!S_ISDIR(st.st_mode)) {
      error = fmt::format(
          "--state {} is not a directory: --state takes a directory the service owns (L1)", path);
      return nullptr;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
      error = fmt::format(
          "the state directory {} is writable by other users (mode {:o}): refused, since they "
          "could make the service overwrite any file; chmod go-w it",
          path, st.st_mode & 07777);
      return nullptr;
    }
    if (st.st_uid != ::geteuid()) {
      error =
          fmt::format("the state directory {} belongs to another user (uid {})", path, st.st_uid);
      return nullptr;
    }
    const int dir = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0) {
      error = fmt::format("cannot open the state directory {}: {}", path, std::strerror(errno));
      return nullptr;
    }
    std::unique_ptr<directory_store> store(new directory_store(path, dir));
    store->lock_ = ::openat(dir, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (store->lock_ < 0) {
      error = fmt::format("cannot open {}/lock: {}", path, std::strerror(errno));
      return nullptr;
    }
    if (::flock(store->lock_, LOCK_EX | LOCK_NB) != 0) {
      error = errno == EWOULDBLOCK
                  ? fmt::format(
                        "the state directory {} is in use by another process (it holds {}/lock)",
                        path, path)
                  : fmt::format("cannot lock {}/lock: {}", path, std::strerror(errno));
      return nullptr;
    }
    return store;
  }

  directory_store(const directory_store&) = delete;
  directory_store& operator=(const directory_store&) = delete;
  ~directory_store() override {
    if (log_ >= 0) ::close(log_);
    if (lock_ >= 0) ::close(lock_);  // releases the flock
    ::close(dir_);
  }

  std::string name() const override { return fmt::format("the state directory {}", path_); }
  const std::string& path() const noexcept { return path_; }

  std::optional<std::string> read_snapshot(std::string& error) override {
    return read_file("snapshot", error);
  }

  bool write_snapshot(std::string_view bytes, std::string& error) override {
    const int fd =
        ::openat(dir_, "snapshot.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return fail(error, "snapshot.tmp");
    bool ok = write_all(fd, bytes);
    ok = ::fsync(fd) == 0 && ok;
    ok = ::close(fd) == 0 && ok;
    if (!ok || ::renameat(dir_, "snapshot.tmp", dir_, "snapshot") != 0) {
      fail(error, "snapshot");
      ::unlinkat(dir_, "snapshot.tmp", 0);
      return false;
    }
    ::fsync(dir_);
    return true;
  }

  bool open_log(std::uint64_t g, std::string& error) override {
    const std::string file = log_name(g);
    const int fd =
        ::openat(dir_, file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return fail(error, file);
    if (log_ >= 0) ::close(log_);
    log_ = fd;
    ::fsync(dir_);
    return true;
  }

  bool append(std::string_view record, std::string& error) override {
    if (log_ < 0) {
      error = "no write-ahead log is open";
      return false;
    }
    std::string framed;
    framed.reserve(record.size() + wal_frame::header_size);
    wal_frame::append(framed, record);
    const off_t before = ::lseek(log_, 0, SEEK_END);
    if (!write_all(log_, framed)) {
      error = fmt::format("cannot append to the write-ahead log in {}: {}", path_,
                          std::strerror(errno));
      // Never half a record: cut back what a short write left (issue 28 #3).
      if (before >= 0) (void)::ftruncate(log_, before);
      return false;
    }
    return true;
  }

  bool read_log(std::uint64_t g, const std::function<bool(std::string_view)>& record,
                std::string& error, std::string& warning) override {
    const std::string file = log_name(g);
    std::string read_error;
    const auto bytes = read_file(file, read_error);
    if (!bytes) {
      if (!read_error.empty()) error = read_error;
      return read_error.empty();
    }
    const auto scanned = wal_frame::scan(*bytes, record);
    if (!scanned.ok) {
      error = fmt::format(
          "{}/{}: {}; the state is refused (move the directory aside to start "
          "afresh)",
          path_, file, scanned.error);
      return false;
    }
    if (scanned.torn_tail) {
      warning = fmt::format(
          "{}/{}: its last record (at byte offset {}) is cut short, as a crash during a write "
          "leaves it; that request was never acknowledged and is dropped",
          path_, file, scanned.good_bytes);
      const int fd = ::openat(dir_, file.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) {
        (void)::ftruncate(fd, static_cast<off_t>(scanned.good_bytes));
        ::fsync(fd);
        ::close(fd);
      }
    }
    return true;
  }

  void drop_logs_except(std::uint64_t keep) override {
    const int fd = ::dup(dir_);
    if (fd < 0) return;
    DIR* d = ::fdopendir(fd);
    if (!d) {
      ::close(fd);
      return;
    }
    ::rewinddir(d);
    const std::string kept = log_name(keep);
    std::vector<std::string> doomed;
    while (const dirent* e = ::readdir(d)) {
      const std::string_view n = e->d_name;
      if (n.substr(0, 4) == "wal." && n != kept) doomed.emplace_back(n);
    }
    ::closedir(d);
    for (const auto& n : doomed) ::unlinkat(dir_, n.c_str(), 0);
    ::fsync(dir_);
  }

  bool sync(std::string& error) override {
    if (log_ >= 0 && ::fsync(log_) != 0) return fail(error, "the write-ahead log");
    return true;
  }

  std::string learned_days_dir() const override { return path_ + "/baseline"; }

 private:
  directory_store(std::string path, int dir) : path_(std::move(path)), dir_(dir) {}

  static std::string log_name(std::uint64_t g) { return fmt::format("wal.{}", g); }

  bool fail(std::string& error, std::string_view file) const {
    error = fmt::format("cannot write {}/{}: {}", path_, file, std::strerror(errno));
    return false;
  }

  static bool write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n == 0) errno = ENOSPC;
        return false;
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  std::optional<std::string> read_file(const std::string& file, std::string& error) const {
    const int fd = ::openat(dir_, file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno != ENOENT)
        error = fmt::format("cannot read {}/{}: {}", path_, file, std::strerror(errno));
      return std::nullopt;
    }
    std::string out;
    char buffer[1 << 16];
    for (;;) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        error = fmt::format("cannot read {}/{}: {}", path_, file, std::strerror(errno));
        ::close(fd);
        return std::nullopt;
      }
      if (n == 0) break;
      out.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
  }

  std::string path_;
  int dir_ = -1;
  int lock_ = -1;
  int log_ = -1;
};

}  // namespace k8snetio::service
