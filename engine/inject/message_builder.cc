#include "engine/inject/message_builder.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace volley::inject {

std::string ReceivedHeader(const TraceInfo& trace) {
  std::string header =
      absl::StrCat("Received: from ", trace.helo.empty() ? "unknown" : trace.helo, " ([",
                   trace.peer_ip, "])\r\n\tby ", trace.hostname, " (Volley) with ",
                   trace.esmtp ? "ESMTP" : "SMTP", " id ", trace.queue_id);
  if (!trace.recipient.empty()) absl::StrAppend(&header, "\r\n\tfor <", trace.recipient, ">");
  absl::StrAppend(&header, ";\r\n\t",
                  absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", trace.time, absl::UTCTimeZone()),
                  "\r\n");
  return header;
}

std::string FindHeader(absl::string_view content, absl::string_view name) {
  size_t pos = 0;
  while (pos < content.size()) {
    size_t eol = content.find('\n', pos);
    if (eol == absl::string_view::npos) eol = content.size();
    absl::string_view line = content.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header section
    if (line.size() > name.size() && line[name.size()] == ':' &&
        absl::EqualsIgnoreCase(line.substr(0, name.size()), name)) {
      std::string value(line.substr(name.size() + 1));
      // Unfold continuation lines.
      size_t next = eol + 1;
      while (next < content.size() && (content[next] == ' ' || content[next] == '\t')) {
        size_t next_eol = content.find('\n', next);
        if (next_eol == absl::string_view::npos) next_eol = content.size();
        absl::string_view more = content.substr(next, next_eol - next);
        if (!more.empty() && more.back() == '\r') more.remove_suffix(1);
        absl::StrAppend(&value, " ", absl::StripAsciiWhitespace(more));
        next = next_eol + 1;
      }
      return std::string(absl::StripAsciiWhitespace(value));
    }
    pos = eol + 1;
  }
  return "";
}

bool HasEightBitOctets(absl::string_view content) {
  const char* p = content.data();
  size_t n = content.size();
  // Eight bytes at a time: any high bit set?
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    if (word & 0x8080808080808080ull) return true;
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    if (static_cast<unsigned char>(*p) & 0x80) return true;
    ++p;
    --n;
  }
  return false;
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

}  // namespace volley::inject
