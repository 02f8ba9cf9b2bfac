// Embedding the live detector (service.md L0): no HTTP, no Kafka. Each line of the input is one
// OTLP/HTTP JSON request body (as the collector's otlphttp exporter with `encoding: json` posts
// it, or `k8s-netio simulate --format otlp` writes it); it is fed as bytes to the live core,
// which decodes, counts, detects and writes each window's findings as the window closes.
//   live_detector BASELINE.csv REQUESTS.jsonl [STATE_DIR]
// With STATE_DIR, a second run continues where the first stopped (L6).
#include <fstream>
#include <iostream>
#include <string>

#include <k8snetio/service/service.hpp>

#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/k8snetio.hpp>

namespace k = k8snetio;
namespace svc = k8snetio::service;

int main(int argc, char** argv) {
  if (argc < 3) return std::cerr << "usage: live_detector BASELINE.csv REQUESTS [STATE_DIR]\n", 2;
  auto table = k::io::load_baseline_csv(argv[1]);
  if (!table) return std::cerr << table.error().what() << '\n', 1;
  std::ifstream requests(argv[2], std::ios::binary);
  if (!requests) return std::cerr << "cannot read " << argv[2] << '\n', 1;

  // Findings as they come: one JSON line each, with "status" and "finding_id" (L12).
  svc::callback_findings_sink sink([](std::span<const k::finding> found) {
    std::cout << k::io::write_findings(found, k::io::output_format::jsonl) << std::flush;
    return true;
  });
  svc::live_options options;  // the service's defaults: --window 1h, --lateness 30s, …
  if (auto bad = options.validate(argc > 3)) return std::cerr << *bad << '\n', 2;
  svc::live_detector<2> live(k::anomalous_network_io, std::move(*table), options, sink);
  live.on_log([](const std::string& line) { std::cerr << "live_detector: " << line << '\n'; });
  std::unique_ptr<svc::directory_store> store;
  if (argc > 3) {
    std::string error;
    store = svc::directory_store::open(argv[3], error);
    if (!store) return std::cerr << error << '\n', 1;
    if (auto refused = live.attach(*store)) return std::cerr << *refused << '\n', 1;
  }

  std::string body;
  svc::outcome_counts total;
  while (std::getline(requests, body)) {
    if (body.empty()) continue;
    const auto r = live.ingest(svc::payload_kind::otlp_json, body);
    if (r.state != svc::ingest_result::status::ok)
      std::cerr << "live_detector: a request refused: " << r.message << r.error << '\n';
    total += r.counts;
  }
  // Without a state the windows still open are written as "partial"; with one they wait in it.
  if (auto failed = live.shut_down()) return std::cerr << *failed << '\n', 1;
  std::cerr << "live_detector: points " << total.accepted() << " accepted, " << total.rejected()
            << " rejected, " << total.ignored() << " ignored\n";
}
