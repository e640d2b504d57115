#include "dns/dns_wire.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

#include "absl/strings/ascii.h"

namespace volley::dns {
namespace {

constexpr size_t kHeaderSize = 12;
constexpr uint16_t kClassIn = 1;
constexpr uint16_t kTypeCname = 5;

uint16_t Read16(const unsigned char* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

uint32_t Read32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Advances `pos` past the (possibly compressed) name starting there. Names are
// skipped, never followed, so compression pointers cannot make this loop.
bool SkipName(const unsigned char* msg, size_t len, size_t& pos) {
  while (true) {
    if (pos >= len) return false;
    const unsigned char label = msg[pos];
    if ((label & 0xC0) == 0xC0) {
      // A pointer ends the name.
      if (pos + 2 > len) return false;
      pos += 2;
      return true;
    }
    // 0x40 and 0x80 are the obsolete extended and reserved label types.
    if ((label & 0xC0) != 0) return false;
    pos += 1;
    if (label == 0) return true;
    pos += label;
  }
}

}  // namespace

std::string NormalizeName(absl::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return absl::AsciiStrToLower(name);
}

std::optional<std::string> ParseIpLiteral(absl::string_view host) {
  bool bracketed = false;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    bracketed = true;
  }
  // Longer than any textual IPv6 address: not a literal (and keeps the copy
  // below bounded).
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string text(host);
  char out[INET6_ADDRSTRLEN];
  if (!bracketed) {
    in_addr v4;
    if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
      if (inet_ntop(AF_INET, &v4, out, sizeof(out)) == nullptr) return std::nullopt;
      return std::string(out);
    }
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    if (inet_ntop(AF_INET6, &v6, out, sizeof(out)) == nullptr) return std::nullopt;
    return std::string(out);
  }
  return std::nullopt;
}

std::optional<uint32_t> MinAnswerTtl(const unsigned char* msg, size_t len, uint16_t rr_type) {
  if (msg == nullptr || len < kHeaderSize) return std::nullopt;
  const uint16_t qdcount = Read16(msg + 4);
  const uint16_t ancount = Read16(msg + 6);
  size_t pos = kHeaderSize;
  for (uint16_t i = 0; i < qdcount; ++i) {
    if (!SkipName(msg, len, pos)) return std::nullopt;
    pos += 4;  // QTYPE, QCLASS
    if (pos > len) return std::nullopt;
  }
  std::optional<uint32_t> min_ttl;
  for (uint16_t i = 0; i < ancount; ++i) {
    if (!SkipName(msg, len, pos)) return std::nullopt;
    if (pos + 10 > len) return std::nullopt;
    const uint16_t type = Read16(msg + pos);
    const uint16_t rr_class = Read16(msg + pos + 2);
    uint32_t ttl = Read32(msg + pos + 4);
    const uint16_t rdlength = Read16(msg + pos + 8);
    pos += 10;
    if (pos + rdlength > len) return std::nullopt;
    pos += rdlength;
    if (rr_class != kClassIn || (type != rr_type && type != kTypeCname)) continue;
    if (ttl & 0x80000000u) ttl = 0;
    min_ttl = min_ttl ? std::min(*min_ttl, ttl) : ttl;
  }
  return min_ttl;
}

}  // namespace volley::dns
