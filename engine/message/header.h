// The header section of an RFC 5322 message (or of a MIME entity, RFC 2045): the one parser
// used by injection (Message-ID), MIME downgrade and, later, DKIM.
#ifndef VOLLEY_ENGINE_MESSAGE_HEADER_H_
#define VOLLEY_ENGINE_MESSAGE_HEADER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace volley::message {

// One header field, as views into the message.
struct HeaderField {
  absl::string_view name;  // as written, without the colon
  // The whole field: "Name: value" with its continuation lines and their line breaks.
  absl::string_view raw;
};

// Reads header fields one by one from the start of a message, lines ending in CRLF or a bare
// LF. The section ends at the first empty line or at the first line that is not a field (no
// "name:" and no leading white space; tolerated as Postfix does: the body starts there). A
// field's name is any run of octets above space except ':' ("Name:", or the obsolete
// "Name :"); 8-bit octets count as name characters, so that a field with an 8-bit name is seen
// as an 8-bit header rather than as the start of the body. Pure; any thread.
class HeaderReader {
 public:
  explicit HeaderReader(absl::string_view message) : message_(message) {}

  // The next field, or false at the end of the section.
  bool Next(HeaderField* field);
  // After Next returned false: the empty line that ended the section (CRLF or LF; "" when there
  // was none) and the body after it.
  absl::string_view separator() const { return separator_; }
  absl::string_view body() const { return message_.substr(body_start_); }

 private:
  absl::string_view message_;
  size_t pos_ = 0;
  bool done_ = false;
  absl::string_view separator_;
  size_t body_start_ = 0;
};

// A message or entity split into its fields and its body.
struct HeaderSection {
  std::vector<HeaderField> fields;
  absl::string_view separator;  // see HeaderReader::separator
  absl::string_view body;
};
HeaderSection SplitHeader(absl::string_view message);

// The first field named `name` (case-insensitive), or null.
const HeaderField* FindField(const HeaderSection& section, absl::string_view name);

// The value after the colon with the line breaks of folding removed (RFC 5322 2.2.3).
std::string UnfoldedValue(const HeaderField& field);

// The value of the first field named `name` in the message's header section, with each line
// trimmed and continuation lines joined by one space; "" when there is none.
std::string FindHeader(absl::string_view message, absl::string_view name);

// The line starting at `pos` of `text`: its content without the line break, and where the next
// line starts (text.size() at the end).
struct Line {
  absl::string_view text;
  size_t next;
};
Line LineAt(absl::string_view text, size_t pos);

}  // namespace volley::message

#endif  // VOLLEY_ENGINE_MESSAGE_HEADER_H_
