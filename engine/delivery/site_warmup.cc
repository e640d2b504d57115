#include "engine/delivery/site_warmup.h"

#include <algorithm>

namespace volley::delivery {

void SiteWarmup::Apply(const SiteRoute& route, adaptive::WarmupLedger* ledger,
                       shaping::Shaper& shaper, absl::Time now) {
  const std::vector<config::EgressSource>& sources = route.shaping->pool->sources;
  const std::string& provider =
      route.shaping->site.provider.empty() ? route.name : route.shaping->site.provider;
  std::vector<std::unique_ptr<adaptive::WarmupCap>> caps(sources.size());
  for (size_t i = 0; i < sources.size() && ledger != nullptr; ++i) {
    if (sources[i].warmup.empty()) continue;
    auto found = route.config->warmup_schedules.find(sources[i].warmup);
    if (found == route.config->warmup_schedules.end()) continue;  // the parser refuses it
    const config::WarmupSchedule* schedule = &found->second;
    if (i < caps_.size() && caps_[i] != nullptr && caps_[i]->schedule() == schedule &&
        caps_[i]->source() == sources[i].name && caps_[i]->provider() == provider) {
      caps[i] = std::move(caps_[i]);
    } else {
      caps[i] = ledger->Cap(sources[i].name, provider, schedule, now);
    }
  }
  // The shaper lets go of the old caps before they go.
  for (size_t i = 0; i < sources.size(); ++i) {
    if (shaper.HasSource(static_cast<int>(i))) shaper.set_cap(static_cast<int>(i), caps[i].get());
  }
  caps_ = std::move(caps);
}

void SiteWarmup::CountReplies(int source, const std::vector<smtp::RecipientOutcome>& outcomes,
                              absl::Time now) {
  if (source < 0 || static_cast<size_t>(source) >= caps_.size() || caps_[source] == nullptr) {
    return;
  }
  int tried = 0;
  int deferred = 0;
  for (const smtp::RecipientOutcome& o : outcomes) {
    if (o.deferred || o.synthetic) continue;
    ++tried;
    if (o.reply.IsTransient()) ++deferred;
  }
  if (tried > 0) caps_[source]->CountReplies(tried, deferred, now);
}

std::vector<std::string> SiteWarmup::Json(absl::Time now) const {
  std::vector<std::string> out;
  for (const std::unique_ptr<adaptive::WarmupCap>& cap : caps_) {
    if (cap != nullptr) out.push_back(cap->ExplainJson(now));
  }
  return out;
}

absl::Time SiteWarmup::NextOpening(absl::Time now) const {
  absl::Time next = absl::InfiniteFuture();
  for (const std::unique_ptr<adaptive::WarmupCap>& cap : caps_) {
    if (cap == nullptr) continue;
    const shaping::Admission admission = cap->Peek(now);
    if (!admission.go()) next = std::min(next, admission.not_before());
  }
  return next;
}

}  // namespace volley::delivery
