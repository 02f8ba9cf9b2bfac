// library.md A5: every public header in one user translation unit (the generated
// k8snetio_all_headers.hpp), and the engines and stages instantiated as a user runs them, so
// that the templates' bodies are compiled under the user's warnings too (tests/warnings/
// cases.cmake compiles this with -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror).
#include <k8snetio_all_headers.hpp>

#include <cstdio>
#include <vector>

namespace k = k8snetio;

int main() {
  std::vector<k::metric_point> points;
  for (int i = 0; i < 60; ++i)
    for (const char* dir : {"transmit", "receive"})
      points.push_back({1'700'000'000 + 10.0 * i, 1000.0 + i, k::default_metric_name, "c1",
                        "web-x2k9p", "node-1", dir});
  // The engines: the one-call forms, the push API, save and restore.
  const auto io_baseline = k::build_network_io_baseline(points);
  const auto ratio_baseline = k::build_network_io_ratio_baseline(points);
  const auto io_found = k::detect_anomalous_network_io(points, io_baseline.table);
  const auto ratio_found = k::detect_network_io_ratio(points, ratio_baseline.table);
  k::detector engine(k::anomalous_network_io, io_baseline.table, {});
  for (const k::metric_point& p : points) (void)engine.add(p);
  const std::string state = engine.save_state();
  if (!engine.restore_state(state)) return 1;
  const auto pushed = engine.finish();
  // The stages, composed.
  const auto rule = k::anomalous_network_io;
  const auto findings = points | k::aggregate_spans() | k::normalize_service() |
                        k::pivot_direction(rule) | k::lookup_baseline(io_baseline.table) |
                        k::score_sigma(rule) | k::persist_over(rule, 5);
  // A user pattern on PCRE2 (component io).
  const auto pattern = k::pcre2_service_normalizer::create("-\\w{5}$");
  std::printf("%zu %zu %zu %zu %d\n", io_found.findings.size(), ratio_found.findings.size(),
              pushed.findings.size(), findings.size(), pattern ? 1 : 0);
}
