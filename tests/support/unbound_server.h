// A real unbound serving test zones on 127.0.0.1, for tests of DNS-dependent
// code.
//
// Unbound never contacts the internet: every name outside the test zones is
// answered REFUSED locally ("." is a refuse local-zone), there are no root
// hints in use and no trust anchors.
//
// Zones: every zone is an unbound `local-zone: "<zone>." static`, so names
// inside it without records get NXDOMAIN, and names with records of other types
// get NODATA. By default the zones are the distinct last labels of the record
// names (records under "test." make one zone "test."); UnboundOptions::zones
// overrides that. Use names under ".test" (RFC 6761).
// Unbound's built-in local zones (localhost., invalid., test., onion., ...)
// still answer NXDOMAIN for themselves; other names outside the test zones,
// e.g. under ".example", get REFUSED.
//
// Other zone kinds (UnboundOptions): auth zones served from zone files, with
// real SOA-carrying negative answers, followed CNAMEs and wildcards; zones
// that answer SERVFAIL; zones whose queries are dropped (the client times
// out).
//
// The harness itself asks unbound for "generation.volley-harness.invalid. TXT"
// to know when a (re)load is live; tests that count queries in the log should
// skip that name (CountQueries does).
#ifndef VOLLEY_TESTS_SUPPORT_UNBOUND_SERVER_H_
#define VOLLEY_TESTS_SUPPORT_UNBOUND_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace volley::test_support {

// One resource record, in zone-file syntax: {"example.test", "MX", "10
// mx.example.test.", 300}. Names inside `data` should be absolute (end with a
// dot). The name may end with a dot or not.
struct DnsRecord {
  std::string name;
  std::string type;
  std::string data;
  int ttl = 300;
};

// A zone that unbound serves from a zone file (`auth-zone`, used by its
// iterator as a real authoritative server would be). Unlike local data,
// negative answers carry the zone's SOA in the authority section (RFC 2308
// negative caching), CNAMEs are followed to their target, and wildcard names
// ("*.wild.example.test") work.
struct AuthZone {
  std::string name;  // "neg.test" or "neg.test."
  // Records of the zone; names must be inside it. Without a SOA record the
  // harness adds "SOA ns.<zone> hostmaster.<zone> 1 3600 600 86400
  // <negative_ttl>" with TTL soa_ttl, and without an NS record, one naming
  // ns.<zone> (with no address: unbound never has to contact it).
  std::vector<DnsRecord> records;
  uint32_t negative_ttl = 300;  // the added SOA's MINIMUM field
  uint32_t soa_ttl = 3600;
};

struct UnboundOptions {
  // Static local zones ("example.test" or "example.test."). Empty: derived from
  // the records.
  std::vector<std::string> zones;
  std::vector<AuthZone> auth_zones;
  // Every name under these zones gets SERVFAIL, at once: they are stub zones
  // whose only server is 127.0.0.1, which unbound refuses to query
  // (do-not-query-localhost).
  std::vector<std::string> servfail_zones;
  // Queries for names under these zones are dropped without an answer
  // (`local-zone: ... deny`), so clients time out while other names work.
  std::vector<std::string> drop_zones;
  // Also log every reply (`log-replies`): "... <name>. <TYPE> IN <RCODE>
  // <seconds> <cached> <size>", the size in bytes. A size above unbound's
  // max-udp-size (1232) shows the reply went over TCP.
  bool log_replies = false;
  // How long Start and Reload wait for unbound to answer.
  absl::Duration ready_timeout = absl::Seconds(10);
  std::string unbound_path = "/usr/sbin/unbound";
};

class UnboundServer {
 public:
  // Writes `dir`/unbound.conf (creating `dir`, which should be under
  // $TEST_TMPDIR), starts unbound in the foreground on a free port, and returns
  // once it answers. The log is `dir`/unbound.log (log-queries is on). Unbound
  // gets SIGKILL if the thread that started it exits (PR_SET_PDEATHSIG), so a
  // crashed test leaves no unbound behind.
  static absl::StatusOr<std::unique_ptr<UnboundServer>> Start(absl::string_view dir,
                                                              std::vector<DnsRecord> records,
                                                              UnboundOptions options = {});

  UnboundServer(const UnboundServer&) = delete;
  UnboundServer& operator=(const UnboundServer&) = delete;
  // Stops unbound (SIGTERM, then SIGKILL after 5 s) and reaps it.
  ~UnboundServer();

  // "127.0.0.1:PORT", as c-ares' server lists want it.
  std::string address() const;
  uint16_t port() const { return port_; }
  std::string log_path() const;
  // The log so far ("" if unreadable).
  std::string ReadLog() const;
  // How many queries for `name` (any case, dot optional) of `type` ("MX") the
  // log shows (log-queries lines, not replies).
  int CountQueries(absl::string_view name, absl::string_view type) const;

  // Replaces every record (zones derived again unless given in the options),
  // reloads unbound with SIGHUP and returns once the new data is being served.
  absl::Status Reload(std::vector<DnsRecord> records);
  // The same, replacing the options too (auth zones, SERVFAIL zones...).
  // unbound_path is not used again.
  absl::Status Reload(std::vector<DnsRecord> records, UnboundOptions options);

 private:
  UnboundServer(std::string dir, UnboundOptions options)
      : dir_(std::move(dir)), options_(std::move(options)) {}

  absl::Status WriteConfig(const std::vector<DnsRecord>& records);
  // Writes the zone file of `zone` and returns its path.
  absl::StatusOr<std::string> WriteZoneFile(const AuthZone& zone);
  absl::Status Spawn();
  // Polls the generation record until it reads generation_, or fails with the
  // log's tail.
  absl::Status WaitReady();
  bool ChildExited();
  std::string LogTail() const;
  void Stop();

  std::string dir_;
  UnboundOptions options_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  int generation_ = 0;
};

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_UNBOUND_SERVER_H_
