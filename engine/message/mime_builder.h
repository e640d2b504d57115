// Builds an RFC 5322 / MIME (RFC 2045, 2046) message from structured content: the HTTP
// injection API's "content" object, once per recipient. Pure: no state, any thread.
#ifndef VOLLEY_ENGINE_MESSAGE_MIME_BUILDER_H_
#define VOLLEY_ENGINE_MESSAGE_MIME_BUILDER_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace volley::message {

struct Mailbox {
  std::string name;  // UTF-8 display name, "" for none
  std::string email;
};

struct MimeAttachment {
  std::string data;          // raw bytes (already base64-decoded by the caller)
  std::string content_type;  // "type/subtype" without parameters; "" -> application/octet-stream
  // "" for none. Written as filename= of Content-Disposition (RFC 2231 filename*=UTF-8''... when
  // not short printable ASCII) and as name= of Content-Type (RFC 2047 encoded words in the
  // quotes when not plain, which older clients read).
  std::string file_name;
  // "" for none; set (with or without angle brackets): an inline part (Content-ID: <id>,
  // Content-Disposition: inline) of a multipart/related around the text and HTML.
  std::string content_id;
};

struct MimeMessage {
  Mailbox from;
  std::vector<Mailbox> to;  // the To header (empty: no To header)
  std::optional<Mailbox> reply_to;
  std::string subject;  // UTF-8; a Subject header only when not empty
  // Extra header fields in order (name, UTF-8 value). A name is an RFC 5322 field name of at
  // most 76 characters. A name the builder writes (Date, From, Reply-To, To, Subject, Message-ID,
  // any case) replaces the builder's field and may be given once; MIME-Version and Content-*
  // are refused, the builder owns the MIME structure. Values are unstructured text (encoded as
  // needed), except for the replacements of the structured fields (all but Subject), which are
  // written as given, only folded: encoding "Name <addr>" as text would break it.
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> text_body;  // set, even to "", means a text/plain part
  std::optional<std::string> html_body;
  std::vector<MimeAttachment> attachments;
  absl::Time date;         // the Date field (RFC 5322 3.3)
  std::string message_id;  // with angle brackets, "<abc@host>"; "" for no Message-ID field
};

// The whole message: CRLF line ends, every line at most 998 octets, header fields folded to 78
// columns where white space allows.
//
// Structure: text only -> text/plain; HTML only -> text/html; both -> multipart/alternative
// (text first). Inline attachments (content_id set) -> multipart/related(that body, inline
// parts...), with type= naming the body's type. Other attachments -> multipart/mixed(body,
// attachments...). Without text or HTML all attachments go into a multipart/mixed (inline ones
// keep their Content-ID and inline disposition: there is no body to relate them to).
//
// Text parts: charset=utf-8 (us-ascii when 7bit), transfer encoding by ChooseTextEncoding, line
// ends made CRLF (a multipart part keeps its final line break; a single-part body gets one if it
// lacks it). Attachments: base64. Boundaries "=_<16 hex digits>.<m|r|a>": the digits derive from
// message_id, and are changed when a 7bit part contains "=_" followed by them; quoted-printable
// and base64 can hold neither '=' followed by '_' nor a line starting with "--=_".
//
// Errors are InvalidArgument with the field (volley::FieldOf) in the caller's JSON terms, and
// the message starting with it: "from.email: has no '@'", "to[1].name: contains a line break",
// "reply_to.email", "subject", "headers.<Name>" (or "headers" for a bad name), "text_body",
// "html_body", "attachments[i].content_type" (must be type/subtype of token characters, not
// multipart/* or message/rfc822), "attachments[i].file_name", "attachments[i].content_id",
// "message_id". With no text_body, html_body or attachment: "content has no text_body,
// html_body or attachments" (no field).
absl::StatusOr<std::string> BuildMime(const MimeMessage& message);

}  // namespace volley::message

#endif  // VOLLEY_ENGINE_MESSAGE_MIME_BUILDER_H_
