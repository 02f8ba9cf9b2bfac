// Keys without a baseline row (spec D5.4, cold start) as CSV: `key,pods,buckets`, one row per
// key in the order given (the engine sorts them by key), for the next baseline run to cover.
#pragma once

#include <concepts>
#include <cstdint>
#include <iterator>
#include <ranges>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <k8snetio/io/output/findings_writer.hpp>

namespace k8snetio::io {

/// What a row needs: the key, the distinct pods and the distinct buckets it was seen in
/// (k8snetio::unbaselined_key has them).
template <class T>
concept unbaselined_row = requires(const T& r) {
  { r.key } -> std::convertible_to<std::string_view>;
  { r.pods } -> std::convertible_to<std::uint64_t>;
  { r.buckets } -> std::convertible_to<std::uint64_t>;
};

/// Writes the header and one row per key. With `formula_guard` (O6.5) a key that starts like a
/// spreadsheet formula is written as '…, as in the findings CSV.
template <std::ranges::input_range Rows>
requires unbaselined_row<std::ranges::range_value_t<Rows>>
void write_unbaselined_csv(std::string& out, const Rows& rows, bool formula_guard = true) {
  out += "key,pods,buckets\n";
  for (const auto& r : rows) {
    detail::append_text_cell(out, r.key, formula_guard);
    fmt::format_to(std::back_inserter(out), ",{},{}\n", r.pods, r.buckets);
  }
}

}  // namespace k8snetio::io
