// DATA body transparency (RFC 5321 section 4.5.2).
#ifndef VOLLEY_ENGINE_SMTP_DOT_STUFFING_H_
#define VOLLEY_ENGINE_SMTP_DOT_STUFFING_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace volley::smtp {

// Server side: removes dot-stuffing from DATA as it arrives and finds the end-of-data marker
// (CRLF "." CRLF; the first line counts as starting after a CRLF). Lines end in CRLF in the
// output; a bare LF in the input is converted to CRLF, a bare CR is kept as is. Only the
// standard sequence CRLF "." CRLF ends the data: a "." line next to a bare LF ("\n.\r\n",
// "\r\n.\n") is content. Otherwise a sender and Volley could disagree about where a message
// ends, which is what SMTP smuggling exploits; this is Postfix's smtpd_forbid_bare_newline =
// normalize. A line starting with "." loses that dot (RFC 5321 4.5.2, also when the client did
// not double it).
// The terminating "." line is not part of the output.
class DotUnstuffer {
 public:
  // `max_size` caps the output: beyond it, bytes are counted but not stored, and
  // overflowed() turns true (the caller then rejects the message with 552 once Feed finds the
  // end, after reading the whole DATA so that the session stays in sync).
  explicit DotUnstuffer(size_t max_size) : max_size_(max_size) {}

  // Consumes bytes from `input` and appends the unstuffed text to *out. Returns the number of
  // bytes consumed: all of them, or fewer when the end-of-data line ended within `input` (the
  // rest belongs to the next commands, as pipelining allows).
  size_t Feed(absl::string_view input, std::string* out);

  bool done() const { return done_; }
  bool overflowed() const { return overflowed_; }
  // Octets of message content seen so far (as they are stored: unstuffed, CRLF line ends),
  // including those dropped after an overflow. Equals the output's size unless overflowed().
  size_t total_size() const { return total_size_; }
  void Reset();

 private:
  enum class State { kLineStart, kBareLineStart, kMidLine, kSawCr, kDotAtLineStart, kDotCr };
  size_t max_size_;
  State state_ = State::kLineStart;
  size_t total_size_ = 0;
  bool done_ = false;
  bool overflowed_ = false;
};

// Client side: appends `body` to *out ready to send after a 354: line endings normalised to
// CRLF (a bare LF or bare CR becomes CRLF), a "." doubled at the start of each line, a final
// CRLF added when the (non-empty) body does not end with one, then the ".\r\n" terminator. An
// empty body gives just ".\r\n".
void DotStuff(absl::string_view body, std::string* out);

// Appends `body` with line endings normalised to CRLF (as DotStuff does, without stuffing,
// final CRLF or terminator). Used for bodies received over HTTP and for BDAT.
void NormalizeCrlf(absl::string_view body, std::string* out);

}  // namespace volley::smtp

#endif  // VOLLEY_ENGINE_SMTP_DOT_STUFFING_H_
