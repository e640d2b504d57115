// volleyd --spool-check: opens a spool (never creating one), walks all of it as a start would,
// repairs what a crash can leave behind (orphaned records, index entries), checks that every
// queued message still has its body, and reports what it holds.
//
// Thread: runs on the caller's thread; it opens the spool itself, so no volleyd may hold it.
#ifndef VOLLEY_QUEUE_SPOOL_CHECK_H_
#define VOLLEY_QUEUE_SPOOL_CHECK_H_

#include <cstdio>
#include <string>

#include "absl/time/time.h"

namespace volley::queue {

// Writes the report to `out` and errors to `err`. Returns the exit code: 0 when the spool is
// sound, 2 when it cannot be opened (missing, locked by a running volleyd, corrupt, newer
// schema) or has damage a repair cannot mend (messages without their body).
int RunSpoolCheck(const std::string& path, absl::Time now, FILE* out, FILE* err);

}  // namespace volley::queue

#endif  // VOLLEY_QUEUE_SPOOL_CHECK_H_
