// The mail transaction on the ESMTP server side (RFC 5321 3.3): MAIL, RCPT, then the content
// by DATA or by BDAT chunks (RFC 3030), with the parameter rules (esmtp_params), the size and
// recipient limits and the handler's checks. The server session keeps the rest of the protocol
// (greeting, EHLO, AUTH, STARTTLS, the error count, pipelining, handing messages over) and turns
// each Step into replies and state.
#ifndef VOLLEY_ENGINE_SMTP_MAIL_TRANSACTION_H_
#define VOLLEY_ENGINE_SMTP_MAIL_TRANSACTION_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "engine/smtp/command_parser.h"
#include "engine/smtp/content_reader.h"
#include "engine/smtp/envelope.h"
#include "engine/smtp/esmtp_params.h"
#include "engine/smtp/reply.h"

namespace volley::smtp {

// One transaction at a time, in the transaction fields of the session's Envelope (mail_from to
// bdat). Sequence: RCPT, DATA and BDAT need an accepted MAIL (503 5.5.1; not counted against
// the client when its MAIL was refused by us, since a pipelining client sent them before it
// saw the refusal); DATA needs an accepted RCPT (554 5.5.1 when all were refused, else 503);
// a transaction uses DATA or BDAT, not both (503). A BDAT chunk whose command is refused is
// still read, and dropped, so that the session stays in step with the client. Not
// thread-safe: it runs on the thread of the session that owns it, as do the callbacks.
class MailTransaction {
 public:
  struct Limits {
    uint64_t max_message_size = 0;  // SIZE= above it: 552 at MAIL; more content: 552 at the end
    int max_recipients = 0;         // RCPTs beyond it get 452 4.5.3
    OfferedExtensions offered;      // the extensions whose MAIL and RCPT parameters are taken
    // Content is charged to it (ContentReader); when it cannot take max(SIZE=, 64 KiB) a MAIL
    // gets 452 4.3.1, and content beyond it refuses the message with 452 4.3.1. Optional.
    MemoryBudget* memory = nullptr;
    // Addresses are checked beyond their syntax (address_check.h) at MAIL and RCPT.
    bool strict_addresses = false;
  };

  // What the session does after a command or some content.
  struct Step {
    enum class Kind {
      kReply,         // send `reply`: an acceptance, or a refusal that is not the client's error
      kBadCommand,    // send `reply`: a syntax or sequence error, counted against the client
      kMailAccepted,  // send `reply` (250 to MAIL); the client's error count starts over
      kGoAhead,       // send `reply` (354 to DATA), then Feed the content
      kReadChunk,     // Feed the BDAT chunk; its reply comes once it is read
      kMore,          // Feed more content
      kMessage,       // the message is complete: hand over the Envelope and TakeMessage()
      kAbort,         // ContinueData refused: close the connection without a reply
    };
    Kind kind;
    Reply reply;  // for the kinds that send one
    // A refusal of the server's protection, for its metrics: "auth_required", "memory",
    // "bad_address"; "" for the others.
    absl::string_view refusal;
  };

  // The handler's say (ServerSessionHandler's CheckMailFrom, CheckRecipient, ContinueData).
  using CheckSender = absl::FunctionRef<std::optional<Reply>(const Envelope& envelope)>;
  using CheckRecipient = absl::FunctionRef<std::optional<Reply>(const Envelope& envelope,
                                                                absl::string_view recipient)>;
  using ContinueData = absl::FunctionRef<bool(const Envelope& envelope, size_t bytes_so_far)>;

  // `envelope` must outlive this object. Its other fields are the session's.
  MailTransaction(const Limits& limits, Envelope* envelope);
  MailTransaction(const MailTransaction&) = delete;
  MailTransaction& operator=(const MailTransaction&) = delete;

  // MAIL FROM, after EHLO or HELO. `needs_auth`: the server requires AUTH and the client has not
  // authenticated (530 5.7.0). Parameters need EHLO (envelope.esmtp). SIZE= beyond the limit
  // gets 552 5.3.4; then `check_sender` may refuse the sender.
  Step Mail(Command command, bool needs_auth, CheckSender check_sender);

  // RCPT TO: the recipient limit, then `check_recipient` (which sees the recipients accepted so
  // far in the envelope).
  Step Rcpt(Command command, CheckRecipient check_recipient);

  // DATA: kGoAhead, then the body by Feed.
  Step Data();

  // "BDAT <size> [LAST]" (when CHUNKING is offered): kReadChunk, then the chunk by Feed; a chunk
  // of 0 octets is answered at once. A message that would grow beyond the limit gets 552 5.3.4
  // once its chunk is read, and the transaction is over.
  Step Bdat(absl::string_view argument);

  // After kGoAhead or kReadChunk: takes content from the front of *input (the rest stays for
  // the commands that follow). `continue_data` is called once per call that takes content of
  // the message, with the octets received so far.
  Step Feed(absl::string_view* input, ContinueData continue_data);

  // After kMessage: the content; the transaction is over. The content's memory charge moves to
  // *charge (when not null), to be released once the message is stored.
  std::string TakeMessage(MemoryCharge* charge = nullptr);

  // Octets of content held now, and bytes charged for them.
  uint64_t content_bytes() const { return content_.wire_bytes(); }

  // Ends the transaction (RSET, EHLO/HELO, MAIL, TLS starting over), with any content an
  // unfinished BDAT transaction received.
  void Reset();

  // The connection is closing: the same as Reset.
  void Abandon();

  // A MAIL was accepted and the transaction is not over.
  bool active() const { return mail_given_; }

 private:
  Step FinishContent();
  Step RefuseChunk();
  Step OutOfMemory();
  Step NeedMail(Reply reply) const;

  const Limits limits_;
  Envelope* const envelope_;
  ContentReader content_;
  bool mail_given_ = false;
  bool mail_refused_ = false;  // the last MAIL was refused by us; no RSET or MAIL since
  int rcpt_attempts_ = 0;      // RCPT commands in this transaction, accepted or not
  uint64_t size_hint_ = 0;     // SIZE=, for the content's reservation
  // The BDAT chunk being read was refused: it is read and dropped, then this is sent.
  std::optional<Reply> chunk_refusal_;
};

}  // namespace volley::smtp

#endif  // VOLLEY_ENGINE_SMTP_MAIL_TRANSACTION_H_
