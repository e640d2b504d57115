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
// The harness itself asks unbound for "generation.volley-harness.invalid. TXT"
// to know when a (re)load is live; tests that count queries in the log should
// skip that name.
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

struct UnboundOptions {
  // Static local zones ("example.test" or "example.test."). Empty: derived from
  // the records.
  std::vector<std::string> zones;
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

  // Replaces every record (zones derived again unless given in the options),
  // reloads unbound with SIGHUP and returns once the new data is being served.
  absl::Status Reload(std::vector<DnsRecord> records);

 private:
  UnboundServer(std::string dir, UnboundOptions options)
      : dir_(std::move(dir)), options_(std::move(options)) {}

  absl::Status WriteConfig(const std::vector<DnsRecord>& records);
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
