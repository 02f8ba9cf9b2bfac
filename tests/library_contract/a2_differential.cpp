// library.md A2: one answer however the library is composed. The same points go through
//   1. the range-adaptor pipeline (stages, one pipeline per epoch-aligned window, D9),
//   2. the streaming engine (detect(), time order and shuffled),
//   3. the live core (service::live_detector fed HEC payloads, one per 10 s bucket),
//   4. the program (`k8s-netio baseline` then `k8s-netio detect --window 10m --format jsonl`
//      on CSV files of the same points, shuffled),
// for both shipped rules and for a derived rule that maps two directions to one measure (D3's
// mean; the program has no such rule, so it is compared by 1-3 only). Every pair must agree
// finding for finding, windows included; the program's JSON Lines must equal the library's
// writer byte for byte. Exits 0 when all agree, 1 with the first difference otherwise.
//
//     a2_differential K8S_NETIO WORKDIR
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <k8snetio/io/output/findings_writer.hpp>
#include <k8snetio/k8snetio.hpp>
#include <k8snetio/service/service.hpp>

#include "two_to_one_rule.hpp"

namespace k = k8snetio;
namespace svc = k8snetio::service;

namespace {

constexpr std::int64_t t0 = 1'700'001'000;  // a multiple of 600: windows start on it
constexpr std::int64_t window = 600;
constexpr int buckets = 360;  // one hour: six windows

struct owned {
  double time = 0, value = 0;
  std::string cluster, pod, node, direction;
};

int failures = 0;
void fail(const std::string& what) {
  std::fprintf(stderr, "a2_differential: %s\n", what.c_str());
  ++failures;
}

/// Six pods of four services, both directions, two points a bucket per series (D1 sums them).
/// `incidents`: the day to detect in, with
///   - web-x2k9p sending 40x for 8 buckets of the second window (a finding of the io rule),
///   - api-z9y8x receiving 40x for 5 buckets of the third (count 5: no finding, D7.2),
///   - db-0 receiving 40x for 4 + 4 buckets across the boundary of windows 4 and 5 (none),
///   - cache-1 sending 40x for 7 buckets of the fifth window while receiving as usual (the
///     ratio rule's finding too).
std::vector<owned> traffic(std::int64_t start, std::uint32_t seed, bool incidents) {
  std::mt19937 rng(seed);  // its output is fixed by the standard: the same data everywhere
  const std::vector<std::pair<std::string, std::string>> pods = {{"web-7d4b9c8f6d-x2k9p", "node-1"},
                                                                 {"web-7d4b9c8f6d-q8w2e", "node-2"},
                                                                 {"api-5f6d7c8b9a-z9y8x", "node-1"},
                                                                 {"api-5f6d7c8b9a-m3n4b", "node-2"},
                                                                 {"db-0", "node-3"},
                                                                 {"cache-1", "node-3"}};
  const auto spike = [&](const std::string& pod, const std::string& dir, int b) {
    if (!incidents) return false;
    if (pod == "web-7d4b9c8f6d-x2k9p" && dir == "transmit") return b >= 70 && b < 78;
    if (pod == "api-5f6d7c8b9a-z9y8x" && dir == "receive") return b >= 130 && b < 135;
    if (pod == "db-0" && dir == "receive") return b >= 176 && b < 184;
    if (pod == "cache-1" && dir == "transmit") return b >= 250 && b < 257;
    return false;
  };
  std::vector<owned> out;
  for (int b = 0; b < buckets; ++b) {
    for (const auto& [pod, node] : pods) {
      // Two pods also report "egress" (the io rule does not map it: counted, A1.4; the
      // derived rule averages it with "transmit").
      const bool egress = pod == "web-7d4b9c8f6d-q8w2e" || pod == "cache-1";
      for (const std::string dir : {"transmit", "receive", "egress"}) {
        if (dir == "egress" && !egress) continue;
        for (const double offset : {0.25, 6.5}) {
          const double base = dir == "transmit" ? 1000 : dir == "receive" ? 3000 : 400;
          double value = base + static_cast<double>(rng() % 200);
          if (spike(pod, dir, b)) value *= 40;
          out.push_back(
              {static_cast<double>(start + 10 * b) + offset, value, "prod", pod, node, dir});
        }
      }
    }
  }
  return out;
}

std::vector<k::metric_point> views(const std::vector<owned>& points) {
  std::vector<k::metric_point> out;
  out.reserve(points.size());
  for (const auto& p : points)
    out.push_back({p.time, p.value, k::default_metric_name, p.cluster, p.pod, p.node, p.direction});
  return out;
}

using k8snetio::test::two_to_one_rule;

/// 1. The stages: one pipeline per epoch-aligned window (D9), dated by that window.
template <std::size_t N>
std::vector<k::finding> pipeline(const std::vector<k::metric_point>& points,
                                 const k::rule_definition<N>& rule,
                                 const k::baseline_table<N>& table) {
  std::map<std::int64_t, std::vector<k::metric_point>> by_window;
  for (const auto& p : points)
    by_window[static_cast<std::int64_t>(p.time) / window * window].push_back(p);
  std::vector<k::finding> out;
  for (const auto& [start, in_window] : by_window) {
    auto found = in_window | k::aggregate_spans() | k::normalize_service() |
                 k::pivot_direction(rule) | k::lookup_baseline(table) | k::score_sigma(rule) |
                 k::persist_over(rule, 5, k::search_window{start, start + window});
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

/// 2. The engine, with the program's --window.
template <std::size_t N>
std::vector<k::finding> engine(const std::vector<k::metric_point>& points,
                               const k::rule_definition<N>& rule,
                               const k::baseline_table<N>& table) {
  k::detection_options options;
  options.window_seconds = window;
  return k::detect(rule, points, table, options).findings;
}

/// 3. The live core: HEC payloads, one per bucket, then a point long after the last window
/// that closes it (its own window holds nothing anomalous), then a shutdown.
std::string hec_event(const owned& p) {
  return fmt::format(
      R"({{"event":"metric","time":{},"fields":{{"metric_name:k8s.pod.network.io":{},)"
      R"("k8s.cluster.name":"{}","k8s.node.name":"{}","k8s.pod.name":"{}","direction":"{}"}}}})"
      "\n",
      p.time, p.value, p.cluster, p.node, p.pod, p.direction);
}

template <std::size_t N>
std::vector<k::finding> live(const std::vector<owned>& points, const k::rule_definition<N>& rule,
                             const k::baseline_table<N>& table) {
  std::map<std::int64_t, std::string> by_bucket;
  for (const auto& p : points) by_bucket[static_cast<std::int64_t>(p.time) / 10] += hec_event(p);
  const owned tick{
      static_cast<double>(t0 + 10 * buckets + 2 * window), 1, "tick", "tick-0", "tick", "transmit"};
  by_bucket[static_cast<std::int64_t>(tick.time) / 10] += hec_event(tick);
  svc::live_options options;
  options.window_seconds = window;
  options.lateness_seconds = 30;
  svc::memory_findings_sink sink;
  const double clock = static_cast<double>(t0 + 86'400);
  svc::live_detector<N> detector(rule, table, options, sink, {"a2", 1}, [clock] { return clock; });
  for (const auto& [bucket, body] : by_bucket) {
    const svc::ingest_result r = detector.ingest(svc::payload_kind::hec, body);
    if (r.state != svc::ingest_result::status::ok)
      fail(fmt::format("live core: payload of bucket {} not taken: {}", bucket, r.message));
  }
  if (auto error = detector.shut_down()) fail("live core: shutdown: " + *error);
  std::vector<k::finding> out;
  for (k::finding f : sink.findings) {
    // L12: the live core says each finding is final; the batch engines give no status.
    if (f.status != k::finding_status::final)
      fail(fmt::format("live core: a finding of {} is {}, not final", f.pod,
                       k::to_string(f.status)));
    f.status = k::finding_status::none;
    out.push_back(std::move(f));
  }
  return out;
}

std::string describe(const std::vector<k::finding>& found) {
  std::string out;
  k::io::write_findings_jsonl(out, found);
  return out.empty() ? "(none)\n" : out;
}

void same(const std::string& what, const std::vector<k::finding>& expected,
          const std::vector<k::finding>& got) {
  if (expected == got) return;
  fail(fmt::format("{} differs.\nexpected:\n{}got:\n{}", what, describe(expected), describe(got)));
}

template <class Points>
Points shuffled(Points points, std::uint32_t seed) {
  std::mt19937 rng(seed);
  for (std::size_t i = points.size(); i > 1; --i) std::swap(points[i - 1], points[rng() % i]);
  return points;
}

void write_csv(const std::filesystem::path& path, const std::vector<owned>& points) {
  std::ofstream out(path);
  out << "metric_timestamp,metric_name,_value,k8s.cluster.name,k8s.node.name,k8s.pod.name,"
         "direction\n";
  for (const auto& p : points)
    out << fmt::format("{},k8s.pod.network.io,{},{},{},{},{}\n", p.time, p.value, p.cluster, p.node,
                       p.pod, p.direction);
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// 4. The program, on the same points written as CSV in shuffled order.
std::string program(const std::string& cli, const std::filesystem::path& work,
                    const std::string& rule) {
  const auto table = work / ("baseline-" + rule + ".csv");
  const auto found = work / ("findings-" + rule + ".jsonl");
  const std::string baseline = fmt::format("'{}' baseline --rule {} '{}' -o '{}'", cli, rule,
                                           (work / "train.csv").string(), table.string());
  const std::string detect =
      fmt::format("'{}' detect --rule {} --baseline '{}' --window 10m --format jsonl '{}' -o '{}'",
                  cli, rule, table.string(), (work / "detect.csv").string(), found.string());
  for (const std::string& command : {baseline, detect})
    if (std::system(command.c_str()) != 0) fail("the program failed: " + command);
  return slurp(found);
}

template <std::size_t N>
std::vector<k::finding> every_composition(const std::string& name,
                                          const k::rule_definition<N>& rule,
                                          const std::vector<owned>& history,
                                          const std::vector<owned>& day) {
  const auto learned = k::build_baseline(rule, views(history));
  const k::baseline_table<N>& table = learned.table;
  const auto points = views(day);
  const auto by_engine = engine(points, rule, table);
  same(name + ": the engine on shuffled points vs in time order", by_engine,
       engine(shuffled(points, 11), rule, table));
  same(name + ": the stages vs the engine", by_engine, pipeline(points, rule, table));
  same(name + ": the live core vs the engine", by_engine, live(day, rule, table));
  return by_engine;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: a2_differential K8S_NETIO WORKDIR\n");
    return 2;
  }
  const std::string cli = argv[1];
  const std::filesystem::path work = argv[2];
  std::filesystem::remove_all(work);
  std::filesystem::create_directories(work);

  // The training points in the order the program reads them: B3 sums in input order, so a
  // baseline is byte-identical only for the same order (S1; any order agrees within rounding).
  const auto history = shuffled(traffic(t0 - 86'400, 1, false), 3);
  const auto day = traffic(t0, 2, true);
  write_csv(work / "train.csv", history);
  write_csv(work / "detect.csv", shuffled(day, 4));

  const auto io = every_composition("io rule", k::anomalous_network_io, history, day);
  const auto ratio = every_composition("ratio rule", k::network_io_ratio, history, day);
  const auto derived =
      every_composition("two directions to one measure", two_to_one_rule(), history, day);
  // The data holds what it was made to hold, so that agreeing is not agreeing on nothing.
  // io: web-x2k9p's 8 buckets in window 2 and cache-1's 7 in window 5; api's 5 buckets and
  // db-0's 4 + 4 across a window boundary are not findings (D7.2, D9).
  const auto is = [](const k::finding& f, std::string_view pod, std::uint64_t count, int w) {
    return f.pod == pod && f.count == count && f.window_start == t0 + w * window &&
           f.window_end == t0 + (w + 1) * window;
  };
  if (io.size() != 2 || !is(io[0], "web-7d4b9c8f6d-x2k9p", 8, 1) || !is(io[1], "cache-1", 7, 4))
    fail("io rule: expected web-x2k9p (8 buckets, window 2) and cache-1 (7, window 5); got:\n" +
         describe(io));
  if (ratio.size() != 2 || ratio[1].pod != "cache-1")
    fail("ratio rule: expected findings for web-x2k9p and cache-1; got:\n" + describe(ratio));
  if (derived.size() != 2) fail("derived rule: expected two findings; got:\n" + describe(derived));

  std::string expected_io, expected_ratio;
  k::io::write_findings_jsonl(expected_io, io);
  k::io::write_findings_jsonl(expected_ratio, ratio);
  if (const auto got = program(cli, work, "io"); got != expected_io)
    fail(fmt::format("io rule: the program's findings differ.\nlibrary:\n{}program:\n{}",
                     expected_io, got));
  if (const auto got = program(cli, work, "ratio"); got != expected_ratio)
    fail(fmt::format("ratio rule: the program's findings differ.\nlibrary:\n{}program:\n{}",
                     expected_ratio, got));

  std::printf("a2_differential: io %zu, ratio %zu, derived %zu findings; %s\n", io.size(),
              ratio.size(), derived.size(), failures ? "DIFFERENCES" : "all compositions agree");
  return failures ? 1 : 0;
}
