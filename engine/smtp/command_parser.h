// Parses SMTP command lines received by the injection server (RFC 5321 section 4.1).
// Pure: no I/O, so it can be unit tested and fuzzed.
#ifndef VOLLEY_ENGINE_SMTP_COMMAND_PARSER_H_
#define VOLLEY_ENGINE_SMTP_COMMAND_PARSER_H_

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"
#include "engine/smtp/reply.h"

namespace volley::smtp {

enum class Verb {
  kEhlo,
  kHelo,
  kMail,
  kRcpt,
  kData,
  kBdat,
  kRset,
  kNoop,
  kQuit,
  kVrfy,
  kHelp,
  kStartTls,
  kAuth,
};

struct Command {
  Verb verb;
  // EHLO/HELO: the client's domain or address literal. VRFY/HELP/NOOP/AUTH/BDAT: the raw
  // argument text. MAIL/RCPT: unused.
  std::string argument;
  // MAIL: the reverse-path without angle brackets ("" for the null path <>).
  // RCPT: the forward-path without angle brackets (source routes "@a,@b:" dropped).
  std::string address;
  // ESMTP parameters after the path, keywords upper-cased, values as given (empty when the
  // parameter has no "=value"), in order.
  std::vector<std::pair<std::string, std::string>> params;
};

// Either the parsed command or the reply that rejects the line:
//   500 5.5.2 for an unknown verb,
//   501 5.5.4 for bad syntax (missing or extra arguments, a malformed ESMTP parameter),
//   501 5.1.7 for a malformed MAIL FROM address, 501 5.1.3 for a malformed RCPT TO address.
// The session, not the parser, decides sequence errors (503) and limits.
//
// `line` is one line without its CRLF. Verbs and "FROM:"/"TO:" are case-insensitive; blanks
// (SP, HTAB) around the line and between words are ignored, and so is a space after the colon
// ("MAIL FROM: <a@b>", as Postfix allows). The path must be in angle brackets. EHLO, HELO,
// VRFY, AUTH and BDAT need an argument; DATA, RSET, QUIT and STARTTLS take none. A SIZE
// parameter must be 1 to 20 digits that fit in 64 bits. RCPT accepts "<Postmaster>" without a
// domain (RFC 5321 4.1.1.3); only MAIL accepts the null path "<>".
using ParsedCommand = std::variant<Command, Reply>;

ParsedCommand ParseCommand(absl::string_view line);

// What a server that requires TLS answers before STARTTLS: EHLO, HELO, STARTTLS, NOOP, RSET
// and QUIT (RFC 3207 4; the others get 530 5.7.0).
bool AllowedBeforeStartTls(Verb verb);

// Syntax check for a mailbox "local@domain" per RFC 5321 4.1.2 (dot-atom or quoted-string local
// part; a domain of LDH labels, or an address literal in brackets: [IPv4] or [IPv6:...], other
// tags refused). UTF-8 is allowed in both parts (RFC 6531) and must be well-formed. Local part
// at most 64 octets, domain at most 255, labels at most 63.
bool IsValidMailbox(absl::string_view mailbox);

// The domain part of a mailbox, ASCII lower-cased ("" when there is none). An '@' inside a
// quoted local part is not taken for the separator.
std::string DomainOf(absl::string_view mailbox);

}  // namespace volley::smtp

#endif  // VOLLEY_ENGINE_SMTP_COMMAND_PARSER_H_
