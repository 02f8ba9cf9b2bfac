// Embedding k8snetio: detect on a metrics_csv export against a baseline table, print findings.
//   quickstart BASELINE.csv METRICS.csv     (both may be .gz; "-" reads standard input)
#include <iostream>
#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/io/output/findings_writer.hpp>
#include <k8snetio/io/input/input_source.hpp>
#include <k8snetio/io/input/metrics_csv_reader.hpp>
#include <k8snetio/k8snetio.hpp>
namespace k = k8snetio;

int main(int argc, char** argv) {
  if (argc != 3) return std::cerr << "usage: quickstart BASELINE.csv METRICS.csv\n", 2;
  auto baseline = k::io::load_baseline_csv(argv[1]);
  if (!baseline) return std::cerr << baseline.error().what() << '\n', 1;
  k::detector detect(k::anomalous_network_io, *baseline, {});
  k::io::metrics_csv_reader reader(argv[2]);
  auto add = [&detect](const k::metric_point& p) { detect.add(p); };
  auto read = k::io::for_each_chunk(argv[2], [&](std::string_view chunk, auto, auto) {
    return reader.feed(chunk, add);
  });
  if (read) read = reader.finish(add);
  if (!read) return std::cerr << read.error().what() << '\n', 1;
  detect.end_of_input();  // S1: a file in neither time nor series order cannot stream exactly
  if (detect.failure()) return std::cerr << "not in time order: use detect_anomalous_network_io\n", 1;
  k::io::write_findings(std::cout, detect.finish().findings, k::io::output_format::table);
}
