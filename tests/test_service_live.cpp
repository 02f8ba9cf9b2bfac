// service.md L0, L1, L6, L8, L12, K1.1; engine.md S1.4; issue 28 (RT-n): the live core of
// include/k8snetio/service/ without a socket. Payloads are built as bytes (HEC events, OTLP
// JSON), fed to a live_detector with an injected clock, and its findings, counts, state and
// restarts are compared with one uninterrupted run.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <sys/stat.h>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <k8snetio/service/partitioned_live.hpp>
#include <k8snetio/service/service.hpp>

#include <k8snetio/k8snetio.hpp>

#include "support.hpp"

namespace test_service_live {

namespace {

namespace svc = k8snetio::service;
using k8snetio::finding;
using k8snetio::finding_status;
using svc::ingest_result;
using svc::payload_kind;
using svc::point_outcome;

constexpr std::int64_t t0 = 1700000400;  // a multiple of 600 and of 10
constexpr double now = 1800000000;       // the receiver's clock: long after the data

using owned = k8snetio::test::test_point;
using k8snetio::test::views;

/// `buckets` 10 s buckets of four pods, both directions; pod 0 sends far more in buckets
/// [spike_from, spike_to) (a finding after six such buckets in one window).
std::vector<owned> traffic(int buckets, std::uint32_t seed, int spike_from = 1 << 30,
                           int spike_to = 1 << 30, std::int64_t start = t0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> noise(0.0, 100.0);
  const std::vector<std::string> pods = {"web-7d4b9c8f6d-x2k9p", "api-5f6d7c8b9a-z9y8x", "db-0",
                                         "cache-0"};
  std::vector<owned> out;
  for (int b = 0; b < buckets; ++b) {
    const double t = static_cast<double>(start + 10 * b);
    for (std::size_t p = 0; p < pods.size(); ++p) {
      const bool spike = b >= spike_from && b < spike_to && p == 0;
      const std::string node = p % 2 ? "node-2" : "node-1";
      out.push_back(
          {t + 1, 1000 + noise(rng) + (spike ? 9000 : 0), "prod", pods[p], node, "transmit"});
      out.push_back({t + 2, 3000 + noise(rng), "prod", pods[p], node, "receive"});
    }
  }
  return out;
}

const k8snetio::baseline_table<2>& trained() {
  static const auto table = k8snetio::build_network_io_baseline(views(traffic(300, 1))).table;
  return table;
}

std::string hec_event(const owned& p, std::string_view metric = "k8s.pod.network.io") {
  return fmt::format(
      R"({{"event":"metric","time":{},"fields":{{"metric_name:{}":{},"k8s.cluster.name":"{}",)"
      R"("k8s.node.name":"{}","k8s.pod.name":"{}","direction":"{}"}}}})"
      "\n",
      p.time, metric, p.value, p.cluster, p.node, p.pod, p.direction);
}

/// One HEC payload per 10 s bucket.
std::vector<std::string> hec_payloads(const std::vector<owned>& points) {
  std::map<std::int64_t, std::string> by_bucket;
  for (const auto& p : points) by_bucket[static_cast<std::int64_t>(p.time) / 10] += hec_event(p);
  std::vector<std::string> out;
  for (auto& [bucket, body] : by_bucket) out.push_back(std::move(body));
  return out;
}

/// One OTLP JSON request per 10 s bucket, every series a cumulative monotonic sum (the
/// kubeletstats receiver's shape): the value sent is the running total.
std::vector<std::string> otlp_cumulative_payloads(const std::vector<owned>& points) {
  std::map<std::string, double> totals;
  std::map<std::int64_t, std::vector<std::string>> by_bucket;
  for (const auto& p : points) {
    double& total = totals[p.pod + "/" + p.direction];
    total += p.value;
    by_bucket[static_cast<std::int64_t>(p.time) / 10].push_back(fmt::format(
        R"({{"resource":{{"attributes":[{{"key":"k8s.cluster.name","value":{{"stringValue":"{}"}}}},)"
        R"({{"key":"k8s.node.name","value":{{"stringValue":"{}"}}}},)"
        R"({{"key":"k8s.pod.name","value":{{"stringValue":"{}"}}}}]}},"scopeMetrics":[{{"metrics":[)"
        R"({{"name":"k8s.pod.network.io","sum":{{"aggregationTemporality":2,"isMonotonic":true,)"
        R"("dataPoints":[{{"attributes":[{{"key":"direction","value":{{"stringValue":"{}"}}}}],)"
        R"("startTimeUnixNano":"{}","timeUnixNano":"{}","asDouble":{}}}]}}}}]}}]}})",
        p.cluster, p.node, p.pod, p.direction, std::int64_t{t0 - 1000} * 1000000000,
        static_cast<std::int64_t>(p.time * 1e9), total));
  }
  std::vector<std::string> out;
  for (auto& [bucket, resources] : by_bucket) {
    std::string body = R"({"resourceMetrics":[)";
    for (std::size_t i = 0; i < resources.size(); ++i) body += (i ? "," : "") + resources[i];
    out.push_back(body + "]}");
  }
  return out;
}

svc::live_options small_options(bool early = false) {
  svc::live_options o;
  o.window_seconds = 600;
  o.lateness_seconds = 30;
  o.early_alerts = early;
  return o;
}

/// Ids and statuses of findings, sorted (what "the same findings, each once" compares).
std::vector<std::string> keys(const std::vector<finding>& found) {
  std::vector<std::string> out;
  for (const auto& f : found)
    out.push_back(
        fmt::format("{}:{}:{}", k8snetio::to_string(f.status), k8snetio::finding_id(f), f.count));
  std::sort(out.begin(), out.end());
  return out;
}

/// A temporary state directory (mode 0700), removed at the end.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    static int n = 0;
    path = std::filesystem::temp_directory_path() /
           fmt::format("k8snetio-service-{}-{}", ::getpid(), n++);
    std::filesystem::remove_all(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }
};

using live = svc::live_detector<2>;

live make(svc::findings_sink& sink, svc::live_options o = small_options(), double clock = now) {
  return live(k8snetio::anomalous_network_io, trained(), o, sink, {"io", 42},
              [clock] { return clock; });
}

/// Three windows of 10 minutes; pod 0 spikes for 8 buckets of the second; a tick closes them.
std::vector<std::string> incident_payloads() {
  auto points = traffic(180, 7, 70, 78);
  points.push_back({static_cast<double>(t0 + 1800 + 700), 1, "tick", "tick-0", "tick", "transmit"});
  return hec_payloads(points);
}

std::vector<finding> uninterrupted(const std::vector<std::string>& payloads,
                                   svc::live_options o = small_options()) {
  svc::memory_findings_sink sink;
  auto d = make(sink, o);
  for (const auto& p : payloads)
    REQUIRE(d.ingest(payload_kind::hec, p).state == ingest_result::status::ok);
  REQUIRE(!d.shut_down());
  return sink.findings;
}

}  // namespace

TEST_CASE("L0 accounting by outcome: other_metric is ignored, not accepted (HEC, two measures)") {
  svc::memory_findings_sink sink;
  auto d = make(sink);
  const owned io{static_cast<double>(t0 + 1), 5, "prod", "db-0", "node-1", "transmit"};
  std::string body;
  for (int i = 0; i < 4; ++i) {
    body += hec_event(io);
    body += hec_event(io, "k8s.pod.network.errors");
  }
  const auto r = d.ingest(payload_kind::hec, body);
  CHECK(r.state == ingest_result::status::ok);
  CHECK(r.counts[point_outcome::accepted] == 4);
  CHECK(r.counts[point_outcome::other_metric] == 4);
  CHECK(r.accepted() == 4);  // 4.x counted 8: the other metric's points as accepted
  CHECK(r.ignored() == 4);
  CHECK(r.rejected() == 0);
  std::string metrics;
  d.render_metrics(metrics);
  CHECK_THAT(metrics, Catch::Contains("k8snetio_points_accepted_total 4\n"));
  CHECK_THAT(metrics,
             Catch::Contains("k8snetio_points_ignored_total{reason=\"other_metric\"} 4\n"));
}

TEST_CASE("L0 one label spelling for every outcome, whichever reader or engine named it") {
  CHECK(svc::label(svc::outcome_of(k8snetio::io::skip_reason::non_finite)) == "non_finite_value");
  CHECK(svc::label(svc::outcome_of(k8snetio::drop_reason::non_finite)) == "non_finite_value");
  for (std::size_t i = 0; i < svc::point_outcome_count; ++i) {
    const auto label = svc::label(static_cast<point_outcome>(i));
    CHECK(label.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string_view::npos);
  }
  for (std::size_t i = 0; i < k8snetio::io::skip_reason_count; ++i)
    CHECK(svc::label(svc::outcome_of(static_cast<k8snetio::io::skip_reason>(i))) != "unknown");
}

TEST_CASE("L0 accounting by outcome for every payload kind: HEC, OTLP JSON, OTLP protobuf") {
  svc::memory_findings_sink sink;
  auto d = make(sink);
  SECTION("HEC: a non-finite value, a missing dimension, bad JSON") {
    // L3: a HEC request stops at its first refused event, so each is sent alone.
    const auto nan = d.ingest(
        payload_kind::hec,
        R"({"event":"metric","time":1700000401,"fields":{"metric_name:k8s.pod.network.io":"NaN","k8s.cluster.name":"c","k8s.node.name":"n","k8s.pod.name":"p","direction":"transmit"}})"
        "\n");
    const auto undimensioned = d.ingest(
        payload_kind::hec,
        R"({"event":"metric","time":1700000401,"fields":{"metric_name:k8s.pod.network.io":3,"k8s.cluster.name":"c","k8s.node.name":"n","direction":"transmit"}})"
        "\n");
    CHECK(nan.counts[point_outcome::non_finite_value] == 1);
    CHECK(undimensioned.counts[point_outcome::missing_dimension] == 1);
    CHECK(nan.rejected() + undimensioned.rejected() == 2);
    const auto bad = d.ingest(payload_kind::hec, "{\"event\": \n");
    CHECK(bad.state == ingest_result::status::malformed);
    CHECK(bad.counts[point_outcome::bad_syntax] == 1);
  }
  SECTION("OTLP JSON: a cumulative series' first point is accepted (no delta), then deltas") {
    const auto payloads = otlp_cumulative_payloads(traffic(3, 3));
    const auto first = d.ingest(payload_kind::otlp_json, payloads[0]);
    CHECK(first.counts[point_outcome::first_of_series] == 8);
    CHECK(first.accepted() == 8);
    const auto second = d.ingest(payload_kind::otlp_json, payloads[1]);
    CHECK(second.counts[point_outcome::accepted] == 8);
    CHECK(d.series_count() == 8);
    CHECK(d.ingest(payload_kind::otlp_json, "{\"resourceMetrics\": [").state ==
          ingest_result::status::malformed);
  }
  SECTION("OTLP protobuf: each request counts as its JSON twin does (I3.5, L2)") {
    // The twins of tests/data/otlp_small.jsonl, encoded by Google's encoder (proto.twins).
    const std::string bytes = k8snetio::test::read_fixture("otlp_proto/otlp_small.twins");
    const auto big_endian = [&](std::size_t at) {
      std::uint32_t v = 0;
      for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
      return v;
    };
    std::vector<std::string> lines;
    {
      std::istringstream in(k8snetio::test::read_fixture("otlp_small.jsonl"));
      for (std::string line; std::getline(in, line);) lines.push_back(line);
    }
    svc::memory_findings_sink json_sink;
    auto json = make(json_sink);
    std::size_t at = 0, requests = 0;
    std::uint64_t counted = 0;
    while (at + 8 <= bytes.size()) {
      const std::size_t line = big_endian(at), length = big_endian(at + 4);
      REQUIRE(at + 8 + length <= bytes.size());
      REQUIRE(line >= 1);
      REQUIRE(line <= lines.size());
      const auto from_proto =
          d.ingest(payload_kind::otlp_protobuf, std::string_view(bytes).substr(at + 8, length));
      const auto from_json = json.ingest(payload_kind::otlp_json, lines[line - 1]);
      CHECK(from_proto.state == from_json.state);
      CHECK(from_proto.counts.n == from_json.counts.n);
      counted += from_proto.accepted() + from_proto.rejected() + from_proto.ignored();
      at += 8 + length;
      ++requests;
    }
    CHECK(requests >= 2);
    CHECK(counted > 0);
    const auto bad = d.ingest(payload_kind::otlp_protobuf, std::string("\x0a\xff\xff\xff", 4));
    CHECK(bad.state == ingest_result::status::malformed);
    CHECK_THAT(bad.message, Catch::Contains("byte"));
    CHECK(svc::sniff_otlp(" {\"resourceMetrics\":[]}") == payload_kind::otlp_json);
    CHECK(svc::sniff_otlp(std::string("\x0a\x00", 2)) == payload_kind::otlp_protobuf);
  }
}

TEST_CASE("L12 every live finding has a status: provisional at the 6th bucket, then final") {
  const auto payloads = incident_payloads();
  const auto plain = uninterrupted(payloads);
  REQUIRE(plain.size() == 1);
  CHECK(plain[0].status == finding_status::final);
  const auto early = uninterrupted(payloads, small_options(true));
  REQUIRE(early.size() == 2);
  CHECK(early[0].status == finding_status::provisional);
  CHECK(early[0].count == 6);
  CHECK(early[1].status == finding_status::final);
  CHECK(k8snetio::finding_id(early[0]) == k8snetio::finding_id(early[1]));
  // Every live format carries the status and the id; batch findings (no status) carry neither.
  for (const auto format : {k8snetio::io::output_format::jsonl, k8snetio::io::output_format::hec,
                            k8snetio::io::output_format::ocsf, k8snetio::io::output_format::risk}) {
    const std::string text = k8snetio::io::write_findings(early, format);
    CHECK_THAT(text, Catch::Contains("\"status\":\"provisional\""));
    CHECK_THAT(text, Catch::Contains("\"status\":\"final\""));
    CHECK_THAT(text, Catch::Contains(k8snetio::finding_id(early[0])));
    auto batch = early;
    for (auto& f : batch) f.status = finding_status::none;
    CHECK_THAT(k8snetio::io::write_findings(batch, format),
               !Catch::Contains("\"status\"") && !Catch::Contains("finding_id"));
  }
}

TEST_CASE("L6 without a store, a shutdown writes the open windows' findings as partial") {
  // The spike is in the second window, still open at the shutdown (no later point closes it).
  const auto payloads = hec_payloads(traffic(100, 7, 70, 78));
  svc::memory_findings_sink sink;
  auto d = make(sink);
  for (const auto& p : payloads) d.ingest(payload_kind::hec, p);
  const auto before = sink.findings.size();
  REQUIRE(!d.shut_down());
  REQUIRE(before == 0);
  REQUIRE(sink.findings.size() == 1);
  CHECK(sink.findings.back().status == finding_status::partial);
  std::string metrics;
  d.render_metrics(metrics);
  CHECK_THAT(metrics, Catch::Contains("k8snetio_findings_emitted_total{status=\"partial\"} 1"));
}

TEST_CASE(
    "A6 K3 live_detector::restore_state refuses a damaged or foreign state with bad_snapshot, "
    "keeping its own") {
  const auto payloads = incident_payloads();
  svc::memory_findings_sink sink;
  auto a = make(sink);
  for (std::size_t i = 0; i < payloads.size() / 2; ++i) a.ingest(payload_kind::hec, payloads[i]);
  const std::string state = a.save_state();
  svc::memory_findings_sink other_sink;
  auto b = make(other_sink);
  for (const std::string_view bad :
       {std::string_view(state).substr(0, state.size() / 2), std::string_view("not a state")}) {
    const auto refused = b.restore_state(bad);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == k8snetio::error_code::bad_snapshot);
    CHECK_THAT(refused.error().what(), Catch::StartsWith("[k8snetio.error.150] state snapshot: "));
    CHECK_THAT(refused.error().what(), !Catch::Contains("--"));
  }
  // Refused twice, b is still the fresh detector it was: it gives the uninterrupted findings.
  for (const auto& p : payloads) b.ingest(payload_kind::hec, p);
  REQUIRE(!b.shut_down());
  CHECK(keys(other_sink.findings) == keys(uninterrupted(payloads, small_options())));
}

TEST_CASE("K1.1 L6 save_state/restore_state at every cut point: one run's findings, each once") {
  const auto payloads = incident_payloads();
  for (const bool early : {false, true}) {
    const auto whole = keys(uninterrupted(payloads, small_options(early)));
    REQUIRE(!whole.empty());
    for (std::size_t cut = 0; cut <= payloads.size(); cut += 7) {
      svc::memory_findings_sink sink;
      std::string state;
      {
        auto a = make(sink, small_options(early));
        for (std::size_t i = 0; i < cut; ++i) a.ingest(payload_kind::hec, payloads[i]);
        state = a.save_state();
      }
      auto b = make(sink, small_options(early));
      REQUIRE(b.restore_state(state));
      for (std::size_t i = cut; i < payloads.size(); ++i) b.ingest(payload_kind::hec, payloads[i]);
      REQUIRE(!b.shut_down());
      INFO("early alerts " << early << ", cut at payload " << cut);
      CHECK(keys(sink.findings) == whole);
    }
  }
}

TEST_CASE(
    "L1 L6 RT-15 RT-16 a directory store: a restart or a crash at every cut point gives "
    "one run's findings, each written once (provisional ones too)") {
  const auto payloads = incident_payloads();
  for (const bool early : {false, true}) {
    const auto whole = keys(uninterrupted(payloads, small_options(early)));
    for (const bool crash : {false, true}) {
      for (std::size_t cut = 1; cut < payloads.size(); cut += 5) {
        temp_dir dir;
        svc::memory_findings_sink sink;
        {
          std::string error;
          auto store = svc::directory_store::open(dir.str(), error);
          REQUIRE(store);
          auto a = make(sink, small_options(early));
          REQUIRE(!a.attach(*store));
          for (std::size_t i = 0; i < cut; ++i) a.ingest(payload_kind::hec, payloads[i]);
          if (!crash) REQUIRE(!a.shut_down());  // a crash: nothing more is written
        }
        std::string error;
        auto store = svc::directory_store::open(dir.str(), error);
        REQUIRE(store);
        auto b = make(sink, small_options(early));
        REQUIRE(!b.attach(*store));
        for (std::size_t i = cut; i < payloads.size(); ++i)
          b.ingest(payload_kind::hec, payloads[i]);
        REQUIRE(!b.shut_down());
        INFO("early alerts " << early << ", crash " << crash << ", cut at payload " << cut);
        CHECK(keys(sink.findings) == whole);
      }
    }
  }
}

TEST_CASE("RT-7 L6 OTLP cumulative series survive a crash: no delta lost, no first point twice") {
  auto points = traffic(180, 7, 70, 78);
  const auto payloads = otlp_cumulative_payloads(points);
  svc::memory_findings_sink whole_sink;
  std::uint64_t whole_first = 0;
  {
    auto d = make(whole_sink);
    for (const auto& p : payloads)
      whole_first += d.ingest(payload_kind::otlp_json, p).counts[point_outcome::first_of_series];
    REQUIRE(!d.shut_down());
  }
  REQUIRE(whole_first == 8);
  for (const std::size_t cut : {std::size_t{5}, std::size_t{64}, std::size_t{100}}) {
    temp_dir dir;
    svc::memory_findings_sink sink;
    std::uint64_t first = 0;
    {
      std::string error;
      auto store = svc::directory_store::open(dir.str(), error);
      auto a = make(sink);
      REQUIRE(!a.attach(*store));
      for (std::size_t i = 0; i < cut; ++i)
        first +=
            a.ingest(payload_kind::otlp_json, payloads[i]).counts[point_outcome::first_of_series];
    }  // killed: no shutdown
    std::string error;
    auto store = svc::directory_store::open(dir.str(), error);
    auto b = make(sink);
    REQUIRE(!b.attach(*store));
    CHECK(b.series_count() == 8);
    for (std::size_t i = cut; i < payloads.size(); ++i)
      first +=
          b.ingest(payload_kind::otlp_json, payloads[i]).counts[point_outcome::first_of_series];
    REQUIRE(!b.shut_down());
    CHECK(first == whole_first);
    CHECK(keys(sink.findings) == keys(whole_sink.findings));
  }
}

TEST_CASE(
    "S1.4 a point stamped far in the future is future_time: it never moves the watermark, "
    "never opens a window, and is rejected again after a restart") {
  const auto payloads = incident_payloads();
  const double clock = t0 + 1000;  // the data's own time: the receiver's clock is live
  const auto whole = keys(uninterrupted(payloads));
  temp_dir dir;
  svc::memory_findings_sink sink;
  {
    std::string error;
    auto store = svc::directory_store::open(dir.str(), error);
    auto d = make(sink, small_options(), clock);
    REQUIRE(!d.attach(*store));
    for (std::size_t i = 0; i < 50; ++i) d.ingest(payload_kind::hec, payloads[i]);
    const auto mark = d.watermark();
    const owned future{clock + 86400.0 * 365, 1, "prod", "evil-0", "node-1", "transmit"};
    const auto r = d.ingest(payload_kind::hec, hec_event(future));
    CHECK(r.counts[point_outcome::future_time] == 1);
    CHECK(r.accepted() == 0);
    CHECK(d.watermark() == mark);
    const owned near{t0 + 495.0, 1, "prod", "db-0", "node-1", "transmit"};  // not ahead
    CHECK(d.ingest(payload_kind::hec, hec_event(near)).counts[point_outcome::accepted] == 1);
    std::string metrics;
    d.render_metrics(metrics);
    CHECK_THAT(metrics,
               Catch::Contains("k8snetio_points_rejected_total{reason=\"future_time\"} 1"));
  }
  // The restarted service, a year later by its clock, replays the log with the clock each
  // request came at: the future point is rejected again, the windows still close as before.
  std::string error;
  auto store = svc::directory_store::open(dir.str(), error);
  auto d = make(sink, small_options(), clock + 86400.0 * 400);
  REQUIRE(!d.attach(*store));
  CHECK(*d.watermark() < clock + 1000);
  for (std::size_t i = 50; i < payloads.size(); ++i) d.ingest(payload_kind::hec, payloads[i]);
  REQUIRE(!d.shut_down());
  CHECK(keys(sink.findings) == whole);
}

TEST_CASE(
    "RT-21 a damaged write-ahead log record is refused with its offset; a torn last "
    "record is dropped") {
  const auto payloads = incident_payloads();
  temp_dir dir;
  svc::memory_findings_sink sink;
  std::filesystem::path log;
  {
    std::string error;
    auto store = svc::directory_store::open(dir.str(), error);
    auto d = make(sink);
    REQUIRE(!d.attach(*store));
    for (std::size_t i = 0; i < 20; ++i) d.ingest(payload_kind::hec, payloads[i]);
  }
  for (const auto& e : std::filesystem::directory_iterator(dir.path))
    if (e.path().filename().string().rfind("wal.", 0) == 0) log = e.path();
  REQUIRE(!log.empty());
  std::string bytes = k8snetio::test::read_file(log.string());
  REQUIRE(bytes.size() > 200);
  SECTION("torn tail") {
    std::ofstream(log, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 7);
    std::string error;
    auto store = svc::directory_store::open(dir.str(), error);
    auto d = make(sink);
    std::vector<std::string> lines;
    d.on_log([&](const std::string& l) { lines.push_back(l); });
    CHECK(!d.attach(*store));
    CHECK(std::any_of(lines.begin(), lines.end(), [](const std::string& l) {
      return l.find("cut short") != std::string::npos;
    }));
  }
  SECTION("a flipped byte inside a record") {
    bytes[bytes.size() / 2] ^= 0x20;
    std::ofstream(log, std::ios::binary | std::ios::trunc) << bytes;
    std::string error;
    auto store = svc::directory_store::open(dir.str(), error);
    auto d = make(sink);
    const auto refused = d.attach(*store);
    REQUIRE(refused);
    CHECK_THAT(*refused, Catch::Contains("damaged record at byte offset"));
  }
}

TEST_CASE("RT-17 L1 a second process on the same state directory is refused") {
  temp_dir dir;
  std::string error;
  auto first = svc::directory_store::open(dir.str(), error);
  REQUIRE(first);
  auto second = svc::directory_store::open(dir.str(), error);
  CHECK(!second);
  CHECK_THAT(error, Catch::Contains("in use by another process"));
  first.reset();
  CHECK(svc::directory_store::open(dir.str(), error));
}

TEST_CASE("RT-12 L1 a state directory others can write, a link or a file is refused") {
  temp_dir dir;
  std::string error;
  REQUIRE(svc::directory_store::open(dir.str(), error));  // created, 0700
  CHECK((std::filesystem::status(dir.path).permissions() & std::filesystem::perms::group_write) ==
        std::filesystem::perms::none);
  ::chmod(dir.str().c_str(), 0777);
  CHECK(!svc::directory_store::open(dir.str(), error));
  CHECK_THAT(error, Catch::Contains("writable by other users"));
  ::chmod(dir.str().c_str(), 0700);
  const auto link = dir.path.string() + ".link";
  std::filesystem::create_directory_symlink(dir.path, link);
  CHECK(!svc::directory_store::open(link, error));
  CHECK_THAT(error, Catch::Contains("symbolic link"));
  std::filesystem::remove(link);
  std::ofstream(dir.path / "file") << "x";
  CHECK(!svc::directory_store::open((dir.path / "file").string(), error));
  CHECK_THAT(error, Catch::Contains("not a directory"));
}

namespace {
/// A store whose log appends can be made to fail, as a full disk does.
class failing_store final : public svc::state_store {
 public:
  std::string name() const override { return "the test store"; }
  std::optional<std::string> read_snapshot(std::string&) override { return snapshot; }
  bool write_snapshot(std::string_view bytes, std::string&) override {
    snapshot = std::string(bytes);
    return true;
  }
  bool open_log(std::uint64_t g, std::string&) override {
    open = g;
    logs[g];
    return true;
  }
  bool append(std::string_view record, std::string& error) override {
    if (full) {
      error = "No space left on device";
      return false;
    }
    logs[open].emplace_back(record);
    return true;
  }
  bool read_log(std::uint64_t g, const std::function<bool(std::string_view)>& record, std::string&,
                std::string&) override {
    for (const auto& r : logs[g])
      if (!record(r)) break;
    return true;
  }
  void drop_logs_except(std::uint64_t keep) override {
    std::erase_if(logs, [keep](const auto& e) { return e.first != keep; });
  }
  bool sync(std::string&) override { return true; }
  std::string learned_days_dir() const override { return dir.str(); }

  temp_dir dir;
  bool full = false;
  std::optional<std::string> snapshot;
  std::uint64_t open = 0;
  std::map<std::uint64_t, std::vector<std::string>> logs;
};
}  // namespace

TEST_CASE(
    "RT-3 L6 a payload that cannot be made durable is not acknowledged: retry, nothing "
    "counted or used") {
  const auto payloads = incident_payloads();
  const auto whole = keys(uninterrupted(payloads));
  failing_store store;
  svc::memory_findings_sink sink;
  {
    auto d = make(sink);
    REQUIRE(!d.attach(store));
    for (std::size_t i = 0; i < payloads.size(); ++i) {
      store.full = i % 3 == 1;
      auto r = d.ingest(payload_kind::hec, payloads[i]);
      if (store.full) {
        CHECK(r.state == ingest_result::status::retry);
        CHECK(r.accepted() + r.rejected() == 0);
        store.full = false;  // the sender retries once the space is back
        r = d.ingest(payload_kind::hec, payloads[i]);
      }
      CHECK(r.state == ingest_result::status::ok);
    }
  }
  CHECK(keys(sink.findings) == whole);
  // A restart from that store replays exactly the payloads acknowledged.
  svc::memory_findings_sink again;
  auto d = make(again);
  REQUIRE(!d.attach(store));
  REQUIRE(!d.shut_down());
  CHECK(again.findings.empty());  // every finding was marked written; none is written twice
}

TEST_CASE(
    "RT-4 findings a sink could not write are kept, written when it recovers, and only "
    "then marked written") {
  const auto payloads = incident_payloads();
  const auto whole = keys(uninterrupted(payloads));
  svc::memory_findings_sink sink;
  auto d = make(sink);
  sink.fail_next = true;  // the disk is full when the first window's findings come
  bool seen = false;
  for (const auto& p : payloads) {
    d.ingest(payload_kind::hec, p);
    if (!seen && d.stats().sink_failures == 1) {
      seen = true;
      CHECK(d.pending() == 1);
      CHECK(sink.findings.empty());
    }
  }
  REQUIRE(seen);
  CHECK(d.pending() == 0);
  CHECK(keys(sink.findings) == whole);
  CHECK(d.stats().sink_failures == 1);
}

TEST_CASE("L0 L1 the live options are checked once: --span 1m accepted, --sigma 0 refused") {
  CHECK(svc::parse_duration("1m") == 60);
  CHECK(svc::parse_duration("10s") == 10);
  CHECK(!svc::parse_duration("0"));
  CHECK(svc::parse_duration("0", true) == 0);
  svc::live_options o;
  CHECK(!o.validate(false));
  CHECK(o.window_seconds == 3600);
  CHECK(o.lateness_seconds == 30);
  CHECK(o.max_future_seconds == 300);
  CHECK(o.max_body == std::size_t{8} << 20);
  o.span_seconds = 60;
  CHECK(!o.validate(false));
  o.sigma = 0;
  REQUIRE(o.validate(false));
  CHECK_THAT(*o.validate(false), Catch::Contains("--sigma"));
  o.sigma = 4;
  o.window_seconds = 90;
  CHECK(o.validate(false));
  o.window_seconds = 3600;
  o.learn = true;
  CHECK(o.validate(false));  // --learn needs a state
  CHECK(!o.validate(true));
  o.span_seconds = 7;
  o.window_seconds = 7 * 500;
  CHECK(o.validate(true));  // with a state the span must divide a day
}

TEST_CASE(
    "L8 with learn, the detection switches to the learned table the day after a day "
    "completes; the table switch survives a restart") {
  // Day 1: normal traffic from midnight UTC; day 2: pod 0 spikes from 00:20 to 00:30. The
  // given baseline is empty, so only the learned table can find it.
  constexpr std::int64_t day1 = 1699920000;  // 2023-11-14T00:00:00Z
  const auto day1_points = traffic(8640, 11, 1 << 30, 1 << 30, day1);
  auto day2_points = traffic(360, 12, 120, 180, day1 + 86400);
  day2_points.push_back(
      {static_cast<double>(day1 + 86400 + 3700), 1, "tick", "tick-0", "tick", "transmit"});
  auto payloads = hec_payloads(day1_points);
  const auto day2 = hec_payloads(day2_points);
  payloads.insert(payloads.end(), day2.begin(), day2.end());
  const auto learned = k8snetio::build_network_io_baseline(views(day1_points)).table;
  k8snetio::detection_options batch = small_options().detection();
  batch.window_seconds = 3600;
  batch.span.closing = k8snetio::group_closing::at_finish;
  const auto expected =
      k8snetio::detect_anomalous_network_io(views(day2_points), learned, batch).findings;
  REQUIRE(expected.size() == 1);

  svc::live_options o = small_options();
  o.window_seconds = 3600;
  o.learn = true;
  for (const std::size_t cut : {std::size_t{0}, payloads.size() - 300}) {
    temp_dir dir;
    svc::memory_findings_sink sink;
    const auto run = [&](std::size_t from, std::size_t to, bool stop) {
      std::string error;
      auto store = svc::directory_store::open(dir.str(), error);
      REQUIRE(store);
      live d(k8snetio::anomalous_network_io,
             k8snetio::baseline_table<2>(*k8snetio::anomalous_network_io.measures), o, sink,
             {"io", 1}, [] { return now; });
      REQUIRE(!d.attach(*store));
      for (std::size_t i = from; i < to; ++i) d.ingest(payload_kind::hec, payloads[i]);
      if (stop) REQUIRE(!d.shut_down());
      return d.stats().table_switches;
    };
    if (cut) run(0, cut, false);
    run(cut, payloads.size(), true);
    INFO("restart at payload " << cut);
    REQUIRE(sink.findings.size() == 1);
    CHECK(sink.findings[0] == expected[0]);
    CHECK(std::filesystem::exists(dir.path / "baseline" / "2023-11-14.k8snetio-day"));
  }
}

/// A burst of `pods` new pods, one point each, at `time`: more groups than a small cap holds.
std::string burst_payload(int pods, double time) {
  std::string body;
  for (int i = 0; i < pods; ++i)
    body += hec_event({time, 1, "prod", fmt::format("burst-{}", i), "node-9", "transmit"});
  return body;
}

TEST_CASE(
    "S5.1 RT-9 reaching --max-open-groups never wedges the live detector: refused points are "
    "counted and named, the watermark moves, windows close, before and after a restart") {
  auto payloads = incident_payloads();
  svc::live_options capped = small_options();
  capped.max_open_groups = 48;  // the eight series of incident_payloads hold at most 40
  const auto whole = keys(uninterrupted(payloads));
  REQUIRE(whole.size() == 1);
  REQUIRE(keys(uninterrupted(payloads, capped)) == whole);  // the cap alone refuses nothing
  // 200 new pods in the first bucket fill the cap; the incident's first buckets are refused
  // until the watermark passes that bucket, and its spike (second window) is found as ever.
  payloads.insert(payloads.begin(), burst_payload(200, static_cast<double>(t0 + 5)));
  {
    svc::memory_findings_sink sink;
    auto d = make(sink, capped);
    std::uint64_t refused = 0, accepted_late_on = 0;
    for (std::size_t i = 0; i < payloads.size(); ++i) {
      const auto r = d.ingest(payload_kind::hec, payloads[i]);
      REQUIRE(r.state == ingest_result::status::ok);
      refused += r.counts[point_outcome::memory_limit];
      if (i > payloads.size() / 2) accepted_late_on += r.accepted();
      if (r.counts[point_outcome::memory_limit])
        CHECK_THAT(r.message, Catch::Contains("memory_limit"));
    }
    CHECK(refused > 200 - 48);            // the burst's rest and the incident's first buckets
    CHECK(accepted_late_on > 0);          // old series flow again once the burst's bucket closed
    CHECK(d.engine().open_rows() <= 48);  // groups were released
    CHECK(*d.watermark() > static_cast<double>(t0 + 1800));
    REQUIRE(!d.shut_down());
    CHECK(keys(sink.findings) == whole);
    std::string metrics;
    d.render_metrics(metrics);
    CHECK_THAT(metrics,
               Catch::Contains(fmt::format(
                   "k8snetio_points_rejected_total{{reason=\"memory_limit\"}} {}", refused)));
  }
  // A restart at the cap (a crash: the log is replayed; or a saved state) wedges no more.
  for (const std::size_t cut : {std::size_t{1}, std::size_t{3}, std::size_t{60}}) {
    for (const bool crash : {true, false}) {
      temp_dir dir;
      svc::memory_findings_sink sink;
      std::string state;
      {
        std::string error;
        auto store = svc::directory_store::open(dir.str(), error);
        REQUIRE(store);
        auto a = make(sink, capped);
        if (crash) REQUIRE(!a.attach(*store));
        for (std::size_t i = 0; i < cut; ++i) a.ingest(payload_kind::hec, payloads[i]);
        if (!crash) state = a.save_state();
      }
      std::string error;
      auto store = svc::directory_store::open(dir.str(), error);
      REQUIRE(store);
      auto b = make(sink, capped);
      if (crash)
        REQUIRE(!b.attach(*store));
      else
        REQUIRE(b.restore_state(state));
      for (std::size_t i = cut; i < payloads.size(); ++i) b.ingest(payload_kind::hec, payloads[i]);
      REQUIRE(!b.shut_down());
      INFO("restart after payload " << cut << (crash ? ", a crash" : ", a saved state"));
      CHECK(keys(sink.findings) == whole);
    }
  }
}

TEST_CASE(
    "S1.3 RT-32 a point for a bucket the watermark has passed is late, counted and named, "
    "though no group of its series or bucket was ever opened") {
  // Lateness 30 and 0 are multiples of the 10 s span; 32 and 1 are not: the watermark is the
  // newest point time minus the lateness, not the newest bucket minus it.
  for (const std::int64_t lateness :
       {std::int64_t{30}, std::int64_t{0}, std::int64_t{32}, std::int64_t{1}, std::int64_t{45}}) {
    svc::live_options o = small_options();
    o.lateness_seconds = lateness;
    svc::memory_findings_sink sink;
    auto d = make(sink, o);
    // A series seen once, in the first bucket only.
    REQUIRE(d.ingest(payload_kind::hec, hec_event({static_cast<double>(t0 + 1), 5, "prod",
                                                   "sparse-0", "node-1", "transmit"}))
                .accepted() == 1);
    for (const auto& p : hec_payloads(traffic(20, 3))) d.ingest(payload_kind::hec, p);
    const double watermark = *d.watermark();
    REQUIRE(watermark == static_cast<double>(t0 + 190 + 2 - lateness));
    // The newest bucket whose end the watermark has passed, and the one after it (not passed).
    const std::int64_t passed = static_cast<std::int64_t>(std::floor(watermark / 10)) * 10 - 10;
    const auto one = [&](double time, const char* pod) {
      return d.ingest(payload_kind::hec, hec_event({time, 7, "prod", pod, "node-1", "transmit"}));
    };
    INFO(fmt::format("lateness {} s, watermark {:.1f}, bucket {}", lateness, watermark, passed));
    // A brand-new series arriving late.
    auto r = one(static_cast<double>(passed) + 9.5, "newcomer-0");
    CHECK(r.counts[point_outcome::late] == 1);
    CHECK(r.accepted() == 0);
    CHECK_THAT(r.message, Catch::Contains("late"));
    // A known series, for a bucket of its own never opened and older than the watermark.
    r = one(static_cast<double>(passed) + 9.5, "sparse-0");
    CHECK(r.counts[point_outcome::late] == 1);
    // The bucket after it is not complete yet: new and known series are accepted.
    CHECK(one(static_cast<double>(passed + 10), "newcomer-1").accepted() == 1);
    CHECK(one(static_cast<double>(passed + 10), "sparse-0").accepted() == 1);
    std::string metrics;
    d.render_metrics(metrics);
    CHECK_THAT(metrics, Catch::Contains("k8snetio_late_points_total 2"));
  }
}

/// The incident's HEC events by partition: pods 0 and 1 on partition 0, pods 2 and 3 on
/// partition 1 (one pod's series on one partition, K2), one message per bucket; each partition
/// gets a tick that closes the last window (its own watermark).
std::vector<std::vector<std::string>> partitioned_payloads() {
  auto points = traffic(180, 7, 70, 78);
  std::vector<std::map<std::int64_t, std::string>> by_bucket(2);
  for (const auto& p : points) {
    const std::size_t partition = p.pod.rfind("web", 0) == 0 || p.pod.rfind("api", 0) == 0 ? 0 : 1;
    by_bucket[partition][static_cast<std::int64_t>(p.time) / 10] += hec_event(p);
  }
  std::vector<std::vector<std::string>> out(2);
  for (std::size_t i = 0; i < 2; ++i) {
    for (auto& [bucket, body] : by_bucket[i]) out[i].push_back(std::move(body));
    out[i].push_back(hec_event({static_cast<double>(t0 + 1800 + 700), 1, "tick",
                                fmt::format("tick-{}", i), "tick", "transmit"}));
  }
  return out;
}

svc::partitioned_live_options partitioned_options() {
  svc::partitioned_live_options o;
  o.live = small_options();
  o.format = svc::message_format::hec;
  o.settings = "test";
  return o;
}

TEST_CASE(
    "K2 K3 K5 L0 partitioned_live: a detector per partition, replays skipped, a state with the "
    "offset it covers, commits only once stored; a failover at any cut gives one run's findings, "
    "each once, every point accounted for") {
  using k8snetio::partition_id;
  const auto messages = partitioned_payloads();
  const auto whole = keys(uninterrupted(incident_payloads()));
  REQUIRE(whole.size() == 1);
  const std::vector<partition_id> ids = {{"metrics", 0}, {"metrics", 1}};
  // Round-robin over the partitions, as a consumer polls them.
  std::vector<std::pair<std::size_t, std::int64_t>> order;
  for (std::size_t i = 0; i < std::max(messages[0].size(), messages[1].size()); ++i)
    for (std::size_t p = 0; p < 2; ++p)
      if (i < messages[p].size()) order.emplace_back(p, static_cast<std::int64_t>(i));
  std::uint64_t sent = 0;
  for (const auto& m : messages)
    for (const auto& body : m)
      sent += static_cast<std::uint64_t>(std::count(body.begin(), body.end(), '\n'));

  for (const std::size_t cut :
       {std::size_t{0}, std::size_t{101}, order.size() / 2 + 1, order.size()}) {
    std::vector<finding> found;
    const svc::findings_output out = [&](std::span<const finding> f, std::string&) {
      found.insert(found.end(), f.begin(), f.end());
      return true;
    };
    std::map<partition_id, std::string> stored;
    std::map<partition_id, std::int64_t> committed;
    std::uint64_t counted = 0;
    {
      svc::partitioned_live a(k8snetio::anomalous_network_io,
                              std::make_shared<const k8snetio::baseline_table<2>>(trained()),
                              partitioned_options(), out);
      for (const auto& id : ids) {
        const auto resume = a.assign(id);
        REQUIRE(resume);
        CHECK(!*resume);
      }
      for (std::size_t i = 0; i < cut; ++i)
        CHECK(a.message(ids[order[i].first], order[i].second,
                        messages[order[i].first][static_cast<std::size_t>(order[i].second)]) ==
              svc::partitioned_live::message_outcome::used);
      // K3: nothing is committable before a state covering it is stored.
      CHECK(a.commits(ids).empty());
      for (const auto& id : a.due(ids, true)) {
        stored[id] = a.save(id);
        a.stored(id);
      }
      CHECK(a.due(ids, false).empty());  // nothing new since the save
      const auto commits = a.commits(ids);
      CHECK(commits.size() == stored.size());
      for (const auto& [id, offset] : commits) committed[id] = offset;
      a.committed(commits);
      CHECK(a.commits(ids).empty());
      counted = a.counts().accepted() + a.counts().rejected() + a.counts().ignored();
    }  // the consumer is gone: another takes the partitions over
    svc::partitioned_live b(k8snetio::anomalous_network_io,
                            std::make_shared<const k8snetio::baseline_table<2>>(trained()),
                            partitioned_options(), out);
    std::uint64_t replayed = 0;
    for (const auto& id : ids) {
      const auto it = stored.find(id);
      const auto resume = it == stored.end() ? b.assign(id) : b.assign(id, it->second);
      REQUIRE(resume);
      CHECK(*resume == (it == stored.end() ? std::nullopt : std::optional(committed[id])));
      // Kafka redelivers from the last commit, or (a commit lost) from the start: both are fine.
      const std::size_t p = static_cast<std::size_t>(id.partition);
      for (std::size_t i = 0; i < messages[p].size(); ++i) {
        const auto used = b.message(id, static_cast<std::int64_t>(i), messages[p][i]);
        replayed += used == svc::partitioned_live::message_outcome::replayed;
      }
    }
    INFO("failover after message " << cut);
    CHECK(replayed == cut);
    CHECK(b.replayed() == cut);
    CHECK(keys(found) == whole);
    // K5: every point counted once, across the failover; the states carried the counts.
    CHECK(counted + b.counts().accepted() + b.counts().rejected() + b.counts().ignored() == sent);
    std::uint64_t carried = 0;
    for (const auto& id : ids)
      carried += b.partition(id).accepted + b.partition(id).rejected + b.partition(id).ignored;
    CHECK(carried == sent);
    for (const auto& id : ids) b.revoke(id);
    CHECK(b.partitions().empty());
  }
}

TEST_CASE(
    "A6: partitioned_live::assign refuses a damaged partition state with bad_snapshot, not a "
    "throw, and leaves the partition unassigned") {
  using k8snetio::partition_id;
  const auto table = std::make_shared<const k8snetio::baseline_table<2>>(trained());
  const auto discard = [](std::span<const finding>, std::string&) { return true; };
  const partition_id id{"metrics", 0};
  std::string saved;
  {
    svc::partitioned_live a(k8snetio::anomalous_network_io, table, partitioned_options(), discard);
    REQUIRE(a.assign(id));
    const owned point{static_cast<double>(t0 + 1), 5, "prod", "web-0", "node-1", "transmit"};
    REQUIRE(a.message(id, 0, hec_event(point)) == svc::partitioned_live::message_outcome::used);
    saved = a.save(id);
  }
  std::string corrupt = saved;
  corrupt[corrupt.size() / 2] ^= 0x20;
  // A whole partition envelope around a damaged state of the partition itself (the part
  // live_partition reads).
  k8snetio::detail::snapshot_writer w;
  w.str(id.topic);
  w.i64(id.partition);
  w.opt_i64(1);
  w.str(k8snetio::seal_snapshot("consume_partition", "2", "damaged"));
  const std::string inner = k8snetio::seal_snapshot("partitioned_engine", "test", w.bytes());
  const std::vector<std::pair<std::string, std::string>> damaged = {
      {"CRC-32", corrupt},
      {"truncated", saved.substr(0, saved.size() - 3)},
      {"consume partition state: truncated", inner}};
  for (const auto& [says, bytes] : damaged) {
    INFO(says);
    svc::partitioned_live b(k8snetio::anomalous_network_io, table, partitioned_options(), discard);
    const auto resume = b.assign(id, bytes);
    CHECK(k8snetio::test::refused(resume));
    CHECK_THAT(k8snetio::test::refusal(resume), Catch::Contains(says));
    CHECK_FALSE(b.assigned(id));
    CHECK(b.partitions().empty());
    CHECK(b.message(id, 1, "x") == svc::partitioned_live::message_outcome::not_assigned);
    // The undamaged state is taken: the refusal came from the bytes.
    const auto taken = b.assign(id, saved);
    REQUIRE(taken);
    CHECK(*taken == std::optional<std::int64_t>(1));
    CHECK(b.assigned(id));
  }
}

TEST_CASE(
    "K1 K2 L4 partitioned_live names malformed messages by partition and offset, a pod on two "
    "partitions, and renders /metrics and the summary with serve's labels") {
  using k8snetio::partition_id;
  svc::partitioned_live live(k8snetio::anomalous_network_io,
                             std::make_shared<const k8snetio::baseline_table<2>>(trained()),
                             partitioned_options(),
                             [](std::span<const finding>, std::string&) { return true; });
  const partition_id a{"metrics", 0}, b{"metrics", 1}, other{"metrics", 2};
  REQUIRE(live.assign(a));
  REQUIRE(live.assign(b));
  CHECK(live.message(other, 0, "x") == svc::partitioned_live::message_outcome::not_assigned);
  const owned point{static_cast<double>(t0 + 1), 5, "prod", "web-0", "node-1", "transmit"};
  CHECK(live.message(a, 0, hec_event(point)) == svc::partitioned_live::message_outcome::used);
  CHECK(live.message(b, 0, hec_event(point)) == svc::partitioned_live::message_outcome::used);
  live.message(b, 1, "{\"event\":");
  live.message(a, 1, "   \n");
  CHECK(live.malformed() == 2);
  CHECK(live.partition(a).malformed == 1);
  const auto summary = live.summary("metrics", 0);
  REQUIRE(summary.size() == 4);
  CHECK_THAT(summary[0], Catch::StartsWith("4 messages from metrics: points 2 accepted, ") &&
                             Catch::Contains("; 2 malformed messages; 0 replayed messages skipped; "
                                             "0 findings written"));
  CHECK_THAT(summary[1], Catch::StartsWith("malformed message metrics/1@1: "));
  CHECK(summary[2] == "malformed message metrics/0@1: empty message");
  CHECK_THAT(summary[3], Catch::Contains("pod prod/web-0 is on partitions 0 and 1"));
  std::string metrics;
  live.render_metrics(metrics, {}, 0);
  CHECK_THAT(metrics, Catch::Contains("k8snetio_points_accepted_total 2\n"));
  CHECK_THAT(metrics, Catch::Contains("k8snetio_malformed_messages_total 2\n"));
  CHECK_THAT(metrics, Catch::Contains("k8snetio_assigned_partitions 2\n"));
}

TEST_CASE(
    "K3 a state larger than one message goes in chunks and a manifest; a lost chunk is named") {
  std::string bytes(2 * svc::state_chunk_bytes + 1000, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7 % 251);
  const std::string key = "group/metrics/3";
  const auto messages = svc::split_state(key, bytes, "0123abcd", 42);
  REQUIRE(messages.chunks.size() == 3);
  svc::stored_state s;
  s.manifest = messages.manifest;
  for (const auto& [chunk, value] : messages.chunks) s.chunks[chunk] = std::string(value);
  std::string error;
  std::pair<std::string, std::size_t> generation;
  const auto back = svc::assemble_state(key, s, "the topic", error, &generation);
  REQUIRE(back);
  CHECK(*back == bytes);
  CHECK(generation == std::pair<std::string, std::size_t>{"0123abcd", 3});
  s.chunks.erase(messages.chunks[1].first);
  CHECK_FALSE(svc::assemble_state(key, s, "the topic", error, nullptr));
  CHECK(error == "the state in the topic lacks its chunk 2 of 3");
  s.manifest = "not a manifest";
  CHECK_FALSE(svc::assemble_state(key, s, "the topic", error, nullptr));
  CHECK_THAT(error, Catch::Contains("is not a k8snetio state manifest"));
}

}  // namespace test_service_live
