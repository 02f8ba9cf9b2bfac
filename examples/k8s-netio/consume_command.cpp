// `k8s-netio consume` (service.md K1–K7): placeholder registration while the consumer is built;
// it refuses to run rather than pretend.
#include "consume_command.hpp"

#include <cstdio>

namespace k8snetio_cli {

consume_command add_consume_command(CLI::App& app) {
  consume_command c;
  c.command = app.add_subcommand("consume", "Detect on a Kafka consumer group (not built yet)");
  c.run = [] {
    std::fputs("k8s-netio: error: consume is not built yet\n", stderr);
    return 1;
  };
  return c;
}

}  // namespace k8snetio_cli
