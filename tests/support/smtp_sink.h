// The project's SMTP test sink: the fast sink (bench/smtp_sink.h) with faults requested through
// the recipient's local part, as KumoMTA's sink does, and with every message and every
// session's commands kept for the test to check.
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
// and, for the whole sink, delayed replies and a broken STARTTLS (SinkOptions). A message with
// at least one accepted recipient and no data fault counts as received.
#ifndef VOLLEY_TESTS_SUPPORT_SMTP_SINK_H_
#define VOLLEY_TESTS_SUPPORT_SMTP_SINK_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/smtp_sink.h"

namespace volley::test_support {

using bench::ReceivedMessage;

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
  // When the session's first and latest command lines arrived: the session was open at least
  // from one to the other (for tests of how many sessions a client keeps at once).
  absl::Time first_command;
  absl::Time last_command;
};

// The most sessions of `transcripts` from `peer_address` ("" for any) whose command spans
// overlapped at one moment.
int MostConcurrentSessions(const std::vector<SessionTranscript>& transcripts,
                           const std::string& peer_address = "");

// The fast sink's options (addresses, port, threads, the extensions offered, TLS, AUTH,
// on_message), and the test sink's own.
struct SinkOptions : bench::SinkOptions {
  // Keep every received message (TakeMessages) and every session's command lines
  // (Transcripts).
  bool record = false;
  // Delays every reply (greeting included), to trigger client timeouts.
  absl::Duration reply_delay = absl::ZeroDuration();
  // When set, the reply delay in microseconds, read at every reply (the test changes it).
  std::shared_ptr<std::atomic<int64_t>> reply_delay_us;
  // Offer STARTTLS (with the //tls/testdata certificate when none is given), answer 220, then
  // write bytes that are not TLS and close, so that the client's handshake fails.
  bool starttls_breaks = false;
  // More than this many MAIL commands on one connection: the next gets "421 4.7.0 Too many
  // messages on this connection" and the connection ends, as busy receivers do (0: no limit).
  int max_messages_per_connection = 0;
  // More than this many connections at once (over all addresses): the next gets "421 4.7.0
  // Too many connections" instead of the greeting and ends (0: no limit).
  int max_connections = 0;
};

// Thread-safe: the getters and TakeMessages may be called from any thread while the sink runs.
class SmtpSink {
 public:
  static absl::StatusOr<std::unique_ptr<SmtpSink>> Start(const SinkOptions& options);
  ~SmtpSink();  // Stop()s

  SmtpSink(const SmtpSink&) = delete;
  SmtpSink& operator=(const SmtpSink&) = delete;

  uint16_t port() const { return server_->port(); }
  uint64_t messages() const { return server_->messages(); }
  uint64_t recipients() const { return server_->recipients(); }
  uint64_t bytes() const { return server_->bytes(); }
  // Connections refused for max_connections so far.
  uint64_t refused_connections() const { return refused_->load(); }

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
  bool WaitForMessages(uint64_t n, absl::Duration timeout) {
    return server_->WaitForMessages(n, timeout);
  }

  // Closes the listeners (open connections are dropped, with replies still held back) and joins
  // the threads. Idempotent.
  void Stop();

 private:
  class FaultHandler;

  SmtpSink() = default;
  void Record(const ReceivedMessage& message);
  void RecordCommand(const smtp::Envelope& envelope, absl::string_view line);
  void OnConnections(const std::string& address, int delta);
  // True the first time `recipient` is seen (for tempfailonce*).
  bool FirstSight(const std::string& recipient);
  // Counts a MAIL on session `session_id`; false when it is one more than
  // max_messages_per_connection.
  bool MailAllowed(uint64_t session_id);

  SinkOptions options_;
  std::shared_ptr<std::atomic<bool>> stopping_ = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::atomic<uint64_t>> refused_ = std::make_shared<std::atomic<uint64_t>>(0);
  std::unique_ptr<FaultHandler> handler_;
  std::unique_ptr<bench::SmtpSink> server_;
  // The same server for the handler on the server's threads, which start before server_ is set:
  // published with release, read with acquire.
  std::atomic<bench::SmtpSink*> running_{nullptr};
  std::mutex mutex_;  // guards recorded_
  std::vector<ReceivedMessage> recorded_;
  mutable std::mutex stats_mutex_;  // guards connection_stats_, seen_ and mails_
  absl::flat_hash_map<std::string, ConnectionStats> connection_stats_;
  absl::flat_hash_set<std::string> seen_;
  absl::flat_hash_map<uint64_t, int> mails_;  // session id -> MAIL commands seen
  mutable std::mutex transcripts_mutex_;      // guards transcripts_ and transcript_index_
  std::vector<SessionTranscript> transcripts_;
  absl::flat_hash_map<uint64_t, size_t> transcript_index_;  // session id -> transcripts_ index
};

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_SMTP_SINK_H_
