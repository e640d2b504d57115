// What one lookup has learnt from its answers, and the MxResult made of it: the rules of
// dns/README.md, "What a lookup does" (step 4) and "Cache and TTL rules". Pure: MxResolver
// gathers the answers, this reads them.
#ifndef VOLLEY_DNS_LOOKUP_RESULT_H_
#define VOLLEY_DNS_LOOKUP_RESULT_H_

#include <ares.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "dns/dns_cache.h"
#include "dns/resolver.h"

namespace volley::dns {

// Address families, as indexes into HostAnswers' arrays.
enum AddressFamily { kV4 = 0, kV6 = 1 };

// Lowers `into` to `ttl` (an absent `into` takes `ttl`).
void LowerTtl(std::optional<uint32_t>& into, std::optional<uint32_t> ttl);

// An MxResult with this outcome and error, and nothing else set.
MxResult MakeMxResult(MxOutcome outcome, std::string error);

// One host of a lookup: an MX host, the implicit MX, or ResolveHost's host.
struct HostAnswers {
  std::string name;
  int preference = 0;
  std::vector<std::string> addresses[2];         // by family
  bool queried[2] = {false, false};              // by family
  int status[2] = {ARES_SUCCESS, ARES_SUCCESS};  // c-ares status by family
  std::optional<uint32_t> ttl;  // smallest TTL of the address records and CNAMEs used
  // Smallest negative TTL of NODATA/NXDOMAIN address answers; 0 for such an
  // answer without a SOA.
  std::optional<uint32_t> negative_ttl;
};

// The answers of one lookup: Resolve or ResolveHost of one name.
struct LookupAnswers {
  AnswerKind kind = AnswerKind::kMx;
  std::string name;  // lookup form
  bool implicit_mx = false;
  std::optional<uint32_t> mx_ttl;  // MX records and CNAMEs of the MX answer
  // From the SOA of a negative MX answer (NXDOMAIN, or NODATA for implicit
  // MX); absent without a SOA.
  std::optional<uint32_t> mx_negative_ttl;
  std::vector<HostAnswers> hosts;  // in the order to try them
  std::string site_name;
  // Set when the outcome is known without addresses (NXDOMAIN, null MX, or a
  // failure), without an expiry yet.
  std::optional<MxResult> decided;
};

// The result of a finished lookup, moving names and addresses out of
// `answers`. Each host's addresses come IPv4 first, or IPv6 first with
// `ipv6_first`. Expiries come from `cache` (DnsCache::ExpiryFor); a failure
// expires `now`, as it is never cached.
MxResult BuildLookupResult(LookupAnswers& answers, bool ipv6_first, const DnsCache& cache,
                           absl::Time now);

}  // namespace volley::dns

#endif  // VOLLEY_DNS_LOOKUP_RESULT_H_
