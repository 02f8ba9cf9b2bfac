// The definitions of html_report_writer.hpp's writers (library.md A4): included by that header
// unless K8SNETIO_COMPILED_IO, and compiled once by src/compiled_io.cpp.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <k8snetio/io/output/html_report_writer.hpp>
#include <k8snetio/io/output/json_escape.hpp>
#include <k8snetio/io/output/utc_time.hpp>
#include <k8snetio/model/finding.hpp>
#include <k8snetio/version.hpp>

namespace k8snetio::io {

namespace detail {

/// Text for HTML (content and quoted attributes): & < > " ' as entities; C0 controls, DEL and
/// C1 controls shown as \xNN, the bidirectional controls and line separators
/// (detail::invisible_control) as \uNNNN (never sent raw: they could hide or reorder what is
/// shown, O6.3); ill-formed UTF-8 as U+FFFD.
inline void append_html_text(std::string& out, std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default:
          if (c < 0x20 || c == 0x7F)
            fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
          else
            out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    std::size_t subpart = 1;
    const std::size_t length = utf8_sequence_length(text.substr(i), subpart);
    if (length == 0) {
      out += "\xEF\xBF\xBD";
      i += subpart;
    } else if (length == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0) {
      fmt::format_to(std::back_inserter(out), "\\x{:02x}",
                     static_cast<unsigned char>(text[i + 1]));  // C1 control
      i += 2;
    } else if (const std::uint32_t code_point = utf8_code_point(text.substr(i), length);
               invisible_control(code_point)) {  // O6.3: bidirectional controls, U+2028/9
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", code_point);
      i += length;
    } else {
      out.append(text.data() + i, length);
      i += length;
    }
  }
}

inline std::string html_text(std::string_view text) {
  std::string out;
  append_html_text(out, text);
  return out;
}

/// A number for an axis or a label: at most 4 significant digits, with k/M/G/T for thousands.
inline std::string short_number(double v) {
  static constexpr std::array<std::string_view, 5> suffix{"", "k", "M", "G", "T"};
  std::size_t i = 0;
  double scaled = v;
  while (std::fabs(scaled) >= 1000 && i + 1 < suffix.size()) {
    scaled /= 1000;
    ++i;
  }
  return fmt::format("{:.4g}{}", scaled, suffix[i]);
}

/// A "nice" step (1, 2 or 5 × 10^n) that cuts [0, max] into about `ticks` parts.
inline double nice_step(double max, int ticks) {
  const double raw = max / ticks;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / magnitude;
  return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * magnitude;
}

inline constexpr std::array<std::string_view, 4> chart_colours{"#1f6fb4", "#c9302c", "#2e8b57",
                                                               "#8e44ad"};

/// The measures of a finding in order of first appearance, with their baseline.
struct chart_measure {
  std::string_view name;
  std::optional<double> avg, stdev;
  std::vector<const anomalous_measure*> points;
};

inline std::vector<chart_measure> chart_measures(const finding& f) {
  std::vector<chart_measure> out;
  for (const auto& m : f.measures) {
    auto it = std::find_if(out.begin(), out.end(),
                           [&m](const chart_measure& c) { return c.name == m.measure; });
    if (it == out.end()) it = out.insert(out.end(), chart_measure{m.measure, {}, {}, {}});
    if (!it->avg) it->avg = m.avg;
    if (!it->stdev) it->stdev = m.stdev;
    it->points.push_back(&m);
  }
  return out;
}

/// "14:05:20" of an epoch time.
inline std::string clock_utc(std::int64_t t) { return format_utc(t).substr(11, 8); }

/// A round step for a time axis (10 s … 1 h, 2 h, … a day, then whole days) that cuts `range`
/// seconds into at most `ticks` parts.
inline std::int64_t time_step(std::int64_t range, std::int64_t ticks) {
  static constexpr std::array<std::int64_t, 17> steps{
      10,   20,   30,    60,    120,   300,   600,       900,      1800,
      3600, 7200, 10800, 21600, 43200, 86400, 2 * 86400, 7 * 86400};
  for (std::int64_t s : steps)
    if (range <= s * ticks) return s;
  return (range / ticks / 86400 + 1) * 86400;
}

/// The first multiple of `step` at or after `t` (also for times before the epoch).
inline std::int64_t ceil_to(std::int64_t t, std::int64_t step) {
  const std::int64_t below = (t >= 0 ? t / step : (t - step + 1) / step) * step;
  return below == t ? t : below + step;
}

/// One line of a finding's chart: a measure's values per bucket (its series when the detector
/// kept it, else only its anomalous buckets), its service's baseline, its anomalous buckets.
struct chart_line {
  std::string_view name;
  std::optional<double> avg, stdev;
  std::vector<std::pair<std::int64_t, double>> values;  ///< (bucket start, value), time order
  std::vector<const anomalous_measure*> marks;          ///< the anomalous buckets
};

inline std::vector<chart_line> chart_lines(const finding& f) {
  std::vector<chart_line> out;
  if (f.series)
    for (const auto& m : f.series->measures) {
      chart_line& line = out.emplace_back(chart_line{m.measure, m.avg, m.stdev, {}, {}});
      for (std::size_t i = 0; i < m.values.size() && i < f.series->times.size(); ++i)
        if (m.values[i]) line.values.emplace_back(f.series->times[i], *m.values[i]);
    }
  for (const auto& m : chart_measures(f)) {
    auto it = std::find_if(out.begin(), out.end(),
                           [&m](const chart_line& l) { return l.name == m.name; });
    if (it == out.end()) {  // no series: the anomalous buckets are all there is to draw
      it = out.insert(out.end(), chart_line{m.name, m.avg, m.stdev, {}, {}});
      for (const auto* p : m.points) it->values.emplace_back(p->time, p->value);
    }
    if (!it->avg) it->avg = m.avg;
    if (!it->stdev) it->stdev = m.stdev;
    it->marks = m.points;
  }
  return out;
}

/// One finding's chart: per measure its value per bucket across the window (a polyline over
/// the buckets that have a value; only the anomalous ones when the finding has no series), its
/// service's avg (dashed) and avg + k·stdev (solid) lines and its anomalous buckets (circles);
/// x is UTC time across the window, y the measure's unit from 0.
inline void append_chart(std::string& out, const finding& f, const html_report_context& ctx) {
  constexpr double width = 1000, height = 320, left = 86, right = 190, top = 16, bottom = 56;
  constexpr double plot_w = width - left - right, plot_h = height - top - bottom;
  const auto lines = chart_lines(f);
  const bool ratio = std::any_of(lines.begin(), lines.end(), [](const chart_line& l) {
    return l.name.find(':') != std::string_view::npos;
  });
  const double half_span = static_cast<double>(ctx.span_seconds) / 2.0;
  std::int64_t x0 = f.window_start, x1 = f.window_end;
  double y_max = 0;
  for (const auto& l : lines) {
    for (const auto& [t, v] : l.values) {
      x0 = std::min(x0, t);
      x1 = std::max(x1, t + ctx.span_seconds);
      if (std::isfinite(v)) y_max = std::max(y_max, v);
    }
    for (const auto* p : l.marks) {
      x0 = std::min(x0, p->time);
      x1 = std::max(x1, p->time + ctx.span_seconds);
      if (std::isfinite(p->value)) y_max = std::max(y_max, p->value);
    }
    if (l.avg) y_max = std::max(y_max, *l.avg);
    if (l.avg && l.stdev) y_max = std::max(y_max, *l.avg + ctx.sigma * *l.stdev);
  }
  if (x1 <= x0) x1 = x0 + std::max<std::int64_t>(ctx.span_seconds, 1);
  if (!(y_max > 0) || !std::isfinite(y_max)) y_max = 1;
  const double step = nice_step(y_max * 1.05, 5);
  y_max = std::ceil(y_max * 1.05 / step) * step;
  const auto x_of = [&](double t) {
    return left + (t - static_cast<double>(x0)) / static_cast<double>(x1 - x0) * plot_w;
  };
  // Clamped to the plot: a non-finite or negative value stays on its edge.
  const auto y_of = [&](double v) {
    const double y = top + plot_h - v / y_max * plot_h;
    return std::isnan(y) ? top + plot_h : std::clamp(y, top, top + plot_h);
  };
  const auto it = std::back_inserter(out);

  fmt::format_to(it,
                 "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" "
                 "height=\"{1}\" xmlns=\"http://www.w3.org/2000/svg\">",
                 width, height);
  out += "<title>";
  append_html_text(out, f.pod);
  out += f.series ? ": each measure per bucket across the window against the service's baseline"
                  : ": anomalous buckets against the service's baseline";
  out += "</title>";
  fmt::format_to(it,
                 "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fff\" "
                 "stroke=\"#999\"/>",
                 left, top, plot_w, plot_h);
  // y axis: ticks, grid and unit
  for (double v = 0; v <= y_max + step / 2; v += step) {
    const double y = y_of(v);
    fmt::format_to(it,
                   "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" class=\"grid\"/>"
                   "<text x=\"{3}\" y=\"{4:.1f}\" class=\"tick\" text-anchor=\"end\">{5}</text>",
                   left, left + plot_w, y, left - 6, y + 4, short_number(v));
  }
  const std::string y_label =
      ratio ? std::string("ratio (no unit), per bucket")
            : fmt::format("bytes per {} s span (bucket mean)", ctx.span_seconds);
  fmt::format_to(it,
                 "<text class=\"axis\" transform=\"translate(18 {:.1f}) rotate(-90)\" "
                 "text-anchor=\"middle\">{}</text>",
                 top + plot_h / 2, y_label);
  // x axis: ticks on round UTC times (at most 7), as clock times, or dates for steps of days
  const std::int64_t x_step = time_step(x1 - x0, 7);
  for (std::int64_t t = ceil_to(x0, x_step); t <= x1; t += x_step)
    fmt::format_to(it,
                   "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" class=\"grid\"/>"
                   "<text x=\"{0:.1f}\" y=\"{3}\" class=\"tick\" text-anchor=\"middle\">{4}</text>",
                   x_of(static_cast<double>(t)), top, top + plot_h, top + plot_h + 16,
                   x_step % 86400 ? clock_utc(t) : format_utc(t).substr(0, 10));
  fmt::format_to(it,
                 "<text class=\"axis\" x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">time (UTC), "
                 "{} \xE2\x80\x93 {}</text>",
                 left + plot_w / 2, height - 12, format_utc(x0), format_utc(x1));
  // per measure: baseline lines, the values, the anomalous marks, a legend entry
  double legend_y = top + 12;
  const auto legend = [&](std::string_view colour, std::string_view text, std::string_view dash) {
    if (!colour.empty())
      fmt::format_to(it,
                     "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\" "
                     "stroke-width=\"2\"{4}/>",
                     left + plot_w + 8, left + plot_w + 28, legend_y - 4, colour, dash);
    fmt::format_to(it, "<text x=\"{}\" y=\"{:.1f}\" class=\"legend\">", left + plot_w + 32,
                   legend_y);
    append_html_text(out, text);
    out += "</text>";
    legend_y += 16;
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& l = lines[i];
    const std::string_view colour = chart_colours[i % chart_colours.size()];
    if (l.avg) {
      fmt::format_to(it,
                     "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\" "
                     "stroke-dasharray=\"6 4\" class=\"avg\"><title>",
                     left, left + plot_w, y_of(*l.avg), colour);
      append_html_text(out, fmt::format("avg_{} = {}", l.name, *l.avg));
      out += "</title></line>";
    }
    if (l.avg && l.stdev) {
      const double threshold = *l.avg + ctx.sigma * *l.stdev;
      fmt::format_to(it,
                     "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\" "
                     "stroke-width=\"1.5\" class=\"threshold\"><title>",
                     left, left + plot_w, y_of(threshold), colour);
      append_html_text(
          out, fmt::format("avg + {}\xC2\xB7stdev of {} = {}", ctx.sigma, l.name, threshold));
      out += "</title></line>";
    }
    if (!l.values.empty()) {
      out += "<polyline class=\"values\" fill=\"none\" stroke-width=\"1.2\" stroke=\"";
      out += colour;
      out += "\" points=\"";
      for (std::size_t p = 0; p < l.values.size(); ++p)
        fmt::format_to(it, "{}{:.1f},{:.1f}", p ? " " : "",
                       x_of(static_cast<double>(l.values[p].first) + half_span),
                       y_of(l.values[p].second));
      out += "\"><title>";
      append_html_text(out, fmt::format("{}: {} bucket{} with a value", l.name, l.values.size(),
                                        l.values.size() == 1 ? "" : "s"));
      out += "</title></polyline>";
    }
    for (const auto* p : l.marks) {
      fmt::format_to(it,
                     "<circle class=\"anomalous\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4.5\" "
                     "fill=\"{}\" stroke=\"#000\"><title>",
                     x_of(static_cast<double>(p->time) + half_span), y_of(p->value), colour);
      append_html_text(out, fmt::format("{} {}={} z={}", format_utc(p->time), l.name, p->value,
                                        p->z ? fmt::format("{:.2f}", *p->z) : "null"));
      out += "</title></circle>";
    }
    legend(colour, l.name, "");
    if (l.values.empty()) legend({}, "(no value in the window)", "");
    if (l.avg)
      legend(colour, fmt::format("avg {}", short_number(*l.avg)), " stroke-dasharray=\"6 4\"");
    if (l.avg && l.stdev)
      legend(colour,
             fmt::format("avg+{}\xC2\xB7sd {}", ctx.sigma,
                         short_number(*l.avg + ctx.sigma * *l.stdev)),
             " stroke-width=\"1\"");
  }
  if (std::any_of(lines.begin(), lines.end(), [](const chart_line& l) { return !l.marks.empty(); }))
    fmt::format_to(it,
                   "<circle cx=\"{}\" cy=\"{:.1f}\" r=\"4.5\" fill=\"#fff\" stroke=\"#000\"/>"
                   "<text x=\"{}\" y=\"{:.1f}\" class=\"legend\">anomalous bucket</text>",
                   left + plot_w + 18, legend_y - 4, left + plot_w + 32, legend_y);
  if (lines.empty())
    fmt::format_to(it,
                   "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" class=\"axis\">no "
                   "anomalous measures recorded for this finding</text>",
                   left + plot_w / 2, top + plot_h / 2);
  out += "</svg>";
}

inline constexpr std::string_view report_style = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0 auto;max-width:1240px;padding:16px 20px}
h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:28px 0 6px;word-break:break-all}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px}dt{font-weight:600}dd{margin:0;word-break:break-word}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top;word-break:break-all}
th{background:#f3f3f3}td.num{text-align:right;white-space:nowrap;word-break:normal}
svg.chart{max-width:100%;height:auto;border:1px solid #eee;background:#fafafa}
.grid{stroke:#e5e5e5}.tick{font-size:11px;fill:#444}.axis{font-size:12px;fill:#222}.legend{font-size:11px;fill:#222}
details{margin:6px 0}pre{white-space:pre-wrap;word-break:break-all;font-size:12px;background:#f7f7f7;padding:6px}
)";

}  // namespace detail

K8SNETIO_IO_INLINE std::vector<const finding*> findings_by_largest_z(
    std::span<const finding> findings) {
  std::vector<const finding*> order;
  order.reserve(findings.size());
  for (const auto& f : findings) order.push_back(&f);
  std::stable_sort(order.begin(), order.end(), [](const finding* a, const finding* b) {
    const auto za = a->largest_z(), zb = b->largest_z();
    if (za && zb) return *za > *zb;
    return za.has_value() && !zb.has_value();
  });
  return order;
}

K8SNETIO_IO_INLINE void write_html_report(std::string& out, std::span<const finding> findings,
                                          const html_report_context& ctx) {
  using detail::append_html_text;
  const auto it = std::back_inserter(out);
  const auto order = findings_by_largest_z(findings);
  const rule_metadata& rule = findings.empty() || !findings.front().rule ? anomalous_network_io_rule
                                                                         : *findings.front().rule;
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>k8s-netio report: ";
  append_html_text(out, rule.name);
  out += "</title><style>";
  out += detail::report_style;
  out += "</style></head><body>\n<h1>";
  append_html_text(out, rule.name);
  out += "</h1>\n<dl class=\"summary\">";
  const auto item = [&](std::string_view term, std::string_view text) {
    out += "<dt>";
    append_html_text(out, term);
    out += "</dt><dd>";
    append_html_text(out, text);
    out += "</dd>";
  };
  if (ctx.window_start && ctx.window_end)
    item("Window (UTC)", fmt::format("{} \xE2\x80\x93 {}", detail::format_utc(*ctx.window_start),
                                     detail::format_utc(*ctx.window_end)));
  if (!ctx.input_summary.empty()) item("Input", ctx.input_summary);
  {
    std::string cold = fmt::format("{}", ctx.unbaselined);
    if (ctx.unbaselined) {
      cold += " (cannot alert until the next baseline run; first: ";
      for (std::size_t i = 0; i < ctx.unbaselined_first.size(); ++i)
        cold += (i ? ", " : "") + ctx.unbaselined_first[i];
      cold += ")";
    }
    item("Services without baseline", cold);
  }
  item("Findings", fmt::format("{}", findings.size()));
  if (ctx.suppressed) item("Suppressed by the allowlist", fmt::format("{}", ctx.suppressed));
  item("Threshold", fmt::format("value > avg + {}\xC2\xB7stdev in more buckets than the "
                                "persistence threshold",
                                ctx.sigma));
  out += "</dl>\n";

  if (findings.empty()) {
    out += "<p>No findings.</p>\n";
  } else {
    out +=
        "<h2>Findings by largest z-score</h2>\n<table><thead><tr><th>#</th><th>largest z</th>"
        "<th>k8s.cluster.name</th><th>host</th><th>k8s.pod.name</th><th>k8s.service</th>"
        "<th>count</th></tr></thead><tbody>\n";
    for (std::size_t i = 0; i < order.size(); ++i) {
      const finding& f = *order[i];
      const auto z = f.largest_z();
      fmt::format_to(it,
                     "<tr><td class=\"num\"><a href=\"#finding-{0}\">{0}</a></td>"
                     "<td class=\"num\">{1}</td><td>",
                     i + 1, z ? fmt::format("{:.2f}", *z) : std::string("\xE2\x80\x94"));
      append_html_text(out, f.cluster);
      out += "</td><td>";
      append_html_text(out, f.host);
      out += "</td><td>";
      append_html_text(out, f.pod);
      out += "</td><td>";
      append_html_text(out, f.service);
      fmt::format_to(it, "</td><td class=\"num\">{}</td></tr>\n", f.count);
    }
    out += "</tbody></table>\n";
  }

  for (std::size_t i = 0; i < order.size(); ++i) {
    const finding& f = *order[i];
    fmt::format_to(it, "<section id=\"finding-{0}\"><h2>{0}. ", i + 1);
    append_html_text(out, f.pod);
    out += " on ";
    append_html_text(out, f.host);
    out += "</h2>\n<p>cluster <b>";
    append_html_text(out, f.cluster);
    out += "</b>, service <b>";
    append_html_text(out, f.service);
    fmt::format_to(it, "</b>: {} anomalous bucket{} between {} and {} (UTC)</p>\n", f.count,
                   f.count == 1 ? "" : "s", detail::format_utc(f.window_start),
                   detail::format_utc(f.window_end));
    detail::append_chart(out, f, ctx);
    out += "\n<details><summary>Anomaly texts (as Splunk writes them)</summary><pre>";
    for (const auto& text : f.anomalies) {
      append_html_text(out, text);
      out += '\n';
    }
    out += "</pre></details></section>\n";
  }
  fmt::format_to(it, "<p style=\"color:#777;font-size:12px\">k8snetio {}</p>\n</body></html>\n",
                 version_string);
}

}  // namespace k8snetio::io
