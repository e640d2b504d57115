// A fixed-bucket histogram of seconds in Prometheus form, safe for concurrent observation
// (relaxed atomics). Shared by the engine's metrics and the DNS resolver's.
#ifndef VOLLEY_ENGINE_BASE_HISTOGRAM_H_
#define VOLLEY_ENGINE_BASE_HISTOGRAM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace volley {

// A fixed-bucket histogram of seconds.
class Histogram {
 public:
  // Upper bounds in seconds, ascending.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double seconds);
  // Appends the _bucket/_sum/_count series for `name` (with its HELP/TYPE lines).
  void Render(const std::string& name, const std::string& help, std::string* out) const;
  // Adds `other`'s observations (same bounds) to this one, e.g. to render per-shard
  // histograms as one.
  void MergeFrom(const Histogram& other);
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 (the +Inf bucket)
  std::atomic<uint64_t> sum_micros_{0};
  std::atomic<uint64_t> count_{0};
};

}  // namespace volley

#endif  // VOLLEY_ENGINE_BASE_HISTOGRAM_H_
