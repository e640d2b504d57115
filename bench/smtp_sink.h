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
// A message with at least one accepted recipient and no data fault counts as received.
#ifndef VOLLEY_BENCH_SMTP_SINK_H_
#define VOLLEY_BENCH_SMTP_SINK_H_

#include <atomic>
#include <condition_variable>
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

namespace volley::bench {

struct ReceivedMessage {
  std::string mail_from;
  std::vector<std::string> recipients;  // the accepted ones
  std::string content;                  // unstuffed, CRLF line endings
  std::string local_address;            // the sink address the client connected to
  std::string peer_address;
};

struct SinkOptions {
  // Numeric IPv4/IPv6 addresses; all listen on the same port.
  std::vector<std::string> addresses = {"127.0.0.1"};
  uint16_t port = 0;  // 0: pick a free one (see SmtpSink::port())
  int threads = 1;    // one uv loop per thread, sharing the port through SO_REUSEPORT
  bool pipelining = true;
  bool record = false;  // keep every received message (for tests; see TakeMessages)
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

  // Blocks until messages() >= n or `timeout` passes; returns whether n was reached.
  bool WaitForMessages(uint64_t n, absl::Duration timeout);

  // Closes the listeners (open connections are dropped) and joins the threads. Idempotent.
  void Stop();

 private:
  class Worker;
  class Handler;

  SmtpSink() = default;
  void Count(ReceivedMessage message, size_t content_size);
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
  bool stopped_ = false;  // touched by the owner's thread only
};

}  // namespace volley::bench

#endif  // VOLLEY_BENCH_SMTP_SINK_H_
