// O6.1 — a file output that is all or nothing: the bytes go to a temporary file in the target's
// directory, which commit() flushes, fsyncs and renames over the target. Until then, and after
// any failure, destruction or kill, the target is exactly what it was. POSIX only.
//
// A target that exists and is no regular file (/dev/null, a FIFO, a terminal) cannot be
// replaced, so it is written in place. A symbolic link is followed: the file it names is
// replaced, and the link stays a link.
#pragma once

#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <tl/expected.hpp>

namespace k8snetio::io {

/// Why an output could not be written: the path, errno and one sentence.
struct output_error {
  std::string file;
  int error_number = 0;  ///< errno, 0 when not a system error
  std::string message;   ///< "cannot create a temporary file in /data: Permission denied"

  std::string what() const { return fmt::format("{}: {}", file, message); }
};

template <class T>
using output_result = tl::expected<T, output_error>;

namespace detail {

/// The temporary files that exist right now, so that a signal handler can remove them.
/// Fixed storage: the handler must not allocate or lock.
class temporary_file_registry {
 public:
  static constexpr std::size_t capacity = 16;

  static temporary_file_registry& instance() noexcept {
    static temporary_file_registry registry;
    return registry;
  }

  /// A slot number, or capacity when every slot is taken (the file is then not registered).
  std::size_t add(const std::string& path) noexcept {
    if (path.size() >= sizeof(slot::path)) return capacity;
    for (std::size_t i = 0; i < capacity; ++i) {
      bool expected = false;
      if (!slots_[i].claimed.compare_exchange_strong(expected, true)) continue;
      std::memcpy(slots_[i].path, path.c_str(), path.size() + 1);
      slots_[i].ready.store(true, std::memory_order_release);
      return i;
    }
    return capacity;
  }

  void remove(std::size_t index) noexcept {
    if (index >= capacity) return;
    slots_[index].ready.store(false, std::memory_order_release);
    slots_[index].claimed.store(false, std::memory_order_release);
  }

  /// Async-signal-safe: unlink() every registered path.
  void unlink_all() noexcept {
    for (auto& s : slots_)
      if (s.ready.load(std::memory_order_acquire)) ::unlink(s.path);
  }

 private:
  struct slot {
    std::atomic<bool> claimed{false};
    std::atomic<bool> ready{false};
    char path[PATH_MAX]{};
  };
  slot slots_[capacity];
};

extern "C" inline void remove_temporary_files_and_reraise(int signal_number) {
  temporary_file_registry::instance().unlink_all();
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

inline std::string errno_text(int error_number) { return std::strerror(error_number); }

inline bool write_all(int fd, const char* data, std::size_t size, int& error_number) noexcept {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      error_number = errno;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace detail

/// On SIGINT, SIGTERM (or the signals named), removes every atomic_output_file's temporary file
/// and then dies of the signal as before. Without it a killed run leaves a stray temporary
/// file, never a changed target. Call once, early in main().
inline void remove_temporary_outputs_on_signal(std::initializer_list<int> signals = {
                                                   SIGINT, SIGTERM, SIGHUP}) {
  detail::temporary_file_registry::instance();  // constructed before any handler can run
  for (int s : signals) {
    struct sigaction action {};
    action.sa_handler = detail::remove_temporary_files_and_reraise;
    sigemptyset(&action.sa_mask);
    action.sa_flags = static_cast<int>(SA_RESETHAND);  // an unsigned constant on glibc
    struct sigaction previous {};
    if (::sigaction(s, nullptr, &previous) == 0 && previous.sa_handler == SIG_IGN)
      continue;  // e.g. nohup: an ignored signal stays ignored
    ::sigaction(s, &action, nullptr);
  }
}

/// O6.1: the target is replaced by what was written only by commit(); otherwise it is left
/// exactly as it was. Buffered; not thread-safe.
class atomic_output_file {
 public:
  /// Creates the temporary file next to `target` (same permissions as the target if it
  /// exists, else 0666 less the umask).
  [[nodiscard]] static output_result<atomic_output_file> create(std::string target) {
    atomic_output_file file;
    file.target_ = std::move(target);
    if (file.target_.empty())
      return tl::unexpected(output_error{file.target_, 0, "empty output path"});

    struct stat st {};
    const bool exists = ::stat(file.target_.c_str(), &st) == 0;
    if (exists && S_ISDIR(st.st_mode))
      return tl::unexpected(output_error{file.target_, EISDIR, "is a directory"});
    if (exists && !S_ISREG(st.st_mode)) {  // a device or FIFO: written in place
      file.fd_ = ::open(file.target_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
      if (file.fd_ < 0) return tl::unexpected(system_error(file.target_, "cannot write", errno));
      file.in_place_ = true;
      return file;
    }
    // Through a symbolic link, the file it names is the one to replace.
    std::string final_path = file.target_;
    struct stat link {};
    if (exists && ::lstat(file.target_.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
      if (char* real = ::realpath(file.target_.c_str(), nullptr)) {
        final_path = real;
        std::free(real);
      }
    }
    file.final_path_ = final_path;

    const std::size_t slash = final_path.rfind('/');
    const std::string dir = slash == std::string::npos ? std::string(".")
                            : slash == 0               ? std::string("/")
                                                       : final_path.substr(0, slash);
    const std::string base = slash == std::string::npos ? final_path : final_path.substr(slash + 1);
    static std::atomic<unsigned> counter{0};
    for (int attempt = 0; attempt < 100; ++attempt) {
      // ".<name>.k8snetio-<pid>-<n>.tmp", the name cut to stay within NAME_MAX.
      std::string temp = fmt::format("{}.{}.k8snetio-{}-{}.tmp",
                                     slash == std::string::npos ? std::string() : dir + "/",
                                     base.substr(0, 200), ::getpid(), counter.fetch_add(1));
      file.fd_ = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
      if (file.fd_ >= 0) {
        file.temp_ = std::move(temp);
        break;
      }
      if (errno != EEXIST)
        return tl::unexpected(system_error(
            file.target_, fmt::format("cannot create a temporary file in {}", dir), errno));
    }
    if (file.fd_ < 0)
      return tl::unexpected(system_error(
          file.target_, fmt::format("cannot create a temporary file in {}", dir), EEXIST));
    file.slot_ = detail::temporary_file_registry::instance().add(file.temp_);
    if (exists) (void)::fchmod(file.fd_, st.st_mode & 07777);
    return file;
  }

  atomic_output_file(atomic_output_file&& other) noexcept { *this = std::move(other); }
  atomic_output_file& operator=(atomic_output_file&& other) noexcept {
    if (this != &other) {
      abandon();
      target_ = std::move(other.target_);
      final_path_ = std::move(other.final_path_);
      temp_ = std::move(other.temp_);
      buffer_ = std::move(other.buffer_);
      fd_ = std::exchange(other.fd_, -1);
      slot_ = std::exchange(other.slot_, detail::temporary_file_registry::capacity);
      in_place_ = other.in_place_;
      error_number_ = std::exchange(other.error_number_, 0);
    }
    return *this;
  }
  atomic_output_file(const atomic_output_file&) = delete;
  atomic_output_file& operator=(const atomic_output_file&) = delete;
  ~atomic_output_file() { abandon(); }

  /// Appends; an error is remembered and reported by commit().
  void write(std::string_view text) {
    if (fd_ < 0 || error_number_) return;
    if (buffer_.size() + text.size() > buffer_limit) {
      flush_buffer();
      if (text.size() > buffer_limit) {
        if (!error_number_) detail::write_all(fd_, text.data(), text.size(), error_number_);
        return;
      }
    }
    buffer_.append(text);
  }

  /// Flushes, fsyncs and renames the temporary file over the target. On failure the target is
  /// unchanged and the temporary file removed.
  [[nodiscard]] output_result<void> commit() {
    if (fd_ < 0) return tl::unexpected(output_error{target_, EBADF, "not open"});
    flush_buffer();
    if (!error_number_ && !in_place_ && ::fsync(fd_) != 0) error_number_ = errno;
    if (::close(std::exchange(fd_, -1)) != 0 && !error_number_) error_number_ = errno;
    if (error_number_) {
      const int e = error_number_;
      abandon();
      return tl::unexpected(system_error(target_, "cannot write", e));
    }
    if (in_place_) return {};
    if (::rename(temp_.c_str(), final_path_.c_str()) != 0) {
      const int e = errno;
      abandon();
      return tl::unexpected(system_error(target_, "cannot replace", e));
    }
    forget_temporary();
    sync_directory();
    return {};
  }

  /// Removes the temporary file (if any); the target stays as it was. Idempotent.
  void abandon() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    if (!temp_.empty()) ::unlink(temp_.c_str());
    forget_temporary();
    buffer_.clear();
  }

  const std::string& target() const noexcept { return target_; }
  /// The temporary file while one exists (empty when written in place or after commit).
  const std::string& temporary_path() const noexcept { return temp_; }
  /// False for a target that is no regular file, which is written in place (not atomically).
  bool atomic() const noexcept { return !in_place_; }

 private:
  static constexpr std::size_t buffer_limit = 1 << 16;

  atomic_output_file() = default;

  static output_error system_error(const std::string& file, std::string_view what, int e) {
    return output_error{file, e, fmt::format("{}: {}", what, detail::errno_text(e))};
  }

  void flush_buffer() {
    if (!buffer_.empty() && !error_number_ && fd_ >= 0)
      detail::write_all(fd_, buffer_.data(), buffer_.size(), error_number_);
    buffer_.clear();
  }

  void forget_temporary() noexcept {
    detail::temporary_file_registry::instance().remove(slot_);
    slot_ = detail::temporary_file_registry::capacity;
    temp_.clear();
  }

  // The rename is durable only once the directory is synced; a failure here loses nothing.
  void sync_directory() const noexcept {
    const std::size_t slash = final_path_.rfind('/');
    const std::string dir = slash == std::string::npos ? std::string(".")
                            : slash == 0               ? std::string("/")
                                                       : final_path_.substr(0, slash);
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)::fsync(fd);
    ::close(fd);
  }

  std::string target_;
  std::string final_path_;
  std::string temp_;
  std::string buffer_;
  int fd_ = -1;
  std::size_t slot_ = detail::temporary_file_registry::capacity;
  bool in_place_ = false;
  int error_number_ = 0;
};

}  // namespace k8snetio::io
