// S1, S1.1, S1.2: every metric input of a run read into a push engine (detector,
// baseline_runner, daily_baseline_runner) with the exact answer whatever the inputs' order. The
// engine first streams them, closing each D1 group per series; when they turn out to be in
// neither time nor series order (the engine's failure() is drop_reason::out_of_order), they are
// all read again into a fresh engine that holds every group until the end. Standard input is
// kept in a temporary file for that second pass.
//
//     auto read = k8snetio::io::read_inputs_exactly<k8snetio::baseline_runner<2>>(
//         {"a.csv", "-"}, {}, [&](k8snetio::group_closing closing) {
//           options.span.closing = closing;
//           return std::make_unique<k8snetio::baseline_runner<2>>(rule, options);
//         });
//     if (!read) … read.error().what() …;  // else read->engine->finish(), read->summary
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <stdlib.h>  // mkstemp
#include <unistd.h>  // close

#include <k8snetio/io/error.hpp>
#include <k8snetio/io/input/read_inputs.hpp>
#include <k8snetio/model/drop_reason.hpp>
#include <k8snetio/model/metric_point.hpp>
#include <k8snetio/stages/span_aggregator.hpp>

namespace k8snetio::io {

/// What read_inputs_exactly gives back: the engine that read every point (the second one when
/// there were two passes), what its pass read, and whether a second pass was taken.
template <class Engine>
struct exact_read {
  std::unique_ptr<Engine> engine;
  read_summary summary;
  bool second_pass = false;
};

/// A push engine read_inputs_exactly can drive: add() says whether it used a point, failure()
/// says when its answer can no longer be exact.
template <class Engine>
concept exact_read_engine = requires(Engine& e, const metric_point& p) {
  { e.add(p) } -> std::convertible_to<add_outcome>;
  { e.failure() } -> std::convertible_to<std::optional<drop_reason>>;
};

namespace detail {

/// A temporary file removed when it goes out of scope (S1.2: standard input kept for a second
/// pass), in $TMPDIR or /tmp.
class spool_file {
 public:
  spool_file() {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir && *dir ? dir : "/tmp") + "/k8snetio-stdin-XXXXXX";
    const int fd = ::mkstemp(path_.data());
    if (fd >= 0) {
      file_ = ::fdopen(fd, "w+b");
      if (!file_) ::close(fd);
    }
    if (!file_) {
      if (fd >= 0) std::remove(path_.c_str());
      path_.clear();
    }
  }
  spool_file(const spool_file&) = delete;
  spool_file& operator=(const spool_file&) = delete;
  ~spool_file() {
    if (file_) std::fclose(file_);
    if (!path_.empty()) std::remove(path_.c_str());
  }
  std::FILE* get() const noexcept { return file_; }
  const std::string& path() const noexcept { return path_; }
  bool flush() const noexcept { return file_ && std::fflush(file_) == 0; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

/// One pass: every point to `engine.add`; under reader_options::strict the first point the
/// engine refuses ends the read (a point that only ends the streaming attempt, out of order or
/// past the memory limit, is not an error: the caller decides).
template <class Engine>
result<read_summary> read_pass(Engine& engine, const std::vector<std::string>& paths,
                               const input_options& options) {
  const bool strict = options.reader.strict;
  return read_inputs(paths, options, [&engine, strict](const metric_point& p) -> result<void> {
    const add_outcome used = engine.add(p);
    if (!strict || used || used.reason == drop_reason::none ||
        used.reason == drop_reason::out_of_order || used.reason == drop_reason::memory_limit)
      return {};
    return make_error(error_code::bad_row, {}, 0, std::string(to_string(used.reason)));
  });
}

}  // namespace detail

/// Reads `paths` ("-": standard input) into the engine `make(closing)` builds (a
/// std::unique_ptr<Engine>), exactly whatever their order (S1): streamed once with
/// group_closing::by_series, and read again into `make(group_closing::at_finish)` when they are
/// in neither time nor series order. `hold_from_start`: one pass that holds every group from
/// the start (the caller knows the input is unordered). Errors: those of read_inputs; read_failed
/// when standard input cannot be kept for the second pass; memory_limit when holding the input
/// needs more groups than the engine's span_options::max_open_groups allows.
template <exact_read_engine Engine, class Make>
requires std::convertible_to<std::invoke_result_t<Make&, group_closing>, std::unique_ptr<Engine>>
[[nodiscard]] result<exact_read<Engine>> read_inputs_exactly(const std::vector<std::string>& paths,
                                                             input_options options, Make&& make,
                                                             bool hold_from_start = false) {
  exact_read<Engine> out;
  out.engine = make(hold_from_start ? group_closing::at_finish : group_closing::by_series);
  const bool reads_stdin = std::find(paths.begin(), paths.end(), "-") != paths.end();
  std::optional<detail::spool_file> spool;
  if (reads_stdin && !hold_from_start) {
    spool.emplace();
    if (!spool->get())
      return make_error(error_code::read_failed, "standard input", 0,
                        "cannot create a temporary file to keep it for a second pass");
    options.spool = spool->get();
  }
  auto first = detail::read_pass(*out.engine, paths, options);
  if (!first) return tl::unexpected(std::move(first.error()));
  out.summary = std::move(*first);
  if constexpr (requires { out.engine->end_of_input(); }) out.engine->end_of_input();
  out.second_pass = out.engine->failure() == drop_reason::out_of_order;
  if (out.second_pass) {
    std::vector<std::string> again = paths;
    if (spool) {
      if (!spool->flush())
        return make_error(error_code::read_failed, "standard input", 0,
                          "cannot keep a copy for a second pass (disk full?)");
      std::replace(again.begin(), again.end(), std::string("-"), spool->path());
    }
    options.spool = nullptr;
    out.engine = make(group_closing::at_finish);
    auto second = detail::read_pass(*out.engine, again, options);
    if (!second) return tl::unexpected(std::move(second.error()));
    out.summary = std::move(*second);
  }
  if (out.engine->failure() == drop_reason::memory_limit)
    return make_error(error_code::memory_limit, paths.empty() ? std::string() : paths.front(), 0,
                      "the input is in neither time nor series order, and holding it needs more "
                      "open groups than span_options::max_open_groups allows: sort it by time "
                      "or raise the limit");
  return out;
}

}  // namespace k8snetio::io
