// libFuzzer target of the Splunk HEC event reader (spec I2); the checks are in
// json_reader_fuzz.hpp.
#include <cstddef>
#include <cstdint>

#include <k8snetio/io/input/hec_reader.hpp>

#include "json_reader_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return k8snetio_fuzz::fuzz_json_reader<k8snetio::io::hec_reader>(
      data, size, [](k8snetio::io::hec_reader& r) { r.limit_event_bytes(256); });
}
