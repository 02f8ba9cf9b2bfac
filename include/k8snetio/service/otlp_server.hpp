// The transports of `k8s-netio serve` (service.md L1-L11) as one object an embedder starts: the
// HTTP/1.1 server (http_server.hpp: OTLP/HTTP, Splunk HEC, /metrics, /healthz) and, when asked,
// the OTLP/gRPC server (grpc_server.hpp), both carrying requests to one set of live endpoints
// (http_endpoints.hpp), which hand them to the live core. What is left to a program is its
// flags, its output and its signals:
//
//     svc::live_detector<2> live(rule, std::move(table), live_options, sink);
//     svc::live_endpoints<svc::live_detector<2>> endpoints(live, live_options.max_body, access);
//     svc::otlp_server_options where;
//     where.http.port = 4318;
//     where.http.threads = 2;  // one request may wait for the detector while another is read
//     svc::otlp_server<svc::live_detector<2>> server(endpoints, where);
//     if (auto started = server.start(); !started) fail(started.error());
//     std::jthread signals([&] { wait_for_sigterm(); server.stop(); });
//     server.run();   // until stop(): the requests in flight are answered first (L6)
//     endpoints.with_detector([](auto& d) { return d.shut_down(); });
//
// Component `server` (Boost.Beast/Asio, OpenSSL, gRPC++).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <k8snetio/service/grpc_server.hpp>
#include <k8snetio/service/http_endpoints.hpp>
#include <k8snetio/service/http_server.hpp>

namespace k8snetio::service {

/// Where and how otlp_server listens.
struct otlp_server_options {
  /// OTLP/HTTP, HEC, /metrics and /healthz (serve runs it on two threads).
  http_server_options http;
  /// L9: OTLP/gRPC; none unless set.
  std::optional<grpc_server_options> grpc;
};

/// A Beast request header as the endpoints see it (the path without its query).
inline endpoint_request request_of(const http_request_header& head) {
  const auto view = [](boost::beast::string_view s) {
    return std::string_view(s.data(), s.size());
  };
  endpoint_request r;
  r.method = view(head.method_string());
  r.path = view(head.target());
  r.path = r.path.substr(0, r.path.find('?'));
  r.content_type = view(head[http::field::content_type]);
  r.content_encoding = view(head[http::field::content_encoding]);
  r.authorization = view(head[http::field::authorization]);
  return r;
}

/// An endpoint's reply as a Beast response (its status, body, Retry-After, Allow, close).
inline http_response response_of(endpoint_reply reply) {
  auto res = make_response(static_cast<http::status>(reply.status), std::move(reply.body),
                           reply.content_type);
  if (!reply.retry_after.empty()) res.set(http::field::retry_after, reply.retry_after);
  if (!reply.allow.empty()) res.set(http::field::allow, reply.allow);
  if (reply.close) res.keep_alive(false);
  return res;
}

/// The HTTP server's handler over `endpoints`: refusals from the header alone (route, method,
/// token, content type) before the body is read, the request to the endpoint, the transport's
/// own refusals (413, 503, …) in the endpoint's dialect, and every outcome counted for /metrics.
template <class Detector>
http_handler http_handler_for(live_endpoints<Detector>& endpoints) {
  http_handler handler;
  handler.on_header =
      [&endpoints](const http_request_header& head) -> std::optional<http_response> {
    if (auto refusal = endpoints.check_head(request_of(head)))
      return response_of(std::move(*refusal));
    return std::nullopt;
  };
  handler.on_request = [&endpoints](http_request&& req) {
    const auto started = std::chrono::steady_clock::now();
    const endpoint_request request = request_of(req.base());
    auto res = response_of(endpoints.handle(request, req.body()));
    endpoints.record(
        request.path, static_cast<int>(res.result_int()),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return res;
  };
  handler.on_refused = [&endpoints](const http_request_header* head, unsigned status) {
    endpoints.record(head ? request_of(*head).path : std::string_view("other"),
                     static_cast<int>(status), 0);
  };
  handler.refusal_body = [&endpoints](const http_request_header& head, unsigned status) {
    return std::optional<http_response>(
        response_of(endpoints.transport_refusal(request_of(head).path, static_cast<int>(status))));
  };
  return handler;
}

/// The gRPC server's handler over `endpoints`: the bearer token before the message is read,
/// then MetricsService/Export, counted for /metrics as "grpc".
template <class Detector>
grpc_handler grpc_handler_for(live_endpoints<Detector>& endpoints) {
  grpc_handler handler;
  handler.on_call = [&endpoints](const grpc_call_info& info) -> std::optional<grpc_reply> {
    if (auto refusal = endpoints.grpc_authorize(info.authorization))
      return grpc_reply{static_cast<grpc::StatusCode>(refusal->code), refusal->message, {}};
    return std::nullopt;
  };
  handler.on_export = [&endpoints](std::string_view message, const grpc_call_info&) {
    const auto started = std::chrono::steady_clock::now();
    auto r = endpoints.grpc_export(message);
    endpoints.record(
        "grpc", static_cast<int>(r.code),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return grpc_reply{static_cast<grpc::StatusCode>(r.code), std::move(r.message),
                      std::move(r.response)};
  };
  return handler;
}

/// serve's listeners over one set of live endpoints (which must outlive it). start() binds
/// both (a port of 0 takes a free one: see http_port(), grpc_port()); run() serves on the
/// calling thread and the HTTP server's others until stop(), which any thread may call (a
/// signal-waiting thread, say): both stop accepting and answer the requests in flight first
/// (L6). reload() is SIGHUP's (L11).
template <class Detector>
class otlp_server {
 public:
  otlp_server(live_endpoints<Detector>& endpoints, otlp_server_options options)
      : endpoints_(endpoints),
        options_(std::move(options)),
        http_(options_.http, http_handler_for(endpoints)) {
    if (options_.grpc)
      grpc_ = std::make_unique<grpc_server>(*options_.grpc, grpc_handler_for(endpoints));
  }
  otlp_server(const otlp_server&) = delete;
  otlp_server& operator=(const otlp_server&) = delete;
  ~otlp_server() { stop(); }

  /// Binds the listeners and reads the TLS files; on an error (the listener's own: an address
  /// in use, an unreadable certificate) neither serves.
  [[nodiscard]] tl::expected<void, std::string> start() {
    if (auto started = http_.start(); !started) return tl::unexpected(started.error());
    if (grpc_) {
      if (auto started = grpc_->start(); !started) {
        http_.stop();
        return tl::unexpected(started.error());
      }
    }
    return {};
  }

  /// Serves until stop(); gRPC is stopped too before it returns.
  void run() {
    http_.run();
    std::lock_guard lock(stopping_);
    if (grpc_) grpc_->stop();
  }

  /// From any thread, as often as wanted: stop accepting, answer the requests in flight, then
  /// run() returns.
  void stop() {
    std::lock_guard lock(stopping_);  // grpc_server::stop() is not safe from two threads at once
    if (grpc_) grpc_->stop();
    http_.stop();
  }

  /// L11, SIGHUP: the token files and the HTTP server's certificates read again (the gRPC
  /// server watches its own files). One line per outcome, for the log; on an error the old
  /// tokens or certificates stay in use.
  std::vector<std::string> reload() {
    std::vector<std::string> said;
    if (auto bad = endpoints_.load_tokens())
      said.push_back("tokens not reloaded: " + *bad);
    else
      said.emplace_back("tokens reloaded");
    if (auto reloaded = http_.reload_tls(); !reloaded)
      said.push_back("certificates not reloaded: " + reloaded.error());
    else if (http_.tls())
      said.emplace_back("certificates reloaded");
    return said;
  }

  std::uint16_t http_port() const noexcept { return http_.port(); }
  /// None without gRPC.
  std::optional<std::uint16_t> grpc_port() const noexcept {
    if (!grpc_) return std::nullopt;
    return grpc_->port();
  }
  /// Whether the HTTP server speaks TLS (the gRPC server does when its options name a
  /// certificate).
  bool tls() const { return http_.tls(); }

  const http_server& http() const noexcept { return http_; }
  const grpc_server* grpc() const noexcept { return grpc_.get(); }

 private:
  live_endpoints<Detector>& endpoints_;
  otlp_server_options options_;
  http_server http_;
  std::unique_ptr<grpc_server> grpc_;
  std::mutex stopping_;
};

}  // namespace k8snetio::service
