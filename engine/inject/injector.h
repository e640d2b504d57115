// Injection, protocol-neutral: a message and its envelope in, a queue id out once the message
// is durable. The SMTP listener's handler (smtp_injection.h) is one adapter; the HTTP API will
// be another. Policy (may this client send, may it relay to this recipient), preparation (trace
// fields), the synced spool insert, the Reception events and the hand-off to the shards that
// own the recipients' domains all happen here, once.
#ifndef VOLLEY_ENGINE_INJECT_INJECTOR_H_
#define VOLLEY_ENGINE_INJECT_INJECTOR_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/base/liveness.h"
#include "engine/base/thread_checker.h"
#include "engine/bounce/suppression_list.h"
#include "engine/delivery/context.h"
#include "engine/delivery/delivery_shard.h"
#include "engine/message/message_tags.h"
#include "engine/runtime/shard.h"
#include "queue/message_id.h"

namespace volley::inject {

struct InjectRecipient {
  std::string address;
  std::string dsn_notify;  // RFC 3461 NOTIFY as received, "" for none
  std::string dsn_orcpt;   // RFC 3461 ORCPT as received, "" for none
};

struct InjectRequest {
  std::string listener = "smtp";  // for volley_messages_received_total{listener}
  std::string sender;             // envelope sender, "" for the null reverse-path
  std::vector<InjectRecipient> recipients;
  std::string content;  // the message, CRLF line endings
  bool smtputf8 = false;
  std::string dsn_ret;    // RFC 3461 RET, "" for none
  std::string dsn_envid;  // RFC 3461 ENVID, "" for none
  // Who handed it over, for the Received trace field and the Reception records.
  std::string peer_address;
  std::string helo;
  bool esmtp = true;
  // The Received header's "with" type when not SMTP's ("HTTP" for the injection API).
  std::string protocol;
  std::string auth_user;    // the client's AUTH identity, "" for none
  std::string tls_version;  // the injection's TLS ("TLSv1.3"), "" without
  std::string tls_cipher;
  // Tenant, campaign and priority, as the adapter found them (SMTP: the X-Volley-* headers, or
  // the listener's defaults).
  message::MessageTags tags;
  // The message's metadata, a JSON object as compact text ("" for none): stored with it and
  // written as it is into every log record and webhook event of its recipients ("meta"). The
  // engine never parses it, so the adapter must give valid JSON (HTTP: the request's "metadata"
  // object as nlohmann's dump() writes it).
  std::string metadata;
  // A message Volley makes itself (a delivery notice): the recipients of other messages it
  // finishes, removed in the same write (SpoolWriter::Insert), and whether the suppression list
  // applies to its recipients (a notice goes to a sender, whom the list does not name).
  std::vector<queue::RecipientRef> completes;
  // False for Volley's own messages: no suppression list, and no List-Unsubscribe either (a
  // notice is not bulk mail, and its recipient is a sender).
  bool check_suppression = true;
};

// One per shard. All calls and callbacks on the shard's loop thread.
//
// Statuses (smtp_status.h turns them into replies):
//   kResourceExhausted  the spool's disk is low, or its write failed: nothing was kept
//   kUnavailable        the spool writer has stopped (the engine is going down)
//   kPermissionDenied   the client may not relay; the message is the client's address
//   kInvalidArgument    a recipient without a domain (Volley relays; it has no mailboxes)
//   kFailedPrecondition every recipient is on the suppression list: nothing was kept
class Injector {
 public:
  using Done = absl::AnyInvocable<void(absl::StatusOr<std::string> queue_id)>;

  Injector(Shard* shard, const delivery::EngineContext& context,
           const delivery::DeliveryRouter* router, queue::MessageIdGenerator* ids);
  ~Injector();

  // May a client hand over a message now? (Refusing at MAIL saves it sending a body we would
  // not keep.)
  absl::Status CheckSender() const;
  // May the client at `peer_address` send to `recipient`? `may_relay` is the adapter's
  // decision (SMTP: authenticated, or from the listener's relay_networks).
  absl::Status CheckRecipient(bool may_relay, absl::string_view peer_address,
                              absl::string_view recipient) const;

  // Stores the message with all its recipients, synced. `done` runs once, on this loop: with
  // the queue id once the message is durable (its Reception events are out and its recipients
  // on their way to delivery), or with the error.
  void Inject(InjectRequest request, Done done);

  // Messages handed to the spool writer and not yet answered.
  int pending() const { return pending_; }
  // For backpressure: the spool writer's backlog of new messages (all shards'), and the
  // recipients in the spool.
  int64_t spool_backlog() const { return context_.writer->pending_inserts(); }
  uint64_t queued_recipients() const { return context_.writer->queued_recipients(); }
  // [server] hostname, for replies.
  const std::string& hostname() const { return context_.config->server.hostname; }

 private:
  struct Stored;
  // What the suppression list said of each recipient (nullopt: not suppressed).
  using Lookups = std::vector<std::optional<bounce::SuppressionEntry>>;
  // After the spool writer's lookups: the suppressed recipients leave `stored` with a
  // Suppressed record each, the rest are renumbered as the writer stored them.
  void LeaveOutSuppressed(Stored& stored, const Lookups& found);
  // The synced spool insert, leaving out suppressed recipients; OnStored finishes on this loop.
  void Store(Stored stored);
  void OnStored(Stored stored, absl::Status status);
  // A recipient event of the message in `stored` (Reception, Suppressed).
  void EmitFor(const Stored& stored, events::EventType type, absl::string_view recipient,
               absl::string_view domain, const smtp::Reply& reply);

  Shard* const shard_;
  const delivery::EngineContext context_;
  const delivery::DeliveryRouter* const router_;
  queue::MessageIdGenerator* const ids_;
  ThreadChecker thread_;
  int pending_ = 0;
  Liveness liveness_;
};

}  // namespace volley::inject

#endif  // VOLLEY_ENGINE_INJECT_INJECTOR_H_
