// A fresh path under the test's temporary directory, for the spool directories and log files
// of tests.
#ifndef VOLLEY_QUEUE_TEST_TEMP_PATH_H_
#define VOLLEY_QUEUE_TEST_TEMP_PATH_H_

#include <string>

#include "absl/strings/string_view.h"

namespace volley::queue {

// $TEST_TMPDIR/`name` (/tmp/`name` outside Bazel), with whatever an earlier run left there
// removed. `name` may have several components ("log/sub/delivery.jsonl"); none is created.
std::string TempPath(absl::string_view name);

}  // namespace volley::queue

#endif  // VOLLEY_QUEUE_TEST_TEMP_PATH_H_
