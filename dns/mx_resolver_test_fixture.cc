#include "dns/mx_resolver_test_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace volley::dns {

using ::volley::test_support::AuthZone;
using ::volley::test_support::DnsRecord;

std::string TmpDir(absl::string_view name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
}

std::vector<DnsRecord> SharedRecords() {
  std::vector<DnsRecord> records = {
      // Two MX hosts of different preference; names in odd case on purpose.
      {"two.test", "MX", "20 mx2.two.test.", 60},
      {"two.test", "MX", "10 MX1.Two.Test.", 60},
      {"mx1.two.test", "A", "192.0.2.1", 120},
      {"mx2.two.test", "A", "192.0.2.2", 300},
      {"mx2.two.test", "AAAA", "2001:db8::2", 300},
      // Equal preferences.
      {"equal.test", "MX", "10 a.equal.test."},
      {"equal.test", "MX", "10 b.equal.test."},
      {"a.equal.test", "A", "192.0.2.11"},
      {"b.equal.test", "A", "192.0.2.12"},
      // No MX: the domain is its own implicit MX.
      {"implicit.test", "A", "192.0.2.20"},
      {"dual.test", "AAAA", "2001:db8::30"},
      {"dual.test", "A", "192.0.2.30"},
      // RFC 7505 null MX.
      {"null.test", "MX", "0 ."},
      // Exists, but has neither MX nor A/AAAA.
      {"txtonly.test", "TXT", "\"only text\""},
      // One dangling MX host (NXDOMAIN) next to a good one.
      {"dangling.test", "MX", "10 nohost.dangling.test."},
      {"dangling.test", "MX", "20 good.dangling.test."},
      {"good.dangling.test", "A", "192.0.2.40"},
      // Every MX host dangling: one NXDOMAIN, one without addresses.
      {"alldangling.test", "MX", "10 gone1.alldangling.test."},
      {"alldangling.test", "MX", "20 gone2.alldangling.test."},
      {"gone2.alldangling.test", "TXT", "\"no address here\""},
      // An MX host given as an IP address.
      {"literal.test", "MX", "10 192.0.2.50."},
      {"literal.test", "MX", "20 mx.literal.test."},
      {"mx.literal.test", "A", "192.0.2.51"},
      {"cached.test", "MX", "10 mx.cached.test."},
      {"mx.cached.test", "A", "192.0.2.60"},
      {"coalesce.test", "MX", "10 mx1.coalesce.test."},
      {"coalesce.test", "MX", "20 mx2.coalesce.test."},
      {"mx1.coalesce.test", "A", "192.0.2.61"},
      {"mx2.coalesce.test", "A", "192.0.2.62"},
      // TTLs below min_ttl and above max_ttl.
      {"short.test", "MX", "10 mx.short.test.", 5},
      {"mx.short.test", "A", "192.0.2.63", 600},
      {"long.test", "MX", "10 mx.long.test.", 7200},
      {"mx.long.test", "A", "192.0.2.64", 86400},
      // For ResolveHost.
      {"host.test", "AAAA", "2001:db8::70"},
      {"host.test", "A", "192.0.2.70"},
      // An MX host with only an IPv6 address.
      {"v6only.test", "MX", "10 mx.v6only.test."},
      {"mx.v6only.test", "AAAA", "::1"},
      // The A-label form of "bücher.test".
      {"xn--bcher-kva.test", "MX", "10 mx.xn--bcher-kva.test."},
      {"mx.xn--bcher-kva.test", "A", "192.0.2.90"},
      {"coalesce10k.test", "MX", "10 mx1.coalesce10k.test."},
      {"coalesce10k.test", "MX", "20 mx2.coalesce10k.test."},
      {"mx1.coalesce10k.test", "A", "192.0.2.91"},
      {"mx2.coalesce10k.test", "AAAA", "2001:db8::92"},
      {"mxinfail.test", "MX", "10 mx.x.fail.test."},
      {"stats.test", "MX", "10 mx.stats.test."},
      {"mx.stats.test", "A", "192.0.2.93"},
  };
  // More MX records than fit in a UDP answer (unbound sends at most 1232
  // bytes): c-ares must repeat the query over TCP.
  for (int i = 0; i < kTruncatedMxHosts; ++i) {
    const std::string host =
        absl::StrCat("mx-", i / 10, i % 10, "-a-long-label-to-make-the-answer-big.trunc.test");
    records.push_back({"trunc.test", "MX", absl::StrCat(10 + i, " ", host, ".")});
    records.push_back({host, "A", absl::StrCat("192.0.2.", 100 + i)});
  }
  return records;
}

// Zones served from zone files: real SOAs in negative answers, CNAMEs
// followed.
std::vector<AuthZone> SharedAuthZones() {
  AuthZone zone;
  zone.name = "zone.test";
  zone.negative_ttl = 45;  // the SOA's TTL stays 3600: the minimum wins
  zone.records = {
      // An MX host that is a CNAME (TTL 60) for a name with an address.
      {"cnamed.zone.test", "MX", "10 alias.zone.test.", 300},
      {"alias.zone.test", "CNAME", "real.zone.test.", 60},
      {"real.zone.test", "A", "192.0.2.100", 600},
      // A chain of two CNAMEs.
      {"chain.zone.test", "MX", "10 link.zone.test.", 300},
      {"link.zone.test", "CNAME", "alias.zone.test.", 900},
      // A domain that is a CNAME: to a domain with MX, and to one without.
      {"aliasmx.zone.test", "CNAME", "cnamed.zone.test.", 120},
      {"aliasimplicit.zone.test", "CNAME", "real.zone.test.", 600},
      // Implicit MX: "no MX" holds only for the negative TTL.
      {"implicit.zone.test", "A", "192.0.2.101", 300},
      // Exists, but without MX or addresses.
      {"txt1.zone.test", "TXT", "\"text\""},
      {"txt2.zone.test", "TXT", "\"text\""},
  };
  AuthZone short_negative;
  short_negative.name = "shortneg.test";
  short_negative.negative_ttl = 5;  // below min_ttl
  short_negative.records = {{"mx.shortneg.test", "A", "192.0.2.102"}};
  return {zone, short_negative};
}

SilentServer::SilentServer() {
  fd_ = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return;
  socklen_t len = sizeof(addr);
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port_ = ntohs(addr.sin_port);
  }
}

SilentServer::~SilentServer() {
  if (fd_ >= 0) close(fd_);
}

std::string SilentServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

}  // namespace volley::dns
