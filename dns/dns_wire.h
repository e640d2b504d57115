// Small pure helpers for DNS names and raw DNS messages, kept apart from the
// resolver so that they can be unit-tested without a server.
#ifndef VOLLEY_DNS_DNS_WIRE_H_
#define VOLLEY_DNS_DNS_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace volley::dns {

// Lower-cases `name` (ASCII only) and strips one trailing dot:
// "Mail.Example.COM." becomes "mail.example.com". The root name "." becomes "".
std::string NormalizeName(absl::string_view name);

// If `host` is a numeric IPv4 or IPv6 address (IPv6 optionally in brackets, as
// in "[::1]"), returns its canonical text form ("2001:db8::1"); otherwise
// nullopt.
std::optional<std::string> ParseIpLiteral(absl::string_view host);

// Walks the answer section of the DNS message `msg` and returns the smallest
// TTL among the class IN records of type `rr_type` or CNAME (the records an
// answer for `rr_type` is built from). Returns nullopt if the message is
// truncated or malformed, or has no such record. TTLs with the top bit set
// count as 0 (RFC 2181 section 8).
//
// c-ares 1.18's ares_parse_mx_reply drops TTLs, hence this walker.
std::optional<uint32_t> MinAnswerTtl(const unsigned char* msg, size_t len, uint16_t rr_type);

}  // namespace volley::dns

#endif  // VOLLEY_DNS_DNS_WIRE_H_
