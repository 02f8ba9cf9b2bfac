// An event-driven HTTP/1.1 server for the live service (spec service.md L5, L10, L11): one
// Boost.Asio io_context, no thread per connection, so a fleet of mostly idle keep-alive
// connections (a collector agent per node) costs a socket and a small buffer each.
//
// What it guarantees, whatever the handler:
// - L10 keep-alive with an idle deadline (`idle_timeout`, between requests) and a whole-request
//   deadline (`read_timeout`, from the request's first byte to its last): a client that trickles
//   a request is cut off, one that stays idle is closed.
// - L5 the body cap is enforced while reading: a Content-Length over the cap gets 413 before a
//   byte of the body is read; a chunked body is stopped at the cap. Two Content-Length headers,
//   or Content-Length with Transfer-Encoding, get 400 (request smuggling behind a proxy).
// - L10 admission: at most `max_in_flight` requests are read and handled at once; one beyond
//   gets 503 with `Retry-After` at once (its body unread, the connection closed), never a wait.
// - L11 TLS 1.2/1.3 only through OpenSSL, optional client certificates (mTLS); the certificate
//   files are re-read by `reload_tls()` (SIGHUP) for new connections, without a restart.
// The handler sees a request in two steps: `on_header` may refuse it before its body is read
// (authentication, content type, size), `on_request` answers the whole request.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/resource.h>

#include <openssl/ssl.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <tl/expected.hpp>

namespace k8snetio::service {

namespace http = boost::beast::http;

/// The limits and addresses of one HTTP listener; every default is the spec's.
struct http_server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8088;                       ///< 0: a free port, see http_server::port()
  std::size_t threads = 1;                         ///< threads running the io_context
  std::chrono::milliseconds idle_timeout{60'000};  ///< L10: between requests
  std::chrono::milliseconds read_timeout{30'000};  ///< L10: first byte to last of a request
  std::chrono::milliseconds write_timeout{30'000};
  std::size_t max_body = std::size_t{8} << 20;  ///< L5: bytes of body as sent
  std::size_t max_header = 16 * 1024;
  std::size_t max_in_flight = 64;        ///< L10: requests read or handled at once
  std::size_t max_connections = 16'000;  ///< beyond: accepted and closed at once
  std::chrono::seconds retry_after{1};   ///< the 503's Retry-After
  /// L11: PEM files; empty cert: plain HTTP.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;  ///< non-empty: client certificates required and verified
};

using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;
using http_request_header = http::request_header<>;

/// A plain text or JSON reply with the fields every reply carries.
inline http_response make_response(http::status status, std::string body,
                                   std::string_view content_type = "application/json",
                                   unsigned version = 11) {
  http_response res{status, version};
  res.set(http::field::content_type,
          boost::beast::string_view(content_type.data(), content_type.size()));
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

/// What the server calls: `on_header` once a request's header is read (return a reply to refuse
/// the request without reading its body), `on_request` with the whole request.
struct http_handler {
  std::function<std::optional<http_response>(const http_request_header&)> on_header;
  std::function<http_response(http_request&&)> on_request;
  /// Called when a request ends in a transport-level refusal the handler never saw (413, 400,
  /// 408, 503): for the `/metrics` request counters. May be empty.
  std::function<void(const http_request_header*, unsigned status)> on_refused;
  /// The reply to send for a transport-level refusal (413, 503, 400, 431) of a request whose
  /// header was read, in the endpoint's own dialect; its status and Retry-After are kept. May
  /// be empty (a short JSON message is sent).
  std::function<std::optional<http_response>(const http_request_header&, unsigned status)>
      refusal_body;
};

/// Counters of the transport, for /metrics and tests.
struct http_server_stats {
  std::atomic<std::uint64_t> connections_open{0};
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_refused{0};  ///< over max_connections
  std::atomic<std::uint64_t> requests_in_flight{0};
  std::atomic<std::uint64_t> busy_replies{0};  ///< 503 for admission
  std::atomic<std::uint64_t> timeouts{0};      ///< idle or read deadline passed
  std::atomic<std::uint64_t> tls_handshake_failures{0};
};

/// An error of the server's setup (address in use, unreadable certificate), as text.
using http_setup_error = std::string;

namespace http_detail {

/// L11: a server context that speaks TLS 1.2 and 1.3 only.
inline tl::expected<std::shared_ptr<boost::asio::ssl::context>, http_setup_error> make_tls_context(
    const http_server_options& o) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use,
                   ec);
  if (!ec && SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1)
    return tl::unexpected(http_setup_error{"OpenSSL refused TLS 1.2 as the minimum version"});
  if (!ec) ctx->use_certificate_chain_file(o.tls_cert, ec);
  if (ec) return tl::unexpected("the TLS certificate " + o.tls_cert + ": " + ec.message());
  ctx->use_private_key_file(o.tls_key, ssl::context::pem, ec);
  if (ec) return tl::unexpected("the TLS key " + o.tls_key + ": " + ec.message());
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    return tl::unexpected("the TLS key " + o.tls_key + " does not match the certificate " +
                          o.tls_cert);
  if (!o.tls_client_ca.empty()) {
    ctx->load_verify_file(o.tls_client_ca, ec);
    if (ec) return tl::unexpected("the TLS client CA " + o.tls_client_ca + ": " + ec.message());
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  return ctx;
}

/// Raises the soft limit of open files to the hard one: a fleet needs a descriptor each.
inline void raise_open_file_limit() noexcept {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

struct server_shared {
  http_server_options options;
  http_handler handler;
  http_server_stats stats;
  std::atomic<bool> stopping{false};
};

/// One connection: wait for a request's first byte (idle deadline), read its header, ask the
/// handler, read its body (whole-request deadline, body cap), answer, and again.
template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
 public:
  /// `anchor` keeps alive what the stream refers to (a TLS session's context, across a reload).
  template <class... Args>
  http_session(std::shared_ptr<server_shared> shared, std::shared_ptr<void> anchor, Args&&... args)
      : shared_(std::move(shared)),
        anchor_(std::move(anchor)),
        stream_(std::forward<Args>(args)...) {
    ++shared_->stats.connections_open;
  }
  ~http_session() { --shared_->stats.connections_open; }

  http_session(const http_session&) = delete;
  http_session& operator=(const http_session&) = delete;

  void start() {
    if constexpr (is_tls) {
      lowest().expires_after(shared_->options.read_timeout);
      stream_.async_handshake(boost::asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](boost::system::error_code ec) {
                                if (ec) {
                                  ++self->shared_->stats.tls_handshake_failures;
                                  return self->close();
                                }
                                self->wait_for_request();
                              });
    } else {
      wait_for_request();
    }
  }

 private:
  static constexpr bool is_tls = !std::is_same_v<Stream, boost::beast::tcp_stream>;

  boost::beast::tcp_stream& lowest() { return boost::beast::get_lowest_layer(stream_); }

  /// Idle: nothing of a request yet. Bytes already buffered (pipelining) start one at once.
  void wait_for_request() {
    if (shared_->stopping) return close();
    if (buffer_.size() > 0) return read_header();
    lowest().expires_after(shared_->options.idle_timeout);
    auto space = buffer_.prepare(512);
    stream_.async_read_some(
        space, [self = this->shared_from_this()](boost::system::error_code ec, std::size_t n) {
          if (ec) {
            if (ec == boost::beast::error::timeout) ++self->shared_->stats.timeouts;
            return self->close();
          }
          self->buffer_.commit(n);
          self->read_header();
        });
  }

  void read_header() {
    lowest().expires_after(shared_->options.read_timeout);  // the whole request from here
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_->options.max_header));
    parser_->body_limit(shared_->options.max_body);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
          self->on_header(ec);
        });
  }

  void on_header(boost::system::error_code ec) {
    // A Content-Length over the body limit is refused by the parser once the header is done.
    // (Its start line is parsed by then: the refusal can name the path.)
    if (ec)
      return refuse_transport(ec, parser_->is_header_done() || ec == http::error::body_limit
                                      ? &parser_->get().base()
                                      : nullptr);
    const http_request_header& head = parser_->get();
    keep_alive_ = parser_->keep_alive();
    version_ = head.version();
    // Request smuggling: two Content-Lengths (even equal ones) are refused.
    if (head.count(http::field::content_length) > 1)
      return reply_and_close(
          make_response(http::status::bad_request, R"({"message":"two Content-Length headers"})",
                        "application/json", version_),
          &head);
    if (auto cl = parser_->content_length(); cl && *cl > shared_->options.max_body)
      return reply_and_close(too_large(), &head);
    if (shared_->handler.on_header)
      if (auto refusal = shared_->handler.on_header(head)) {
        // The body was not read: the connection cannot carry another request.
        return reply_and_close(std::move(*refusal), &head, false);
      }
    // L10 admission: a permit, or 503 at once.
    const auto in_flight = ++shared_->stats.requests_in_flight;
    holds_permit_ = true;
    if (in_flight > shared_->options.max_in_flight) {
      ++shared_->stats.busy_replies;
      auto busy = make_response(http::status::service_unavailable,
                                R"({"message":"too many requests in flight, retry later"})",
                                "application/json", version_);
      busy.set(http::field::retry_after, std::to_string(shared_->options.retry_after.count()));
      return reply_and_close(std::move(busy), &head);
    }
    // Room to read the body in large pieces. Beast reads at most the buffer's free capacity
    // (at least 512 bytes), and the parser empties the buffer into the body after each read, so
    // a buffer left at the idle read's 512 bytes read a 120 KB body in hundreds of small reads,
    // each a system call and a trip through the executor: L7's HTTP/protobuf load cost the
    // service 2.5 times the CPU of the same points over gRPC, and less than gRPC after this. The
    // buffer is given back when the reply is written; admission bounds how many are held.
    buffer_.reserve(std::min(parser_->content_length().value_or(body_read_size), body_read_size));
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](boost::system::error_code e, std::size_t) {
                       self->on_body(e);
                     });
  }

  static constexpr std::uint64_t body_read_size = 256 * 1024;

  void on_body(boost::system::error_code ec) {
    if (ec) return refuse_transport(ec, &parser_->get().base());
    http_request request = parser_->release();
    http_response res = shared_->handler.on_request(std::move(request));
    const bool again = keep_alive_ && !shared_->stopping && res.keep_alive();
    res.version(version_);
    res.keep_alive(again);
    write(std::move(res), !again);
  }

  http_response too_large() const {
    return make_response(http::status::payload_too_large,
                         R"({"message":"the body is larger than the limit of )" +
                             std::to_string(shared_->options.max_body) + R"( bytes"})",
                         "application/json", version_);
  }

  /// A request the transport refuses: over the cap, malformed, stalled. Nothing of it reaches
  /// the handler; a stalled or vanished client gets no reply, only a closed connection.
  void refuse_transport(boost::system::error_code ec, const http_request_header* head) {
    using error = boost::beast::http::error;
    if (ec == boost::beast::error::timeout) {
      ++shared_->stats.timeouts;
      if (shared_->handler.on_refused) shared_->handler.on_refused(head, 408);
      return close();
    }
    if (ec == error::end_of_stream || ec == boost::asio::error::eof ||
        ec == boost::asio::error::connection_reset || ec == error::partial_message)
      return close();  // the client went away, mid-request or not: nothing was handled
    if (ec == error::body_limit) return reply_and_close(too_large(), head);
    if (ec == error::header_limit)
      return reply_and_close(
          make_response(http::status::request_header_fields_too_large,
                        R"({"message":"the header is too large"})", "application/json", version_),
          head);
    return reply_and_close(
        make_response(http::status::bad_request,
                      R"({"message":"malformed HTTP request: )" + ec.message() + R"("})",
                      "application/json", version_),
        head);
  }

  void reply_and_close(http_response res, const http_request_header* head, bool transport = true) {
    if (transport && head && shared_->handler.refusal_body)
      if (auto own = shared_->handler.refusal_body(*head, res.result_int())) {
        const auto retry = res[http::field::retry_after];
        own->result(res.result());
        if (!retry.empty()) own->set(http::field::retry_after, retry);
        res = std::move(*own);
      }
    if (shared_->handler.on_refused) shared_->handler.on_refused(head, res.result_int());
    res.version(version_ ? version_ : 11);
    res.keep_alive(false);
    write(std::move(res), true);
  }

  void write(http_response res, bool close_after) {
    // L10 counts requests read and not yet answered: the permit goes back once the answer
    // exists, not once its bytes have left. Released after the write, a client that sends its
    // next request as soon as it reads this reply could find its own slot still taken (503).
    release_permit();
    response_ = std::make_unique<http_response>(std::move(res));
    lowest().expires_after(shared_->options.write_timeout);
    http::async_write(
        stream_, *response_,
        [self = this->shared_from_this(), close_after](boost::system::error_code ec, std::size_t) {
          self->response_.reset();
          self->parser_.reset();  // an idle connection holds no request's memory
          if (self->buffer_.size() == 0) self->buffer_.shrink_to_fit();
          if (ec) return self->close();
          if (close_after) return self->linger();
          self->wait_for_request();
        });
  }

  /// After a reply that ends the connection, often sent before the request's body was read
  /// (401, 413, 503): our side is shut for sending, and what the client still sends is read and
  /// dropped for a short while before the socket is closed. Closing at once with unread data
  /// would make the kernel send a reset, which can destroy the reply before the client reads it
  /// (a lingering close, as nginx does).
  void linger() {
    boost::system::error_code ignored;
    lowest().socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    lowest().expires_after(
        std::min(shared_->options.read_timeout, std::chrono::milliseconds{2000}));
    linger_read();
  }

  void linger_read() {
    buffer_.consume(buffer_.size());
    auto space = buffer_.prepare(16 * 1024);
    stream_.async_read_some(
        space, [self = this->shared_from_this()](boost::system::error_code ec, std::size_t n) {
          self->lingered_ += n;
          if (ec || self->lingered_ > self->shared_->options.max_body + 64 * 1024)
            return self->close();
          self->linger_read();
        });
  }

  void release_permit() {
    if (holds_permit_) --shared_->stats.requests_in_flight;
    holds_permit_ = false;
  }

  void close() {
    release_permit();
    // No TLS close_notify round trip: a peer that stalls must not hold the connection open.
    boost::system::error_code ignored;
    lowest().socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  std::shared_ptr<server_shared> shared_;
  std::shared_ptr<void> anchor_;
  Stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::unique_ptr<http_response> response_;
  bool keep_alive_ = true;
  bool holds_permit_ = false;
  unsigned version_ = 11;
  std::size_t lingered_ = 0;  // bytes read and dropped after the last reply
};

}  // namespace http_detail

/// An HTTP/1.1 (or HTTPS) listener over one io_context.
///
///     http_server server(options, handler);
///     if (auto started = server.start(); !started) fail(started.error());
///     print("listening on {}:{}", options.host, server.port());
///     server.run();   // until stop()
class http_server {
 public:
  http_server(http_server_options options, http_handler handler)
      : shared_(std::make_shared<http_detail::server_shared>()),
        ioc_(static_cast<int>(options.threads ? options.threads : 1)) {
    shared_->options = std::move(options);
    shared_->handler = std::move(handler);
  }

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;
  ~http_server() { stop(); }

  /// Binds and listens (and reads the TLS files); the server serves once run() is called.
  [[nodiscard]] tl::expected<void, http_setup_error> start() {
    const auto& o = shared_->options;
    if (!o.tls_cert.empty() || !o.tls_key.empty()) {
      if (o.tls_cert.empty() || o.tls_key.empty())
        return tl::unexpected(http_setup_error{"TLS needs both a certificate and a key"});
      auto ctx = http_detail::make_tls_context(o);
      if (!ctx) return tl::unexpected(ctx.error());
      std::lock_guard lock(tls_mutex_);
      tls_ = std::move(*ctx);
    } else if (!o.tls_client_ca.empty()) {
      return tl::unexpected(http_setup_error{"a client CA needs a TLS certificate and key"});
    }
    http_detail::raise_open_file_limit();
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(o.host, ec);
    if (ec) return tl::unexpected("cannot listen on " + o.host + ": " + ec.message());
    const boost::asio::ip::tcp::endpoint endpoint{address, o.port};
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(boost::asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
    if (ec)
      return tl::unexpected("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " +
                            ec.message());
    port_ = acceptor_.local_endpoint().port();
    accept();
    return {};
  }

  std::uint16_t port() const noexcept { return port_; }
  bool tls() const {
    std::lock_guard lock(tls_mutex_);
    return tls_ != nullptr;
  }
  const http_server_stats& stats() const noexcept { return shared_->stats; }

  /// Runs the io_context on `threads` threads (this one included) until stop().
  void run() {
    std::vector<std::thread> others;
    for (std::size_t i = 1; i < shared_->options.threads; ++i)
      others.emplace_back([this] { ioc_.run(); });
    ioc_.run();
    for (auto& t : others) t.join();
  }

  /// L6: stops accepting; requests in flight are answered (within their deadlines), idle
  /// connections are closed when they next wake; run() returns once all are done or after
  /// `grace`.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds{5000}) {
    if (shared_->stopping.exchange(true)) return;
    boost::asio::post(ioc_, [this, grace] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      drain_until_ = std::chrono::steady_clock::now() + grace;
      poll_drain();
    });
  }

  /// L11/SIGHUP: re-reads the certificate, key and client CA; new connections use them, open
  /// ones keep theirs. On error the old files stay in use.
  [[nodiscard]] tl::expected<void, http_setup_error> reload_tls() {
    if (!tls()) return {};
    auto ctx = http_detail::make_tls_context(shared_->options);
    if (!ctx) return tl::unexpected(ctx.error());
    std::lock_guard lock(tls_mutex_);
    tls_ = std::move(*ctx);
    return {};
  }

  boost::asio::io_context& context() noexcept { return ioc_; }

 private:
  void accept() {
    acceptor_.async_accept(boost::asio::make_strand(ioc_), [this](boost::system::error_code ec,
                                                                  boost::asio::ip::tcp::socket s) {
      if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (!ec) serve(std::move(s));
      accept();
    });
  }

  void serve(boost::asio::ip::tcp::socket socket) {
    auto& stats = shared_->stats;
    ++stats.connections_accepted;
    if (stats.connections_open >= shared_->options.max_connections) {
      ++stats.connections_refused;
      boost::system::error_code ignored;
      socket.close(ignored);
      return;
    }
    boost::system::error_code ignored;
    socket.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
    std::shared_ptr<boost::asio::ssl::context> tls;
    {
      std::lock_guard lock(tls_mutex_);
      tls = tls_;
    }
    if (tls) {
      auto& context = *tls;
      std::make_shared<
          http_detail::http_session<boost::beast::ssl_stream<boost::beast::tcp_stream>>>(
          shared_, std::move(tls), std::move(socket), context)
          ->start();
    } else {
      std::make_shared<http_detail::http_session<boost::beast::tcp_stream>>(shared_, nullptr,
                                                                            std::move(socket))
          ->start();
    }
  }

  void poll_drain() {
    if (shared_->stats.requests_in_flight == 0 ||
        std::chrono::steady_clock::now() >= drain_until_) {
      ioc_.stop();
      return;
    }
    auto timer = std::make_shared<boost::asio::steady_timer>(ioc_, std::chrono::milliseconds{20});
    timer->async_wait([this, timer](boost::system::error_code) { poll_drain(); });
  }

  std::shared_ptr<http_detail::server_shared> shared_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_{ioc_};
  mutable std::mutex tls_mutex_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::uint16_t port_ = 0;
  std::chrono::steady_clock::time_point drain_until_{};
};

}  // namespace k8snetio::service
