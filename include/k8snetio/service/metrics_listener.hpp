// K1, L4: `/metrics` (Prometheus text) and `/healthz` for a process whose counters one thread
// owns (a Kafka consumer's poll loop): that thread publishes the text now and then, and the
// listener's own thread serves the last text published. On the library's event-driven HTTP
// server (http_server.hpp); nothing else is served (404).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include <tl/expected.hpp>

#include <k8snetio/service/http_server.hpp>

namespace k8snetio::service {

class metrics_listener {
 public:
  metrics_listener() = default;
  metrics_listener(const metrics_listener&) = delete;
  metrics_listener& operator=(const metrics_listener&) = delete;
  ~metrics_listener() { stop(); }

  /// Listens on `host` (an address, or a name such as localhost: its first address) and `port`
  /// (0: a free port), and serves from a thread of its own. Returns the port bound, or why it
  /// cannot listen.
  tl::expected<std::uint16_t, std::string> start(const std::string& host, std::uint16_t port) {
    http_server_options o;
    o.host = host;
    boost::system::error_code ec;
    if (boost::asio::ip::make_address(host, ec), ec) {
      boost::asio::io_context io;
      const auto found = boost::asio::ip::tcp::resolver(io).resolve(host, "", ec);
      if (ec || found.empty()) return tl::unexpected("cannot resolve " + host);
      o.host = found.begin()->endpoint().address().to_string();
    }
    o.port = port;
    o.max_body = 64 * 1024;
    http_handler handler;
    handler.on_header = [](const http_request_header&) -> std::optional<http_response> {
      return std::nullopt;
    };
    handler.on_request = [this](http_request&& req) {
      const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
      http_response res =
          !get ? make_response(http::status::not_found, "", "text/plain", req.version())
          : req.target() == "/healthz"
              ? make_response(http::status::ok, "ok\n", "text/plain", req.version())
          : req.target() == "/metrics"
              ? make_response(http::status::ok, text(), "text/plain; version=0.0.4", req.version())
              : make_response(http::status::not_found, "", "text/plain", req.version());
      res.keep_alive(req.keep_alive());
      return res;
    };
    server_ = std::make_unique<http_server>(std::move(o), std::move(handler));
    if (auto started = server_->start(); !started) {
      server_.reset();
      return tl::unexpected(started.error());
    }
    thread_ = std::thread([this] { server_->run(); });
    return server_->port();
  }

  /// The text /metrics serves from now on.
  void publish(std::string text) {
    std::lock_guard lock(mutex_);
    text_ = std::move(text);
  }

  bool listening() const noexcept { return server_ != nullptr; }

  /// Stops serving (requests in flight are answered) and joins the thread.
  void stop() {
    if (!server_) return;
    server_->stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }

 private:
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }

  std::unique_ptr<http_server> server_;
  std::thread thread_;
  std::mutex mutex_;
  std::string text_;
};

}  // namespace k8snetio::service
