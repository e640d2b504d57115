// RocksDB's statuses as the spool's absl::Status, for the spool's .cc files.
#ifndef VOLLEY_QUEUE_ROCKS_STATUS_H_
#define VOLLEY_QUEUE_ROCKS_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "rocksdb/status.h"

namespace volley::queue {

// Maps a RocksDB error to a Status whose message names the spool path.
inline absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what,
                              absl::string_view path) {
  std::string message = absl::StrCat(what, " ", path, ": ", s.ToString());
  if (s.IsCorruption()) return absl::DataLossError(message);
  if (s.IsIOError()) {
    const std::string text = s.ToString();
    if (text.find("lock") != std::string::npos || text.find("LOCK") != std::string::npos) {
      return absl::UnavailableError(
          absl::StrCat("spool ", path, " is in use by another process (", s.ToString(), ")"));
    }
    if (text.find("Permission denied") != std::string::npos) {
      return absl::PermissionDeniedError(message);
    }
    if (text.find("No space left") != std::string::npos) {
      return absl::ResourceExhaustedError(message);
    }
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

}  // namespace volley::queue

#endif  // VOLLEY_QUEUE_ROCKS_STATUS_H_
