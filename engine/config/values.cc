// Volley's configuration value syntax; see values.h.
#include "engine/config/values.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace volley::config {
namespace {

// Parses a non-empty run of ASCII digits no larger than `max`. absl::SimpleAtoi would also take
// a sign and surrounding spaces, which no value in the file may contain.
std::optional<uint64_t> ParseDecimal(absl::string_view s, uint64_t max) {
  if (s.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

bool ParseIpv4(absl::string_view text, uint8_t out[4]) {
  const std::string s(text);
  return inet_pton(AF_INET, s.c_str(), out) == 1;
}

bool ParseIpv6(absl::string_view text, uint8_t out[16]) {
  const std::string s(text);
  return inet_pton(AF_INET6, s.c_str(), out) == 1;
}

}  // namespace

std::string HostPort::ToString() const {
  if (absl::StrContains(host, ':')) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

bool Cidr::Contains(absl::string_view address) const {
  uint8_t addr[16] = {};
  bool addr_v6;
  if (ParseIpv4(address, addr)) {
    addr_v6 = false;
  } else if (ParseIpv6(address, addr)) {
    addr_v6 = true;
  } else {
    return false;
  }
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  const uint8_t* compared = addr;
  uint8_t mapped[16];
  if (!ipv6 && addr_v6) {
    // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    if (std::memcmp(addr, kMappedPrefix, sizeof(kMappedPrefix)) != 0) return false;
    compared = addr + 12;
  } else if (ipv6 && !addr_v6) {
    // So that a prefix written as ::ffff:a.b.c.d/n also matches the plain IPv4 form.
    std::memcpy(mapped, kMappedPrefix, sizeof(kMappedPrefix));
    std::memcpy(mapped + 12, addr, 4);
    compared = mapped;
  }
  const int full_bytes = prefix_len / 8;
  if (std::memcmp(compared, bytes, full_bytes) != 0) return false;
  const int rest_bits = prefix_len % 8;
  if (rest_bits == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest_bits));
  return (compared[full_bytes] & mask) == (bytes[full_bytes] & mask);
}

std::string Cidr::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(ipv6 ? AF_INET6 : AF_INET, bytes, text, sizeof(text)) == nullptr) return "?";
  return absl::StrCat(text, "/", prefix_len);
}

absl::StatusOr<absl::Duration> ParseDurationValue(absl::string_view text) {
  struct Unit {
    absl::string_view name;
    int64_t ms;
  };
  // Largest first: a combination must be written in this order, each unit once ("1h30m").
  static constexpr Unit kUnits[] = {
      {"d", 24 * 3600 * 1000}, {"h", 3600 * 1000}, {"m", 60 * 1000}, {"s", 1000}, {"ms", 1}};
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad duration \"", text, "\": ", why,
                     " (write a number and a unit ms, s, m, h or d, such as \"30s\", \"5m\" or "
                     "\"1h30m\")"));
  };
  if (text.empty()) return bad("empty");
  constexpr int64_t kMaxMs = std::numeric_limits<int64_t>::max();
  int64_t total_ms = 0;
  int last_unit = -1;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start) {
      return bad(absl::StrCat("unexpected '", text.substr(i, 1), "' where a number belongs"));
    }
    const absl::string_view number = text.substr(start, i - start);
    start = i;
    while (i < text.size() && absl::ascii_isalpha(static_cast<unsigned char>(text[i]))) ++i;
    const absl::string_view unit_name = text.substr(start, i - start);
    if (unit_name.empty()) {
      if (i < text.size()) return bad(absl::StrCat("unexpected '", text.substr(i, 1), "'"));
      return bad("missing unit");
    }
    int unit = -1;
    for (int u = 0; u < static_cast<int>(std::size(kUnits)); ++u) {
      if (kUnits[u].name == unit_name) unit = u;
    }
    if (unit < 0) return bad(absl::StrCat("unknown unit \"", unit_name, "\""));
    if (unit <= last_unit) return bad("units must go from largest to smallest, each once");
    last_unit = unit;
    const std::optional<uint64_t> value =
        ParseDecimal(number, static_cast<uint64_t>(kMaxMs / kUnits[unit].ms));
    if (!value.has_value()) return bad("too large");
    const int64_t ms = static_cast<int64_t>(*value) * kUnits[unit].ms;
    if (total_ms > kMaxMs - ms) return bad("too large");
    total_ms += ms;
  }
  return absl::Milliseconds(total_ms);
}

absl::StatusOr<uint64_t> ParseSizeValue(absl::string_view text) {
  struct Unit {
    absl::string_view name;
    uint64_t factor;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},
      {"B", 1},
      {"KB", 1000},
      {"MB", 1000 * 1000},
      {"GB", 1000 * 1000 * 1000},
      {"KiB", uint64_t{1} << 10},
      {"MiB", uint64_t{1} << 20},
      {"GiB", uint64_t{1} << 30},
  };
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad size \"", text, "\": ", why,
                     " (write a number with an optional unit B, KB, MB, GB, KiB, MiB or GiB, such "
                     "as \"25MiB\")"));
  };
  size_t digits = 0;
  while (digits < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[digits]))) {
    ++digits;
  }
  if (digits == 0) return bad("expected a number");
  const absl::string_view unit_name = text.substr(digits);
  // Units are matched without regard to case ("25mib"), as people write them both ways.
  const auto unit = std::find_if(std::begin(kUnits), std::end(kUnits), [&](const Unit& u) {
    return absl::EqualsIgnoreCase(u.name, unit_name);
  });
  if (unit == std::end(kUnits)) return bad(absl::StrCat("unknown unit \"", unit_name, "\""));
  const std::optional<uint64_t> value =
      ParseDecimal(text.substr(0, digits), std::numeric_limits<uint64_t>::max() / unit->factor);
  if (!value.has_value()) return bad("too large");
  return *value * unit->factor;
}

absl::StatusOr<HostPort> ParseHostPort(absl::string_view text, std::optional<uint16_t> default_port,
                                       bool allow_port_zero) {
  absl::StatusOr<SplitAddress> split = SplitHostPort(text, allow_port_zero);
  if (!split.ok()) return split.status();
  if (!split->port.has_value()) {
    if (!default_port.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad address \"", text, "\": missing port (expected ",
                       split->unbracketed_ipv6 ? "[address]:port for IPv6" : "host:port", ")"));
    }
    split->port = default_port;
  }
  return HostPort{std::move(split->host), *split->port};
}

absl::StatusOr<Cidr> ParseCidr(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("bad CIDR \"", text, "\": ", why));
  };
  const size_t slash = text.find('/');
  const absl::string_view address = text.substr(0, slash);
  Cidr cidr;
  if (ParseIpv4(address, cidr.bytes)) {
    cidr.ipv6 = false;
  } else if (ParseIpv6(address, cidr.bytes)) {
    cidr.ipv6 = true;
  } else {
    return bad(absl::StrCat("\"", address, "\" is not an IPv4 or IPv6 address"));
  }
  const int max_len = cidr.ipv6 ? 128 : 32;
  cidr.prefix_len = max_len;  // A bare address is a prefix of one host.
  if (slash != absl::string_view::npos) {
    const std::optional<uint64_t> len =
        ParseDecimal(text.substr(slash + 1), static_cast<uint64_t>(max_len));
    if (!len.has_value()) {
      return bad(absl::StrCat("prefix length must be a number from 0 to ", max_len));
    }
    cidr.prefix_len = static_cast<int>(*len);
  }
  // Host bits are allowed ("10.1.2.3/8", as people copy an interface address) and cleared, so
  // that ToString() shows the network that is actually matched.
  const int byte_count = cidr.ipv6 ? 16 : 4;
  for (int i = 0; i < byte_count; ++i) {
    const int bits = std::clamp(cidr.prefix_len - i * 8, 0, 8);
    cidr.bytes[i] &= static_cast<uint8_t>(0xff << (8 - bits));
  }
  return cidr;
}

bool IsDomainName(absl::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t label_start = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      const absl::string_view label = name.substr(label_start, i - label_start);
      if (label.empty() || label.size() > 63) return false;
      if (label.front() == '-' || label.back() == '-') return false;
      label_start = i + 1;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

absl::StatusOr<SplitAddress> SplitHostPort(absl::string_view text, bool allow_port_zero) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("bad address \"", text, "\": ", why));
  };
  if (text.empty()) return bad("empty (expected host:port)");

  SplitAddress out;
  absl::string_view host;
  std::optional<absl::string_view> port_text;
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos) return bad("missing ']'");
    host = text.substr(1, close - 1);
    uint8_t bytes[16];
    if (!ParseIpv6(host, bytes)) return bad("only IPv6 addresses are written in brackets");
    const absl::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("expected ':' and a port after ']'");
      port_text = rest.substr(1);
    }
    out.is_ip = true;
  } else {
    const size_t colons = std::count(text.begin(), text.end(), ':');
    if (colons > 1) {
      uint8_t bytes[16];
      if (!ParseIpv6(text, bytes)) {
        return bad("too many ':' (write IPv6 addresses as [address]:port)");
      }
      host = text;
      out.is_ip = true;
      out.unbracketed_ipv6 = true;
    } else if (colons == 1) {
      const size_t colon = text.find(':');
      host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
    } else {
      host = text;
    }
    if (!out.is_ip) {
      if (host.empty()) return bad("missing host");
      uint8_t bytes[4];
      if (ParseIpv4(host, bytes)) {
        out.is_ip = true;
      } else if (host.find_first_not_of("0123456789.") == absl::string_view::npos) {
        return bad(absl::StrCat("\"", host, "\" is not a valid IPv4 address"));
      } else if (!IsDomainName(host)) {
        return bad(absl::StrCat("\"", host, "\" is not a valid IP address or host name"));
      }
    }
  }
  if (port_text.has_value()) {
    const std::optional<uint64_t> port = ParseDecimal(*port_text, 65535);
    if (!port.has_value() || (*port == 0 && !allow_port_zero)) {
      return bad(absl::StrCat("port \"", *port_text, "\" is not a number from ",
                              allow_port_zero ? 0 : 1, " to 65535"));
    }
    out.port = static_cast<uint16_t>(*port);
  }
  out.host = std::string(host);
  return out;
}

}  // namespace volley::config
