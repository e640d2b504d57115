#include "engine/delivery/site_automation.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/json.h"

namespace volley::delivery {
namespace {

// A reply in a suspension's reason: enough to recognise it.
constexpr size_t kReasonReplyChars = 200;

}  // namespace

SiteAutomation::Effects SiteAutomation::OnReply(const adaptive::ResponseRules& rules,
                                                const smtp::Reply& reply, const About& about,
                                                absl::Time now) {
  Effects effects;
  if (&rules != rules_) {
    rules_ = &rules;
    triggers_.Clear();
  }
  if (rules.empty() || reply.IsPositive()) return effects;
  const std::string text = reply.Summary();
  for (size_t i : rules.Matching(text, about.provider, about.domain)) {
    const config::AutomationRule& rule = rules.rule(i);
    if (triggers_.Match(i, about.source, rule.threshold, now))
      Act(rule, reply, about, now, &effects);
  }
  return effects;
}

void SiteAutomation::Act(const config::AutomationRule& rule, const smtp::Reply& reply,
                         const About& about, absl::Time now, Effects* effects) {
  using Kind = config::AutomationAction::Kind;
  const absl::Time until = now + rule.duration;
  std::string text = reply.Summary();
  if (text.size() > kReasonReplyChars) text.resize(kReasonReplyChars);
  for (const config::AutomationAction& action : rule.actions) {
    adaptive::Suspension s;
    switch (action.kind) {
      case Kind::kSetConfig:
        overrides_.Set(about.source, action, until, rule.origin);
        effects->limits_changed = true;
        continue;
      case Kind::kBounce:
        bounce_reply_ = reply;
        bounce_until_ = std::max(bounce_until_, until);
        effects->bounce = true;
        continue;
      case Kind::kSuspend:
        // The path that got the reply: this source toward this site.
        s.site = std::string(about.site);
        s.source = std::string(about.source_name);
        break;
      case Kind::kSuspendTenant:
        if (about.tenant.empty()) continue;  // untagged mail: no tenant to hold back
        s.domain = std::string(about.domain);
        s.tenant = std::string(about.tenant);
        break;
      case Kind::kSuspendCampaign:
        if (about.campaign.empty()) continue;
        s.domain = std::string(about.domain);
        s.tenant = std::string(about.tenant);
        s.campaign = std::string(about.campaign);
        break;
    }
    s.reason = absl::StrCat("the site answered: ", text);
    s.origin = absl::StrCat("rule ", rule.origin);
    s.created = now;
    s.expires = until;
    effects->suspensions.push_back(std::move(s));
  }
}

bool SiteAutomation::Expire(absl::Time now) {
  if (bounce_until_ <= now) bounce_reply_.reset();
  return overrides_.Expire(now);
}

absl::Time SiteAutomation::next_change() const {
  absl::Time next = overrides_.NextExpiry();
  if (bounce_reply_.has_value()) next = std::min(next, bounce_until_);
  return next;
}

std::vector<std::string> SiteAutomation::OverridesJson(
    const std::vector<config::EgressSource>& sources) const {
  std::vector<std::string> out;
  for (const adaptive::LimitOverrides::Override& o : overrides_.all()) {
    std::string json;
    JsonObjectWriter w(&json);
    const bool known = static_cast<size_t>(o.source) < sources.size();
    w.String("source", known ? sources[static_cast<size_t>(o.source)].name : "")
        .String("key", o.action.name)
        .String("value", adaptive::LimitOverrides::ValueText(o.action))
        .String("until", Rfc3339(o.until))
        .String("rule", o.origin);
    w.Finish();
    out.push_back(std::move(json));
  }
  return out;
}

const smtp::Reply* SiteAutomation::Bouncing(absl::Time now) const {
  return bounce_reply_.has_value() && now < bounce_until_ ? &*bounce_reply_ : nullptr;
}

}  // namespace volley::delivery
