// `k8s-netio consume`: the subcommand's declaration, for main.cpp (service.md K1–K7).
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace k8snetio_cli {

/// The consume subcommand added to `app`; `run()` runs it once parsed (its options live with it).
struct consume_command {
  CLI::App* command = nullptr;
  std::function<int()> run;
};

consume_command add_consume_command(CLI::App& app);

}  // namespace k8snetio_cli
