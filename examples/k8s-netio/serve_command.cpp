// `k8s-netio serve` (service.md L1-L11): the library's otlp_server (service/otlp_server.hpp: the
// event-driven HTTP/1.1 server and the OTLP/gRPC server carrying requests to the endpoints of
// the live core, http_endpoints.hpp, which hand them to one live_detector). This file parses
// flags, opens the output and the state, and handles the signals.
#include "serve_command.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <pthread.h>
#include <signal.h>

#include <fmt/format.h>

#include <k8snetio/service/live_baseline.hpp>
#include <k8snetio/service/otlp_server.hpp>
#include <k8snetio/service/service.hpp>

#include <k8snetio/io/baseline_csv.hpp>
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
  std::string grpc_listen;  ///< L9: off unless given
  std::string output = "-";
  std::string format = "jsonl";
  svc::endpoint_access access;
  std::string state;
  std::string idle_timeout = "60s";  ///< L10
  std::string tls_cert, tls_key, tls_client_ca;
};

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
  const auto idle = svc::parse_duration(o.idle_timeout);
  if (!idle) return usage("--idle-timeout must be a duration such as 60s");
  const auto format = io::parse_output_format(o.format);
  if (!format) return usage(format.error().what());
  if (*format != io::output_format::jsonl && *format != io::output_format::hec &&
      *format != io::output_format::ocsf && *format != io::output_format::risk)
    return usage("serve writes one line per finding: use --format jsonl, hec, ocsf or risk");
  const auto listen = parse_address(o.listen);
  if (!listen) return usage("--listen must be HOST:PORT");
  std::optional<address> grpc_listen;
  if (!o.grpc_listen.empty() && !(grpc_listen = parse_address(o.grpc_listen)))
    return usage("--grpc-listen must be HOST:PORT");
  if (o.tls_cert.empty() != o.tls_key.empty()) return usage("--tls-cert and --tls-key go together");
  if (!o.tls_client_ca.empty() && o.tls_cert.empty())
    return usage("--tls-client-ca needs --tls-cert and --tls-key");
  // Issue 28 #11: no empty token; a token file must be readable and hold one.
  {
    std::vector<std::string> t;
    const auto& a = o.access;
    for (auto bad :
         {svc::load_tokens(a.hec_tokens, a.hec_token_file, "--hec-token", t),
          svc::load_tokens(a.otlp_tokens, a.otlp_token_file, "--otlp-token", t),
          svc::load_tokens(a.metrics_tokens, a.metrics_token_file, "--metrics-token", t)})
      if (bad) return usage(*bad);
  }
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
  auto baseline = svc::load_live_baseline<2>(o.baseline, rule);
  if (!baseline) return fail(baseline.error().what());
  std::FILE* out = stdout;
  if (!o.output.empty() && o.output != "-") {
    out = std::fopen(o.output.c_str(), "ae");
    if (!out) return fail(fmt::format("cannot open {}: {}", o.output, std::strerror(errno)));
  }
  svc::file_findings_sink sink(out, *format, out != stdout);

  // Signals are taken by one thread (sigwait); every other thread inherits them blocked.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  svc::live_detector<2> service(rule, std::move(baseline->table), o.live, sink,
                                {o.rule, baseline->hash});
  // Until `listening on` is printed (the first line scripts wait for), the core's log lines
  // are held; then they are printed as they come.
  std::vector<std::string> held_log;
  bool hold_log = true;
  const auto print_log = [](const std::string& line) {
    print_diagnostic("k8s-netio: {}\n", quoted_for_diagnostic(line));
  };
  service.on_log([&](const std::string& line) {
    if (hold_log) return held_log.push_back(line);
    print_log(line);
  });
  std::unique_ptr<svc::directory_store> store;
  if (!o.state.empty()) {
    std::string error;
    store = svc::directory_store::open(o.state, error);
    if (!store) return fail(error);
    if (auto refused = service.attach(*store)) {
      for (const auto& line : held_log) print_log(line);
      return fail(*refused);
    }
  }

  svc::live_endpoints<svc::live_detector<2>> endpoints(service, o.live.max_body, o.access);
  if (auto bad = endpoints.load_tokens()) return usage(*bad);

  svc::otlp_server_options where;
  where.http.host = listen->host;
  where.http.port = listen->port;
  where.http.threads = 2;  // one request may wait for the detector while the other thread serves
  where.http.idle_timeout = std::chrono::seconds(*idle);
  where.http.read_timeout = std::chrono::seconds(o.live.read_timeout_seconds);
  where.http.max_body = o.live.max_body;
  where.http.max_in_flight = o.live.max_in_flight;
  where.http.tls_cert = o.tls_cert;
  where.http.tls_key = o.tls_key;
  where.http.tls_client_ca = o.tls_client_ca;
  if (grpc_listen) {
    svc::grpc_server_options& go = where.grpc.emplace();
    go.host = grpc_listen->host;
    go.port = grpc_listen->port;
    go.max_message = o.live.max_body;
    go.max_in_flight = o.live.max_in_flight;
    go.tls_cert = o.tls_cert;
    go.tls_key = o.tls_key;
    go.tls_client_ca = o.tls_client_ca;
  }
  svc::otlp_server server(endpoints, std::move(where));
  if (auto started = server.start(); !started) return fail(started.error());

  // L1: only now, with the state read and accepted.
  print_diagnostic("k8s-netio: listening on {}:{}{}\n", listen->host, server.http_port(),
                   server.tls() ? " (TLS)" : "");
  if (const auto grpc_port = server.grpc_port())
    print_diagnostic("k8s-netio: grpc listening on {}:{}{}\n", grpc_listen->host, *grpc_port,
                     o.tls_cert.empty() ? "" : " (TLS)");
  hold_log = false;
  for (const auto& line : held_log) print_log(line);

  // L6: SIGTERM or SIGINT stops accepting and finishes the requests in flight. Issue 28 #26,
  // L11: SIGHUP re-reads the token files and the certificates and goes on.
  std::thread signal_thread([&] {
    for (;;) {
      int received = 0;
      sigwait(&signals, &received);
      if (received != SIGHUP) break;
      for (const std::string& line : server.reload())
        print_diagnostic("k8s-netio: SIGHUP: {}\n", quoted_for_diagnostic(line));
    }
    server.stop();
  });
  server.run();
  // run() returns only after stop(), which only the signal thread calls.
  signal_thread.join();

  const auto failed = endpoints.with_detector([](auto& d) { return d.shut_down(); });
  if (out != stdout) std::fclose(out);
  if (failed) return fail(*failed);
  print_diagnostic("k8s-netio: stopped{}\n", o.state.empty() ? "" : "; state kept in " + o.state);
  return exit_ok;
}

}  // namespace

serve_command add_serve_command(CLI::App& app) {
  auto o = std::make_shared<serve_options>();
  serve_command serve;
  auto* cmd =
      app.add_subcommand("serve", "Receive OTLP (HTTP, gRPC) and HEC pushes and detect live");
  serve.command = cmd;
  auto& a = o->access;
  cmd->add_option("--baseline", o->baseline, "Baseline table (from `k8s-netio baseline`)")
      ->required();
  cmd->add_option("--rule", o->rule, "io or ratio")->check(CLI::IsMember({"io", "ratio"}));
  cmd->add_option("--listen", o->listen, "HTTP HOST:PORT (port 0: any free port)")
      ->capture_default_str();
  cmd->add_option("--grpc-listen", o->grpc_listen,
                  "OTLP/gRPC HOST:PORT (L9; off by default; the collector's port is 4317)");
  cmd->add_option("-o,--output", o->output, "Findings file, appended (default: standard output)");
  cmd->add_option("--format", o->format, "jsonl, hec, ocsf or risk")->capture_default_str();
  cmd->add_option("--hec-token", a.hec_tokens, "A HEC token accepted (repeatable)");
  cmd->add_option("--hec-token-file", a.hec_token_file,
                  "HEC tokens, one a line (kept out of the process list; reread on SIGHUP)");
  cmd->add_option("--otlp-token", a.otlp_tokens,
                  "Require Authorization: Bearer TOKEN on /v1/metrics and gRPC (repeatable)");
  cmd->add_option("--otlp-token-file", a.otlp_token_file,
                  "OTLP tokens, one a line (kept out of the process list; reread on SIGHUP)");
  cmd->add_option("--metrics-token", a.metrics_tokens,
                  "Require Authorization: Bearer TOKEN on /metrics (repeatable; default: open)");
  cmd->add_option("--metrics-token-file", a.metrics_token_file,
                  "/metrics tokens, one a line (reread on SIGHUP)");
  cmd->add_option("--open-endpoint", a.open_endpoints,
                  "otlp or hec: leave that endpoint open although a token is configured for the "
                  "other (by default any token closes every data endpoint)")
      ->check(CLI::IsMember({"otlp", "hec"}));
  cmd->add_option("--state", o->state,
                  "State directory (created if missing, locked): snapshot, write-ahead log, "
                  "learned days");
  cmd->add_option("--idle-timeout", o->idle_timeout,
                  "L10: close a keep-alive connection idle this long")
      ->capture_default_str();
  cmd->add_option("--tls-cert", o->tls_cert,
                  "L11: PEM certificate (chain): HTTPS and gRPC over TLS 1.2+; reread on SIGHUP");
  cmd->add_option("--tls-key", o->tls_key, "L11: PEM private key of --tls-cert");
  cmd->add_option("--tls-client-ca", o->tls_client_ca,
                  "L11: PEM CA bundle: require and verify client certificates (mTLS)");
  add_live_flags(*cmd, o->live, o->texts, true);
  serve.run = [o] { return run_serve(*o); };
  return serve;
}

}  // namespace k8snetio_cli
