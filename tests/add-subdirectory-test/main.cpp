// A user's program that builds k8snetio from source with add_subdirectory: the umbrella header
// compiles, and C++20 and the dependencies come with the k8snetio::k8snetio target.
#include <fmt/format.h>

#include <k8snetio/k8snetio.hpp>

int main() {
  static_assert(__cplusplus >= 202002L, "k8snetio::k8snetio must bring C++20");
  fmt::print("add_subdirectory consumer: {}\n", k8snetio::default_metric_name);
  return k8snetio::default_metric_name.empty() ? 1 : 0;
}
