// R1 — the ratio step of the sibling rule: `inbound:outbound = inbound / outbound`,
// `outbound:inbound = outbound / inbound` per pivoted row; a null side or a zero divisor gives
// null (N2). The two raw measures are replaced by the ratios.
#pragma once

#include <range/v3/view/all.hpp>
#include <range/v3/view/transform.hpp>

#include "../detail/pipe.hpp"
#include "../model/rows.hpp"
#include "../model/spl_values.hpp"

namespace k8snetio {

/// In: {inbound_network_io, outbound_network_io}; out: {inbound:outbound, outbound:inbound}.
inline void to_network_io_ratios(measure_row<2>& row) {
  const spl_number inbound = row.values[0], outbound = row.values[1];
  row.values = {spl::div(inbound, outbound), spl::div(outbound, inbound)};
}

/// Adaptor: `measure_rows | compute_ratios()` (lazy).
inline auto compute_ratios() {
  return detail::make_stage([]<ranges::viewable_range R>(R&& rows) {
    return ranges::views::all(std::forward<R>(rows)) |
           ranges::views::transform([](measure_row<2> row) {
             to_network_io_ratios(row);
             return row;
           });
  });
}

}  // namespace k8snetio
