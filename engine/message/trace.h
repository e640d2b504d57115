// What the injection path adds to a message before it is stored (RFC 5321 4.4, RFC 5322 3.6.4):
// a Received trace header in front, and a Message-ID when the message has none.
#ifndef VOLLEY_ENGINE_MESSAGE_TRACE_H_
#define VOLLEY_ENGINE_MESSAGE_TRACE_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace volley::message {

struct TraceInfo {
  std::string helo;      // the client's EHLO/HELO name
  std::string peer_ip;   // the client's address
  std::string hostname;  // ours
  std::string queue_id;
  bool esmtp = true;
  // A "with" type of its own ("HTTP"): replaces SMTP's, which esmtp, TLS and AUTH make.
  std::string protocol;
  // The client's TLS (protocol version and cipher, "" without TLS) and its AUTH identity ("" for
  // none): the "with" protocol becomes ESMTPS, ESMTPA or ESMTPSA (RFC 3848, RFC 4954 7).
  std::string tls_version;
  std::string tls_cipher;
  std::string auth_user;
  std::string recipient;  // "for <...>" only when the message has exactly one recipient
  absl::Time time;
};

// A date-time as RFC 5322 3.3 writes it, in UTC: "Fri, 04 Dec 2026 04:05:35 +0000".
std::string Rfc5322Date(absl::Time time);

// The Received header line(s), folded, ending in CRLF. Without a peer (a message Volley made
// itself, such as a delivery notice) only the "by" clause.
std::string ReceivedHeader(const TraceInfo& trace);

struct PreparedMessage {
  std::string content;
  std::string message_id;  // as in the header, with angle brackets
};

// Prepends the Received header and adds "Message-ID: <queue_id@hostname>" when missing.
PreparedMessage PrepareMessage(absl::string_view content, const TraceInfo& trace);

}  // namespace volley::message

#endif  // VOLLEY_ENGINE_MESSAGE_TRACE_H_
