#include "queue/spool_check.h"

#include <algorithm>
#include <cinttypes>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "queue/spool.h"

namespace volley::queue {

int RunSpoolCheck(const std::string& path, absl::Time now, FILE* out, FILE* err) {
  SpoolOptions options;
  options.create_if_missing = false;
  const absl::Time started = absl::Now();
  absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Open(path, options);
  if (!spool.ok()) {
    std::fprintf(err, "volleyd: %s\n", std::string(spool.status().message()).c_str());
    return 2;
  }

  uint64_t due = 0, scheduled = 0, retried = 0, body_bytes = 0;
  absl::Time oldest = absl::InfiniteFuture();
  absl::Time next_due = absl::InfiniteFuture();
  std::vector<MessageId> missing_bodies;
  absl::StatusOr<Spool::RecoveryStats> stats =
      (*spool)->Recover([&](const MessageMeta& meta, std::vector<RecipientRecord> recipients) {
        oldest = std::min(oldest, meta.created);
        body_bytes += meta.size;
        for (const RecipientRecord& r : recipients) {
          if (r.next_due <= now) {
            ++due;
          } else {
            ++scheduled;
            next_due = std::min(next_due, r.next_due);
          }
          if (r.attempts > 0) ++retried;
        }
        absl::StatusOr<std::string> body = (*spool)->ReadBody(meta.id);
        if (!body.ok()) missing_bodies.push_back(meta.id);
      });
  if (!stats.ok()) {
    std::fprintf(err, "volleyd: %s\n", std::string(stats.status().message()).c_str());
    return 2;
  }

  auto line = [out](absl::string_view key, absl::string_view value) {
    std::fprintf(out, "%-22s %s\n", absl::StrCat(key, ":").c_str(), std::string(value).c_str());
  };
  line("spool", path);
  line("schema", absl::StrCat(kSchemaVersion));
  line("messages", absl::StrCat(stats->messages));
  line("recipients", absl::StrCat(stats->recipients));
  line("recipients_due", absl::StrCat(due));
  line("recipients_scheduled", absl::StrCat(scheduled));
  line("recipients_retried", absl::StrCat(retried));
  line("content_bytes", absl::StrCat(body_bytes));
  line("disk_bytes", absl::StrCat((*spool)->DiskBytes()));
  if (stats->messages > 0) {
    line("oldest_message",
         absl::StrCat(absl::FormatTime(absl::RFC3339_sec, oldest, absl::UTCTimeZone()), " (",
                      absl::FormatDuration(absl::Trunc(now - oldest, absl::Seconds(1))), " ago)"));
  }
  if (next_due != absl::InfiniteFuture()) {
    line("next_retry", absl::FormatTime(absl::RFC3339_sec, next_due, absl::UTCTimeZone()));
  }
  line("orphans_removed", absl::StrCat(stats->orphans_removed));
  line("index_repaired", absl::StrCat(stats->index_repaired));
  line("missing_bodies", absl::StrCat(missing_bodies.size()));
  line("check_ms", absl::StrCat(absl::ToInt64Milliseconds(absl::Now() - started)));
  if (!missing_bodies.empty()) {
    for (size_t i = 0; i < missing_bodies.size() && i < 10; ++i) {
      std::fprintf(err, "volleyd: message %s has no body\n",
                   FormatQueueId(missing_bodies[i]).c_str());
    }
    line("result", "DAMAGED");
    return 2;
  }
  line("result", "OK");
  return 0;
}

}  // namespace volley::queue
