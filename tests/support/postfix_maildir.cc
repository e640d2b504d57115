#include "tests/support/postfix_maildir.h"

#include <dirent.h>
#include <errno.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace volley::test_support {
namespace {

// The header section: everything before the first empty line (all of it when there is none).
absl::string_view HeaderSection(absl::string_view content) {
  if (absl::StartsWith(content, "\n")) return "";
  const size_t end = content.find("\n\n");
  return end == absl::string_view::npos ? content : content.substr(0, end + 1);
}

// Calls `fn(name, value)` for each header in order, the value unfolded and trimmed. Stops when
// `fn` returns false.
template <typename Fn>
void ForEachHeader(absl::string_view content, Fn fn) {
  absl::string_view rest = HeaderSection(content);
  while (!rest.empty()) {
    // A header runs to the first line end not followed by a continuation line.
    size_t end = 0;
    while (true) {
      end = rest.find('\n', end);
      if (end == absl::string_view::npos) {
        end = rest.size();
        break;
      }
      if (end + 1 >= rest.size() || (rest[end + 1] != ' ' && rest[end + 1] != '\t')) break;
      ++end;
    }
    const absl::string_view field = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    const size_t colon = field.find(':');
    if (colon == absl::string_view::npos) continue;
    // A line break and the white space after it become one space, so that the words of a
    // folded header are matched as if on one line.
    std::string value;
    bool folding = false;
    for (char c : field.substr(colon + 1)) {
      if (c == '\n') {
        folding = true;
      } else if (folding && (c == ' ' || c == '\t')) {
        continue;
      } else {
        if (folding) value.push_back(' ');
        folding = false;
        value.push_back(c);
      }
    }
    if (!fn(absl::StripAsciiWhitespace(field.substr(0, colon)),
            std::string(absl::StripAsciiWhitespace(value)))) {
      return;
    }
  }
}

// The queue id in "... by HOST (Postfix) with ESMTPS id 4Xyz; date", or "".
std::string QueueIdOf(absl::string_view received) {
  const size_t at = received.find(" id ");
  if (at == absl::string_view::npos) return "";
  absl::string_view id = received.substr(at + 4);
  size_t end = 0;
  while (end < id.size() && absl::ascii_isalnum(static_cast<unsigned char>(id[end]))) ++end;
  return std::string(id.substr(0, end));
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InternalError(absl::StrCat("cannot open ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The names of the files in `dir`, without Maildir's dot files.
absl::StatusOr<std::vector<std::string>> ListFiles(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    return absl::InternalError(absl::StrCat("opendir ", dir, ": ", std::strerror(errno)));
  }
  std::vector<std::string> names;
  while (dirent* entry = readdir(d)) {
    if (entry->d_name[0] != '.') names.emplace_back(entry->d_name);
  }
  closedir(d);
  return names;
}

}  // namespace

std::string DeliveredMessage::Header(absl::string_view name) const {
  std::string found;
  ForEachHeader(content, [&](absl::string_view n, std::string value) {
    if (!absl::EqualsIgnoreCase(n, name)) return true;
    found = std::move(value);
    return false;
  });
  return found;
}

absl::string_view DeliveredMessage::Body() const {
  const absl::string_view headers = HeaderSection(content);
  return absl::string_view(content).substr(std::min(headers.size() + 1, content.size()));
}

absl::StatusOr<DeliveredMessage> ParseDeliveredMessage(std::string file, std::string content,
                                                       absl::string_view hostname) {
  DeliveredMessage m;
  m.file = std::move(file);
  m.content = std::move(content);
  m.recipient = m.Header("Delivered-To");
  if (m.recipient.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(m.file, " has no Delivered-To header"));
  }
  m.original_recipient = m.Header("X-Original-To");
  const std::string return_path = m.Header("Return-Path");
  absl::string_view sender = return_path;
  absl::ConsumePrefix(&sender, "<");
  absl::ConsumeSuffix(&sender, ">");
  m.sender = std::string(sender);
  // Only the topmost Received header is Postfix's own; one further down that names this host
  // would be a client's claim.
  const std::string received = m.Header("Received");
  if (absl::StrContains(received, absl::StrCat(" by ", hostname, " (Postfix)"))) {
    m.queue_id = QueueIdOf(received);
    m.tls = absl::StrContains(received, "(using TLS");
  }
  return m;
}

absl::StatusOr<int> CountDelivered(const std::string& maildir) {
  absl::StatusOr<std::vector<std::string>> names = ListFiles(maildir + "/new");
  if (!names.ok()) return names.status();
  return static_cast<int>(names->size());
}

absl::StatusOr<std::vector<DeliveredMessage>> ReadDelivered(const std::string& maildir,
                                                            absl::string_view hostname) {
  const std::string new_dir = maildir + "/new";
  absl::StatusOr<std::vector<std::string>> names = ListFiles(new_dir);
  if (!names.ok()) return names.status();
  std::sort(names->begin(), names->end());
  std::vector<DeliveredMessage> messages;
  messages.reserve(names->size());
  for (std::string& name : *names) {
    absl::StatusOr<std::string> content = ReadWholeFile(absl::StrCat(new_dir, "/", name));
    if (!content.ok()) return content.status();
    absl::StatusOr<DeliveredMessage> m =
        ParseDeliveredMessage(std::move(name), *std::move(content), hostname);
    if (!m.ok()) return m.status();
    messages.push_back(*std::move(m));
  }
  return messages;
}

}  // namespace volley::test_support
