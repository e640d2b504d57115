// The encodings a MIME message builder needs (RFC 2045, RFC 2047, RFC 5322): transfer encodings
// for bodies, encoded words and folding for header fields, and mailboxes. Pure: no state, any
// thread. Inputs named utf8 must be UTF-8; the functions returning a Status check it.
#ifndef VOLLEY_ENGINE_MESSAGE_MIME_ENCODING_H_
#define VOLLEY_ENGINE_MESSAGE_MIME_ENCODING_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace volley::message {

enum class TransferEncoding { k7Bit, kQuotedPrintable, kBase64 };

// For a text part (UTF-8 text, any line ends): 7bit when it is all ASCII without NUL and every
// line is at most 998 octets (RFC 5322 2.1.1); otherwise quoted-printable when at most 1/6 of
// its octets need escaping (quoted-printable then costs at most 4/3 of the text, as base64
// does), else base64.
TransferEncoding ChooseTextEncoding(absl::string_view text);

// "7bit", "quoted-printable", "base64".
absl::string_view TransferEncodingName(TransferEncoding e);

// Quoted-printable (RFC 2045 6.7) of text: its line breaks (CRLF, bare LF, bare CR) become CRLF
// hard breaks, the rest is mime_downgrade's EncodeQuotedPrintable (lines <= 76 characters, '='
// and white space before a line end encoded, no =XX split by a soft break).
// mime_downgrade's own encoder keeps a bare LF as data (=0A), as a body being converted must;
// text from an API means lines, whatever their ends.
std::string EncodeQuotedPrintableText(absl::string_view text);

// Base64 in lines of 76 characters, each ending CRLF ("" for no data).
std::string EncodeBase64Lines(absl::string_view data);
void AppendBase64Lines(absl::string_view data, std::string* out);

// `text` with its line ends made CRLF (bare LF and bare CR become CRLF).
std::string ToCrlf(absl::string_view text);
void AppendCrlf(absl::string_view text, std::string* out);

// (IsValidUtf8 is in engine/base/bytes.h.)

// OK for text that may go into a header field: no CR or LF (which would start a field of its
// own), valid UTF-8. Otherwise InvalidArgument "contains a line break" or "is not valid UTF-8",
// for the caller to prefix with the field.
absl::Status CheckHeaderText(absl::string_view utf8);

// Appends a header field's value to `out`, folding (RFC 5322 2.2.3) so that lines stay within 78
// columns where white space allows. `column` is where the value starts: the length of "Name: ".
class HeaderFolder {
 public:
  static constexpr size_t kLineLimit = 78;
  // RFC 2047 2: a line holding an encoded word is at most 76 characters.
  static constexpr size_t kEncodedWordLineLimit = 76;

  HeaderFolder(std::string* out, size_t column) : out_(out), column_(column) {}
  // A folder that never folds: for a value that is substituted into a field written later.
  static HeaderFolder OneLine(std::string* out) {
    HeaderFolder folder(out, 0);
    folder.fold_ = false;
    return folder;
  }

  // Appends the white space `wsp` (may be empty) and then `text` (no line breaks). When both
  // are non-empty and the line would pass `limit`, a CRLF goes in first, before `wsp`, which
  // then starts the continuation line.
  void Put(absl::string_view wsp, absl::string_view text, size_t limit = kLineLimit);
  // Puts `text` as its runs of white space each with the word after it, so that it may fold
  // at any of its white space and unfolds to itself. `first_wsp` goes before the first word
  // when `text` does not start with white space.
  void PutFoldable(absl::string_view text, absl::string_view first_wsp = "");
  size_t column() const { return column_; }

 private:
  std::string* out_;
  size_t column_;
  bool fold_ = true;
};

// RFC 2047 encoded words for `utf8` (checked by the caller), charset UTF-8, B or Q encoding
// whichever is shorter, Q limited to the characters RFC 2047 5(3) allows in a phrase (so the
// words do for unstructured text, phrases and quoted parameters alike). Each word is at most 75
// characters, on lines of at most 76, with whole UTF-8 characters; the first is preceded by a
// space when `space_before`, words after it by a space or a fold.
void AppendEncodedWords(absl::string_view utf8, bool space_before, HeaderFolder* folder);

// An unstructured header value (RFC 5322 "unstructured", e.g. Subject) ready to follow
// "Name: ", `name_length` being the length of that. Printable ASCII stays as it is, folded at
// its white space. Anything else is encoded words (AppendEncodedWords): non-ASCII, control
// characters, a word that already looks like an encoded word (a reader would decode it), and a
// word too long to fit a 998-octet line. Invalid UTF-8, CR or LF (header injection):
// InvalidArgument (CheckHeaderText).
absl::StatusOr<std::string> EncodeUnstructured(absl::string_view utf8_value, size_t name_length);
// The same for a value CheckHeaderText accepted, into a folder.
void AppendUnstructured(absl::string_view utf8_value, HeaderFolder* folder);

// OK when `address` looks like an addr-spec (RFC 5322 3.4.1): local@domain (the last '@'), at
// most 254 octets (RFC 5321 4.5.3.1.3), no CR, LF, NUL, control characters, white space, '<' or
// '>'; the local part a dot-atom or a quoted-string, the domain a dot-atom or a domain literal.
// Non-ASCII is allowed as UTF-8 (SMTPUTF8, RFC 6532) and kept. Otherwise InvalidArgument saying
// what is wrong ("has no '@'"), for the caller to prefix with the field.
absl::Status CheckAddress(absl::string_view address);

// A mailbox (RFC 5322 3.4): "display name <addr>", or just "addr" when the name is empty. The
// display name is a plain atom phrase when it is only atext words separated by single spaces, a
// quoted-string when ASCII with specials (" and \ escaped), encoded words when non-ASCII or
// with control characters. One line, not folded: the result may be substituted into a header
// field template, which the header writer folds. An error is InvalidArgument saying whether the
// address ("address has no '@'") or the display name ("display name contains a line break") is
// wrong.
absl::StatusOr<std::string> FormatMailbox(absl::string_view display_name,
                                          absl::string_view address);
// The same into a folder, for a name and an address already checked (CheckHeaderText,
// CheckAddress); preceded by a space when `space_before`.
void AppendMailbox(absl::string_view display_name, absl::string_view address, bool space_before,
                   HeaderFolder* folder);

// How AppendMimeParameter writes a value that is not short printable ASCII.
enum class ParameterEncoding {
  // RFC 2231 extended values, charset UTF-8, percent-encoded, split into continuations
  // (attribute*0*=, attribute*1*=, ...) of whole UTF-8 characters.
  kRfc2231,
  // RFC 2047 encoded words inside the quoted-string: not standard (RFC 2047 5(3)), but what
  // clients without RFC 2231 read, as the name= of Content-Type next to an RFC 2231 filename.
  kEncodedWords,
};

// Appends a MIME parameter (RFC 2045 5.1) on a line of its own: ";" CRLF SP attribute=value.
// The value (UTF-8, checked by the caller) is a quoted-string when it is printable ASCII and
// fits the line, else encoded as `encoding` says; lines stay within 78 columns.
void AppendMimeParameter(absl::string_view attribute, absl::string_view utf8_value,
                         std::string* out,
                         ParameterEncoding encoding = ParameterEncoding::kRfc2231);

}  // namespace volley::message

#endif  // VOLLEY_ENGINE_MESSAGE_MIME_ENCODING_H_
