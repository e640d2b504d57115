// A registry of labelled metric families in Prometheus form: counters with a slot per shard
// (each shard adds to its own cache line; a scrape sums them), gauges, and histograms.
#ifndef VOLLEY_ENGINE_METRICS_REGISTRY_H_
#define VOLLEY_ENGINE_METRICS_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "engine/base/histogram.h"

namespace volley::metrics {

// Label name and value pairs of one series, e.g. {{"outcome", "delivered"}}.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A monotonic counter. Add is wait-free and thread-safe: shards pass their index, so that two
// shards never write the same cache line; any other thread passes Registry::kAnyThread.
class Counter {
 public:
  explicit Counter(int shards);
  void Add(int shard, uint64_t n = 1) {
    slots_[static_cast<size_t>(shard) % slot_count_].value.fetch_add(n, std::memory_order_relaxed);
  }
  // The sum over the slots (each exact; not a snapshot across them).
  uint64_t Value() const;

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> value{0};
  };
  size_t slot_count_;
  std::unique_ptr<Slot[]> slots_;
};

// A value set by one owner (at scrape time, or as the thing it measures changes), or moved by
// several (Add: a count that grows and shrinks, such as a queue's length). Thread-safe.
class Gauge {
 public:
  void Set(int64_t value) { value_.store(value, std::memory_order_relaxed); }
  void Add(int64_t delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  int64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Families are registered while the engine is assembled (not thread-safe); from then on the
// series are updated from any thread and Render may run at any time.
class Registry {
 public:
  // Counters get one slot per shard, plus one for other threads.
  explicit Registry(int shards);
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The slot for threads that are not shards (the spool writer, the log thread).
  int any_thread_slot() const { return shards_; }

  // A series of the family `name`; the family is created with the first series, and later
  // series must give the same help. Series render in the order they were registered; the
  // returned reference stays valid for the registry's life.
  Counter& AddCounter(absl::string_view name, absl::string_view help, Labels labels = {});
  Gauge& AddGauge(absl::string_view name, absl::string_view help, Labels labels = {});
  Histogram& AddHistogram(absl::string_view name, absl::string_view help,
                          std::vector<double> bounds);

  // The text exposition format (version 0.0.4), every family in registration order.
  void Render(std::string* out) const;

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string name;
    std::string help;
    Kind kind;
    std::deque<Series> series;
  };
  Family& FamilyFor(absl::string_view name, absl::string_view help, Kind kind);

  const int shards_;
  std::deque<Family> families_;
};

// `name{a="x",b="y"}` with label values escaped as the exposition format asks.
std::string SeriesName(absl::string_view name, const Labels& labels);

}  // namespace volley::metrics

#endif  // VOLLEY_ENGINE_METRICS_REGISTRY_H_
