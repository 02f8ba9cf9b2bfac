// The misuse messages the stages advertise (issue 10, as fmt tests its own): each case below,
// selected with -DK8SNETIO_MISUSE=N, must fail to compile with its static_assert's words
// (tests/compile_errors/cases.cmake holds the expected text); K8SNETIO_MISUSE=0 compiles the
// correct form of every case, so that a failure can only come from the misuse itself.
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <k8snetio/engine/baseline_runner.hpp>
#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/io/input/read_inputs.hpp>
#include <k8snetio/k8snetio.hpp>

namespace k = k8snetio;

struct no_find {};  // not a baseline source: it has no find(key)

int main() {
  const std::vector<k::metric_point> points;
  const std::vector<k::span_row> span_rows;
  const std::vector<k::service_row> service_rows;
  const std::vector<k::anomalous_row> anomalous;
  const std::vector<k::measure_row<2>> measure_rows;
  const std::vector<int> numbers;
  (void)numbers;
  (void)anomalous;
  (void)measure_rows;
  const auto& rule = k::anomalous_network_io;
  k::baseline_table<2> table;
#if K8SNETIO_MISUSE == 0
  (void)(points | k::aggregate_spans());
  (void)(span_rows | k::normalize_service());
  (void)(service_rows | k::pivot_direction(rule));
  (void)(service_rows | k::pivot_direction(rule) | k::lookup_baseline(table));
  (void)(anomalous | k::persist_over(rule, 5));
  (void)(service_rows | k::build_baseline(rule));
  static constexpr k::measure_set<1> egress{{"egress"}, " higher than average by ", {0}};
  k::baseline_table<1> custom(egress);
  (void)custom;
  (void)(measure_rows | k::lookup_baseline(table));
  (void)(measure_rows | k::lookup_baseline(table) | k::score_sigma(rule));
  const auto d1_to_d3 = k::aggregate_spans() | k::normalize_service() | k::pivot_direction(rule);
  (void)(points | d1_to_d3 | k::lookup_baseline(table));
  // A1.2, A1.3: a baseline that outlives the engine; results that are used.
  const auto built = k::build_network_io_baseline(points);
  k::detector d(rule, built.table, {});
  (void)d.take_closed();
  (void)d.save_state();
  (void)d.finish();
  (void)k::detect(rule, points, table);
  auto made = k::make_detector(rule, table, {});
  (void)made;
  auto shared = measure_rows | k::lookup_baseline(std::make_shared<k::baseline_table<2>>());
  (void)shared;
  k::baseline_runner<2> runner(rule);
  (void)runner.finish();
  (void)k::io::load_baseline_csv<2>("baseline.csv");
  (void)k::io::read_inputs({"points.csv"}, {}, [](const k::metric_point&) {});
  (void)d.restore_state("state");
#elif K8SNETIO_MISUSE == 1
  (void)(numbers | k::aggregate_spans());
#elif K8SNETIO_MISUSE == 2
  (void)(points | k::normalize_service());
#elif K8SNETIO_MISUSE == 3
  (void)(span_rows | k::pivot_direction(rule));
#elif K8SNETIO_MISUSE == 4
  const no_find wrong;
  (void)(service_rows | k::pivot_direction(rule) | k::lookup_baseline(wrong));
#elif K8SNETIO_MISUSE == 5
  (void)(service_rows | k::persist_over(rule, 5));
#elif K8SNETIO_MISUSE == 6
  (void)(span_rows | k::build_baseline(rule));
#elif K8SNETIO_MISUSE == 7
  k::baseline_table<1> custom;
  (void)custom;
#elif K8SNETIO_MISUSE == 8
  (void)(service_rows | k::lookup_baseline(table));
#elif K8SNETIO_MISUSE == 9
  static constexpr k::measure_set<1> egress{{"egress"}, " higher than average by ", {0}};
  const k::rule_definition<1> egress_rule(egress, k::anomalous_network_io_rule,
                                          [](std::string_view) { return std::nullopt; });
  (void)(measure_rows | k::lookup_baseline(table) | k::score_sigma(egress_rule));
#elif K8SNETIO_MISUSE == 10
  (void)(points | (k::aggregate_spans() | k::pivot_direction(rule)));
#elif K8SNETIO_MISUSE == 11  // library.md A1.2: the engine would read a destroyed table
  k::detector d(rule, k::build_network_io_baseline(points).table, {});
#elif K8SNETIO_MISUSE == 12
  auto d = k::make_detector(rule, k::baseline_table<2>(), {});
#elif K8SNETIO_MISUSE == 13
  auto view = measure_rows | k::lookup_baseline(k::baseline_table<2>());
#elif K8SNETIO_MISUSE == 14  // library.md A1.3 (compiled with -Werror=unused-result)
  k::detector d(rule, table, {});
  d.finish();
#elif K8SNETIO_MISUSE == 15
  k::detector d(rule, table, {});
  d.take_closed();
#elif K8SNETIO_MISUSE == 16
  k::detector d(rule, table, {});
  d.save_state();
#elif K8SNETIO_MISUSE == 17
  k::detect(rule, points, table);
#elif K8SNETIO_MISUSE == 18
  k::make_detector(rule, table, {});
#elif K8SNETIO_MISUSE == 19
  k::baseline_runner<2> runner(rule);
  runner.finish();
#elif K8SNETIO_MISUSE == 20
  k::io::load_baseline_csv<2>("baseline.csv");
#elif K8SNETIO_MISUSE == 21
  k::io::read_inputs({"points.csv"}, {}, [](const k::metric_point&) {});
#elif K8SNETIO_MISUSE == 22
  k::detector d(rule, table, {});
  d.restore_state("state");
#endif
  (void)table;
}
