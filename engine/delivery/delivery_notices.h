// Delivery status notifications (RFC 3461/3464) to a message's envelope sender: who gets one
// (NoticeWanted), and the collector that gathers a message's recipients into one notice and
// stores it.
//
// One notice per message per pass: every shard hands the notices of a message to the message's
// owner shard (its id modulo the shard count), where they wait kCollectWindow for the other
// recipients of the same message failing in the same pass (the other sites of a fresh message
// are tried within it), and then go out as one multipart/report. The failed and relayed
// recipients a notice reports are removed from the spool in the same write that stores the
// notice (SpoolWriter::Insert's `completes`): a crash before it leaves them queued, to be tried
// and reported again, and never a recipient gone without its notice. A delay notice removes
// nothing; its recipient's delay_notified flag is written with its retry, so it is sent once
// (a crash in the window between loses that one advisory notice, never a message).
#ifndef VOLLEY_ENGINE_DELIVERY_DELIVERY_NOTICES_H_
#define VOLLEY_ENGINE_DELIVERY_DELIVERY_NOTICES_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/base/liveness.h"
#include "engine/base/thread_checker.h"
#include "engine/bounce/dsn_report.h"
#include "engine/delivery/queued_recipient.h"
#include "engine/runtime/timer.h"
#include "engine/runtime/worker_pool.h"
#include "queue/spool.h"
#include "queue/spool_writer.h"
#include "uv.h"

namespace volley::delivery {

// How long the owner waits for more recipients of a message before writing its notice, and
// how long before it tries again when the notice could not be stored (the spool refused it).
inline constexpr absl::Duration kCollectWindow = absl::Seconds(2);
inline constexpr absl::Duration kStoreRetry = absl::Seconds(30);

// When notices go out ([delivery] dsn and delay_dsn_after).
struct NoticePolicy {
  bool enabled = true;
  absl::Duration delay_after = absl::Hours(4);  // zero: no delay notices
};

// Whether the sender asked for (or by default gets) a notice of `action` for `recipient`: never
// when notices are off or for the null sender (a notice is never answered with a notice); with
// NOTIFY=NEVER none; without NOTIFY failures and delays (RFC 3461 4.1); otherwise what NOTIFY
// lists (FAILURE, DELAY, SUCCESS for a relay).
bool NoticeWanted(const NoticePolicy& policy, const QueuedRecipient& recipient,
                  bounce::DsnAction action);

// The DSN Status of a reply: its enhanced code, or its class's generic one (2.0.0, 4.0.0,
// 5.0.0).
std::string DsnStatusOf(int code, const std::optional<std::string>& enhanced);

// One recipient's notice, from the recorder (any shard) to the message's owner.
struct NoticeItem {
  std::shared_ptr<const MessageInfo> message;
  std::shared_ptr<const std::string> body;  // null: read from the spool
  bounce::DsnRecipient recipient;
  // Failed and relayed: the recipient's spool entry, removed with the notice.
  std::optional<queue::RecipientRef> completes;
};

// A notice ready to be stored like any message: null sender, one recipient.
struct NoticeMessage {
  std::string to;
  std::string content;
  bool smtputf8 = false;
  // The original's tenant (whose suppressions and accounting the notice belongs to), but not its
  // metadata: that describes the platform's message to its recipient, and a notice's records
  // carrying it would read as that message's events. The notice is logged with none ("meta": {}).
  std::string tenant;
  std::vector<queue::RecipientRef> completes;
};
// Stores a notice (the shard's Injector); `done` runs on the loop with the outcome.
using StoreNotice =
    std::function<void(NoticeMessage notice, absl::AnyInvocable<void(absl::Status)> done)>;

// One per shard. All calls and callbacks on the shard's loop thread.
class DeliveryNotices {
 public:
  struct Options {
    uv_loop_t* loop = nullptr;
    const queue::Spool* spool = nullptr;
    WorkerPool* io_pool = nullptr;   // the spool reads and the building
    std::function<bool(Task)> post;  // runs a task on this loop; false once stopped
    std::string hostname;            // Reporting-MTA
    absl::Duration max_age;          // a delayed message is tried until created + max_age
    absl::Duration window = kCollectWindow;
    absl::Duration retry = kStoreRetry;
  };

  explicit DeliveryNotices(Options options);
  ~DeliveryNotices();

  void set_store(StoreNotice store) { store_ = std::move(store); }
  // Called whenever a notice's store has answered (the shard's shutdown waits for pending()).
  void set_on_settled(std::function<void()> on_settled) { on_settled_ = std::move(on_settled); }
  // Shutting down: what waits goes now, and what comes later at once.
  void FlushNow();
  // A recipient's notice, on the message's owner shard.
  void Add(NoticeItem item);
  // Messages whose notice is waiting or being built.
  size_t pending() const { return groups_.size() + building_; }

 private:
  struct Group {
    std::shared_ptr<const MessageInfo> message;
    std::shared_ptr<const std::string> body;
    std::vector<bounce::DsnRecipient> recipients;
    std::vector<queue::RecipientRef> completes;
    bool has_delayed = false;  // a delay notice is among `recipients`
    absl::Time ready_at;
  };

  // A group becomes ready at `ready_at`; the timer is set for the earliest.
  void Schedule(absl::Time ready_at, queue::MessageId id);
  void OnTimer();
  // Off the loop: the original's body when it was not at hand, then the report.
  void Build(Group group);
  void Store(Group group, std::string content);

  Options options_;
  StoreNotice store_;
  std::function<void()> on_settled_;
  bool flushing_ = false;
  absl::flat_hash_map<queue::MessageId, Group> groups_;
  // When each group is ready, earliest first (a mass bounce holds many groups at once: no
  // scan of them all per notice).
  std::multimap<absl::Time, queue::MessageId> due_;
  size_t building_ = 0;
  Timer timer_;
  ThreadChecker thread_;
  Liveness liveness_;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_DELIVERY_NOTICES_H_
