// Small pure helpers for DNS names and raw DNS messages, kept apart from the
// resolver so that they can be unit-tested without a server.
#ifndef VOLLEY_DNS_DNS_WIRE_H_
#define VOLLEY_DNS_DNS_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace volley::dns {

// Lower-cases `name` (ASCII only) and strips one trailing dot:
// "Mail.Example.COM." becomes "mail.example.com". The root name "." becomes "".
std::string NormalizeName(absl::string_view name);

// True if `name` is already in the form ToLookupName produces for it: ASCII
// only, no upper-case letter, no trailing dot. The resolver's cache-hit path
// uses such names as they are, without a copy.
bool IsLookupName(absl::string_view name);

// Writes into `out` the form of `name` used in queries and as cache key: an
// ASCII name is normalised (NormalizeName); a name with non-ASCII (UTF-8)
// characters is converted to A-labels with libidn2 (IDNA2008 with UTS #46
// non-transitional mapping, input NFC-normalised), so that "Bücher.test."
// becomes "xn--bcher-kva.test". Fails with InvalidArgument ("invalid
// internationalised domain name: ...") if the name is not valid UTF-8 or not a
// valid IDN. `out` is reused, so a hot caller can keep its buffer.
absl::Status ToLookupName(absl::string_view name, std::string& out);

// If `host` is a numeric IPv4 or IPv6 address (IPv6 optionally in brackets, as
// in "[::1]"), returns its canonical text form ("2001:db8::1"); otherwise
// nullopt.
std::optional<std::string> ParseIpLiteral(absl::string_view host);

// Walks the answer section of the DNS message `msg` and returns the smallest
// TTL among the class IN records of type `rr_type` or CNAME (the records an
// answer for `rr_type` is built from, including every link of a CNAME chain).
// Returns nullopt if the message is truncated or malformed, or has no such
// record. TTLs with the top bit set count as 0 (RFC 2181 section 8).
//
// c-ares 1.18's ares_parse_mx_reply drops TTLs, hence this walker.
std::optional<uint32_t> MinAnswerTtl(const unsigned char* msg, size_t len, uint16_t rr_type);

// The negative-caching TTL of an NXDOMAIN or NODATA answer (RFC 2308 section
// 5): the smallest min(TTL, MINIMUM) over the class IN SOA records of the
// authority section. Returns nullopt if there is none, or if the message is
// truncated or malformed before or inside that SOA.
std::optional<uint32_t> NegativeTtl(const unsigned char* msg, size_t len);

}  // namespace volley::dns

#endif  // VOLLEY_DNS_DNS_WIRE_H_
