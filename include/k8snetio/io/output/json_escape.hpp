// JSON string escaping for the findings writers (spec O1, O3, O4). Dimensions come from
// untrusted telemetry, so the output is valid JSON whatever the bytes: quotes, backslashes
// and control characters are escaped, and ill-formed UTF-8 becomes U+FFFD.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace k8snetio::io {

namespace detail {

/// The length of the well-formed UTF-8 sequence at the start of `s`, or 0 when it is
/// ill-formed; `subpart` gets the length of its maximal ill-formed subpart (at least 1), which
/// becomes one U+FFFD (Unicode §3.9, "substitution of maximal subparts", as WHATWG decodes).
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t& subpart) noexcept {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  subpart = 1;
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF)
    length = 2;
  else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0)
      low = 0xA0;  // no overlong forms
    else if (lead == 0xED)
      high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0)
      low = 0x90;  // no overlong forms
    else if (lead == 0xF4)
      high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;  // a continuation byte, C0, C1 or F5..FF
  }
  for (std::size_t i = 1; i < length; ++i) {
    if (i >= s.size()) return 0;
    const unsigned char c = byte(i);
    if (i == 1 ? (c < low || c > high) : (c < 0x80 || c > 0xBF)) return 0;
    subpart = i + 1;
  }
  return length;
}

}  // namespace detail

/// Appends the JSON string literal of `text`, quotes included. `"` and `\` are escaped;
/// control characters as \b \f \n \r \t or \u00XX, DEL as \u007f; U+2028 and U+2029 as
/// \u2028 and \u2029 (legal JSON, but line breaks to JavaScript); other well-formed UTF-8
/// passes through unchanged, and each maximal ill-formed subpart becomes \ufffd.
inline void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t i = 0;
  while (i < text.size()) {
    // Copy the run of bytes that need no escaping in one go.
    std::size_t run = i;
    while (run < text.size()) {
      const auto c = static_cast<unsigned char>(text[run]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7F) break;
      ++run;
    }
    out.append(text.data() + i, run - i);
    i = run;
    if (i == text.size()) break;
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xF];
      }
      ++i;
      continue;
    }
    std::size_t subpart = 1;
    const std::size_t length = detail::utf8_sequence_length(text.substr(i), subpart);
    if (length == 0) {
      out += "\\ufffd";
      i += subpart;
    } else if (length == 3 && c == 0xE2 && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(text[i + 2]) == 0xA8 ||
                static_cast<unsigned char>(text[i + 2]) == 0xA9)) {
      out += static_cast<unsigned char>(text[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 3;
    } else {
      out.append(text.data() + i, length);
      i += length;
    }
  }
  out += '"';
}

/// The JSON string literal of `text` (see append_json_string).
inline std::string json_string(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  append_json_string(out, text);
  return out;
}

}  // namespace k8snetio::io
