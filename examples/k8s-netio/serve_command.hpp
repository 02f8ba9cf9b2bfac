// `k8s-netio serve`: the subcommand's declaration, for main.cpp (service.md L1–L8).
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace k8snetio_cli {

/// The serve subcommand added to `app`; `run()` runs it once parsed (its options live with it).
struct serve_command {
  CLI::App* command = nullptr;
  std::function<int()> run;
};

serve_command add_serve_command(CLI::App& app);

}  // namespace k8snetio_cli
