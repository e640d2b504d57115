// SMTP replies (RFC 5321 section 4.2) with enhanced status codes (RFC 3463), as sent by the
// injection server and as parsed by the delivery client.
#ifndef VOLLEY_ENGINE_SMTP_REPLY_H_
#define VOLLEY_ENGINE_SMTP_REPLY_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace volley::smtp {

// "class.subject.detail", e.g. 5.1.1.
struct EnhancedCode {
  int klass = 0;  // 2, 4 or 5
  int subject = 0;
  int detail = 0;

  std::string ToString() const;  // "5.1.1"
  friend bool operator==(const EnhancedCode&, const EnhancedCode&) = default;
};

// Parses "x.y.z" (x in 2,4,5; y and z of 1 to 3 digits). Returns nullopt otherwise.
std::optional<EnhancedCode> ParseEnhancedCode(absl::string_view text);

struct Reply {
  int code = 0;                          // 3 digits, 200..599
  std::optional<EnhancedCode> enhanced;  // from the first line, when present
  // Text of each line after the code, the separator and (when present on that line) the
  // enhanced code and the space after it. One entry per line, at least one (maybe empty).
  std::vector<std::string> lines;

  bool IsPositive() const { return code >= 200 && code < 400; }
  bool IsTransient() const { return code >= 400 && code < 500; }
  bool IsPermanent() const { return code >= 500 && code < 600; }

  // The lines joined with a single space, e.g. for log records.
  std::string Text() const;
  // The code, the enhanced code when there is one, and Text(): "421 4.7.0 Too many
  // connections", as response rules and bounce rules match it and suppression entries keep it.
  std::string Summary() const;

  // The wire form, every line ending in CRLF: "250-first\r\n250 2.0.0 last\r\n". The enhanced
  // code, when set, is repeated on every line, as RFC 2034 requires. An entry of `lines` that
  // holds '\n' is sent as several lines, and any other CR becomes a space, so that text echoing
  // client input can never end a line early. With no text and no enhanced code the last line
  // is the bare code ("250\r\n").
  std::string ToWire() const;

  friend bool operator==(const Reply&, const Reply&) = default;
};

// Convenience for the server. `enhanced` is "x.y.z" or "" for none (a malformed one, or one
// whose class differs from the code's first digit, fails a DCHECK and is dropped). The reply
// has one line per '\n'-separated part of `text` (a CR before a '\n' and one trailing '\n'
// are dropped), so "a\nb" gives a two-line reply.
Reply MakeReply(int code, absl::string_view enhanced, absl::string_view text);

}  // namespace volley::smtp

#endif  // VOLLEY_ENGINE_SMTP_REPLY_H_
