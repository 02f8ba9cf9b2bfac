// R1 — the ratio step of the sibling rule: `inbound:outbound = inbound / outbound`,
// `outbound:inbound = outbound / inbound` per pivoted row; a null side or a zero divisor gives
// null (N2). The two raw measures are replaced by the ratios.
#pragma once

#include <range/v3/view/all.hpp>
#include <range/v3/view/transform.hpp>

#include "../detail/pipe.hpp"
#include "kernel/network_io_ratio_step.hpp"

namespace k8snetio {

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
