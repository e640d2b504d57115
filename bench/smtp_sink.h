// The project's own SMTP test sink: a fast server that accepts, counts and (optionally) keeps
// every message, with faults requested through the recipient's local part, as KumoMTA's sink
// does. Used by integration tests and by the load benchmark.
//
// Faults, by the local part's prefix (case-insensitive) of a recipient:
//   tempfailonce*  451 4.3.0 to its first RCPT (per exact address), accepted afterwards
//   tempfail*      451 4.3.0 to its RCPT
//   reject*, bounce*  550 5.1.1 to its RCPT
//   datafail*      451 4.3.0 after the data (the whole message)
//   permdatafail*  554 5.6.0 after the data
//   disconnect*    the connection is dropped after the data, without a reply
//   dropdata*      the connection is dropped in the middle of the DATA/BDAT content (as soon as
//                  some of it arrives), without a reply
// A message with at least one accepted recipient and no data fault counts as received.
//
// The sink speaks the same ESMTP as Volley's injection server (engine/smtp/server_session.h):
// PIPELINING, SIZE, 8BITMIME, SMTPUTF8, DSN, CHUNKING, ENHANCEDSTATUSCODES, and STARTTLS and
// AUTH PLAIN LOGIN when configured; each can be turned off to test a client's fallbacks.
#ifndef VOLLEY_BENCH_SMTP_SINK_H_
#define VOLLEY_BENCH_SMTP_SINK_H_

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

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/smtp/reply.h"

namespace volley::smtp {
struct Envelope;
}  // namespace volley::smtp

namespace volley::bench {

struct ReceivedMessage {
  uint64_t session_id = 0;  // matches SessionTranscript::session_id
  std::string mail_from;
  std::vector<std::string> recipients;  // the accepted ones
  // DATA: unstuffed, CRLF line endings. BDAT: the chunks' octets as sent.
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

// The command lines of one SMTP session (record mode), for tests that check a client's
// conversation: "EHLO client", "STARTTLS", "MAIL FROM:<a@b> SIZE=10", "BDAT 120 LAST",
// "AUTH PLAIN AGEAYg==" (credentials are recorded as sent), ... DATA/BDAT content is not
// included.
struct SessionTranscript {
  uint64_t session_id = 0;
  std::string local_address;
  std::string peer_address;
  std::vector<std::string> commands;
  // As of the session's last command line: TLS was active (a session that did STARTTLS and
  // then sent nothing more shows false), its version, and the authenticated user.
  bool tls = false;
  std::string tls_version;
  std::string auth_user;
};

struct SinkOptions {
  // Numeric IPv4/IPv6 addresses; all listen on the same port.
  std::vector<std::string> addresses = {"127.0.0.1"};
  uint16_t port = 0;  // 0: pick a free one (see SmtpSink::port())
  int threads = 1;    // one uv loop per thread, sharing the port through SO_REUSEPORT
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
  // Fault: offer STARTTLS (no certificate needed), answer 220, then write bytes that are not
  // TLS and close, so that the client's handshake fails.
  bool starttls_breaks = false;
  // AUTH PLAIN and LOGIN against these users (user -> password); none: AUTH not offered.
  std::map<std::string, std::string> auth_users;
  bool auth_requires_tls = true;  // AUTH only after STARTTLS (else 538 5.7.11)
  bool auth_required = false;     // MAIL before AUTH gets 530 5.7.0
  // Keep every received message (TakeMessages) and every session's command lines
  // (Transcripts), for tests.
  bool record = false;
  // Delays every reply (greeting included), to trigger client timeouts.
  absl::Duration reply_delay = absl::ZeroDuration();
  // When set, called for every received message on a sink thread (several threads may call
  // it at once). Its `content` is empty unless `record` is set.
  std::function<void(const ReceivedMessage&)> on_message;
};

// Thread-safe: the getters and TakeMessages may be called from any thread while the sink runs.
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

  struct ConnectionStats {
    uint64_t accepted = 0;  // connections accepted on the address so far
    int open = 0;           // open now
    int max_open = 0;       // the most open at once
  };
  // Connection counts for one of the sink's addresses.
  ConnectionStats connection_stats(const std::string& address) const;

  // The messages received since the last call, in arrival order per thread (record mode).
  std::vector<ReceivedMessage> TakeMessages();

  // The command lines of every session so far (record mode), in the order of their first
  // command. A session's entry grows while it runs.
  std::vector<SessionTranscript> Transcripts() const;

  // Blocks until messages() >= n or `timeout` passes; returns whether n was reached.
  bool WaitForMessages(uint64_t n, absl::Duration timeout);

  // Closes the listeners (open connections are dropped) and joins the threads. Idempotent.
  void Stop();

 private:
  class Worker;
  class Handler;

  SmtpSink() = default;
  void Count(ReceivedMessage message, size_t content_size);
  void RecordCommand(const smtp::Envelope& envelope, absl::string_view line);
  void OnConnections(const std::string& address, int delta);
  // True the first time `recipient` is seen (for tempfailonce*).
  bool FirstSight(const std::string& recipient);

  SinkOptions options_;
  uint16_t port_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<uint64_t> messages_{0};
  std::atomic<uint64_t> recipients_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> next_queue_id_{0};
  std::atomic<int> waiters_{0};
  std::mutex mutex_;  // guards recorded_ and pairs with cv_
  std::condition_variable cv_;
  std::vector<ReceivedMessage> recorded_;
  mutable std::mutex stats_mutex_;  // guards connection_stats_ and seen_
  absl::flat_hash_map<std::string, ConnectionStats> connection_stats_;
  absl::flat_hash_set<std::string> seen_;
  mutable std::mutex transcripts_mutex_;  // guards transcripts_ and transcript_index_
  std::vector<SessionTranscript> transcripts_;
  absl::flat_hash_map<uint64_t, size_t> transcript_index_;  // session id -> transcripts_ index
  bool stopped_ = false;                                    // touched by the owner's thread only
};

}  // namespace volley::bench

#endif  // VOLLEY_BENCH_SMTP_SINK_H_
