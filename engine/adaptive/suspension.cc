#include "engine/adaptive/suspension.h"

#include <algorithm>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/types/optional.h"
#include "engine/base/json.h"
#include "engine/base/json_request.h"
#include "engine/config/values.h"
#include "nlohmann/json.hpp"

namespace volley::adaptive {
namespace {

bool SiteMatches(absl::string_view wanted, const SiteName& site) {
  return wanted.empty() || wanted == site.name || wanted == site.key;
}

bool Active(const Suspension& s, absl::Time now) { return s.expires > now; }

// A whole-site pause of every source (no source named) is a hold; one naming a source only
// pauses it.
bool MatchesRecipient(const Suspension& s, const SiteName& site, absl::string_view domain,
                      absl::string_view tenant, absl::string_view campaign) {
  return s.source.empty() && SiteMatches(s.site, site) &&
         (s.domain.empty() || s.domain == domain) && (s.tenant.empty() || s.tenant == tenant) &&
         (s.campaign.empty() || s.campaign == campaign);
}

// A duration as the API writes it: "1h2m3s", "45s", "0s".
std::string DurationText(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return "0s";
  const int64_t total = absl::ToInt64Seconds(d);
  std::string out;
  if (total >= 3600) absl::StrAppend(&out, total / 3600, "h");
  if (total % 3600 >= 60) absl::StrAppend(&out, (total % 3600) / 60, "m");
  if (total % 60 != 0 || out.empty()) absl::StrAppend(&out, total % 60, "s");
  return out;
}

// When the requested suspension ends: `duration` from now, or `expires`, or the default.
absl::StatusOr<absl::Time> RequestedExpiry(const std::string& duration, const std::string& expires,
                                           absl::Time now) {
  if (!duration.empty() && !expires.empty()) {
    return FieldError("expires", "give duration or expires, not both");
  }
  if (!expires.empty()) {
    absl::Time at;
    if (!ParseRfc3339(expires, &at)) {
      return FieldError("expires", absl::StrCat("\"", expires,
                                                "\" is not an RFC 3339 time such as "
                                                "\"2026-12-03T20:00:00Z\""));
    }
    if (at <= now) return FieldError("expires", "is in the past");
    return at;
  }
  if (duration.empty()) return now + kDefaultSuspensionDuration;
  absl::StatusOr<absl::Duration> d = config::ParseDurationValue(duration);
  if (!d.ok()) {
    return FieldError("duration", absl::StrCat("\"", duration,
                                               "\" is not a duration such as \"30m\", \"2h\" or "
                                               "\"90s\""));
  }
  if (*d <= absl::ZeroDuration()) return FieldError("duration", "must be longer than zero");
  return now + *d;
}

}  // namespace

std::string Suspension::Target() const {
  std::vector<std::string> parts;
  if (!domain.empty()) parts.push_back(absl::StrCat("domain ", domain));
  if (!site.empty()) parts.push_back(absl::StrCat("site ", site));
  if (!tenant.empty()) parts.push_back(absl::StrCat("tenant ", tenant));
  if (!campaign.empty()) parts.push_back(absl::StrCat("campaign ", campaign));
  if (!source.empty()) parts.push_back(absl::StrCat("from source ", source));
  return absl::StrJoin(parts, ", ");
}

bool Suspension::SameTarget(const Suspension& o) const {
  return domain == o.domain && site == o.site && tenant == o.tenant && campaign == o.campaign &&
         source == o.source;
}

const Suspension* SuspensionSet::Holding(const SiteName& site, absl::string_view domain,
                                         absl::string_view tenant, absl::string_view campaign,
                                         absl::Time now) const {
  for (const Suspension& s : all_) {
    if (Active(s, now) && MatchesRecipient(s, site, domain, tenant, campaign)) return &s;
  }
  return nullptr;
}

const Suspension* SuspensionSet::PausingSource(const SiteName& site, absl::string_view source,
                                               absl::Time now) const {
  for (const Suspension& s : all_) {
    if (Active(s, now) && !s.source.empty() && s.source == source && SiteMatches(s.site, site)) {
      return &s;
    }
  }
  return nullptr;
}

std::vector<const Suspension*> SuspensionSet::Concerning(const SiteName& site,
                                                         absl::Time now) const {
  std::vector<const Suspension*> out;
  for (const Suspension& s : all_) {
    if (Active(s, now) && SiteMatches(s.site, site)) out.push_back(&s);
  }
  return out;
}

absl::Time SuspensionSet::NextExpiry(absl::Time now) const {
  absl::Time next = absl::InfiniteFuture();
  for (const Suspension& s : all_) {
    if (Active(s, now)) next = std::min(next, s.expires);
  }
  return next;
}

std::string SuspensionJson(const Suspension& s, absl::Time now) {
  std::string out;
  JsonObjectWriter w(&out);
  w.String("id", s.id);
  w.StringOrNull("domain", s.domain);
  w.StringOrNull("site", s.site);
  w.StringOrNull("tenant", s.tenant);
  w.StringOrNull("campaign", s.campaign);
  w.StringOrNull("source", s.source);
  w.String("reason", s.reason)
      .String("origin", s.origin)
      .String("created", Rfc3339(s.created))
      .String("expires", Rfc3339(s.expires))
      .String("duration", DurationText(s.expires - now));
  w.Finish();
  return out;
}

absl::StatusOr<Suspension> SuspensionFromJson(absl::string_view json) {
  absl::StatusOr<nlohmann::json> j = ParseJsonObject(json);
  if (!j.ok()) return j.status();
  Suspension s;
  for (auto [key, field] :
       std::vector<std::pair<const char*, std::string*>>{{"id", &s.id},
                                                         {"domain", &s.domain},
                                                         {"site", &s.site},
                                                         {"tenant", &s.tenant},
                                                         {"campaign", &s.campaign},
                                                         {"source", &s.source},
                                                         {"reason", &s.reason},
                                                         {"origin", &s.origin}}) {
    absl::StatusOr<std::string> value = OptionalString(*j, key);
    if (!value.ok()) return value.status();
    *field = *std::move(value);
  }
  absl::StatusOr<std::string> created = OptionalString(*j, "created");
  absl::StatusOr<std::string> expires = OptionalString(*j, "expires");
  if (s.id.empty() || !created.ok() || !expires.ok() || !ParseRfc3339(*created, &s.created) ||
      !ParseRfc3339(*expires, &s.expires)) {
    return absl::DataLossError(absl::StrCat("a stored suspension is unreadable: ", json));
  }
  return s;
}

absl::StatusOr<Suspension> ParseSuspendRequest(absl::string_view body, absl::Time now) {
  absl::StatusOr<nlohmann::json> j = ParseJsonObject(body);
  if (!j.ok()) return j.status();
  if (j->contains("queue_names")) {
    return FieldError("queue_names",
                      "not supported yet; name a domain, site, tenant or campaign instead");
  }
  if (absl::Status known = CheckKnownFields(
          *j, {"domain", "site", "tenant", "campaign", "source", "reason", "duration", "expires"});
      !known.ok()) {
    return known;
  }
  Suspension s;
  std::string duration, expires;
  for (auto [key, field] :
       std::vector<std::pair<const char*, std::string*>>{{"domain", &s.domain},
                                                         {"site", &s.site},
                                                         {"tenant", &s.tenant},
                                                         {"campaign", &s.campaign},
                                                         {"source", &s.source},
                                                         {"reason", &s.reason},
                                                         {"duration", &duration},
                                                         {"expires", &expires}}) {
    absl::StatusOr<std::string> value = OptionalString(*j, key);
    if (!value.ok()) return value.status();
    *field = *std::move(value);
  }
  if (s.domain.empty() && s.site.empty() && s.tenant.empty() && s.campaign.empty()) {
    return FieldError("domain", "a suspension needs a target: domain, site, tenant or campaign");
  }
  absl::AsciiStrToLower(&s.domain);
  if (!s.domain.empty() && !config::IsDomainName(s.domain)) {
    return FieldError("domain", absl::StrCat("\"", s.domain, "\" is not a domain name"));
  }
  if (!s.source.empty() &&
      (s.site.empty() || !s.domain.empty() || !s.tenant.empty() || !s.campaign.empty())) {
    return FieldError("source",
                      "a suspension of one egress source names a site and nothing else; "
                      "domain, tenant and campaign suspensions hold back every source");
  }
  if (s.reason.empty()) return FieldError("reason", "required (it goes into the log record)");
  absl::StatusOr<absl::Time> until = RequestedExpiry(duration, expires, now);
  if (!until.ok()) return until.status();
  s.expires = *until;
  s.created = now;
  s.origin = "admin";
  return s;
}

std::string RequestField(const absl::Status& status) { return FieldOf(status); }

absl::StatusOr<std::string> ParseLiftRequest(absl::string_view body) {
  absl::StatusOr<nlohmann::json> j = ParseJsonObject(body);
  if (!j.ok()) return j.status();
  if (absl::Status known = CheckKnownFields(*j, {"id"}); !known.ok()) return known;
  absl::StatusOr<std::string> id = OptionalString(*j, "id");
  if (!id.ok()) return id.status();
  if (id->empty()) return FieldError("id", "required: the id the suspension was created with");
  return *id;
}

std::string NewSuspensionId() {
  absl::BitGen gen;
  const uint64_t hi = (absl::Uniform<uint64_t>(gen) & ~0xf000ull) | 0x4000ull;        // version 4
  const uint64_t lo = (absl::Uniform<uint64_t>(gen) & ~(3ull << 62)) | (2ull << 62);  // variant
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff,
                         lo >> 48, lo & 0xffffffffffffull);
}

}  // namespace volley::adaptive
