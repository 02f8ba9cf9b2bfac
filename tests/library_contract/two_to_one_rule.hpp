// A user's rule whose outbound measure is fed by two directions, "transmit" and "egress" (D3:
// their mean in a bucket), and whose inbound measure by "receive": what library.md A2's
// differential tests run through every composition.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include <k8snetio/rules/anomalous_network_io.hpp>

namespace k8snetio::test {

inline rule_definition<2> two_to_one_rule() {
  static constexpr measure_set<2> measures{
      {"outbound_io", "inbound_io"}, " higher than average by ", {0, 1}};
  rule_metadata meta = anomalous_network_io_rule;
  meta.name = "Two directions, one measure";
  return rule_definition<2>(measures, meta, [](std::string_view d) -> std::optional<std::size_t> {
    if (d == "transmit" || d == "egress") return 0;
    if (d == "receive") return 1;
    return std::nullopt;
  });
}

}  // namespace k8snetio::test
