// libFuzzer target for the I4 baseline table reader (io/baseline_csv.hpp). Besides memory
// errors (run with ASan/UBSan) it checks that the table or the error does not depend on how
// the input is split into chunks; that a table it accepts has no negative stdev and no key
// without ':' (D5.5); and that what write_baseline_csv makes of it reads back as the same table.
//
//   flags="-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude"
//   clang++-14 $flags fuzz/fuzz_baseline_csv.cpp -lfmt -o /tmp/fz
//   cp -r fuzz/corpus/fuzz_baseline_csv /tmp/corpus && /tmp/fz -max_total_time=30 /tmp/corpus
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/model/measure_set.hpp>

namespace {

using namespace k8snetio;

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

template <std::size_t N>
std::string transcript(const io::result<baseline_table<N>>& r) {
  if (!r) return r.error().what();
  return io::write_baseline_csv(*r);
}

template <std::size_t N>
io::result<baseline_table<N>> read_in_pieces(std::string_view data, std::size_t chunk,
                                             const measure_set<N>& measures) {
  io::baseline_csv_reader<N> reader("fuzz.csv", measures);
  for (std::size_t pos = 0; pos < data.size(); pos += chunk)
    if (auto r = reader.feed(data.substr(pos, chunk)); !r) return tl::unexpected(r.error());
  return reader.finish();
}

template <std::size_t N>
void check(std::string_view data, std::size_t chunk, const measure_set<N>& measures) {
  const auto whole = io::read_baseline_csv<N>(data, "fuzz.csv", measures);
  FUZZ_CHECK(transcript(read_in_pieces<N>(data, chunk, measures)) == transcript(whole));
  if (!whole) return;
  for (const auto& row : whole->rows()) {
    FUZZ_CHECK(row.key.find(':') != std::string::npos);
    for (const auto& stdev : row.entry.stdev) FUZZ_CHECK(!stdev.value || *stdev.value >= 0);
  }
  const std::string written = io::write_baseline_csv(*whole);
  const auto again = io::read_baseline_csv<N>(written, "written.csv", measures);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(io::write_baseline_csv(*again) == written);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);
  // The first byte picks the chunk size, so the fuzzer can steer it.
  const std::size_t chunk = 1 + (size == 0 ? 0 : bytes[0] % 97);
  check<2>(data, chunk, network_io_measures);
  check<2>(data, chunk, network_io_ratio_measures);
  return 0;
}
