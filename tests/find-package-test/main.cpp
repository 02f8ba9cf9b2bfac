// A user's program against the installed k8snetio: the umbrella header compiles, C++20 and the
// dependencies (fmt is a shared library) come with the k8snetio::k8snetio target.
#include <fmt/format.h>

#include <k8snetio/k8snetio.hpp>

int main() {
  static_assert(__cplusplus >= 202002L, "k8snetio::k8snetio must bring C++20");
  fmt::print("find_package consumer: {}\n", k8snetio::default_metric_name);
  return k8snetio::default_metric_name.empty() ? 1 : 0;
}
