#include "tests/support/unbound_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace volley::test_support {
namespace {

// The harness's own zone: a TXT record carrying the config generation tells
// Start and Reload when unbound serves the configuration they wrote.
constexpr absl::string_view kHarnessZone = "volley-harness.invalid.";
constexpr absl::string_view kGenerationName = "generation.volley-harness.invalid.";

constexpr int kMaxStartAttempts = 5;

std::string Errno(absl::string_view call) { return absl::StrCat(call, ": ", std::strerror(errno)); }

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Finds a port free for both UDP and TCP on 127.0.0.1. The sockets are closed
// again before unbound binds, so another process may take the port in between;
// Start retries then.
absl::StatusOr<uint16_t> PickFreePort() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    Fd tcp(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (tcp.get() < 0) return absl::InternalError(Errno("socket"));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(tcp.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return absl::InternalError(Errno("bind"));
    }
    socklen_t len = sizeof(addr);
    if (getsockname(tcp.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return absl::InternalError(Errno("getsockname"));
    }
    Fd udp(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (udp.get() < 0) return absl::InternalError(Errno("socket"));
    if (bind(udp.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      return ntohs(addr.sin_port);
    }
  }
  return absl::UnavailableError("no port free for both UDP and TCP on 127.0.0.1");
}

std::string AbsoluteName(absl::string_view name) {
  std::string out = absl::AsciiStrToLower(name);
  if (out.empty() || out.back() != '.') out += '.';
  return out;
}

bool HasBadChar(absl::string_view s, absl::string_view bad) {
  return s.find_first_of(bad) != absl::string_view::npos;
}

// Quotes one unbound.conf value. TXT data contains double quotes, so it goes in
// single quotes.
absl::StatusOr<std::string> QuoteValue(absl::string_view value) {
  if (HasBadChar(value, "\n\r")) return absl::InvalidArgumentError("newline in a record");
  const bool has_double = HasBadChar(value, "\"");
  const bool has_single = HasBadChar(value, "'");
  if (has_double && has_single) {
    return absl::InvalidArgumentError(absl::StrCat("record has both quote characters: ", value));
  }
  const char quote = has_double ? '\'' : '"';
  return absl::StrCat(absl::string_view(&quote, 1), value, absl::string_view(&quote, 1));
}

std::string GenerationToken(int generation) { return absl::StrCat("gen-", generation, "-ready"); }

std::string ReadTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text;
}

// Builds a DNS query (RD set) for `name` (absolute), type TXT, class IN.
std::string BuildTxtQuery(uint16_t id, absl::string_view name) {
  std::string q;
  q.push_back(static_cast<char>(id >> 8));
  q.push_back(static_cast<char>(id & 0xFF));
  q.append("\x01\x00", 2);                          // flags: RD
  q.append("\x00\x01\x00\x00\x00\x00\x00\x00", 8);  // QDCOUNT 1
  for (absl::string_view label : absl::StrSplit(name, '.', absl::SkipEmpty())) {
    q.push_back(static_cast<char>(label.size()));
    q.append(label.data(), label.size());
  }
  q.push_back('\0');
  q.append("\x00\x10\x00\x01", 4);  // TXT, IN
  return q;
}

// Writes `text` to `path` through a temporary file and a rename, so that unbound never
// reads a half-written file.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.close();
    if (!out) return absl::InternalError(absl::StrCat("writing ", tmp, " failed"));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) return absl::InternalError(Errno("rename"));
  return absl::OkStatus();
}

// Zones of kinds other than static: auth, SERVFAIL and drop zones. Each takes precedence
// over the local zones above it (unbound picks the closest enclosing local-zone).
struct SpecialZones {
  std::set<std::string> names;
  std::string local_zones;  // local-zone lines in server:
  std::string clauses;      // stub-zone: and auth-zone: clauses
};

void AddAuthZone(const AuthZone& zone, const std::string& zone_file, SpecialZones* special) {
  const std::string name = AbsoluteName(zone.name);
  special->names.insert(name);
  // Transparent: the query passes the local zones ("." refuses) on to the
  // iterator, which answers from the auth zone.
  absl::StrAppend(&special->local_zones, "  local-zone: \"", name, "\" transparent\n");
  absl::StrAppend(&special->clauses, "auth-zone:\n  name: \"", name, "\"\n  zonefile: \"",
                  zone_file,
                  "\"\n  for-downstream: no\n  for-upstream: yes\n  fallback-enabled: no\n");
}

// Adds the SERVFAIL zones (stub zones pointing at 127.0.0.1, which unbound does not query)
// and the drop zones (deny) of `options`.
absl::Status AddServfailAndDropZones(const UnboundOptions& options, SpecialZones* special) {
  for (const std::string& zone : options.servfail_zones) {
    const std::string name = AbsoluteName(zone);
    if (name == "." || HasBadChar(name, " \t\n\r\"'")) {
      return absl::InvalidArgumentError(absl::StrCat("bad SERVFAIL zone: ", zone));
    }
    special->names.insert(name);
    absl::StrAppend(&special->local_zones, "  local-zone: \"", name, "\" transparent\n");
    absl::StrAppend(&special->clauses, "stub-zone:\n  name: \"", name,
                    "\"\n  stub-addr: 127.0.0.1\n");
  }
  for (const std::string& zone : options.drop_zones) {
    const std::string name = AbsoluteName(zone);
    if (name == "." || HasBadChar(name, " \t\n\r\"'")) {
      return absl::InvalidArgumentError(absl::StrCat("bad drop zone: ", zone));
    }
    special->names.insert(name);
    absl::StrAppend(&special->local_zones, "  local-zone: \"", name, "\" deny\n");
  }
  return absl::OkStatus();
}

// The records as local-data lines, and the static zones that hold them.
struct LocalData {
  std::set<std::string> zones;
  std::string lines;
};

// Validates and quotes `records`. The zones are `zones` when given, else the last label of
// each record's name.
absl::StatusOr<LocalData> CollectLocalData(const std::vector<DnsRecord>& records,
                                           const std::vector<std::string>& zones) {
  LocalData local;
  for (const std::string& zone : zones) local.zones.insert(AbsoluteName(zone));
  for (const DnsRecord& r : records) {
    const std::string name = AbsoluteName(r.name);
    if (name == "." || HasBadChar(r.name, " \t\n\r\"'") || r.type.empty() ||
        HasBadChar(r.type, " \t\n\r\"'") || r.ttl < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad record: ", r.name, " ", r.ttl, " ", r.type, " ", r.data));
    }
    if (zones.empty()) {
      // The last label: "mx.example.test." lives in the zone "test.".
      absl::string_view trimmed = absl::StripSuffix(name, ".");
      const size_t dot = trimmed.rfind('.');
      local.zones.insert(
          absl::StrCat(dot == absl::string_view::npos ? trimmed : trimmed.substr(dot + 1), "."));
    }
    absl::StatusOr<std::string> quoted =
        QuoteValue(absl::StrCat(name, " ", r.ttl, " IN ", r.type, " ", r.data));
    if (!quoted.ok()) return quoted.status();
    absl::StrAppend(&local.lines, "  local-data: ", *quoted, "\n");
  }
  return local;
}

// The server: clause's fixed settings, up to the refusing root zone.
std::string ServerSettings(int generation, uint16_t port, const std::string& dir,
                           const std::string& log_path) {
  return absl::StrCat("# Written by tests/support/unbound_server.cc; generation ", generation,
                      ".\n", "server:\n", "  interface: 127.0.0.1\n", "  port: ", port, "\n",
                      "  do-ip4: yes\n", "  do-ip6: no\n", "  do-udp: yes\n", "  do-tcp: yes\n",
                      "  do-daemonize: no\n", "  chroot: \"\"\n", "  username: \"\"\n",
                      "  directory: \"", dir, "\"\n", "  pidfile: \"", dir, "/unbound.pid\"\n",
                      "  logfile: \"", log_path, "\"\n", "  use-syslog: no\n", "  verbosity: 1\n",
                      "  log-queries: yes\n", "  access-control: 127.0.0.0/8 allow\n",
                      // No validator and no trust anchor: nothing to fetch from the root.
                      "  module-config: \"iterator\"\n",
                      // Without SO_REUSEPORT a port clash fails the bind instead of sharing the
                      // port with another test's unbound.
                      "  so-reuseport: no\n", "  num-threads: 1\n", "  outgoing-range: 32\n",
                      "  num-queries-per-thread: 16\n",
                      // Everything outside the test zones is refused locally: unbound never
                      // recurses.
                      "  local-zone: \".\" refuse\n");
}

}  // namespace

absl::StatusOr<std::unique_ptr<UnboundServer>> UnboundServer::Start(absl::string_view dir,
                                                                    std::vector<DnsRecord> records,
                                                                    UnboundOptions options) {
  if (access(options.unbound_path.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(options.unbound_path,
                     " is missing or not executable: install the Debian package `unbound` "
                     "(tools/setup.sh)"));
  }
  std::error_code ec;
  std::filesystem::create_directories(std::string(dir), ec);
  if (ec) return absl::InternalError(absl::StrCat("create_directories ", dir, ": ", ec.message()));

  std::unique_ptr<UnboundServer> server(new UnboundServer(std::string(dir), std::move(options)));
  absl::Status last;
  for (int attempt = 0; attempt < kMaxStartAttempts; ++attempt) {
    absl::StatusOr<uint16_t> port = PickFreePort();
    if (!port.ok()) return port.status();
    server->port_ = *port;
    server->generation_ = 1;
    // Fresh logs, so that the error below shows this attempt only.
    std::filesystem::remove(server->log_path(), ec);
    std::filesystem::remove(server->dir_ + "/unbound.out", ec);
    if (absl::Status s = server->WriteConfig(records); !s.ok()) return s;
    if (absl::Status s = server->Spawn(); !s.ok()) return s;
    last = server->WaitReady();
    if (last.ok()) return server;
    const bool exited = server->ChildExited();
    server->Stop();
    // Someone took the port between PickFreePort and unbound's bind: try
    // another one.
    if (!exited || !absl::StrContains(last.message(), "ddress already in use")) break;
  }
  return last;
}

UnboundServer::~UnboundServer() { Stop(); }

std::string UnboundServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

std::string UnboundServer::log_path() const { return dir_ + "/unbound.log"; }

std::string UnboundServer::ReadLog() const {
  std::ifstream in(log_path(), std::ios::binary);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int UnboundServer::CountQueries(absl::string_view name, absl::string_view type) const {
  // log-queries lines end with "<name>. <TYPE> IN"; log-replies lines go on
  // with the rcode.
  const std::string suffix = absl::StrCat(" ", AbsoluteName(name), " ", type, " IN");
  int count = 0;
  for (absl::string_view line : absl::StrSplit(ReadLog(), '\n')) {
    if (absl::EndsWithIgnoreCase(line, suffix)) ++count;
  }
  return count;
}

absl::Status UnboundServer::Reload(std::vector<DnsRecord> records, UnboundOptions options) {
  options_ = std::move(options);
  return Reload(std::move(records));
}

absl::Status UnboundServer::Reload(std::vector<DnsRecord> records) {
  if (pid_ < 0 || ChildExited()) {
    return absl::FailedPreconditionError(
        absl::StrCat("unbound is not running; log tail:\n", LogTail()));
  }
  ++generation_;
  if (absl::Status s = WriteConfig(records); !s.ok()) return s;
  if (kill(pid_, SIGHUP) != 0) return absl::InternalError(Errno("kill(SIGHUP)"));
  return WaitReady();
}

absl::StatusOr<std::string> UnboundServer::WriteZoneFile(const AuthZone& zone) {
  const std::string origin = AbsoluteName(zone.name);
  if (origin == "." || HasBadChar(origin, " \t\n\r\"'/")) {
    return absl::InvalidArgumentError(absl::StrCat("bad auth zone name: ", zone.name));
  }
  bool has_soa = false;
  bool has_ns = false;
  std::string text =
      absl::StrCat("; Written by tests/support/unbound_server.cc; generation ", generation_, ".\n");
  for (const DnsRecord& r : zone.records) {
    const std::string name = AbsoluteName(r.name);
    if (HasBadChar(r.name, " \t\n\r\"'") || r.type.empty() || HasBadChar(r.type, " \t\n\r\"'") ||
        HasBadChar(r.data, "\n\r") || r.ttl < 0 ||
        (name != origin && !absl::EndsWith(name, absl::StrCat(".", origin)))) {
      return absl::InvalidArgumentError(absl::StrCat("bad record for auth zone ", origin, ": ",
                                                     r.name, " ", r.ttl, " ", r.type, " ", r.data));
    }
    const std::string type = absl::AsciiStrToUpper(r.type);
    has_soa |= type == "SOA" && name == origin;
    has_ns |= type == "NS" && name == origin;
    absl::StrAppend(&text, name, " ", r.ttl, " IN ", r.type, " ", r.data, "\n");
  }
  if (!has_soa) {
    absl::StrAppend(&text, origin, " ", zone.soa_ttl, " IN SOA ns.", origin, " hostmaster.", origin,
                    " 1 3600 600 86400 ", zone.negative_ttl, "\n");
  }
  if (!has_ns) absl::StrAppend(&text, origin, " ", zone.soa_ttl, " IN NS ns.", origin, "\n");

  const std::string path = absl::StrCat(dir_, "/", origin, "zone");
  if (absl::Status s = WriteFileAtomically(path, text); !s.ok()) return s;
  return path;
}

absl::Status UnboundServer::WriteConfig(const std::vector<DnsRecord>& records) {
  SpecialZones special;
  for (const AuthZone& zone : options_.auth_zones) {
    absl::StatusOr<std::string> path = WriteZoneFile(zone);
    if (!path.ok()) return path.status();
    AddAuthZone(zone, *path, &special);
  }
  if (absl::Status s = AddServfailAndDropZones(options_, &special); !s.ok()) return s;
  absl::StatusOr<LocalData> local = CollectLocalData(records, options_.zones);
  if (!local.ok()) return local.status();

  std::string conf = ServerSettings(generation_, port_, dir_, log_path());
  if (options_.log_replies) absl::StrAppend(&conf, "  log-replies: yes\n");
  // SERVFAIL zones rely on it (it is unbound's default).
  absl::StrAppend(&conf, "  do-not-query-localhost: yes\n");
  for (const std::string& zone : local->zones) {
    // A zone of another kind with the same name replaces the static one.
    if (special.names.count(zone) != 0) continue;
    absl::StrAppend(&conf, "  local-zone: \"", zone, "\" static\n");
  }
  absl::StrAppend(&conf, special.local_zones);
  absl::StrAppend(&conf, "  local-zone: \"", kHarnessZone, "\" static\n", "  local-data: '",
                  kGenerationName, " 0 IN TXT \"", GenerationToken(generation_), "\"'\n",
                  local->lines, special.clauses, "remote-control:\n  control-enable: no\n");
  return WriteFileAtomically(dir_ + "/unbound.conf", conf);
}

absl::Status UnboundServer::Spawn() {
  const std::string conf = dir_ + "/unbound.conf";
  const std::string out_path = dir_ + "/unbound.out";
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  Fd out(open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (out.get() < 0) return absl::InternalError(Errno(absl::StrCat("open ", out_path)));
  Fd null_in(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (null_in.get() < 0) return absl::InternalError(Errno("open /dev/null"));
  std::string arg0 = "unbound", arg1 = "-c", arg2 = conf;
  char* argv[] = {arg0.data(), arg1.data(), arg2.data(), nullptr};
  const pid_t parent = getpid();

  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(Errno("fork"));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);  // the parent already died
    dup2(null_in.get(), STDIN_FILENO);
    dup2(out.get(), STDOUT_FILENO);
    dup2(out.get(), STDERR_FILENO);
    // Keep the test's sockets out of unbound (close_range: Linux 5.9; harmless
    // if missing).
    syscall(SYS_close_range, 3u, ~0u, 0u);
    execv(options_.unbound_path.c_str(), argv);
    _exit(127);
  }
  pid_ = pid;
  return absl::OkStatus();
}

absl::Status UnboundServer::WaitReady() {
  const absl::Time deadline = absl::Now() + options_.ready_timeout;
  const std::string token = GenerationToken(generation_);
  Fd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return absl::InternalError(Errno("socket"));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port_);
  if (connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::InternalError(Errno("connect"));
  }
  absl::BitGen gen;
  // Every id sent so far: a late answer to an earlier query counts as well, so that one slow
  // reply does not leave this loop reading one answer behind its queries for good.
  absl::flat_hash_set<uint16_t> sent;
  while (absl::Now() < deadline) {
    if (ChildExited()) {
      return absl::UnavailableError(
          absl::StrCat("unbound exited before answering; log tail:\n", LogTail()));
    }
    const uint16_t id = absl::Uniform<uint16_t>(gen);
    sent.insert(id);
    const std::string query = BuildTxtQuery(id, kGenerationName);
    // Errors (ECONNREFUSED while unbound is not bound yet) just mean "not
    // ready".
    if (send(sock.get(), query.data(), query.size(), 0) < 0 && errno != ECONNREFUSED) {
      return absl::InternalError(Errno("send"));
    }
    pollfd pfd{sock.get(), POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0) continue;
    // Read every answer that is there.
    char buf[1500];
    ssize_t n;
    while ((n = recv(sock.get(), buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
      if (n < 12) continue;
      const absl::string_view answer(buf, static_cast<size_t>(n));
      const uint16_t got_id =
          static_cast<uint16_t>((static_cast<uint8_t>(buf[0]) << 8) | static_cast<uint8_t>(buf[1]));
      const bool is_response = (static_cast<uint8_t>(buf[2]) & 0x80) != 0;
      const int rcode = static_cast<uint8_t>(buf[3]) & 0x0F;
      // The token names this generation, so an answer from before a reload never matches.
      if (sent.contains(got_id) && is_response && rcode == 0 && absl::StrContains(answer, token)) {
        return absl::OkStatus();
      }
    }
  }
  return absl::DeadlineExceededError(
      absl::StrCat("unbound on ", address(), " did not serve generation ", generation_, " within ",
                   absl::FormatDuration(options_.ready_timeout), "; log tail:\n", LogTail()));
}

bool UnboundServer::ChildExited() {
  if (pid_ < 0) return true;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    pid_ = -1;
    return true;
  }
  return false;
}

std::string UnboundServer::LogTail() const {
  return absl::StrCat("--- ", dir_, "/unbound.out:\n", ReadTail(dir_ + "/unbound.out", 2000),
                      "--- ", log_path(), ":\n", ReadTail(log_path(), 4000));
}

void UnboundServer::Stop() {
  if (pid_ < 0) return;
  kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline) {
    if (ChildExited()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

}  // namespace volley::test_support
