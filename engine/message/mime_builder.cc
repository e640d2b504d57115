#include "engine/message/mime_builder.h"

#include <cstdint>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "engine/base/bytes.h"
#include "engine/base/json_request.h"
#include "engine/message/message_tags.h"
#include "engine/message/mime_encoding.h"
#include "engine/message/trace.h"

namespace volley::message {
namespace {

constexpr size_t kMaxLine = 998;  // RFC 5322 2.1.1
// A longer field name would not leave "Name: " room on a 78-column line.
constexpr size_t kMaxFieldName = 76;
// RFC 6838 4.2: type and subtype names are at most 127 characters.
constexpr size_t kMaxTypeName = 127;
constexpr size_t kMaxContentId = 250;

// The fields the builder writes, in the order it writes them; a header of the same name in
// MimeMessage::headers replaces one.
enum OwnedField : unsigned {
  kDate = 1,
  kFrom = 2,
  kReplyTo = 4,
  kTo = 8,
  kSubject = 16,
  kMessageId = 32,
};

unsigned OwnedFieldOf(absl::string_view name) {
  static constexpr struct {
    absl::string_view name;
    OwnedField field;
  } kOwned[] = {{"Date", kDate}, {"From", kFrom},       {"Reply-To", kReplyTo},
                {"To", kTo},     {"Subject", kSubject}, {"Message-ID", kMessageId}};
  for (const auto& owned : kOwned) {
    if (absl::EqualsIgnoreCase(name, owned.name)) return owned.field;
  }
  return 0;
}

// The value of a structured field written as given (a replaced From, To, Reply-To, Date or
// Message-ID): no encoding can hide a control character there, so one is refused.
absl::Status CheckStructuredText(absl::string_view value) {
  if (absl::Status s = CheckHeaderText(value); !s.ok()) return s;
  for (char ch : value) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if ((c < 32 && c != '\t') || c == 127) {
      return absl::InvalidArgumentError("contains a control character");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckMailbox(const Mailbox& m, absl::string_view field) {
  if (absl::Status s = CheckAddress(m.email); !s.ok()) {
    return FieldError(absl::StrCat(field, ".email"), s.message());
  }
  if (absl::Status s = CheckHeaderText(m.name); !s.ok()) {
    return FieldError(absl::StrCat(field, ".name"), s.message());
  }
  return absl::OkStatus();
}

// RFC 2045 5.1 token characters.
bool IsTokenChar(unsigned char c) {
  return c > 32 && c < 127 && std::strchr("()<>@,;:\\\"/[]?=", c) == nullptr;
}

bool IsToken(absl::string_view s) {
  if (s.empty() || s.size() > kMaxTypeName) return false;
  for (char c : s) {
    if (!IsTokenChar(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::Status CheckContentType(absl::string_view type, absl::string_view field) {
  if (type.find_first_of("\r\n") != absl::string_view::npos) {
    return FieldError(field, "contains a line break");
  }
  const size_t slash = type.find('/');
  if (slash == absl::string_view::npos || !IsToken(type.substr(0, slash)) ||
      !IsToken(type.substr(slash + 1))) {
    return FieldError(field, absl::StrCat("must be type/subtype of token characters, without "
                                          "parameters, not ",
                                          QuoteForMessage(type)));
  }
  // RFC 2045 6.4 and RFC 2046 5.2.1: these may not be base64-encoded, as attachments are.
  const absl::string_view top = type.substr(0, slash);
  const absl::string_view sub = type.substr(slash + 1);
  if (absl::EqualsIgnoreCase(top, "multipart") ||
      (absl::EqualsIgnoreCase(top, "message") &&
       (absl::EqualsIgnoreCase(sub, "rfc822") || absl::EqualsIgnoreCase(sub, "partial") ||
        absl::EqualsIgnoreCase(sub, "external-body")))) {
    return FieldError(field, absl::StrCat(QuoteForMessage(type),
                                          " cannot be an attachment: it may not be base64-encoded "
                                          "(RFC 2045 6.4)"));
  }
  return absl::OkStatus();
}

// The id inside the angle brackets, which the caller may include.
absl::string_view ContentIdOf(absl::string_view id) {
  if (id.size() >= 2 && id.front() == '<' && id.back() == '>') return id.substr(1, id.size() - 2);
  return id;
}

absl::Status CheckContentId(absl::string_view given, absl::string_view field) {
  if (given.find_first_of("\r\n") != absl::string_view::npos) {
    return FieldError(field, "contains a line break");
  }
  const absl::string_view id = ContentIdOf(given);
  if (id.empty()) return FieldError(field, "is empty");
  if (id.size() > kMaxContentId) {
    return FieldError(field, absl::StrCat("is longer than ", kMaxContentId, " characters"));
  }
  for (char ch : id) {
    const unsigned char c = static_cast<unsigned char>(ch);
    // RFC 5322 3.6.4 msg-id: dot-atom-text on each side of '@' (and the no-fold-literal's
    // brackets), which is what HTML's cid: URLs quote.
    const bool allowed =
        absl::ascii_isalnum(c) || (c > 32 && c < 127 && std::strchr("!#$%&'*+-/=?^_`{|}~.@[]", c));
    if (!allowed) {
      return FieldError(field, absl::StrCat(QuoteForMessage(given),
                                            " has characters other than atext, "
                                            "'.', '@', '[' and ']'"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckHeaders(const MimeMessage& m, unsigned* replaced) {
  for (const auto& [name, value] : m.headers) {
    if (!IsFieldName(name) || name.size() > kMaxFieldName) {
      return FieldError("headers", absl::StrCat("header name ", QuoteForMessage(name),
                                                " is not an RFC 5322 field name of at most ",
                                                kMaxFieldName, " characters"));
    }
    const std::string field = absl::StrCat("headers.", name);
    if (absl::EqualsIgnoreCase(name, "MIME-Version") ||
        absl::StartsWithIgnoreCase(name, "Content-")) {
      return FieldError(field,
                        "MIME-Version and Content-* fields are written by the builder, "
                        "which makes the MIME structure");
    }
    const unsigned owned = OwnedFieldOf(name);
    const bool structured = owned != 0 && owned != kSubject;
    if (absl::Status s = structured ? CheckStructuredText(value) : CheckHeaderText(value);
        !s.ok()) {
      return FieldError(field, s.message());
    }
    if ((*replaced & owned) != 0) return FieldError(field, "given twice (RFC 5322 3.6 allows one)");
    *replaced |= owned;
  }
  return absl::OkStatus();
}

absl::Status CheckMessage(const MimeMessage& m, unsigned* replaced) {
  if (!m.text_body.has_value() && !m.html_body.has_value() && m.attachments.empty()) {
    return FieldError("", "content has no text_body, html_body or attachments");
  }
  if (absl::Status s = CheckHeaders(m, replaced); !s.ok()) return s;
  if ((*replaced & kFrom) == 0) {
    if (absl::Status s = CheckMailbox(m.from, "from"); !s.ok()) return s;
  }
  if ((*replaced & kTo) == 0) {
    for (size_t i = 0; i < m.to.size(); ++i) {
      if (absl::Status s = CheckMailbox(m.to[i], absl::StrCat("to[", i, "]")); !s.ok()) return s;
    }
  }
  if ((*replaced & kReplyTo) == 0 && m.reply_to.has_value()) {
    if (absl::Status s = CheckMailbox(*m.reply_to, "reply_to"); !s.ok()) return s;
  }
  if ((*replaced & kSubject) == 0) {
    if (absl::Status s = CheckHeaderText(m.subject); !s.ok())
      return FieldError("subject", s.message());
  }
  if ((*replaced & kMessageId) == 0) {
    if (absl::Status s = CheckStructuredText(m.message_id); !s.ok()) {
      return FieldError("message_id", s.message());
    }
  }
  if (m.text_body.has_value() && !IsValidUtf8(*m.text_body)) {
    return FieldError("text_body", "is not valid UTF-8");
  }
  if (m.html_body.has_value() && !IsValidUtf8(*m.html_body)) {
    return FieldError("html_body", "is not valid UTF-8");
  }
  absl::flat_hash_map<absl::string_view, size_t> content_ids;
  for (size_t i = 0; i < m.attachments.size(); ++i) {
    const MimeAttachment& a = m.attachments[i];
    const std::string field = absl::StrCat("attachments[", i, "].");
    if (!a.content_type.empty()) {
      if (absl::Status s = CheckContentType(a.content_type, field + "content_type"); !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = CheckHeaderText(a.file_name); !s.ok()) {
      return FieldError(field + "file_name", s.message());
    }
    if (!a.content_id.empty()) {
      if (absl::Status s = CheckContentId(a.content_id, field + "content_id"); !s.ok()) return s;
      const auto [it, added] = content_ids.emplace(ContentIdOf(a.content_id), i);
      if (!added) {
        return FieldError(field + "content_id",
                          absl::StrCat("the same as attachments[", it->second, "].content_id"));
      }
    }
  }
  return absl::OkStatus();
}

// The MIME tree: leaves hold a part's content; the rest are multiparts.
struct Entity {
  enum class Kind { kText, kHtml, kAttachment, kMultipart };
  Kind kind = Kind::kText;
  absl::string_view content;  // text or attachment data
  TransferEncoding encoding = TransferEncoding::k7Bit;
  const MimeAttachment* attachment = nullptr;
  absl::string_view subtype;  // multipart: "mixed", "related", "alternative"
  char tag = 0;               // multipart: its boundary's suffix
  std::string related_type;   // multipart/related: type= of its root
  std::vector<Entity> parts;
};

Entity TextLeaf(Entity::Kind kind, absl::string_view text) {
  Entity e;
  e.kind = kind;
  e.content = text;
  e.encoding = ChooseTextEncoding(text);
  return e;
}

Entity AttachmentLeaf(const MimeAttachment& a) {
  Entity e;
  e.kind = Entity::Kind::kAttachment;
  e.content = a.data;
  e.encoding = TransferEncoding::kBase64;
  e.attachment = &a;
  return e;
}

Entity Multipart(absl::string_view subtype, char tag) {
  Entity e;
  e.kind = Entity::Kind::kMultipart;
  e.subtype = subtype;
  e.tag = tag;
  return e;
}

Entity MakeTree(const MimeMessage& m) {
  std::optional<Entity> body;
  if (m.text_body.has_value() && m.html_body.has_value()) {
    body = Multipart("alternative", 'a');
    body->parts.push_back(TextLeaf(Entity::Kind::kText, *m.text_body));
    body->parts.push_back(TextLeaf(Entity::Kind::kHtml, *m.html_body));
  } else if (m.text_body.has_value()) {
    body = TextLeaf(Entity::Kind::kText, *m.text_body);
  } else if (m.html_body.has_value()) {
    body = TextLeaf(Entity::Kind::kHtml, *m.html_body);
  }
  if (!body.has_value()) {
    // Attachments only (CheckMessage refused an empty message).
    Entity mixed = Multipart("mixed", 'm');
    for (const MimeAttachment& a : m.attachments) mixed.parts.push_back(AttachmentLeaf(a));
    return mixed;
  }
  std::vector<const MimeAttachment*> inline_parts;
  std::vector<const MimeAttachment*> others;
  for (const MimeAttachment& a : m.attachments) {
    (a.content_id.empty() ? others : inline_parts).push_back(&a);
  }
  if (!inline_parts.empty()) {
    Entity related = Multipart("related", 'r');
    // RFC 2387 3.1: type= names the root part's type.
    related.related_type = body->kind == Entity::Kind::kMultipart ? "multipart/alternative"
                           : body->kind == Entity::Kind::kHtml    ? "text/html"
                                                                  : "text/plain";
    related.parts.reserve(1 + inline_parts.size());
    related.parts.push_back(*std::move(body));
    for (const MimeAttachment* a : inline_parts) related.parts.push_back(AttachmentLeaf(*a));
    body = std::move(related);
  }
  if (others.empty()) return *std::move(body);
  Entity mixed = Multipart("mixed", 'm');
  mixed.parts.reserve(1 + others.size());
  mixed.parts.push_back(*std::move(body));
  for (const MimeAttachment* a : others) mixed.parts.push_back(AttachmentLeaf(*a));
  return mixed;
}

// splitmix64's finalizer: spreads the message id's hash over the boundary's digits.
uint64_t Mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void CollectSevenBitTexts(const Entity& e, std::vector<absl::string_view>* texts) {
  if (e.kind == Entity::Kind::kMultipart) {
    for (const Entity& part : e.parts) CollectSevenBitTexts(part, texts);
  } else if (e.kind != Entity::Kind::kAttachment && e.encoding == TransferEncoding::k7Bit) {
    texts->push_back(e.content);
  }
}

// "=_" and 16 hex digits that no 7bit part holds after a "=_" of its own, so that no line of
// one can be a delimiter. One pass over the texts whatever they hold (no retry per clash).
std::string BoundaryBase(const MimeMessage& m, const Entity& root) {
  std::vector<absl::string_view> texts;
  CollectSevenBitTexts(root, &texts);
  absl::flat_hash_set<absl::string_view> taken;
  for (absl::string_view text : texts) {
    for (size_t pos = text.find("=_"); pos != absl::string_view::npos;
         pos = text.find("=_", pos + 2)) {
      taken.insert(text.substr(pos + 2, 16));
    }
  }
  uint64_t hash = 14695981039346656037ull;  // FNV-1a
  for (char c : m.message_id) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  for (uint64_t salt = 0;; ++salt) {
    std::string base = absl::StrFormat("=_%016x", Mix(hash + salt));
    if (!taken.contains(absl::string_view(base).substr(2))) return base;
  }
}

void AppendLeafHeaders(const Entity& e, std::string* out) {
  if (e.kind != Entity::Kind::kAttachment) {
    absl::StrAppend(out,
                    "Content-Type: ", e.kind == Entity::Kind::kHtml ? "text/html" : "text/plain",
                    "; charset=", e.encoding == TransferEncoding::k7Bit ? "us-ascii" : "utf-8",
                    "\r\nContent-Transfer-Encoding: ", TransferEncodingName(e.encoding), "\r\n");
    return;
  }
  const MimeAttachment& a = *e.attachment;
  absl::StrAppend(
      out, "Content-Type: ", a.content_type.empty() ? "application/octet-stream" : a.content_type);
  if (!a.file_name.empty()) {
    // Clients before RFC 2231 read the name from here, in encoded words when not plain.
    AppendMimeParameter("name", a.file_name, out, ParameterEncoding::kEncodedWords);
  }
  absl::StrAppend(out, "\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: ",
                  a.content_id.empty() ? "attachment" : "inline");
  if (!a.file_name.empty()) AppendMimeParameter("filename", a.file_name, out);
  out->append("\r\n");
  if (!a.content_id.empty()) {
    absl::StrAppend(out, "Content-ID: <", ContentIdOf(a.content_id), ">\r\n");
  }
}

void AppendLeafBody(const Entity& e, bool in_multipart, std::string* out) {
  const size_t start = out->size();
  switch (e.encoding) {
    case TransferEncoding::k7Bit:
      AppendCrlf(e.content, out);
      break;
    case TransferEncoding::kQuotedPrintable:
      out->append(EncodeQuotedPrintableText(e.content));
      break;
    case TransferEncoding::kBase64:
      // Base64 lines end in CRLF: the body ends with one, or is empty.
      if (e.kind == Entity::Kind::kAttachment) {
        AppendBase64Lines(e.content, out);
      } else {
        // RFC 2045 6.8: text is encoded in its canonical form, CRLF line ends.
        AppendBase64Lines(ToCrlf(e.content), out);
      }
      return;
  }
  // In a multipart, the CRLF before the next delimiter belongs to the delimiter (RFC 2046
  // 5.1.1), so one is added and the text keeps its own last line break. A message's body
  // just has to end with one.
  const absl::string_view body = absl::string_view(*out).substr(start);
  if (in_multipart || (!body.empty() && !absl::EndsWith(body, "\r\n"))) out->append("\r\n");
}

void AppendEntity(const Entity& e, absl::string_view base, bool in_multipart, std::string* out) {
  if (e.kind != Entity::Kind::kMultipart) {
    AppendLeafHeaders(e, out);
    out->append("\r\n");
    AppendLeafBody(e, in_multipart, out);
    return;
  }
  const std::string delimiter = absl::StrCat("--", base, ".", std::string(1, e.tag));
  absl::StrAppend(out, "Content-Type: multipart/", e.subtype, ";\r\n boundary=\"",
                  absl::string_view(delimiter).substr(2), "\"");
  if (!e.related_type.empty()) absl::StrAppend(out, ";\r\n type=\"", e.related_type, "\"");
  out->append("\r\n\r\n");
  for (const Entity& part : e.parts) {
    absl::StrAppend(out, delimiter, "\r\n");
    AppendEntity(part, base, /*in_multipart=*/true, out);
  }
  absl::StrAppend(out, delimiter, "--\r\n");
}

// A structured field as the caller wrote it, folded at its white space; refused when a word
// is too long for any line to hold it.
absl::Status AppendStructured(absl::string_view name, absl::string_view value,
                              absl::string_view field, std::string* out) {
  const size_t start = out->size();
  absl::StrAppend(out, name, ":");
  HeaderFolder folder(out, name.size() + 1);
  folder.PutFoldable(value, " ");
  out->append("\r\n");
  const absl::string_view written = absl::string_view(*out).substr(start);
  for (size_t pos = 0; pos < written.size();) {
    const size_t end = written.find("\r\n", pos);
    if (end - pos > kMaxLine) {
      return FieldError(field, absl::StrCat("has a word too long for a line of ", kMaxLine,
                                            " octets (RFC 5322 2.1.1)"));
    }
    pos = end + 2;
  }
  return absl::OkStatus();
}

void AppendUnstructuredField(absl::string_view name, absl::string_view value, std::string* out) {
  absl::StrAppend(out, name, ":");
  if (!value.empty()) {
    out->push_back(' ');
    HeaderFolder folder(out, name.size() + 2);
    AppendUnstructured(value, &folder);
  }
  out->append("\r\n");
}

void AppendAddressField(absl::string_view name, const Mailbox* mailboxes, size_t count,
                        std::string* out) {
  absl::StrAppend(out, name, ": ");
  HeaderFolder folder(out, name.size() + 2);
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) folder.Put("", ",");
    AppendMailbox(mailboxes[i].name, mailboxes[i].email, /*space_before=*/i > 0, &folder);
  }
  out->append("\r\n");
}

size_t EstimatedSize(const MimeMessage& m) {
  // Headers, part headers and delimiters, then the bodies: base64 is 4/3 plus CRLFs, and
  // ChooseTextEncoding keeps quoted-printable within about as much.
  size_t size = 2048 + m.subject.size() * 3;
  for (const auto& [name, value] : m.headers) size += name.size() + value.size() * 3 + 16;
  for (const Mailbox& to : m.to) size += to.name.size() * 2 + to.email.size() + 8;
  auto body = [](size_t n) { return n / 3 * 4 + n / 57 * 2 + 512; };
  if (m.text_body.has_value()) size += body(m.text_body->size());
  if (m.html_body.has_value()) size += body(m.html_body->size());
  for (const MimeAttachment& a : m.attachments) {
    size += body(a.data.size()) + a.file_name.size() * 6;
  }
  return size;
}

}  // namespace

absl::StatusOr<std::string> BuildMime(const MimeMessage& m) {
  unsigned replaced = 0;
  if (absl::Status s = CheckMessage(m, &replaced); !s.ok()) return s;
  const Entity root = MakeTree(m);

  std::string out;
  out.reserve(EstimatedSize(m));
  if ((replaced & kDate) == 0) absl::StrAppend(&out, "Date: ", Rfc5322Date(m.date), "\r\n");
  if ((replaced & kFrom) == 0) AppendAddressField("From", &m.from, 1, &out);
  if ((replaced & kReplyTo) == 0 && m.reply_to.has_value()) {
    AppendAddressField("Reply-To", &*m.reply_to, 1, &out);
  }
  if ((replaced & kTo) == 0 && !m.to.empty()) {
    AppendAddressField("To", m.to.data(), m.to.size(), &out);
  }
  if ((replaced & kSubject) == 0 && !m.subject.empty()) {
    AppendUnstructuredField("Subject", m.subject, &out);
  }
  if ((replaced & kMessageId) == 0 && !m.message_id.empty()) {
    if (absl::Status s = AppendStructured("Message-ID", m.message_id, "message_id", &out);
        !s.ok()) {
      return s;
    }
  }
  for (const auto& [name, value] : m.headers) {
    const unsigned owned = OwnedFieldOf(name);
    if (owned == 0 || owned == kSubject) {
      AppendUnstructuredField(name, value, &out);
    } else if (absl::Status s = AppendStructured(name, value, absl::StrCat("headers.", name), &out);
               !s.ok()) {
      return s;
    }
  }
  out.append("MIME-Version: 1.0\r\n");
  AppendEntity(root, BoundaryBase(m, root), /*in_multipart=*/false, &out);
  return out;
}

}  // namespace volley::message
