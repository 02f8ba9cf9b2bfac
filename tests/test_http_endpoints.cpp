// service.md L2, L3, L5, L9, L11 and issue 28 (RT-n): the endpoints of the live service without
// a socket (include/k8snetio/service/http_endpoints.hpp). Requests are given as a server would
// hand them over (header first, then the body) to live_endpoints over a real live_detector, so
// the replies, the tokens, the decompression and the accounting are the library's, whatever
// server carries them.
#include <k8snetio/service/http_endpoints.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>
#include <zlib.h>
#include <zstd.h>
#include <catch2/catch.hpp>

#include <k8snetio/service/service.hpp>

#include <k8snetio/k8snetio.hpp>

#include "live_support.hpp"

namespace test_http_endpoints {

namespace {

using k8snetio::test::otlp_json;

namespace svc = k8snetio::service;
using svc::endpoint_reply;
using svc::endpoint_request;
using svc::point_outcome;

constexpr double now = 1800000000;

struct fixture {
  svc::memory_findings_sink sink;
  svc::live_detector<2> detector;
  svc::live_endpoints<svc::live_detector<2>> endpoints;

  explicit fixture(svc::endpoint_access access = {}, std::size_t max_body = 1 << 20)
      : detector(k8snetio::anomalous_network_io, k8snetio::test::live_table(), svc::live_options{},
                 sink, {"io", 1}, [] { return now; }),
        endpoints(detector, max_body, std::move(access)) {
    REQUIRE(!endpoints.load_tokens());
  }

  /// check_head(), then handle() when it passed: as a server calls them.
  endpoint_reply post(std::string_view path, std::string_view body,
                      std::string_view type = "application/json", std::string_view encoding = {},
                      std::string_view authorization = {}) {
    endpoint_request r;
    r.method = "POST";
    r.path = path;
    r.content_type = type;
    r.content_encoding = encoding;
    r.authorization = authorization;
    if (auto refused = endpoints.check_head(r)) return *refused;
    return endpoints.handle(r, body);
  }

  std::uint64_t accepted() const { return detector.stats().points.accepted(); }
  std::uint64_t seen() const {
    const auto& p = detector.stats().points;
    return p.accepted() + p.rejected() + p.ignored();
  }
};

std::string event(std::string_view value = "5", std::string_view time = "1700000410",
                  std::string_view pod = R"("k8s.pod.name":"a",)") {
  return fmt::format(R"({{"time":{},"fields":{{"metric_name":"k8s.pod.network.io","_value":{},)"
                     R"("k8s.cluster.name":"c",{}"k8s.node.name":"n","direction":"transmit"}}}})",
                     time, value, pod);
}

std::string gzip(std::string_view data) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string zstd(std::string_view data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const auto n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  REQUIRE(!ZSTD_isError(n));
  out.resize(n);
  return out;
}

}  // namespace

TEST_CASE("RT-19 L3 HEC invalid-event-number counts events, not lines; nothing after it is read") {
  fixture f;
  // Three events on the first line, the third without a pod; a fourth, good, on the next line.
  const std::string body =
      event() + event("6") + event("7", "1700000410", "") + "\n" + event("8") + "\n";
  const auto reply = f.post("/services/collector", body);
  CHECK(reply.status == 400);
  CHECK(reply.body == R"({"text":"Invalid data format","code":6,"invalid-event-number":2})");
  // The two events before it are taken; the bad one is counted with its reason; the one after
  // it is not read at all (HEC stops there).
  CHECK(f.accepted() == 2);
  CHECK(f.detector.stats().points[point_outcome::missing_dimension] == 1);
  CHECK(f.seen() == 3);
}

TEST_CASE("RT-27 L3 HEC events with bad data get 400 code 6 naming the event, never Success") {
  const struct {
    const char* what;
    std::string bad;
    point_outcome reason;
  } cases[] = {
      {"a NaN _value", event(R"("NaN")"), point_outcome::non_finite_value},
      {"a missing dimension", event("5", "1700000410", ""), point_outcome::missing_dimension},
      {"no time", event("5", "null"), point_outcome::missing_field},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    fixture f;
    const auto reply = f.post("/services/collector/event", event() + "\n" + c.bad + "\n");
    CHECK(reply.status == 400);
    CHECK(reply.body == R"({"text":"Invalid data format","code":6,"invalid-event-number":1})");
    CHECK(f.accepted() == 1);
    CHECK(f.detector.stats().points[c.reason] == 1);
  }
  fixture f;
  const auto ok = f.post("/services/collector", event() + event("6"));
  CHECK(ok.status == 200);
  CHECK(ok.body == R"({"text":"Success","code":0})");
  CHECK(f.accepted() == 2);
}

TEST_CASE("RT-6 L5 a truncated gzip or zstd body is refused whole: 400, no point used") {
  const std::string whole = otlp_json(50);
  for (const auto& [encoding, packed] :
       {std::pair<std::string, std::string>{"gzip", gzip(whole)}, {"zstd", zstd(whole)}}) {
    INFO(encoding);
    fixture f;
    const auto cut = f.post("/v1/metrics", std::string_view(packed).substr(0, packed.size() - 8),
                            "application/json", encoding);
    CHECK(cut.status == 400);
    CHECK(cut.body.find("cut short") != std::string::npos);
    CHECK(f.seen() == 0);
    // The whole stream, by contrast, is read whole.
    const auto good = f.post("/v1/metrics", packed, "application/json", encoding);
    CHECK(good.status == 200);
    CHECK(f.accepted() == 50);
  }
  fixture f;
  const std::string packed = gzip(event() + "\n" + event("6") + "\n");
  CHECK(f.post("/services/collector", std::string_view(packed).substr(0, packed.size() / 2), "",
               "gzip")
            .status == 400);
  CHECK(f.seen() == 0);
}

TEST_CASE("L5 the body cap holds after decompression: 413 with the size message") {
  fixture f({}, 4096);
  const std::string big(100000, ' ');
  const auto reply = f.post("/v1/metrics", gzip(big), "application/json", "gzip");
  CHECK(reply.status == 413);
  CHECK(reply.body.find("larger than 4096 bytes") != std::string::npos);
  const auto hec = f.post("/services/collector", zstd(big), "", "zstd");
  CHECK(hec.status == 413);
  CHECK(hec.body.find(R"("code":27)") != std::string::npos);
  CHECK(f.post("/v1/metrics", "{}", "application/json", "br").status == 415);
}

TEST_CASE("RT-11 L3 L11 the token is checked on the header, before any body is read") {
  svc::endpoint_access access;
  access.otlp_tokens = {"otlp-secret"};
  fixture f(access);
  endpoint_request head;
  head.method = "POST";
  head.path = "/services/collector";
  // No body is given: check_head() alone decides. Any token closes HEC too.
  auto refused = f.endpoints.check_head(head);
  REQUIRE(refused);
  CHECK(refused->status == 401);
  CHECK(refused->close);
  CHECK(refused->body == R"({"text":"Token is required","code":2})");
  head.path = "/v1/metrics";
  head.content_type = "application/json";
  head.authorization = "Bearer otlp-secrex";
  refused = f.endpoints.check_head(head);
  REQUIRE(refused);
  CHECK(refused->status == 401);
  head.authorization = "Bearer otlp-secret";
  CHECK(!f.endpoints.check_head(head));
  // The content type is checked before the body too, case-insensitively.
  head.content_type = "Application/X-Protobuf";
  CHECK(!f.endpoints.check_head(head));
  head.content_type = "text/plain";
  refused = f.endpoints.check_head(head);
  REQUIRE(refused);
  CHECK(refused->status == 415);
  // gRPC: the authorization metadata, before the message.
  CHECK(f.endpoints.grpc_authorize(std::nullopt)->code == svc::grpc_code::unauthenticated);
  CHECK(f.endpoints.grpc_authorize(std::string_view("Bearer nope"))->code ==
        svc::grpc_code::unauthenticated);
  CHECK(!f.endpoints.grpc_authorize(std::string_view("Bearer otlp-secret")));
}

TEST_CASE("RT-11 L4 /metrics can be protected by --metrics-token; open by default") {
  endpoint_request head;
  head.method = "GET";
  head.path = "/metrics";
  fixture open;
  CHECK(!open.endpoints.check_head(head));
  CHECK(open.endpoints.handle(head, {}).body.find("k8snetio_points_accepted_total") !=
        std::string::npos);
  svc::endpoint_access access;
  access.metrics_tokens = {"scrape"};
  fixture closed(access);
  auto refused = closed.endpoints.check_head(head);
  REQUIRE(refused);
  CHECK(refused->status == 401);
  head.authorization = "Bearer scrape";
  CHECK(!closed.endpoints.check_head(head));
  // The data endpoints stay open: a /metrics token is not a data token.
  CHECK(closed.post("/v1/metrics", otlp_json(1)).status == 200);
}

TEST_CASE("RT-11 L11 token files: read at start, re-read by load_tokens (SIGHUP), never empty") {
  const auto file = std::filesystem::temp_directory_path() /
                    fmt::format("k8snetio-endpoints-{}.tokens", ::getpid());
  { std::ofstream(file) << "first\n"; }
  svc::endpoint_access access;
  access.hec_token_file = file.string();
  fixture f(access);
  CHECK(f.post("/services/collector", event(), "", "", "Splunk first").status == 200);
  { std::ofstream(file) << "second\n"; }
  REQUIRE(!f.endpoints.load_tokens());
  CHECK(f.post("/services/collector", event(), "", "", "Splunk first").status == 403);
  CHECK(f.post("/services/collector", event(), "", "", "Splunk second").status == 200);
  // A file that lost its tokens: an error, and the old ones stay.
  { std::ofstream(file) << "\n"; }
  CHECK(f.endpoints.load_tokens());
  CHECK(f.post("/services/collector", event(), "", "", "Splunk second").status == 200);
  std::filesystem::remove(file);
  std::vector<std::string> out;
  CHECK(svc::load_tokens({""}, "", "--hec-token", out)->find("must not be empty") !=
        std::string::npos);
}

TEST_CASE("L9 gRPC Export: the OTLP status codes and partial_success") {
  fixture f;
  const auto bad = f.endpoints.grpc_export("\x0a\xff\xff\xff\xff\x0f");
  CHECK(bad.code == svc::grpc_code::invalid_argument);
  CHECK(bad.message.find("byte") != std::string::npos);
  CHECK(f.endpoints.grpc_export("").code == svc::grpc_code::ok);
  CHECK(f.endpoints.grpc_export("").response.empty());
}

TEST_CASE("L2 L3 routes: 404 and 405 in the OTLP dialect, HEC health, transport refusals") {
  fixture f;
  endpoint_request head;
  head.method = "GET";
  head.path = "/nope";
  CHECK(f.endpoints.check_head(head)->status == 404);
  head.path = "/v1/metrics";
  const auto wrong = f.endpoints.check_head(head);
  CHECK(wrong->status == 405);
  CHECK(wrong->allow == "POST");
  head.path = "/services/collector/health/1.0";
  CHECK(!f.endpoints.check_head(head));
  CHECK(f.endpoints.handle(head, {}).body == R"({"text":"HEC is healthy","code":17})");
  const auto busy = f.endpoints.transport_refusal("/services/collector", 503);
  CHECK(busy.body == R"({"text":"Server is busy","code":9})");
  CHECK(busy.retry_after == "1");
  CHECK(f.endpoints.transport_refusal("/v1/metrics", 413).body.find("--max-body") !=
        std::string::npos);
}

}  // namespace test_http_endpoints
