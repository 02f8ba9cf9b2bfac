// What a held group costs the live detector (issue 28 #25, engine.md S5.1: "the documented
// cost per held group is the measured one"), and how long its shutdown takes with that many
// groups held. A plain program, no Google Benchmark: it measures memory, not a loop.
//
//     live_group_cost [--groups N] [--buckets B] [--state DIR]
//
// Feeds N groups through HEC payloads of 1,000 events into one live_detector (the one serve
// and consume run), all inside the allowed lateness so that every group stays open:
// N / B series with a point in each of B consecutive 10 s buckets (B = 1: every group its own
// series, the worst case, as a burst of new pods makes; B = 4: what a steady feed holds with
// the default 30 s lateness). Prints the resident memory grown per group (VmRSS from
// /proc/self/status, after the input's own buffers are freed), then times shut_down() (L6:
// with --state it makes the log durable; without, it reports the open windows as partial)
// and the detector's destruction.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <k8snetio/k8snetio.hpp>
#include <k8snetio/service/service.hpp>

namespace {

/// Resident memory of this process, in bytes.
std::size_t resident_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  return 0;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  namespace svc = k8snetio::service;
  std::size_t groups = std::size_t{1} << 20;
  std::size_t buckets = 1;
  std::string state;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view arg = argv[i];
    if (arg == "--groups")
      groups = std::strtoull(argv[i + 1], nullptr, 10);
    else if (arg == "--buckets")
      buckets = std::strtoull(argv[i + 1], nullptr, 10);
    else if (arg == "--state")
      state = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: live_group_cost [--groups N] [--buckets B] [--state DIR]\n");
      return 2;
    }
  }
  if (buckets < 1 || buckets > 3 || groups < buckets) {
    std::fprintf(stderr, "live_group_cost: --buckets 1 to 3 (all inside the 30 s lateness)\n");
    return 2;
  }
  constexpr std::int64_t t0 = 1700000000;
  svc::live_options options;
  options.max_open_groups = groups + 1;
  svc::memory_findings_sink sink;
  const k8snetio::baseline_table<2> empty(*k8snetio::anomalous_network_io.measures);
  std::unique_ptr<svc::directory_store> store;
  if (!state.empty()) {
    std::string error;
    store = svc::directory_store::open(state, error);
    if (!store) {
      std::fprintf(stderr, "live_group_cost: %s\n", error.c_str());
      return 1;
    }
  }
  const std::size_t before = resident_bytes();
  auto detector = std::make_unique<svc::live_detector<2>>(
      k8snetio::anomalous_network_io, empty, options, sink, svc::live_identity{"io", 1},
      [] { return static_cast<double>(t0 + 60); });
  if (store)
    if (auto error = detector->attach(*store)) {
      std::fprintf(stderr, "live_group_cost: %s\n", error->c_str());
      return 1;
    }
  const std::size_t series = groups / buckets;
  std::uint64_t accepted = 0;
  const auto fed = std::chrono::steady_clock::now();
  {
    std::string body;
    for (std::size_t b = 0; b < buckets; ++b) {
      for (std::size_t s = 0; s < series; ++s) {
        // A pod per two series, both directions, as kubeletstats sends them.
        body += fmt::format(
            R"({{"event":"metric","time":{},"fields":{{"metric_name:k8s.pod.network.io":{},)"
            R"("k8s.cluster.name":"prod","k8s.node.name":"node-{}","k8s.pod.name":)"
            R"("app-{:08x}","direction":"{}"}}}})"
            "\n",
            t0 + 10 * static_cast<std::int64_t>(b) + 1, 1000 + s % 97, (s / 2) % 500, s / 2,
            s % 2 ? "receive" : "transmit");
        if ((s + 1) % 1000 == 0 || s + 1 == series) {
          accepted += detector->ingest(svc::payload_kind::hec, body).accepted();
          body.clear();
        }
      }
    }
    body.shrink_to_fit();
  }
  const double feed_seconds = seconds_since(fed);
  const std::size_t after = resident_bytes();
  const std::size_t held = detector->engine().open_rows();
  std::printf("groups held: %zu (%zu series x %zu buckets), points accepted: %llu in %.2f s\n",
              held, series, buckets, static_cast<unsigned long long>(accepted), feed_seconds);
  std::printf("resident memory grown: %.1f MiB, %.0f bytes per group\n",
              static_cast<double>(after - before) / (1 << 20),
              static_cast<double>(after - before) / static_cast<double>(held ? held : 1));
  auto start = std::chrono::steady_clock::now();
  const auto error = detector->shut_down();
  std::printf("shut_down(): %.3f s%s%s (%zu findings written)\n", seconds_since(start),
              store ? ", with a state store" : ", no state store", error ? ", failed" : "",
              sink.findings.size());
  start = std::chrono::steady_clock::now();
  detector.reset();
  std::printf("destruction: %.3f s\n", seconds_since(start));
  return error ? 1 : 0;
}
