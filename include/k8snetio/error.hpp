// A6: the library's one error type. Readers, loaders, factories and restore return
// tl::expected<T, k8snetio::error>: a stable code users can grep for and the position of what
// was wrong, in the spirit of nlohmann/json's "[json.exception.parse_error.101] line 3, column 7:
// …". Messages name library concepts (a rule's setting, a snapshot, a column), never a program's
// flags: a program maps the code to its own flag. Hot paths return these and never throw.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace k8snetio {

enum class error_code : std::uint16_t {
  cannot_open = 100,          ///< file missing or unreadable
  read_failed = 101,          ///< I/O error while reading, or a corrupt .gz / .zst stream
  unknown_format = 102,       ///< the content is none of the formats we read
  input_too_large = 103,      ///< S5.2: more than the size cap (after decompression)
  memory_limit = 104,         ///< S1.1: holding an unordered input needs more groups than allowed
  bad_header = 110,           ///< CSV header missing or lacking a required column
  bad_row = 111,              ///< a malformed row read strictly (the reason is in message)
  duplicate_column = 112,     ///< I1.5: a header naming the same column twice
  duplicate_key = 120,        ///< D5.3: a baseline table with the same key twice
  bad_baseline_cell = 121,    ///< a baseline number cell that is not a number
  bad_baseline_row = 122,     ///< D5.5: a negative stdev or a key without ':'
  no_baseline_columns = 123,  ///< a baseline table with none of the rule's columns
  bad_option = 130,           ///< an option out of range
  bad_rule = 140,             ///< a rule or engine setting that cannot work (D2.4's pattern)
  bad_snapshot = 150,         ///< S4: a state snapshot that is truncated, corrupt or foreign
};

constexpr std::string_view to_string(error_code c) noexcept {
  switch (c) {
    case error_code::cannot_open: return "cannot_open";
    case error_code::read_failed: return "read_failed";
    case error_code::unknown_format: return "unknown_format";
    case error_code::input_too_large: return "input_too_large";
    case error_code::memory_limit: return "memory_limit";
    case error_code::bad_header: return "bad_header";
    case error_code::bad_row: return "bad_row";
    case error_code::duplicate_column: return "duplicate_column";
    case error_code::duplicate_key: return "duplicate_key";
    case error_code::bad_baseline_cell: return "bad_baseline_cell";
    case error_code::bad_baseline_row: return "bad_baseline_row";
    case error_code::no_baseline_columns: return "no_baseline_columns";
    case error_code::bad_option: return "bad_option";
    case error_code::bad_rule: return "bad_rule";
    case error_code::bad_snapshot: return "bad_snapshot";
  }
  return "unknown";
}

/// What went wrong and where. `file` names what was read: a path, or a thing without one
/// ("state snapshot", "rule network_io").
struct error {
  error_code code{};
  std::string file;
  std::uint64_t line = 0;    ///< 1-based, 0 when not applicable
  std::uint64_t column = 0;  ///< 1-based, 0 when not applicable
  std::string field;         ///< the column, JSON key or setting concerned, if any
  std::string message;       ///< one sentence, no trailing period

  /// "[k8snetio.error.120] base.csv:4: duplicate key 'prod:checkout'"
  [[nodiscard]] std::string what() const {
    std::string text = "[k8snetio.error." + std::to_string(static_cast<int>(code)) + "] " + file;
    if (line) text += ":" + std::to_string(line);
    if (column) text += ":" + std::to_string(column);
    text += ": " + message;
    if (!field.empty()) text += " (field '" + field + "')";
    return text;
  }
};

template <class T>
using result = tl::expected<T, error>;

inline tl::unexpected<error> make_error(error_code c, std::string_view file, std::uint64_t line,
                                        std::string message, std::string_view field = {},
                                        std::uint64_t column = 0) {
  return tl::unexpected(
      error{c, std::string(file), line, column, std::string(field), std::move(message)});
}

}  // namespace k8snetio
