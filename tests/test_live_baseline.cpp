// L6: the baseline a live service (serve, consume) scores against, and the hash that names the
// state written for it: service::load_live_baseline.
#include <catch2/catch.hpp>

#include <string>

#include <zlib.h>

#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/rules/anomalous_network_io.hpp>
#include <k8snetio/rules/network_io_ratio.hpp>
#include <k8snetio/service/live_baseline.hpp>

#include "support.hpp"

namespace svc = k8snetio::service;
using k8snetio::error_code;
using k8snetio::test::read_fixture;
using k8snetio::test::temp_dir;
using k8snetio::test::temp_file;

TEST_CASE("L6 load_live_baseline: the table the loader gives, named by the file's bytes") {
  const std::string text = read_fixture("cli_baseline.csv");
  const temp_file file(text, "baseline.csv");
  auto live = svc::load_live_baseline<2>(file.path, k8snetio::anomalous_network_io);
  REQUIRE(live);
  auto loaded =
      k8snetio::io::load_baseline_csv<2>(file.path, *k8snetio::anomalous_network_io.measures);
  REQUIRE(loaded);
  CHECK(live->table.size() == loaded->size());
  CHECK(live->table.size() > 0);
  CHECK(live->hash == svc::fnv1a64(text));
  // Hashed in blocks as a whole: one byte more is another name.
  const temp_file longer(text + "\n", "baseline.csv");
  auto other = svc::load_live_baseline<2>(longer.path, k8snetio::anomalous_network_io);
  REQUIRE(other);
  CHECK(other->hash != live->hash);
  CHECK(svc::fnv1a64(text.substr(5), svc::fnv1a64(text.substr(0, 5))) == svc::fnv1a64(text));
}

TEST_CASE("L6 load_live_baseline: a gzipped baseline is named by its compressed bytes") {
  // As serve and consume named it before: a state taken under the same file still restores.
  const std::string text = read_fixture("cli_baseline.csv");
  const temp_dir dir;
  const std::string path = dir.file("baseline.csv.gz");
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, text.data(), static_cast<unsigned>(text.size())) ==
          static_cast<int>(text.size()));
  REQUIRE(gzclose(f) == Z_OK);
  auto live = svc::load_live_baseline<2>(path, k8snetio::anomalous_network_io);
  REQUIRE(live);
  CHECK(live->table.size() > 0);
  CHECK(live->hash == svc::fnv1a64(k8snetio::test::read_file(path)));
  CHECK(live->hash != svc::fnv1a64(text));
}

TEST_CASE("L6 load_live_baseline: names the bytes it read the table from, in one read") {
  // Larger than a chunk, so that the table is read in pieces and the hash follows them.
  const std::string head = read_fixture("cli_baseline.csv");
  std::string text = head;
  for (int i = 0; text.size() < (std::size_t{9} << 20); ++i)
    text += "extra:svc-" + std::to_string(i) + ",1,1,0,0,5,1700000000\n";
  const temp_file file(text, "baseline.csv");
  auto live = svc::load_live_baseline<2>(file.path, k8snetio::anomalous_network_io);
  REQUIRE(live);
  CHECK(live->hash == svc::fnv1a64(text));
  auto loaded =
      k8snetio::io::load_baseline_csv<2>(file.path, *k8snetio::anomalous_network_io.measures);
  REQUIRE(loaded);
  CHECK(live->table.size() == loaded->size());
  CHECK(live->table.size() > 100000);
}

TEST_CASE(
    "L6 A6 load_live_baseline: standard input, a missing file and another rule's table "
    "are coded errors") {
  auto stdin_baseline = svc::load_live_baseline<2>("-", k8snetio::anomalous_network_io);
  REQUIRE_FALSE(stdin_baseline);
  CHECK(stdin_baseline.error().code == error_code::bad_option);
  CHECK_THAT(stdin_baseline.error().what(), Catch::Contains("must be a file"));

  const temp_dir dir;
  auto missing = svc::load_live_baseline<2>(dir.file("none.csv"), k8snetio::anomalous_network_io);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == error_code::cannot_open);

  // The io rule's table read for the ratio rule: the loader's own refusal, unchanged.
  const temp_file io_table(read_fixture("cli_baseline.csv"), "baseline.csv");
  auto wrong = svc::load_live_baseline<2>(io_table.path, k8snetio::network_io_ratio);
  auto loader =
      k8snetio::io::load_baseline_csv<2>(io_table.path, *k8snetio::network_io_ratio.measures);
  REQUIRE_FALSE(wrong);
  REQUIRE_FALSE(loader);
  CHECK(wrong.error().code == loader.error().code);
}
