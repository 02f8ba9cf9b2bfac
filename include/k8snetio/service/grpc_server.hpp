// OTLP/gRPC (spec service.md L9) on gRPC's own server library: the collector's `otlp`
// exporter calls `opentelemetry.proto.collector.metrics.v1.MetricsService/Export` with a
// protobuf ExportMetricsServiceRequest. The method is served through gRPC's generic callback
// API, so the request arrives as its protobuf bytes (decoded by the library's protobuf reader,
// no generated code) and the reply is the bytes the handler encodes.
//
// What it guarantees, whatever the handler: the call is refused before its message is read when
// `on_call` says so (authentication: UNAUTHENTICATED); a call beyond `max_in_flight` gets
// UNAVAILABLE at once (the collector retries it); a message over `max_message` is refused by gRPC
// with RESOURCE_EXHAUSTED; gzip-compressed messages are accepted (gRPC decompresses them); TLS
// (L11) through gRPC's credentials, with the certificate files watched and re-read.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/byte_buffer.h>

#include <tl/expected.hpp>

namespace k8snetio::service {

/// The full name of the one method served.
inline constexpr std::string_view otlp_metrics_export_method =
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

struct grpc_server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 4317;                       ///< 0: a free port, see grpc_server::port()
  std::size_t max_message = std::size_t{8} << 20;  ///< L5: bytes of one request
  std::size_t max_in_flight = 64;                  ///< L10: calls handled at once
  /// L11: PEM files; empty cert: plaintext. The files are watched and re-read every
  /// `tls_refresh` (a renewed certificate is used without a restart).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;  ///< non-empty: client certificates required and verified
  std::chrono::seconds tls_refresh{5};
};

/// What a call carries besides its message.
struct grpc_call_info {
  std::string_view method;
  std::optional<std::string_view> authorization;  ///< the `authorization` metadata
};

/// The handler's answer: a status and, when it is OK, the response message's bytes.
struct grpc_reply {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;   ///< the status message when not OK
  std::string response;  ///< the protobuf response when OK
};

struct grpc_handler {
  /// Before the message is read: a reply refuses the call (authentication).
  std::function<std::optional<grpc_reply>(const grpc_call_info&)> on_call;
  /// The request message's bytes.
  std::function<grpc_reply(std::string_view request, const grpc_call_info&)> on_export;
};

struct grpc_server_stats {
  std::atomic<std::uint64_t> calls{0};
  std::atomic<std::uint64_t> in_flight{0};
  std::atomic<std::uint64_t> busy_replies{0};
};

namespace grpc_detail {

struct grpc_shared {
  grpc_server_options options;
  grpc_handler handler;
  grpc_server_stats stats;
};

/// One unary Export call on the generic (bytes in, bytes out) API.
class otlp_export_reactor final : public grpc::ServerGenericBidiReactor {
 public:
  otlp_export_reactor(grpc_shared& shared, grpc::GenericCallbackServerContext* context)
      : shared_(shared) {
    ++shared_.stats.calls;
    method_ = context->method();
    info_.method = method_;
    const auto& metadata = context->client_metadata();
    if (auto it = metadata.find("authorization"); it != metadata.end()) {
      authorization_.assign(it->second.data(), it->second.size());
      info_.authorization = authorization_;
    }
    if (method_ != otlp_metrics_export_method) {
      Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "unknown method " + method_));
      return;
    }
    if (shared_.handler.on_call)
      if (auto refusal = shared_.handler.on_call(info_)) {
        Finish(grpc::Status(refusal->code, refusal->message));
        return;
      }
    holds_permit_ = true;
    if (++shared_.stats.in_flight > shared_.options.max_in_flight) {
      ++shared_.stats.busy_replies;
      release_permit();
      Finish(
          grpc::Status(grpc::StatusCode::UNAVAILABLE, "too many requests in flight, retry later"));
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      release_permit();
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request message"));
      return;
    }
    grpc::Slice slice;
    if (!request_.TrySingleSlice(&slice).ok() && !request_.DumpToSingleSlice(&slice).ok()) {
      release_permit();
      Finish(grpc::Status(grpc::StatusCode::INTERNAL, "the request could not be read"));
      return;
    }
    const std::string_view bytes(reinterpret_cast<const char*>(slice.begin()), slice.size());
    grpc_reply reply = shared_.handler.on_export(bytes, info_);
    // The call is handled: its permit goes back now, not when gRPC gets round to OnDone (its
    // threads may be busy, and a sender's next call must not find its last one still counted).
    release_permit();
    if (reply.code != grpc::StatusCode::OK) {
      Finish(grpc::Status(reply.code, reply.message));
      return;
    }
    grpc::Slice out(reply.response);
    response_ = grpc::ByteBuffer(&out, 1);
    StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
  }

  void OnDone() override {
    release_permit();
    delete this;
  }

 private:
  void release_permit() {
    if (holds_permit_) --shared_.stats.in_flight;
    holds_permit_ = false;
  }

  grpc_shared& shared_;
  std::string method_;
  std::string authorization_;
  grpc_call_info info_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  bool holds_permit_ = false;
};

class otlp_generic_service final : public grpc::CallbackGenericService {
 public:
  explicit otlp_generic_service(grpc_shared& shared) : shared_(shared) {}
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    return new otlp_export_reactor(shared_, context);
  }

 private:
  grpc_shared& shared_;
};

}  // namespace grpc_detail

/// The OTLP/gRPC listener: start(), then it serves on gRPC's own threads until stop().
class grpc_server {
 public:
  grpc_server(grpc_server_options options, grpc_handler handler)
      : shared_(std::make_unique<grpc_detail::grpc_shared>()) {
    shared_->options = std::move(options);
    shared_->handler = std::move(handler);
    service_ = std::make_unique<grpc_detail::otlp_generic_service>(*shared_);
  }
  grpc_server(const grpc_server&) = delete;
  grpc_server& operator=(const grpc_server&) = delete;
  ~grpc_server() { stop(); }

  [[nodiscard]] tl::expected<void, std::string> start() {
    const auto& o = shared_->options;
    std::shared_ptr<grpc::ServerCredentials> credentials;
    if (!o.tls_cert.empty() || !o.tls_key.empty()) {
      if (o.tls_cert.empty() || o.tls_key.empty())
        return tl::unexpected(std::string("TLS needs both a certificate and a key"));
      for (const std::string* file : {&o.tls_cert, &o.tls_key, &o.tls_client_ca})
        if (!file->empty() && !readable(*file))
          return tl::unexpected("cannot read the TLS file " + *file);
      auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          o.tls_key, o.tls_cert, o.tls_client_ca,
          static_cast<unsigned>(o.tls_refresh.count() > 0 ? o.tls_refresh.count() : 1));
      grpc::experimental::TlsServerCredentialsOptions tls(provider);
      tls.watch_identity_key_cert_pairs();
      if (!o.tls_client_ca.empty()) {
        tls.watch_root_certs();
        tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      } else {
        tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
      }
      credentials = grpc::experimental::TlsServerCredentials(tls);
    } else if (!o.tls_client_ca.empty()) {
      return tl::unexpected(std::string("a client CA needs a TLS certificate and key"));
    } else {
      credentials = grpc::InsecureServerCredentials();
    }
    grpc::ServerBuilder builder;
    const std::string address =
        (o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host) + ":" +
        std::to_string(o.port);
    builder.AddListeningPort(address, credentials, &port_);
    builder.RegisterCallbackGenericService(service_.get());
    builder.SetMaxReceiveMessageSize(static_cast<int>(
        std::min<std::size_t>(o.max_message, static_cast<std::size_t>(INT32_MAX))));
    server_ = builder.BuildAndStart();
    if (!server_ || port_ == 0) {
      server_.reset();
      return tl::unexpected("cannot listen for gRPC on " + address);
    }
    return {};
  }

  std::uint16_t port() const noexcept { return static_cast<std::uint16_t>(port_); }
  const grpc_server_stats& stats() const noexcept { return shared_->stats; }

  /// L6: refuses new calls, lets those in flight finish within `grace`, then cancels the rest.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds{5000}) {
    if (!server_) return;
    server_->Shutdown(std::chrono::system_clock::now() + grace);
    server_->Wait();
    server_.reset();
  }

 private:
  static bool readable(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return false;
    std::fclose(f);
    return true;
  }

  std::unique_ptr<grpc_detail::grpc_shared> shared_;
  std::unique_ptr<grpc_detail::otlp_generic_service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace k8snetio::service
