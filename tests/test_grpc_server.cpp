// service::grpc_server, the OTLP/gRPC transport of `serve` (service.md L9, L10, L11), called
// by gRPC's own generic client: the Export method's bytes reach the handler and its bytes come
// back; authentication refuses before the message is read; admission answers UNAVAILABLE at
// once; gzip-compressed calls are accepted; an unknown method is UNIMPLEMENTED; TLS and mTLS.
#include <k8snetio/service/grpc_server.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include <unistd.h>

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>

#include <catch2/catch.hpp>

#include "tls_certificates.hpp"

namespace test_grpc_server {

using namespace std::chrono_literals;
using k8snetio::service::grpc_call_info;
using k8snetio::service::grpc_handler;
using k8snetio::service::grpc_reply;
using k8snetio::service::grpc_server;
using k8snetio::service::grpc_server_options;

const std::string method{k8snetio::service::otlp_metrics_export_method};

grpc_server_options loopback() {
  grpc_server_options o;
  o.host = "127.0.0.1";
  o.port = 0;
  return o;
}

/// Replies with "got N bytes"; requires `Bearer secret` when `token` is set.
grpc_handler echo(std::atomic<int>& calls, bool token = false) {
  grpc_handler h;
  if (token)
    h.on_call = [](const grpc_call_info& info) -> std::optional<grpc_reply> {
      if (info.authorization != std::optional<std::string_view>("Bearer secret"))
        return grpc_reply{grpc::StatusCode::UNAUTHENTICATED, "missing or wrong token", {}};
      return std::nullopt;
    };
  h.on_export = [&calls](std::string_view request, const grpc_call_info&) {
    ++calls;
    if (request == "bad") return grpc_reply{grpc::StatusCode::INVALID_ARGUMENT, "bad", {}};
    return grpc_reply{grpc::StatusCode::OK, {}, "got " + std::to_string(request.size()) + " bytes"};
  };
  return h;
}

struct call_result {
  grpc::Status status;
  std::string response;
};

call_result call(std::shared_ptr<grpc::Channel> channel, const std::string& payload,
                 const std::string& name = method, std::optional<std::string> authorization = {},
                 bool gzip = false) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  if (authorization) context.AddMetadata("authorization", *authorization);
  if (gzip) context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  grpc::Slice slice(payload);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, name, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  call_result out{done.get_future().get(), {}};
  if (out.status.ok()) {
    grpc::Slice flat;
    REQUIRE(response.DumpToSingleSlice(&flat).ok());
    out.response.assign(reinterpret_cast<const char*>(flat.begin()), flat.size());
  }
  return out;
}

std::shared_ptr<grpc::Channel> plaintext(std::uint16_t port) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                             grpc::InsecureChannelCredentials());
}

TEST_CASE("L9 Export's bytes reach the handler and the reply's bytes come back") {
  std::atomic<int> calls{0};
  grpc_server server(loopback(), echo(calls));
  REQUIRE(server.start());
  auto channel = plaintext(server.port());
  auto r = call(channel, std::string(1000, 'p'));
  REQUIRE(r.status.ok());
  CHECK(r.response == "got 1000 bytes");
  auto compressed = call(channel, std::string(5000, 'q'), method, {}, true);
  REQUIRE(compressed.status.ok());
  CHECK(compressed.response == "got 5000 bytes");  // gRPC decompressed the gzip message
  auto bad = call(channel, "bad");
  CHECK(bad.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  auto other = call(channel, "x", "/opentelemetry.proto.collector.trace.v1.TraceService/Export");
  CHECK(other.status.error_code() == grpc::StatusCode::UNIMPLEMENTED);
  CHECK(calls == 3);
}

TEST_CASE("L9 a missing or wrong bearer token is UNAUTHENTICATED, the message unread") {
  std::atomic<int> calls{0};
  grpc_server server(loopback(), echo(calls, true));
  REQUIRE(server.start());
  auto channel = plaintext(server.port());
  CHECK(call(channel, "x").status.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(call(channel, "x", method, "Bearer wrong").status.error_code() ==
        grpc::StatusCode::UNAUTHENTICATED);
  CHECK(call(channel, "x", method, "Bearer secret").status.ok());
  CHECK(calls == 1);
}

TEST_CASE("L5 L9 a message over the cap is refused with RESOURCE_EXHAUSTED") {
  std::atomic<int> calls{0};
  auto o = loopback();
  o.max_message = 1024;
  grpc_server server(o, echo(calls));
  REQUIRE(server.start());
  auto r = call(plaintext(server.port()), std::string(4096, 'z'));
  CHECK(r.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(calls == 0);
}

TEST_CASE("L10 L9 a call beyond max_in_flight gets UNAVAILABLE at once") {
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> entered{0};
  grpc_handler h;
  h.on_export = [&](std::string_view, const grpc_call_info&) {
    ++entered;
    std::unique_lock lock(m);
    cv.wait_for(lock, 5s, [&] { return release; });
    return grpc_reply{grpc::StatusCode::OK, {}, "done"};
  };
  auto o = loopback();
  o.max_in_flight = 1;
  grpc_server server(o, h);
  REQUIRE(server.start());
  auto channel = plaintext(server.port());
  auto first = std::async(std::launch::async, [&] { return call(channel, "a"); });
  for (int i = 0; i < 400 && entered == 0; ++i) std::this_thread::sleep_for(5ms);
  REQUIRE(entered == 1);
  auto second = call(channel, "b");
  CHECK(second.status.error_code() == grpc::StatusCode::UNAVAILABLE);
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  CHECK(first.get().status.ok());
  CHECK(server.stats().busy_replies == 1);
}

using k8snetio::test::certificates;

std::shared_ptr<grpc::Channel> tls_channel(std::uint16_t port, const certificates& c,
                                           bool client_certificate) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = c.read("ca.pem");
  if (client_certificate) {
    options.pem_private_key = c.read("client.key");
    options.pem_cert_chain = c.read("client.pem");
  }
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::SslCredentials(options));
}

TEST_CASE("L11 gRPC over TLS; mTLS refuses a client without a certificate") {
  certificates c;
  std::atomic<int> calls{0};
  {
    auto o = loopback();
    o.tls_cert = c.path("server.pem");
    o.tls_key = c.path("server.key");
    grpc_server server(o, echo(calls));
    REQUIRE(server.start());
    auto r = call(tls_channel(server.port(), c, false), "tls");
    INFO(r.status.error_message());
    CHECK(r.status.ok());
    CHECK(call(plaintext(server.port()), "plain").status.error_code() ==
          grpc::StatusCode::UNAVAILABLE);  // plaintext to a TLS port: no connection
  }
  {
    auto o = loopback();
    o.tls_cert = c.path("server.pem");
    o.tls_key = c.path("server.key");
    o.tls_client_ca = c.path("ca.pem");
    grpc_server server(o, echo(calls));
    REQUIRE(server.start());
    CHECK_FALSE(call(tls_channel(server.port(), c, false), "anonymous").status.ok());
    auto r = call(tls_channel(server.port(), c, true), "collector");
    INFO(r.status.error_message());
    CHECK(r.status.ok());
  }
  CHECK(calls == 2);
  auto o = loopback();
  o.tls_cert = c.path("missing.pem");
  o.tls_key = c.path("server.key");
  grpc_server broken(o, echo(calls));
  auto refused = broken.start();
  REQUIRE_FALSE(refused);
  CHECK(refused.error().find("missing.pem") != std::string::npos);
}

}  // namespace test_grpc_server
