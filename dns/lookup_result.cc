#include "dns/lookup_result.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "dns/ares_channel.h"

namespace volley::dns {
namespace {

bool IsTemporary(int status) {
  return status != ARES_SUCCESS && status != ARES_ENODATA && status != ARES_ENOTFOUND;
}

bool AnyTemporary(const HostAnswers& host) {
  for (int family : {kV4, kV6}) {
    if (host.queried[family] && IsTemporary(host.status[family])) return true;
  }
  return false;
}

// The status a failure message names for `host`: a temporary failure of
// either family if there is one, else that of the first family queried.
int ReportedStatus(const HostAnswers& host) {
  int reported = ARES_ENODATA;
  bool have_reported = false;
  for (int family : {kV4, kV6}) {
    if (!host.queried[family]) continue;
    const int status = host.status[family];
    if (IsTemporary(status)) {
      if (!IsTemporary(reported)) reported = status;
      have_reported = true;
    } else if (!have_reported) {
      reported = status;
      have_reported = true;
    }
  }
  return reported;
}

// The record types `host` was queried for, as error messages name them.
absl::string_view FamiliesText(const HostAnswers& host) {
  if (!host.queried[kV6]) return "A";
  if (!host.queried[kV4]) return "AAAA";
  return "A or AAAA";
}

// An outcome known without addresses: NXDOMAIN, null MX, or a failure.
MxResult DecidedResult(LookupAnswers& answers, const DnsCache& cache, absl::Time now) {
  MxResult result = std::move(*answers.decided);
  switch (result.outcome) {
    case MxOutcome::kTemporaryFailure:
      result.expires = now;
      break;
    case MxOutcome::kNullMx:
      result.expires = cache.ExpiryFor(answers.mx_ttl);
      break;
    default:  // kNxDomain: RFC 2308, min_ttl without a SOA
      result.expires = cache.ExpiryFor(answers.mx_negative_ttl);
      break;
  }
  return result;
}

// The one host (implicit MX or ResolveHost) has no addresses: cached for the
// smallest negative TTL of its parts.
MxResult NegativeResult(const LookupAnswers& answers, const DnsCache& cache) {
  const HostAnswers& host = answers.hosts.front();
  std::optional<uint32_t> negative_ttl = host.negative_ttl;
  if (answers.implicit_mx) LowerTtl(negative_ttl, answers.mx_negative_ttl.value_or(0));
  bool all_nxdomain = true;
  for (int family : {kV4, kV6}) {
    if (host.queried[family]) all_nxdomain &= host.status[family] == ARES_ENOTFOUND;
  }
  MxResult result;
  if (answers.kind == AnswerKind::kHost && all_nxdomain) {
    result = MakeMxResult(MxOutcome::kNxDomain, absl::StrCat(answers.name, ": NXDOMAIN"));
  } else {
    result = MakeMxResult(
        MxOutcome::kNoAddresses,
        absl::StrCat(answers.name, " has no ", answers.implicit_mx ? "MX records and no " : "",
                     FamiliesText(host), " records"));
  }
  result.expires = cache.ExpiryFor(negative_ttl);
  return result;
}

}  // namespace

void LowerTtl(std::optional<uint32_t>& into, std::optional<uint32_t> ttl) {
  if (ttl) into = into ? std::min(*into, *ttl) : *ttl;
}

MxResult MakeMxResult(MxOutcome outcome, std::string error) {
  MxResult result;
  result.outcome = outcome;
  result.error = std::move(error);
  return result;
}

MxResult BuildLookupResult(LookupAnswers& answers, bool ipv6_first, const DnsCache& cache,
                           absl::Time now) {
  if (answers.decided) return DecidedResult(answers, cache, now);
  MxResult result;
  std::optional<uint32_t> ttl = answers.mx_ttl;
  if (answers.implicit_mx) LowerTtl(ttl, answers.mx_negative_ttl);
  bool any_temporary = false;
  std::vector<std::string> failures;
  for (HostAnswers& host : answers.hosts) {
    any_temporary |= AnyTemporary(host);
    std::vector<std::string>& first = host.addresses[ipv6_first ? kV6 : kV4];
    std::vector<std::string>& second = host.addresses[ipv6_first ? kV4 : kV6];
    if (first.empty() && second.empty()) {
      failures.push_back(absl::StrCat(host.name, ": ", AresStatusText(ReportedStatus(host))));
      continue;
    }
    MxHost& out = result.hosts.emplace_back();
    out.name = std::move(host.name);
    out.preference = host.preference;
    out.addresses = std::move(first);
    out.addresses.insert(out.addresses.end(), std::make_move_iterator(second.begin()),
                         std::make_move_iterator(second.end()));
    LowerTtl(ttl, host.ttl);
  }
  if (!result.hosts.empty()) {
    result.outcome = MxOutcome::kOk;
    result.site_name = std::move(answers.site_name);
    // A host that failed only for now may come back: do not pin the smaller
    // answer for long (a TTL of 0 is raised to min_ttl).
    result.expires = cache.ExpiryFor(any_temporary ? std::optional<uint32_t>(0) : ttl);
    return result;
  }
  const bool mx_hosts = answers.kind == AnswerKind::kMx && !answers.implicit_mx;
  if (any_temporary || mx_hosts) {
    // Without a temporary failure, every MX host is dangling (or has only
    // addresses of a family the strategy excludes): a problem on the receiving
    // side that may get fixed.
    result = MakeMxResult(
        MxOutcome::kTemporaryFailure,
        mx_hosts ? absl::StrCat("no MX host has an address (", absl::StrJoin(failures, "; "), ")")
                 : absl::StrCat("address lookup for ", failures.front()));
    result.expires = now;
    return result;
  }
  return NegativeResult(answers, cache);
}

}  // namespace volley::dns
