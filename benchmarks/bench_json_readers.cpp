// Throughput of the JSON readers on fixed, generated corpora of about 50 MB each:
//  - HEC (spec I2): metric events of a 20-node cluster every 10 s, 30 pods a node; per pod and
//    scrape two single-measurement network events and one multi-measurement event (cpu,
//    memory and network errors), so a third of the rows are the metric.
//  - OTLP (spec I3): the kubeletstats receiver through the file exporter, one line per node
//    scrape; per pod 7 metrics and 11 data points, 2 of them k8s.pod.network.io (cumulative).
//  - OTLP protobuf (spec I3.5): the same OTLP requests, encoded as the collector's otlphttp
//    exporter sends them (converted from the JSON corpus field by field, so both hold the same
//    data; the benchmark checks that both readers hand on the same number of points).
// Reported: bytes/s (SetBytesProcessed) and points/s handed to the sink.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <k8snetio/io/input/hec_reader.hpp>
#include <k8snetio/io/input/otlp_protobuf.hpp>
#include <k8snetio/io/input/otlp_reader.hpp>
#include <protozero/pbf_writer.hpp>

namespace {

using namespace k8snetio;

constexpr std::size_t target_bytes = 50u << 20;
constexpr int nodes = 20;
constexpr int pods_per_node = 30;

std::string pod_name(int node, int pod) {
  return fmt::format("svc{:02}-7d4b9c8f6d-{:05x}", pod, node * 7919 + pod * 104729);
}

const std::string& hec_corpus() {
  static const std::string text = [] {
    std::string out;
    out.reserve(target_bytes + (1 << 20));
    for (int scrape = 0; out.size() < target_bytes; ++scrape) {
      long long t = 1700000000 + 10LL * scrape;
      for (int node = 0; node < nodes; ++node)
        for (int pod = 0; pod < pods_per_node; ++pod) {
          auto name = pod_name(node, pod);
          auto dims = fmt::format(
              R"("k8s.cluster.name":"prod-eu","k8s.namespace.name":"shop","k8s.node.name":"node-{:02}","k8s.pod.name":"{}")",
              node, name);
          for (const char* direction : {"transmit", "receive"})
            out += fmt::format(
                R"({{"time":{}.{:03},"event":"metric","host":"node-{:02}","source":"kubeletstats","fields":{{"metric_name":"k8s.pod.network.io","_value":{},{},"direction":"{}","interface":"eth0"}}}})"
                "\n",
                t, (node * 37 + pod) % 1000, node, 1000 + scrape * 4096 + pod * 13, dims,
                direction);
          out += fmt::format(
              R"({{"time":{},"event":"metric","host":"node-{:02}","fields":{{{},"metric_name:k8s.pod.cpu.time":{:.3f},"metric_name:k8s.pod.memory.usage":{},"metric_name:k8s.pod.network.errors":0}}}})"
              "\n",
              t, node, dims, 12.5 + scrape * 0.25, 104857600 + pod * 4096);
        }
    }
    return out;
  }();
  return text;
}

const std::string& otlp_corpus() {
  static const std::string text = [] {
    auto attr = [](std::string_view k, std::string_view v) {
      return fmt::format(R"({{"key":"{}","value":{{"stringValue":"{}"}}}})", k, v);
    };
    std::string out;
    out.reserve(target_bytes + (1 << 20));
    for (int scrape = 0; out.size() < target_bytes; ++scrape) {
      for (int node = 0; node < nodes && out.size() < target_bytes; ++node) {
        auto t = fmt::format("{}{:09}", 1700000000 + 10 * scrape, 123456789 + node);
        const std::string start = "1699990000000000000";
        out += R"({"resourceMetrics":[)";
        for (int pod = 0; pod < pods_per_node; ++pod) {
          if (pod) out += ',';
          auto resource = attr("k8s.pod.name", pod_name(node, pod)) + "," +
                          attr("k8s.pod.uid",
                               fmt::format("0f6c2c1e-7b1a-4f1e-9d55-{:012x}", node * 1000 + pod)) +
                          "," + attr("k8s.namespace.name", "shop") + "," +
                          attr("k8s.node.name", fmt::format("node-{:02}", node)) + "," +
                          attr("k8s.cluster.name", "prod-eu");
          auto gauge = [&](std::string_view name, std::string_view unit, std::string value) {
            return fmt::format(
                R"({{"name":"{}","unit":"{}","gauge":{{"dataPoints":[{{"timeUnixNano":"{}",{}}}]}}}})",
                name, unit, t, value);
          };
          auto pair = [&](std::string_view name, long long tx, long long rx) {
            std::string points;
            for (auto [direction, v] : {std::pair{"transmit", tx}, std::pair{"receive", rx}}) {
              if (!points.empty()) points += ',';
              points += fmt::format(
                  R"({{"attributes":[{},{}],"startTimeUnixNano":"{}","timeUnixNano":"{}","asInt":"{}"}})",
                  attr("interface", "eth0"), attr("direction", direction), start, t, v);
            }
            return fmt::format(
                R"({{"name":"{}","description":"Network bytes received/transmitted","unit":"By","sum":{{"dataPoints":[{}],"aggregationTemporality":2,"isMonotonic":true}}}})",
                name, points);
          };
          std::string metrics =
              fmt::format(
                  R"({{"name":"k8s.pod.cpu.time","unit":"s","sum":{{"dataPoints":[{{"startTimeUnixNano":"{}","timeUnixNano":"{}","asDouble":{:.3f}}}],"aggregationTemporality":2,"isMonotonic":true}}}})",
                  start, t, 12.5 + scrape * 0.25) +
              "," +
              gauge("k8s.pod.cpu.utilization", "1",
                    fmt::format(R"("asDouble":{:.4f})", 0.01 * (pod % 50))) +
              "," +
              gauge("k8s.pod.memory.usage", "By",
                    fmt::format(R"("asInt":"{}")", 104857600 + pod * 4096)) +
              "," +
              gauge("k8s.pod.memory.working_set", "By",
                    fmt::format(R"("asInt":"{}")", 94857600 + pod * 4096)) +
              "," +
              gauge("k8s.pod.filesystem.usage", "By", fmt::format(R"("asInt":"{}")", 40960 + pod)) +
              "," +
              pair("k8s.pod.network.io", 18342110LL + scrape * 40960LL + pod,
                   9012330LL + scrape * 20480LL + pod) +
              "," + pair("k8s.pod.network.errors", 0, 0) + "," +
              pair("k8s.pod.network.dropped", 0, 1);
          out += fmt::format(
              R"({{"resource":{{"attributes":[{}]}},"scopeMetrics":[{{"scope":{{"name":"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/kubeletstatsreceiver","version":"0.88.0"}},"metrics":[{}]}}],"schemaUrl":"https://opentelemetry.io/schemas/1.6.1"}})",
              resource, metrics);
        }
        out += "]}\n";
      }
    }
    return out;
  }();
  return text;
}

template <class Reader>
void run(benchmark::State& state, const std::string& text, io::reader_options options) {
  std::uint64_t points = 0, rows = 0;
  double checksum = 0;
  for (auto _ : state) {
    Reader reader(options);  // fresh: a second pass over the same OTLP text would be all late
    auto r = reader.read(text, [&](const metric_point& p) { checksum += p.value; });
    if (!r) state.SkipWithError(r.error().what().c_str());
    points += reader.report().points;
    rows += reader.report().rows_read;
  }
  benchmark::DoNotOptimize(checksum);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.counters["points/s"] =
      benchmark::Counter(static_cast<double>(points), benchmark::Counter::kIsRate);
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
  state.counters["MB"] = static_cast<double>(text.size()) / 1e6;
}

void BM_hec_reader(benchmark::State& state) { run<io::hec_reader>(state, hec_corpus(), {}); }

void BM_otlp_reader_delta(benchmark::State& state) {
  run<io::otlp_reader>(state, otlp_corpus(), {});
}

void BM_otlp_reader_raw(benchmark::State& state) {
  io::reader_options options;
  options.otlp_counter = io::otlp_counter_mode::raw;
  run<io::otlp_reader>(state, otlp_corpus(), options);
}

// The floor cost of any On Demand reader: simdjson indexing each line, then skipping it whole.
void BM_otlp_simdjson_index_only(benchmark::State& state) {
  const auto& text = otlp_corpus();
  simdjson::padded_string padded(text);
  simdjson::ondemand::parser parser;
  std::size_t values = 0;
  for (auto _ : state) {
    std::string_view rest(padded.data(), padded.size());
    while (!rest.empty()) {
      auto nl = rest.find('\n');
      auto line = rest.substr(0, nl);
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
      if (line.empty()) continue;
      simdjson::ondemand::document doc;
      auto capacity = static_cast<std::size_t>(padded.data() + padded.size() - line.data()) +
                      simdjson::SIMDJSON_PADDING;
      if (parser.iterate(line.data(), line.size(), capacity).get(doc)) continue;
      std::string_view raw;
      if (!doc.raw_json().get(raw)) values += raw.size();  // consume the document
    }
  }
  benchmark::DoNotOptimize(values);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}

// ---- the OTLP corpus as protobuf requests --------------------------------------------------

// Writes one OTLP/JSON object (as the corpus has them) as its protobuf message.
class otlp_json_to_protobuf {
 public:
  static std::string request(simdjson::dom::element root) {
    std::string out;
    protozero::pbf_writer w(out);
    for (auto rm : root["resourceMetrics"].get_array()) {
      protozero::pbf_writer m(w, io::otlp_field::request_resource_metrics);
      resource_metrics(m, rm);
    }
    return out;
  }

 private:
  using element = simdjson::dom::element;
  static protozero::data_view str(element e) {
    std::string_view s(e.get_string());
    return {s.data(), s.size()};
  }
  static std::uint64_t u64(element e) {
    std::uint64_t v = 0;
    if (e.is_string())
      (void)io::parse_integer(std::string_view(e.get_string()), v);
    else
      v = e.get_uint64();
    return v;
  }

  static void attributes(protozero::pbf_writer& parent, protozero::pbf_tag_type field,
                         element list) {
    for (auto kv : list.get_array()) {
      protozero::pbf_writer a(parent, field);
      a.add_string(io::otlp_field::key_value_key, str(kv["key"]));
      protozero::pbf_writer v(a, io::otlp_field::key_value_value);
      v.add_string(io::otlp_field::any_string, str(kv["value"]["stringValue"]));
    }
  }

  static void resource_metrics(protozero::pbf_writer& w, element rm) {
    {
      protozero::pbf_writer r(w, io::otlp_field::resource_metrics_resource);
      attributes(r, io::otlp_field::resource_attributes, rm["resource"]["attributes"]);
    }
    for (auto sm : rm["scopeMetrics"].get_array()) {
      protozero::pbf_writer s(w, io::otlp_field::resource_metrics_scope_metrics);
      {
        protozero::pbf_writer scope(s, 1);  // InstrumentationScope: name 1, version 2
        scope.add_string(1, str(sm["scope"]["name"]));
        scope.add_string(2, str(sm["scope"]["version"]));
      }
      for (auto metric : sm["metrics"].get_array()) {
        protozero::pbf_writer m(s, io::otlp_field::scope_metrics_metrics);
        m.add_string(io::otlp_field::metric_name, str(metric["name"]));
        if (auto d = metric["description"]; !d.error()) m.add_string(2, str(d.value()));
        m.add_string(3, str(metric["unit"]));
        const bool sum = !metric["sum"].error();
        element data = sum ? metric["sum"].value() : metric["gauge"].value();
        protozero::pbf_writer d(m, sum ? io::otlp_field::metric_sum : io::otlp_field::metric_gauge);
        for (auto point : data["dataPoints"].get_array()) {
          protozero::pbf_writer p(d, io::otlp_field::data_points);
          if (auto st = point["startTimeUnixNano"]; !st.error())
            p.add_fixed64(io::otlp_field::point_start_time_unix_nano, u64(st.value()));
          p.add_fixed64(io::otlp_field::point_time_unix_nano, u64(point["timeUnixNano"]));
          if (auto i = point["asInt"]; !i.error())
            p.add_sfixed64(io::otlp_field::point_as_int, static_cast<std::int64_t>(u64(i.value())));
          else
            p.add_double(io::otlp_field::point_as_double, double(point["asDouble"]));
          if (auto a = point["attributes"]; !a.error())
            attributes(p, io::otlp_field::point_attributes, a.value());
        }
        if (sum) {
          d.add_enum(io::otlp_field::sum_aggregation_temporality, 2);
          d.add_bool(3, true);
        }
      }
    }
  }
};

const std::vector<std::string>& otlp_protobuf_corpus() {
  static const std::vector<std::string> requests = [] {
    std::vector<std::string> out;
    simdjson::dom::parser parser;
    std::string_view rest = otlp_corpus();
    while (!rest.empty()) {
      auto nl = rest.find('\n');
      auto line = rest.substr(0, nl);
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
      if (!line.empty()) out.push_back(otlp_json_to_protobuf::request(parser.parse(line)));
    }
    return out;
  }();
  return requests;
}

template <class Read>
void run_otlp(benchmark::State& state, std::uint64_t bytes, io::reader_options options, Read read) {
  std::uint64_t points = 0, rows = 0;
  double checksum = 0;
  for (auto _ : state) {
    io::otlp_reader reader(options);
    auto sink = [&](const metric_point& p) { checksum += p.value; };
    if (auto r = read(reader, sink); !r) state.SkipWithError(r.error().what().c_str());
    points += reader.report().points;
    rows += reader.report().rows_read;
  }
  benchmark::DoNotOptimize(checksum);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  state.counters["points/s"] =
      benchmark::Counter(static_cast<double>(points), benchmark::Counter::kIsRate);
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
  state.counters["MB"] = static_cast<double>(bytes) / 1e6;
}

// The JSON corpus one request at a time (as serve and consume get it), and its protobuf twin:
// the I3.5 comparison (L7: the protobuf reader at least 3x the JSON reader's points/s).
void otlp_requests(benchmark::State& state, bool protobuf, io::otlp_counter_mode mode) {
  io::reader_options options;
  options.otlp_counter = mode;
  const auto& requests = otlp_protobuf_corpus();
  static const std::vector<std::string> lines = [] {
    std::vector<std::string> out;
    std::string_view rest = otlp_corpus();
    while (!rest.empty()) {
      auto nl = rest.find('\n');
      out.emplace_back(rest.substr(0, nl));
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    }
    return out;
  }();
  // Both encodings must give the same points, or the comparison means nothing.
  static const bool same = [&] {
    io::otlp_reader a(options), b(options);
    auto none = [](const metric_point&) {};
    for (const auto& r : requests) (void)a.feed_protobuf(r, none);
    for (const auto& l : lines) (void)b.read(l, none);
    return a.report().points == b.report().points && a.report().rows_read == b.report().rows_read;
  }();
  if (!same) {
    state.SkipWithError("the protobuf corpus does not give the JSON corpus' points");
    return;
  }
  std::uint64_t bytes = 0;
  for (const auto& r : protobuf ? requests : lines) bytes += r.size();
  run_otlp(state, bytes, options, [&](io::otlp_reader& reader, auto& sink) -> io::result<void> {
    if (protobuf) {
      for (const auto& r : requests)
        if (auto x = reader.feed_protobuf(r, sink); !x) return x;
    } else {
      for (const auto& l : lines)
        if (auto x = reader.read(l, sink); !x) return x;
    }
    return {};
  });
}

void BM_otlp_json_requests_delta(benchmark::State& state) {
  otlp_requests(state, false, io::otlp_counter_mode::delta);
}
void BM_otlp_protobuf_requests_delta(benchmark::State& state) {
  otlp_requests(state, true, io::otlp_counter_mode::delta);
}
void BM_otlp_protobuf_requests_raw(benchmark::State& state) {
  otlp_requests(state, true, io::otlp_counter_mode::raw);
}

}  // namespace

BENCHMARK(BM_hec_reader)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_otlp_reader_delta)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_otlp_reader_raw)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_otlp_simdjson_index_only)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_otlp_json_requests_delta)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_otlp_protobuf_requests_delta)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_otlp_protobuf_requests_raw)->Unit(benchmark::kMillisecond)->MinTime(2);
