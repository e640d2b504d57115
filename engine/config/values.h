// The value syntax of Volley's configuration (docs/configuration.md, "Value syntax"): durations,
// sizes, host:port addresses, CIDR prefixes and host names. The parser reads every such value
// through these functions, and the rest of the engine uses them for the same syntax elsewhere, so
// a value means the same wherever it is written.
#ifndef VOLLEY_ENGINE_CONFIG_VALUES_H_
#define VOLLEY_ENGINE_CONFIG_VALUES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace volley::config {

// "host:port" as written, split. `host` is an IPv4 or IPv6 literal (no brackets) or a name.
struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;  // "127.0.0.1:25", "[::1]:25"
  friend bool operator==(const HostPort&, const HostPort&) = default;
};

// An address prefix such as 127.0.0.0/8 or ::1/128.
struct Cidr {
  bool ipv6 = false;
  uint8_t bytes[16] = {};  // network byte order; only the first 4 used for IPv4
  int prefix_len = 0;
  // True when `address` (a numeric IPv4 or IPv6 address, as text) lies in the prefix.
  // IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) match IPv4 prefixes.
  bool Contains(absl::string_view address) const;
  std::string ToString() const;
};

absl::StatusOr<absl::Duration> ParseDurationValue(
    absl::string_view text);  // "30s","5m","2h","3d","500ms"
absl::StatusOr<uint64_t> ParseSizeValue(
    absl::string_view text);  // "25MiB","1GiB","512KiB","1000","10MB"
// Port 0 is an error unless `allow_port_zero` (listen addresses: "any free port").
absl::StatusOr<HostPort> ParseHostPort(absl::string_view text, std::optional<uint16_t> default_port,
                                       bool allow_port_zero = false);
absl::StatusOr<Cidr> ParseCidr(absl::string_view text);

// True for a DNS name as used for EHLO, route domains and smarthosts: dot-separated labels of
// letters, digits, '-' and '_' (underscores appear in container and internal host names), no
// label starting or ending with '-'. Internationalised names must be written as A-labels (xn--).
bool IsDomainName(absl::string_view name);

// "host:port" split into its parts; the port is absent when not written.
struct SplitAddress {
  std::string host;
  std::optional<uint16_t> port;
  bool is_ip = false;
  bool unbracketed_ipv6 = false;  // "::1": a port could not have been written without brackets
};

// Splits "host:port", "host", "[ipv6]:port", "[ipv6]" or a bare IPv6 address, checking that the
// host is an IP address or a host name and the port a number from 1 (0 when `allow_port_zero`)
// to 65535. ParseHostPort is this plus the default port; [routes] hosts use it directly, since
// they refuse the unbracketed IPv6 form ("::1") that ParseHostPort takes when a default port
// applies.
absl::StatusOr<SplitAddress> SplitHostPort(absl::string_view text, bool allow_port_zero = false);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_VALUES_H_
