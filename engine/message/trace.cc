#include "engine/message/trace.h"

#include "absl/strings/str_cat.h"
#include "engine/message/header.h"

namespace volley::message {

std::string Rfc5322Date(absl::Time time) {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", time, absl::UTCTimeZone());
}

namespace {

// RFC 3848's registered "with" protocol types.
std::string WithProtocol(const TraceInfo& trace) {
  if (!trace.protocol.empty()) return trace.protocol;
  if (!trace.esmtp) return "SMTP";
  std::string protocol = "ESMTP";
  if (!trace.tls_version.empty()) protocol += "S";
  if (!trace.auth_user.empty()) protocol += "A";
  return protocol;
}

}  // namespace

std::string ReceivedHeader(const TraceInfo& trace) {
  std::string header;
  if (trace.peer_ip.empty()) {
    header = absl::StrCat("Received: by ", trace.hostname, " (Volley) id ", trace.queue_id);
  } else {
    header = absl::StrCat("Received: from ", trace.helo.empty() ? "unknown" : trace.helo, " ([",
                          trace.peer_ip, "])");
    if (!trace.tls_version.empty()) {
      absl::StrAppend(&header, "\r\n\t(using ", trace.tls_version, " with cipher ",
                      trace.tls_cipher, ")");
    }
    if (!trace.auth_user.empty()) {
      absl::StrAppend(&header, "\r\n\t(Authenticated sender: ", trace.auth_user, ")");
    }
    absl::StrAppend(&header, "\r\n\tby ", trace.hostname, " (Volley) with ", WithProtocol(trace),
                    " id ", trace.queue_id);
  }
  if (!trace.recipient.empty()) absl::StrAppend(&header, "\r\n\tfor <", trace.recipient, ">");
  absl::StrAppend(&header, ";\r\n\t", Rfc5322Date(trace.time), "\r\n");
  return header;
}

PreparedMessage PrepareMessage(absl::string_view content, const TraceInfo& trace) {
  PreparedMessage prepared;
  prepared.message_id = FindHeader(content, "Message-ID");
  std::string added;
  if (prepared.message_id.empty()) {
    prepared.message_id = absl::StrCat("<", trace.queue_id, "@", trace.hostname, ">");
    added = absl::StrCat("Message-ID: ", prepared.message_id, "\r\n");
  }
  const std::string received = ReceivedHeader(trace);
  prepared.content.reserve(received.size() + added.size() + content.size());
  prepared.content.append(received);
  prepared.content.append(added);
  prepared.content.append(content.data(), content.size());
  return prepared;
}

}  // namespace volley::message
