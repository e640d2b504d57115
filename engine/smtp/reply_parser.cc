#include "engine/smtp/reply_parser.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/smtp/reply.h"

namespace volley::smtp {
namespace {

// Error messages quote the offending line, escaped and shortened: it came from the network.
std::string Quote(absl::string_view line) {
  constexpr size_t kMaxQuoted = 80;
  std::string quoted = absl::CHexEscape(line.substr(0, kMaxQuoted));
  if (line.size() > kMaxQuoted) quoted.append("...");
  return absl::StrCat("\"", quoted, "\"");
}

bool IsDigit(char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }

}  // namespace

ReplyParser::Result ReplyParser::FeedLine(absl::string_view line) {
  if (!error_.ok()) return Result::kError;
  // A completed reply that was never taken is dropped: the caller moved on to the next one.
  if (complete_) Reset();

  auto fail = [this](absl::string_view why, absl::string_view line) {
    error_ =
        absl::InvalidArgumentError(absl::StrCat("malformed SMTP reply: ", why, ": ", Quote(line)));
    return Result::kError;
  };

  // RFC 5321 4.2: the first digit is 2 to 5 (1yz is not used in SMTP). The grammar also caps
  // the second digit at 5, but nothing depends on it, so a quirky server is not failed for it.
  if (line.size() < 3 || !IsDigit(line[0]) || !IsDigit(line[1]) || !IsDigit(line[2])) {
    return fail("no 3-digit reply code", line);
  }
  if (line[0] < '2' || line[0] > '5') {
    return fail("reply code out of range", line);
  }
  const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  bool last;
  absl::string_view text;
  if (line.size() == 3) {
    last = true;  // "250" alone: a last line without text.
  } else if (line[3] == ' ') {
    last = true;
    text = line.substr(4);
  } else if (line[3] == '-') {
    last = false;
    text = line.substr(4);
  } else {
    return fail("bad separator after the reply code", line);
  }

  if (in_reply_ && code != current_.code) {
    return fail(absl::StrCat("reply code changed from ", current_.code), line);
  }
  bytes_ += line.size() + 2;  // The CRLF counts too.
  if (bytes_ > kMaxBytes) return fail("reply longer than 64 KiB", line);
  if (current_.lines.size() >= kMaxLines) return fail("reply has too many lines", line);

  // RFC 2034: the enhanced code leads the text, followed by a space (or ends the line), and
  // its class repeats the reply's first digit; anything else is ordinary text.
  const size_t space = text.find(' ');
  std::optional<EnhancedCode> enhanced = ParseEnhancedCode(text.substr(0, space));
  if (enhanced.has_value() && enhanced->klass == code / 100) {
    text.remove_prefix(space == absl::string_view::npos ? text.size() : space + 1);
  } else {
    enhanced.reset();
  }

  if (!in_reply_) {
    in_reply_ = true;
    current_.code = code;
    current_.enhanced = enhanced;
  }
  current_.lines.emplace_back(text);
  if (!last) return Result::kIncomplete;
  complete_ = true;
  return Result::kComplete;
}

Reply ReplyParser::Take() {
  Reply reply = std::move(current_);
  Reset();
  return reply;
}

void ReplyParser::Reset() {
  current_ = Reply();
  in_reply_ = false;
  complete_ = false;
  bytes_ = 0;
  error_ = absl::OkStatus();
}

}  // namespace volley::smtp
