// When things happened at a test's servers (messages at a sink, connections opened), recorded
// from the servers' threads, and how densely they came.
#ifndef VOLLEY_TESTS_SUPPORT_ARRIVAL_TIMES_H_
#define VOLLEY_TESTS_SUPPORT_ARRIVAL_TIMES_H_

#include <cstddef>
#include <mutex>
#include <vector>

#include "absl/time/time.h"

namespace volley::test_support {

// Thread-safe.
class ArrivalTimes {
 public:
  void Add();  // now
  std::vector<absl::Time> Sorted() const;
  size_t size() const;
  // How many came after `since`.
  size_t CountSince(absl::Time since) const;

 private:
  mutable std::mutex mutex_;
  std::vector<absl::Time> times_;
};

// The most of `sorted` in any window of `width` (half-open, as a throttle's bound is stated).
size_t MostInAnyWindow(const std::vector<absl::Time>& sorted, absl::Duration width);

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_ARRIVAL_TIMES_H_
