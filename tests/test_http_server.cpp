// service::http_server, the event-driven HTTP/1.1 transport of `serve` (service.md L5, L10,
// L11): keep-alive, the idle and whole-request deadlines, the body cap while reading, refused
// smuggling shapes, admission that answers 503 at once, many idle connections, TLS and mTLS
// with certificates made by the openssl command. Loopback only; every loop is bounded.
#include <k8snetio/service/http_server.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include "tls_certificates.hpp"

namespace test_http_server {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using namespace std::chrono_literals;
using k8snetio::service::http_handler;
using k8snetio::service::http_request;
using k8snetio::service::http_response;
using k8snetio::service::http_server;
using k8snetio::service::http_server_options;

/// A server on 127.0.0.1:0 run by a thread of its own for the life of the object.
class running_server {
 public:
  running_server(http_server_options o, http_handler h)
      : server_(prepare(std::move(o)), std::move(h)) {
    auto started = server_.start();
    INFO((started ? std::string() : started.error()));
    REQUIRE(started);
    thread_ = std::thread([this] { server_.run(); });
  }
  ~running_server() {
    server_.stop(500ms);
    thread_.join();
  }
  running_server(const running_server&) = delete;
  running_server& operator=(const running_server&) = delete;

  std::uint16_t port() const { return server_.port(); }
  http_server& server() { return server_; }

 private:
  static http_server_options prepare(http_server_options o) {
    o.host = "127.0.0.1";
    o.port = 0;
    return o;
  }
  http_server server_;
  std::thread thread_;
};

/// Echoes the body's size; counts the requests it saw.
struct echo {
  std::atomic<int> requests{0};
  http_handler handler() {
    http_handler h;
    h.on_request = [this](http_request&& r) {
      ++requests;
      return k8snetio::service::make_response(
          http::status::ok, "{\"bytes\":" + std::to_string(r.body().size()) + "}");
    };
    return h;
  }
};

/// A blocking client socket whose reads give up after `timeout`.
tcp::socket connect(asio::io_context& ioc, std::uint16_t port,
                    std::chrono::milliseconds timeout = 5000ms) {
  tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return s;
}

void send(tcp::socket& s, const std::string& bytes) { asio::write(s, asio::buffer(bytes)); }

/// Reads one response; an empty optional when the server closed (or the read timed out).
std::optional<http::response<http::string_body>> receive(tcp::socket& s,
                                                         boost::beast::flat_buffer& buffer) {
  http::response<http::string_body> res;
  boost::system::error_code ec;
  http::read(s, buffer, res, ec);
  if (ec) return std::nullopt;
  return res;
}

std::string post(std::string_view body, std::string_view extra_headers = "") {
  return "POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
         std::string(extra_headers) + "Content-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

/// True when the server has closed the connection (a read gets end of file or reset).
bool closed_by_server(tcp::socket& s) {
  char c;
  boost::system::error_code ec;
  s.read_some(asio::buffer(&c, 1), ec);
  return ec == asio::error::eof || ec == asio::error::connection_reset;
}

TEST_CASE("L10 keep-alive: several requests on one connection, each answered") {
  echo e;
  running_server server({}, e.handler());
  asio::io_context ioc;
  auto s = connect(ioc, server.port());
  boost::beast::flat_buffer buffer;
  for (int i = 0; i < 3; ++i) {
    send(s, post(std::string(static_cast<std::size_t>(10 + i), 'x')));
    auto res = receive(s, buffer);
    REQUIRE(res);
    CHECK(res->result() == http::status::ok);
    CHECK(res->keep_alive());
    CHECK(res->body() == "{\"bytes\":" + std::to_string(10 + i) + "}");
  }
  // Two pipelined requests in one write: both answered, in order.
  send(s, post("ab") + post("abcd"));
  auto first = receive(s, buffer);
  auto second = receive(s, buffer);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->body() == "{\"bytes\":2}");
  CHECK(second->body() == "{\"bytes\":4}");
  CHECK(e.requests == 5);
}

TEST_CASE("L5 a Content-Length over the cap gets 413 before the body is sent") {
  echo e;
  http_server_options o;
  o.max_body = 1000;
  running_server server(o, e.handler());
  asio::io_context ioc;
  auto s = connect(ioc, server.port());
  // Only the header: a server that waited for the body would time out here.
  send(s, "POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n");
  boost::beast::flat_buffer buffer;
  auto res = receive(s, buffer);
  REQUIRE(res);
  CHECK(res->result() == http::status::payload_too_large);
  CHECK(res->body().find("1000 bytes") != std::string::npos);
  CHECK_FALSE(res->keep_alive());
  CHECK(e.requests == 0);
}

TEST_CASE("L5 a chunked body is stopped at the cap with 413") {
  echo e;
  http_server_options o;
  o.max_body = 100;
  running_server server(o, e.handler());
  asio::io_context ioc;
  auto s = connect(ioc, server.port());
  std::string chunks = "POST /v1/metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) chunks += "32\r\n" + std::string(50, 'y') + "\r\n";
  chunks += "0\r\n\r\n";
  send(s, chunks);
  boost::beast::flat_buffer buffer;
  auto res = receive(s, buffer);
  REQUIRE(res);
  CHECK(res->result() == http::status::payload_too_large);
  CHECK(e.requests == 0);
}

TEST_CASE("RT-28 L5 two Content-Length headers, or one with chunked, are refused with 400") {
  echo e;
  running_server server({}, e.handler());
  asio::io_context ioc;
  boost::beast::flat_buffer buffer;
  {
    auto s = connect(ioc, server.port());
    send(s,
         "POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: "
         "2\r\n\r\nab");
    auto res = receive(s, buffer);
    REQUIRE(res);
    CHECK(res->result() == http::status::bad_request);
  }
  buffer.clear();
  {
    auto s = connect(ioc, server.port());
    send(s,
         "POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: "
         "chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n");
    auto res = receive(s, buffer);
    REQUIRE(res);
    CHECK(res->result() == http::status::bad_request);
  }
  CHECK(e.requests == 0);
}

TEST_CASE("L10 a connection idle past --idle-timeout is closed") {
  echo e;
  http_server_options o;
  o.idle_timeout = 200ms;
  running_server server(o, e.handler());
  asio::io_context ioc;
  auto s = connect(ioc, server.port());
  boost::beast::flat_buffer buffer;
  send(s, post("x"));
  REQUIRE(receive(s, buffer));
  const auto start = std::chrono::steady_clock::now();
  CHECK(closed_by_server(s));  // blocks until the server closes (or 5 s pass)
  CHECK(std::chrono::steady_clock::now() - start < 4s);
  // tcp_stream closes the socket when its deadline passes, then runs the handler that counts.
  for (int i = 0; i < 100 && server.server().stats().timeouts == 0; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(server.server().stats().timeouts >= 1);
}

TEST_CASE("L10 RT-6 a request stalled past --read-timeout is cut off, never handled") {
  echo e;
  http_server_options o;
  o.read_timeout = 300ms;
  o.idle_timeout = 10s;
  running_server server(o, e.handler());
  asio::io_context ioc;
  auto s = connect(ioc, server.port());
  // The header and half the body, then a trickle that keeps each read short of the deadline.
  send(s, "POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
  boost::system::error_code ec;
  for (int i = 0; i < 10 && !ec; ++i) {
    std::this_thread::sleep_for(100ms);
    asio::write(s, asio::buffer("z", 1), ec);
  }
  CHECK(closed_by_server(s));
  CHECK(e.requests == 0);  // an incomplete body is refused whole
}

TEST_CASE("RT-6 a client gone mid-body: the request is never handled, the server goes on") {
  echo e;
  std::atomic<int> refused{0};
  auto h = e.handler();
  h.on_refused = [&refused](const k8snetio::service::http_request_header*, unsigned) { ++refused; };
  running_server server(http_server_options{}, std::move(h));
  asio::io_context ioc;
  {
    auto s = connect(ioc, server.port());
    send(s, "POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
    boost::system::error_code ignored;
    s.shutdown(tcp::socket::shutdown_both, ignored);
    s.close();
  }
  // The next request is answered; the cut one never reached the handler.
  auto s = connect(ioc, server.port());
  send(s, post("{}"));
  boost::beast::flat_buffer buffer;
  const auto res = receive(s, buffer);
  REQUIRE(res);
  CHECK(res->body() == "{\"bytes\":2}");
  CHECK(e.requests == 1);
}

TEST_CASE("L5 L3 refusal_body: a transport refusal is answered in the endpoint's dialect") {
  echo e;
  auto h = e.handler();
  h.refusal_body = [](const k8snetio::service::http_request_header& head, unsigned status) {
    return std::optional<http_response>(k8snetio::service::make_response(
        http::status::ok, std::string(head.target()) + " " + std::to_string(status)));
  };
  http_server_options o;
  o.max_body = 10;
  running_server server(o, std::move(h));
  asio::io_context ioc;
  auto s = connect(ioc, server.port());
  send(s, post(std::string(50, ' ')));
  boost::beast::flat_buffer buffer;
  const auto res = receive(s, buffer);
  REQUIRE(res);
  CHECK(res->result_int() == 413);  // the status stays the transport's
  CHECK(res->body() == "/v1/metrics 413");
  CHECK(e.requests == 0);
}

TEST_CASE("L10 a burst beyond --max-in-flight gets 503 with Retry-After at once") {
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> entered{0};
  http_handler h;
  h.on_request = [&](http_request&&) {
    ++entered;
    std::unique_lock lock(m);
    cv.wait_for(lock, 5s, [&] { return release; });
    return k8snetio::service::make_response(http::status::ok, "{}");
  };
  http_server_options o;
  o.max_in_flight = 1;
  o.threads = 2;
  running_server server(o, h);
  asio::io_context ioc;
  auto first = connect(ioc, server.port());
  send(first, post("a"));
  for (int i = 0; i < 200 && entered == 0; ++i) std::this_thread::sleep_for(5ms);
  REQUIRE(entered == 1);
  auto second = connect(ioc, server.port(), 2000ms);
  send(second, post("b"));
  boost::beast::flat_buffer buffer;
  auto busy = receive(second, buffer);  // while the first is still held
  REQUIRE(busy);
  CHECK(busy->result() == http::status::service_unavailable);
  CHECK(busy->count(http::field::retry_after) == 1);
  CHECK(entered == 1);
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  boost::beast::flat_buffer first_buffer;
  auto ok = receive(first, first_buffer);
  REQUIRE(ok);
  CHECK(ok->result() == http::status::ok);
  CHECK(server.server().stats().busy_replies == 1);
}

TEST_CASE("L10 a request sent as soon as the previous reply is read is never refused") {
  // The permit goes back once the request is answered, not once the reply's bytes have left:
  // with one permit, a client that sends its next request the moment it has read its reply must
  // not find its own slot still taken.
  echo e;
  http_server_options o;
  o.max_in_flight = 1;
  o.threads = 2;
  running_server server(o, e.handler());
  asio::io_context ioc;
  auto s = connect(ioc, server.port());
  boost::beast::flat_buffer buffer;
  int ok = 0;
  for (int i = 0; i < 300; ++i) {
    send(s, post("ping"));
    auto res = receive(s, buffer);
    REQUIRE(res);
    if (res->result() != http::status::ok) break;
    ++ok;
  }
  CHECK(ok == 300);
  CHECK(server.server().stats().busy_replies == 0);
}

TEST_CASE("L10 hundreds of idle keep-alive connections do not delay a new request") {
  echo e;
  running_server server({}, e.handler());
  asio::io_context ioc;
  std::vector<tcp::socket> idle;
  idle.reserve(600);
  for (int i = 0; i < 600; ++i) idle.push_back(connect(ioc, server.port()));
  // Half of them send a first byte and stall (a slow client each).
  for (std::size_t i = 0; i < idle.size(); i += 2) send(idle[i], "P");
  auto s = connect(ioc, server.port(), 3000ms);
  send(s, post("hello"));
  boost::beast::flat_buffer buffer;
  auto res = receive(s, buffer);  // a server with a thread per connection never gets here
  REQUIRE(res);
  CHECK(res->result() == http::status::ok);
  for (int i = 0; i < 100 && server.server().stats().connections_open < 601; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(server.server().stats().connections_open >= 601);
}

TEST_CASE("L5 on_header refuses before the body is read (authentication first)") {
  echo e;
  http_handler h = e.handler();
  std::atomic<int> headers{0};
  h.on_header =
      [&](const k8snetio::service::http_request_header& head) -> std::optional<http_response> {
    ++headers;
    if (head[http::field::authorization] != "Bearer t")
      return k8snetio::service::make_response(http::status::unauthorized, "{}");
    return std::nullopt;
  };
  running_server server({}, h);
  asio::io_context ioc;
  auto s = connect(ioc, server.port());
  // A header announcing a body that never comes: the refusal must not wait for it.
  send(s, "POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
  boost::beast::flat_buffer buffer;
  auto res = receive(s, buffer);
  REQUIRE(res);
  CHECK(res->result() == http::status::unauthorized);
  CHECK(e.requests == 0);
  auto ok = connect(ioc, server.port());
  send(ok, post("x", "Authorization: Bearer t\r\n"));
  boost::beast::flat_buffer b2;
  auto accepted = receive(ok, b2);
  REQUIRE(accepted);
  CHECK(accepted->result() == http::status::ok);
  CHECK(headers == 2);
}

// ---- TLS ------------------------------------------------------------------------------------

using k8snetio::test::certificates;

namespace ssl = asio::ssl;

/// One HTTPS request; the status, or 0 when the handshake or the exchange failed.
unsigned https_status(std::uint16_t port, ssl::context& ctx) {
  asio::io_context ioc;
  boost::beast::ssl_stream<tcp::socket> stream(ioc, ctx);
  stream.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
  boost::system::error_code ec;
  stream.handshake(ssl::stream_base::client, ec);
  if (ec) return 0;
  http::request<http::string_body> req{http::verb::post, "/v1/metrics", 11};
  req.set(http::field::host, "127.0.0.1");
  req.body() = "abc";
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) return 0;
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res, ec);
  if (ec) return 0;
  return res.result_int();
}

ssl::context client_context(const certificates& c,
                            ssl::context::method method = ssl::context::tls_client) {
  ssl::context ctx(method);
  ctx.load_verify_file(c.path("ca.pem"));
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

TEST_CASE("L11 HTTPS with TLS 1.2+; plain HTTP and TLS 1.1 to the TLS port are refused") {
  certificates c;
  echo e;
  http_server_options o;
  o.tls_cert = c.path("server.pem");
  o.tls_key = c.path("server.key");
  o.read_timeout = 2s;
  running_server server(o, e.handler());
  auto ctx = client_context(c);
  CHECK(https_status(server.port(), ctx) == 200);

  auto old = client_context(c);
  SSL_CTX_set_min_proto_version(old.native_handle(), TLS1_1_VERSION);
  SSL_CTX_set_max_proto_version(old.native_handle(), TLS1_1_VERSION);
  CHECK(https_status(server.port(), old) == 0);

  asio::io_context ioc;
  auto plain = connect(ioc, server.port());
  send(plain, post("x"));
  boost::beast::flat_buffer buffer;
  CHECK_FALSE(receive(plain, buffer));  // no HTTP answer, the handshake fails
  CHECK(e.requests == 1);
  CHECK(server.server().stats().tls_handshake_failures >= 2);
}

TEST_CASE("L11 mTLS: a client without a certificate of the CA is refused") {
  certificates c;
  echo e;
  http_server_options o;
  o.tls_cert = c.path("server.pem");
  o.tls_key = c.path("server.key");
  o.tls_client_ca = c.path("ca.pem");
  o.read_timeout = 2s;
  running_server server(o, e.handler());

  auto anonymous = client_context(c);
  CHECK(https_status(server.port(), anonymous) == 0);

  auto collector = client_context(c);
  collector.use_certificate_chain_file(c.path("client.pem"));
  collector.use_private_key_file(c.path("client.key"), ssl::context::pem);
  CHECK(https_status(server.port(), collector) == 200);

  // A certificate signed by another CA: refused.
  certificates stranger;
  auto foreign = client_context(c);
  foreign.use_certificate_chain_file(stranger.path("client.pem"));
  foreign.use_private_key_file(stranger.path("client.key"), ssl::context::pem);
  CHECK(https_status(server.port(), foreign) == 0);
  CHECK(e.requests == 1);
}

TEST_CASE("L11 reload_tls: new connections get the new certificate, a bad file keeps the old") {
  certificates first;
  certificates second;
  echo e;
  const auto cert = first.dir / "live.pem";
  const auto key = first.dir / "live.key";
  std::filesystem::copy_file(first.path("server.pem"), cert);
  std::filesystem::copy_file(first.path("server.key"), key);
  http_server_options o;
  o.tls_cert = cert.string();
  o.tls_key = key.string();
  running_server server(o, e.handler());
  auto trusts_first = client_context(first);
  auto trusts_second = client_context(second);
  CHECK(https_status(server.port(), trusts_first) == 200);
  CHECK(https_status(server.port(), trusts_second) == 0);

  std::filesystem::copy_file(second.path("server.pem"), cert,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(second.path("server.key"), key,
                             std::filesystem::copy_options::overwrite_existing);
  REQUIRE(server.server().reload_tls());
  CHECK(https_status(server.port(), trusts_second) == 200);
  CHECK(https_status(server.port(), trusts_first) == 0);

  { std::ofstream(key, std::ios::trunc) << "not a key"; }
  auto refused = server.server().reload_tls();
  REQUIRE_FALSE(refused);
  CHECK(refused.error().find("live.key") != std::string::npos);
  CHECK(https_status(server.port(), trusts_second) == 200);  // still the second
}

TEST_CASE("L6 stop(): the request in flight is answered before run() returns") {
  std::atomic<int> entered{0};
  http_handler h;
  h.on_request = [&](http_request&&) {
    ++entered;
    std::this_thread::sleep_for(200ms);
    return k8snetio::service::make_response(http::status::ok, "{\"done\":true}");
  };
  http_server_options o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.threads = 2;
  http_server server(o, h);
  REQUIRE(server.start());
  std::thread runner([&] { server.run(); });
  asio::io_context ioc;
  auto s = connect(ioc, server.port());
  send(s, post("x"));
  for (int i = 0; i < 200 && entered == 0; ++i) std::this_thread::sleep_for(5ms);
  server.stop(2000ms);
  boost::beast::flat_buffer buffer;
  auto res = receive(s, buffer);
  runner.join();
  REQUIRE(res);
  CHECK(res->body() == "{\"done\":true}");
  CHECK_FALSE(res->keep_alive());
}

}  // namespace test_http_server
