// Incremental parser for server replies, used by the delivery client.
#ifndef VOLLEY_ENGINE_SMTP_REPLY_PARSER_H_
#define VOLLEY_ENGINE_SMTP_REPLY_PARSER_H_

#include <cstddef>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/smtp/reply.h"

namespace volley::smtp {

// Feeds on one reply line at a time (without its CRLF, as produced by LineReader). A reply is
// complete at its last line ("250 ..." or a bare "250", as opposed to "250-..."). Malformed
// input (no 3-digit code, a first digit other than 2 to 5, a separator other than ' ' or '-',
// codes that change between lines of one reply, too many lines or bytes in one reply) is an
// error: the session must then end as a ProtocolError, since nothing later on the connection
// can be trusted. An enhanced code is recognised on a line whose text starts with "x.y.z " (or
// is exactly "x.y.z") where x is the reply code's first digit; it is then stripped from that
// line's text, and Reply::enhanced comes from the first line.
class ReplyParser {
 public:
  static constexpr size_t kMaxLines = 1000;
  static constexpr size_t kMaxBytes = 64 * 1024;

  enum class Result { kIncomplete, kComplete, kError };

  // On kComplete, the reply is available from Take() (a FeedLine without Take() drops it and
  // starts the next reply). On kError, error() says why (InvalidArgument, quoting the line
  // escaped); the parser stays in error until Reset().
  Result FeedLine(absl::string_view line);

  // Moves the completed reply out and readies the parser for the next one.
  Reply Take();

  const absl::Status& error() const { return error_; }
  void Reset();

 private:
  Reply current_;
  bool in_reply_ = false;
  bool complete_ = false;
  size_t bytes_ = 0;
  absl::Status error_;
};

}  // namespace volley::smtp

#endif  // VOLLEY_ENGINE_SMTP_REPLY_PARSER_H_
