// L0, L2-L4, L9, L11: the endpoints of the live service without a transport. What `serve` does
// with a request once a server has parsed it: the tokens (constant-time, from the command line
// or from files, reloaded on SIGHUP), the routes and their replies in each endpoint's dialect
// (OTLP's google.rpc.Status and ExportMetricsServiceResponse, HEC's text/code), the body's
// decompression (gzip, zstd) under the cap, and the hand-over to the live detector. A program
// that has its own HTTP or gRPC server mounts these on it: call check_head() once a request's
// header is read (it refuses before the body is read: issue 28 #11), handle() with the body,
// grpc_authorize()/grpc_export() for OTLP/gRPC. No HTTP library is needed here;
// include/k8snetio/service/http_server.hpp and grpc_server.hpp are the servers `serve` uses.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <zlib.h>
#include <zstd.h>
#include <protozero/pbf_writer.hpp>

#include <k8snetio/io/input/otlp_protobuf.hpp>
#include <k8snetio/io/output/findings_writer.hpp>
#include <k8snetio/service/live_detector.hpp>
#include <k8snetio/service/metrics.hpp>

namespace k8snetio::service {

/// The tokens of one endpoint. Comparison takes constant time in the tokens' content (L3).
class token_set {
 public:
  void set(std::vector<std::string> tokens) {
    std::lock_guard lock(mutex_);
    tokens_ = std::move(tokens);
  }
  bool empty() const {
    std::lock_guard lock(mutex_);
    return tokens_.empty();
  }
  bool accepts(std::string_view given) const {
    std::lock_guard lock(mutex_);
    bool known = false;
    for (const auto& t : tokens_) known |= same_token(given, t);
    return known;
  }

 private:
  static bool same_token(std::string_view given, std::string_view expected) {
    const std::size_t n = std::max(given.size(), expected.size());
    unsigned diff = given.size() == expected.size() ? 0U : 1U;
    for (std::size_t i = 0; i < n; ++i) {
      const unsigned char a = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
      const unsigned char b = i < expected.size() ? static_cast<unsigned char>(expected[i]) : 0;
      diff |= static_cast<unsigned>(a ^ b);
    }
    return diff == 0;
  }
  mutable std::mutex mutex_;
  std::vector<std::string> tokens_;
};

/// L11, issue 28 #11: tokens from the command line and from a file (one a line, kept out of
/// the process list); an error sentence when one is empty or the file holds none.
inline std::optional<std::string> load_tokens(const std::vector<std::string>& given,
                                              const std::string& file, std::string_view option,
                                              std::vector<std::string>& out) {
  out.clear();
  for (const auto& t : given) {
    if (t.empty()) return fmt::format("{} must not be empty (it would turn the check off)", option);
    out.push_back(t);
  }
  if (file.empty()) return std::nullopt;
  std::ifstream in(file);
  if (!in) return fmt::format("cannot read {}-file {}", option, file);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  if (out.empty()) return fmt::format("{}-file {} holds no token", option, file);
  return std::nullopt;
}

/// Who may use which endpoint.
struct endpoint_access {
  std::vector<std::string> hec_tokens, otlp_tokens, metrics_tokens;
  std::string hec_token_file, otlp_token_file, metrics_token_file;
  /// "otlp" or "hec": left open on purpose although a token is configured for the other
  /// (issue 28 #11: by default any token closes every data endpoint).
  std::vector<std::string> open_endpoints;
};

/// A request as a server has parsed it (header names compared case-insensitively by the
/// server). `path` is the target without its query.
struct endpoint_request {
  std::string_view method;
  std::string_view path;
  std::string_view content_type;
  std::string_view content_encoding;
  std::string_view authorization;
  std::optional<std::uint64_t> content_length;
};

/// A reply: status, body and its type; `retry_after` (seconds, for 503); `close`: the
/// connection should not carry another request (a refusal before the body was read).
struct endpoint_reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::string retry_after;
  std::string allow;
  bool close = false;
};

/// A gRPC status code as OTLP uses them (the numbers of grpc::StatusCode).
enum class grpc_code : int {
  ok = 0,
  invalid_argument = 3,
  resource_exhausted = 8,
  unimplemented = 12,
  unavailable = 14,
  unauthenticated = 16,
};

struct grpc_outcome {
  grpc_code code = grpc_code::ok;
  std::string message;   ///< when not ok
  std::string response;  ///< the ExportMetricsServiceResponse when ok
};

/// A body after its Content-Encoding: `body` unless it is over the cap (`too_large`) or cannot be
/// decoded whole (`error`: a truncated or damaged gzip/zstd stream, an unknown encoding;
/// issue 28 #6: an incomplete body is refused whole, never used in part).
struct decoded_body {
  std::string body;  ///< the decompressed bytes (gzip, zstd)
  bool too_large = false;
  std::string error;
  bool unsupported_encoding = false;
  /// Without a Content-Encoding the request's own bytes are used where they lie, not copied.
  std::optional<std::string_view> unencoded;

  /// The payload: the request's bytes or the decompressed ones.
  std::string_view bytes() const noexcept {
    return unencoded ? *unencoded : std::string_view(body);
  }
};

namespace endpoint_detail {

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline std::string trimmed_lower(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return lower(s);
}

inline std::string json_string(std::string_view s) {
  std::string out;
  io::append_json_string(out, s);
  return out;
}

inline decoded_body gunzip(std::string_view raw, std::size_t cap) {
  decoded_body out;
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) {  // gzip or zlib, told by the header
    out.error = "the gzip body cannot be decoded: zlib could not start";
    return out;
  }
  std::vector<unsigned char> chunk(64 * 1024);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  int rc = Z_OK;
  for (;;) {
    z.next_out = chunk.data();
    z.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&z, Z_NO_FLUSH);
    const std::size_t produced = chunk.size() - z.avail_out;
    if (out.body.size() + produced > cap) {
      out.too_large = true;
      break;
    }
    out.body.append(reinterpret_cast<const char*>(chunk.data()), produced);
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      if (inflateReset(&z) != Z_OK) break;  // another gzip member follows (RFC 1952)
      continue;
    }
    if (rc == Z_BUF_ERROR && z.avail_in == 0) {
      out.error = "the gzip body is cut short";
      break;
    }
    if (rc != Z_OK) {
      out.error = fmt::format("the gzip body cannot be decoded: {}", z.msg ? z.msg : "bad data");
      break;
    }
  }
  inflateEnd(&z);
  return out;
}

inline decoded_body unzstd(std::string_view raw, std::size_t cap) {
  decoded_body out;
  std::unique_ptr<ZSTD_DStream, decltype(&ZSTD_freeDStream)> stream(ZSTD_createDStream(),
                                                                    &ZSTD_freeDStream);
  std::vector<char> chunk(ZSTD_DStreamOutSize());
  ZSTD_inBuffer in{raw.data(), raw.size(), 0};
  std::size_t last = 1;
  // Until the input is used up, then while the decoder still holds output (it says so with a
  // nonzero hint) and gives some.
  for (;;) {
    ZSTD_outBuffer o{chunk.data(), chunk.size(), 0};
    last = ZSTD_decompressStream(stream.get(), &o, &in);
    if (ZSTD_isError(last)) {
      out.error = fmt::format("the zstd body cannot be decoded: {}", ZSTD_getErrorName(last));
      return out;
    }
    if (out.body.size() + o.pos > cap) {
      out.too_large = true;
      return out;
    }
    out.body.append(chunk.data(), o.pos);
    if (in.pos == in.size && (last == 0 || o.pos == 0)) break;
  }
  if (last != 0) out.error = "the zstd body is cut short";
  return out;
}

}  // namespace endpoint_detail

/// L5: `raw` decoded by its Content-Encoding (none, identity, gzip, x-gzip, zstd), at most
/// `cap` bytes after decompression.
inline decoded_body decode_body(std::string_view raw, std::string_view encoding, std::size_t cap) {
  const std::string e = endpoint_detail::trimmed_lower(encoding);
  if (e.empty() || e == "identity") {
    decoded_body out;
    if (raw.size() > cap)
      out.too_large = true;
    else
      out.unencoded = raw;
    return out;
  }
  if (e == "gzip" || e == "x-gzip") return endpoint_detail::gunzip(raw, cap);
  if (e == "zstd") return endpoint_detail::unzstd(raw, cap);
  decoded_body out;
  out.unsupported_encoding = true;
  out.error = fmt::format("Content-Encoding '{}' is not read: send gzip, zstd or none", encoding);
  return out;
}

/// The routes of `serve` over one live detector (any type with ingest(payload_kind, bytes) and
/// render_metrics(std::string&)). Thread-safe: the detector is used under a mutex.
template <class Detector>
class live_endpoints {
 public:
  /// `max_body`: the cap after decompression (L5).
  live_endpoints(Detector& detector, std::size_t max_body, endpoint_access access)
      : detector_(detector), max_body_(max_body), access_(std::move(access)) {}

  /// Reads the tokens (the files too); at start and on SIGHUP. On error the old ones stay.
  std::optional<std::string> load_tokens() {
    std::vector<std::string> hec, otlp, metrics;
    if (auto bad =
            service::load_tokens(access_.hec_tokens, access_.hec_token_file, "--hec-token", hec))
      return bad;
    if (auto bad = service::load_tokens(access_.otlp_tokens, access_.otlp_token_file,
                                        "--otlp-token", otlp))
      return bad;
    if (auto bad = service::load_tokens(access_.metrics_tokens, access_.metrics_token_file,
                                        "--metrics-token", metrics))
      return bad;
    hec_.set(std::move(hec));
    otlp_.set(std::move(otlp));
    metrics_.set(std::move(metrics));
    return std::nullopt;
  }

  /// The paths served, for /metrics labels (anything else is counted as "other").
  static constexpr std::string_view paths[] = {"/v1/metrics",
                                               "/services/collector",
                                               "/services/collector/event",
                                               "/services/collector/event/1.0",
                                               "/services/collector/health",
                                               "/services/collector/health/1.0",
                                               "/healthz",
                                               "/metrics"};

  /// Once the header is read, before the body: the route, the method, the token (issue 28
  /// #11: before the body is read) and the content type. A reply refuses the request.
  std::optional<endpoint_reply> check_head(const endpoint_request& r) const {
    const route where = route_of(r.path);
    if (where == route::none)
      return error(404, 5, fmt::format("no such path: {}", r.path), false, true);
    const bool data = where == route::otlp || where == route::hec;
    if (data ? r.method != "POST" : r.method != "GET" && r.method != "HEAD") {
      auto reply = error(
          405, 12,
          fmt::format("{} is not allowed on {}; use {}", r.method, r.path, data ? "POST" : "GET"),
          false, true);
      reply.allow = data ? "POST" : "GET";
      return reply;
    }
    if (where == route::metrics && !metrics_.empty() &&
        !bearer_accepted(metrics_, r.authorization)) {
      auto reply = error(401, 16, "Authorization: Bearer <token> is required", false, true);
      return reply;
    }
    if (where == route::otlp) {
      if (!otlp_allows(r.authorization))
        return error(401, 16, "Authorization: Bearer <token> is required", false, true);
      const std::string type = endpoint_detail::trimmed_lower(r.content_type);
      if (type.rfind("application/json", 0) != 0 && type.rfind("application/x-protobuf", 0) != 0)
        return error(415, 3,
                     fmt::format("content type '{}' is not read: send application/json or "
                                 "application/x-protobuf",
                                 r.content_type),
                     false, true);
    }
    if (where == route::hec && hec_closed()) {
      endpoint_reply reply;
      reply.close = true;
      if (r.authorization.empty()) {
        reply.status = 401;
        reply.body = R"({"text":"Token is required","code":2})";
      } else if (r.authorization.substr(0, 7) != "Splunk ") {
        reply.status = 401;
        reply.body = R"({"text":"Invalid authorization","code":3})";
      } else if (!hec_.accepts(r.authorization.substr(7))) {
        reply.status = 403;
        reply.body = R"({"text":"Invalid token","code":4})";
      } else {
        return std::nullopt;
      }
      return reply;
    }
    return std::nullopt;
  }

  /// The whole request (check_head() passed): decoded, ingested, answered.
  endpoint_reply handle(const endpoint_request& r, std::string_view raw_body) {
    switch (route_of(r.path)) {
      case route::otlp: return handle_otlp(r, raw_body);
      case route::hec: return handle_hec(r, raw_body);
      case route::hec_health: return plain(200, R"({"text":"HEC is healthy","code":17})");
      case route::healthz: {
        endpoint_reply reply = plain(200, "ok\n");
        reply.content_type = "text/plain";
        return reply;
      }
      case route::metrics: {
        endpoint_reply reply = plain(200, metrics_text());
        reply.content_type = "text/plain; version=0.0.4";
        return reply;
      }
      case route::none: break;
    }
    return error(404, 5, fmt::format("no such path: {}", r.path), false, true);
  }

  /// A refusal the transport made itself (413 over the cap, 503 admission, 400), in the
  /// endpoint's dialect.
  endpoint_reply transport_refusal(std::string_view path, int status,
                                   std::string_view retry_after = "1") const {
    const bool hec = route_of(path) == route::hec;
    if (status == 413) return too_large(hec);
    if (status == 503) return busy(hec, "too many requests at once", retry_after);
    if (status == 408) return error(408, 4, "the request was not received in time", hec, true);
    return error(status, 3, "bad request", hec, true);
  }

  /// L4: requests by endpoint and status, and their duration. gRPC Export calls are recorded
  /// as path "grpc" with the gRPC status code.
  void record(std::string_view path, int status, double seconds) {
    const auto known =
        path == "grpc" || std::find(std::begin(paths), std::end(paths), path) != std::end(paths);
    requests_.record(known ? std::string(path) : std::string("other"), status, seconds);
  }

  std::string metrics_text() {
    std::string text;
    {
      std::lock_guard lock(mutex_);
      detector_.render_metrics(text);
    }
    requests_.render(text);
    return text;
  }

  /// L9: before the message is read: the `authorization` metadata.
  std::optional<grpc_outcome> grpc_authorize(std::optional<std::string_view> authorization) const {
    if (otlp_allows(authorization.value_or(std::string_view()))) return std::nullopt;
    return grpc_outcome{
        grpc_code::unauthenticated, "authorization: Bearer <token> metadata is required", {}};
  }

  /// L9: one ExportMetricsServiceRequest (gRPC has already decompressed it).
  grpc_outcome grpc_export(std::string_view message) {
    const ingest_result r = ingest(payload_kind::otlp_protobuf, message);
    switch (r.state) {
      case ingest_result::status::retry:
        return {grpc_code::unavailable, fmt::format("not durable, retry: {}", r.error), {}};
      case ingest_result::status::unsupported:
      case ingest_result::status::malformed: return {grpc_code::invalid_argument, r.message, {}};
      case ingest_result::status::ok: break;
    }
    return {grpc_code::ok,
            {},
            io::otlp_protobuf_response(static_cast<std::int64_t>(r.rejected()),
                                       r.rejected() ? r.message : std::string())};
  }

  /// The detector under the endpoints' lock (for shutdown and the like).
  template <class F>
  decltype(auto) with_detector(F&& f) {
    std::lock_guard lock(mutex_);
    return std::forward<F>(f)(detector_);
  }

 private:
  enum class route : std::uint8_t { none, otlp, hec, hec_health, healthz, metrics };

  static route route_of(std::string_view path) {
    if (path == "/v1/metrics") return route::otlp;
    if (path == "/services/collector" || path == "/services/collector/event" ||
        path == "/services/collector/event/1.0")
      return route::hec;
    if (path == "/services/collector/health" || path == "/services/collector/health/1.0")
      return route::hec_health;
    if (path == "/healthz") return route::healthz;
    if (path == "/metrics") return route::metrics;
    return route::none;
  }

  bool is_open(std::string_view endpoint) const {
    return std::find(access_.open_endpoints.begin(), access_.open_endpoints.end(), endpoint) !=
           access_.open_endpoints.end();
  }
  bool any_token() const { return !hec_.empty() || !otlp_.empty(); }
  bool hec_closed() const { return !hec_.empty() || (any_token() && !is_open("hec")); }

  static bool bearer_accepted(const token_set& tokens, std::string_view authorization) {
    return authorization.substr(0, 7) == "Bearer " && tokens.accepts(authorization.substr(7));
  }
  bool otlp_allows(std::string_view authorization) const {
    if (!otlp_.empty()) return bearer_accepted(otlp_, authorization);
    return !any_token() || is_open("otlp");
  }

  static endpoint_reply plain(int status, std::string body) {
    endpoint_reply reply;
    reply.status = status;
    reply.body = std::move(body);
    return reply;
  }

  /// An OTLP-style (google.rpc.Status as JSON) or HEC-style error.
  static endpoint_reply error(int status, int code, std::string_view message, bool hec,
                              bool close) {
    endpoint_reply reply;
    reply.status = status;
    reply.close = close;
    reply.body = hec ? fmt::format("{{\"text\":{},\"code\":{}}}",
                                   endpoint_detail::json_string(message), code)
                     : fmt::format("{{\"code\":{},\"message\":{}}}", code,
                                   endpoint_detail::json_string(message));
    return reply;
  }

  /// L2: a refused OTLP request's google.rpc.Status (INVALID_ARGUMENT) in the request's
  /// encoding: protobuf (code = 1, message = 2) or JSON.
  static endpoint_reply otlp_status(int status, std::string_view message, bool protobuf) {
    if (!protobuf) return error(status, 3, message, false, false);
    endpoint_reply reply;
    reply.status = status;
    protozero::pbf_writer writer(reply.body);
    writer.add_int32(1, 3);
    writer.add_string(2, message.data(), message.size());
    reply.content_type = "application/x-protobuf";
    return reply;
  }

  static endpoint_reply busy(bool hec, std::string_view why, std::string_view retry_after = "1") {
    endpoint_reply reply =
        hec ? plain(503, R"({"text":"Server is busy","code":9})")
            : error(503, 14,
                    fmt::format("the service cannot take it now ({}): retry after {} s", why,
                                retry_after),
                    false, true);
    reply.retry_after = std::string(retry_after);
    reply.close = true;
    return reply;
  }

  endpoint_reply too_large(bool hec) const {
    const std::string message = fmt::format(
        "the request body is larger than {} bytes (--max-body); send smaller batches", max_body_);
    endpoint_reply reply =
        hec ? plain(413, fmt::format("{{\"text\":{},\"code\":27,\"limit\":{}}}",
                                     endpoint_detail::json_string(message), max_body_))
            : error(413, 8, message, false, true);
    reply.close = true;
    return reply;
  }

  ingest_result ingest(payload_kind kind, std::string_view bytes) {
    std::lock_guard lock(mutex_);
    return detector_.ingest(kind, bytes);
  }

  endpoint_reply handle_otlp(const endpoint_request& r, std::string_view raw) {
    const bool protobuf =
        endpoint_detail::trimmed_lower(r.content_type).rfind("application/x-protobuf", 0) == 0;
    decoded_body body = decode_body(raw, r.content_encoding, max_body_);
    if (body.too_large) return too_large(false);
    if (body.unsupported_encoding) return error(415, 3, body.error, false, false);
    if (!body.error.empty()) return error(400, 3, body.error, false, false);
    const ingest_result result =
        ingest(protobuf ? payload_kind::otlp_protobuf : payload_kind::otlp_json, body.bytes());
    switch (result.state) {
      case ingest_result::status::retry: return busy(false, result.error);
      case ingest_result::status::unsupported: return otlp_status(415, result.message, protobuf);
      case ingest_result::status::malformed: return otlp_status(400, result.message, protobuf);
      case ingest_result::status::ok: break;
    }
    // L2: the ExportMetricsServiceResponse in the request's encoding, partialSuccess only when
    // points were rejected.
    if (protobuf) {
      endpoint_reply reply = plain(
          200, io::otlp_protobuf_response(static_cast<std::int64_t>(result.rejected()),
                                          result.rejected() ? result.message : std::string()));
      reply.content_type = "application/x-protobuf";
      return reply;
    }
    if (result.rejected())
      return plain(
          200,
          fmt::format(R"({{"partialSuccess":{{"rejectedDataPoints":"{}","errorMessage":{}}}}})",
                      result.rejected(), endpoint_detail::json_string(result.message)));
    return plain(200, "{}");
  }

  endpoint_reply handle_hec(const endpoint_request& r, std::string_view raw) {
    decoded_body body = decode_body(raw, r.content_encoding, max_body_);
    if (body.too_large) return too_large(true);
    if (body.unsupported_encoding)
      return plain(415, R"({"text":"Unsupported Content-Encoding","code":6})");
    if (!body.error.empty()) return plain(400, R"({"text":"Invalid data format","code":6})");
    if (body.bytes().find_first_not_of(" \t\r\n") == std::string_view::npos)
      return plain(400, R"({"text":"No data","code":5})");
    const ingest_result result = ingest(payload_kind::hec, body.bytes());
    if (result.state == ingest_result::status::retry) return busy(true, result.error);
    if (result.state == ingest_result::status::malformed)
      return plain(
          400, fmt::format(R"({{"text":"Invalid data format","code":6,"invalid-event-number":{}}})",
                           hec_event_number(result)));
    return plain(200, R"({"text":"Success","code":0})");
  }

  /// HEC's invalid-event-number: the 0-based index of the refused event (events, not lines).
  static std::uint64_t hec_event_number(const ingest_result& r) {
    return r.first_bad_event.value_or(0);
  }

  Detector& detector_;
  std::size_t max_body_;
  endpoint_access access_;
  token_set hec_, otlp_, metrics_;
  std::mutex mutex_;  // the detector is not thread-safe: one request at a time reaches it
  request_metrics requests_;
};

}  // namespace k8snetio::service
