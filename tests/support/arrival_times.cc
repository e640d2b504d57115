#include "tests/support/arrival_times.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace volley::test_support {

void ArrivalTimes::Add() {
  const absl::Time now = absl::Now();
  std::lock_guard<std::mutex> lock(mutex_);
  times_.push_back(now);
}

std::vector<absl::Time> ArrivalTimes::Sorted() const {
  std::vector<absl::Time> times;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    times = times_;
  }
  std::sort(times.begin(), times.end());
  return times;
}

size_t ArrivalTimes::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return times_.size();
}

size_t ArrivalTimes::CountSince(absl::Time since) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::count_if(times_.begin(), times_.end(), [&](absl::Time t) { return t > since; });
}

size_t MostInAnyWindow(const std::vector<absl::Time>& sorted, absl::Duration width) {
  size_t most = 0;
  size_t begin = 0;
  for (size_t end = 0; end < sorted.size(); ++end) {
    while (sorted[end] - sorted[begin] >= width) ++begin;
    most = std::max(most, end - begin + 1);
  }
  return most;
}

}  // namespace volley::test_support
