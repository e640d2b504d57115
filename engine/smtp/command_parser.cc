#include "engine/smtp/command_parser.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "engine/base/bytes.h"
#include "engine/smtp/local_replies.h"
#include "engine/smtp/reply.h"

namespace volley::smtp {
namespace {

constexpr size_t kMaxLocalPart = 64;  // RFC 5321 4.5.3.1.1
constexpr size_t kMaxDomain = 255;    // RFC 5321 4.5.3.1.2
constexpr size_t kMaxLabel = 63;      // RFC 1035 2.3.4

struct VerbName {
  absl::string_view name;
  Verb verb;
};

constexpr VerbName kVerbs[] = {
    {"MAIL", Verb::kMail}, {"RCPT", Verb::kRcpt}, {"DATA", Verb::kData},
    {"EHLO", Verb::kEhlo}, {"HELO", Verb::kHelo}, {"BDAT", Verb::kBdat},
    {"RSET", Verb::kRset}, {"NOOP", Verb::kNoop}, {"QUIT", Verb::kQuit},
    {"VRFY", Verb::kVrfy}, {"HELP", Verb::kHelp}, {"STARTTLS", Verb::kStartTls},
    {"AUTH", Verb::kAuth},
};

bool IsWsp(char c) { return c == ' ' || c == '\t'; }

absl::string_view TrimLeadingWsp(absl::string_view s) {
  while (!s.empty() && IsWsp(s.front())) s.remove_prefix(1);
  return s;
}

absl::string_view TrimWsp(absl::string_view s) {
  s = TrimLeadingWsp(s);
  while (!s.empty() && IsWsp(s.back())) s.remove_suffix(1);
  return s;
}

// Splits off the first run of non-blank characters.
absl::string_view NextToken(absl::string_view* s) {
  *s = TrimLeadingWsp(*s);
  size_t end = 0;
  while (end < s->size() && !IsWsp((*s)[end])) ++end;
  absl::string_view token = s->substr(0, end);
  s->remove_prefix(end);
  return token;
}

std::optional<Verb> LookupVerb(absl::string_view word) {
  for (const VerbName& v : kVerbs) {
    if (absl::EqualsIgnoreCase(word, v.name)) return v.verb;
  }
  return std::nullopt;
}

bool IsAsciiAlnum(unsigned char c) { return absl::ascii_isalnum(c); }

// RFC 5322 atext, plus any non-ASCII octet (RFC 6531 UTF8-non-ascii; checked as UTF-8 later).
bool IsAtext(unsigned char c) {
  if (IsAsciiAlnum(c) || c >= 0x80) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~':
      return true;
    default:
      return false;
  }
}

// Dot-string = Atom *("." Atom)
bool IsDotString(absl::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = 0;
  for (char c : s) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!IsAtext(static_cast<unsigned char>(c))) {
      return false;
    }
    prev = c;
  }
  return true;
}

// Quoted-string = DQUOTE *QcontentSMTP DQUOTE, with qtextSMTP (%d32-33 / %d35-91 / %d93-126,
// plus UTF-8 per RFC 6531) and quoted-pairSMTP (backslash %d32-126).
bool IsQuotedString(absl::string_view s) {
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
  const absl::string_view content = s.substr(1, s.size() - 2);
  for (size_t i = 0; i < content.size(); ++i) {
    const unsigned char c = content[i];
    if (c == '\\') {
      if (++i == content.size()) return false;
      const unsigned char escaped = content[i];
      if (escaped < 32 || escaped > 126) return false;
    } else if (c == '"' || c < 32 || c == 127) {
      return false;
    }
  }
  return true;
}

bool IsValidLocalPart(absl::string_view local) {
  if (local.empty() || local.size() > kMaxLocalPart) return false;
  if (!(local.front() == '"' ? IsQuotedString(local) : IsDotString(local))) return false;
  return !HasEightBit(local) || IsValidUtf8(local);
}

// Domain = sub-domain *("." sub-domain), each a letter-digit-hyphen label not starting or
// ending in a hyphen, or a U-label (RFC 6531), of at most 63 octets.
bool IsValidDomainName(absl::string_view domain) {
  if (domain.empty() || domain.size() > kMaxDomain) return false;
  size_t label_start = 0;
  for (size_t i = 0; i <= domain.size(); ++i) {
    if (i == domain.size() || domain[i] == '.') {
      const size_t length = i - label_start;
      if (length == 0 || length > kMaxLabel) return false;
      if (domain[label_start] == '-' || domain[i - 1] == '-') return false;
      label_start = i + 1;
      continue;
    }
    const unsigned char c = domain[i];
    if (!IsAsciiAlnum(c) && c != '-' && c < 0x80) return false;
  }
  return !HasEightBit(domain) || IsValidUtf8(domain);
}

// IPv4-address-literal = Snum 3("." Snum), Snum = 1*3DIGIT of value 0 to 255.
bool IsIpv4Literal(absl::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (true) {
    size_t digits = 0;
    int value = 0;
    while (i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) {
      value = value * 10 + (s[i] - '0');
      ++i;
      if (++digits > 3) return false;
    }
    if (digits == 0 || value > 255) return false;
    if (++parts == 4) return i == s.size();
    if (i == s.size() || s[i] != '.') return false;
    ++i;
  }
}

// address-literal = "[" ( IPv4-address-literal / IPv6-address-literal ) "]". General address
// literals (other tags) are refused: no mail could be routed to them.
bool IsValidAddressLiteral(absl::string_view literal) {
  if (literal.size() < 3 || literal.front() != '[' || literal.back() != ']') return false;
  const absl::string_view inner = literal.substr(1, literal.size() - 2);
  constexpr absl::string_view kIpv6Tag = "IPv6:";
  if (absl::StartsWithIgnoreCase(inner, kIpv6Tag)) {
    const std::string address(inner.substr(kIpv6Tag.size()));
    in6_addr parsed;
    return inet_pton(AF_INET6, address.c_str(), &parsed) == 1;
  }
  return IsIpv4Literal(inner);
}

// The position of the '@' that ends the local part, or npos. A quoted local part may itself
// hold '@', so the search starts after its closing quote.
size_t FindLocalPartEnd(absl::string_view mailbox) {
  if (mailbox.empty() || mailbox.front() != '"') return mailbox.find('@');
  for (size_t i = 1; i < mailbox.size(); ++i) {
    if (mailbox[i] == '\\') {
      ++i;
    } else if (mailbox[i] == '"') {
      return mailbox.find('@', i + 1);
    }
  }
  return absl::string_view::npos;
}

// Splits "<inside>rest" at the closing '>' (not one inside a quoted local part).
bool SplitPath(absl::string_view s, absl::string_view* inside, absl::string_view* rest) {
  if (s.empty() || s.front() != '<') return false;
  bool quoted = false;
  for (size_t i = 1; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == '>') {
      *inside = s.substr(1, i - 1);
      *rest = s.substr(i + 1);
      return true;
    }
  }
  return false;
}

// Drops a source route "@a,@b:" (RFC 5321 4.1.2 A-d-l, to be ignored per appendix C) from
// `path`, checking each of its domains. Returns false when the route is malformed.
bool StripSourceRoute(absl::string_view* path) {
  if (path->empty() || path->front() != '@') return true;
  const size_t colon = path->find(':');
  if (colon == absl::string_view::npos) return false;
  absl::string_view route = path->substr(0, colon);
  while (true) {
    if (route.empty() || route.front() != '@') return false;
    const size_t comma = route.find(',');
    if (!IsValidDomainName(route.substr(
            1, comma == absl::string_view::npos ? absl::string_view::npos : comma - 1))) {
      return false;
    }
    if (comma == absl::string_view::npos) break;
    route.remove_prefix(comma + 1);
  }
  path->remove_prefix(colon + 1);
  return true;
}

// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
bool IsEsmtpKeyword(absl::string_view s) {
  if (s.empty() || !IsAsciiAlnum(s.front())) return false;
  for (char c : s) {
    if (!IsAsciiAlnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

// esmtp-value = 1*(%d33-60 / %d62-126), extended with UTF-8 by RFC 6531.
bool IsEsmtpValue(absl::string_view s) {
  if (s.empty()) return false;
  for (char ch : s) {
    const unsigned char c = ch;
    if (c == '=' || c <= 32 || c == 127) return false;
  }
  return !HasEightBit(s) || IsValidUtf8(s);
}

// Parses the ESMTP parameters after a path; on error returns the reply.
std::optional<Reply> ParseParams(absl::string_view text,
                                 std::vector<std::pair<std::string, std::string>>* params) {
  while (true) {
    const absl::string_view token = NextToken(&text);
    if (token.empty()) return std::nullopt;
    const size_t eq = token.find('=');
    const absl::string_view keyword = token.substr(0, eq);
    absl::string_view value;
    if (!IsEsmtpKeyword(keyword)) return MakeLocalReply(LocalReply::kParameterSyntax);
    if (eq != absl::string_view::npos) {
      value = token.substr(eq + 1);
      if (!IsEsmtpValue(value)) return MakeLocalReply(LocalReply::kParameterSyntax);
    }
    std::string upper = absl::AsciiStrToUpper(keyword);
    if (upper == "SIZE") {
      // RFC 1870: size-value = 1*20DIGIT; it must also fit the counter that checks it.
      uint64_t size;
      if (value.empty() || value.size() > 20 ||
          !std::all_of(value.begin(), value.end(),
                       [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }) ||
          !absl::SimpleAtoi(value, &size)) {
        return MakeLocalReply(LocalReply::kBadSizeValue);
      }
    }
    params->emplace_back(std::move(upper), std::string(value));
  }
}

// MAIL FROM:<reverse-path> [SP params] and RCPT TO:<forward-path> [SP params].
ParsedCommand ParsePathCommand(Command command, absl::string_view rest) {
  const bool mail = command.verb == Verb::kMail;
  const absl::string_view prefix = mail ? "FROM:" : "TO:";
  const Reply usage =
      MakeLocalReply(LocalReply::kCommandUsage, mail ? "MAIL FROM:<address>" : "RCPT TO:<address>");
  const Reply bad_address =
      MakeLocalReply(mail ? LocalReply::kBadSenderAddress : LocalReply::kBadRecipientAddress);
  if (!absl::StartsWithIgnoreCase(rest, prefix)) return usage;
  // Postfix and others accept "MAIL FROM: <a@b>", and so do we.
  rest = TrimLeadingWsp(rest.substr(prefix.size()));
  if (rest.empty()) return usage;
  absl::string_view path;
  absl::string_view after;
  if (!SplitPath(rest, &path, &after)) return bad_address;
  const bool routed = !path.empty() && path.front() == '@';
  if (!StripSourceRoute(&path)) return bad_address;
  if (path.empty()) {
    if (!mail || routed) return bad_address;  // Only MAIL may use the null path <>.
  } else if (!mail && !routed && absl::EqualsIgnoreCase(path, "postmaster")) {
    // RFC 5321 4.1.1.3: "<Postmaster>" without a domain is a valid recipient.
  } else if (!IsValidMailbox(path)) {
    return bad_address;
  }
  if (!after.empty() && !IsWsp(after.front())) return usage;
  if (std::optional<Reply> error = ParseParams(after, &command.params)) return *error;
  command.address = std::string(path);
  return command;
}

}  // namespace

bool AllowedBeforeStartTls(Verb verb) {
  switch (verb) {
    case Verb::kEhlo:
    case Verb::kHelo:
    case Verb::kStartTls:
    case Verb::kNoop:
    case Verb::kRset:
    case Verb::kQuit:
      return true;
    default:
      return false;
  }
}

ParsedCommand ParseCommand(absl::string_view line) {
  // Blanks around the line are ignored, as Postfix's tokenizer does: some clients send
  // "QUIT " or separate words with several spaces.
  absl::string_view rest = TrimWsp(line);
  const absl::string_view word = NextToken(&rest);
  rest = TrimLeadingWsp(rest);
  const std::optional<Verb> verb = LookupVerb(word);
  if (!verb.has_value()) return MakeLocalReply(LocalReply::kUnknownCommand);
  Command command;
  command.verb = *verb;
  switch (*verb) {
    case Verb::kEhlo:
    case Verb::kHelo:
      if (rest.empty()) {
        return MakeLocalReply(LocalReply::kCommandUsage,
                              *verb == Verb::kEhlo ? "EHLO hostname" : "HELO hostname");
      }
      command.argument = std::string(rest);
      return command;
    case Verb::kMail:
    case Verb::kRcpt:
      return ParsePathCommand(std::move(command), rest);
    case Verb::kData:
    case Verb::kRset:
    case Verb::kQuit:
    case Verb::kStartTls:
      if (!rest.empty()) return MakeLocalReply(LocalReply::kNoArguments);
      return command;
    case Verb::kVrfy:
    case Verb::kAuth:
    case Verb::kBdat:
      if (rest.empty()) return MakeLocalReply(LocalReply::kArgumentRequired);
      command.argument = std::string(rest);
      return command;
    case Verb::kNoop:
    case Verb::kHelp:
      command.argument = std::string(rest);
      return command;
  }
  return MakeLocalReply(LocalReply::kUnknownCommand);
}

bool IsValidMailbox(absl::string_view mailbox) {
  const size_t at = FindLocalPartEnd(mailbox);
  if (at == absl::string_view::npos) return false;
  const absl::string_view domain = mailbox.substr(at + 1);
  if (!IsValidLocalPart(mailbox.substr(0, at))) return false;
  return !domain.empty() && domain.front() == '[' ? IsValidAddressLiteral(domain)
                                                  : IsValidDomainName(domain);
}

std::string DomainOf(absl::string_view mailbox) {
  const size_t at = FindLocalPartEnd(mailbox);
  if (at == absl::string_view::npos) return "";
  return absl::AsciiStrToLower(mailbox.substr(at + 1));
}

}  // namespace volley::smtp
