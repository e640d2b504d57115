#include "engine/adaptive/warmup_ledger.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/base/json.h"
#include "engine/base/logging.h"
#include "nlohmann/json.hpp"

namespace volley::adaptive {
namespace {

constexpr absl::string_view kKind = "warmup";

// The record's name: unique per source x provider (the record itself says which they are).
std::string RecordName(const std::string& source, const std::string& provider) {
  return absl::StrCat(source.size(), ":", source, provider);
}

}  // namespace

shaping::Admission WarmupCap::Peek(absl::Time now) {
  std::lock_guard<std::mutex> lock(ledger_->mutex_);
  return entry_->state.Admit(*schedule_, now, /*take=*/false);
}

shaping::Admission WarmupCap::Take(absl::Time now) {
  std::lock_guard<std::mutex> lock(ledger_->mutex_);
  const shaping::Admission admission = entry_->state.Admit(*schedule_, now, /*take=*/true);
  if (admission.go()) entry_->dirty = true;
  return admission;
}

void WarmupCap::Return(absl::Time) {
  std::lock_guard<std::mutex> lock(ledger_->mutex_);
  entry_->state.Uncount();
  entry_->dirty = true;
}

int64_t WarmupCap::Available(absl::Time now) {
  std::lock_guard<std::mutex> lock(ledger_->mutex_);
  return entry_->state.Available(*schedule_, now);
}

void WarmupCap::CountReplies(int tried, int deferred, absl::Time now) {
  std::lock_guard<std::mutex> lock(ledger_->mutex_);
  entry_->state.CountReplies(*schedule_, tried, deferred, now);
  entry_->dirty = true;
}

std::string WarmupCap::ExplainJson(absl::Time now) {
  std::lock_guard<std::mutex> lock(ledger_->mutex_);
  return entry_->state.ExplainJson(source_, provider_, *schedule_, now);
}

WarmupLedger::~WarmupLedger() {
  flusher_.Stop();
  if (absl::Status s = Flush(); !s.ok()) LOG(ERROR) << "warm-up states not written: " << s;
}

absl::Status WarmupLedger::Load() {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> stored =
      spool_->ReadState(kKind);
  if (!stored.ok()) return stored.status();
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [name, text] : *stored) {
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    absl::StatusOr<WarmupState> state = absl::DataLossError("not an object");
    if (j.is_object() && j.contains("source") && j["source"].is_string() &&
        j.contains("provider") && j["provider"].is_string() && j.contains("state")) {
      state = WarmupState::FromJson(j["state"].dump());
    }
    if (!state.ok()) {
      LOG(ERROR) << "warm-up state " << name << " unreadable (" << state.status().message()
                 << "); its source starts its schedule again";
      (void)spool_->DeleteState(kKind, name, /*sync=*/false);
      continue;
    }
    Key key{j["source"].get<std::string>(), j["provider"].get<std::string>()};
    auto [it, inserted] = entries_.try_emplace(std::move(key), *std::move(state));
    it->second.dirty = false;
  }
  return absl::OkStatus();
}

absl::Status WarmupLedger::Flush() {
  std::lock_guard<std::mutex> flushing(flush_mutex_);
  struct Write {
    std::string name;
    std::string value;
    WarmupEntry* entry;
  };
  std::vector<Write> writes;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [key, entry] : entries_) {
      if (!entry.dirty) continue;
      std::string value;
      JsonObjectWriter(&value)
          .String("source", key.first)
          .String("provider", key.second)
          .Raw("state", entry.state.ToJson())
          .Finish();
      writes.push_back(Write{RecordName(key.first, key.second), std::move(value), &entry});
      entry.dirty = false;
    }
  }
  absl::Status status;
  for (const Write& w : writes) {
    absl::Status put = spool_->PutState(kKind, w.name, w.value, /*sync=*/true);
    if (put.ok()) continue;
    status.Update(put);
    std::lock_guard<std::mutex> lock(mutex_);
    w.entry->dirty = true;  // the next flush tries again
  }
  return status;
}

void WarmupLedger::StartFlushing(absl::Duration interval) {
  flusher_.Start(interval, [this] {
    if (absl::Status s = Flush(); !s.ok()) {
      LOG_EVERY_N_SEC(ERROR, 60) << "warm-up states not written: " << s.message();
    }
  });
}

std::unique_ptr<WarmupCap> WarmupLedger::Cap(const std::string& source, const std::string& provider,
                                             const config::WarmupSchedule* schedule,
                                             absl::Time now) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, inserted] = entries_.try_emplace(Key{source, provider}, WarmupState(now));
  return std::unique_ptr<WarmupCap>(new WarmupCap(this, &it->second, source, provider, schedule));
}

std::vector<std::pair<std::pair<std::string, std::string>, std::string>> WarmupLedger::States()
    const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::pair<Key, std::string>> out;
  for (const auto& [key, entry] : entries_) out.emplace_back(key, entry.state.ToJson());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace volley::adaptive
