#include "queue/disk_space.h"

#include <cstdlib>
#include <limits>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace volley::queue {
namespace {

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir ? dir : "/tmp";
}

TEST(DiskSpace, ReportsFreeBytesAndTheThreshold) {
  absl::StatusOr<uint64_t> free = FreeBytes(TempDir());
  ASSERT_TRUE(free.ok()) << free.status();
  EXPECT_GT(*free, 0u);
  DiskSpaceMonitor roomy(TempDir(), 1);
  EXPECT_FALSE(roomy.low());
  EXPECT_GT(roomy.free_bytes(), 0u);
  DiskSpaceMonitor greedy(TempDir(), std::numeric_limits<uint64_t>::max());
  EXPECT_TRUE(greedy.low());
  DiskSpaceMonitor off(TempDir(), 0);
  EXPECT_FALSE(off.low());
}

TEST(DiskSpace, MissingPathIsAnError) { EXPECT_FALSE(FreeBytes("/nonexistent/volley/spool").ok()); }

}  // namespace
}  // namespace volley::queue
