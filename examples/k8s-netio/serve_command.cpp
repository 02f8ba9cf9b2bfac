// `k8s-netio serve` (service.md L1–L6): an HTTP adapter over the live core of
// include/k8snetio/service/ (L0). It routes, authenticates, admits and replies; the decoding,
// the accounting, the state and the findings are the core's (one live_detector behind a
// mutex), so serve and consume cannot disagree.
#include "serve_command.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <httplib.h>
#include <zstd.h>
#include <protozero/pbf_writer.hpp>

#include <k8snetio/service/service.hpp>

#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/io/input/otlp_protobuf.hpp>
#include <k8snetio/k8snetio.hpp>

#include "cli_support.hpp"

namespace k8snetio_cli {
namespace {

namespace io = k8snetio::io;
namespace svc = k8snetio::service;

struct serve_options {
  svc::live_options live;
  live_flag_texts texts;
  std::string baseline;
  std::string rule = "io";
  std::string listen = "127.0.0.1:8088";
  std::string output = "-";
  std::string format = "jsonl";
  std::vector<std::string> hec_tokens;
  std::string hec_token_file;
  std::vector<std::string> otlp_tokens;
  std::string otlp_token_file;
  std::vector<std::string> open_endpoints;  ///< issue 28 #11: left open on purpose
  std::string state;
};

/// The tokens of one endpoint: given on the command line or read from a file (one a line), so
/// that they need not show in the process list (L11). Reloaded on SIGHUP.
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
  /// Constant time in the tokens' content.
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

/// Tokens from the command line and the file; an error sentence when one is empty.
std::optional<std::string> load_tokens(const std::vector<std::string>& given,
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

std::string json_string(std::string_view s) {
  std::string out;
  io::append_json_string(out, s);
  return out;
}

/// L5: admits a data request while fewer than `limit` are being read or wait for the engine;
/// beyond that the sender is told to come back (503 + Retry-After).
class admission {
 public:
  admission(std::atomic<std::size_t>& in_flight, std::size_t limit)
      : in_flight_(in_flight), admitted_(in_flight.fetch_add(1) < limit) {}
  admission(const admission&) = delete;
  admission& operator=(const admission&) = delete;
  ~admission() { in_flight_.fetch_sub(1); }
  explicit operator bool() const noexcept { return admitted_; }

 private:
  std::atomic<std::size_t>& in_flight_;
  bool admitted_;
};

// ---- replies, one helper each, in each endpoint's dialect ------------------------------------

void reply(httplib::Response& res, int status, std::string body) {
  res.status = status;
  res.set_content(std::move(body), "application/json");
}

/// L2: a refused OTLP request's google.rpc.Status (code INVALID_ARGUMENT), in the request's
/// encoding: protobuf (code = 1, message = 2) or JSON.
void otlp_error(httplib::Response& res, int status, std::string_view message, bool protobuf) {
  res.status = status;
  if (!protobuf) {
    res.set_content(fmt::format("{{\"code\":3,\"message\":{}}}", json_string(message)),
                    "application/json");
    return;
  }
  std::string body;
  protozero::pbf_writer writer(body);
  writer.add_int32(1, 3);
  writer.add_string(2, message.data(), message.size());
  res.set_content(std::move(body), "application/x-protobuf");
}

void reply_retry(httplib::Response& res, bool hec, std::string_view why) {
  res.set_header("Retry-After", "1");
  res.set_header("Connection", "close");
  reply(res, 503,
        hec ? std::string(R"({"text":"Server is busy","code":9})")
            : fmt::format("{{\"code\":14,\"message\":{}}}",
                          json_string(fmt::format("the service cannot take it now ({}): retry "
                                                  "after 1 s",
                                                  why))));
}

void reply_too_large(httplib::Response& res, std::size_t cap, bool hec) {
  res.set_header("Connection", "close");
  const std::string message = fmt::format(
      "the request body is larger than {} bytes (--max-body); send smaller batches", cap);
  reply(res, 413,
        hec ? fmt::format("{{\"text\":{},\"code\":27,\"limit\":{}}}", json_string(message), cap)
            : fmt::format("{{\"code\":8,\"message\":{}}}", json_string(message)));
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// The body, at most `cap` bytes after decompression (L5; zstd decoded here, gzip by httplib).
/// nullopt: too large; an empty `error`... or a zstd stream that is not whole (`error` set).
std::optional<std::string> read_body(const httplib::Request& req,
                                     const httplib::ContentReader& reader, std::size_t cap,
                                     std::string& error) {
  std::string body;
  bool too_large = false;
  const bool zstd = lower(req.get_header_value("Content-Encoding")) == "zstd";
  std::unique_ptr<ZSTD_DStream, decltype(&ZSTD_freeDStream)> stream(
      zstd ? ZSTD_createDStream() : nullptr, &ZSTD_freeDStream);
  std::size_t last = 1;
  std::vector<char> out(ZSTD_DStreamOutSize());
  reader([&](const char* data, std::size_t n) {
    if (!zstd) {
      if (body.size() + n > cap) return !(too_large = true);
      body.append(data, n);
      return true;
    }
    ZSTD_inBuffer in{data, n, 0};
    while (in.pos < in.size) {
      ZSTD_outBuffer o{out.data(), out.size(), 0};
      last = ZSTD_decompressStream(stream.get(), &o, &in);
      if (ZSTD_isError(last)) {
        error = fmt::format("the zstd body cannot be decoded: {}", ZSTD_getErrorName(last));
        return false;
      }
      if (body.size() + o.pos > cap) return !(too_large = true);
      body.append(out.data(), o.pos);
    }
    return true;
  });
  if (too_large) return std::nullopt;
  if (zstd && error.empty() && last != 0) error = "the zstd body is cut short";
  return body;
}

std::atomic<bool> stop_requested{false};
thread_local std::chrono::steady_clock::time_point request_start;

int run_serve(serve_options& o) {
  const auto usage = [](const std::string& message) {
    print_diagnostic("k8s-netio: error: {}\n", quoted_for_diagnostic(message));
    return exit_usage;
  };
  const auto fail = [](const std::string& message) {
    print_diagnostic("k8s-netio: error: {}\n", quoted_for_diagnostic(message));
    return exit_failure;
  };
  if (auto bad = parse_live_options(o.live, o.texts, !o.state.empty())) return usage(*bad);
  const auto format = io::parse_output_format(o.format);
  if (!format) return usage(format.error().what());
  if (*format != io::output_format::jsonl && *format != io::output_format::hec &&
      *format != io::output_format::ocsf && *format != io::output_format::risk)
    return usage("serve writes one line per finding: use --format jsonl, hec, ocsf or risk");
  const auto colon = o.listen.rfind(':');
  if (colon == std::string::npos) return usage("--listen must be HOST:PORT");
  const std::string host = o.listen.substr(0, colon);
  int port = 0;
  try {
    port = std::stoi(o.listen.substr(colon + 1));
  } catch (const std::exception&) {
    return usage("--listen must be HOST:PORT");
  }
  // Issue 28 #11: tokens never empty; any token configured closes every data endpoint that
  // has none, unless it is left open on purpose.
  token_set hec_tokens, otlp_tokens;
  const auto load_all = [&]() -> std::optional<std::string> {
    std::vector<std::string> t;
    if (auto bad = load_tokens(o.hec_tokens, o.hec_token_file, "--hec-token", t)) return bad;
    hec_tokens.set(t);
    if (auto bad = load_tokens(o.otlp_tokens, o.otlp_token_file, "--otlp-token", t)) return bad;
    otlp_tokens.set(t);
    return std::nullopt;
  };
  if (auto bad = load_all()) return usage(*bad);
  const bool any_token = !hec_tokens.empty() || !otlp_tokens.empty();
  const auto is_open = [&](std::string_view endpoint) {
    return std::find(o.open_endpoints.begin(), o.open_endpoints.end(), endpoint) !=
           o.open_endpoints.end();
  };
  // O6.2, issue 28 #20: -o is neither the baseline nor inside the state directory.
  if (auto clash = output_collision(o.output, "-o", {{"--baseline", o.baseline}}))
    return usage(*clash);
  if (!o.state.empty() && !o.output.empty() && o.output != "-") {
    std::error_code ec;
    const auto dir = std::filesystem::weakly_canonical(o.state, ec);
    const auto out = std::filesystem::weakly_canonical(o.output, ec).parent_path();
    if (!ec && dir == out)
      return usage(fmt::format("-o {} is inside the state directory {}: keep it elsewhere",
                               o.output, o.state));
  }

  const auto& rule =
      o.rule == "ratio" ? k8snetio::network_io_ratio : k8snetio::anomalous_network_io;
  auto table = io::load_baseline_csv<2>(o.baseline, *rule.measures);
  if (!table) return fail(table.error().what());
  std::string baseline_bytes;
  {
    std::ifstream in(o.baseline, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    baseline_bytes = text.str();
  }

  std::FILE* out = stdout;
  if (!o.output.empty() && o.output != "-") {
    out = std::fopen(o.output.c_str(), "ae");
    if (!out) return fail(fmt::format("cannot open {}: {}", o.output, std::strerror(errno)));
  }
  svc::file_findings_sink sink(out, *format, out != stdout);

  // Signals are taken by one thread (sigwait); every other thread inherits them blocked.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  svc::live_detector<2> service(rule, std::move(*table), o.live, sink,
                                {o.rule, svc::fnv1a64(baseline_bytes)});
  // Until `listening on` is printed (the first line scripts wait for), the core's log lines
  // are held; then they are printed as they come.
  std::vector<std::string> held_log;
  bool hold_log = true;
  service.on_log([&held_log, &hold_log](const std::string& line) {
    if (hold_log) return held_log.push_back(line);
    print_diagnostic("k8s-netio: {}\n", quoted_for_diagnostic(line));
  });
  std::mutex mutex;  // the core is not thread-safe: one request at a time reaches it
  std::unique_ptr<svc::directory_store> store;
  std::string error;
  if (!o.state.empty()) {
    store = svc::directory_store::open(o.state, error);
    if (!store) return fail(error);
    if (auto refused = service.attach(*store)) {
      for (const auto& line : held_log)
        print_diagnostic("k8s-netio: {}\n", quoted_for_diagnostic(line));
      return fail(*refused);
    }
  }

  httplib::Server server;
  // A reply is written as headers, then body: without TCP_NODELAY, Nagle's algorithm holds the
  // body until the client's delayed ACK (40 ms a request on a kept-alive connection).
  server.set_socket_options([](socket_t sock) {
    const int on = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  });
  const int bound =
      port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
  if (bound < 0) return fail(fmt::format("cannot listen on {}", o.listen));
  // L1: only now, with the state read and accepted.
  print_diagnostic("k8s-netio: listening on {}:{}\n", host, bound);
  hold_log = false;
  for (const auto& line : held_log)
    print_diagnostic("k8s-netio: {}\n", quoted_for_diagnostic(line));

  svc::request_metrics metrics;
  // Collectors keep their connections; httplib's default closes one after 5 requests.
  server.set_keep_alive_max_count(100000);
  server.set_read_timeout(static_cast<time_t>(o.live.read_timeout_seconds), 0);
  server.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    request_start = std::chrono::steady_clock::now();
    // Issue 28 #28: two Content-Length headers (request smuggling behind a proxy).
    if (req.get_header_value_count("Content-Length") > 1) {
      res.set_header("Connection", "close");
      reply(res, 400, R"({"code":3,"message":"more than one Content-Length header"})");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  const std::vector<std::string> known_paths = {"/v1/metrics",
                                                "/services/collector",
                                                "/services/collector/event",
                                                "/services/collector/event/1.0",
                                                "/services/collector/health",
                                                "/services/collector/health/1.0",
                                                "/healthz",
                                                "/metrics"};
  server.set_logger([&](const httplib::Request& req, const httplib::Response& res) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - request_start).count();
    const bool known =
        std::find(known_paths.begin(), known_paths.end(), req.path) != known_paths.end();
    metrics.record(known ? req.path : "other", res.status, seconds);
  });
  server.set_error_handler(httplib::Server::HandlerWithResponse([&o](const httplib::Request& req,
                                                                     httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 413) {
      reply_too_large(res, o.live.max_body, req.path.rfind("/services/collector", 0) == 0);
      return httplib::Server::HandlerResponse::Handled;
    }
    res.set_content(
        fmt::format("{{\"code\":{},\"message\":{}}}", res.status == 404 ? 5 : 3,
                    json_string(res.status == 404 ? "no such path: " + req.path : "bad request")),
        "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));

  /// A body over the cap is refused from its Content-Length, before it is read (L5).
  const auto declared_too_large = [&o](const httplib::Request& req) {
    const std::string length = req.get_header_value("Content-Length");
    if (length.empty()) return false;
    try {
      return std::stoull(length) > o.live.max_body;
    } catch (const std::exception&) {
      return true;
    }
  };

  std::atomic<std::size_t> in_flight{0};
  server.Post("/v1/metrics", [&](const httplib::Request& req, httplib::Response& res,
                                 const httplib::ContentReader& content) {
    // Issue 28 #11: the token before the body.
    const std::string auth = req.get_header_value("Authorization");
    const bool allowed = !otlp_tokens.empty()
                             ? auth.rfind("Bearer ", 0) == 0 && otlp_tokens.accepts(auth.substr(7))
                             : !any_token || is_open("otlp");
    if (!allowed) {
      res.set_header("Connection", "close");
      return reply(res, 401,
                   R"({"code":16,"message":"Authorization: Bearer <token> is required"})");
    }
    const admission admitted(in_flight, o.live.max_in_flight);
    if (!admitted) return reply_retry(res, false, "too many requests at once");
    if (declared_too_large(req)) return reply_too_large(res, o.live.max_body, false);
    const std::string type = lower(req.get_header_value("Content-Type"));
    const bool json = type.rfind("application/json", 0) == 0;
    const bool protobuf = type.rfind("application/x-protobuf", 0) == 0;
    if (!json && !protobuf) {
      res.set_header("Connection", "close");
      return reply(res, 415,
                   fmt::format("{{\"code\":3,\"message\":{}}}",
                               json_string(fmt::format(
                                   "content type '{}' is not read: send application/json or "
                                   "application/x-protobuf",
                                   req.get_header_value("Content-Type")))));
    }
    std::string why;
    auto body = read_body(req, content, o.live.max_body, why);
    if (!body) return reply_too_large(res, o.live.max_body, false);
    if (!why.empty())
      return reply(res, 400, fmt::format("{{\"code\":3,\"message\":{}}}", json_string(why)));
    svc::ingest_result r;
    {
      std::lock_guard lock(mutex);
      r = service.ingest(json ? svc::payload_kind::otlp_json : svc::payload_kind::otlp_protobuf,
                         *body);
    }
    switch (r.state) {
      case svc::ingest_result::status::retry: return reply_retry(res, false, r.error);
      case svc::ingest_result::status::unsupported:
        return otlp_error(res, 415, r.message, protobuf);
      case svc::ingest_result::status::malformed: return otlp_error(res, 400, r.message, protobuf);
      case svc::ingest_result::status::ok: break;
    }
    // L2: the ExportMetricsServiceResponse in the request's encoding, partialSuccess only when
    // points were rejected.
    if (protobuf) {
      res.status = 200;
      res.set_content(io::otlp_protobuf_response(static_cast<std::int64_t>(r.rejected()),
                                                 r.rejected() ? r.message : std::string()),
                      "application/x-protobuf");
      return;
    }
    if (r.rejected())
      return reply(
          res, 200,
          fmt::format(R"({{"partialSuccess":{{"rejectedDataPoints":"{}","errorMessage":{}}}}})",
                      r.rejected(), json_string(r.message)));
    reply(res, 200, "{}");
  });

  const auto hec = [&](const httplib::Request& req, httplib::Response& res,
                       const httplib::ContentReader& content) {
    // L3, issue 28 #11: the token before the body.
    if (!hec_tokens.empty() || (any_token && !is_open("hec"))) {
      const std::string auth = req.get_header_value("Authorization");
      res.set_header("Connection", "close");
      if (auth.empty()) return reply(res, 401, R"({"text":"Token is required","code":2})");
      if (auth.rfind("Splunk ", 0) != 0)
        return reply(res, 401, R"({"text":"Invalid authorization","code":3})");
      if (!hec_tokens.accepts(std::string_view(auth).substr(7)))
        return reply(res, 403, R"({"text":"Invalid token","code":4})");
      res.headers.erase("Connection");
    }
    const admission admitted(in_flight, o.live.max_in_flight);
    if (!admitted) return reply_retry(res, true, "too many requests at once");
    if (declared_too_large(req)) return reply_too_large(res, o.live.max_body, true);
    std::string why;
    auto body = read_body(req, content, o.live.max_body, why);
    if (!body) return reply_too_large(res, o.live.max_body, true);
    if (!why.empty()) return reply(res, 400, R"({"text":"Invalid data format","code":6})");
    if (body->find_first_not_of(" \t\r\n") == std::string::npos)
      return reply(res, 400, R"({"text":"No data","code":5})");
    svc::ingest_result r;
    {
      std::lock_guard lock(mutex);
      r = service.ingest(svc::payload_kind::hec, *body);
    }
    if (r.state == svc::ingest_result::status::retry) return reply_retry(res, true, r.error);
    if (r.state == svc::ingest_result::status::malformed)
      return reply(
          res, 400,
          fmt::format(R"({{"text":"Invalid data format","code":6,"invalid-event-number":{}}})",
                      r.first_bad_line ? r.first_bad_line - 1 : 0));
    reply(res, 200, R"({"text":"Success","code":0})");
  };
  for (const char* path :
       {"/services/collector", "/services/collector/event", "/services/collector/event/1.0"})
    server.Post(path, hec);
  // L3: senders that check HEC's health before sending.
  for (const char* path : {"/services/collector/health", "/services/collector/health/1.0"})
    server.Get(path, [](const httplib::Request&, httplib::Response& res) {
      reply(res, 200, R"({"text":"HEC is healthy","code":17})");
    });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    std::string text;
    {
      std::lock_guard lock(mutex);
      service.render_metrics(text);
    }
    metrics.render(text);
    res.set_content(text, "text/plain; version=0.0.4");
  });
  const auto not_allowed = [](const char* allow) {
    return [allow](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", allow);
      reply(res, 405,
            fmt::format("{{\"code\":12,\"message\":{}}}",
                        json_string(fmt::format("{} is not allowed on {}; use {}", req.method,
                                                req.path, allow))));
    };
  };
  for (const char* path : {"/v1/metrics", "/services/collector", "/services/collector/event",
                           "/services/collector/event/1.0"}) {
    server.Get(path, not_allowed("POST"));
    server.Put(path, not_allowed("POST"));
    server.Delete(path, not_allowed("POST"));
    server.Patch(path, not_allowed("POST"));
  }
  for (const char* path : {"/healthz", "/metrics"}) {
    server.Post(path, not_allowed("GET"));
    server.Put(path, not_allowed("GET"));
    server.Delete(path, not_allowed("GET"));
  }

  // L6: SIGTERM or SIGINT stops accepting; listen_after_bind returns once the requests in
  // flight are done. Issue 28 #26: SIGHUP reloads the token files and goes on.
  std::atomic<bool> listening_done{false};
  std::thread signal_thread([&] {
    for (;;) {
      int received = 0;
      sigwait(&signals, &received);
      if (received == SIGHUP && !listening_done) {
        if (auto bad = load_all())
          print_diagnostic("k8s-netio: SIGHUP: tokens not reloaded: {}\n",
                           quoted_for_diagnostic(*bad));
        else
          print_diagnostic("k8s-netio: SIGHUP: tokens reloaded\n");
        continue;
      }
      break;
    }
    stop_requested = true;
    for (int i = 0; i < 2000 && !listening_done; ++i) {
      if (server.is_running()) server.stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  if (!stop_requested) server.listen_after_bind();
  listening_done = true;
  if (!stop_requested) pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();

  std::optional<std::string> failed;
  {
    std::lock_guard lock(mutex);
    failed = service.shut_down();
  }
  if (out != stdout) std::fclose(out);
  if (failed) return fail(*failed);
  print_diagnostic("k8s-netio: stopped{}\n", o.state.empty() ? "" : "; state kept in " + o.state);
  return exit_ok;
}

}  // namespace

serve_command add_serve_command(CLI::App& app) {
  auto o = std::make_shared<serve_options>();
  serve_command serve;
  auto* cmd = app.add_subcommand("serve", "Receive OTLP/HTTP and HEC pushes and detect live");
  serve.command = cmd;
  cmd->add_option("--baseline", o->baseline, "Baseline table (from `k8s-netio baseline`)")
      ->required();
  cmd->add_option("--rule", o->rule, "io or ratio")->check(CLI::IsMember({"io", "ratio"}));
  cmd->add_option("--listen", o->listen, "HOST:PORT (port 0: any free port)")
      ->capture_default_str();
  cmd->add_option("-o,--output", o->output, "Findings file, appended (default: standard output)");
  cmd->add_option("--format", o->format, "jsonl, hec, ocsf or risk")->capture_default_str();
  cmd->add_option("--hec-token", o->hec_tokens, "A HEC token accepted (repeatable)");
  cmd->add_option("--hec-token-file", o->hec_token_file,
                  "HEC tokens, one a line (kept out of the process list; reread on SIGHUP)");
  cmd->add_option("--otlp-token", o->otlp_tokens,
                  "Require Authorization: Bearer TOKEN on /v1/metrics (repeatable)");
  cmd->add_option("--otlp-token-file", o->otlp_token_file,
                  "OTLP tokens, one a line (kept out of the process list; reread on SIGHUP)");
  cmd->add_option("--open-endpoint", o->open_endpoints,
                  "otlp or hec: leave that endpoint open although a token is configured for the "
                  "other (by default any token closes every data endpoint)")
      ->check(CLI::IsMember({"otlp", "hec"}));
  cmd->add_option("--state", o->state,
                  "State directory (created if missing, locked): snapshot, write-ahead log, "
                  "learned days");
  add_live_flags(*cmd, o->live, o->texts, true);
  serve.run = [o] { return run_serve(*o); };
  return serve;
}

}  // namespace k8snetio_cli
