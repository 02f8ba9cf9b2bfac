// O6.3: what a diagnostic echoes from the input can neither forge a log line nor drive a
// terminal, and still says what the bytes were.
#include <k8snetio/io/output/diagnostic_text.hpp>

#include <string>
#include <string_view>

#include <catch2/catch.hpp>

namespace test_diagnostics {

using k8snetio::io::escape_diagnostic;

namespace {

/// No byte a terminal or a log reader would act on: C0, DEL, C1 (as UTF-8), ESC.
bool is_inert(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) return false;
    if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0xA0)
      return false;
  }
  return true;
}

}  // namespace

TEST_CASE("O6.3 printable text, UTF-8 included, is echoed unchanged") {
  CHECK(escape_diagnostic("") == "");
  CHECK(escape_diagnostic("a.csv:3: bad number: _value='12kB'") ==
        "a.csv:3: bad number: _value='12kB'");
  CHECK(escape_diagnostic("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") ==
        "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

TEST_CASE("O6.3 a forged log line and terminal escapes are shown escaped") {
  const std::string cell = "1\n\x1b[2Jk8s-netio: FORGED\r\x07\t\x7f";
  const std::string out = escape_diagnostic(cell);
  CHECK(out == "1\\n\\x1b[2Jk8s-netio: FORGED\\r\\x07\\t\\x7f");
  CHECK(is_inert(out));
}

TEST_CASE("O6.3 backslashes are doubled, so an escape in the input cannot pass for ours") {
  CHECK(escape_diagnostic("a\\nb") == "a\\\\nb");
  CHECK(escape_diagnostic("a\nb") != escape_diagnostic("a\\nb"));
}

TEST_CASE("O6.3 C1 controls, bidirectional overrides and line separators as \\u") {
  CHECK(escape_diagnostic("x\xC2\x9B"
                          "31my") == "x\\u009b31my");                           // CSI
  CHECK(escape_diagnostic("evil\xE2\x80\xAEtxt.exe") == "evil\\u202etxt.exe");  // RLO
  CHECK(escape_diagnostic("a\xE2\x80\xA8"
                          "b\xE2\x81\xA6") == "a\\u2028b\\u2066");
  CHECK(escape_diagnostic("\xC2\xA0") == "\xC2\xA0");  // no-break space is printable
}

TEST_CASE("O6.3 ill-formed UTF-8 is shown byte by byte") {
  CHECK(escape_diagnostic("bad \xff\xfe end") == "bad \\xff\\xfe end");
  CHECK(escape_diagnostic("cut \xE2\x82") == "cut \\xe2\\x82");   // truncated sequence
  CHECK(escape_diagnostic("\xC0\xAF") == "\\xc0\\xaf");           // overlong
  CHECK(escape_diagnostic("\xED\xA0\x80") == "\\xed\\xa0\\x80");  // surrogate
  const std::string out = escape_diagnostic("\x80\x9b[31m");
  CHECK(out == "\\x80\\x9b[31m");
  CHECK(is_inert(out));
}

}  // namespace test_diagnostics
