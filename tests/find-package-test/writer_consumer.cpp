// A4: a user's program that writes findings, built twice by the compiled_io package tests: on
// k8snetio::compiled_io (the writers come compiled from the library; package-test.cmake checks
// that its object file only declares write_findings) and header-only on k8snetio::io. It learns
// a baseline and detects as core_consumer.cpp does, then prints the one finding in every format,
// the HTML report too: the two programs' outputs must be the same bytes.
#include <cstdio>
#include <string>

#include <k8snetio/engine/detector.hpp>
#include <k8snetio/io/output/findings_writer.hpp>
#include <k8snetio/rules/anomalous_network_io.hpp>

#include "two_pods.hpp"

namespace k = k8snetio;

int main() {
  const k::detection_result result = detect_burst_in_two_pods();
  if (result.findings.size() != 1) {
    std::puts("writer consumer: expected one finding");
    return 1;
  }
  std::string out;
  for (const auto format :
       {k::io::output_format::jsonl, k::io::output_format::csv, k::io::output_format::table,
        k::io::output_format::hec, k::io::output_format::ocsf, k::io::output_format::risk,
        k::io::output_format::html})
    k::io::write_findings(out, result.findings, format);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return out.find("web-x2k9p") == std::string::npos ? 1 : 0;
}
