// The delivery side of SMTP (RFC 5321, 2920 PIPELINING, 1870 SIZE, 6152 8BITMIME) as a pure
// state machine: replies in, commands out, no sockets or timers. SmtpConnection drives it over
// libuv and applies the timeouts of the phase it is in.
//
// With PIPELINING, MAIL, every RCPT and DATA go out in one write and their replies are matched
// to the commands in order (send and receive advance separately); without it, each command
// waits for the previous reply. Each recipient ends with its own outcome: the RCPT reply when
// that refused it, otherwise the reply to MAIL, DATA or the final dot that decided it.
#ifndef VOLLEY_ENGINE_DELIVERY_CLIENT_PROTOCOL_H_
#define VOLLEY_ENGINE_DELIVERY_CLIENT_PROTOCOL_H_

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "engine/smtp/ehlo.h"
#include "engine/smtp/line_reader.h"
#include "engine/smtp/reply.h"
#include "engine/smtp/reply_parser.h"

namespace volley::delivery {

struct RecipientOutcome {
  smtp::Reply reply;
  std::string command;     // what the reply answered: "RCPT TO:<a@b>", "DATA", "." ...
  bool synthetic = false;  // made up by us (connection lost, timeout, refused before sending)
};

struct Transaction {
  std::string mail_from;                       // "" for the null reverse-path
  std::vector<std::string> recipients;         // at least one
  std::shared_ptr<const std::string> content;  // unstuffed, CRLF line endings
  bool eight_bit = false;                      // content has octets above 127
};

struct SessionError {
  enum class Kind {
    kGreeting,       // the banner was not 220 (e.g. 421 or 554)
    kHelo,           // EHLO and HELO were both refused
    kProtocol,       // a malformed or unexpected reply
    kServerClosing,  // 421 in the middle of the session
    kReset,          // RSET between transactions was refused
  };
  Kind kind;
  std::optional<smtp::Reply> reply;  // the reply that ended the session, if there was one
  std::string detail;
};

class ClientProtocol {
 public:
  enum class Phase {
    kBanner,
    kEhlo,
    kHelo,
    kIdle,     // ready for a transaction
    kMail,     // waiting for MAIL's reply (or RSET's before it)
    kRcpt,     // waiting for RCPT replies
    kData,     // waiting for DATA's 354
    kDataDot,  // waiting for the reply to the final "."
    kQuit,
    kDone,  // QUIT answered, or the session failed
  };

  struct Callbacks {
    // Bytes to send. Called at most once per OnData / StartTransaction / Quit call.
    absl::AnyInvocable<void(std::string bytes)> write;
    // The session is ready for StartTransaction: after EHLO/HELO.
    absl::AnyInvocable<void()> on_ready;
    // The transaction ended; one outcome per recipient, in order. The session is idle again
    // (StartTransaction or Quit may be called from inside the callback).
    absl::AnyInvocable<void(std::vector<RecipientOutcome>)> on_transaction_done;
    // The session cannot go on; close the connection. `in_flight` holds an outcome per recipient
    // of the transaction under way (empty when none): recipients already refused keep their
    // reply, the others get the reply that ended the session or a synthetic transient one.
    absl::AnyInvocable<void(const SessionError&, std::vector<RecipientOutcome> in_flight)>
        on_failed;
    // QUIT was answered.
    absl::AnyInvocable<void()> on_quit;
    // Every reply received (for metrics). Optional.
    absl::AnyInvocable<void(const smtp::Reply&)> on_reply;
  };

  ClientProtocol(std::string ehlo_name, Callbacks callbacks);

  // Bytes from the server.
  void OnData(absl::string_view bytes);

  // Starts a transaction. Only in kIdle.
  void StartTransaction(Transaction transaction);

  // Sends QUIT (only in kIdle).
  void Quit();

  // The connection ended or timed out under us. Returns outcomes for the transaction in flight
  // (see on_failed), with `reason` as the synthetic reply text; the session is kDone.
  std::vector<RecipientOutcome> Abort(absl::string_view reason);

  Phase phase() const { return phase_; }
  const smtp::Capabilities& capabilities() const { return capabilities_; }
  bool esmtp() const { return esmtp_; }
  // Transactions completed on this session.
  int transactions() const { return transactions_; }

 private:
  enum class Expect { kBanner, kEhlo, kHelo, kRset, kMail, kRcpt, kData, kDot, kQuit };
  struct Pending {
    Expect what;
    size_t index = 0;  // kRcpt: the recipient
  };
  struct Active {
    Transaction transaction;
    std::vector<std::optional<RecipientOutcome>> outcomes;
    std::optional<RecipientOutcome> mail_failure;
    size_t rcpt_replies = 0;
    size_t accepted = 0;
    bool discard_data = false;  // 354 arrived with no accepted recipient: send "." alone
  };

  void HandleReply(smtp::Reply reply);
  void HandleTransactionReply(const Pending& pending, smtp::Reply reply);
  void SendMailCommands();
  void SendNextRcptOrData();
  void FinishTransaction(const smtp::Reply* deciding, absl::string_view command);
  void Fail(SessionError error);
  std::vector<RecipientOutcome> InFlightOutcomes(const smtp::Reply& fallback,
                                                 absl::string_view command, bool synthetic);
  // Commands without their CRLF, as they also appear in outcomes.
  std::string MailCommand() const;
  std::string RcptCommand(size_t index) const;
  void Send(absl::string_view bytes) { out_.append(bytes.data(), bytes.size()); }
  void SendLine(absl::string_view command) {
    Send(command);
    out_.append("\r\n");
  }
  void FlushOutput();

  std::string ehlo_name_;
  Callbacks callbacks_;
  Phase phase_ = Phase::kBanner;
  smtp::LineReader lines_;
  smtp::ReplyParser parser_;
  std::deque<Pending> expected_;
  std::optional<Active> active_;
  smtp::Capabilities capabilities_;
  bool esmtp_ = false;
  bool needs_rset_ = false;
  int transactions_ = 0;
  std::string out_;
  // Set while callbacks run, so that a callback's StartTransaction/Quit write goes out once.
  int depth_ = 0;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_CLIENT_PROTOCOL_H_
