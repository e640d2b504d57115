// The project's fast SMTP sink: accepts and counts every message on one or more loops, for the
// load benchmark (volley-bench), the smtp-sink program, and as the server under the test sink
// (tests/support/smtp_sink.h), which adds faults through the two extension points below.
//
// The sink speaks the same ESMTP as Volley's injection server (engine/smtp/server_session.h):
// PIPELINING, SIZE, 8BITMIME, SMTPUTF8, DSN, CHUNKING, ENHANCEDSTATUSCODES, and STARTTLS and
// AUTH PLAIN LOGIN when configured; each can be turned off to test a client's fallbacks.
#ifndef VOLLEY_BENCH_SMTP_SINK_H_
#define VOLLEY_BENCH_SMTP_SINK_H_

#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/net/stream.h"
#include "engine/smtp/reply.h"
#include "engine/smtp/server_session.h"

namespace volley::bench {

struct ReceivedMessage {
  uint64_t session_id = 0;
  std::string mail_from;
  std::vector<std::string> recipients;  // the accepted ones
  // DATA: unstuffed, CRLF line endings. BDAT: the chunks' octets as sent. Empty unless the
  // sink keeps content (keep_content).
  std::string content;
  std::string local_address;  // the sink address the client connected to
  std::string peer_address;
  bool tls = false;                 // the message came over TLS (STARTTLS or implicit)
  std::string tls_version;          // "TLSv1.3"
  std::string auth_user;            // the user that authenticated, "" for none
  bool bdat = false;                // sent with BDAT rather than DATA
  bool smtputf8_requested = false;  // MAIL ... SMTPUTF8
  // MAIL parameters, keywords upper-cased, values as sent ("" for none): SIZE, BODY, RET, ...
  std::vector<std::pair<std::string, std::string>> mail_params;
  // Per accepted recipient, parallel to `recipients`: NOTIFY, ORCPT.
  std::vector<std::vector<std::pair<std::string, std::string>>> recipient_params;
};

// Moves what the session knows of a message into a ReceivedMessage (content left empty).
ReceivedMessage ToReceived(smtp::Envelope envelope);

struct SinkOptions {
  // Numeric IPv4/IPv6 addresses; all listen on the same port.
  std::vector<std::string> addresses = {"127.0.0.1"};
  uint16_t port = 0;  // 0: pick a free one (see SmtpSink::port())
  int threads = 1;    // one loop per thread, sharing the port through SO_REUSEPORT
  bool pipelining = true;
  bool eightbitmime = true;                          // offer 8BITMIME (else BODY=8BITMIME gets 555)
  bool smtputf8 = true;                              // offer SMTPUTF8
  bool chunking = true;                              // offer CHUNKING (BDAT)
  bool dsn = true;                                   // offer DSN (RET, ENVID, NOTIFY, ORCPT)
  int max_recipients = 100000;                       // more RCPTs get 452 4.5.3
  uint64_t max_message_size = 256ull * 1024 * 1024;  // advertised as SIZE; larger gets 552
  // Replaces the 220 greeting: a 4xx (e.g. 421 4.3.2) is sent and the connection closed; a
  // 5xx (554) is sent and every command but QUIT then gets 503.
  std::optional<smtp::Reply> greeting;
  // PEM certificate and key: STARTTLS is offered (or, with implicit_tls, TLS from the first
  // byte). The //tls/testdata certificates cover localhost, 127.0.0.1 and *.tls.test.
  std::string tls_cert_file;
  std::string tls_key_file;
  bool implicit_tls = false;
  // AUTH PLAIN and LOGIN against these users (user -> password); none: AUTH not offered.
  std::map<std::string, std::string> auth_users;
  bool auth_requires_tls = true;  // AUTH only after STARTTLS (else 538 5.7.11)
  bool auth_required = false;     // MAIL before AUTH gets 530 5.7.0
  // Keep each message's content in the ReceivedMessage passed to on_message.
  bool keep_content = false;
  // Called for every received message on a sink thread (several threads may call it at once).
  std::function<void(const ReceivedMessage&)> on_message;
  // Connections opened (+1) and sessions ended (-1), per listening address; on a sink thread.
  std::function<void(const std::string& address, int delta)> on_connections_changed;

  // Extension points (tests/support/smtp_sink.h adds faults with them). `handler` replaces the
  // accept-everything handler for every session on every loop: it must be thread-safe, and it
  // reports the messages it accepts with SmtpSink::Count. `wrap_stream` puts something between
  // each connection and its session (see inject::SmtpListenerOptions::wrap_stream).
  smtp::ServerSessionHandler* handler = nullptr;
  std::function<std::unique_ptr<net::Stream>(uv_loop_t* loop, std::unique_ptr<net::Stream>)>
      wrap_stream;
};

// Thread-safe: the getters may be called from any thread while the sink runs.
class SmtpSink {
 public:
  static absl::StatusOr<std::unique_ptr<SmtpSink>> Start(const SinkOptions& options);
  ~SmtpSink();  // Stop()s

  SmtpSink(const SmtpSink&) = delete;
  SmtpSink& operator=(const SmtpSink&) = delete;

  uint16_t port() const { return port_; }
  uint64_t messages() const { return messages_.load(std::memory_order_relaxed); }
  // Accepted recipients of received messages.
  uint64_t recipients() const { return recipients_.load(std::memory_order_relaxed); }
  // Content octets of received messages.
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

  // A message received (on a sink thread): counted, passed to on_message; returns the queue id
  // for the 250 reply.
  uint64_t Count(const ReceivedMessage& message, size_t content_size);

  // Blocks until messages() >= n or `timeout` passes; returns whether n was reached.
  bool WaitForMessages(uint64_t n, absl::Duration timeout);

  // Closes the listeners (open connections are dropped) and joins the threads. Idempotent.
  void Stop();

 private:
  class Worker;
  class AcceptAll;

  SmtpSink() = default;

  SinkOptions options_;
  uint16_t port_ = 0;
  std::unique_ptr<smtp::ServerSessionHandler> accept_all_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<uint64_t> messages_{0};
  std::atomic<uint64_t> recipients_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> next_queue_id_{0};
  std::atomic<int> waiters_{0};
  std::mutex mutex_;  // pairs with cv_
  std::condition_variable cv_;
  bool stopped_ = false;  // touched by the owner's thread only
};

}  // namespace volley::bench

#endif  // VOLLEY_BENCH_SMTP_SINK_H_
