// Spec O5: the HTML report — one self-contained page (no script, nothing fetched), the run's
// summary, findings ordered by their largest z-score, one chart per finding drawn from its
// series (every bucket of the window) or else its anomalous measures, and every name escaped.
// The browser check is cli.O5.html_report_browser.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <k8snetio/io/output/findings_writer.hpp>
#include <k8snetio/io/output/html_report_writer.hpp>

namespace test_html_report {

using namespace k8snetio;
using namespace k8snetio::io;

namespace {

std::size_t count_of(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

/// The markup of every tag ("<…>"): text between tags is escaped, so it holds no '<'.
std::vector<std::string> tags_of(std::string_view page) {
  std::vector<std::string> tags;
  for (auto open = page.find('<'); open != std::string_view::npos; open = page.find('<', open + 1))
    tags.emplace_back(page.substr(open, page.find('>', open) - open + 1));
  return tags;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

anomalous_measure bucket(std::int64_t time, std::string measure, double value, double avg,
                         double stdev) {
  anomalous_measure m;
  m.time = time;
  m.measure = std::move(measure);
  m.value = value;
  m.avg = avg;
  m.stdev = stdev;
  m.avg_text = fmt::format("{}", avg);
  m.stdev_text = fmt::format("{}", stdev);
  m.z = (value - avg) / stdev;
  return m;
}

finding make_finding(std::string pod, double outbound, std::size_t buckets) {
  finding f;
  f.cluster = "prod";
  f.host = "node-1";
  f.pod = std::move(pod);
  f.service = "checkout";
  f.count = buckets;
  f.window_start = 1700000000;
  f.window_end = 1700003600;
  for (std::size_t i = 0; i < buckets; ++i)
    f.measures.push_back(bucket(1700000000 + 600 + 10 * static_cast<std::int64_t>(i),
                                "outbound_network_io", outbound, 1000, 100));
  f.measures.push_back(bucket(1700000600, "inbound_network_io", 4100, 2000, 500));
  f.anomalies = {"outbound_network_io higher than average by …"};
  return f;
}

/// Hostile names: markup, quotes, control characters (ESC, NUL, BEL, C1 CSI) and a byte that
/// is not UTF-8.
const std::string hostile_pod = std::string("<script>alert(\"x\")</script>'\x1b[31m\x07") +
                                std::string("\0", 1) + "\xC2\x9B" + "\xFF" + "-abcde";

std::vector<finding> report_findings() {
  std::vector<finding> v;
  v.push_back(make_finding("low-7d4b9c8f6d-aaaaa", 1500, 6));  // z 5
  v.push_back(make_finding(hostile_pod, 3000, 7));             // z 20
  v.push_back(make_finding("mid-7d4b9c8f6d-bbbbb", 2000, 8));  // z 10
  v.back().cluster = "<b>\"c&d\"</b>";
  v.back().service = "svc\"onmouseover=\"x";
  return v;
}

}  // namespace

TEST_CASE("O5 HTML report: one self-contained page, one chart per finding") {
  const auto findings = report_findings();
  html_report_context ctx;
  ctx.input_summary = "read 1 input: 100 rows, 98 points used, 2 skipped";
  ctx.window_start = 1700000000;
  ctx.window_end = 1700003600;
  ctx.unbaselined = 2;
  ctx.unbaselined_first = {"prod:new-svc", "prod:<img src=x>"};
  ctx.suppressed = 3;
  std::string page;
  write_html_report(page, findings, ctx);

  CHECK(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
  CHECK(page.ends_with("</html>\n"));
  CHECK(count_of(page, "<svg") == findings.size());
  CHECK(count_of(page, "</svg>") == findings.size());
  CHECK(count_of(page, "<section") == findings.size());
  CHECK(count_of(page, "</section>") == findings.size());
  CHECK(count_of(page, "<style>") == 1);

  // No script, nothing fetched: the only URL is the SVG namespace name (never loaded).
  const std::string l = lower(page);
  CHECK(count_of(l, "<script") == 0);
  CHECK(count_of(l, "<link") == 0);
  CHECK(count_of(l, "<img") == 0);
  CHECK(count_of(l, "url(") == 0);
  CHECK(count_of(l, "@import") == 0);
  CHECK(count_of(l, "http") == count_of(l, "xmlns=\"http://www.w3.org/2000/svg\""));
  // No tag has a src, an external href or an event handler (names only ever appear as text).
  const std::regex risky(R"((\s(src|on[a-z]+)\s*=)|href\s*=\s*"[^#])");
  for (const auto& tag : tags_of(l)) {
    INFO(tag);
    CHECK_FALSE(std::regex_search(tag, risky));
  }

  // The run's summary.
  CHECK(count_of(page, "2023-11-14T22:13:20Z \xE2\x80\x93 2023-11-14T23:13:20Z") >= 1);
  CHECK(count_of(page, "read 1 input: 100 rows, 98 points used, 2 skipped") == 1);
  CHECK(count_of(page, "prod:new-svc") == 1);
  CHECK(count_of(page, "prod:&lt;img src=x&gt;") == 1);
  CHECK(count_of(page, "<dt>Suppressed by the allowlist</dt><dd>3</dd>") == 1);
  CHECK(count_of(page, "<dt>Findings</dt><dd>3</dd>") == 1);
}

TEST_CASE("O5 HTML report: findings ordered by their largest z-score") {
  const auto findings = report_findings();
  const auto order = findings_by_largest_z(findings);
  REQUIRE(order.size() == 3);
  CHECK(order[0] == &findings[1]);  // z 20
  CHECK(order[1] == &findings[2]);  // z 10
  CHECK(order[2] == &findings[0]);  // z 5
  const std::string page = write_findings(findings, output_format::html);
  const auto first = page.find("<section id=\"finding-1\">");
  const auto second = page.find("<section id=\"finding-2\">");
  const auto third = page.find("<section id=\"finding-3\">");
  REQUIRE(first != std::string::npos);
  REQUIRE(second != std::string::npos);
  REQUIRE(third != std::string::npos);
  CHECK(page.find("mid-7d4b9c8f6d-bbbbb", second) < third);
  CHECK(page.find("low-7d4b9c8f6d-aaaaa", third) != std::string::npos);
  CHECK(count_of(page, ">20.00</td>") == 1);

  // A finding without a finite z (zero stdev, D6.4's option) goes last.
  auto flat = findings;
  flat[1].measures.front().z.reset();
  for (auto& m : flat[1].measures) m.z.reset();
  CHECK(findings_by_largest_z(flat).back() == &flat[1]);
}

TEST_CASE("O5 HTML report: every name is escaped, control characters shown, never sent") {
  const std::string page = write_findings(report_findings(), output_format::html);
  CHECK(page.find("<script") == std::string::npos);
  CHECK(page.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;\\x1b[31m\\x07\\x00"
                  "\\x9b\xEF\xBF\xBD-abcde") != std::string::npos);
  CHECK(page.find("&lt;b&gt;&quot;c&amp;d&quot;&lt;/b&gt;") != std::string::npos);
  CHECK(page.find("svc&quot;onmouseover=&quot;x") != std::string::npos);
  for (char c = 0; c < 0x20; ++c)
    if (c != '\n') CHECK(page.find(c) == std::string::npos);
  CHECK(page.find('\x7f') == std::string::npos);
  CHECK(page.find("\xC2\x9B") == std::string::npos);
  CHECK(page.find('\xFF') == std::string::npos);
}

/// Every bidirectional control (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) and the
/// line and paragraph separators, as UTF-8.
const std::vector<std::string> bidi_controls = {
    "\xD8\x9C",     "\xE2\x80\x8E", "\xE2\x80\x8F", "\xE2\x80\xAA", "\xE2\x80\xAB",
    "\xE2\x80\xAC", "\xE2\x80\xAD", "\xE2\x80\xAE", "\xE2\x81\xA6", "\xE2\x81\xA7",
    "\xE2\x81\xA8", "\xE2\x81\xA9", "\xE2\x80\xA8", "\xE2\x80\xA9"};

TEST_CASE("O6.3 HTML report: bidirectional controls are shown escaped, never sent raw") {
  std::string pod = "invoice";
  for (const auto& control : bidi_controls) pod += control + "x";
  std::vector<finding> findings{make_finding(pod, 3000, 7)};
  findings.back().service = "evil\xE2\x80\xAEtxt.exe";  // RLO: shows as "evilexe.txt"
  const std::string page = write_findings(findings, output_format::html);
  for (const auto& control : bidi_controls) {
    INFO("control " << control.size() << " bytes");
    CHECK(page.find(control) == std::string::npos);
  }
  CHECK(page.find("evil\\u202etxt.exe") != std::string::npos);
  CHECK(page.find("invoice\\u061cx\\u200ex\\u200fx\\u202ax") != std::string::npos);
  CHECK(io::detail::html_text("caf\xC3\xA9 \xC2\xA0\xE2\x82\xAC") ==
        "caf\xC3\xA9 \xC2\xA0\xE2\x82\xAC");
}

TEST_CASE("O6.3 O2 terminal text: bidirectional controls escaped like other invisible ones") {
  std::string pod = "invoice";
  for (const auto& control : bidi_controls) pod += control;
  const std::string shown = terminal_text(pod);
  for (const auto& control : bidi_controls) CHECK(shown.find(control) == std::string::npos);
  CHECK(shown ==
        "invoice\\u061c\\u200e\\u200f\\u202a\\u202b\\u202c\\u202d\\u202e\\u2066\\u2067"
        "\\u2068\\u2069\\u2028\\u2029");
  // What terminal_safe did stays: C0 and DEL as \xNN, C1 as \uNNNN, bad UTF-8 as U+FFFD.
  CHECK(terminal_text("a\x1b[2J\x7f\xC2\x9B\xFF"
                      "b") ==
        "a\\x1b[2J\\x7f\\u009b\xEF\xBF\xBD"
        "b");
  CHECK(terminal_text("caf\xC3\xA9 \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xF0\x9F\x98\x80");
}

TEST_CASE("O5 HTML chart: values per anomalous bucket against avg and avg + k*stdev") {
  auto f = make_finding("checkout-7d4b9c8f6d-x2k9p", 1500, 6);
  html_report_context ctx;
  ctx.sigma = 4;
  std::string svg;
  io::detail::append_chart(svg, f, ctx);
  CHECK(count_of(svg, "<circle class=\"anomalous\"") == f.measures.size());
  CHECK(count_of(svg, "class=\"avg\"") == 2);        // one per measure
  CHECK(count_of(svg, "class=\"threshold\"") == 2);  // avg + 4·stdev, one per measure
  CHECK(svg.find("avg + 4\xC2\xB7stdev of outbound_network_io = 1400") != std::string::npos);
  CHECK(svg.find("avg + 4\xC2\xB7stdev of inbound_network_io = 4000") != std::string::npos);
  CHECK(svg.find("bytes per 10 s span") != std::string::npos);
  CHECK(svg.find("time (UTC), 2023-11-14T22:13:20Z") != std::string::npos);
  // x ticks in UTC on round times: every 10 minutes of the hour 22:13:20–23:13:20.
  CHECK(svg.find(">22:20:00</text>") != std::string::npos);
  CHECK(svg.find(">23:10:00</text>") != std::string::npos);
  CHECK(count_of(svg, "class=\"tick\" text-anchor=\"middle\"") == 6);
  CHECK(svg.find("2023-11-14T22:23:20Z outbound_network_io=1500 z=5.00") != std::string::npos);

  // The ratio rule's measures have no unit.
  auto ratio = f;
  for (auto& m : ratio.measures) m.measure = "inbound:outbound";
  std::string ratio_svg;
  io::detail::append_chart(ratio_svg, ratio, ctx);
  CHECK(ratio_svg.find("ratio (no unit)") != std::string::npos);

  // A finding built by hand without measures still gets its (empty) chart.
  finding bare;
  bare.window_start = 0;
  bare.window_end = 3600;
  std::string bare_svg;
  io::detail::append_chart(bare_svg, bare, ctx);
  CHECK(count_of(bare_svg, "<svg") == 1);
  CHECK(bare_svg.find("no anomalous measures") != std::string::npos);
}

namespace {

/// The `points` of every `<polyline class="values" …>`, in order.
std::vector<std::vector<std::string>> polylines_of(const std::string& svg) {
  std::vector<std::vector<std::string>> out;
  const std::regex polyline(R"re(<polyline class="values"[^>]* points="([^"]*)")re");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), polyline);
       it != std::sregex_iterator(); ++it) {
    std::vector<std::string> points;
    const std::string text = (*it)[1];
    for (std::size_t at = 0; at < text.size();) {
      const std::size_t end = std::min(text.find(' ', at), text.size());
      points.push_back(text.substr(at, end - at));
      at = end + 1;
    }
    out.push_back(std::move(points));
  }
  return out;
}

/// make_finding's pod with its series over the hour: every 10 s bucket has an outbound value,
/// every 5th bucket has no inbound value; the anomalous buckets (60–65) carry their values.
finding with_series(finding f) {
  finding_series s;
  s.measures = {{"inbound_network_io", 2000, 500, {}}, {"outbound_network_io", 1000, 100, {}}};
  for (std::int64_t i = 0; i < 360; ++i) {
    s.times.push_back(f.window_start + 10 * i);
    const bool spike = i >= 60 && i < 66;
    s.measures[0].values.push_back(i % 5 == 4 ? std::nullopt
                                              : std::optional<double>(i == 60 ? 4100 : 2000));
    s.measures[1].values.push_back(spike ? 1500 : 950 + static_cast<double>(i % 10) * 10);
  }
  f.series = std::move(s);
  return f;
}

}  // namespace

TEST_CASE("O5 chart draws every bucket of the window") {
  const finding f = with_series(make_finding("checkout-7d4b9c8f6d-x2k9p", 1500, 6));
  html_report_context ctx;
  std::string svg;
  io::detail::append_chart(svg, f, ctx);
  const auto lines = polylines_of(svg);
  REQUIRE(lines.size() == 2);          // one per measure
  CHECK(lines[0].size() == 360 - 72);  // inbound: the buckets with a value
  CHECK(lines[1].size() == 360);       // outbound: every bucket
  // The first bucket's point sits in its bucket's middle, at the plot's left edge (x 86 + 5 s
  // of the hour's 724 px); the last at the right edge.
  CHECK(lines[1].front().starts_with("87.0,"));
  CHECK(lines[1].back().starts_with("809.0,"));
  // Anomalous buckets marked on top, with both baseline lines per measure, axes with units.
  CHECK(count_of(svg, "<circle class=\"anomalous\"") == f.measures.size());
  CHECK(count_of(svg, "class=\"avg\"") == 2);
  CHECK(count_of(svg, "class=\"threshold\"") == 2);
  CHECK(svg.find("avg + 4\xC2\xB7stdev of outbound_network_io = 1400") != std::string::npos);
  CHECK(svg.find("bytes per 10 s span") != std::string::npos);
  CHECK(svg.find("time (UTC), 2023-11-14T22:13:20Z \xE2\x80\x93 2023-11-14T23:13:20Z") !=
        std::string::npos);
  CHECK(svg.find(">anomalous bucket</text>") != std::string::npos);
  CHECK(svg.find("outbound_network_io: 360 buckets with a value") != std::string::npos);
  // Without a series only the anomalous buckets are drawn (6 outbound, 1 inbound).
  std::string bare;
  io::detail::append_chart(bare, make_finding("checkout-7d4b9c8f6d-x2k9p", 1500, 6), ctx);
  const auto anomalous_only = polylines_of(bare);
  REQUIRE(anomalous_only.size() == 2);
  CHECK(anomalous_only[0].size() == 6);
  CHECK(anomalous_only[1].size() == 1);
}

TEST_CASE("O5 chart of a series: ratio unit, empty measures, escaped names") {
  finding f = with_series(make_finding("checkout-7d4b9c8f6d-x2k9p", 1500, 6));
  for (auto& m : f.measures) m.measure = "inbound:outbound";
  f.series->measures[0].measure = "inbound:outbound";
  f.series->measures[1].measure = "<b>\"x\"";
  f.series->measures[1].values.assign(360, std::nullopt);
  html_report_context ctx;
  std::string svg;
  io::detail::append_chart(svg, f, ctx);
  CHECK(svg.find("ratio (no unit)") != std::string::npos);
  const auto lines = polylines_of(svg);
  REQUIRE(lines.size() == 1);  // a measure with no value in the window has no line
  CHECK(lines[0].size() == 360 - 72);
  CHECK(svg.find("&lt;b&gt;&quot;x&quot;</text>") != std::string::npos);
  CHECK(svg.find("(no value in the window)") != std::string::npos);
  CHECK(svg.find("<b>") == std::string::npos);
  // The page stays one chart per finding, whatever the series.
  const std::vector<finding> findings{f};
  const std::string page = write_findings(findings, output_format::html);
  CHECK(count_of(page, "<svg") == 1);
  CHECK(count_of(page, "<polyline class=\"values\"") == 1);
}

TEST_CASE("O5 HTML report: no findings says so") {
  const std::string page = write_findings(std::vector<finding>{}, output_format::html);
  CHECK(page.find("<p>No findings.</p>") != std::string::npos);
  CHECK(count_of(page, "<svg") == 0);
}

TEST_CASE("O2 table: the largest z per measure and the anomalous bucket times") {
  std::vector<finding> findings{make_finding("checkout-7d4b9c8f6d-x2k9p", 1500, 6)};
  findings[0].measures[2].value = 1700;  // the largest z of the outbound measure: 7
  findings[0].measures[2].z = 7;
  std::string out;
  table_options wide;
  wide.width = 400;  // one line per measure, to compare whole
  write_findings_table(out, findings, wide);
  CHECK(
      out.find("  - outbound_network_io: largest z 7.00 at 22:23:40 (value 1700, avg 1000, "
               "stdev 100); 6 anomalous buckets at 22:23:20 22:23:30 22:23:40 22:23:50 22:24:00") !=
      std::string::npos);
  CHECK(out.find("  - inbound_network_io: largest z 4.20 at 22:23:20 (value 4100, avg 2000, "
                 "stdev 500); 1 anomalous bucket at 22:23:20") != std::string::npos);
  CHECK(out.find("higher than average") == std::string::npos);  // the texts are elsewhere
}

}  // namespace test_html_report
