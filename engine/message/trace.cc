#include "engine/message/trace.h"

#include "absl/strings/str_cat.h"
#include "engine/message/header.h"

namespace volley::message {

std::string Rfc5322Date(absl::Time time) {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", time, absl::UTCTimeZone());
}

std::string ReceivedHeader(const TraceInfo& trace) {
  std::string header =
      trace.peer_ip.empty()
          ? absl::StrCat("Received: by ", trace.hostname, " (Volley) id ", trace.queue_id)
          : absl::StrCat("Received: from ", trace.helo.empty() ? "unknown" : trace.helo, " ([",
                         trace.peer_ip, "])\r\n\tby ", trace.hostname, " (Volley) with ",
                         trace.esmtp ? "ESMTP" : "SMTP", " id ", trace.queue_id);
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
