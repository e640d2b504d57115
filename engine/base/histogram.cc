#include "engine/base/histogram.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace volley {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double seconds) {
  size_t i = 0;
  while (i < bounds_.size() && seconds > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(std::llround(std::max(0.0, seconds) * 1e6)),
                        std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::Render(const std::string& name, const std::string& help, std::string* out) const {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " histogram\n");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    absl::StrAppend(out, name, "_bucket{le=\"", absl::StrFormat("%g", bounds_[i]), "\"} ",
                    cumulative, "\n");
  }
  cumulative += counts_[bounds_.size()].load(std::memory_order_relaxed);
  absl::StrAppend(out, name, "_bucket{le=\"+Inf\"} ", cumulative, "\n");
  absl::StrAppend(out, name, "_sum ",
                  absl::StrFormat("%.6f", sum_micros_.load(std::memory_order_relaxed) / 1e6), "\n");
  absl::StrAppend(out, name, "_count ", cumulative, "\n");
}

void Histogram::MergeFrom(const Histogram& other) {
  const size_t n = std::min(bounds_.size(), other.bounds_.size());
  for (size_t i = 0; i <= n; ++i) {
    const size_t from = i == n ? other.bounds_.size() : i;
    const size_t to = i == n ? bounds_.size() : i;
    counts_[to].fetch_add(other.counts_[from].load(std::memory_order_relaxed),
                          std::memory_order_relaxed);
  }
  sum_micros_.fetch_add(other.sum_micros_.load(std::memory_order_relaxed),
                        std::memory_order_relaxed);
  count_.fetch_add(other.count_.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

}  // namespace volley
