// For the MIME tests: a strict quoted-printable decoder, so that an encoder's output is both
// checked (line lengths, trailing white space, raw octets, escapes) and read back.
#ifndef VOLLEY_ENGINE_MESSAGE_QP_TEST_UTIL_H_
#define VOLLEY_ENGINE_MESSAGE_QP_TEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace volley::message {

// The value of an upper-case hex digit, -1 for anything else (RFC 2045 6.7 requires upper
// case, and so do we).
inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes `encoded`, failing the test on anything an encoder must not produce (long lines,
// trailing white space, raw octets, malformed or split escapes).
inline std::string DecodeQp(absl::string_view encoded) {
  std::string out;
  const std::vector<absl::string_view> lines = absl::StrSplit(encoded, "\r\n");
  for (size_t n = 0; n < lines.size(); ++n) {
    const absl::string_view line = lines[n];
    EXPECT_LE(line.size(), 76u) << "line " << n << ": " << line;
    if (!line.empty()) {
      EXPECT_NE(line.back(), ' ') << "trailing space on line " << n;
      EXPECT_NE(line.back(), '\t') << "trailing tab on line " << n;
    }
    bool soft_break = false;
    for (size_t i = 0; i < line.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(line[i]);
      EXPECT_TRUE((c >= 33 && c <= 126) || c == ' ' || c == '\t') << "raw octet " << int{c};
      if (c != '=') {
        out.push_back(static_cast<char>(c));
        continue;
      }
      if (i + 1 == line.size()) {
        soft_break = true;
        break;
      }
      if (i + 2 >= line.size() || HexValue(line[i + 1]) < 0 || HexValue(line[i + 2]) < 0) {
        ADD_FAILURE() << "bad or split escape on line " << n << ": " << line;
        break;
      }
      out.push_back(static_cast<char>(HexValue(line[i + 1]) * 16 + HexValue(line[i + 2])));
      i += 2;
    }
    if (!soft_break && n + 1 < lines.size()) out.append("\r\n");
  }
  return out;
}

}  // namespace volley::message

#endif  // VOLLEY_ENGINE_MESSAGE_QP_TEST_UTIL_H_
