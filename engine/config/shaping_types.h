// The resolved shaping of a destination (ShapingConfig) and the types in it. The tables it is
// resolved from are in shaping_rules.h.
#ifndef VOLLEY_ENGINE_CONFIG_SHAPING_TYPES_H_
#define VOLLEY_ENGINE_CONFIG_SHAPING_TYPES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/config/rate.h"

namespace volley::config {

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

// A budget that several sites (and shards) draw from: a provider's limits, and the named
// additional_connection_limits and additional_message_rate_throttles.
struct SharedLimitSpec {
  enum class Kind { kConnections, kMessageRate, kConnectionRate };
  Kind kind = Kind::kConnections;
  std::string name;     // "provider:google connection_limit", "additional:pool-a connections"
  int connections = 0;  // kConnections
  Rate rate;            // the rates
  friend bool operator==(const SharedLimitSpec&, const SharedLimitSpec&) = default;
};

// Limits and behaviour for delivering to a site from one egress source: [shaping.default]
// with the tables that apply merged over it key by key (ShapingRules::Resolve).
struct ShapingConfig {
  int connection_limit = 10;
  int max_deliveries_per_connection = 100;
  int max_recipients_per_batch = 100;  // RCPTs in one transaction
  // Messages (transactions) sent and connections opened per period; nullopt: no limit.
  std::optional<Rate> max_message_rate = Rate{100, absl::Seconds(1), 100};
  std::optional<Rate> max_connection_rate = Rate{100, absl::Minutes(1), 100};
  // Read from the keys connect_timeout, banner_timeout, ... idle_timeout.
  SmtpTimeouts timeouts;
  TlsPolicy tls = TlsPolicy::kOpportunistic;
  // Trust anchors (PEM bundle) for required_verify; "" = the system bundle.
  std::string tls_ca_file;
  std::string egress_pool = "default";
  // Closed-loop control per egress path (adaptive/aimd.h): the connection concurrency (and the
  // message rate with it) moves between adaptive_min_connections and connection_limit; a
  // congestion signal multiplies it by adaptive_decrease_factor.
  bool adaptive = true;
  int adaptive_min_connections = 1;
  double adaptive_decrease_factor = 0.5;
  // Named budgets shared with every site whose tables name them: name -> limit.
  absl::flat_hash_map<std::string, int> additional_connection_limits;
  absl::flat_hash_map<std::string, Rate> additional_message_rate_throttles;
  // Set by Resolve: the provider whose match took the site ("" for none), and every shared
  // budget the site draws from (the provider's and the named ones), sorted by name.
  std::string provider;
  std::vector<SharedLimitSpec> shared_limits;
};

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_SHAPING_TYPES_H_
