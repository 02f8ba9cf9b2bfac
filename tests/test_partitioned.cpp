// Tests of the partition-keyed engine set (service.md K2, K3) and of the OTLP reader's
// cumulative-series state (S4), the two pieces a partition's saved state is made of.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "k8snetio/engine/partitioned.hpp"
#include "k8snetio/io/input/otlp_reader.hpp"
#include "support.hpp"

namespace test_partitioned {

namespace {

using k8snetio::partition_id;
using k8snetio::partitioned_engines;

/// A stand-in engine: sums what it is given; its state is checked like a real one's.
struct summing_engine {
  std::int64_t sum = 0;
  std::int64_t added = 0;
  std::string save_state() const {
    k8snetio::detail::snapshot_writer w;
    w.i64(sum);
    w.i64(added);
    return k8snetio::seal_snapshot("summing_engine", "", w.bytes());
  }
  void restore_state(std::string_view bytes) {
    k8snetio::detail::snapshot_reader in(k8snetio::open_snapshot(bytes, "summing_engine", ""));
    const auto s = in.i64();
    const auto a = in.i64();
    in.expect_end();
    sum = s;
    added = a;
  }
};

partitioned_engines<summing_engine> make_set(std::string settings = "baseline=1") {
  return partitioned_engines<summing_engine>(
      [](const partition_id&) { return std::make_unique<summing_engine>(); }, std::move(settings));
}

/// Feeds records offset..offset+n-1 (value = offset) where the set says they are new.
void feed(partitioned_engines<summing_engine>& set, const partition_id& id, std::int64_t first,
          std::int64_t n) {
  for (std::int64_t offset = first; offset < first + n; ++offset) {
    if (!set.is_new(id, offset)) continue;
    set.engine(id).sum += offset;
    ++set.engine(id).added;
    set.processed(id, offset);
  }
}

}  // namespace

TEST_CASE("K2 each partition has its own engine") {
  auto set = make_set();
  const partition_id a{"metrics", 0}, b{"metrics", 1};
  CHECK_FALSE(set.assign(a).value());
  CHECK_FALSE(set.assign(b).value());
  feed(set, a, 0, 10);
  feed(set, b, 0, 3);
  CHECK(set.engine(a).sum == 45);
  CHECK(set.engine(b).sum == 3);
  CHECK(set.next_offset(a) == 10);
  CHECK(set.partitions() == std::vector<partition_id>{a, b});
  CHECK_THROWS_AS(set.engine({"metrics", 2}), std::out_of_range);
}

TEST_CASE("K3 a state restored on assign covers its offset: replayed records are skipped") {
  const partition_id p{"metrics", 4};
  auto first = make_set();
  REQUIRE(first.assign(p));
  feed(first, p, 0, 100);
  CHECK(first.dirty(p));
  const std::string saved = first.save(p);
  CHECK_FALSE(first.dirty(p));
  feed(first, p, 100, 50);  // processed after the save: lost with this process
  first.revoke(p);
  CHECK_FALSE(first.assigned(p));

  // Another process takes the partition; the transport replays from its committed offset
  // (here 60, earlier than the state's), and the records the state holds are skipped.
  auto second = make_set();
  CHECK(second.assign(p, saved).value() == 100);
  feed(second, p, 60, 90);
  CHECK(second.engine(p).added == 150);

  auto whole = make_set();
  REQUIRE(whole.assign(p));
  feed(whole, p, 0, 150);
  CHECK(second.engine(p).sum == whole.engine(p).sum);
}

TEST_CASE("K3 a corrupt, foreign or other-settings state is refused and nothing is assigned") {
  const partition_id p{"metrics", 1};
  auto set = make_set();
  REQUIRE(set.assign(p));
  feed(set, p, 0, 5);
  const std::string saved = set.save(p);

  auto other = make_set();
  SECTION("corrupt") {
    std::string bad = saved;
    bad[bad.size() / 2] ^= 0x20;
    CHECK_THAT(k8snetio::test::refusal(other.assign(p, bad)), Catch::Contains("CRC-32"));
  }
  SECTION("truncated") {
    CHECK(k8snetio::test::refused(
        other.assign(p, std::string_view(saved).substr(0, saved.size() - 3))));
  }
  SECTION("not a state at all") {
    CHECK_THAT(k8snetio::test::refusal(other.assign(p, "{\"resourceMetrics\":[]}")),
               Catch::Contains("magic"));
  }
  SECTION("another partition's") {
    CHECK_THAT(k8snetio::test::refusal(other.assign({"metrics", 2}, saved)),
               Catch::Contains("a state of partition metrics/1, not of metrics/2"));
    CHECK_FALSE(other.assigned({"metrics", 2}));
  }
  SECTION("other settings") {
    auto changed = make_set("baseline=2");
    CHECK_THAT(k8snetio::test::refusal(changed.assign(p, saved)),
               Catch::Contains("other settings"));
    CHECK_FALSE(changed.assigned(p));
  }
  SECTION("another engine's state inside a valid envelope") {
    k8snetio::detail::snapshot_writer w;
    w.str(p.topic);
    w.i64(p.partition);
    w.opt_i64(7);
    w.str(k8snetio::seal_snapshot("detector", "", "x"));
    CHECK_THAT(k8snetio::test::refusal(other.assign(
                   p, k8snetio::seal_snapshot("partitioned_engine", "baseline=1", w.bytes()))),
               Catch::Contains("not of a summing_engine"));
  }
  CHECK_FALSE(other.assigned(p));
}

namespace {

std::string otlp_line(std::uint64_t time_ns, std::int64_t value) {
  return fmt::format(
      R"({{"resourceMetrics":[{{"resource":{{"attributes":[)"
      R"({{"key":"k8s.cluster.name","value":{{"stringValue":"c"}}}},)"
      R"({{"key":"k8s.node.name","value":{{"stringValue":"n"}}}},)"
      R"({{"key":"k8s.pod.name","value":{{"stringValue":"p"}}}}]}},)"
      R"("scopeMetrics":[{{"scope":{{"name":"t"}},"metrics":[{{"name":"k8s.pod.network.io",)"
      R"("sum":{{"dataPoints":[{{"attributes":[{{"key":"direction","value":{{"stringValue":)"
      R"("transmit"}}}}],"startTimeUnixNano":"1000000000","timeUnixNano":"{}","asInt":"{}"}}],)"
      R"("aggregationTemporality":2,"isMonotonic":true}}}}]}}]}}]}})"
      "\n",
      time_ns, value);
}

std::vector<double> read_values(k8snetio::io::otlp_reader& reader, const std::string& text) {
  k8snetio::test::point_collector sink;
  reader.start_file("msg");
  REQUIRE(reader.read(text, sink));
  std::vector<double> out;
  for (const auto& p : sink.points) out.push_back(p.value);
  return out;
}

}  // namespace

TEST_CASE("K3 S4 the OTLP reader's cumulative series move with a partition's state") {
  k8snetio::io::otlp_reader first;
  CHECK(read_values(first, otlp_line(10'000'000'000, 100) + otlp_line(20'000'000'000, 250)) ==
        std::vector<double>{150});
  const std::string saved = first.save_series();

  // Restored, the next point is a delta from the saved one, not a first point.
  k8snetio::io::otlp_reader second;
  second.restore_series(saved);
  CHECK(second.series_count() == 1);
  CHECK(read_values(second, otlp_line(30'000'000'000, 400)) == std::vector<double>{150});
  // Without the state it would have been a first point, which yields nothing.
  k8snetio::io::otlp_reader fresh;
  CHECK(read_values(fresh, otlp_line(30'000'000'000, 400)).empty());
  // The same series, saved twice, gives the same bytes (keys in order).
  CHECK(second.save_series() == second.save_series());
}

TEST_CASE("K3 S4 an OTLP reader state that is corrupt or of another mode is refused whole") {
  k8snetio::io::otlp_reader first;
  read_values(first, otlp_line(10'000'000'000, 100));
  const std::string saved = first.save_series();

  k8snetio::io::otlp_reader target;
  read_values(target, otlp_line(10'000'000'000, 7) + otlp_line(20'000'000'000, 9));
  std::string bad = saved;
  bad[bad.size() - 6] ^= 1;
  CHECK_THROWS_WITH(target.restore_series(bad), Catch::Contains("CRC-32"));

  k8snetio::io::reader_options raw;
  raw.otlp_counter = k8snetio::io::otlp_counter_mode::raw;
  k8snetio::io::otlp_reader other_mode(raw);
  CHECK_THROWS_WITH(other_mode.restore_series(saved), Catch::Contains("other settings"));
  // The refused restore left the target's own series: its next point is a delta from 9.
  CHECK(read_values(target, otlp_line(30'000'000'000, 20)) == std::vector<double>{11});
}

}  // namespace test_partitioned
