// Embedding k8snetio: detect on metrics of any format against a baseline table, print findings.
//   quickstart BASELINE.csv METRICS...   (metrics_csv, HEC or OTLP JSON, gzip or zstd, several
//                                         files in order; "-" reads standard input)
#include <iostream>
#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/io/input/read_inputs.hpp>
#include <k8snetio/io/output/findings_writer.hpp>
#include <k8snetio/k8snetio.hpp>
namespace k = k8snetio;

int main(int argc, char** argv) {
  if (argc < 3) return std::cerr << "usage: quickstart BASELINE.csv METRICS...\n", 2;
  auto baseline = k::io::load_baseline_csv(argv[1]);
  if (!baseline) return std::cerr << baseline.error().what() << '\n', 1;
  k::detector detect(k::anomalous_network_io, *baseline, {});
  auto read = k::io::read_inputs(std::vector<std::string>(argv + 2, argv + argc), {}, detect);
  if (!read) return std::cerr << read.error().what() << '\n', 1;
  detect.end_of_input();  // S1: input in neither time nor series order cannot stream exactly
  if (detect.failure())
    return std::cerr << "not in time order: use detect_anomalous_network_io\n", 1;
  k::io::write_findings(std::cout, detect.finish().findings, k::io::output_format::table);
}
