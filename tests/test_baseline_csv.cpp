// Spec I4, B6, R5, D5.2, D5.3 and F3: the baseline lookup table read from and written to CSV.
// Fixtures: tests/data/baseline_*.csv.
#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <k8snetio/io/baseline_csv.hpp>
#include <k8snetio/io/input/metrics_csv_reader.hpp>
#include <k8snetio/rules/anomalous_network_io.hpp>
#include <k8snetio/rules/network_io_ratio.hpp>

#include "support.hpp"

namespace test_baseline_csv {

using namespace k8snetio;
using namespace k8snetio::io;

namespace {

using k8snetio::test::read_fixture;

template <std::size_t N>
const baseline_entry<N>& entry_of(const baseline_table<N>& table, std::string_view key) {
  const baseline_entry<N>* e = table.find(key);
  REQUIRE(e != nullptr);
  return *e;
}

constexpr std::size_t inbound = 0, outbound = 1;  // network_io_measures' indices

input_error read_error(std::string_view text) {
  auto r = read_baseline_csv(text, "base.csv");
  REQUIRE_FALSE(r.has_value());
  return r.error();
}

/// Two tables are equal: rows (keys, cells with their text, count, last_seen) and order.
template <std::size_t N>
void check_equal(const baseline_table<N>& a, const baseline_table<N>& b) {
  CHECK(a.rows() == b.rows());
  CHECK(a.stdev_column_order() == b.stdev_column_order());
  CHECK(a.measures() == b.measures());
}

}  // namespace

TEST_CASE("I4 a Splunk export: columns by header name in any order, extra columns ignored") {
  // BOM, CRLF, every cell quoted, __mv_ and other extra columns, columns shuffled.
  auto r =
      read_baseline_csv(read_fixture("baseline_splunk_export.csv"), "baseline_splunk_export.csv");
  INFO((r ? std::string() : r.error().what()));
  REQUIRE(r.has_value());
  const auto& table = *r;
  REQUIRE(table.size() == 3);
  CHECK(table.rows()[0].key == "prod:checkout");  // file order until sorted
  CHECK(table.rows()[2].key == "staging:api");

  const auto& checkout = entry_of(table, "prod:checkout");
  CHECK(checkout.avg[outbound].value == 1000.5);
  CHECK(checkout.avg[outbound].text == "1000.50");
  CHECK(checkout.stdev[outbound].text == "100");
  CHECK(checkout.avg[inbound].text == "2000");
  CHECK(checkout.stdev[inbound].value == 500.0);
  CHECK(checkout.count == 8640u);
  CHECK(checkout.last_seen == 1699999990);

  const auto& api = entry_of(table, "staging:api");
  CHECK(api.stdev[inbound].value == 12.615183595289349);
  CHECK(api.avg[outbound].value == 1e16);
  CHECK(api.avg[outbound].text == "1e+16");
  CHECK(api.stdev[outbound].text == "1.5e-05");
  CHECK(api.avg[inbound].value == 3.9900000000000055);
  CHECK_FALSE(api.count.has_value());
  CHECK_FALSE(api.last_seen.has_value());
}

TEST_CASE("I4 an empty cell is null (D5.2)") {
  auto r = read_baseline_csv(read_fixture("baseline_splunk_export.csv"), "x.csv");
  REQUIRE(r.has_value());
  const auto& cart = entry_of(*r, "prod:cart");
  CHECK_FALSE(cart.stdev[inbound].value.has_value());
  CHECK(cart.stdev[inbound].text.empty());
  CHECK_FALSE(cart.avg[inbound].value.has_value());  // a quoted empty cell ""
  CHECK(cart.avg[outbound].value == 250.0);
  CHECK(cart.stdev[outbound].value == 0.0);
  CHECK(cart.stdev[outbound].text == "0");
}

TEST_CASE("F3 a baseline cell keeps its own text, and the anomaly text echoes it") {
  auto r = read_baseline_csv(
      "key,avg_outbound_network_io,stdev_outbound_network_io,avg_inbound_network_io,"
      "stdev_inbound_network_io\nprod:checkout,1000.50,100.0,2000,500\n",
      "f3.csv");
  REQUIRE(r.has_value());
  const auto& e = entry_of(*r, "prod:checkout");
  CHECK(e.avg[outbound].text == "1000.50");
  CHECK(e.avg[outbound].value == 1000.5);
  CHECK(e.stdev[outbound].text == "100.0");

  // The spec §8 example, six buckets: the text prints the table's own "1000.50" and "100.0".
  std::vector<metric_point> points;
  for (int b = 0; b < 6; ++b)
    points.push_back({1700000000.0 + 10 * b, 1700.5, "k8s.pod.network.io", "prod",
                      "checkout-7d4b9c8f6d-x2k9p", "node-1", "transmit"});
  const auto result = detect_anomalous_network_io(points, *r);
  REQUIRE(result.findings.size() == 1);
  REQUIRE(result.findings[0].anomalies.size() == 1);
  CHECK(result.findings[0].anomalies[0] ==
        "outbound_network_io higher than average by 7.00 Standard Deviations. "
        "outbound_network_io=1700.5 avg_outbound_network_io=1000.50 "
        "'stdev_outbound_network_io'=100.0");
}

TEST_CASE("I4 a measure without its columns has all its cells null") {
  auto r = read_baseline_csv("key,avg_outbound_network_io,stdev_outbound_network_io\nprod:a,1,2\n",
                             "partial.csv");
  REQUIRE(r.has_value());
  const auto& e = entry_of(*r, "prod:a");
  CHECK(e.avg[outbound].value == 1.0);
  CHECK(e.stdev[outbound].value == 2.0);
  CHECK_FALSE(e.avg[inbound].value.has_value());
  CHECK_FALSE(e.stdev[inbound].value.has_value());
  CHECK_FALSE(e.count.has_value());
  CHECK_FALSE(e.last_seen.has_value());
}

TEST_CASE("I4 a header without a key column is bad_header naming the file") {
  const auto e = read_error("avg_outbound_network_io,stdev_outbound_network_io\n1,2\n");
  CHECK(e.code == error_code::bad_header);
  CHECK(e.file == "base.csv");
  CHECK(e.line == 1);
  CHECK(e.field == "key");
  CHECK(e.what() ==
        "[k8snetio.error.110] base.csv:1: the baseline table's header has no 'key' column "
        "(field 'key')");
  // A column named like the key, but not exactly, is no key column (names are case-sensitive).
  CHECK(read_error("Key,count\na,1\n").code == error_code::bad_header);
}

TEST_CASE("I4 an empty input or one of blank lines has no header") {
  CHECK(read_error("").code == error_code::bad_header);
  CHECK(read_error("\n\r\n").code == error_code::bad_header);
  CHECK(read_error("\xEF\xBB\xBF").code == error_code::bad_header);
}

TEST_CASE("D5.3 a duplicate key is refused at load, naming the key and both lines") {
  const auto e = read_error(
      "key,avg_outbound_network_io\n"
      "prod:checkout,1\n"
      "prod:cart,2\n"
      "\"prod:checkout\",3\n");
  CHECK(e.code == error_code::duplicate_key);
  CHECK(e.line == 4);
  CHECK(e.field == "key");
  CHECK(e.message == "duplicate key 'prod:checkout' (lines 2 and 4)");
  CHECK(e.what() ==
        "[k8snetio.error.120] base.csv:4: duplicate key 'prod:checkout' (lines 2 and 4) "
        "(field 'key')");
}

TEST_CASE("D5.3 keys differing only in case are two keys (D5.1)") {
  auto r = read_baseline_csv("key,stdev_outbound_network_io\nprod:Checkout,1\nprod:checkout,2\n",
                             "case.csv");
  REQUIRE(r.has_value());
  CHECK(r->size() == 2);
}

TEST_CASE("I4 a number cell that is not a number is an error, not a null") {
  // The stricter choice: a cell the rule cannot use is refused with its position, rather
  // than silently turning a pod's baseline off.
  const auto e = read_error(
      "key,avg_outbound_network_io,stdev_outbound_network_io\n"
      "prod:a,1,2\n"
      "prod:b,3,abc\n");
  CHECK(e.code == error_code::bad_baseline_cell);
  CHECK(e.line == 3);
  CHECK(e.field == "stdev_outbound_network_io");
  CHECK(e.what() ==
        "[k8snetio.error.121] base.csv:3: 'abc' is not a finite number "
        "(field 'stdev_outbound_network_io')");
  for (std::string_view cell :
       {"nan", "inf", "-inf", " 5", "5 ", "+5", "1,5", "0x10", "--1", "."}) {
    INFO(cell);
    std::string text = "key,avg_inbound_network_io\np:k,\"" + std::string(cell) + "\"\n";
    CHECK(read_error(text).code == error_code::bad_baseline_cell);
  }
  // Cells of columns the reader ignores are never checked.
  CHECK(read_baseline_csv("key,avg_other,avg_inbound_network_io,count\np:k,abc,,1\n", "x.csv")
            .has_value());
}

TEST_CASE("I4 count and last_seen are read when present") {
  auto r = read_baseline_csv(
      "last_seen,key,count,avg_inbound_network_io\n1700000000,p:a,12,\n"
      "1700000005.9,p:b,,\n,p:c,0,\n",
      "x.csv");
  REQUIRE(r.has_value());
  CHECK(entry_of(*r, "p:a").count == 12u);
  CHECK(entry_of(*r, "p:a").last_seen == 1700000000);
  CHECK(entry_of(*r, "p:b").last_seen == 1700000005);  // floored to whole seconds
  CHECK_FALSE(entry_of(*r, "p:b").count.has_value());
  CHECK_FALSE(entry_of(*r, "p:c").last_seen.has_value());
  CHECK(entry_of(*r, "p:c").count == 0u);

  CHECK(read_error("key,count,avg_inbound_network_io\np:a,1.5,\n").code ==
        error_code::bad_baseline_cell);
  CHECK(read_error("key,count,avg_inbound_network_io\np:a,-1,\n").field == "count");
  CHECK(read_error("key,last_seen,avg_inbound_network_io\np:a,yesterday,\n").field == "last_seen");
}

TEST_CASE("I4 malformed rows are bad_row with their line") {
  const auto short_row = read_error("key,avg_outbound_network_io\np:a,1\np:b\n");
  CHECK(short_row.code == error_code::bad_row);
  CHECK(short_row.line == 3);
  CHECK(short_row.message == "the row has 1 fields, the header 2");
  CHECK(read_error("key,stdev_outbound_network_io\np:a,1,2\n").code == error_code::bad_row);
  const auto stray = read_error("key,stdev_outbound_network_io\np:a\"b,1\n");
  CHECK(stray.code == error_code::bad_row);
  CHECK(stray.message == "malformed CSV: stray quote");
  const auto open_quote = read_error("key,stdev_outbound_network_io\n\"p:a,1\np:b,2\n");
  CHECK(open_quote.code == error_code::bad_row);
  CHECK(open_quote.line == 2);
  CHECK(read_error("\"key,count\n").code == error_code::bad_header);
}

TEST_CASE("I4 CRLF, a BOM, blank lines and quoted keys with commas, quotes and newlines") {
  auto r = read_baseline_csv(
      "\xEF\xBB\xBF\"key\",\"count\",avg_inbound_network_io\r\n\r\n\"p:a,b\",1,\r\n\"p:q\"\"uote\","
      "2,"
      "\r\n\"p:x\r\ny\",3,\r\np:last,4,",
      "x.csv");
  INFO((r ? std::string() : r.error().what()));
  REQUIRE(r.has_value());
  CHECK(entry_of(*r, "p:a,b").count == 1u);
  CHECK(entry_of(*r, "p:q\"uote").count == 2u);
  CHECK(entry_of(*r, "p:x\r\ny").count == 3u);
  CHECK(entry_of(*r, "p:last").count == 4u);  // no line end after the last row
}

TEST_CASE("I4 the ratio baseline's header, whose measure names hold a colon (R5)") {
  auto r = read_baseline_csv(read_fixture("baseline_ratio.csv"), "baseline_ratio.csv",
                             network_io_ratio_measures);
  REQUIRE(r.has_value());
  REQUIRE(r->size() == 2);
  const auto& e = entry_of(*r, "prod:checkout");
  // network_io_ratio_measures: 0 = inbound:outbound, 1 = outbound:inbound.
  CHECK(e.avg[0].text == "0.5");
  CHECK(e.avg[1].text == "2");
  CHECK(e.stdev[0].text == "0.1");
  CHECK(e.stdev[1].text == "0.4");
  CHECK(e.count == 360u);
  const auto& web = entry_of(*r, "prod:web");
  CHECK_FALSE(web.avg[0].value.has_value());
  CHECK(web.stdev[1].value == 0.05);
  // The main rule's columns mean nothing to the ratio rule, and the other way round: a table
  // of the other rule has none of the rule's columns, which is an error (not an empty run).
  auto main_rule = read_baseline_csv(read_fixture("baseline_ratio.csv"), "baseline_ratio.csv");
  REQUIRE_FALSE(main_rule.has_value());
  CHECK(main_rule.error().code == error_code::no_baseline_columns);
}

TEST_CASE("I4 the table records the header's order of the stdev_* columns (D6.1 table order)") {
  auto lexicographic =
      read_baseline_csv("key,stdev_inbound_network_io,stdev_outbound_network_io\n", "x.csv");
  REQUIRE(lexicographic.has_value());
  CHECK(lexicographic->stdev_column_order() == std::array<std::size_t, 2>{inbound, outbound});
  auto reversed = read_baseline_csv(
      "stdev_outbound_network_io,key,avg_inbound_network_io,stdev_inbound_network_io\n", "x.csv");
  REQUIRE(reversed.has_value());
  CHECK(reversed->stdev_column_order() == std::array<std::size_t, 2>{outbound, inbound});
  // A measure without a stdev_* column (all null) comes last.
  auto one = read_baseline_csv("key,stdev_inbound_network_io\n", "x.csv");
  REQUIRE(one.has_value());
  CHECK(one->stdev_column_order() == std::array<std::size_t, 2>{inbound, outbound});
}

TEST_CASE("B6 the written table: exact header, keys sorted by byte order, F1, nulls empty") {
  baseline_table<2> table(network_io_measures);
  const auto cell = [](double v) { return baseline_cell::from_number(v); };
  const baseline_cell null_cell;
  baseline_entry<2> checkout;
  checkout.avg[outbound] = {1000.5, "1000.50"};  // a cell read from a file keeps its text (F3)
  checkout.avg[inbound] = cell(2000);
  checkout.stdev[outbound] = cell(100);
  checkout.stdev[inbound] = cell(500);
  checkout.count = 8640;
  checkout.last_seen = 1699999990;
  baseline_entry<2> odd;
  odd.avg[outbound] = cell(0.1 + 0.2);
  odd.avg[inbound] = cell(1e16);
  odd.stdev[outbound] = cell(1.5e-05);
  odd.stdev[inbound] = cell(12.615183595289349);
  odd.count = 7;
  baseline_entry<2> empty_service;
  empty_service.avg[outbound] = null_cell;
  empty_service.avg[inbound] = cell(2100);
  empty_service.stdev[inbound] = cell(0);
  empty_service.count = 1;
  empty_service.last_seen = 1700000000;
  baseline_entry<2> comma;
  comma.avg[outbound] = cell(1);
  comma.avg[inbound] = cell(2);
  comma.stdev[outbound] = cell(0);
  comma.stdev[inbound] = cell(0);
  comma.count = 2;
  comma.last_seen = 1700000000;
  baseline_entry<2> newline;
  newline.avg[outbound] = {3.9900000000000055, ""};  // a cell made without text: F1 of it
  // Inserted out of order: the writer sorts.
  REQUIRE(table.insert("x\ny:z", newline));
  REQUIRE(table.insert("prod:checkout", checkout));
  REQUIRE(table.insert("q\"uote:web", odd));
  REQUIRE(table.insert("prod:", empty_service));
  REQUIRE(table.insert("a,b:svc", comma));

  const std::string written = write_baseline_csv(table);
  CHECK(written == read_fixture("baseline_b6_golden.csv"));
  CHECK(written.substr(0, written.find('\n')) ==
        "key,avg_outbound_network_io,avg_inbound_network_io,stdev_outbound_network_io,"
        "stdev_inbound_network_io,count,last_seen");

  std::ostringstream stream;
  write_baseline_csv(stream, table);
  CHECK(stream.str() == written);
}

TEST_CASE("R5 the ratio table is written with its own columns, from its measure_set") {
  const std::string file = read_fixture("baseline_ratio.csv");
  auto r = read_baseline_csv(file, "baseline_ratio.csv", network_io_ratio_measures);
  REQUIRE(r.has_value());
  const std::string written = write_baseline_csv(*r);
  CHECK(written.substr(0, written.find('\n')) ==
        "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,"
        "stdev_outbound:inbound,count,last_seen");
  CHECK(written == file);
}

TEST_CASE("B6 round trip: write then read gives an equal table") {
  SECTION("a table read from a Splunk export") {
    auto first = read_baseline_csv(read_fixture("baseline_splunk_export.csv"), "x.csv");
    REQUIRE(first.has_value());
    first->sort();
    auto again = read_baseline_csv(write_baseline_csv(*first), "again.csv");
    REQUIRE(again.has_value());
    // Written in the rule's column order, so the stdev order read back is the rule's too.
    first->set_stdev_column_order(network_io_measures.column_order);
    check_equal(*first, *again);
  }
  SECTION("a table built by the baseline search (B1-B6)") {
    std::vector<metric_point> points;
    const char* pods[] = {"checkout-7d4b9c8f6d-x2k9p", "cart-5f6d7c8b9a-abcde", "redis-0"};
    for (int i = 0; i < 60; ++i) {
      const char* pod = pods[i % 3];
      points.push_back({1700000000.0 + i, 1000.0 + i * 37.25, "k8s.pod.network.io", "prod", pod,
                        "node-1", "transmit"});
      if (i % 4 == 0)
        points.push_back(
            {1700000000.0 + i, 0.1 * i, "k8s.pod.network.io", "prod", pod, "node-1", "receive"});
    }
    const auto built = build_network_io_baseline(points);
    REQUIRE(built.table.size() == 3);
    const std::string text = write_baseline_csv(built.table);
    auto again = read_baseline_csv(text, "built.csv");
    INFO(text);
    REQUIRE(again.has_value());
    check_equal(built.table, *again);
    CHECK(write_baseline_csv(*again) == text);
  }
  SECTION("the ratio rule's table") {
    baseline_table<2> table(network_io_ratio_measures);
    baseline_entry<2> e;
    e.avg[0] = baseline_cell::from_number(1.0 / 3);
    e.stdev[1] = baseline_cell::from_number(2.0 / 3);
    e.count = 3;
    e.last_seen = 1700000020;
    REQUIRE(table.insert("prod:\"odd, key\"", e));
    auto again =
        read_baseline_csv(write_baseline_csv(table), "ratio.csv", network_io_ratio_measures);
    REQUIRE(again.has_value());
    check_equal(table, *again);
  }
}

TEST_CASE("I1.3 a UTF-8 BOM before a quoted first header cell (metrics_csv)", "[I1.3]") {
  metrics_csv_reader reader("bom.csv");
  int points = 0;
  const auto r = reader.read(
      "\xEF\xBB\xBF\"metric_timestamp\",_value,k8s.cluster.name,k8s.node.name,k8s.pod.name,"
      "direction\n1700000010,5,c,n,p,transmit\n",
      [&points](const metric_point&) { ++points; });
  INFO((r ? std::string() : r.error().what()));
  CHECK(r.has_value());
  CHECK(points == 1);
}

TEST_CASE("D5.5 a negative stdev is refused at load with the row's line") {
  const auto e = read_error(
      "key,avg_outbound_network_io,stdev_outbound_network_io\n"
      "prod:a,1,2\n"
      "prod:b,1,-0.5\n");
  CHECK(e.code == error_code::bad_baseline_row);
  CHECK(e.line == 3);
  CHECK(e.field == "stdev_outbound_network_io");
  CHECK(e.message.find("negative stdev '-0.5' for key 'prod:b'") != std::string::npos);
  // A negative average is data (a ratio could be), and a zero stdev is D6.4's business.
  CHECK(read_baseline_csv("key,avg_outbound_network_io,stdev_outbound_network_io\nprod:a,-1,0\n",
                          "base.csv"));
}

TEST_CASE("D5.5 a key without ':' is refused at load with the row's line") {
  const auto e = read_error(
      "key,avg_outbound_network_io,stdev_outbound_network_io\n"
      "prod:a,1,2\n"
      "\n"
      "checkout,1,2\n");
  CHECK(e.code == error_code::bad_baseline_row);
  CHECK(e.line == 4);
  CHECK(e.field == "key");
  CHECK(e.what() ==
        "[k8snetio.error.122] base.csv:4: the key 'checkout' has no ':' (keys are "
        "cluster:service) (field 'key')");
  CHECK(read_error("key,avg_outbound_network_io\n,1\n").code == error_code::bad_baseline_row);
}

TEST_CASE("D5.5 a table with none of the rule's columns is an error, even without rows") {
  const auto e = read_error("key,count,last_seen\n");
  CHECK(e.code == error_code::no_baseline_columns);
  CHECK(e.line == 1);
  CHECK(read_error("key,avg_bytes,stdev_bytes\nprod:a,1,2\n").code ==
        error_code::no_baseline_columns);
  // One of the rule's columns is enough: the others are null.
  CHECK(read_baseline_csv("key,stdev_inbound_network_io\n", "base.csv"));
}

namespace {

/// Feeds `text` to a reader in pieces (the first of `first` bytes, then of `chunk`), stopping
/// at the first refusal; the refusal, or what finish() says.
result<baseline_table<2>> read_in_pieces(std::string_view text, std::size_t first,
                                         std::size_t chunk) {
  baseline_csv_reader<2> reader("base.csv");
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t n = pos == 0 ? first : chunk;
    if (auto r = reader.feed(text.substr(pos, n)); !r) return tl::unexpected(r.error());
    pos += n;
  }
  return reader.finish();
}

}  // namespace

TEST_CASE("S5.2 the table is read in chunks: any split gives the same table or error") {
  const std::string text =
      "\xEF\xBB\xBF\"key\",avg_outbound_network_io,stdev_outbound_network_io\r\n"
      "\n\n\n"
      "\"prod:a,b\",1,2\r\n"
      "\n\n"
      "prod:c,3,4\n"
      "prod:d,5,-1\n";
  for (std::size_t chunk = 1; chunk <= 12; ++chunk) {
    const auto r = read_in_pieces(text, chunk, chunk);
    INFO("chunk " << chunk);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == error_code::bad_baseline_row);
    CHECK(r.error().line == 9);
  }
}

TEST_CASE("S5.2 a stray carriage return is a row in chunks as in one piece (fuzz_baseline_csv)") {
  // "\r\r\n" is a line holding "\r": a row of one field, refused. Read in chunks, a chunk of
  // nothing but '\r' and '\n' was counted as blank lines, so the error moved to a later line.
  const std::string text =
      "key,avg_outbound_network_io,stdev_outbound_network_io\r\n"
      "\r\r\n\n\n\r\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n"
      "prod:c,3,4\n";
  const auto whole = read_baseline_csv(text, "base.csv");
  REQUIRE_FALSE(whole);
  CHECK(whole.error().code == error_code::bad_row);
  CHECK(whole.error().line == 2);
  const std::size_t header = text.find('\n') + 1;
  for (std::size_t chunk = 1; chunk <= 40; ++chunk)
    for (const std::size_t first : {header, chunk}) {  // a split at the blank run's start, or not
      const auto r = read_in_pieces(text, first, chunk);
      INFO("chunk " << chunk << ", first " << first);
      REQUIRE_FALSE(r);
      CHECK(r.error().code == error_code::bad_row);
      CHECK(r.error().line == 2);
    }
}

TEST_CASE("S5.2 count_if_only_line_ends counts blank lines, and only \\n and \\r\\n are blank") {
  using k8snetio::io::detail::count_if_only_line_ends;
  CHECK(count_if_only_line_ends("") == 0);
  CHECK(count_if_only_line_ends("\n") == 1);
  CHECK(count_if_only_line_ends("\r\n\n") == 2);
  CHECK(count_if_only_line_ends("\r\r\n") == -1);
  CHECK(count_if_only_line_ends("\n\r") == -1);
  CHECK(count_if_only_line_ends("\nx\n") == -1);
  std::string pairs;
  for (int i = 0; i < 40; ++i) pairs += "\r\n";  // '\r' at the end of 16-byte blocks, too
  CHECK(count_if_only_line_ends(pairs) == 40);
  for (std::size_t at = 0; at < pairs.size(); at += 2) {
    std::string damaged = pairs;
    damaged[at + 1] = '\r';  // "\r\r": the first '\r' no longer ends a line
    INFO("at " << at);
    CHECK(count_if_only_line_ends(damaged) == -1);
  }
  std::string shifted = "\n" + pairs;  // the pairs straddle the block boundaries
  CHECK(count_if_only_line_ends(shifted) == 41);
  shifted[16] = '\r';  // the '\r' ending the first block is followed by '\r'
  shifted[17] = '\r';
  CHECK(count_if_only_line_ends(shifted) == -1);
}

}  // namespace test_baseline_csv
