#include "dns/dns_wire.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace volley::dns {
namespace {

constexpr size_t kHeaderSize = 12;
constexpr uint16_t kClassIn = 1;
constexpr uint16_t kTypeCname = 5;
constexpr uint16_t kTypeSoa = 6;

uint16_t Read16(const unsigned char* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

uint32_t Read32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// RFC 2181 section 8: a TTL with the top bit set is treated as zero.
uint32_t SaneTtl(uint32_t ttl) { return (ttl & 0x80000000u) ? 0 : ttl; }

// Advances `pos` past the (possibly compressed) name starting there, reading
// no further than `end`. Names are skipped, never followed, so compression
// pointers cannot make this loop.
bool SkipName(const unsigned char* msg, size_t end, size_t& pos) {
  while (true) {
    if (pos >= end) return false;
    const unsigned char label = msg[pos];
    if ((label & 0xC0) == 0xC0) {
      // A pointer ends the name.
      if (pos + 2 > end) return false;
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

struct Record {
  uint16_t type;
  uint16_t rr_class;
  uint32_t ttl;
  size_t rdata;  // offset of the RDATA in the message
  uint16_t rdlength;
};

// Reads sequential sections of a DNS message. Every read checks the length, so
// a truncated or hostile message makes a call fail, never read past `len`.
class Walker {
 public:
  Walker(const unsigned char* msg, size_t len) : msg_(msg), len_(len) {}

  // Checks the header and skips the question section.
  bool Start() {
    if (msg_ == nullptr || len_ < kHeaderSize) return false;
    pos_ = kHeaderSize;
    for (uint16_t i = 0, n = count(0); i < n; ++i) {
      if (!SkipName(msg_, len_, pos_)) return false;
      pos_ += 4;  // QTYPE, QCLASS
      if (pos_ > len_) return false;
    }
    return true;
  }

  // Section counts: 0 question, 1 answer, 2 authority, 3 additional.
  uint16_t count(int section) const { return Read16(msg_ + 4 + 2 * section); }

  bool Next(Record& rr) {
    if (!SkipName(msg_, len_, pos_)) return false;
    if (pos_ + 10 > len_) return false;
    rr.type = Read16(msg_ + pos_);
    rr.rr_class = Read16(msg_ + pos_ + 2);
    rr.ttl = Read32(msg_ + pos_ + 4);
    rr.rdlength = Read16(msg_ + pos_ + 8);
    pos_ += 10;
    if (pos_ + rr.rdlength > len_) return false;
    rr.rdata = pos_;
    pos_ += rr.rdlength;
    return true;
  }

  const unsigned char* msg() const { return msg_; }

 private:
  const unsigned char* msg_;
  size_t len_;
  size_t pos_ = 0;
};

// The SOA MINIMUM field of the SOA RDATA at `rr`, or nullopt if malformed.
std::optional<uint32_t> SoaMinimum(const unsigned char* msg, const Record& rr) {
  const size_t end = rr.rdata + rr.rdlength;
  size_t pos = rr.rdata;
  // MNAME and RNAME, then SERIAL, REFRESH, RETRY, EXPIRE and MINIMUM.
  if (!SkipName(msg, end, pos) || !SkipName(msg, end, pos)) return std::nullopt;
  if (pos + 20 > end) return std::nullopt;
  return Read32(msg + pos + 16);
}

}  // namespace

std::string NormalizeName(absl::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return absl::AsciiStrToLower(name);
}

bool IsLookupName(absl::string_view name) {
  if (!name.empty() && name.back() == '.') return false;
  for (const char c : name) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x80 || (u >= 'A' && u <= 'Z')) return false;
  }
  return true;
}

absl::Status ToLookupName(absl::string_view name, std::string& out) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  const bool ascii = std::none_of(name.begin(), name.end(),
                                  [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  if (ascii) {
    out.assign(name.data(), name.size());
    absl::AsciiStrToLower(&out);
    return absl::OkStatus();
  }
  // libidn2 wants a NUL-terminated string.
  const std::string input(name);
  char* converted = nullptr;
  const int rc = idn2_to_ascii_8z(input.c_str(), &converted, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
  if (rc != IDN2_OK) {
    idn2_free(converted);
    // Bytes that are not UTF-8 would break the JSON delivery log: escape them.
    const std::string shown = rc == IDN2_ENCODING_ERROR ? absl::CHexEscape(input) : input;
    return absl::InvalidArgumentError(absl::StrCat("invalid internationalised domain name: ", shown,
                                                   " (", idn2_strerror(rc), ")"));
  }
  out.assign(converted);
  idn2_free(converted);
  // The UTS #46 mapping lower-cases already; ASCII labels passed through as
  // they were.
  absl::AsciiStrToLower(&out);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return absl::OkStatus();
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
  Walker walker(msg, len);
  if (!walker.Start()) return std::nullopt;
  std::optional<uint32_t> min_ttl;
  Record rr;
  for (uint16_t i = 0, n = walker.count(1); i < n; ++i) {
    if (!walker.Next(rr)) return std::nullopt;
    if (rr.rr_class != kClassIn || (rr.type != rr_type && rr.type != kTypeCname)) continue;
    const uint32_t ttl = SaneTtl(rr.ttl);
    min_ttl = min_ttl ? std::min(*min_ttl, ttl) : ttl;
  }
  return min_ttl;
}

std::optional<uint32_t> NegativeTtl(const unsigned char* msg, size_t len) {
  Walker walker(msg, len);
  if (!walker.Start()) return std::nullopt;
  Record rr;
  // The answer section of a negative answer holds at most a CNAME chain.
  for (uint16_t i = 0, n = walker.count(1); i < n; ++i) {
    if (!walker.Next(rr)) return std::nullopt;
  }
  std::optional<uint32_t> negative_ttl;
  for (uint16_t i = 0, n = walker.count(2); i < n; ++i) {
    if (!walker.Next(rr)) return std::nullopt;
    if (rr.rr_class != kClassIn || rr.type != kTypeSoa) continue;
    const std::optional<uint32_t> minimum = SoaMinimum(walker.msg(), rr);
    if (!minimum) return std::nullopt;
    const uint32_t ttl = std::min(SaneTtl(rr.ttl), SaneTtl(*minimum));
    negative_ttl = negative_ttl ? std::min(*negative_ttl, ttl) : ttl;
  }
  return negative_ttl;
}

}  // namespace volley::dns
