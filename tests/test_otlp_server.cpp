// service.md L0, L9, L11: service::otlp_server, serve's transports as one library object over the
// live endpoints, called over real sockets by a Beast client and gRPC's own generic client: an
// OTLP/HTTP export reaches the live detector, the token is asked before the body on both
// transports, a gRPC Export is answered by the endpoints, reload() reads the token file again,
// and stop() from another thread ends run().
#include <k8snetio/service/otlp_server.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>

#include <k8snetio/k8snetio.hpp>
#include <k8snetio/service/service.hpp>

#include "live_support.hpp"

namespace test_otlp_server {

namespace {

namespace svc = k8snetio::service;
namespace http = boost::beast::http;
using namespace std::chrono_literals;
using k8snetio::test::otlp_json;

/// One request on a new connection; the response.
http::response<http::string_body> request(std::uint16_t port, http::verb verb,
                                          std::string_view target, std::string body,
                                          std::string_view authorization = {}) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket(ioc);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  const auto beast = [](std::string_view v) {
    return boost::beast::string_view(v.data(), v.size());
  };
  http::request<http::string_body> req{verb, beast(target), 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  if (!authorization.empty()) req.set(http::field::authorization, beast(authorization));
  req.body() = std::move(body);
  req.prepare_payload();
  http::write(socket, req);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  return res;
}

/// A unary Export call with gRPC's generic client: its status.
grpc::Status grpc_export(std::uint16_t port, const std::string& payload,
                         std::optional<std::string> authorization) {
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  if (authorization) context.AddMetadata("authorization", *authorization);
  grpc::Slice slice(payload);
  grpc::ByteBuffer message(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, std::string(svc::otlp_metrics_export_method), grpc::StubOptions(),
                 &message, &response, [&done](grpc::Status s) { done.set_value(std::move(s)); });
  return done.get_future().get();
}

}  // namespace

TEST_CASE(
    "L0 L9 L11 otlp_server: HTTP and gRPC reach one live detector, token first, stop ends run") {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("k8snetio-otlp-server-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  struct remove_at_exit {
    std::filesystem::path dir;
    ~remove_at_exit() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } cleanup{dir};
  const auto token_file = (dir / "otlp-tokens").string();
  std::ofstream(token_file) << "first\n";

  svc::memory_findings_sink sink;
  svc::live_detector<2> live(k8snetio::anomalous_network_io, k8snetio::test::live_table(),
                             svc::live_options{}, sink, {"io", 1}, [] { return 1800000000.0; });
  svc::endpoint_access access;
  access.otlp_token_file = token_file;
  svc::live_endpoints<svc::live_detector<2>> endpoints(live, std::size_t{1} << 20, access);
  REQUIRE(!endpoints.load_tokens());
  const auto accepted = [&endpoints] {
    return endpoints.with_detector([](auto& d) { return d.stats().points.accepted(); });
  };

  svc::otlp_server_options where;
  where.http.host = "127.0.0.1";
  where.http.port = 0;
  where.http.threads = 2;
  where.grpc.emplace();
  where.grpc->host = "127.0.0.1";
  where.grpc->port = 0;
  svc::otlp_server<svc::live_detector<2>> server(endpoints, where);
  const auto started = server.start();
  INFO((started ? std::string() : started.error()));
  REQUIRE(started);
  REQUIRE(server.http_port() != 0);
  REQUIRE(server.grpc_port());
  REQUIRE(*server.grpc_port() != 0);
  CHECK(!server.tls());
  std::thread serving([&server] { server.run(); });
  struct stop_at_exit {  // a failed REQUIRE below must not leave the thread joinable
    svc::otlp_server<svc::live_detector<2>>& server;
    std::thread& serving;
    ~stop_at_exit() {
      server.stop();
      if (serving.joinable()) serving.join();
    }
  } stopper{server, serving};

  // OTLP/HTTP: without the token 401 and nothing read; with it, the points reach the detector.
  CHECK(request(server.http_port(), http::verb::post, "/v1/metrics", otlp_json(3)).result_int() ==
        401);
  CHECK(accepted() == 0);
  const auto ok = request(server.http_port(), http::verb::post, "/v1/metrics?x=1", otlp_json(3),
                          "Bearer first");
  CHECK(ok.result_int() == 200);
  CHECK(accepted() == 3);
  CHECK(request(server.http_port(), http::verb::get, "/nowhere", "").result_int() == 404);

  // OTLP/gRPC: the same token, asked before the message; an empty export is answered OK.
  CHECK(grpc_export(*server.grpc_port(), "", std::nullopt).error_code() ==
        grpc::StatusCode::UNAUTHENTICATED);
  CHECK(grpc_export(*server.grpc_port(), "", "Bearer first").ok());
  CHECK(grpc_export(*server.grpc_port(), "\x0a\xff\xff\xff\xff\x0f", "Bearer first").error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);

  // L11: reload() reads the token file again; the old token no longer opens the endpoint.
  std::ofstream(token_file) << "second\n";
  CHECK(server.reload() == std::vector<std::string>{"tokens reloaded"});
  CHECK(
      request(server.http_port(), http::verb::post, "/v1/metrics", otlp_json(2, 10), "Bearer first")
          .result_int() == 401);
  CHECK(request(server.http_port(), http::verb::post, "/v1/metrics", otlp_json(2, 10),
                "Bearer second")
            .result_int() == 200);
  CHECK(grpc_export(*server.grpc_port(), "", "Bearer second").ok());
  std::ofstream(token_file) << "";  // an empty file: refused, the tokens in use stay
  const auto said = server.reload();
  REQUIRE(said.size() == 1);
  CHECK_THAT(said[0], Catch::StartsWith("tokens not reloaded: "));
  CHECK(request(server.http_port(), http::verb::post, "/v1/metrics", otlp_json(1, 20),
                "Bearer second")
            .result_int() == 200);

  // /metrics counted each transport's requests.
  const std::string metrics = endpoints.metrics_text();
  CHECK_THAT(metrics, Catch::Contains("grpc"));
  CHECK_THAT(metrics, Catch::Contains("/v1/metrics"));

  // L6: stop() from this thread; run() returns on the serving one.
  server.stop();
  serving.join();
  CHECK(accepted() == 3 + 2 + 1);
  server.stop();  // again: nothing more to do
}

}  // namespace test_otlp_server
