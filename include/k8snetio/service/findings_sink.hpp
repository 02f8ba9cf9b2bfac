// L0: where the live detector writes findings. A sink says a write succeeded only once the
// findings are durable (a file: written, flushed and fsynced), and the detector marks a window
// emitted only then (issue 28 #4, #16; O6.1). A failed write is retried at the next emit.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>

#include <k8snetio/io/output/findings_writer.hpp>
#include <k8snetio/model/finding.hpp>

namespace k8snetio::service {

/// The findings sink concept.
class findings_sink {
 public:
  virtual ~findings_sink() = default;
  /// Writes `found` durably; false and `error` when it could not (nothing counts as written).
  virtual bool write(std::span<const finding> found, std::string& error) = 0;
};

/// Appends whole lines in an O format to a FILE* (standard output, or a file it fsyncs).
class file_findings_sink final : public findings_sink {
 public:
  /// `out` stays the caller's; `durable`: fsync after each write (a regular file).
  file_findings_sink(std::FILE* out, io::output_format format, bool durable,
                     io::findings_write_options options = {})
      : out_(out), format_(format), durable_(durable), options_(std::move(options)) {}

  bool write(std::span<const finding> found, std::string& error) override {
    if (found.empty()) return true;
    std::string text;
    io::write_findings(text, found, format_, options_);
    const long before = durable_ ? std::ftell(out_) : -1;
    if (std::fwrite(text.data(), 1, text.size(), out_) != text.size() || std::fflush(out_) != 0 ||
        (durable_ && ::fsync(::fileno(out_)) != 0)) {
      error = fmt::format("cannot write the findings: {}", std::strerror(errno));
      std::clearerr(out_);
      // Never half a line: cut back what a short write left, so a retry writes whole lines.
      if (before >= 0) (void)::ftruncate(::fileno(out_), before);
      return false;
    }
    return true;
  }

 private:
  std::FILE* out_;
  io::output_format format_;
  bool durable_;
  io::findings_write_options options_;
};

/// Keeps findings in memory (tests, embedding programs).
class memory_findings_sink final : public findings_sink {
 public:
  bool write(std::span<const finding> found, std::string& error) override {
    if (fail_next) {
      fail_next = false;
      error = "cannot write the findings: no space left on device (simulated)";
      return false;
    }
    findings.insert(findings.end(), found.begin(), found.end());
    return true;
  }
  std::vector<finding> findings;
  bool fail_next = false;  ///< the next write fails, as a full disk would
};

/// Calls a function for each batch (an embedding program's own output).
class callback_findings_sink final : public findings_sink {
 public:
  explicit callback_findings_sink(std::function<bool(std::span<const finding>)> f)
      : f_(std::move(f)) {}
  bool write(std::span<const finding> found, std::string& error) override {
    if (f_(found)) return true;
    error = "the findings callback refused the findings";
    return false;
  }

 private:
  std::function<bool(std::span<const finding>)> f_;
};

}  // namespace k8snetio::service
