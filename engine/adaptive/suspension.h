// Suspensions: an operator (POST /api/admin/suspend/v1) or a response rule holds back new
// transactions for a domain, a site, a tenant or a campaign until the suspension expires or is
// lifted. Queued mail stays queued and counts no attempts; max_age still applies. The fields
// and the request are KumoMTA's (domain, campaign, tenant, reason, duration or expires; an id
// answers), with two more: `site`, and `source`, which suspends one egress source toward a site
// (KumoMTA's suspend-ready-q) while the pool's other sources go on.
#ifndef VOLLEY_ENGINE_ADAPTIVE_SUSPENSION_H_
#define VOLLEY_ENGINE_ADAPTIVE_SUSPENSION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace volley::adaptive {

// KumoMTA's kcli default when a request gives neither duration nor expires.
inline constexpr absl::Duration kDefaultSuspensionDuration = absl::Minutes(5);

// What a suspension holds back. Empty target fields match anything; those given must all
// match (domain and campaign: that campaign's mail to that domain).
struct Suspension {
  std::string id;      // a random UUID, as KumoMTA's
  std::string domain;  // a recipient domain, lower case
  std::string site;    // a site as log records name it, or its queue key
  std::string tenant;
  std::string campaign;
  std::string source;  // only this egress source holds back (with `site` alone)
  std::string reason;
  std::string origin;  // "admin", or the response rule that made it
  absl::Time created = absl::UnixEpoch();
  absl::Time expires = absl::UnixEpoch();

  // The target in words, for log records and errors: "domain example.com, tenant t1".
  std::string Target() const;
  // True when both name the same target (a rule that fires again extends its suspension).
  bool SameTarget(const Suspension& other) const;
};

// A site as suspensions name it.
struct SiteName {
  absl::string_view name;  // as log records name it
  absl::string_view key;   // its queue key
};

// The suspensions in force, shared read-only with every shard (each shard holds the latest
// one the store published). Any thread.
class SuspensionSet {
 public:
  SuspensionSet() = default;
  explicit SuspensionSet(std::vector<Suspension> all) : all_(std::move(all)) {}

  bool empty() const { return all_.empty(); }
  const std::vector<Suspension>& all() const { return all_; }

  // The suspension, active at `now`, that holds back every source for a recipient of
  // `domain`, `tenant` and `campaign` at `site`, or null.
  const Suspension* Holding(const SiteName& site, absl::string_view domain,
                            absl::string_view tenant, absl::string_view campaign,
                            absl::Time now) const;
  // The suspension, active at `now`, of egress source `source` toward `site`, or null.
  const Suspension* PausingSource(const SiteName& site, absl::string_view source,
                                  absl::Time now) const;
  // The active suspensions whose target could concern `site` (its own, and those by domain,
  // tenant or campaign), for the explain read-out.
  std::vector<const Suspension*> Concerning(const SiteName& site, absl::Time now) const;
  // When the first suspension active at `now` ends (infinite: none is active).
  absl::Time NextExpiry(absl::Time now) const;

 private:
  std::vector<Suspension> all_;
};

// A suspension as the API lists it and the spool keeps it:
//   {"id", "domain"|null, "site"|null, "tenant"|null, "campaign"|null, "source"|null, "reason",
//    "origin", "created": RFC 3339, "expires": RFC 3339, "duration": "4m59s" (what is left)}
std::string SuspensionJson(const Suspension& s, absl::Time now);
// Reads SuspensionJson's output back (the spool's copy).
absl::StatusOr<Suspension> SuspensionFromJson(absl::string_view json);

// The body of POST /api/admin/suspend/v1, checked whole. An error is kInvalidArgument with a
// message naming the field ("duration: ..."), and the field as RequestField() says.
absl::StatusOr<Suspension> ParseSuspendRequest(absl::string_view body, absl::Time now);
// The field an error of ParseSuspendRequest (or ParseLiftRequest) is about ("" for the body).
std::string RequestField(const absl::Status& status);
// The body of DELETE /api/admin/suspend/v1: {"id": "..."}; the id.
absl::StatusOr<std::string> ParseLiftRequest(absl::string_view body);

// A new random (version 4) UUID in its usual text form.
std::string NewSuspensionId();

}  // namespace volley::adaptive

#endif  // VOLLEY_ENGINE_ADAPTIVE_SUSPENSION_H_
