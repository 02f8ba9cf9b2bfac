// R1: the ratio step's function alone, for the rule and the engines, without its range adaptor
// and so without a range library (library.md A4). The step and its adaptor are in
// ../network_io_ratio_step.hpp, which includes this header.
#pragma once

#include "../../model/rows.hpp"
#include "../../model/spl_values.hpp"

namespace k8snetio {

/// In: {inbound_network_io, outbound_network_io}; out: {inbound:outbound, outbound:inbound}.
inline void to_network_io_ratios(measure_row<2>& row) {
  const spl_number inbound = row.values[0], outbound = row.values[1];
  row.values = {spl::div(inbound, outbound), spl::div(outbound, inbound)};
}

}  // namespace k8snetio
