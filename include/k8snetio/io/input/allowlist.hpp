// The allowlist (spec D8.1): the command-line form of the rule's `…_filter` macro. One line per
// exception, `field=glob` conditions joined by spaces that must all hold; a finding matching
// any line is suppressed. `#` starts a comment; blank lines are fine; a bad line is an error
// naming file:line, so a typo never silently suppresses (or fails to suppress) anything.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <k8snetio/io/error.hpp>
#include <k8snetio/model/finding.hpp>

namespace k8snetio::io {

/// The fields a condition may name, as the finding exposes them (D8).
enum class allowlist_field : std::uint8_t { cluster, namespace_name, service, pod, host };

inline constexpr std::array<std::string_view, 5> allowlist_field_names{
    "k8s.cluster.name", "k8s.namespace.name", "k8s.service", "k8s.pod.name", "host"};

/// `*` any run of bytes (also none), `?` exactly one byte; everything else literal and
/// case-sensitive, as Splunk compares names. Greedy with one backtrack point, so a hostile
/// pattern costs O(pattern × text), never exponential time.
constexpr bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

/// What a finding offers the conditions. A finding without a namespace (its input had none:
/// I3.3 carries it only when present) matches no k8s.namespace.name condition, so a line
/// naming a namespace never suppresses it.
struct allowlist_subject {
  std::string_view cluster, service, pod, host;
  std::optional<std::string_view> namespace_name;
};

inline allowlist_subject subject_of(const finding& f) noexcept {
  if (f.namespace_name.empty()) return {f.cluster, f.service, f.pod, f.host, std::nullopt};
  return {f.cluster, f.service, f.pod, f.host, std::string_view(f.namespace_name)};
}

/// One `field=glob` condition.
struct allowlist_condition {
  allowlist_field field{};
  std::string pattern;

  bool matches(const allowlist_subject& s) const noexcept {
    switch (field) {
      case allowlist_field::cluster: return glob_match(pattern, s.cluster);
      case allowlist_field::namespace_name:
        return s.namespace_name && glob_match(pattern, *s.namespace_name);
      case allowlist_field::service: return glob_match(pattern, s.service);
      case allowlist_field::pod: return glob_match(pattern, s.pod);
      case allowlist_field::host: return glob_match(pattern, s.host);
    }
    return false;
  }
};

/// One line: every condition must hold.
struct allowlist_entry {
  std::uint64_t line = 0;  ///< where it was written (1-based), for messages
  std::vector<allowlist_condition> conditions;

  bool matches(const allowlist_subject& s) const noexcept {
    for (const auto& c : conditions)
      if (!c.matches(s)) return false;
    return true;
  }
};

/// A parsed allowlist. `matching(f)` is the first entry a finding matches (nullptr: none).
class allowlist {
 public:
  allowlist() = default;
  explicit allowlist(std::vector<allowlist_entry> entries) : entries_(std::move(entries)) {}

  const allowlist_entry* matching(const allowlist_subject& s) const noexcept {
    for (const auto& e : entries_)
      if (e.matches(s)) return &e;
    return nullptr;
  }
  const allowlist_entry* matching(const finding& f) const noexcept {
    return matching(subject_of(f));
  }
  bool suppresses(const finding& f) const noexcept { return matching(f) != nullptr; }

  const std::vector<allowlist_entry>& entries() const noexcept { return entries_; }
  bool empty() const noexcept { return entries_.empty(); }

 private:
  std::vector<allowlist_entry> entries_;
};

/// Parses allowlist text; `file` names it in errors ("[k8snetio.error.111] allow.txt:3: …").
/// A token without '=', an empty field name or an unknown field is an error naming the line
/// and the column where the token starts. An empty pattern matches only an empty value (an
/// empty service is legal, D2.3).
[[nodiscard]] inline result<allowlist> parse_allowlist(std::string_view text,
                                                       std::string_view file = "allowlist") {
  std::vector<allowlist_entry> entries;
  std::uint64_t line_number = 0;
  while (!text.empty() || line_number == 0) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_number;
    if (const std::size_t hash = line.find('#'); hash != std::string_view::npos)
      line = line.substr(0, hash);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    allowlist_entry entry{line_number, {}};
    std::size_t pos = 0;
    while (pos < line.size()) {
      if (line[pos] == ' ' || line[pos] == '\t') {
        ++pos;
        continue;
      }
      std::size_t stop = pos;
      while (stop < line.size() && line[stop] != ' ' && line[stop] != '\t') ++stop;
      const std::string_view token = line.substr(pos, stop - pos);
      const std::uint64_t column = pos + 1;
      const std::size_t eq = token.find('=');
      if (eq == std::string_view::npos || eq == 0)
        return make_error(
            error_code::bad_row, file, line_number,
            fmt::format("'{}' is not a field=glob condition (fields: k8s.cluster.name, "
                        "k8s.namespace.name, k8s.service, k8s.pod.name, host)",
                        token),
            {}, column);
      const std::string_view name = token.substr(0, eq);
      std::optional<allowlist_field> field;
      for (std::size_t i = 0; i < allowlist_field_names.size(); ++i)
        if (allowlist_field_names[i] == name) field = static_cast<allowlist_field>(i);
      if (!field)
        return make_error(error_code::bad_row, file, line_number,
                          fmt::format("unknown field '{}' (fields: k8s.cluster.name, "
                                      "k8s.namespace.name, k8s.service, k8s.pod.name, host)",
                                      name),
                          name, column);
      entry.conditions.push_back({*field, std::string(token.substr(eq + 1))});
      pos = stop;
    }
    if (!entry.conditions.empty()) entries.push_back(std::move(entry));
    if (end == std::string_view::npos) break;
  }
  return allowlist(std::move(entries));
}

/// The largest allowlist file read: 16 MiB, some 200,000 lines of 80 bytes, far more than
/// anyone writes by hand. Each finding is checked against every line, so a list this size is
/// already slow; beyond it the file is refused, not read whole (`--allowlist /dev/zero`).
inline constexpr std::size_t max_allowlist_bytes = std::size_t{16} << 20;

/// Reads and parses an allowlist file: read in chunks, refused (naming the file) once it
/// passes `max_bytes`.
[[nodiscard]] inline result<allowlist> load_allowlist(const std::string& path,
                                                      std::size_t max_bytes = max_allowlist_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(error_code::cannot_open, path, 0, "cannot open the allowlist");
  std::string text;
  std::string chunk(std::size_t{1} << 16, '\0');
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    if (text.size() + got > max_bytes)
      return make_error(error_code::input_too_large, path, 0,
                        fmt::format("the allowlist is over {} bytes, more than an allowlist "
                                    "may hold (it is read whole before any input)",
                                    max_bytes));
    text.append(chunk.data(), got);
  }
  if (in.bad()) return make_error(error_code::read_failed, path, 0, "cannot read the allowlist");
  return parse_allowlist(text, path);
}

/// The allowlist as detection_options::filter (D8: true keeps the finding). Each suppressed
/// finding is counted in `*suppressed` when it is given. The engine also asks about a pod's
/// provisional finding (S3, the moment its count passes the threshold): that one is not
/// counted, its final finding will be.
inline std::function<bool(const finding&)> allowlist_filter(
    std::shared_ptr<const allowlist> list, std::shared_ptr<std::uint64_t> suppressed = nullptr) {
  return [list = std::move(list), suppressed = std::move(suppressed)](const finding& f) {
    if (!list->suppresses(f)) return true;
    if (suppressed && f.status != finding_status::provisional) ++*suppressed;
    return false;
  };
}

}  // namespace k8snetio::io
