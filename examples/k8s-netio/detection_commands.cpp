// `k8s-netio baseline` and `k8s-netio detect`: metric inputs streamed through the library's
// push APIs (baseline_runner::add, detector::add), results to stdout or -o, one summary line on
// stderr.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <unistd.h>  // access

#include <k8snetio/engine/baseline_runner.hpp>
#include <k8snetio/engine/detector.hpp>
#include <k8snetio/engine/rolling_baseline.hpp>
#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/io/baseline_state_dir.hpp>
#include <k8snetio/io/csv.hpp>
#include <k8snetio/io/input/allowlist.hpp>
#include <k8snetio/io/input/read_exactly.hpp>
#include <k8snetio/io/input/read_inputs.hpp>
#include <k8snetio/io/output/atomic_file.hpp>
#include <k8snetio/io/output/findings_writer.hpp>
#include <k8snetio/io/output/unbaselined_csv.hpp>
#include <k8snetio/k8snetio.hpp>

#include "cli_support.hpp"
#include "commands.hpp"

namespace k8snetio_cli {
namespace {

namespace io = k8snetio::io;

const k8snetio::rule_definition<2>& rule_named(std::string_view name) {
  return name == "ratio" ? k8snetio::network_io_ratio : k8snetio::anomalous_network_io;
}

io::input_options make_input_options(const common_options& o) {
  io::input_options in;
  in.reader.metric_name = o.metric;
  in.reader.strict = o.strict;
  in.reader.default_cluster = o.default_cluster;
  in.reader.default_node = o.default_node;
  in.reader.epoch_unit = io::parse_time_unit(o.time_unit).value_or(io::time_unit::seconds);
  in.reader.otlp_counter = o.otlp_counter == "rate"  ? io::otlp_counter_mode::rate
                           : o.otlp_counter == "raw" ? io::otlp_counter_mode::raw
                                                     : io::otlp_counter_mode::delta;
  if (!o.input_format.empty()) in.format = io::parse_input_format(o.input_format);
  in.earliest = o.earliest;
  in.latest = o.latest;
  in.parallel.threads = o.threads;
  return in;
}

int fail(const std::string& message) {
  print_diagnostic("k8s-netio: error: {}\n", quoted_for_diagnostic(message));
  return exit_failure;
}

/// library.md A6: the library's messages name its options (reader_options::default_node, …);
/// the program names the flag that sets each one.
std::string with_flags(std::string text) {
  static constexpr std::pair<std::string_view, std::string_view> flags[] = {
      {"set reader_options::default_cluster", "set --default-cluster"},
      {"set reader_options::default_node", "set --default-node"},
      {"set reader_options::epoch_unit to ", "set --time-unit "},
      {"load it with load_baseline_csv, or force a format with input_options::format",
       "pass it with --baseline, or force a format with --input-format"},
      {"built for another rule?", "built with another --rule?"}};
  for (const auto& [library, flag] : flags)
    for (std::size_t at = text.find(library); at != std::string::npos;
         at = text.find(library, at + flag.size()))
      text.replace(at, library.size(), flag);
  return text;
}

int fail(const io::input_error& error) { return fail(with_flags(error.what())); }

/// --max-memory MiB as a number of open D1 groups (about 64 bytes each, with their index).
std::size_t max_open_groups(std::uint64_t mebibytes) {
  return static_cast<std::size_t>(mebibytes * (std::uint64_t{1} << 20) / 64);
}

/// S1: the span options of a batch run: stream per series, or hold from the start.
void set_batch_closing(k8snetio::span_options& span, const common_options& o) {
  span.closing =
      o.unordered ? k8snetio::group_closing::at_finish : k8snetio::group_closing::by_series;
  span.max_open_groups = max_open_groups(o.max_memory);
  span.max_series = static_cast<std::size_t>(o.max_series);
}

/// S1, S1.2: reads the inputs into the engine `make(closing)` builds, exactly whatever their
/// order (io::read_inputs_exactly: a second pass into an engine that holds every bucket when
/// they are in neither time nor series order; --unordered holds from the start). Under --strict
/// the first point the engine refuses ends the read. A progress line shows on a terminal. Sets
/// `second_pass` when it took one.
template <class Engine, class Make>
io::result<std::unique_ptr<Engine>> read_exactly(const common_options& o, run_summary& summary,
                                                 bool& second_pass, Make&& make) {
  io::input_options in = make_input_options(o);
  progress_line progress;
  if (progress.enabled())
    in.progress = [&progress](const io::input_progress& at) {
      progress.set_total(at.total_bytes);
      progress.update(at.bytes, at.rows);
    };
  auto read = io::read_inputs_exactly<Engine>(o.inputs, std::move(in), make, o.unordered);
  if (!read) {
    if (read.error().code == io::error_code::memory_limit)  // the library's limit: --max-memory
      return io::make_error(
          io::error_code::memory_limit, read.error().file, 0,
          fmt::format("the input is in neither time nor series order, and holding it needs more "
                      "than --max-memory {} MiB: sort it by time (for example sort -t, -k1,1n) "
                      "or raise --max-memory",
                      o.max_memory));
    return tl::unexpected(std::move(read.error()));
  }
  summary = run_summary{};
  summary.aggregation = read->engine->stats();
  summary.inputs = read->summary.inputs;
  summary.report = std::move(read->summary.report);
  summary.outside_range = read->summary.outside_range;
  second_pass = read->second_pass;
  return std::move(read->engine);
}

/// library.md A1.4: puts the points whose direction fed no measure of the rule in the summary;
/// the sentence of the error when no point of the input fed the rule at all.
std::optional<std::string> note_unmapped(
    run_summary& summary, const common_options& o, std::uint64_t unmapped,
    const std::vector<std::pair<std::string, std::uint64_t>>& named) {
  summary.unmapped_direction = unmapped;
  summary.unmapped_directions.clear();
  for (const auto& direction : named) summary.unmapped_directions.push_back(direction.first);
  const auto& stats = summary.aggregation;
  if (stats.aggregated != unmapped || unmapped + stats.other_metric == 0) return std::nullopt;
  return fmt::format(
      "no point of the input feeds the {} rule: each has another metric than --metric '{}' or "
      "a direction the rule does not read (it reads 'transmit' and 'receive'); {}",
      o.rule, o.metric, with_flags(summary.line()));
}

void print_second_pass(bool second_pass) {
  if (second_pass)
    fmt::print(stderr,
               "k8s-netio: the input is in neither time nor series order: it was read a second "
               "time with every bucket held (the answer is exact; time- or series-ordered "
               "input streams in less memory)\n");
}

void print_summary(const run_summary& summary, std::uint64_t max_series) {
  print_diagnostic("k8s-netio: {}\n", with_flags(summary.line()));
  if (summary.aggregation.series_limit)  // S5.1: once, naming the cap and the option
    print_diagnostic(
        "k8s-netio: warning: {} points of series beyond the {} held at once were refused "
        "(--max-series {}); what was accepted is exact, raise --max-series to take them all\n",
        with_commas(summary.aggregation.series_limit), with_commas(max_series), max_series);
  for (const std::string& hint : summary.report.hints())  // I3.1: which option supplies it
    print_diagnostic("k8s-netio: hint: {}\n", quoted_for_diagnostic(with_flags(hint)));
}

/// D5.4: how many keys the summary names.
constexpr std::size_t max_named_unbaselined = 5;

/// D5.4: "3 keys have no baseline row and cannot alert (new services or clusters): prod:a,
/// prod:b, …; all of them in FILE" — nothing when every key has one.
void print_unbaselined(const std::vector<k8snetio::unbaselined_key>& keys,
                       const std::string& file) {
  if (keys.empty()) return;
  std::string names;
  for (std::size_t i = 0; i < keys.size() && i < max_named_unbaselined; ++i)
    names += fmt::format("{}'{}'", i ? ", " : "", keys[i].key);
  if (keys.size() > max_named_unbaselined) names += ", …";
  const std::string where = file.empty() ? std::string("; --unbaselined FILE lists them all")
                                         : fmt::format("; all of them in {}", file);
  print_diagnostic(
      "k8s-netio: {} key{} {} no baseline row and cannot alert (new services or "
      "clusters: cold start, D5.4): {}{}\n",
      with_commas(keys.size()), keys.size() == 1 ? "" : "s", keys.size() == 1 ? "has" : "have",
      quoted_for_diagnostic(names), quoted_for_diagnostic(where));
}

k8snetio::baseline_run_options baseline_options_of(const baseline_command_options& o) {
  k8snetio::baseline_run_options options;
  options.span.span_seconds = o.span;
  options.span.metric_name = o.metric;
  set_batch_closing(options.span, o);
  options.service_pattern = o.service_pattern;
  options.numerics.numerics = o.numerics == "stable" ? k8snetio::baseline_numerics::stable
                                                     : k8snetio::baseline_numerics::splunk;
  return options;
}

/// B7 and the closing line of every baseline mode.
void print_baseline_written(const k8snetio::baseline_result<2>& result, const std::string& rule) {
  if (!result.overflowed.empty())
    print_diagnostic("k8s-netio: {} key{} whose sums overflowed have empty cells (B7), first: {}\n",
                     with_commas(result.overflowed.size()),
                     result.overflowed.size() == 1 ? "" : "s",
                     quoted_for_diagnostic(result.overflowed.front()));
  print_diagnostic("k8s-netio: wrote a baseline of {} key{} ({} rule)\n",
                   with_commas(result.table.size()), result.table.size() == 1 ? "" : "s", rule);
}

// ---- S6: the state directory, one snapshot file per UTC day -------------------------------

// The day files themselves (names, checks, atomic writes) are the library's:
// io/baseline_state_dir.hpp, shared with serve's and consume's learners.
using io::day_file_name;

std::string day_range(const std::vector<std::int64_t>& days) {
  if (days.empty()) return "no day";
  if (days.size() == 1) return k8snetio::utc_day_text(days.front());
  return fmt::format("{} days, {} to {}", days.size(), k8snetio::utc_day_text(days.front()),
                     k8snetio::utc_day_text(days.back()));
}

/// Writes the table of `rolling` to -o (or standard output) atomically. `after_commit`: the
/// state was changed already, so a failure here says how to write the table again.
int write_rolling_table(const baseline_command_options& o,
                        const k8snetio::rolling_baseline<2>& rolling, output_file& out,
                        bool after_commit = false) {
  const auto result = rolling.result();
  std::string text;
  io::write_baseline_csv(text, result.table);
  out.write(text);
  std::string error;
  if (!out.close(error))
    return fail(after_commit
                    ? fmt::format("{} (the state {} was updated: `k8s-netio baseline --state {} "
                                  "-o FILE` writes its table again)",
                                  error, o.state, o.state)
                    : error);
  print_baseline_written(result, o.rule);
  return exit_ok;
}

/// S1.4: the newest day a state may hold now, by this machine's clock.
std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// S1.4: a day file from the future is refused, naming it: it would make every real day
/// "past the horizon".
std::optional<std::string> future_day_file(const std::string& file, std::int64_t day,
                                           std::int64_t now) {
  if (day <= k8snetio::latest_plausible_day(now)) return std::nullopt;
  return fmt::format(
      "{}: holds {}, a day after today ({} UTC by this machine's clock): a state from the "
      "future is refused (S1.4); remove the file or correct the clock",
      file, k8snetio::utc_day_text(day), k8snetio::utc_day_text(k8snetio::utc_day_of(now)));
}

/// `baseline --state DIR [--add FILE...]`: S6. The directory is locked for the whole run and
/// changed all or nothing (io::state_dir).
int run_baseline_state(const baseline_command_options& o) {
  const auto& rule = rule_named(o.rule);
  const auto options = baseline_options_of(o);
  k8snetio::rolling_baseline_options horizon;
  horizon.horizon_days = o.horizon;
  k8snetio::rolling_baseline<2> rolling(rule, options, horizon);
  const std::int64_t now = now_seconds();

  std::error_code ec;
  const bool exists = std::filesystem::exists(o.state, ec);
  if (exists && !std::filesystem::is_directory(o.state, ec))
    return fail(fmt::format("{}: --state must name a directory", o.state));
  if (!exists && o.add.empty())
    return fail(fmt::format("{}: no such state directory (the first --add creates it)", o.state));

  // An existing directory is locked before the input is read (a second run is refused at
  // once); a new one right after it is created. A run that only reads takes a shared lock
  // when it cannot write the directory (and then cannot finish an interrupted change).
  std::optional<io::state_dir> dir;
  std::string recovered;
  const auto open_dir = [&](io::state_dir::access mode) -> std::optional<std::string> {
    auto opened = io::state_dir::open(o.state, mode);
    if (!opened) return opened.error().what();
    dir.emplace(std::move(*opened));
    if (mode == io::state_dir::access::read) {
      if (dir->has_interrupted_commit())
        return fmt::format(
            "{}: a change of the state was cut off; a `k8s-netio baseline --state {}` run by a "
            "user who can write the directory completes it",
            o.state, o.state);
      return std::nullopt;
    }
    auto note = dir->recover();
    if (!note) return note.error().what();
    recovered = std::move(*note);
    return std::nullopt;
  };
  if (exists) {
    const bool writable = !o.add.empty() || ::access(o.state.c_str(), W_OK) == 0;
    if (auto failed =
            open_dir(writable ? io::state_dir::access::write : io::state_dir::access::read))
      return fail(*failed);
  }

  output_file out;
  std::string error;
  if (!out.open(o.output, error)) return fail(error);

  // The new days first: nothing is written before the whole input has been read.
  std::map<std::int64_t, k8snetio::baseline_builder<2>> added;
  run_summary summary;
  bool second_pass = false;
  if (!o.add.empty()) {
    // S1.4: a point stamped after the clock (plus the same 5 minutes as --max-future) would
    // make a day from the future, and every real day "past the horizon": it is refused.
    const double latest = static_cast<double>(now + k8snetio::baseline_max_future_seconds);
    auto runner = read_exactly<k8snetio::daily_baseline_runner<2>>(
        o, summary, second_pass, [&](k8snetio::group_closing closing) {
          auto run = options;
          run.span.closing = closing;
          auto made = std::make_unique<k8snetio::daily_baseline_runner<2>>(rule, run);
          made->refuse_after(latest);
          return made;
        });
    if (!runner) return fail(runner.error());
    if (const auto future = (*runner)->future_points())
      return fail(fmt::format(
          "{}: {} point{} stamped after this machine's clock (the first at {:.0f}, in {}; the "
          "clock says {}): a baseline input from the future is refused (S1.4) and nothing was "
          "written; drop those rows or correct the clock",
          o.add.size() == 1 ? o.add.front() : std::string("the input"), with_commas(future),
          future == 1 ? " is" : "s are", *(*runner)->first_future_time(),
          k8snetio::utc_day_text(k8snetio::utc_day_of(
              static_cast<std::int64_t>(std::floor(*(*runner)->first_future_time())))),
          k8snetio::utc_day_text(k8snetio::utc_day_of(now))));
    added = (*runner)->finish();
    summary.aggregation = (*runner)->stats();
    const auto unmapped = (*runner)->unmapped();
    if (auto none = note_unmapped(summary, o, unmapped.points(), unmapped.named()))
      return fail(*none);  // library.md A1.4: the state is left as it was
  }

  if (!dir) {  // a new state directory, made now that the input is in
    std::filesystem::create_directories(o.state, ec);
    if (ec)
      return fail(fmt::format("{}: cannot create the state directory: {}", o.state, ec.message()));
    if (auto failed = open_dir(io::state_dir::access::write)) return fail(*failed);
  }
  auto listed = dir->list();
  if (!listed) return fail(listed.error());
  const std::map<std::int64_t, std::string>& files = *listed;
  for (const auto& [day, name] : files)
    if (auto future = future_day_file(dir->file_path(name), day, now)) return fail(*future);
  if (!o.replace)
    for (const auto& [day, state] : added)
      if (auto it = files.find(day); it != files.end())
        return fail(
            fmt::format("{}: the state already holds {} (--replace replaces it with the input's)",
                        dir->file_path(it->second), k8snetio::utc_day_text(day)));
  if (files.empty() && added.empty())
    return fail(fmt::format("{}: holds no day state{}", o.state,
                            o.add.empty() ? "" : ", and the input has no point to add"));

  // Only the days inside the horizon of the newest day are read; older files are deleted.
  std::int64_t newest = std::numeric_limits<std::int64_t>::min();
  if (!files.empty()) newest = files.rbegin()->first;
  if (!added.empty()) newest = std::max(newest, added.rbegin()->first);
  const std::int64_t oldest = newest - (o.horizon - 1);
  std::vector<std::int64_t> dropped, past_horizon;
  for (const auto& [day, name] : files) {
    if (day < oldest) {
      dropped.push_back(day);
      continue;
    }
    if (added.contains(day)) continue;  // --replace: the input's day stands instead
    auto bytes = dir->read(name);
    if (!bytes) return fail(bytes.error());
    auto opened = io::open_day_bytes(rolling, bytes->first, dir->file_path(name), day);
    if (!opened) return fail(opened.error());
    rolling.add_day(opened->first, opened->second);
  }
  std::vector<std::int64_t> new_days;
  for (const auto& [day, state] : added) {
    if (day < oldest) {
      past_horizon.push_back(day);
      continue;
    }
    rolling.add_day(day, state);
    new_days.push_back(day);
  }

  if (!o.add.empty()) {
    // All or nothing: every new day and every removal is one commit of the directory.
    io::state_commit change;
    for (std::int64_t day : new_days)
      change.put.emplace_back(day_file_name(day), rolling.save_day(day));
    for (std::int64_t day : dropped) change.drop.push_back(files.at(day));
    if (auto committed = dir->commit(change); !committed) return fail(committed.error());
    print_summary(summary, o.max_series);
    print_second_pass(second_pass);
  }
  if (!recovered.empty())
    print_diagnostic("k8s-netio: state {}: {}\n", quoted_for_diagnostic(o.state),
                     quoted_for_diagnostic(recovered));
  print_diagnostic(
      "k8s-netio: state {}: {}{}{}{}\n", quoted_for_diagnostic(o.state), day_range(rolling.days()),
      new_days.empty() ? "" : fmt::format("; added {}", day_range(new_days)),
      dropped.empty()
          ? ""
          : fmt::format("; dropped {} past the {}-day horizon", day_range(dropped), o.horizon),
      past_horizon.empty()
          ? ""
          : fmt::format("; not kept, already past the horizon: {}", day_range(past_horizon)));
  return write_rolling_table(o, rolling, out, !o.add.empty());
}

/// `baseline --merge STATE...`: K6, S4.1. The same day in several states is added up, in the
/// order the states are given. The same file or directory twice (by any path or link) is
/// refused: it would count every row twice. Each directory is read under a shared lock.
int run_baseline_merge(const baseline_command_options& o) {
  const auto& rule = rule_named(o.rule);
  k8snetio::rolling_baseline_options horizon;
  horizon.horizon_days = o.horizon;
  k8snetio::rolling_baseline<2> rolling(rule, baseline_options_of(o), horizon);
  const std::int64_t now = now_seconds();
  output_file out;
  std::string error;
  if (!out.open(o.output, error)) return fail(error);
  std::map<io::file_identity, std::string> seen;  // every state and day file read, by identity
  const auto first_time = [&](const io::file_identity& id,
                              const std::string& path) -> std::optional<std::string> {
    auto [it, fresh] = seen.emplace(id, path);
    if (fresh) return std::nullopt;
    return fmt::format("{}: the same {} as {}: merging it twice would count every row twice (S4.1)",
                       path, std::filesystem::is_directory(path) ? "directory" : "file",
                       it->second);
  };
  const auto add_day = [&](const std::string& bytes, const std::string& path,
                           std::optional<std::int64_t> named_day) -> std::optional<std::string> {
    auto opened = io::open_day_bytes(rolling, bytes, path, named_day);
    if (!opened) return opened.error().what();
    if (auto future = future_day_file(path, opened->first, now)) return future;
    rolling.add_day(opened->first, opened->second);
    return std::nullopt;
  };
  std::size_t files_read = 0;
  for (const std::string& state : o.merge) {
    const auto id = io::identity_of(state);
    if (!id) return fail(fmt::format("{}: cannot read the state: {}", state, std::strerror(errno)));
    if (auto twice = first_time(*id, state)) return fail(*twice);
    std::error_code ec;
    if (std::filesystem::is_directory(state, ec)) {
      auto dir = io::state_dir::open(state, io::state_dir::access::read);
      if (!dir) return fail(dir.error());
      if (dir->has_interrupted_commit())
        return fail(fmt::format(
            "{}: a change of the state was cut off; `k8s-netio baseline --state {}` completes it",
            state, state));
      auto listed = dir->list();
      if (!listed) return fail(listed.error());
      if (listed->empty()) return fail(fmt::format("{}: holds no day state", state));
      for (const auto& [day, name] : *listed) {
        auto bytes = dir->read(name);
        if (!bytes) return fail(bytes.error());
        const std::string path = dir->file_path(name);
        if (auto twice = first_time(bytes->second, path)) return fail(*twice);
        if (auto failed = add_day(bytes->first, path, day)) return fail(*failed);
        ++files_read;
      }
    } else {
      auto bytes = io::read_state_file(state);
      if (!bytes) return fail(bytes.error());
      if (auto failed = add_day(*bytes, state, std::nullopt)) return fail(*failed);
      ++files_read;
    }
  }
  const auto past = rolling.drop_past_horizon();
  print_diagnostic("k8s-netio: merged {} state file{} of {} state{}: {}{}\n",
                   with_commas(files_read), files_read == 1 ? "" : "s", o.merge.size(),
                   o.merge.size() == 1 ? "" : "s", day_range(rolling.days()),
                   past.empty() ? ""
                                : fmt::format("; left out {} past the {}-day horizon",
                                              day_range(past), o.horizon));
  return write_rolling_table(o, rolling, out);
}

}  // namespace

int run_baseline(const baseline_command_options& o) {
  if (!o.merge.empty()) return run_baseline_merge(o);
  if (!o.state.empty()) return run_baseline_state(o);
  const auto& rule = rule_named(o.rule);
  k8snetio::baseline_run_options options = baseline_options_of(o);

  output_file out;
  std::string error;
  if (!out.open(o.output, error)) return fail(error);

  run_summary summary;
  bool second_pass = false;
  auto runner = read_exactly<k8snetio::baseline_runner<2>>(
      o, summary, second_pass, [&](k8snetio::group_closing closing) {
        options.span.closing = closing;
        return std::make_unique<k8snetio::baseline_runner<2>>(rule, options);
      });
  if (!runner) return fail(runner.error());

  auto result = (*runner)->finish();
  summary.aggregation = result.stats;
  if (auto none = note_unmapped(summary, o, result.unmapped_direction, result.unmapped_directions))
    return fail(*none);  // library.md A1.4: nothing is written
  std::string text;
  io::write_baseline_csv(text, result.table);
  out.write(text);
  if (!out.close(error)) return fail(error);
  print_summary(summary, o.max_series);
  print_second_pass(second_pass);
  print_baseline_written(result, o.rule);
  return exit_ok;
}

int run_detect(const detect_command_options& o) {
  const auto& rule = rule_named(o.rule);

  // The baseline first: a bad table ends the run before any input is read. It is read in
  // chunks under a size cap (S5.2); a table without the rule's columns is refused.
  auto table = io::load_baseline_csv<2>(o.baseline, *rule.measures);
  if (!table) return fail(table.error());

  k8snetio::detection_options options;
  options.span.span_seconds = o.span;
  options.span.metric_name = o.metric;
  options.service_pattern = o.service_pattern;
  options.scoring.sigma = o.sigma;
  options.scoring.order = o.measure_order == "table" ? k8snetio::measure_order::table
                                                     : k8snetio::measure_order::lexicographic;
  options.scoring.zero_stdev = o.zero_stdev == "inf" ? k8snetio::zero_stdev_policy::print_inf
                                                     : k8snetio::zero_stdev_policy::drop_row;
  options.min_count = o.min_count;
  options.window_seconds = o.window;
  set_batch_closing(options.span, o);
  using detector_type = k8snetio::detector<2, k8snetio::baseline_table<2>>;

  const auto format = io::parse_output_format(o.format);
  if (!format) return fail(format.error());
  // O5: the report's charts draw each finding's pod in every bucket of its window.
  options.keep_finding_series = *format == io::output_format::html;

  // D8.1: the allowlist, like the baseline, before any input is read; a bad line ends the run.
  auto suppressed = std::make_shared<std::uint64_t>(0);
  if (!o.allowlist.empty()) {
    auto list = io::load_allowlist(o.allowlist);
    if (!list) return fail(list.error());
    options.filter =
        io::allowlist_filter(std::make_shared<const io::allowlist>(std::move(*list)), suppressed);
  }

  output_file out;
  std::string error;
  if (!out.open(o.output, error)) return fail(error);
  output_file unbaselined_out;  // D5.4, replaced only when the run succeeds (O6.1)
  if (!o.unbaselined.empty() && !unbaselined_out.open(o.unbaselined, error)) return fail(error);

  run_summary summary;
  bool second_pass = false;
  auto detector =
      read_exactly<detector_type>(o, summary, second_pass, [&](k8snetio::group_closing closing) {
        options.span.closing = closing;
        *suppressed = 0;  // a second pass counts afresh
        return std::make_unique<detector_type>(rule, *table, options);
      });
  if (!detector) return fail(detector.error());

  auto result = (*detector)->finish();
  summary.aggregation = result.stats;
  if (auto none = note_unmapped(summary, o, result.unmapped_direction, result.unmapped_directions))
    return fail(*none);
  std::string text;
  io::findings_write_options write_options;
  write_options.csv_formula_guard = !o.csv_raw;  // O6.5
  write_options.hec_index = o.hec_index;         // O3, O3.1
  if (*format == io::output_format::html) {      // O5: the run's summary on the page
    auto& report = write_options.report;
    report.input_summary = with_flags(summary.line());
    if (result.stats.first_bucket && result.stats.last_bucket) {
      report.window_start = *result.stats.first_bucket;
      report.window_end = *result.stats.last_bucket + o.span;
    }
    report.unbaselined = result.unbaselined.size();
    for (std::size_t i = 0; i < result.unbaselined.size() && i < max_named_unbaselined; ++i)
      report.unbaselined_first.push_back(result.unbaselined[i].key);
    report.suppressed = *suppressed;
    report.sigma = o.sigma;
    report.span_seconds = o.span;
  }
  io::write_findings(text, result.findings, *format, write_options);
  out.write(text);
  if (!out.close(error)) return fail(error);
  if (!o.unbaselined.empty()) {
    std::string keys;
    io::write_unbaselined_csv(keys, result.unbaselined, !o.csv_raw);
    unbaselined_out.write(keys);
    if (!unbaselined_out.close(error)) return fail(error);
  }
  print_summary(summary, o.max_series);
  print_second_pass(second_pass);
  print_unbaselined(result.unbaselined, o.unbaselined);
  std::string suppressed_note;
  if (!o.allowlist.empty())
    suppressed_note = fmt::format(", {} suppressed by the allowlist", with_commas(*suppressed));
  print_diagnostic("k8s-netio: {} finding{}{} ({} rule, baseline of {} key{})\n",
                   with_commas(result.findings.size()), result.findings.size() == 1 ? "" : "s",
                   suppressed_note, o.rule, with_commas(table->size()),
                   table->size() == 1 ? "" : "s");
  return exit_ok;
}

}  // namespace k8snetio_cli
