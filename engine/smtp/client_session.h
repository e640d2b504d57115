// The delivery side of SMTP as a pure state machine: replies in, commands out, no sockets or
// timers. SmtpConnection drives it over libuv (and TLS), and applies the timeouts of the phase
// it is in.
//
// Covered: RFC 5321 (EHLO with HELO fallback, RSET after a failed transaction, QUIT), 2920
// PIPELINING (send and receive advance separately; replies are matched to commands in order;
// without it, lock-step), 3207 STARTTLS, 4954 AUTH PLAIN/LOGIN, 1870 SIZE, 6152 8BITMIME (and
// conversion to 7 bit for servers without it), 6531 SMTPUTF8, 3030 CHUNKING (BDAT instead of
// DATA when offered), 3461 DSN parameters, 2034 enhanced status codes.
//
// Each recipient ends with its own outcome: the RCPT reply when that refused it, otherwise the
// reply to MAIL, DATA/BDAT or the final dot that decided it. A 452 "too many recipients" after
// at least one accepted recipient defers the rest to the next transaction (RFC 5321 4.5.3.1.10)
// instead of failing them.
#ifndef VOLLEY_ENGINE_SMTP_CLIENT_SESSION_H_
#define VOLLEY_ENGINE_SMTP_CLIENT_SESSION_H_

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

namespace volley::smtp {

struct RecipientOutcome {
  Reply reply;
  std::string command;     // what the reply answered: "RCPT TO:<a@b>", "DATA", "." ...
  bool synthetic = false;  // made up by us (connection lost, timeout, refused before sending)
  // 452 "too many recipients" with other recipients accepted: not a failure; the recipient goes
  // into the next transaction.
  bool deferred = false;
};

struct TransactionRecipient {
  std::string address;
  std::string dsn_notify;  // RFC 3461 NOTIFY value as received, "" for none
  std::string dsn_orcpt;   // RFC 3461 ORCPT value as received, "" for none
};

struct Transaction {
  std::string mail_from;                         // "" for the null reverse-path
  std::vector<TransactionRecipient> recipients;  // at least one
  std::shared_ptr<const std::string> content;    // unstuffed, CRLF line endings
  bool eight_bit = false;                        // content has octets above 127
  bool smtputf8 = false;                         // injected with SMTPUTF8
  std::string dsn_ret;                           // RFC 3461 RET, "" for none
  std::string dsn_envid;                         // RFC 3461 ENVID, "" for none
};

struct SessionError {
  enum class Kind {
    kGreeting,       // the banner was not 220 (e.g. 421 or 554)
    kHelo,           // EHLO and HELO were both refused
    kProtocol,       // a malformed or unexpected reply
    kServerClosing,  // 421 in the middle of the session
    kReset,          // RSET between transactions was refused
    kTls,            // TLS was required and STARTTLS is not offered or was refused
    kAuth,           // authentication impossible (no mechanism, no TLS) or refused
  };
  Kind kind;
  std::optional<Reply> reply;  // the reply that ended the session, if there was one
  std::string detail;
};

struct ProtocolOptions {
  std::string ehlo_name = "volley.localdomain";
  bool starttls = false;      // send STARTTLS when the server offers it
  bool tls_required = false;  // no STARTTLS offered, or refused: the session fails (kTls)
  bool tls_active = false;    // the connection is encrypted already (implicit TLS)
  // AUTH PLAIN (preferred) or LOGIN after EHLO when set.
  std::string auth_user;
  std::string auth_password;
  bool allow_auth_without_tls = false;
};

class ClientSession {
 public:
  enum class Phase {
    kBanner,
    kEhlo,
    kHelo,
    kStartTls,      // waiting for STARTTLS's 220
    kTlsHandshake,  // the connection is doing the TLS handshake
    kAuth,
    kIdle,     // ready for a transaction
    kMail,     // waiting for MAIL's reply (or RSET's before it)
    kRcpt,     // waiting for RCPT replies
    kData,     // waiting for DATA's 354
    kDataDot,  // waiting for the reply to the final "." (or to BDAT LAST)
    kQuit,
    kDone,  // QUIT answered, or the session failed
  };

  struct Callbacks {
    // Bytes to send. Called at most once per OnData / StartTransaction / Quit call.
    absl::AnyInvocable<void(std::string bytes)> write;
    // STARTTLS was accepted: start the TLS handshake on the connection, then call
    // OnTlsEstablished (or end the session if the handshake fails).
    absl::AnyInvocable<void()> on_starttls;
    // The session is ready for StartTransaction: after EHLO/HELO (and STARTTLS, AUTH).
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
    absl::AnyInvocable<void(const Reply&)> on_reply;
  };

  ClientSession(ProtocolOptions options, Callbacks callbacks);

  // Bytes from the server (decrypted, when TLS is on).
  void OnData(absl::string_view bytes);

  // The TLS handshake after STARTTLS succeeded: the session starts over with EHLO (RFC 3207).
  void OnTlsEstablished();

  // Starts a transaction. Only in kIdle.
  void StartTransaction(Transaction transaction);

  // Sends QUIT (only in kIdle).
  void Quit();

  // The connection ended or timed out under us. Returns outcomes for the transaction in flight
  // (see on_failed), with `reason` as the synthetic reply text; the session is kDone.
  std::vector<RecipientOutcome> Abort(absl::string_view reason);

  Phase phase() const { return phase_; }
  const Capabilities& capabilities() const { return capabilities_; }
  bool esmtp() const { return esmtp_; }
  bool tls_active() const { return options_.tls_active; }
  bool authenticated() const { return authenticated_; }
  // Transactions completed on this session.
  int transactions() const { return transactions_; }

 private:
  enum class Expect {
    kBanner,
    kEhlo,
    kHelo,
    kStartTls,
    kAuth,
    kRset,
    kMail,
    kRcpt,
    kData,
    kDot,
    kQuit
  };
  struct Pending {
    Expect what;
    size_t index = 0;  // kRcpt: the recipient; kAuth: the step
  };
  struct Active {
    Transaction transaction;
    std::shared_ptr<const std::string> content;  // as sent (maybe converted to 7 bit)
    bool smtputf8 = false;                       // SMTPUTF8 on MAIL
    bool chunking = false;                       // BDAT instead of DATA
    std::vector<std::optional<RecipientOutcome>> outcomes;
    std::optional<RecipientOutcome> mail_failure;
    size_t rcpt_replies = 0;
    size_t accepted = 0;
    bool discard_data = false;  // 354 arrived with no accepted recipient: send "." alone
  };

  void HandleReply(Reply reply);
  // The banner, EHLO, HELO and STARTTLS replies: the session's set-up.
  void HandleGreetingReply(const Pending& pending, Reply reply);
  void HandleTransactionReply(const Pending& pending, Reply reply);
  // After EHLO/HELO (and after the TLS EHLO): STARTTLS, AUTH, or ready.
  void AfterGreetingExchange();
  void StartAuth();
  void HandleAuthReply(const Pending& pending, Reply reply);
  void SendNextRcptOrData();
  void SendBody();
  void FinishTransaction(const Reply* deciding, absl::string_view command);
  // Ends a transaction before anything is sent: every recipient gets `reply`.
  void RefuseTransaction(const Reply& reply, absl::string_view command);
  void Fail(SessionError error);
  std::vector<RecipientOutcome> InFlightOutcomes(const Reply& fallback, absl::string_view command,
                                                 bool synthetic);
  // Commands without their CRLF, as they also appear in outcomes.
  std::string MailCommand() const;
  std::string RcptCommand(size_t index) const;
  void Send(absl::string_view bytes) { out_.append(bytes.data(), bytes.size()); }
  void SendLine(absl::string_view command) {
    Send(command);
    out_.append("\r\n");
  }
  void FlushOutput();

  ProtocolOptions options_;
  Callbacks callbacks_;
  Phase phase_ = Phase::kBanner;
  LineReader lines_;
  ReplyParser parser_;
  std::deque<Pending> expected_;
  std::optional<Active> active_;
  Capabilities capabilities_;
  bool esmtp_ = false;
  bool authenticated_ = false;
  bool needs_rset_ = false;
  int transactions_ = 0;
  std::string out_;
  // Set while callbacks run, so that a callback's StartTransaction/Quit write goes out once.
  int depth_ = 0;
};

}  // namespace volley::smtp

#endif  // VOLLEY_ENGINE_SMTP_CLIENT_SESSION_H_
