// A fast SMTP injection client: the load side of benchmarks and end-to-end tests.
#ifndef VOLLEY_BENCH_SMTP_INJECTOR_H_
#define VOLLEY_BENCH_SMTP_INJECTOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/smtp/reply.h"
#include "tls/tls_context.h"

namespace volley::bench {

struct InjectorOptions {
  std::string host = "127.0.0.1";  // numeric IPv4 or IPv6
  uint16_t port = 25;
  int connections = 8;
  bool pipelining = true;           // used only when the server advertises PIPELINING
  int messages_per_connection = 0;  // then QUIT and reconnect; 0: unlimited
  // The whole call fails when nothing happens (no reply, no connection) for this long.
  absl::Duration timeout = absl::Seconds(60);
  // Submission: STARTTLS with this client context (the session is not resumed: every
  // connection pays a full handshake, as a platform's fresh connections do) and then, when
  // auth_user is set, AUTH PLAIN, before the first message of each connection.
  std::shared_ptr<tls::TlsContext> starttls;
  std::string auth_user;
  std::string auth_password;
};

struct InjectMessage {
  std::string mail_from;
  std::vector<std::string> recipients;
  std::string content;  // unstuffed; line endings are normalised to CRLF when sent
  // MAIL ... SMTPUTF8 (RFC 6531). Also sent, as a client must, when an address is not ASCII.
  bool smtputf8 = false;
};

struct InjectResult {
  // Per message index: the reply that decided its fate. The end-of-data reply when the data
  // was sent (250 with the server's queue id, or its refusal); otherwise the first refusal
  // (MAIL, or the last RCPT when all were refused, or DATA). A connection failure is a
  // synthetic reply with code 0 and the error as text.
  std::vector<smtp::Reply> replies;
  // Per message index, per recipient: the RCPT reply (code 0 when none came).
  std::vector<std::vector<smtp::Reply>> recipient_replies;
  std::vector<absl::Time> acked_at;  // when replies[i] arrived
  absl::Time started, finished;
  uint64_t accepted = 0;        // replies with a 2xx code
  uint64_t rejected = 0;        // replies with a 4xx or 5xx code
  uint64_t failed = 0;          // connection failures (code 0)
  uint64_t tls_handshakes = 0;  // STARTTLS handshakes completed
};

// Sends each of `count` messages once over up to `options.connections` parallel sessions: EHLO
// once per connection, then per message MAIL, RCPT... and DATA in one write (lock-step when the
// server does not offer PIPELINING), the dot-stuffed body after the 354, RSET after a refused
// transaction, and QUIT at the end. A connection that fails is reopened; its message in flight
// fails. A connection slot gives up after 3 failures in a row without a completed message;
// when all have given up, the remaining messages fail with the last error.
//
// Blocking. Runs a private uv loop on the calling thread, so `make_message` is called on the
// calling thread, lazily (just before the message is sent), in index order, at most once per
// index (not for messages failed because every connection gave up).
// Returns DeadlineExceeded when nothing happened for `options.timeout`.
absl::StatusOr<InjectResult> InjectAll(const InjectorOptions& options,
                                       absl::FunctionRef<InjectMessage(size_t index)> make_message,
                                       size_t count);

}  // namespace volley::bench

#endif  // VOLLEY_BENCH_SMTP_INJECTOR_H_
