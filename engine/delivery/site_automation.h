// What a site's replies make the response rules do (adaptive/response_rules.h): each reply that
// is not a success is matched against the shard's rules, each matching rule counted per egress
// source, and a rule that fires gives its effects for the site queue to carry out: suspensions
// for the engine's store, shaping keys overridden at the site for the rule's duration
// (SetConfig), and a bounce window in which the site bounces what waits and what arrives.
#ifndef VOLLEY_ENGINE_DELIVERY_SITE_AUTOMATION_H_
#define VOLLEY_ENGINE_DELIVERY_SITE_AUTOMATION_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/adaptive/limit_overrides.h"
#include "engine/adaptive/response_rules.h"
#include "engine/adaptive/rule_trigger.h"
#include "engine/adaptive/suspension.h"
#include "engine/config/config.h"
#include "engine/smtp/reply.h"

namespace volley::delivery {

// Owned by a SiteQueue; its shard's loop.
class SiteAutomation {
 public:
  // Who the reply was about.
  struct About {
    absl::string_view site;      // the site's name
    absl::string_view provider;  // its provider ("" for none)
    int source = 0;              // the egress source's index in the pool
    absl::string_view source_name;
    absl::string_view domain;  // of the mail the reply was about
    absl::string_view tenant;
    absl::string_view campaign;
  };
  struct Effects {
    std::vector<adaptive::Suspension> suspensions;  // for the engine's store
    bool limits_changed = false;                    // LimitOverrides changed
    bool bounce = false;                            // a bounce window began
  };

  // One reply; `rules` are the shard's (when they are not those of the last call, a reload
  // replaced them and every count starts again).
  Effects OnReply(const adaptive::ResponseRules& rules, const smtp::Reply& reply,
                  const About& about, absl::Time now);

  // The site's limits with the overrides in force.
  std::vector<config::ShapingConfig> Effective(std::vector<config::ShapingConfig> base) const {
    return overrides_.Apply(std::move(base));
  }
  // Ends what is over by `now`; true when the overrides changed.
  bool Expire(absl::Time now);
  // When an override or the bounce window ends next (infinite: nothing in force).
  absl::Time next_change() const;
  // The reply to bounce with while a Bounce rule's window lasts, else null.
  const smtp::Reply* Bouncing(absl::Time now) const;
  const adaptive::LimitOverrides& overrides() const { return overrides_; }
  // The overrides as the explain read-out lists them, sources named from `sources` (the pool).
  std::vector<std::string> OverridesJson(const std::vector<config::EgressSource>& sources) const;

 private:
  void Act(const config::AutomationRule& rule, const smtp::Reply& reply, const About& about,
           absl::Time now, Effects* effects);

  const adaptive::ResponseRules* rules_ = nullptr;  // those the counts are for
  adaptive::RuleTriggers triggers_;
  adaptive::LimitOverrides overrides_;
  std::optional<smtp::Reply> bounce_reply_;
  absl::Time bounce_until_ = absl::InfinitePast();
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_SITE_AUTOMATION_H_
