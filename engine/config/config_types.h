// The plain structs Volley's configuration is parsed into (docs/configuration.md). Include
// config.h, which includes this header and declares the parser's entry points. The structs
// have a target of their own because the section parsers fill them in and ParseConfig calls the
// section parsers: the structs sit below both.
#ifndef VOLLEY_ENGINE_CONFIG_CONFIG_TYPES_H_
#define VOLLEY_ENGINE_CONFIG_CONFIG_TYPES_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/bounce/bounce_rules.h"
#include "engine/config/rate.h"
#include "engine/config/shaping_rules.h"
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

// What an SMTP listener does with the mail it takes (docs/configuration.md, [inject.smtp]).
enum class SmtpListenerRole {
  kInject,  // submission: messages are stored and delivered
  kBounce,  // only mail to [bounce] verp_domain: asynchronous DSNs and complaints
};

enum class SmtpListenerTls {
  kNone,
  kStartTls,  // STARTTLS offered (RFC 3207)
  kImplicit,  // TLS from the first byte (port 465, RFC 8314)
};

enum class SmtpListenerAuth {
  kNone,      // AUTH not offered; relay by relay_networks
  kOptional,  // AUTH offered; relay by AUTH or by relay_networks
  kRequired,  // MAIL before AUTH gets 530 5.7.0, whatever the client's address
};

// One SMTP listener: the [inject.smtp] table's keys are the defaults of every
// [[inject.smtp.listener]] table, which may set each again.
struct SmtpListenerConfig {
  // Names the listener in metrics and records ("smtp" for the [inject.smtp] table's own, else
  // `name` or "smtp-<first address>").
  std::string name = "smtp";
  std::vector<HostPort> listen = {{"127.0.0.1", 2525}};
  SmtpListenerRole role = SmtpListenerRole::kInject;
  // Resolved by the parser: when not written, "starttls" if tls_cert is set, else "none".
  SmtpListenerTls tls = SmtpListenerTls::kNone;
  bool require_tls = false;  // with starttls: MAIL and AUTH before STARTTLS get 530 5.7.0
  // Resolved by the parser: when not written, "optional" if auth_file is set, else "none".
  SmtpListenerAuth auth = SmtpListenerAuth::kNone;
  bool allow_auth_without_tls = false;  // AUTH is offered only under TLS unless this is set
  std::string auth_file;                // user:crypt-hash lines (inject/auth_file.h)
  std::string tls_cert;                 // PEM chain; both or neither, reloaded on SIGHUP
  std::string tls_key;
  std::vector<Cidr> relay_networks;  // default: 127.0.0.0/8 and ::1/128 (set by the parser)
  uint64_t max_message_size = 25ull * 1024 * 1024;
  int max_recipients = 1000;
  int max_connections = 1000;
  // Per client IP (0 or "": no limit): connections at once, and new connections per period
  // (421 4.7.0). Clients in relay_networks are exempt, as Postfix exempts $mynetworks
  // (smtpd_client_event_limit_exceptions): they are the platform's own servers.
  int max_connections_per_ip = 50;
  std::optional<Rate> max_connection_rate_per_ip;
  // Messages per period of one authenticated user (451 4.7.1 at MAIL); nullopt: no limit.
  std::optional<Rate> max_message_rate_per_user;
  // Slow clients: each command line must arrive within command_timeout of the server waiting
  // for it; a DATA or BDAT transfer may last command_timeout plus one second per min_data_rate
  // bytes received; a session ends (421 4.4.2 at its next command) after session_timeout.
  absl::Duration command_timeout = absl::Minutes(5);  // RFC 5321 4.5.3.2.7
  uint64_t min_data_rate = 1024;                      // bytes per second
  absl::Duration session_timeout = absl::Hours(1);
  // The header fields that set a message's tenant, campaign and priority (removed from the
  // message before it is stored), and the values of a message without them.
  std::string tenant_header = "X-Volley-Tenant";
  std::string campaign_header = "X-Volley-Campaign";
  std::string priority_header = "X-Volley-Priority";
  std::string default_tenant;    // "" = none
  std::string default_campaign;  // "" = none
  uint8_t default_priority = message::kPriorityNormal;
};

// [inject]: limits shared by every injection listener.
struct InjectConfig {
  // Message content held in memory by sessions (received, not yet stored) across the process;
  // beyond it new transactions get 452 4.3.1.
  uint64_t max_memory = 1ull << 30;
  // Backpressure: messages handed to the spool writer and not yet synced, and recipients
  // queued for delivery. From 80% of either bound the replies to the end of data are held (up
  // to a second); at the bound new transactions get 421 4.3.2.
  int64_t max_spool_backlog = 20000;
  int64_t max_queued_recipients = 50000000;
};

struct HttpConfig {
  HostPort listen = {"127.0.0.1", 8025};
  // The volley_site_* series (and those by tenant and campaign) cover this many of the busiest
  // sites (tenant x campaign pairs); the rest are summed as site="other" (tenant="other").
  int site_metrics_limit = 100;
  // POST /api/inject/v1 (engine/inject/http_injection.h): "" lets any client that reaches the
  // listener inject; set, a request needs "Authorization: Bearer <inject_token>".
  std::string inject_token;
  // /api/admin/* (and the injection API) need "Authorization: Bearer <admin_token>" when set.
  // A listen address off loopback needs it set (checked across sections).
  std::string admin_token;
  // A request body beyond this is answered 413 before it is read.
  uint64_t max_request_size = 64ull << 20;
  // One injection request: its recipients, and the size of each message it builds.
  int inject_max_recipients = 100000;
  uint64_t inject_max_message_size = 25ull << 20;
};

// [unsubscribe]: RFC 8058 one-click unsubscribe (engine/bounce/list_unsubscribe.h). Bulk
// messages (with a campaign, or of bulk priority or lower) of a tenant it is on for get
// List-Unsubscribe and List-Unsubscribe-Post; POST <path>/TOKEN on the HTTP listener suppresses
// the recipient for the tenant.
struct UnsubscribeConfig {
  std::string url;   // "https://mta.example.net/u"; "" = off
  std::string path;  // the url's path, where the HTTP listener answers ("/u")
  // The token's HMAC key: `secret`, or ("") one Volley makes and keeps in its spool.
  std::string secret;
  absl::Duration expire_after = absl::Hours(24 * 90);  // how long a link works
  bool enabled = true;  // for tenants without [unsubscribe.tenant."NAME"]
  absl::flat_hash_map<std::string, bool> tenants;

  bool on() const { return !url.empty(); }
  bool EnabledFor(absl::string_view tenant) const {
    auto it = tenants.find(tenant);
    return on() && (it == tenants.end() ? enabled : it->second);
  }
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
  // Delivery status notifications (RFC 3464) to the envelope sender: on bounce and expiry, on
  // delay once per recipient after `delay_dsn_after` (zero: never), and "relayed" for
  // NOTIFY=SUCCESS when the next hop does not offer DSN (engine/delivery/delivery_notices.h).
  bool dsn = true;
  absl::Duration delay_dsn_after = absl::Hours(4);
};

// A local address deliveries may leave from, and the name it says in EHLO.
struct EgressSource {
  std::string name;     // for log records; defaults to the address
  std::string address;  // numeric IP to bind; "0.0.0.0" or "::" = let the kernel choose
  std::string ehlo;     // "" = [server] hostname
  // The [warmup."NAME"] schedule this source is warming up on (adaptive/warmup_ledger.h); ""
  // for a warm source, which no warm-up cap holds back.
  std::string warmup;
};

// [warmup."NAME"]: an IP warm-up schedule. Per day of warm-up (day 1 first), the most messages a
// warming source sends to one provider (a [shaping.provider] name, or the site itself) in a UTC
// day and in a UTC hour. Past the last day the source is warm for that provider.
struct WarmupSchedule {
  std::string name;
  std::vector<int64_t> daily;
  std::vector<int64_t> hourly;  // same length as `daily`
  // A day of sending is judged at its end by its deferral rate (4xx replies among the messages
  // tried): below hold_above the next day's caps apply, from hold_above the day repeats, from
  // step_back_above it goes back one day.
  double hold_above = 0.05;
  double step_back_above = 0.20;

  // The schedule volleyd ships as "standard", which a [warmup.standard] table replaces.
  static WarmupSchedule Standard();
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

// [bounce]: what Volley makes of failures. (verp_domain is not supported yet: the parser
// refuses it.)
struct BounceConfig {
  std::string rules_path;  // `rules`: an operator's rules file, "" for none
  // The shipped classification rules with `rules_path`'s on top (never null).
  std::shared_ptr<const bounce::BounceRules> rules;
  // A hard bounce of these classes puts its recipient on the suppression list, for every
  // tenant, for `suppress_for` (infinite: until removed).
  std::vector<bounce::BounceClass> suppress_classes = {bounce::BounceClass::kInvalidRecipient,
                                                       bounce::BounceClass::kBadDomain,
                                                       bounce::BounceClass::kInactiveMailbox};
  absl::Duration suppress_for = absl::InfiniteDuration();
  // VERP (engine/bounce/verp.h): return paths at this domain, and mail to it taken in as
  // reports; "" for off. The signing key: `verp_secret`, or ("") one Volley makes and keeps in
  // its spool.
  std::string verp_domain;
  std::string verp_secret;
};

// [[webhook]]: delivery events POSTed to a platform (engine/webhook/webhook_sender.h).
struct WebhookConfig {
  std::string name;  // `name`, else the url: the key of its queue in the spool
  std::string url;   // http:// only
  // The record types sent ("Delivery", "Bounce", ...).
  std::vector<std::string> events = {"Delivery",   "TransientFailure", "Bounce",
                                     "Expiration", "Suppressed",       "OOB",
                                     "Feedback",   "Unsubscribe"};
  int batch_size = 100;
  absl::Duration max_batch_delay = absl::Seconds(1);
  std::string hmac_secret;  // "" for unsigned requests
  absl::Duration timeout = absl::Seconds(10);
};

struct Config {
  ServerConfig server;
  InjectConfig inject;
  // [inject.smtp] as written: the defaults of every listener, and the one listener when there
  // are no [[inject.smtp.listener]] tables.
  SmtpListenerConfig inject_smtp;
  // The listeners volleyd opens (resolved by the parser; Defaults(): {inject_smtp}).
  std::vector<SmtpListenerConfig> smtp_listeners;
  HttpConfig http;
  DnsConfig dns;
  DeliveryConfig delivery;
  BounceConfig bounce;
  std::vector<WebhookConfig> webhooks;
  UnsubscribeConfig unsubscribe;
  // [shaping]: the default and the tables that override it (shaping_rules.h).
  ShapingRules shaping;
  // Pool name -> pool. Always has "default" (one source: any address).
  absl::flat_hash_map<std::string, EgressPool> egress_pools;
  // Schedule name -> IP warm-up schedule. Always has "standard".
  absl::flat_hash_map<std::string, WarmupSchedule> warmup_schedules;
  // Recipient domain (lower-cased) -> smarthost.
  absl::flat_hash_map<std::string, Route> routes;
  // Each top-level table of the file as toml++ prints it back (a canonical form: comments,
  // spacing and key order do not count), so that a reload can tell which tables changed. Empty
  // for the embedded defaults.
  absl::flat_hash_map<std::string, std::string> tables;

  // The config with every default filled in (what `volleyd` runs on without --config).
  static Config Defaults();
};

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_CONFIG_TYPES_H_
