// L0: a payload from bytes into points, with no transport: OTLP JSON, OTLP protobuf and HEC
// events. The decoder keeps the readers' state that spans payloads (the OTLP cumulative
// series), which the live detector saves with the rest of its state (issue 28 #7).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <k8snetio/io/input/hec_reader.hpp>
#include <k8snetio/io/input/otlp_reader.hpp>
#include <k8snetio/service/outcome.hpp>

namespace k8snetio::service {

/// What a payload holds.
enum class payload_kind : std::uint8_t { otlp_json = 1, otlp_protobuf = 2, hec = 3 };

constexpr std::string_view to_string(payload_kind k) noexcept {
  switch (k) {
    case payload_kind::otlp_json: return "otlp_json";
    case payload_kind::otlp_protobuf: return "otlp_protobuf";
    case payload_kind::hec: return "hec";
  }
  return "unknown";
}

/// K1.1: an OTLP message's encoding told apart by content (io::looks_like_otlp_json).
inline payload_kind sniff_otlp(std::string_view bytes) noexcept {
  return io::looks_like_otlp_json(bytes) ? payload_kind::otlp_json : payload_kind::otlp_protobuf;
}

/// What the readers said about one payload (the points they handed on are not in it).
struct decode_report {
  bool unsupported = false;          ///< this build cannot read the payload kind
  bool malformed = false;            ///< the payload (or an event of it) is not well formed
  outcome_counts skipped;            ///< points the readers did not hand on, by outcome
  std::uint64_t first_bad_line = 0;  ///< 1-based line of the first malformed part; 0: none
  /// HEC (L3): the 0-based index of the refused event that ended the request (the events
  /// before it were read, those after it not): HEC's invalid-event-number.
  std::optional<std::uint64_t> first_bad_event;
  std::string message;  ///< the first problems, named
};

/// Decodes payloads into points; keeps the OTLP cumulative series across payloads.
class payload_decoder {
 public:
  explicit payload_decoder(io::reader_options options)
      : otlp_(std::make_unique<io::otlp_reader>(options)),
        hec_(std::make_unique<io::hec_reader>(options)) {
    hec_->stop_at_bad_event(true);  // L3: a HEC request stops at its first refused event
  }

  /// Hands every point of `bytes` to `sink` (an invocable taking const metric_point&).
  template <class Sink>
  decode_report decode(payload_kind kind, std::string_view bytes, Sink&& sink) {
    decode_report out;
    io::read_report report;
    switch (kind) {
      case payload_kind::otlp_json: {
        // One JSON document that may span lines; JSON strings hold no raw line breaks, so it is
        // read as one line.
        std::string line(bytes);
        std::replace(line.begin(), line.end(), '\n', ' ');
        std::replace(line.begin(), line.end(), '\r', ' ');
        line += '\n';
        otlp_->start_file("request");
        (void)otlp_->feed(line, sink);
        report = otlp_->take_report();
        break;
      }
      case payload_kind::otlp_protobuf:
        // I3.5: one ExportMetricsServiceRequest, sharing otlp_'s cumulative series with JSON.
        otlp_->start_file("request");
        (void)otlp_->feed_protobuf(bytes, sink);
        report = otlp_->take_report();
        break;
      case payload_kind::hec: {
        hec_->start_file("request");
        auto r = hec_->feed(bytes, sink);
        if (r) (void)hec_->finish(sink);
        out.first_bad_event = hec_->bad_event();
        report = hec_->take_report();
        break;
      }
    }
    for (std::size_t i = 0; i < io::skip_reason_count; ++i)
      if (report.skipped[i])
        out.skipped.add(outcome_of(static_cast<io::skip_reason>(i)), report.skipped[i]);
    out.malformed = report.count(io::skip_reason::bad_syntax) != 0 || out.first_bad_event;
    for (const auto& e : report.examples) {
      if (e.reason == io::skip_reason::bad_syntax && !out.first_bad_line)
        out.first_bad_line = e.line;
      if (out.message.size() < 200)
        out.message += (out.message.empty() ? "" : "; ") + e.to_string();
    }
    return out;
  }

  /// The OTLP cumulative series (S4 snapshot of the reader) and their restore.
  std::string save_series() const { return otlp_->save_series(); }
  void restore_series(std::string_view snapshot) { otlp_->restore_series(snapshot); }
  std::size_t series_count() const noexcept { return otlp_->series_count(); }

 private:
  std::unique_ptr<io::otlp_reader> otlp_;
  std::unique_ptr<io::hec_reader> hec_;
};

}  // namespace k8snetio::service
