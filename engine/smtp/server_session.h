// The ESMTP server side (RFC 5321, 1870, 2920, 6152, 6531, 2034, 3461, 3030, 4954, 3207) as a
// pure state machine: bytes in, bytes out, no sockets and no TLS. The injection listener and
// the test/bench sink both drive it through SmtpListener; what they do with a message is the
// ServerSessionHandler's business, and the TLS itself is the transport's (Transport::start_tls).
#ifndef VOLLEY_ENGINE_SMTP_SERVER_SESSION_H_
#define VOLLEY_ENGINE_SMTP_SERVER_SESSION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "engine/base/memory_budget.h"
#include "engine/smtp/command_parser.h"
#include "engine/smtp/dot_stuffing.h"
#include "engine/smtp/envelope.h"
#include "engine/smtp/line_reader.h"
#include "engine/smtp/reply.h"

namespace volley::tls {
class TlsContext;
}  // namespace volley::tls

namespace volley::smtp {

// The handler's answer to a message.
struct MessageResponse {
  enum class Then {
    kContinue,    // the session goes on
    kClose,       // the reply is the session's last (a 421 always is, RFC 5321 3.8)
    kDisconnect,  // the connection is closed without a reply (a policy's "disconnect", as a
                  // milter's shutdown or KumoMTA's disconnect action)
  };
  // A reply, and the session goes on (or closes, for a 421).
  MessageResponse(Reply r) : reply(std::move(r)) {}  // NOLINT: a reply is a response
  static MessageResponse Disconnect() {
    MessageResponse response{Reply{}};
    response.then = Then::kDisconnect;
    return response;
  }
  Reply reply;
  Then then = Then::kContinue;
};

// What the session asks of its owner. All calls happen on the thread that drives the session.
class ServerSessionHandler {
 public:
  virtual ~ServerSessionHandler() = default;

  // Every command line the client sent, in order, before the session acts on it: commands, and
  // the responses to AUTH challenges (which carry credentials: do not log them), but not
  // DATA/BDAT content nor over-long lines. `envelope` is the state before the line. For the
  // test sink's transcripts.
  virtual void OnCommandLine(const Envelope& envelope, absl::string_view line) {
    (void)envelope;
    (void)line;
  }

  // MAIL FROM was parsed and is in sequence. Return a reply to reject it, nullopt to accept.
  virtual std::optional<Reply> CheckMailFrom(const Envelope& envelope) {
    (void)envelope;
    return std::nullopt;
  }

  // RCPT TO was parsed and is in sequence (`envelope.recipients` holds those accepted so far).
  // Return a reply to reject it (e.g. 550 5.7.1 relay denied), nullopt to accept.
  virtual std::optional<Reply> CheckRecipient(const Envelope& envelope,
                                              absl::string_view recipient) = 0;

  // DATA or BDAT content is arriving: called each time some is consumed (once per Feed that
  // carries content, so cheap), with the octets of this message received so far as sent on
  // the wire. Returning false closes the connection at once, without a reply and without the
  // message (the test sink's dropdata* fault: a server that crashes mid-DATA).
  virtual bool ContinueData(const Envelope& envelope, size_t bytes_so_far) {
    (void)envelope;
    (void)bytes_so_far;
    return true;
  }

  // A complete message arrived: `content` is the DATA unstuffed, with CRLF line endings and
  // without the final ".", or the BDAT chunks joined, octets as sent (envelope.bdat). The
  // handler calls `done` exactly once with the reply for the client (250 with the queue id once
  // the message is durable, or an error), now or later on the same thread.
  // Calling `done` after the session is gone is safe and does nothing.
  virtual void OnMessage(Envelope envelope, std::string content,
                         absl::AnyInvocable<void(MessageResponse)> done) = 0;
};

// An AUTH exchange's outcome, to be checked (ServerSessionOptions::authenticate).
struct AuthAttempt {
  std::string peer_address;
  std::string user;
  std::string password;
};

// Checks credentials and calls `done` with whether they are good: now, or later on the
// session's thread (the check may run elsewhere: hashing is slow). `done` after the session is
// gone does nothing.
using Authenticator = std::function<void(AuthAttempt, absl::AnyInvocable<void(bool ok)>)>;

// An Authenticator that answers at once with `check(user, password)` (test sinks, tests).
inline Authenticator CheckAtOnce(std::function<bool(absl::string_view, absl::string_view)> check) {
  return [check = std::move(check)](AuthAttempt attempt, absl::AnyInvocable<void(bool)> done) {
    done(check(attempt.user, attempt.password));
  };
}

struct ServerSessionOptions {
  std::string hostname = "volley.localdomain";      // in the greeting and EHLO reply
  uint64_t max_message_size = 25ull * 1024 * 1024;  // SIZE n; larger messages get 552 5.3.4
  int max_recipients = 1000;                        // more RCPTs get 452 4.5.3
  size_t max_line_length = 1000;                    // command lines, with CRLF; 500 5.5.6
  bool pipelining = true;
  bool smtputf8 = true;      // SMTPUTF8 offered and accepted on MAIL (else 555)
  bool eightbitmime = true;  // 8BITMIME offered and BODY=8BITMIME accepted (else 555)
  // CHUNKING (RFC 3030): BDAT, else 502. BODY=BINARYMIME is never offered (555): Volley keeps
  // messages as text and may relay them with DATA.
  bool chunking = true;
  // DSN (RFC 3461): MAIL RET= and ENVID=, RCPT NOTIFY= and ORCPT= (else 555).
  bool dsn = true;
  // Replaces the "220 <hostname> ESMTP Volley" greeting. A 4xx (421 4.3.2) is sent and the
  // connection closed; a 5xx (554) is sent and then every command but QUIT gets 503 5.5.1
  // (RFC 5321 3.1); a 2xx is a greeting with other text.
  std::optional<Reply> greeting;
  // AUTH PLAIN and LOGIN (RFC 4954, 4616): offered when set (after TLS only when
  // auth_requires_tls; before it AUTH gets 538 5.7.11). Input that arrives while the check
  // runs waits, as while the handler holds a message.
  Authenticator authenticate;
  bool auth_requires_tls = true;
  bool auth_required = false;  // MAIL before a successful AUTH gets 530 5.7.0
  // Before TLS every command but EHLO, HELO, STARTTLS, NOOP, RSET and QUIT gets 530 5.7.0
  // (RFC 3207 4), counted as a bad command.
  bool tls_required = false;
  // Message content in memory is charged to it (MailTransaction::Limits::memory), from the
  // first octet until the handler answers. Optional; shared across threads.
  MemoryBudget* memory = nullptr;
  // Addresses are checked beyond their syntax (address_check.h).
  bool strict_addresses = false;
  // Each refusal that protects the server, by reason: "tls_required", "auth_required",
  // "auth_failed", "memory", "bad_address", "too_many_errors". Optional; on the session's thread.
  std::function<void(absl::string_view reason)> on_refusal;
  // A server context: SmtpListener offers STARTTLS (RFC 3207) with it, by giving the session a
  // Transport::start_tls, or with ListenerOptions::implicit_tls speaks TLS from the first byte.
  // The session itself only needs the transport hook.
  std::shared_ptr<tls::TlsContext> tls;
  // After this many bad commands (syntax and sequence errors, unknown verbs, over-long lines,
  // failed AUTH) without a message accepted in between, the session answers 421 4.7.0 and
  // closes (as Postfix's smtpd_hard_error_limit). Refusals by the handler do not count.
  int max_errors = 20;
};

// Protocol rules enforced here:
//   EHLO/HELO resets the transaction; MAIL needs a prior EHLO/HELO (503 5.5.1); RCPT needs
//   MAIL (503 5.5.1); DATA needs at least one accepted RCPT (503 5.5.1, or 554 5.5.1 "no valid
//   recipients" when RCPTs were given but all refused); MAIL inside a transaction: 503 5.5.1.
//   SIZE= larger than max_message_size: 552 5.3.4 at MAIL. RSET: 250 2.0.0; NOOP: 250 2.0.0;
//   QUIT: 221 2.0.0 then close; VRFY: 252 2.5.0; HELP: 214 2.0.0; STARTTLS/AUTH/BDAT when not
//   offered: 502 5.5.1. Unknown verbs 500 5.5.2, syntax errors 501, over-long lines 500 5.5.6;
//   the session continues after each of these.
// Parameters: MAIL and RCPT parameters need EHLO; unknown ones (or ones of an extension not
//   offered) get 555 5.5.4 (RFC 5321 4.1.1.11), bad values and repeated keywords 501 5.5.4.
// BDAT: "BDAT <size> [LAST]" is followed by exactly <size> octets, taken as they are. A chunk
//   whose command is refused (503 5.5.1 without MAIL or an accepted RCPT; 552 5.3.4 when the
//   message would exceed max_message_size, which also ends the transaction) is still read and
//   thrown away, so that the session stays in step. 250 2.0.0 per chunk; the LAST one's reply
//   is the handler's. DATA after BDAT in a transaction: 503 5.5.1.
// AUTH: needs EHLO, outside a transaction, once per session (else 503 5.5.1); 235 2.7.0 on
//   success, 535 5.7.8 on bad credentials, 501 5.5.2 on malformed base64, 501 5.7.0 when the
//   client cancels with "*", 504 5.5.4 for other mechanisms.
// STARTTLS: 220 2.0.0, then Transport::start_tls; whatever the client sent after the STARTTLS
//   line before the handshake is discarded (CVE-2011-0411), and once OnTlsEstablished is called
//   the session forgets the EHLO and any AUTH (RFC 3207 4.2). In a transaction 503 5.5.1; when
//   TLS is already active 503 5.5.1.
// Pipelining: replies to the commands in one Feed() are written in one Write(). After DATA's
// 354 the session reads the body; pipelined input after the end of data waits until the
// handler's `done` reply has been sent, so replies stay in order.
// Not thread-safe: every call, and every Transport and handler callback, happens on the thread
// that drives the session. Inside, SaslServer runs the AUTH exchange, and MailTransaction the
// transaction from MAIL to the end of the content (parameters by esmtp_params, the content by
// ContentReader); the session keeps the rest and the order of the replies.
class ServerSession {
 public:
  // Where the session's output goes. Write may be called several times per Feed.
  struct Transport {
    absl::AnyInvocable<void(std::string bytes)> write;
    // Called once, after the last write, when the session wants the connection closed.
    // Neither callback may destroy the session (the listener frees it in uv_close's callback).
    absl::AnyInvocable<void()> close;
    // When set, the session offers STARTTLS (until TLS is active). Called right after the 220
    // to STARTTLS has been written: from then on the transport runs the TLS handshake over the
    // connection and feeds the session only decrypted bytes, calling OnTlsEstablished once the
    // handshake is done (or closing the connection when it fails). Must not destroy the
    // session either.
    absl::AnyInvocable<void()> start_tls;
  };

  ServerSession(const ServerSessionOptions& options, ServerSessionHandler* handler,
                Transport transport, std::string peer_address, std::string local_address);
  ~ServerSession();
  ServerSession(const ServerSession&) = delete;
  ServerSession& operator=(const ServerSession&) = delete;

  // Sends the 220 greeting (or ServerSessionOptions::greeting).
  void Start();

  // The TLS handshake finished: after STARTTLS (the session then starts over, as after the
  // greeting), or before Start() with implicit TLS.
  void OnTlsEstablished(std::string version, std::string cipher);

  // Bytes received from the client.
  void Feed(absl::string_view bytes);

  // The peer closed or the connection failed: abandon any transaction (a message already with
  // the handler is not affected).
  void OnDisconnect();

  // Orderly shutdown: the session answers `reply` (421 4.3.2 "shutting down" by default) to
  // the next command (or at once when idle between commands) and closes. A message already
  // with the handler gets its reply first.
  void Shutdown(std::optional<Reply> reply = std::nullopt);

  // What the session waits for from the client, for the driver's deadlines: a command line
  // (also during a TLS handshake and an AUTH exchange), content (DATA or a BDAT chunk), or
  // nothing (the handler or the credential check has the next move, or it is closed).
  enum class Waiting { kCommand, kContent, kNothing };
  Waiting waiting() const;
  // Lines the session has read so far (progress within kCommand), and octets of the current
  // message's content (progress within kContent).
  uint64_t lines_read() const;
  uint64_t content_bytes() const;

  // While the handler holds a message, the session buffers pipelined input instead of parsing
  // it. The driver stops reading the socket while this is false (backpressure); when the
  // session can take input again it calls `resume_reading`.
  bool wants_input() const;
  void set_resume_reading(absl::AnyInvocable<void()> resume);

  bool closed() const;
  uint64_t session_id() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volley::smtp

#endif  // VOLLEY_ENGINE_SMTP_SERVER_SESSION_H_
