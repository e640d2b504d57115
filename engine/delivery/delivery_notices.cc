#include "engine/delivery/delivery_notices.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/base/logging.h"

namespace volley::delivery {

bool NoticeWanted(const NoticePolicy& policy, const QueuedRecipient& recipient,
                  bounce::DsnAction action) {
  if (!policy.enabled || recipient.message->sender.empty()) return false;
  if (action == bounce::DsnAction::kDelayed && policy.delay_after <= absl::ZeroDuration()) {
    return false;
  }
  const std::string notify = absl::AsciiStrToUpper(recipient.dsn_notify);
  if (notify.empty()) return action != bounce::DsnAction::kRelayed;
  if (absl::StrContains(notify, "NEVER")) return false;
  switch (action) {
    case bounce::DsnAction::kFailed:
      return absl::StrContains(notify, "FAILURE");
    case bounce::DsnAction::kDelayed:
      return absl::StrContains(notify, "DELAY");
    case bounce::DsnAction::kRelayed:
      return absl::StrContains(notify, "SUCCESS");
  }
  return false;
}

std::string DsnStatusOf(int code, const std::optional<std::string>& enhanced) {
  if (enhanced.has_value() && !enhanced->empty()) return *enhanced;
  return absl::StrCat(code / 100, ".0.0");
}

DeliveryNotices::DeliveryNotices(Options options)
    : options_(std::move(options)), timer_(options_.loop, [this] { OnTimer(); }) {}

DeliveryNotices::~DeliveryNotices() {
  DCHECK(thread_.InLoopThread());
  if (!groups_.empty()) {
    // Their recipients are still in the spool: after a restart they are tried and reported
    // again.
    LOG(WARNING) << groups_.size() << " delivery notices not written; their recipients stay queued";
  }
}

void DeliveryNotices::Add(NoticeItem item) {
  DCHECK(thread_.InLoopThread());
  auto [it, fresh] = groups_.try_emplace(item.message->id);
  Group& group = it->second;
  if (fresh) {
    group.message = item.message;
    group.ready_at = flushing_ ? absl::Now() : absl::Now() + options_.window;
    Schedule(group.ready_at, item.message->id);
  }
  if (group.body == nullptr) group.body = std::move(item.body);
  // A recipient is reported once: a failure that comes while its delay notice waits replaces
  // that notice (looked for only when the group has one: a mass bounce adds no scan).
  if (item.recipient.action == bounce::DsnAction::kDelayed) {
    group.has_delayed = true;
  } else if (group.has_delayed) {
    auto same = std::find_if(
        group.recipients.begin(), group.recipients.end(), [&](const bounce::DsnRecipient& r) {
          return r.address == item.recipient.address && r.action == bounce::DsnAction::kDelayed;
        });
    if (same != group.recipients.end()) group.recipients.erase(same);
  }
  group.recipients.push_back(std::move(item.recipient));
  if (item.completes.has_value()) group.completes.push_back(*item.completes);
}

void DeliveryNotices::FlushNow() {
  DCHECK(thread_.InLoopThread());
  flushing_ = true;
  const absl::Time now = absl::Now();
  due_.clear();
  for (auto& [id, group] : groups_) {
    group.ready_at = now;
    due_.emplace(now, id);
  }
  OnTimer();
}

void DeliveryNotices::Schedule(absl::Time ready_at, queue::MessageId id) {
  auto it = due_.emplace(ready_at, id);
  if (it == due_.begin()) timer_.Start(ready_at - absl::Now());  // the earliest now
}

void DeliveryNotices::OnTimer() {
  DCHECK(thread_.InLoopThread());
  const absl::Time now = absl::Now();
  std::vector<Group> ready;
  while (!due_.empty() && due_.begin()->first <= now) {
    auto it = groups_.find(due_.begin()->second);
    due_.erase(due_.begin());
    if (it == groups_.end()) continue;
    ready.push_back(std::move(it->second));
    groups_.erase(it);
  }
  if (due_.empty()) {
    timer_.Stop();
  } else {
    timer_.Start(due_.begin()->first - now);
  }
  for (Group& group : ready) Build(std::move(group));
}

void DeliveryNotices::Build(Group group) {
  ++building_;
  const queue::Spool* spool = options_.spool;
  bounce::DsnReport report;
  const MessageInfo& message = *group.message;
  report.reporting_mta = options_.hostname;
  report.to = message.sender;
  report.queue_id = message.queue_id;
  report.envid = message.dsn_envid;
  report.arrival = message.created;
  report.now = absl::Now();
  report.return_full = absl::EqualsIgnoreCase(message.dsn_ret, "FULL");
  report.recipients = group.recipients;
  for (const bounce::DsnRecipient& r : group.recipients) {
    if (r.action == bounce::DsnAction::kDelayed) {
      report.will_retry_until = message.created + options_.max_age;
    }
  }
  options_.io_pool->Run([this, alive = liveness_.weak(), post = options_.post, spool,
                         group = std::move(group), report = std::move(report)]() mutable {
    std::shared_ptr<const std::string> body = group.body;
    if (body == nullptr) {
      absl::StatusOr<std::string> read = spool->ReadBody(group.message->id);
      if (!read.ok()) {
        LOG(ERROR) << "delivery notice for " << group.message->queue_id
                   << " without the original: " << read.status();
      }
      body = std::make_shared<const std::string>(read.ok() ? *std::move(read) : std::string());
    }
    report.original = *body;
    std::string content = bounce::BuildDsn(report);
    post([this, alive, group = std::move(group), content = std::move(content)]() mutable {
      if (!alive.alive()) return;
      --building_;
      Store(std::move(group), std::move(content));
    });
  });
}

void DeliveryNotices::Store(Group group, std::string content) {
  DCHECK(thread_.InLoopThread());
  if (!store_) {
    LOG(ERROR) << "no store for delivery notices; " << group.message->queue_id
               << "'s recipients stay queued";
    if (on_settled_) on_settled_();
    return;
  }
  NoticeMessage notice;
  notice.to = group.message->sender;
  notice.content = std::move(content);
  notice.smtputf8 = group.message->smtputf8;
  notice.tenant = group.message->tenant;
  notice.completes = group.completes;
  ++building_;  // until the store answers
  store_(std::move(notice),
         [this, alive = liveness_.weak(), group = std::move(group)](absl::Status status) mutable {
           if (!alive.alive()) return;
           --building_;
           if (status.ok() || absl::IsUnavailable(status) || flushing_) {
             // (Unavailable, or shutting down: the recipients stay queued for the next start.)
             if (on_settled_) on_settled_();
             return;
           }
           LOG_EVERY_N_SEC(WARNING, 10)
               << "cannot store the delivery notice for " << group.message->queue_id << " ("
               << status << "); trying again in " << options_.retry;
           const queue::MessageId id = group.message->id;
           const absl::Time ready_at = absl::Now() + options_.retry;
           group.ready_at = ready_at;
           auto [it, fresh] = groups_.try_emplace(id, std::move(group));
           if (fresh) {
             Schedule(ready_at, id);
           } else {
             // More of the message failed meanwhile: one notice for all of them.
             Group& merged = it->second;
             merged.recipients.insert(merged.recipients.end(), group.recipients.begin(),
                                      group.recipients.end());
             merged.completes.insert(merged.completes.end(), group.completes.begin(),
                                     group.completes.end());
           }
         });
}

}  // namespace volley::delivery
