// OTLP protobuf (spec I3.5): the field numbers of the messages otlp_reader decodes, the content
// tests that tell an OTLP protobuf request (or a file of them) from OTLP JSON (K1.1, I3.5), and
// the text an AnyValue attribute becomes, equal to what the JSON path reads from the JSON twin.
// Decoding itself uses protozero (Debian's libprotozero-dev): zero-copy, no generated code.
#pragma once

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

#include <protozero/exception.hpp>
#include <protozero/pbf_reader.hpp>
#include <protozero/pbf_writer.hpp>

namespace k8snetio::io {

/// The field numbers of opentelemetry-proto (opentelemetry/proto/collector/metrics/v1/
/// metrics_service.proto, metrics/v1/metrics.proto, common/v1/common.proto,
/// resource/v1/resource.proto; checked against the repository at ac2c4b5, 2026-08-18).
namespace otlp_field {
// ExportMetricsServiceRequest and MetricsData (the same wire shape)
inline constexpr protozero::pbf_tag_type request_resource_metrics = 1;
// ResourceMetrics
inline constexpr protozero::pbf_tag_type resource_metrics_resource = 1;
inline constexpr protozero::pbf_tag_type resource_metrics_scope_metrics = 2;
/// Before opentelemetry-proto 0.19: `instrumentation_library_metrics`, now `reserved 1000`;
/// its InstrumentationLibraryMetrics had ScopeMetrics' shape (metrics = 2).
inline constexpr protozero::pbf_tag_type resource_metrics_instrumentation_library_metrics = 1000;
// Resource
inline constexpr protozero::pbf_tag_type resource_attributes = 1;
// ScopeMetrics
inline constexpr protozero::pbf_tag_type scope_metrics_metrics = 2;
// Metric (the data oneof)
inline constexpr protozero::pbf_tag_type metric_name = 1;
inline constexpr protozero::pbf_tag_type metric_gauge = 5;
inline constexpr protozero::pbf_tag_type metric_sum = 7;
inline constexpr protozero::pbf_tag_type metric_histogram = 9;
inline constexpr protozero::pbf_tag_type metric_exponential_histogram = 10;
inline constexpr protozero::pbf_tag_type metric_summary = 11;
// Gauge, Sum, Histogram, ExponentialHistogram, Summary
inline constexpr protozero::pbf_tag_type data_points = 1;
inline constexpr protozero::pbf_tag_type sum_aggregation_temporality = 2;
// NumberDataPoint
inline constexpr protozero::pbf_tag_type point_start_time_unix_nano = 2;  // fixed64
inline constexpr protozero::pbf_tag_type point_time_unix_nano = 3;        // fixed64
inline constexpr protozero::pbf_tag_type point_as_double = 4;             // double
inline constexpr protozero::pbf_tag_type point_as_int = 6;                // sfixed64
inline constexpr protozero::pbf_tag_type point_attributes = 7;
inline constexpr protozero::pbf_tag_type point_flags = 8;  // uint32
// KeyValue
inline constexpr protozero::pbf_tag_type key_value_key = 1;
inline constexpr protozero::pbf_tag_type key_value_value = 2;
// AnyValue
inline constexpr protozero::pbf_tag_type any_string = 1;
inline constexpr protozero::pbf_tag_type any_bool = 2;
inline constexpr protozero::pbf_tag_type any_int = 3;
inline constexpr protozero::pbf_tag_type any_double = 4;
inline constexpr protozero::pbf_tag_type any_array = 5;
inline constexpr protozero::pbf_tag_type any_kvlist = 6;
inline constexpr protozero::pbf_tag_type any_bytes = 7;
// ArrayValue, KeyValueList
inline constexpr protozero::pbf_tag_type list_values = 1;
// ExportMetricsServiceResponse, ExportMetricsPartialSuccess
inline constexpr protozero::pbf_tag_type response_partial_success = 1;
inline constexpr protozero::pbf_tag_type partial_success_rejected_data_points = 1;  // int64
inline constexpr protozero::pbf_tag_type partial_success_error_message = 2;
}  // namespace otlp_field

/// L2: the protobuf ExportMetricsServiceResponse of a request whose `rejected` points were
/// refused (`partial_success` set only then, as the OTLP specification asks); empty when none.
inline std::string otlp_protobuf_response(std::int64_t rejected, std::string_view message) {
  std::string out;
  if (rejected == 0 && message.empty()) return out;
  protozero::pbf_writer response(out);
  protozero::pbf_writer partial(response, otlp_field::response_partial_success);
  if (rejected != 0) partial.add_int64(otlp_field::partial_success_rejected_data_points, rejected);
  if (!message.empty())
    partial.add_string(otlp_field::partial_success_error_message, message.data(), message.size());
  return out;
}

namespace detail {

/// Whether the bytes, as protobuf, are a sequence of field-1 messages that tile them exactly:
/// the top level of an ExportMetricsServiceRequest.
inline bool tiles_as_otlp_request(std::string_view bytes) noexcept {
  try {
    protozero::pbf_reader message(bytes.data(), bytes.size());
    while (message.next()) {
      if (message.tag() != otlp_field::request_resource_metrics ||
          message.wire_type() != protozero::pbf_wire_type::length_delimited)
        return false;
      message.skip();
    }
    return true;
  } catch (const protozero::exception&) {
    return false;
  }
}

inline constexpr std::string_view zstd_frame_magic = "\x28\xB5\x2F\xFD";

}  // namespace detail

/// K1.1: whether one OTLP request (a Kafka message, an HTTP body) is JSON rather than protobuf.
/// JSON starts, after an optional UTF-8 byte order mark and blanks, with '{'; a protobuf
/// request starts with its first resource_metrics field (byte 0x0A, which is also a JSON blank)
/// or is empty. A body that starts with 0x0A and is a well-formed request at the top level is
/// taken as protobuf, whatever follows.
inline bool looks_like_otlp_json(std::string_view bytes) noexcept {
  if (bytes.empty()) return false;
  if (bytes[0] == '\x0A' && detail::tiles_as_otlp_request(bytes)) return false;
  if (bytes.starts_with("\xEF\xBB\xBF")) bytes.remove_prefix(3);
  for (char c : bytes) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{';
  }
  return false;
}

/// I3.5: whether a file's first bytes are the collector file exporter's `format: proto`
/// framing: a 4-byte big-endian length, then an ExportMetricsServiceRequest (its first byte
/// 0x0A) or that request compressed on its own by zstd (`compression: zstd`). The length is
/// taken as plausible under 144 MiB, so that no text (JSON, CSV: its first byte a printable
/// character or a blank) is ever mistaken for it.
inline bool looks_like_otlp_proto_frames(std::string_view head) noexcept {
  if (head.size() < 4) return false;
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(head[i]); };
  if (byte(0) >= 0x09) return false;
  const std::uint32_t length = (std::uint32_t{byte(0)} << 24) | (std::uint32_t{byte(1)} << 16) |
                               (std::uint32_t{byte(2)} << 8) | std::uint32_t{byte(3)};
  if (length == 0) return head.size() == 4 || looks_like_otlp_proto_frames(head.substr(4));
  if (head.size() == 4) return false;
  return byte(4) == 0x0A || head.substr(4).starts_with(detail::zstd_frame_magic);
}

namespace detail {

/// The text of an OTLP/JSON double as the collector writes it (Go's encoding/json rules, which
/// pdata's JSON follows): the shortest round-trip digits, fixed notation from 1e-6 to below
/// 1e21 and exponent notation outside ("1e+21", "1e-7"); "NaN", "Infinity", "-Infinity".
inline void append_otlp_json_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "Infinity" : "-Infinity";
    return;
  }
  std::array<char, 64> buffer{};
  const double magnitude = std::fabs(v);
  const bool exponent = magnitude != 0 && (magnitude < 1e-6 || magnitude >= 1e21);
  auto [end, ec] =
      std::to_chars(buffer.data(), buffer.data() + buffer.size(), v,
                    exponent ? std::chars_format::scientific : std::chars_format::fixed);
  std::string_view text(buffer.data(),
                        ec == std::errc() ? static_cast<std::size_t>(end - buffer.data()) : 0);
  out.append(text);
  if (exponent && out.size() >= 4) {
    // "1e-07" → "1e-7", as Go does for two-digit exponents with a leading zero.
    const std::size_t n = out.size();
    if (out[n - 4] == 'e' && out[n - 3] == '-' && out[n - 2] == '0') out.erase(n - 2, 1);
  }
}

/// Standard base64 with padding: the OTLP/JSON text of a bytes value.
inline void append_base64(std::string& out, std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  const auto at = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  if (i + 1 == bytes.size()) {
    const std::uint32_t n = at(i) << 16;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const std::uint32_t n = (at(i) << 16) | (at(i + 1) << 8);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += '=';
  }
}

/// A JSON string literal of UTF-8 text: quotes, backslashes and control characters escaped.
inline void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char hex[] = "0123456789abcdef";
          out += "\\u00";
          out += hex[(static_cast<unsigned char>(c) >> 4) & 0xF];
          out += hex[static_cast<unsigned char>(c) & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

}  // namespace detail
}  // namespace k8snetio::io
