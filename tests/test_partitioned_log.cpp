// K1, K3, L4: what a partitioned-log adapter (`k8s-netio consume`) takes from the library:
// the state log's keyed, chunked generations (service/partitioned_log.hpp) and the /metrics
// listener (service/metrics_listener.hpp).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <k8snetio/service/metrics_listener.hpp>
#include <k8snetio/service/partitioned_log.hpp>

namespace test_partitioned_log {

namespace {

namespace svc = k8snetio::service;
using k8snetio::partition_id;

/// Reads back what `writes` produced, as a compacted log would hand it over.
void replay(svc::state_log& log, const std::vector<partition_id>& ids,
            const std::vector<svc::state_log::message>& writes,
            std::map<std::string, svc::stored_state>& states, std::int64_t& offset) {
  for (const auto& m : writes)
    log.collect(ids, m.key, m.value ? m.value->data() : nullptr, m.value ? m.value->size() : 0,
                offset++, states);
}

/// One HTTP/1.0 GET on loopback (any address `host` names); the whole reply as text.
std::string get(std::uint16_t port, std::string_view target, const char* host = "127.0.0.1") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  boost::asio::connect(socket,
                       boost::asio::ip::tcp::resolver(io).resolve(host, std::to_string(port)));
  const std::string request = "GET " + std::string(target) + " HTTP/1.0\r\nHost: x\r\n\r\n";
  boost::asio::write(socket, boost::asio::buffer(request));
  std::string reply;
  boost::system::error_code ec;
  boost::asio::read(socket, boost::asio::dynamic_buffer(reply), ec);
  return reply;
}

}  // namespace

TEST_CASE("K3 state_log: each generation reads back whole; the old one's chunks get tombstones") {
  svc::state_log log("g", 3);
  const partition_id a{"metrics", 0}, b{"metrics", 1};
  CHECK(log.key(a) == "g/metrics/0");
  CHECK(log.partition(log.key(a)) == log.partition(log.key(a)));
  CHECK(log.partition(log.key(b)) < 3);
  std::string first(svc::state_chunk_bytes + 10, 'x'), second(20, 'y');
  std::map<std::string, svc::stored_state> states;
  std::int64_t offset = 0;

  const auto w1 = log.writes(a, first, 7);
  REQUIRE(w1.size() == 3);  // two chunks, then the manifest
  CHECK(w1.back().key == log.key(a));
  replay(log, {a, b}, w1, states, offset);
  log.written();
  CHECK(log.stored(a, "t", states) == first);
  CHECK_FALSE(log.stored(b, "t", states));

  const auto w2 = log.writes(a, second, 9);
  REQUIRE(w2.size() == 4);  // one chunk, the manifest, tombstones for the two old chunks
  CHECK_FALSE(w2[2].value);
  CHECK_FALSE(w2[3].value);
  replay(log, {a}, w2, states, offset);
  log.written();
  CHECK(states[log.key(a)].chunks.size() == 1);
  CHECK(log.stored(a, "t", states) == second);

  // A lost chunk: refused whole, named.
  states[log.key(a)].chunks.clear();
  CHECK_THROWS_WITH(log.stored(a, "the topic", states), Catch::Contains("lacks its chunk 1 of 1"));
}

TEST_CASE("K1 L4 metrics_listener serves the text last published, /healthz, and nothing else") {
  svc::metrics_listener listener;
  const auto port = listener.start("127.0.0.1", 0);
  REQUIRE(port);
  CHECK(listener.listening());
  listener.publish("k8snetio_points_accepted_total 1\n");
  auto reply = get(*port, "/metrics");
  CHECK_THAT(reply, Catch::StartsWith("HTTP/1.0 200") &&
                        Catch::Contains("Content-Type: text/plain; version=0.0.4") &&
                        Catch::EndsWith("\r\n\r\nk8snetio_points_accepted_total 1\n"));
  listener.publish("k8snetio_points_accepted_total 2\n");
  CHECK_THAT(get(*port, "/metrics"), Catch::EndsWith("k8snetio_points_accepted_total 2\n"));
  CHECK_THAT(get(*port, "/healthz"), Catch::StartsWith("HTTP/1.0 200") && Catch::EndsWith("ok\n"));
  CHECK_THAT(get(*port, "/other"), Catch::StartsWith("HTTP/1.0 404"));
  listener.stop();
  CHECK_FALSE(listener.listening());
  CHECK_FALSE(svc::metrics_listener().start("not an address", 0).has_value());
  svc::metrics_listener by_name;  // a host name, as --metrics-listen localhost:PORT gives
  const auto named = by_name.start("localhost", 0);
  REQUIRE(named);
  by_name.publish("x 1\n");
  CHECK_THAT(get(*named, "/metrics", "localhost"), Catch::EndsWith("x 1\n"));
}

}  // namespace test_partitioned_log
