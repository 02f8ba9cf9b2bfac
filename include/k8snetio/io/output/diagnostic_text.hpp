// O6.3 — text from the input (cells, pod names, file names) made safe to echo in a diagnostic:
// it can neither forge a log line (no line breaks) nor drive a terminal (no escape sequences),
// and what it was stays readable and unambiguous.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <k8snetio/io/output/json_escape.hpp>

namespace k8snetio::io {

/// `text` with, escaped: a backslash as `\\`; C0 controls and DEL as `\n`, `\r`, `\t` or
/// `\xNN`; C1 controls, the bidirectional overrides and isolates (U+061C, U+200E–U+200F,
/// U+202A–U+202E, U+2066–U+2069) and the line/paragraph separators U+2028–U+2029 as `\uNNNN`;
/// each byte of ill-formed UTF-8 as `\xNN`. Well-formed printable UTF-8 is kept as it is.
inline std::string escape_diagnostic(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto hex_byte = [&out](unsigned char c) {
    fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20 || c == 0x7F)
            hex_byte(c);
          else
            out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    std::size_t subpart = 1;
    const std::size_t length = detail::utf8_sequence_length(text.substr(i), subpart);
    if (length == 0) {  // ill-formed: every byte of the maximal subpart, as bytes
      for (std::size_t k = 0; k < subpart && i + k < text.size(); ++k)
        hex_byte(static_cast<unsigned char>(text[i + k]));
      i += subpart ? subpart : 1;
      continue;
    }
    const std::uint32_t code_point = detail::utf8_code_point(text.substr(i), length);
    if (detail::invisible_control(code_point))
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", code_point);
    else
      out.append(text.data() + i, length);
    i += length;
  }
  return out;
}

}  // namespace k8snetio::io
