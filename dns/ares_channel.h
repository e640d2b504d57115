// One c-ares channel driven by a libuv loop: the resolver sends queries through it and gets
// each raw answer back, which the parsers below read. See dns/README.md ("c-ares on libuv").
#ifndef VOLLEY_DNS_ARES_CHANNEL_H_
#define VOLLEY_DNS_ARES_CHANNEL_H_

#include <ares.h>
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace volley::dns {

struct AresChannelOptions {
  std::vector<std::string> servers;           // "ip:port" ("[v6]:port"); empty: /etc/resolv.conf
  absl::Duration timeout = absl::Seconds(5);  // per try, positive; whole ms, at least 1
  int tries = 2;                              // per server, at least 1
};

// The words our errors use for a c-ares status: "NXDOMAIN", "SERVFAIL", "timeout", ...
std::string AresStatusText(int status);

// An MX record as c-ares parses it: the host as the answer spells it, without
// the trailing dot; "" for the root, i.e. a null MX ("MX 0 .", RFC 7505).
struct MxRecord {
  std::string host;
  int preference = 0;
};

// Parses the MX records of `answer` into `records`. Returns ARES_SUCCESS with
// at least one record, ARES_ENODATA for an answer without any (also one that
// holds only a CNAME), or c-ares' parse error (ARES_EBADRESP, ...).
int ParseMxAnswer(absl::Span<const unsigned char> answer, std::vector<MxRecord>& records);

// Appends the addresses of an A or AAAA answer (`rr_type` ns_t_a or
// ns_t_aaaa), as numeric text and at most 32, to `addresses`. c-ares follows a
// CNAME chain in the answer to the addresses of its last name. Returns
// ARES_SUCCESS with at least one address, ARES_ENODATA for an answer without
// any (also one that holds only a CNAME), or c-ares' parse error.
int ParseAddressAnswer(int rr_type, absl::Span<const unsigned char> answer,
                       std::vector<std::string>& addresses);

// Wraps one c-ares channel (ares_channel) on a libuv loop: one uv_poll_t per socket c-ares
// opens (ARES_OPT_SOCK_STATE_CB), and one uv_timer_t re-armed from ares_timeout() after every
// c-ares call. Queries are class IN, without search domains or /etc/hosts, with EDNS, and
// repeated over TCP when an answer comes back truncated. After a query ends in
// ARES_ECONNREFUSED the channel is rebuilt (re-reading /etc/resolv.conf when no servers are
// given) by the next Query that finds it idle.
//
// All calls and callbacks on the loop's thread. Every handle lives in a heap box freed in
// its close callback, so the channel may be destroyed while closes are pending; the
// contract is still Shutdown, then `done`, then destroy.
class AresChannel {
 public:
  // A query's c-ares status (ARES_SUCCESS, ARES_ENODATA, ARES_ENOTFOUND,
  // ARES_ETIMEOUT, ...) and its raw answer, which is valid during the call
  // only and may be empty (a timeout, or a name c-ares could not encode).
  using AnswerCallback =
      absl::AnyInvocable<void(int status, absl::Span<const unsigned char> answer)>;

  static absl::StatusOr<std::unique_ptr<AresChannel>> Create(uv_loop_t* loop,
                                                             const AresChannelOptions& options);
  AresChannel(const AresChannel&) = delete;
  AresChannel& operator=(const AresChannel&) = delete;
  // Outstanding queries are dropped: their callbacks do not run.
  ~AresChannel();

  // Sends a query for `name` (lookup form, dns_wire.h) of type `rr_type`
  // (ns_t_mx, ns_t_a, ns_t_aaaa). `on_answer` runs exactly once, unless the
  // channel is destroyed first: usually from the loop, but inside Query when
  // c-ares fails the query at once (ARES_EBADNAME for a label over 63 bytes),
  // and inside Shutdown (ARES_ECANCELLED). It may send further queries, but
  // must not call Shutdown or destroy the channel. Fails, without running
  // `on_answer`, after Shutdown or if the channel cannot be rebuilt.
  absl::Status Query(const std::string& name, int rr_type, AnswerCallback on_answer);

  // Cancels every outstanding query (its callback runs with ARES_ECANCELLED
  // before Shutdown returns), destroys the c-ares channel and closes every
  // handle. `done` runs from the loop once they are all closed; it may destroy
  // the channel. Not from inside an answer callback.
  void Shutdown(absl::AnyInvocable<void()> done);

  // Queries sent whose callbacks have not run yet.
  int active_queries() const { return active_queries_; }

 private:
  struct HandleBox;
  struct PendingQuery;

  AresChannel(uv_loop_t* loop, const AresChannelOptions& options);
  absl::Status Init();
  absl::Status InitChannel();
  void RebuildIfDirty();

  void OnSockState(ares_socket_t fd, int readable, int writable);
  void UpdateTimer();
  HandleBox* NewHandle();
  void CloseHandle(HandleBox* box);
  void OnHandleClosed(HandleBox* box);

  static void OnAresAnswer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  static void SockStateThunk(void* data, ares_socket_t fd, int readable, int writable);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);

  uv_loop_t* const loop_;
  const AresChannelOptions options_;
  ares_channel channel_ = nullptr;
  // Set on ARES_ECONNREFUSED: the next Query that finds the channel idle
  // rebuilds it (as Envoy does after network changes).
  bool dirty_ = false;
  int active_queries_ = 0;
  // Answer callbacks on the stack: c-ares is running, so the channel must not
  // be destroyed, and the c-ares call that ran them re-arms the timer.
  int callback_depth_ = 0;

  absl::flat_hash_set<HandleBox*> handles_;  // every handle whose close callback has not run
  absl::flat_hash_map<ares_socket_t, HandleBox*> polls_;
  HandleBox* timer_ = nullptr;

  bool shutting_down_ = false;
  bool destroying_ = false;
  absl::AnyInvocable<void()> shutdown_done_;
};

}  // namespace volley::dns

#endif  // VOLLEY_DNS_ARES_CHANNEL_H_
