// Turns a parsed injection request (inject_v1_request.h) into one message per recipient: the
// templates compiled once, then per recipient the substitutions applied and the message built
// (structured content through mime_builder.h) or expanded (raw RFC 5322 content), checked for
// what the spool and SMTP cannot carry, and tagged.
#ifndef VOLLEY_ENGINE_INJECT_INJECT_V1_BUILDER_H_
#define VOLLEY_ENGINE_INJECT_INJECT_V1_BUILDER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/inject/content_template.h"
#include "engine/inject/inject_v1_request.h"
#include "engine/message/message_tags.h"

namespace volley::inject {

struct BuildOptions {
  std::string hostname;  // [server] hostname: the right side of the Message-IDs made here
  uint64_t max_message_size = 25ull << 20;
};

// One recipient's message.
struct BuiltMessage {
  std::string content;  // CRLF line ends, lines of at most 998 octets
  message::MessageTags tags;
  std::string metadata;   // the recipient's, compact JSON or ""
  bool smtputf8 = false;  // the sender or the recipient is not ASCII (RFC 6531)
};

// Not thread-safe: Build runs on one thread at a time (the caller hands the builder from task to
// task). Create is pure and may run anywhere.
class InjectV1Builder {
 public:
  // Compiles the request's templates. A template that does not parse, or structured content
  // without a From, is InvalidArgument naming the field (answered 422: the content cannot be
  // built for anyone).
  static absl::StatusOr<std::unique_ptr<InjectV1Builder>> Create(InjectV1Request request,
                                                                 BuildOptions options);

  size_t recipients() const { return request_.recipients.size(); }
  const std::string& envelope_sender() const { return request_.envelope_sender; }
  const std::string& recipient(size_t i) const { return request_.recipients[i].email; }

  // The message for recipient `i`, made at `now`. An error fails this recipient alone: an
  // address that cannot be used, a substituted value that breaks a header field, a message
  // beyond the size limit or with a line beyond 998 octets, a bad X-Volley-* header.
  absl::StatusOr<BuiltMessage> Build(size_t i, absl::Time now);

 private:
  InjectV1Builder(InjectV1Request request, BuildOptions options);
  absl::Status CompileRaw();
  absl::Status CompileStructured();
  absl::StatusOr<std::string> BuildRaw(const Substitutions& top);
  absl::StatusOr<std::string> BuildStructured(const V1Recipient& recipient,
                                              const Substitutions& top, absl::Time now);
  std::string NewMessageId(absl::Time now);

  InjectV1Request request_;
  const BuildOptions options_;
  Substitutions global_;
  absl::BitGen random_;
  // Raw content: the header section and the body, each a template of its own (a value may not
  // add a header field).
  std::unique_ptr<ContentTemplate> raw_headers_;
  std::unique_ptr<ContentTemplate> raw_body_;
  // Structured content.
  std::unique_ptr<ContentTemplate> subject_;
  std::unique_ptr<ContentTemplate> text_;
  std::unique_ptr<ContentTemplate> html_;
  std::vector<std::unique_ptr<ContentTemplate>> header_values_;  // as structured.headers
  bool has_to_header_ = false;  // content.headers sets To: no per-recipient To
};

}  // namespace volley::inject

#endif  // VOLLEY_ENGINE_INJECT_INJECT_V1_BUILDER_H_
