// The plain structs Volley's configuration is parsed into (docs/configuration.md). Include
// config.h, which includes this header and declares the parser's entry points. The structs
// have a target of their own because the section parsers fill them in and ParseConfig calls the
// section parsers: the structs sit below both.
#ifndef VOLLEY_ENGINE_CONFIG_CONFIG_TYPES_H_
#define VOLLEY_ENGINE_CONFIG_CONFIG_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/config/values.h"
#include "engine/message/message_tags.h"

namespace volley::config {

struct ServerConfig {
  std::string hostname = "volley.localdomain";
  int threads = 0;  // 0: one per core
  std::string spool = "volley-spool";
  std::string log = "volley-log/delivery.jsonl";  // "" turns the delivery log off
  // Below this many free bytes on the spool's file system injection answers 452 4.3.1;
  // 0 turns the check off (spool write errors still answer 452).
  uint64_t spool_min_free = 1ull << 30;
};

struct SmtpInjectConfig {
  std::vector<HostPort> listen = {{"127.0.0.1", 2525}};
  std::vector<Cidr> relay_networks;  // default: 127.0.0.0/8 and ::1/128 (set by the parser)
  uint64_t max_message_size = 25ull * 1024 * 1024;
  int max_recipients = 1000;
  int max_connections = 1000;
  // The header fields that set a message's tenant, campaign and priority (removed from the
  // message before it is stored), and the values of a message without them.
  std::string tenant_header = "X-Volley-Tenant";
  std::string campaign_header = "X-Volley-Campaign";
  std::string priority_header = "X-Volley-Priority";
  std::string default_tenant;    // "" = none
  std::string default_campaign;  // "" = none
  uint8_t default_priority = message::kPriorityNormal;
};

struct HttpConfig {
  HostPort listen = {"127.0.0.1", 8025};
};

enum class IpLookupStrategy { kIpv4ThenIpv6, kIpv6ThenIpv4, kIpv4Only, kIpv6Only };

struct DnsConfig {
  std::vector<HostPort> servers;  // empty: /etc/resolv.conf
  absl::Duration timeout = absl::Seconds(5);
  IpLookupStrategy ip_lookup_strategy = IpLookupStrategy::kIpv4ThenIpv6;
  // Cached answers live for their TTL, clamped to [min_ttl, max_ttl].
  absl::Duration min_ttl = absl::Seconds(30);
  absl::Duration max_ttl = absl::Hours(24);
  // When the resolver fails, an expired answer is used for up to this long past its expiry.
  absl::Duration serve_stale = absl::Hours(1);
  int cache_size = 100000;  // entries per shard
};

struct DeliveryConfig {
  uint16_t port = 25;
  absl::Duration retry_initial = absl::Minutes(5);
  absl::Duration retry_max = absl::Hours(1);
  absl::Duration max_age = absl::Hours(24 * 5);
};

// How the delivery client uses TLS with a destination.
enum class TlsPolicy {
  kDisabled,        // never STARTTLS
  kOpportunistic,   // STARTTLS when offered, certificate not verified (RFC 7435); a failed
                    // handshake: reconnect once without TLS, and remember that for the host
  kRequired,        // STARTTLS or a transient failure (next host)
  kRequiredVerify,  // also verify the chain (tls_ca_file or the system bundle) and host name
  kImplicit,        // [routes] only: TLS from the first byte (port 465, RFC 8314)
};
absl::string_view TlsPolicyName(TlsPolicy policy);

// The delivery client's timeouts per phase (RFC 5321 4.5.3.2), from [shaping] tables.
struct SmtpTimeouts {
  absl::Duration connect = absl::Seconds(60);   // TCP connect, per address tried
  absl::Duration banner = absl::Minutes(5);     // the 220 greeting (4.5.3.2.1)
  absl::Duration ehlo = absl::Minutes(5);       // EHLO/HELO, STARTTLS and its handshake, AUTH
  absl::Duration mail_from = absl::Minutes(5);  // the MAIL FROM reply (4.5.3.2.2)
  absl::Duration rcpt_to = absl::Minutes(5);    // each RCPT TO reply (4.5.3.2.3)
  absl::Duration data = absl::Minutes(2);       // DATA's 354 (4.5.3.2.4)
  absl::Duration data_dot = absl::Minutes(10);  // the end of the data or BDAT LAST (4.5.3.2.6)
  absl::Duration idle = absl::Seconds(60);      // an idle connection waits this long, then QUITs
};

// Limits and behaviour for a destination: [shaping.default], overridden key by key by
// [shaping."domain"].
struct ShapingConfig {
  int connection_limit = 10;
  int max_deliveries_per_connection = 100;
  int max_recipients_per_batch = 100;  // RCPTs in one transaction
  // Read from the keys connect_timeout, banner_timeout, ... idle_timeout.
  SmtpTimeouts timeouts;
  TlsPolicy tls = TlsPolicy::kOpportunistic;
  // Trust anchors (PEM bundle) for required_verify; "" = the system bundle.
  std::string tls_ca_file;
  std::string egress_pool = "default";
};

// A local address deliveries may leave from, and the name it says in EHLO.
struct EgressSource {
  std::string name;     // for log records; defaults to the address
  std::string address;  // numeric IP to bind; "0.0.0.0" or "::" = let the kernel choose
  std::string ehlo;     // "" = [server] hostname
};

struct EgressPool {
  std::string name;
  std::vector<EgressSource> sources;  // used round-robin, one per new connection
};

struct Route {
  HostPort host;  // the smarthost; port defaults to [delivery] port when not written
  // TLS for this route; unset: the destination's shaping `tls`.
  std::optional<TlsPolicy> tls;
  std::string auth_user;  // AUTH PLAIN or LOGIN (RFC 4954) when set
  std::string auth_password;
  // AUTH is refused over a connection without TLS unless this is set.
  bool allow_auth_without_tls = false;
};

struct Config {
  ServerConfig server;
  SmtpInjectConfig inject_smtp;
  HttpConfig http;
  DnsConfig dns;
  DeliveryConfig delivery;
  ShapingConfig shaping_default;
  // Recipient domain (lower-cased) -> the complete shaping for it (default plus overrides).
  absl::flat_hash_map<std::string, ShapingConfig> shaping_domains;
  // Pool name -> pool. Always has "default" (one source: any address).
  absl::flat_hash_map<std::string, EgressPool> egress_pools;
  // Recipient domain (lower-cased) -> smarthost.
  absl::flat_hash_map<std::string, Route> routes;

  // The shaping that applies to a recipient domain (lower-case).
  const ShapingConfig& ShapingFor(absl::string_view domain) const;

  // The config with every default filled in (what `volleyd` runs on without --config).
  static Config Defaults();
};

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_CONFIG_TYPES_H_
