// The simulator (examples/k8s-netio) writes every real input shape (formats.md I1, I2, I3,
// I3.1): the same traffic read back through the library's readers gives the same points in each
// (hence the same baseline and findings); and its fleet does not depend on the seed, so the
// README's quick start (a day with one seed as training, the next hour with another) finds the
// injected exfiltration and nothing else.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <k8snetio/engine/baseline_runner.hpp>
#include <k8snetio/engine/detector.hpp>
#include <k8snetio/io/input/hec_reader.hpp>
#include <k8snetio/io/input/metrics_csv_reader.hpp>
#include <k8snetio/io/input/otlp_reader.hpp>
#include <k8snetio/k8snetio.hpp>

#include "../examples/k8s-netio/simulated_formats.hpp"
#include "../examples/k8s-netio/simulator.hpp"
#include "support.hpp"

namespace test_simulator_shapes {

using namespace k8snetio;
using k8snetio::test::owned_point;
using k8snetio::test::point_collector;
namespace cli = k8snetio_cli;

namespace {

owned_point point_of(const cli::simulator& sim, const cli::simulated_sample& s) {
  const cli::simulated_pod& pod = sim.pods()[s.pod];
  return {static_cast<double>(s.time_ms / 1000) + static_cast<double>(s.time_ms % 1000) / 1e3,
          static_cast<double>(s.bytes),
          std::string(default_metric_name),
          pod.cluster,
          pod.name,
          pod.node,
          std::string(cli::simulated_directions[s.direction])};
}

std::vector<owned_point> sorted(std::vector<owned_point> v) {
  std::sort(v.begin(), v.end(), [](const owned_point& a, const owned_point& b) {
    return std::tie(a.time, a.cluster, a.pod, a.direction, a.value) <
           std::tie(b.time, b.cluster, b.pod, b.direction, b.value);
  });
  return v;
}

/// What the simulator writes as `format` ("csv", "hec", or an OTLP shape's name).
std::string simulate(const cli::simulator& sim, std::string_view format) {
  std::string out;
  if (format == "csv") {
    cli::write_csv_header(out);
    sim.run(
        [&](const cli::simulated_sample& s) { cli::append_csv_sample(out, sim.pods()[s.pod], s); });
  } else if (format == "hec") {
    sim.run(
        [&](const cli::simulated_sample& s) { cli::append_hec_sample(out, sim.pods()[s.pod], s); });
  } else {
    cli::otlp_writer otlp(sim, *cli::parse_otlp_shape(format));
    otlp.prime(out);
    sim.run([&](const cli::simulated_sample& s) { otlp.add(out, s); });
    otlp.flush(out);
  }
  return out;
}

template <class Reader>
std::vector<owned_point> read_back(std::string_view text, io::reader_options options = {}) {
  Reader reader("simulated", options);
  point_collector sink;
  auto r = reader.read(text, sink);
  INFO((r ? std::string() : r.error().what()));
  REQUIRE(r);
  CHECK(reader.report().count(io::skip_reason::missing_dimension) == 0);
  CHECK(reader.report().count(io::skip_reason::bad_syntax) == 0);
  return sorted(std::move(sink.points));
}

}  // namespace

TEST_CASE("I1 I2 I3 I3.1 the same simulated traffic reads the same in every shape",
          "[simulator][I1][I2][I3][I3.1]") {
  cli::simulation_options one_cluster;
  one_cluster.pods = 7;  // fewer than 8: one cluster, as one collector's file would hold
  one_cluster.hours = 0.25;
  one_cluster.seed = 11;
  one_cluster.incidents = {cli::incident_kind::exfiltration};
  const cli::simulator sim(one_cluster);
  std::vector<owned_point> expected;
  sim.run([&](const cli::simulated_sample& s) { expected.push_back(point_of(sim, s)); });
  expected = sorted(std::move(expected));
  REQUIRE(expected.size() == 90 * sim.samples_per_interval());

  CHECK(read_back<io::metrics_csv_reader>(simulate(sim, "csv")) == expected);
  CHECK(read_back<io::hec_reader>(simulate(sim, "hec")) == expected);
  CHECK(read_back<io::otlp_reader>(simulate(sim, "processed")) == expected);
  CHECK(read_back<io::otlp_reader>(simulate(sim, "chart")) == expected);
  // The plain receiver knows no cluster: --default-cluster supplies it (I3.1), and the node
  // comes from the node resource of each line.
  io::reader_options raw;
  raw.default_cluster = sim.pods().front().cluster;
  CHECK(read_back<io::otlp_reader>(simulate(sim, "raw-kubeletstats"), raw) == expected);

  // Without it, every point is counted under the cluster's name, with the option to set.
  io::otlp_reader reader("raw");
  point_collector none;
  REQUIRE(reader.read(simulate(sim, "raw-kubeletstats"), none));
  CHECK(none.points.empty());
  CHECK(reader.report().missing_dimensions[0] == 91 * sim.samples_per_interval());
  REQUIRE(reader.report().hints().size() == 1);
  CHECK(reader.report().hints()[0].starts_with("no k8s.cluster.name: "));
}

TEST_CASE("I1.6 I3 several clusters, the newer attribute names among them, read alike",
          "[simulator][I1.6][I3]") {
  cli::simulation_options fleet;
  fleet.pods = 30;  // three clusters; staging speaks the newer conventions
  fleet.hours = 0.05;
  const cli::simulator sim(fleet);
  std::vector<owned_point> expected;
  sim.run([&](const cli::simulated_sample& s) { expected.push_back(point_of(sim, s)); });
  expected = sorted(std::move(expected));
  CHECK(read_back<io::metrics_csv_reader>(simulate(sim, "csv")) == expected);
  CHECK(read_back<io::hec_reader>(simulate(sim, "hec")) == expected);
  CHECK(read_back<io::otlp_reader>(simulate(sim, "processed")) == expected);
  CHECK(read_back<io::otlp_reader>(simulate(sim, "chart")) == expected);
}

TEST_CASE("I2 the HEC shape is the exporter's: event first, time last, sorted fields",
          "[simulator][I2]") {
  cli::simulation_options o;
  o.pods = 3;
  o.hours = 0.01;
  const cli::simulator sim(o);
  const std::string hec = simulate(sim, "hec");
  const std::string first = hec.substr(0, hec.find('\n'));
  CHECK(
      first.starts_with("{\"event\":\"metric\",\"fields\":{\"direction\":\"receive\","
                        "\"interface\":\"eth0\",\"k8s.cluster.name\":\"prod-eu\","));
  CHECK(first.find("\"metric_type\":\"Sum\"},\"host\":\"unknown\",\"time\":1699920") !=
        std::string::npos);
  CHECK(first.ends_with("}"));
}

TEST_CASE("Simulator: the fleet is the same for every seed; the seed varies the noise",
          "[simulator]") {
  cli::simulation_options a, b;
  a.seed = 1;
  b.seed = 2;
  const cli::simulator one(a), two(b);
  REQUIRE(one.pods().size() == two.pods().size());
  for (std::size_t i = 0; i < one.pods().size(); ++i) {
    CHECK(one.pods()[i].name == two.pods()[i].name);
    CHECK(one.pods()[i].node == two.pods()[i].node);
    CHECK(one.pods()[i].base == two.pods()[i].base);
    CHECK(one.pods()[i].uid == two.pods()[i].uid);
  }
  std::vector<std::uint64_t> bytes_one, bytes_two;
  one.run([&](const cli::simulated_sample& s) { bytes_one.push_back(s.bytes); });
  two.run([&](const cli::simulated_sample& s) { bytes_two.push_back(s.bytes); });
  CHECK(bytes_one != bytes_two);
}

TEST_CASE(
    "D7 the quick start: a day with seed 1 as training, the next hour with seed 2 finds "
    "the exfiltration and not the blip",
    "[simulator][quickstart]") {
  cli::simulation_options training;
  training.seed = 1;
  training.hours = 24;
  const cli::simulator day(training);

  cli::simulation_options hour;
  hour.seed = 2;
  hour.start = training.start + 24 * 3600;
  hour.incidents = {cli::incident_kind::exfiltration, cli::incident_kind::blip};
  const cli::simulator next(hour);

  const auto to_point = [](const cli::simulator& sim, const cli::simulated_sample& s) {
    const cli::simulated_pod& pod = sim.pods()[s.pod];
    metric_point p;
    p.time = static_cast<double>(s.time_ms) / 1000.0;
    p.value = static_cast<double>(s.bytes);
    p.metric_name = default_metric_name;
    p.cluster = pod.cluster;
    p.pod = pod.name;
    p.node = pod.node;
    p.direction = cli::simulated_directions[s.direction];
    return p;
  };
  baseline_runner<2> runner(anomalous_network_io);
  day.run([&](const cli::simulated_sample& s) { runner.add(to_point(day, s)); });
  const auto baseline = runner.finish();

  detector<2, baseline_table<2>> detect(anomalous_network_io, baseline.table, {});
  next.run([&](const cli::simulated_sample& s) { detect.add(to_point(next, s)); });
  const auto result = detect.finish();

  REQUIRE(next.incidents().size() == 2);
  const std::string exfil = next.pods()[next.incidents()[0].pod].name;
  std::vector<std::string> found;
  for (const auto& f : result.findings) found.push_back(std::string(f.pod));
  CHECK(found == std::vector<std::string>{exfil});
}

}  // namespace test_simulator_shapes
