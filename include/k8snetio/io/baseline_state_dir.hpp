// S6, K6, L8: a rolling baseline on disk, one checked snapshot file per UTC day
// (DIR/YYYY-MM-DD.k8snetio-day, as `rolling_baseline::save_day` writes it). `k8s-netio baseline
// --state DIR` keeps one; `serve --state` and `consume --baseline-state` write their learners'
// complete days the same way, and `baseline --merge DIR...` combines any of them (S4.1).
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "../engine/rolling_baseline.hpp"
#include "error.hpp"
#include "output/atomic_file.hpp"

namespace k8snetio::io {

inline constexpr std::string_view day_file_suffix = ".k8snetio-day";
/// A state file is the keys' sums: far smaller than this unless it is not one.
inline constexpr std::uintmax_t max_state_file_bytes = std::uintmax_t{4} << 30;

/// `YYYY-MM-DD.k8snetio-day`.
inline std::string day_file_name(std::int64_t day) {
  return utc_day_text(day) + std::string(day_file_suffix);
}

/// The day files of a state directory, by day. A file that ends in the suffix but is not named
/// for a day is an error; any other file (a temporary one, a README) is not ours.
[[nodiscard]] inline result<std::map<std::int64_t, std::string>> list_day_files(
    const std::string& dir) {
  std::map<std::int64_t, std::string> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec)
    return make_error(error_code::cannot_open, dir, 0,
                      fmt::format("cannot list the state directory: {}", ec.message()));
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (!name.ends_with(day_file_suffix)) continue;
    const auto day =
        parse_utc_day(std::string_view(name).substr(0, name.size() - day_file_suffix.size()));
    if (!day)
      return make_error(error_code::unknown_format, entry.path().string(), 0,
                        fmt::format("a state file must be named YYYY-MM-DD{}", day_file_suffix));
    out.emplace(*day, entry.path().string());
  }
  return out;
}

/// The bytes of a state file, refused beyond max_state_file_bytes.
[[nodiscard]] inline result<std::string> read_state_file(const std::string& path) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec)
    return make_error(error_code::cannot_open, path, 0,
                      fmt::format("cannot read the state: {}", ec.message()));
  if (size > max_state_file_bytes)
    return make_error(error_code::input_too_large, path, 0,
                      fmt::format("{} bytes: larger than any state file", size));
  std::ifstream in(path, std::ios::binary);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(size)))
    return make_error(error_code::read_failed, path, 0, "cannot read the state");
  return bytes;
}

/// The bytes of one day file read, checked (S4) and, when `named_day` is given, checked to
/// hold the day its name says; `path` names it in errors.
template <std::size_t N>
[[nodiscard]] result<std::pair<std::int64_t, baseline_builder<N>>> open_day_bytes(
    const rolling_baseline<N>& rolling, std::string_view bytes, const std::string& path,
    std::optional<std::int64_t> named_day) {
  auto day = rolling.open_day(bytes);
  if (!day) return make_error(error_code::read_failed, path, 0, std::move(day.error().message));
  if (named_day && day->first != *named_day)
    return make_error(
        error_code::read_failed, path, 0,
        fmt::format("holds the day {}, not the one its name says", utc_day_text(day->first)));
  return day;
}

/// Opens one day file, checking it (S4) and, when `named_day` is given, that it holds the day
/// its name says.
template <std::size_t N>
[[nodiscard]] result<std::pair<std::int64_t, baseline_builder<N>>> open_day_file(
    const rolling_baseline<N>& rolling, const std::string& path,
    std::optional<std::int64_t> named_day) {
  auto bytes = read_state_file(path);
  if (!bytes) return tl::unexpected(bytes.error());
  return open_day_bytes(rolling, *bytes, path, named_day);
}

/// Writes one day's state to `path` atomically (O6.1): a temporary file beside it, renamed
/// over it. Returns the reason on failure.
template <std::size_t N>
std::optional<std::string> write_day_file(const rolling_baseline<N>& rolling, std::int64_t day,
                                          const std::string& path) {
  auto file = atomic_output_file::create(path);
  if (!file) return file.error().what();
  file->write(rolling.save_day(day));
  if (auto done = file->commit(); !done) return done.error().what();
  return std::nullopt;
}

/// Writes `days` of `rolling` into `dir` (created when missing), each as day_file_name(day).
template <std::size_t N>
std::optional<std::string> write_day_files(const rolling_baseline<N>& rolling,
                                           const std::vector<std::int64_t>& days,
                                           const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fmt::format("{}: cannot create the state directory: {}", dir, ec.message());
  for (const std::int64_t day : days)
    if (rolling.contains(day))
      if (auto error = write_day_file(rolling, day,
                                      (std::filesystem::path(dir) / day_file_name(day)).string()))
        return error;
  return std::nullopt;
}

// ---- The state directory as one unit: locked, checked, changed all or nothing -------------
//
// `k8s-netio baseline --state DIR` opens DIR once (state_dir::open) and reaches every file in
// it through that descriptor without following symbolic links, so nobody can point a day file
// or a temporary at another file; a directory every user may write is refused. A run that
// changes the state holds an exclusive flock(2) on DIR/.k8snetio-lock for its whole length
// (readers hold a shared one): a second run is refused at once with an error naming the lock,
// never interleaved. The days a run adds and drops are one commit (state_dir::commit):
//   1. every new day is written to DIR/.NAME.pending and fsynced;
//   2. the list of renames and removals is written to DIR/.k8snetio-commit.tmp, fsynced, and
//      renamed to DIR/.k8snetio-commit (the commit point), the directory fsynced;
//   3. each .NAME.pending is renamed over NAME, each dropped day unlinked, the directory
//      fsynced, and the journal removed.
// A failure before the commit point removes the pending files (the state is as it was); a kill
// before it leaves pending files that the next run removes (state_dir::recover); a kill after
// it leaves the journal, which the next run carries out to the end. So a set of days is either
// all in the state or none of it is.

inline constexpr std::string_view state_lock_name = ".k8snetio-lock";
inline constexpr std::string_view state_journal_name = ".k8snetio-commit";
inline constexpr std::string_view state_journal_temp_name = ".k8snetio-commit.tmp";
inline constexpr std::string_view state_pending_suffix = ".pending";

/// Test seam of state_dir::commit: called before each step ("write NAME", "journal",
/// "apply NAME"); a positive errno makes the step fail as that system error would (ENOSPC: a
/// full disk), -1 stops the commit there as a kill would, leaving everything as it is.
using state_commit_hook = std::function<int(std::string_view step)>;

/// A file's identity (st_dev, st_ino): the same file through any path or link.
struct file_identity {
  dev_t device = 0;
  ino_t inode = 0;
  auto operator<=>(const file_identity&) const = default;
};

/// What state_dir::commit writes: new day files (name, bytes) and day files to remove.
struct state_commit {
  std::vector<std::pair<std::string, std::string>> put;
  std::vector<std::string> drop;
};

class state_dir {
 public:
  enum class access {
    read,  ///< a shared lock (when the lock file can be had); nothing is changed
    write  ///< an exclusive lock; recover() and commit() may change the state
  };

  /// Opens the existing directory `dir`, refuses it when every user may write it (S6, issue
  /// 28 #12), and locks it without waiting: a directory locked by another run is an error
  /// naming the lock file.
  [[nodiscard]] static result<state_dir> open(const std::string& dir, access mode) {
    state_dir d;
    d.path_ = dir;
    d.fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d.fd_ < 0)
      return make_error(error_code::cannot_open, dir, 0,
                        fmt::format("cannot open the state directory: {}", std::strerror(errno)));
    struct stat st {};
    if (::fstat(d.fd_, &st) != 0)
      return make_error(error_code::cannot_open, dir, 0,
                        fmt::format("cannot open the state directory: {}", std::strerror(errno)));
    if (st.st_mode & S_IWOTH)
      return make_error(error_code::cannot_open, dir, 0,
                        fmt::format("the state directory is writable by every user (mode {:04o}): "
                                    "anyone could replace its days; chmod o-w it",
                                    st.st_mode & 07777));
    const std::string lock_path = d.file_path(state_lock_name);
    int lock_fd = -1;
    if (mode == access::write) {
      lock_fd = ::openat(d.fd_, std::string(state_lock_name).c_str(),
                         O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
      if (lock_fd < 0)
        return make_error(error_code::cannot_open, lock_path, 0,
                          fmt::format("cannot create the lock file: {}", std::strerror(errno)));
    } else {
      lock_fd = ::openat(d.fd_, std::string(state_lock_name).c_str(),
                         O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
      if (lock_fd < 0 && errno != ENOENT)
        return make_error(error_code::cannot_open, lock_path, 0,
                          fmt::format("cannot open the lock file: {}", std::strerror(errno)));
    }
    if (lock_fd >= 0) {
      d.lock_fd_ = lock_fd;
      if (::fstat(lock_fd, &st) != 0 || !S_ISREG(st.st_mode))
        return make_error(error_code::cannot_open, lock_path, 0,
                          "the lock file is not a regular file");
      int locked;
      do locked = ::flock(lock_fd, (mode == access::write ? LOCK_EX : LOCK_SH) | LOCK_NB);
      while (locked != 0 && errno == EINTR);
      if (locked != 0)
        return make_error(
            error_code::cannot_open, lock_path, 0,
            errno == EWOULDBLOCK
                ? std::string("another k8s-netio run is using this state directory (it holds "
                              "the lock): try again when it has ended")
                : fmt::format("cannot lock the state directory: {}", std::strerror(errno)));
    }
    d.mode_ = mode;
    return d;
  }

  state_dir(state_dir&& o) noexcept
      : path_(std::move(o.path_)),
        fd_(std::exchange(o.fd_, -1)),
        lock_fd_(std::exchange(o.lock_fd_, -1)),
        mode_(o.mode_) {}
  state_dir& operator=(state_dir&& o) noexcept {
    if (this != &o) {
      close();
      path_ = std::move(o.path_);
      fd_ = std::exchange(o.fd_, -1);
      lock_fd_ = std::exchange(o.lock_fd_, -1);
      mode_ = o.mode_;
    }
    return *this;
  }
  state_dir(const state_dir&) = delete;
  state_dir& operator=(const state_dir&) = delete;
  ~state_dir() { close(); }

  const std::string& path() const noexcept { return path_; }
  std::string file_path(std::string_view name) const {
    return (std::filesystem::path(path_) / std::string(name)).string();
  }

  /// True when a commit was cut off after its commit point (recover() finishes it).
  bool has_interrupted_commit() const {
    struct stat st {};
    return ::fstatat(fd_, std::string(state_journal_name).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  }

  /// Write mode: finishes a commit cut off after its commit point, and removes what one cut
  /// off before it left (pending days, a journal not yet in place). Returns what it did, for
  /// the run's summary ("" when there was nothing to do).
  [[nodiscard]] result<std::string> recover() {
    std::string note;
    if (has_interrupted_commit()) {
      auto journal = read(state_journal_name, 1 << 20);
      if (!journal) return tl::unexpected(journal.error());
      auto plan = parse_journal(journal->first);
      if (!plan) return tl::unexpected(plan.error());
      if (auto done = apply(*plan, {}); !done) return tl::unexpected(done.error());
      note = fmt::format("completed an interrupted change of {} day file{}",
                         plan->put.size() + plan->drop.size(),
                         plan->put.size() + plan->drop.size() == 1 ? "" : "s");
    }
    auto names = entries();
    if (!names) return tl::unexpected(names.error());
    std::size_t removed = 0;
    for (const std::string& name : *names)
      if (is_leftover(name) && ::unlinkat(fd_, name.c_str(), 0) == 0) ++removed;
    if (removed) {
      sync();
      note += fmt::format("{}removed {} temporary file{} of an interrupted run",
                          note.empty() ? "" : "; ", removed, removed == 1 ? "" : "s");
    }
    return note;
  }

  /// The day files, by day. A file that ends in the suffix but is not named for a day, or is
  /// no regular file (a symbolic link), is an error; any other file is not ours.
  [[nodiscard]] result<std::map<std::int64_t, std::string>> list() const {
    auto names = entries();
    if (!names) return tl::unexpected(names.error());
    std::map<std::int64_t, std::string> out;
    for (const std::string& name : *names) {
      if (name.starts_with('.') || !name.ends_with(day_file_suffix)) continue;
      const auto day =
          parse_utc_day(std::string_view(name).substr(0, name.size() - day_file_suffix.size()));
      if (!day)
        return make_error(error_code::unknown_format, file_path(name), 0,
                          fmt::format("a state file must be named YYYY-MM-DD{}", day_file_suffix));
      struct stat st {};
      if (::fstatat(fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
        return make_error(error_code::cannot_open, file_path(name), 0,
                          "a state file must be a regular file, not a link or anything else");
      out.emplace(*day, name);
    }
    return out;
  }

  /// The bytes of the file `name` in the directory, opened without following a link, and its
  /// identity; refused beyond `cap` bytes.
  result<std::pair<std::string, file_identity>> read(
      std::string_view name, std::uintmax_t cap = max_state_file_bytes) const {
    const std::string path = file_path(name);
    const int fd = ::openat(fd_, std::string(name).c_str(),
                            O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
      return make_error(error_code::cannot_open, path, 0,
                        errno == ELOOP
                            ? std::string("is a symbolic link: a state file must be a regular file")
                            : fmt::format("cannot read the state: {}", std::strerror(errno)));
    return read_descriptor(fd, path, cap);
  }

  /// Commits `change` all or nothing (see above). Write mode only. On an error before the
  /// commit point the state is as it was; after it (the error says so) the next recover()
  /// completes it.
  [[nodiscard]] result<void> commit(const state_commit& change,
                                    const state_commit_hook& hook = {}) {
    if (mode_ != access::write)
      return make_error(error_code::cannot_open, path_, 0, "the state is open for reading only");
    for (const auto& [name, bytes] : change.put) {
      if (auto failed = step(hook, "write " + name)) {
        if (*failed < 0) return stopped();
        return undo(change, name, *failed, "cannot write");
      }
      if (auto e = write_file(pending_name(name), bytes); e != 0)
        return undo(change, name, e, "cannot write");
    }
    std::string journal = "k8snetio state commit 1\n";
    for (const auto& [name, bytes] : change.put) journal += fmt::format("put {}\n", name);
    for (const auto& name : change.drop) journal += fmt::format("drop {}\n", name);
    journal += fmt::format("end {}\n", change.put.size() + change.drop.size());
    if (auto failed = step(hook, "journal")) {
      if (*failed < 0) return stopped();
      return undo(change, std::string(state_journal_name), *failed, "cannot write");
    }
    if (auto e = write_file(std::string(state_journal_temp_name), journal); e != 0)
      return undo(change, std::string(state_journal_name), e, "cannot write");
    if (::renameat(fd_, std::string(state_journal_temp_name).c_str(), fd_,
                   std::string(state_journal_name).c_str()) != 0)
      return undo(change, std::string(state_journal_name), errno, "cannot write");
    sync();
    return apply(change, hook);
  }

 private:
  state_dir() = default;

  void close() noexcept {
    if (lock_fd_ >= 0) ::close(std::exchange(lock_fd_, -1));  // releases the lock
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

  void sync() const noexcept { (void)::fsync(fd_); }

  static std::string pending_name(std::string_view name) {
    return fmt::format(".{}{}", name, state_pending_suffix);
  }

  /// What a commit cut off before its commit point leaves: pending days, a journal not yet
  /// renamed. (Not atomic_output_file's temporaries: serve and consume write their days that
  /// way without this lock, and one may be writing now.)
  static bool is_leftover(std::string_view name) {
    if (name == state_journal_temp_name) return true;
    if (!name.starts_with('.') || !name.ends_with(state_pending_suffix)) return false;
    return is_day_file_name(name.substr(1, name.size() - 1 - state_pending_suffix.size()));
  }

  static bool is_day_file_name(std::string_view name) {
    return name.ends_with(day_file_suffix) &&
           parse_utc_day(name.substr(0, name.size() - day_file_suffix.size())).has_value();
  }

  static std::optional<int> step(const state_commit_hook& hook, const std::string& what) {
    if (!hook) return std::nullopt;
    const int e = hook(what);
    if (e == 0) return std::nullopt;
    return e;
  }

  result<void> stopped() const {
    return make_error(error_code::read_failed, path_, 0, "the commit was stopped (test seam)");
  }

  /// Before the commit point: removes every pending file; the state is as it was.
  result<void> undo(const state_commit& change, const std::string& name, int e,
                    std::string_view what) {
    for (const auto& [put, bytes] : change.put) ::unlinkat(fd_, pending_name(put).c_str(), 0);
    ::unlinkat(fd_, std::string(state_journal_temp_name).c_str(), 0);
    sync();
    return make_error(error_code::read_failed, file_path(name), 0,
                      fmt::format("{}: {}; the state directory is as it was (no day changed)", what,
                                  std::strerror(e)));
  }

  /// Writes `bytes` to a new file `name` (a stale one removed first), fsynced. Returns errno.
  int write_file(const std::string& name, std::string_view bytes) const {
    ::unlinkat(fd_, name.c_str(), 0);
    const int fd = ::openat(fd_, name.c_str(),
                            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0) return errno;
    int e = 0;
    const char* data = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0 && e == 0) {
      const ssize_t n = ::write(fd, data, left);
      if (n < 0) {
        if (errno != EINTR) e = errno;
        continue;
      }
      data += n;
      left -= static_cast<std::size_t>(n);
    }
    if (e == 0 && ::fsync(fd) != 0) e = errno;
    if (::close(fd) != 0 && e == 0) e = errno;
    if (e != 0) ::unlinkat(fd_, name.c_str(), 0);
    return e;
  }

  /// After the commit point: renames, removals, then the journal goes. Idempotent, so a
  /// commit cut off here is carried out again by recover().
  result<void> apply(const state_commit& change, const state_commit_hook& hook) {
    const auto failed = [&](const std::string& name, int e) -> result<void> {
      return make_error(error_code::read_failed, file_path(name), 0,
                        fmt::format("cannot put the day in place: {}; opening {} for writing again "
                                    "completes the change",
                                    std::strerror(e), path_));
    };
    for (const auto& [name, bytes] : change.put) {
      if (auto e = step(hook, "apply " + name)) {
        if (*e < 0) return stopped();
        return failed(name, *e);
      }
      if (::renameat(fd_, pending_name(name).c_str(), fd_, name.c_str()) != 0) {
        const int e = errno;
        struct stat st {};
        if (e != ENOENT || ::fstatat(fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
          return failed(name, e);  // not renamed before either
      }
    }
    for (const auto& name : change.drop) {
      if (auto e = step(hook, "apply " + name)) {
        if (*e < 0) return stopped();
        return failed(name, *e);
      }
      if (::unlinkat(fd_, name.c_str(), 0) != 0 && errno != ENOENT) return failed(name, errno);
    }
    sync();
    ::unlinkat(fd_, std::string(state_journal_name).c_str(), 0);
    sync();
    return {};
  }

  result<state_commit> parse_journal(std::string_view text) const {
    const std::string path = file_path(state_journal_name);
    const auto bad = [&](std::string_view why) -> result<state_commit> {
      return make_error(error_code::read_failed, path, 0,
                        fmt::format("a damaged commit journal ({}): the state may be half "
                                    "changed; check its days and remove the journal",
                                    why));
    };
    state_commit plan;
    std::size_t line_number = 0;
    bool ended = false;
    while (!text.empty()) {
      const std::size_t end = text.find('\n');
      if (end == std::string_view::npos) return bad("a line without its end");
      const std::string_view line = text.substr(0, end);
      text.remove_prefix(end + 1);
      if (ended) return bad("lines after the end");
      if (line_number++ == 0) {
        if (line != "k8snetio state commit 1") return bad("not a k8snetio commit journal");
        continue;
      }
      if (line.starts_with("put ") && is_day_file_name(line.substr(4)))
        plan.put.emplace_back(std::string(line.substr(4)), std::string());
      else if (line.starts_with("drop ") && is_day_file_name(line.substr(5)))
        plan.drop.emplace_back(line.substr(5));
      else if (line == fmt::format("end {}", plan.put.size() + plan.drop.size()))
        ended = true;
      else
        return bad(fmt::format("line {}", line_number));
    }
    if (!ended) return bad("no end line");
    return plan;
  }

  result<std::vector<std::string>> entries() const {
    const int dup = ::openat(fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR* listing = dup >= 0 ? ::fdopendir(dup) : nullptr;
    if (!listing) {
      const int e = errno;
      if (dup >= 0) ::close(dup);
      return make_error(error_code::cannot_open, path_, 0,
                        fmt::format("cannot list the state directory: {}", std::strerror(e)));
    }
    std::vector<std::string> names;
    while (const dirent* entry = ::readdir(listing)) {
      const std::string_view name = entry->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    ::closedir(listing);
    return names;
  }

  static result<std::pair<std::string, file_identity>> read_descriptor(int fd,
                                                                       const std::string& path,
                                                                       std::uintmax_t cap) {
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return make_error(error_code::cannot_open, path, 0, "a state file must be a regular file");
    }
    if (static_cast<std::uintmax_t>(st.st_size) > cap) {
      ::close(fd);
      return make_error(error_code::input_too_large, path, 0,
                        fmt::format("{} bytes: larger than any state file", st.st_size));
    }
    std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < bytes.size()) {
      const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd);
        return make_error(error_code::read_failed, path, 0, "cannot read the state");
      }
      got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return std::pair{std::move(bytes), file_identity{st.st_dev, st.st_ino}};
  }

  std::string path_;
  int fd_ = -1;
  int lock_fd_ = -1;
  access mode_ = access::read;
};

/// The identity of the file or directory at `path` (links followed); nullopt when it has none.
inline std::optional<file_identity> identity_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return file_identity{st.st_dev, st.st_ino};
}

}  // namespace k8snetio::io
