// libFuzzer target of the OTLP JSON reader (spec I3); the checks are in json_reader_fuzz.hpp.
#include <cstddef>
#include <cstdint>

#include <k8snetio/io/input/otlp_reader.hpp>

#include "json_reader_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return k8snetio_fuzz::fuzz_json_reader<k8snetio::io::otlp_reader>(
      data, size, [](k8snetio::io::otlp_reader& r) { r.limit_line_bytes(256); });
}
