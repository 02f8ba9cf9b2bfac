// S6, K6, L8: a rolling baseline on disk, one checked snapshot file per UTC day
// (DIR/YYYY-MM-DD.k8snetio-day, as `rolling_baseline::save_day` writes it). `k8s-netio baseline
// --state DIR` keeps one; `serve --state` and `consume --baseline-state` write their learners'
// complete days the same way, and `baseline --merge DIR...` combines any of them (S4.1).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

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
inline result<std::map<std::int64_t, std::string>> list_day_files(const std::string& dir) {
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
inline result<std::string> read_state_file(const std::string& path) {
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

/// Opens one day file, checking it (S4) and, when `named_day` is given, that it holds the day
/// its name says.
template <std::size_t N>
result<std::pair<std::int64_t, baseline_builder<N>>> open_day_file(
    const rolling_baseline<N>& rolling, const std::string& path,
    std::optional<std::int64_t> named_day) {
  auto bytes = read_state_file(path);
  if (!bytes) return tl::unexpected(bytes.error());
  try {
    auto day = rolling.open_day(*bytes);
    if (named_day && day.first != *named_day)
      return make_error(
          error_code::read_failed, path, 0,
          fmt::format("holds the day {}, not the one its name says", utc_day_text(day.first)));
    return day;
  } catch (const snapshot_error& e) {
    return make_error(error_code::read_failed, path, 0, e.what());
  }
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

}  // namespace k8snetio::io
