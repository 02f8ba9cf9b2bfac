// `k8s-netio serve`: placeholder until the live service lands (service.md L1–L8).
#include "serve_command.hpp"

#include <memory>

#include "cli_support.hpp"

namespace k8snetio_cli {

serve_command add_serve_command(CLI::App& app) {
  serve_command serve;
  serve.command = app.add_subcommand("serve", "Receive OTLP/HTTP and HEC pushes and detect live");
  serve.run = [] {
    print_diagnostic("k8s-netio: error: serve is not available in this build\n");
    return exit_failure;
  };
  return serve;
}

}  // namespace k8snetio_cli
