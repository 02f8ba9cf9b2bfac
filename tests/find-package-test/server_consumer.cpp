// A user's program on the installed k8snetio::server component: serve's HTTP and gRPC servers
// and the transport-free endpoints compile and link with what the component brings (Boost's
// headers, OpenSSL, gRPC++); each server binds a free loopback port and stops.
#include <k8snetio/service/grpc_server.hpp>
#include <k8snetio/service/http_endpoints.hpp>
#include <k8snetio/service/http_server.hpp>

#include <cstdio>

int main() {
  k8snetio::service::http_server_options o;
  o.port = 0;
  k8snetio::service::http_handler h;
  h.on_request = [](k8snetio::service::http_request&&) {
    return k8snetio::service::make_response(boost::beast::http::status::ok, "{}");
  };
  k8snetio::service::http_server http(o, h);
  if (auto started = http.start(); !started || http.port() == 0) {
    std::fprintf(stderr, "http_server did not start\n");
    return 1;
  }
  http.stop();
  k8snetio::service::grpc_server_options g;
  g.port = 0;
  k8snetio::service::grpc_server grpc(g, {});
  if (auto started = grpc.start(); !started || grpc.port() == 0) {
    std::fprintf(stderr, "grpc_server did not start\n");
    return 1;
  }
  grpc.stop();
  std::vector<std::string> tokens;
  return k8snetio::service::load_tokens({"t"}, "", "--token", tokens) ? 1 : 0;
}
