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

/// The code point of the well-formed sequence of `length` bytes (utf8_sequence_length) at the
/// start of `s`.
inline std::uint32_t utf8_code_point(std::string_view s, std::size_t length) noexcept {
  const auto byte = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(s[i]));
  };
  switch (length) {
    case 1: return byte(0);
    case 2: return (byte(0) & 0x1Fu) << 6 | (byte(1) & 0x3Fu);
    case 3: return (byte(0) & 0x0Fu) << 12 | (byte(1) & 0x3Fu) << 6 | (byte(2) & 0x3Fu);
    default:
      return (byte(0) & 0x07u) << 18 | (byte(1) & 0x3Fu) << 12 | (byte(2) & 0x3Fu) << 6 |
             (byte(3) & 0x3Fu);
  }
}

/// O6.3: the code points that are invisible yet change what is shown: C1 controls, the
/// bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E, U+200F,
/// U+202A–U+202E, U+2066–U+2069; U+202E turns "exe.txt" into "txt.exe" on screen) and the line
/// and paragraph separators U+2028–U+2029. Shown escaped as \uNNNN wherever text from the
/// input is shown to people.
constexpr bool invisible_control(std::uint32_t code_point) noexcept {
  return (code_point >= 0x80 && code_point < 0xA0) || code_point == 0x061C ||
         code_point == 0x200E || code_point == 0x200F ||
         (code_point >= 0x2028 && code_point <= 0x202E) ||
         (code_point >= 0x2066 && code_point <= 0x2069);
}

}  // namespace detail

/// O2, O6.3: text safe for a terminal: C0 controls and DEL as \xNN, the invisible controls
/// (detail::invisible_control: C1, bidirectional, line separators) as \uNNNN, so a hostile pod
/// name can neither send escape sequences nor reorder what is shown; ill-formed UTF-8 as
/// U+FFFD. Everything else is kept as it is.
inline std::string terminal_text(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xF];
      ++i;
      continue;
    }
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    std::size_t subpart = 1;
    const std::size_t length = detail::utf8_sequence_length(text.substr(i), subpart);
    if (length == 0) {
      out += "\xEF\xBF\xBD";
      i += subpart;
      continue;
    }
    const std::uint32_t code_point = detail::utf8_code_point(text.substr(i), length);
    if (detail::invisible_control(code_point)) {
      out += "\\u";
      for (int shift = 12; shift >= 0; shift -= 4) out += hex[(code_point >> shift) & 0xF];
    } else {
      out.append(text.data() + i, length);
    }
    i += length;
  }
  return out;
}

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
