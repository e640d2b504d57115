// The ESMTP server side (RFC 5321, 1870, 2920, 6152, 6531, 2034) as a pure state machine: bytes
// in, bytes out, no sockets. The injection listener and the test/bench sink both drive it
// through SmtpListener; what they do with a message is the ServerSessionHandler's business.
#ifndef VOLLEY_ENGINE_SMTP_SERVER_SESSION_H_
#define VOLLEY_ENGINE_SMTP_SERVER_SESSION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "engine/smtp/command_parser.h"
#include "engine/smtp/dot_stuffing.h"
#include "engine/smtp/line_reader.h"
#include "engine/smtp/reply.h"

namespace volley::smtp {

struct Envelope {
  std::string peer_address;   // numeric IP of the client
  std::string local_address;  // numeric IP the client connected to
  std::string helo;           // EHLO/HELO argument
  bool esmtp = false;         // EHLO (not HELO) was used
  std::string mail_from;      // "" for the null reverse-path
  std::vector<std::pair<std::string, std::string>> mail_params;  // as parsed (SIZE, BODY, ...)
  std::vector<std::string> recipients;  // accepted RCPT TO addresses, in order
};

// What the session asks of its owner. All calls happen on the thread that drives the session.
class ServerSessionHandler {
 public:
  virtual ~ServerSessionHandler() = default;

  // MAIL FROM was parsed and is in sequence. Return a reply to reject it, nullopt to accept.
  virtual std::optional<Reply> CheckMailFrom(const Envelope& envelope) {
    (void)envelope;
    return std::nullopt;
  }

  // RCPT TO was parsed and is in sequence (`envelope.recipients` holds those accepted so far).
  // Return a reply to reject it (e.g. 550 5.7.1 relay denied), nullopt to accept.
  virtual std::optional<Reply> CheckRecipient(const Envelope& envelope,
                                              absl::string_view recipient) = 0;

  // A complete message arrived (`content` unstuffed, CRLF line endings, without the final
  // "."). The handler calls `done` exactly once with the reply for the client (250 with the
  // queue id once the message is durable, or an error), now or later on the same thread.
  // Calling `done` after the session is gone is safe and does nothing. A reply with code 0
  // drops the connection without an answer, as a crashed server would (for the test sink).
  virtual void OnMessage(Envelope envelope, std::string content,
                         absl::AnyInvocable<void(Reply)> done) = 0;
};

struct ServerSessionOptions {
  std::string hostname = "volley.localdomain";      // in the greeting and EHLO reply
  uint64_t max_message_size = 25ull * 1024 * 1024;  // SIZE n; larger messages get 552 5.3.4
  int max_recipients = 1000;                        // more RCPTs get 452 4.5.3
  size_t max_line_length = 1000;                    // command lines, with CRLF; 500 5.5.6
  bool pipelining = true;
  bool smtputf8 = true;
  // After this many bad commands (syntax and sequence errors, unknown verbs, over-long lines)
  // without a message accepted in between, the session answers 421 4.7.0 and closes (as
  // Postfix's smtpd_hard_error_limit). Refusals by the handler do not count.
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
// Pipelining: replies to the commands in one Feed() are written in one Write(). After DATA's
// 354 the session reads the body; pipelined input after the end of data waits until the
// handler's `done` reply has been sent, so replies stay in order.
class ServerSession {
 public:
  // Where the session's output goes. Write may be called several times per Feed.
  struct Transport {
    absl::AnyInvocable<void(std::string bytes)> write;
    // Called once, after the last write, when the session wants the connection closed.
    // Neither callback may destroy the session (the listener frees it in uv_close's callback).
    absl::AnyInvocable<void()> close;
  };

  ServerSession(const ServerSessionOptions& options, ServerSessionHandler* handler,
                Transport transport, std::string peer_address, std::string local_address);
  ~ServerSession();
  ServerSession(const ServerSession&) = delete;
  ServerSession& operator=(const ServerSession&) = delete;

  // Sends the 220 greeting.
  void Start();

  // Bytes received from the client.
  void Feed(absl::string_view bytes);

  // The peer closed or the connection failed: abandon any transaction (a message already with
  // the handler is not affected).
  void OnDisconnect();

  // Orderly shutdown: the session answers 421 4.3.2 to the next command (or at once when idle
  // between commands) and closes. A message already with the handler gets its reply first.
  void Shutdown();

  // While the handler holds a message, the session buffers pipelined input instead of parsing
  // it. The driver stops reading the socket while this is false (backpressure); when the
  // session can take input again it calls `resume_reading`.
  bool wants_input() const;
  void set_resume_reading(absl::AnyInvocable<void()> resume);

  bool closed() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volley::smtp

#endif  // VOLLEY_ENGINE_SMTP_SERVER_SESSION_H_
