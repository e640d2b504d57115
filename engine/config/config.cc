// Volley's configuration parser.
//
// toml++ is compiled here with TOML_EXCEPTIONS=0 (see BUILD.bazel), so a syntax error comes back
// as a toml::parse_result instead of a thrown toml::parse_error: nothing can throw out of this
// module. Only this file includes toml++, so no other target depends on that setting.
//
// The parser walks the parsed document once and records every problem it finds instead of
// stopping at the first, so an operator fixes a file in one round instead of one per error.
#include "engine/config/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/bytes.h"
#include "engine/base/net_address.h"
#include "engine/config/values.h"

namespace volley::config {
namespace {

constexpr absl::string_view kNotSupported = "not supported yet by this version";

absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string QuoteKey(std::string_view key) {
  const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
  if (bare) return std::string(key);
  std::string quoted = "\"";
  for (char c : key) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

absl::string_view TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// Walks a parsed document into a Config, collecting every problem with its line.
class Parser {
 public:
  explicit Parser(absl::string_view origin) : origin_(origin) {}

  absl::StatusOr<Config> Parse(absl::string_view text) {
    const std::string origin(origin_);
    toml::parse_result result =
        toml::parse(std::string_view(text.data(), text.size()), std::string_view(origin));
    if (!result) {
      const toml::parse_error& error = result.error();
      AddError(error.source().begin.line,
               absl::StrCat("TOML syntax error at column ", error.source().begin.column, ": ",
                            AsAbsl(error.description())));
      return Finish();
    }
    ParseRoot(result.table());
    ResolveRoutes();
    CrossCheck();
    return Finish();
  }

 private:
  struct Field {
    absl::string_view key;
    std::function<void(const toml::node&)> parse;
  };

  struct Problem {
    uint32_t line;
    std::string message;
  };

  // A route as written; its port is filled in once [delivery] port is known.
  struct PendingRoute {
    std::string domain;
    uint32_t line;
    std::string host;
    std::optional<uint16_t> port;
    std::optional<TlsPolicy> tls;
    std::string auth_user;
    std::string auth_password;
    bool allow_auth_without_tls = false;
  };

  void AddError(uint32_t line, std::string message) {
    problems_.push_back({line, std::move(message)});
  }
  void AddError(const toml::node& at, std::string message) {
    AddError(at.source().begin.line, std::move(message));
  }
  void AddError(const toml::key& at, std::string message) {
    AddError(at.source().begin.line, std::move(message));
  }

  absl::StatusOr<Config> Finish() {
    if (problems_.empty()) return std::move(config_);
    // Tables iterate in key order, not file order; report in file order.
    std::stable_sort(problems_.begin(), problems_.end(),
                     [](const Problem& a, const Problem& b) { return a.line < b.line; });
    std::vector<std::string> lines;
    lines.reserve(problems_.size());
    for (const Problem& p : problems_) {
      if (p.line == 0) {
        lines.push_back(absl::StrCat(origin_, ": ", p.message));
      } else {
        lines.push_back(absl::StrCat(origin_, ":", p.line, ": ", p.message));
      }
    }
    return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
  }

  // Dispatches each key of `table` to its field, and reports keys that are documented but not
  // implemented, and keys nobody knows.
  void Walk(const toml::table& table, absl::string_view table_name,
            std::initializer_list<Field> fields,
            std::initializer_list<absl::string_view> unsupported) {
    for (auto&& [key, value] : table) {
      const absl::string_view name = AsAbsl(key.str());
      const auto field =
          std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.key == name; });
      if (field != fields.end()) {
        field->parse(value);
      } else if (std::find(unsupported.begin(), unsupported.end(), name) != unsupported.end()) {
        AddError(key, absl::StrCat("[", table_name, "] ", name, ": ", kNotSupported));
      } else {
        AddError(key, absl::StrCat("unknown key '", name, "' in [", table_name, "]"));
      }
    }
  }

  const toml::table* ExpectTable(const toml::node& node, absl::string_view what) {
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      AddError(node, absl::StrCat(what, ": expected a table, got ", TypeName(node)));
    }
    return table;
  }

  std::optional<std::string> ReadString(const toml::node& node, absl::string_view what) {
    if (const auto* s = node.as_string()) return s->get();
    AddError(node, absl::StrCat(what, ": expected a string, got ", TypeName(node)));
    return std::nullopt;
  }

  // A size: an integer number of bytes or a string like "25MiB".
  std::optional<uint64_t> ReadSize(const toml::node& node, absl::string_view what,
                                   bool allow_zero) {
    std::optional<uint64_t> size;
    if (const auto* integer = node.as_integer()) {
      if (integer->get() < 0) {
        AddError(node, absl::StrCat(what, ": must not be negative"));
        return std::nullopt;
      }
      size = static_cast<uint64_t>(integer->get());
    } else if (const auto* s = node.as_string()) {
      absl::StatusOr<uint64_t> parsed = ParseSizeValue(s->get());
      if (!parsed.ok()) {
        AddError(node, absl::StrCat(what, ": ", parsed.status().message()));
        return std::nullopt;
      }
      size = *parsed;
    } else {
      AddError(node, absl::StrCat(what,
                                  ": expected a size (an integer number of bytes or a string "
                                  "like \"25MiB\"), got ",
                                  TypeName(node)));
      return std::nullopt;
    }
    if (*size == 0 && !allow_zero) {
      AddError(node, absl::StrCat(what, ": must be larger than zero"));
      return std::nullopt;
    }
    return size;
  }

  std::optional<int64_t> ReadInteger(const toml::node& node, absl::string_view what, int64_t min,
                                     int64_t max) {
    const auto* integer = node.as_integer();
    if (integer == nullptr) {
      AddError(node, absl::StrCat(what, ": expected an integer, got ", TypeName(node)));
      return std::nullopt;
    }
    const int64_t value = integer->get();
    if (value < min || value > max) {
      if (max == std::numeric_limits<int>::max()) {
        AddError(node,
                 absl::StrCat(what, ": ", value, " is out of range (must be at least ", min, ")"));
      } else {
        AddError(node, absl::StrCat(what, ": ", value, " is out of range (must be from ", min,
                                    " to ", max, ")"));
      }
      return std::nullopt;
    }
    return value;
  }

  // A strictly positive duration string.
  std::optional<absl::Duration> ReadDuration(const toml::node& node, absl::string_view what) {
    const auto* s = node.as_string();
    if (s == nullptr) {
      AddError(node, absl::StrCat(what, ": expected a duration string like \"30s\", got ",
                                  TypeName(node)));
      return std::nullopt;
    }
    absl::StatusOr<absl::Duration> duration = ParseDurationValue(s->get());
    if (!duration.ok()) {
      AddError(node, absl::StrCat(what, ": ", duration.status().message()));
      return std::nullopt;
    }
    if (*duration <= absl::ZeroDuration()) {
      AddError(node, absl::StrCat(what, ": must be longer than zero"));
      return std::nullopt;
    }
    return *duration;
  }

  // A listening or server address: a numeric IP, since nothing is resolved at startup.
  // Listen addresses may use port 0: the kernel picks a free port, which volleyd reports in its
  // ready line (tests and benchmarks run that way).
  std::optional<HostPort> ReadIpAddress(const toml::node& node, absl::string_view what,
                                        std::optional<uint16_t> default_port,
                                        bool allow_port_zero = false) {
    std::optional<std::string> text = ReadString(node, what);
    if (!text.has_value()) return std::nullopt;
    absl::StatusOr<HostPort> address = ParseHostPort(*text, default_port, allow_port_zero);
    if (!address.ok()) {
      AddError(node, absl::StrCat(what, ": ", address.status().message()));
      return std::nullopt;
    }
    if (!IsIpLiteral(address->host)) {
      AddError(node,
               absl::StrCat(what, ": \"", *text, "\": the host must be a numeric IP address"));
      return std::nullopt;
    }
    return *std::move(address);
  }

  void ParseRoot(const toml::table& root) {
    for (auto&& [key, value] : root) {
      const absl::string_view name = AsAbsl(key.str());
      const std::string what = absl::StrCat("[", QuoteKey(key.str()), "]");
      if (name == "dkim") {
        AddError(key, absl::StrCat(what, ": ", kNotSupported));
        continue;
      }
      const bool known = name == "server" || name == "inject" || name == "http" || name == "dns" ||
                         name == "delivery" || name == "shaping" || name == "routes" ||
                         name == "egress";
      if (!known) {
        if (value.is_table()) {
          AddError(key, absl::StrCat("unknown table ", what));
        } else {
          AddError(key, absl::StrCat("unknown key '", name,
                                     "' at the top level (settings belong in a [table])"));
        }
        continue;
      }
      const toml::table* table = ExpectTable(value, what);
      if (table == nullptr) continue;
      if (name == "server") ParseServer(*table);
      if (name == "inject") ParseInject(*table);
      if (name == "http") ParseHttp(*table);
      if (name == "dns") ParseDns(*table);
      if (name == "delivery") ParseDelivery(*table);
      if (name == "shaping") ParseShaping(*table);
      if (name == "routes") ParseRoutes(*table);
      if (name == "egress") ParseEgress(*table);
    }
  }

  void ParseServer(const toml::table& table) {
    ServerConfig& server = config_.server;
    Walk(table, "server",
         {
             {"hostname",
              [&](const toml::node& v) {
                std::optional<std::string> s = ReadString(v, "[server] hostname");
                if (!s.has_value()) return;
                if (!IsDomainName(*s)) {
                  AddError(v, absl::StrCat("[server] hostname: \"", *s,
                                           "\" is not a valid host name (letters, digits, '-', "
                                           "'.'; internationalised names as xn-- A-labels)"));
                  return;
                }
                server.hostname = *std::move(s);
              }},
             {"threads",
              [&](const toml::node& v) {
                // More threads than this is a typo, not a machine.
                if (auto n = ReadInteger(v, "[server] threads", 0, 1024)) server.threads = *n;
              }},
             {"spool",
              [&](const toml::node& v) {
                std::optional<std::string> s = ReadString(v, "[server] spool");
                if (!s.has_value()) return;
                if (s->empty()) {
                  AddError(v, "[server] spool: must not be empty");
                  return;
                }
                server.spool = *std::move(s);
              }},
             {"log",
              [&](const toml::node& v) {
                if (auto s = ReadString(v, "[server] log")) server.log = *std::move(s);
              }},
             {"spool_min_free",
              [&](const toml::node& v) {
                if (auto size = ReadSize(v, "[server] spool_min_free", /*allow_zero=*/true)) {
                  server.spool_min_free = *size;
                }
              }},
         },
         {});
  }

  void ParseInject(const toml::table& table) {
    for (auto&& [key, value] : table) {
      const std::string what = absl::StrCat("[inject.", QuoteKey(key.str()), "]");
      if (key.str() == "smtp") {
        if (const toml::table* smtp = ExpectTable(value, what)) ParseInjectSmtp(*smtp);
      } else if (value.is_table()) {
        AddError(key, absl::StrCat("unknown table ", what));
      } else {
        AddError(key, absl::StrCat("unknown key '", AsAbsl(key.str()), "' in [inject]"));
      }
    }
  }

  void ParseInjectSmtp(const toml::table& table) {
    SmtpInjectConfig& smtp = config_.inject_smtp;
    Walk(table, "inject.smtp",
         {
             {"listen", [&](const toml::node& v) { ParseSmtpListen(v); }},
             {"relay_networks",
              [&](const toml::node& v) {
                const toml::array* array = v.as_array();
                if (array == nullptr) {
                  AddError(v, absl::StrCat("[inject.smtp] relay_networks: expected an array of "
                                           "CIDR strings, got ",
                                           TypeName(v)));
                  return;
                }
                std::vector<Cidr> networks;
                bool ok = true;
                for (const toml::node& element : *array) {
                  std::optional<std::string> s =
                      ReadString(element, "[inject.smtp] relay_networks");
                  if (!s.has_value()) {
                    ok = false;
                    continue;
                  }
                  absl::StatusOr<Cidr> cidr = ParseCidr(*s);
                  if (!cidr.ok()) {
                    AddError(element, absl::StrCat("[inject.smtp] relay_networks: ",
                                                   cidr.status().message()));
                    ok = false;
                    continue;
                  }
                  networks.push_back(*cidr);
                }
                if (ok) smtp.relay_networks = std::move(networks);
              }},
             {"max_message_size",
              [&](const toml::node& v) {
                if (auto size = ReadSize(v, "[inject.smtp] max_message_size",
                                         /*allow_zero=*/false)) {
                  smtp.max_message_size = *size;
                }
              }},
             {"max_recipients",
              [&](const toml::node& v) {
                if (auto n = ReadInteger(v, "[inject.smtp] max_recipients", 1,
                                         std::numeric_limits<int>::max())) {
                  smtp.max_recipients = static_cast<int>(*n);
                }
              }},
             {"max_connections",
              [&](const toml::node& v) {
                if (auto n = ReadInteger(v, "[inject.smtp] max_connections", 1,
                                         std::numeric_limits<int>::max())) {
                  smtp.max_connections = static_cast<int>(*n);
                }
              }},
         },
         {"auth_file", "tls_cert", "tls_key"});
  }

  void ParseSmtpListen(const toml::node& value) {
    constexpr absl::string_view kWhat = "[inject.smtp] listen";
    std::vector<const toml::node*> elements;
    if (value.is_string()) {
      elements.push_back(&value);
    } else if (const toml::array* array = value.as_array()) {
      for (const toml::node& element : *array) elements.push_back(&element);
    } else {
      AddError(value, absl::StrCat(kWhat,
                                   ": expected a string or an array of strings (\"host:port\"), "
                                   "got ",
                                   TypeName(value)));
      return;
    }
    std::vector<HostPort> listen;
    smtp_listen_lines_.clear();
    bool ok = true;
    for (const toml::node* element : elements) {
      std::optional<HostPort> address =
          ReadIpAddress(*element, kWhat, std::nullopt, /*allow_port_zero=*/true);
      if (!address.has_value()) {
        ok = false;
        continue;
      }
      if (std::find(listen.begin(), listen.end(), *address) != listen.end()) {
        AddError(*element, absl::StrCat(kWhat, ": ", address->ToString(), " is listed twice"));
        ok = false;
        continue;
      }
      listen.push_back(*std::move(address));
      smtp_listen_lines_.push_back(element->source().begin.line);
    }
    if (ok) config_.inject_smtp.listen = std::move(listen);
  }

  void ParseHttp(const toml::table& table) {
    Walk(table, "http",
         {
             {"listen",
              [&](const toml::node& v) {
                if (auto address = ReadIpAddress(v, "[http] listen", std::nullopt,
                                                 /*allow_port_zero=*/true)) {
                  config_.http.listen = *std::move(address);
                  http_listen_line_ = v.source().begin.line;
                }
              }},
         },
         {"admin_token", "site_metrics_limit"});
  }

  void ParseDns(const toml::table& table) {
    Walk(table, "dns",
         {
             {"servers",
              [&](const toml::node& v) {
                constexpr absl::string_view kWhat = "[dns] servers";
                const toml::array* array = v.as_array();
                if (array == nullptr) {
                  AddError(v,
                           absl::StrCat(kWhat, ": expected an array of \"ip:port\" strings, got ",
                                        TypeName(v)));
                  return;
                }
                std::vector<HostPort> servers;
                bool ok = true;
                for (const toml::node& element : *array) {
                  std::optional<HostPort> server = ReadIpAddress(element, kWhat, 53);
                  if (!server.has_value()) {
                    ok = false;
                    continue;
                  }
                  servers.push_back(*std::move(server));
                }
                if (ok) config_.dns.servers = std::move(servers);
              }},
             {"timeout",
              [&](const toml::node& v) {
                if (auto d = ReadDuration(v, "[dns] timeout")) config_.dns.timeout = *d;
              }},
             {"ip_lookup_strategy",
              [&](const toml::node& v) {
                std::optional<std::string> s = ReadString(v, "[dns] ip_lookup_strategy");
                if (!s.has_value()) return;
                static constexpr std::pair<absl::string_view, IpLookupStrategy> kNames[] = {
                    {"ipv4_then_ipv6", IpLookupStrategy::kIpv4ThenIpv6},
                    {"ipv6_then_ipv4", IpLookupStrategy::kIpv6ThenIpv4},
                    {"ipv4_only", IpLookupStrategy::kIpv4Only},
                    {"ipv6_only", IpLookupStrategy::kIpv6Only},
                };
                for (const auto& [name, strategy] : kNames) {
                  if (*s == name) {
                    config_.dns.ip_lookup_strategy = strategy;
                    return;
                  }
                }
                AddError(v, absl::StrCat("[dns] ip_lookup_strategy: \"", *s,
                                         "\" is not one of ipv4_then_ipv6, ipv6_then_ipv4, "
                                         "ipv4_only, ipv6_only"));
              }},
             {"min_ttl",
              [&](const toml::node& v) {
                if (auto d = ReadDuration(v, "[dns] min_ttl")) config_.dns.min_ttl = *d;
              }},
             {"max_ttl",
              [&](const toml::node& v) {
                if (auto d = ReadDuration(v, "[dns] max_ttl")) {
                  config_.dns.max_ttl = *d;
                  max_ttl_line_ = v.source().begin.line;
                }
              }},
             {"serve_stale",
              [&](const toml::node& v) {
                if (auto d = ReadDuration(v, "[dns] serve_stale")) config_.dns.serve_stale = *d;
              }},
             {"cache_size",
              [&](const toml::node& v) {
                if (auto n = ReadInteger(v, "[dns] cache_size", 1, 100000000)) {
                  config_.dns.cache_size = static_cast<int>(*n);
                }
              }},
         },
         {});
  }

  void ParseDelivery(const toml::table& table) {
    DeliveryConfig& delivery = config_.delivery;
    Walk(table, "delivery",
         {
             {"port",
              [&](const toml::node& v) {
                if (auto n = ReadInteger(v, "[delivery] port", 1, 65535)) {
                  delivery.port = static_cast<uint16_t>(*n);
                }
              }},
             {"retry_initial",
              [&](const toml::node& v) {
                if (auto d = ReadDuration(v, "[delivery] retry_initial")) {
                  delivery.retry_initial = *d;
                  retry_initial_line_ = v.source().begin.line;
                }
              }},
             {"retry_max",
              [&](const toml::node& v) {
                if (auto d = ReadDuration(v, "[delivery] retry_max")) {
                  delivery.retry_max = *d;
                  retry_max_line_ = v.source().begin.line;
                }
              }},
             {"max_age",
              [&](const toml::node& v) {
                if (auto d = ReadDuration(v, "[delivery] max_age")) delivery.max_age = *d;
              }},
         },
         {"dsn"});
  }

  void ParseShaping(const toml::table& table) {
    // [shaping.default] first, wherever it is: every domain table starts from it.
    if (const toml::node* node = table.get("default")) {
      if (const toml::table* shaping = ExpectTable(*node, "[shaping.default]")) {
        ParseShapingTable(*shaping, "shaping.default", &config_.shaping_default,
                          &shaping_default_pool_line_);
      }
    }
    for (auto&& [key, value] : table) {
      const std::string what = absl::StrCat("[shaping.", QuoteKey(key.str()), "]");
      const absl::string_view name = AsAbsl(key.str());
      if (name == "default") continue;
      if (name == "site" && value.is_table()) {
        AddError(key, absl::StrCat("[shaping.site.*] (per-site shaping): ", kNotSupported));
      } else if (value.is_table() && absl::StrContains(name, '.')) {
        // A domain (domains have dots; a bare word is far more likely a misspelt "default").
        const std::string domain = absl::AsciiStrToLower(name);
        if (!IsDomainName(domain)) {
          AddError(key, absl::StrCat(what, ": \"", name, "\" is not a valid domain name"));
          continue;
        }
        if (config_.shaping_domains.contains(domain)) {
          AddError(key, absl::StrCat(what, ": duplicate (domains are case-insensitive)"));
          continue;
        }
        ShapingConfig shaping = config_.shaping_default;
        uint32_t pool_line = 0;
        ParseShapingTable(*value.as_table(), absl::StrCat("shaping.", QuoteKey(key.str())),
                          &shaping, &pool_line);
        if (pool_line != 0) pool_lines_.emplace_back(shaping.egress_pool, pool_line);
        config_.shaping_domains.emplace(domain, std::move(shaping));
      } else if (value.is_table()) {
        AddError(key, absl::StrCat("unknown table ", what));
      } else {
        AddError(key, absl::StrCat("unknown key '", name,
                                   "' in [shaping] (default limits go in [shaping.default])"));
      }
    }
    if (shaping_default_pool_line_ != 0) {
      pool_lines_.emplace_back(config_.shaping_default.egress_pool, shaping_default_pool_line_);
    }
  }

  std::optional<TlsPolicy> ReadTlsPolicy(const toml::node& node, absl::string_view what,
                                         bool allow_implicit) {
    std::optional<std::string> text = ReadString(node, what);
    if (!text.has_value()) return std::nullopt;
    for (TlsPolicy policy : {TlsPolicy::kDisabled, TlsPolicy::kOpportunistic, TlsPolicy::kRequired,
                             TlsPolicy::kRequiredVerify, TlsPolicy::kImplicit}) {
      if (policy == TlsPolicy::kImplicit && !allow_implicit) continue;
      if (*text == TlsPolicyName(policy)) return policy;
    }
    AddError(node, absl::StrCat(what, ": \"", *text, "\" is not one of disabled, opportunistic, ",
                                "required, required_verify", allow_implicit ? ", implicit" : ""));
    return std::nullopt;
  }

  // One [shaping.*] table, applied over *shaping key by key.
  void ParseShapingTable(const toml::table& table, const std::string& table_name,
                         ShapingConfig* shaping, uint32_t* pool_line) {
    const std::string prefix = absl::StrCat("[", table_name, "] ");
    auto positive = [&](int* field, absl::string_view key) {
      return [this, field, key, &prefix](const toml::node& v) {
        if (auto n =
                ReadInteger(v, absl::StrCat(prefix, key), 1, std::numeric_limits<int>::max())) {
          *field = static_cast<int>(*n);
        }
      };
    };
    auto duration = [&](absl::Duration* field, absl::string_view key) {
      return [this, field, key, &prefix](const toml::node& v) {
        if (auto d = ReadDuration(v, absl::StrCat(prefix, key))) *field = *d;
      };
    };
    Walk(table, table_name,
         {
             {"connection_limit", positive(&shaping->connection_limit, "connection_limit")},
             {"max_deliveries_per_connection",
              positive(&shaping->max_deliveries_per_connection, "max_deliveries_per_connection")},
             {"max_recipients_per_batch",
              positive(&shaping->max_recipients_per_batch, "max_recipients_per_batch")},
             {"connect_timeout", duration(&shaping->connect_timeout, "connect_timeout")},
             {"banner_timeout", duration(&shaping->banner_timeout, "banner_timeout")},
             {"ehlo_timeout", duration(&shaping->ehlo_timeout, "ehlo_timeout")},
             {"mail_from_timeout", duration(&shaping->mail_from_timeout, "mail_from_timeout")},
             {"rcpt_to_timeout", duration(&shaping->rcpt_to_timeout, "rcpt_to_timeout")},
             {"data_timeout", duration(&shaping->data_timeout, "data_timeout")},
             {"data_dot_timeout", duration(&shaping->data_dot_timeout, "data_dot_timeout")},
             {"idle_timeout", duration(&shaping->idle_timeout, "idle_timeout")},
             {"tls",
              [&](const toml::node& v) {
                if (auto policy = ReadTlsPolicy(v, absl::StrCat(prefix, "tls"), false)) {
                  shaping->tls = *policy;
                }
              }},
             {"tls_ca_file",
              [&](const toml::node& v) {
                if (auto s = ReadString(v, absl::StrCat(prefix, "tls_ca_file"))) {
                  shaping->tls_ca_file = *std::move(s);
                }
              }},
             {"egress_pool",
              [&](const toml::node& v) {
                if (auto s = ReadString(v, absl::StrCat(prefix, "egress_pool"))) {
                  shaping->egress_pool = *std::move(s);
                  *pool_line = v.source().begin.line;
                }
              }},
         },
         {"max_message_rate", "max_connection_rate"});
  }

  void ParseEgress(const toml::table& table) {
    for (auto&& [key, value] : table) {
      const std::string name(AsAbsl(key.str()));
      const std::string what = absl::StrCat("[egress.", QuoteKey(key.str()), "]");
      const toml::table* pool_table = ExpectTable(value, what);
      if (pool_table == nullptr) continue;
      EgressPool pool;
      pool.name = name;
      bool has_sources = false;
      for (auto&& [pool_key, pool_value] : *pool_table) {
        if (pool_key.str() != "sources") {
          AddError(pool_key, absl::StrCat("unknown key '", AsAbsl(pool_key.str()), "' in ", what));
          continue;
        }
        has_sources = true;
        const toml::array* array = pool_value.as_array();
        if (array == nullptr || array->empty()) {
          AddError(pool_value, absl::StrCat(what,
                                            " sources: expected a non-empty array of "
                                            "{ address = \"ip\", ehlo = \"name\" }"));
          continue;
        }
        for (const toml::node& element : *array) {
          const toml::table* source_table = element.as_table();
          if (source_table == nullptr) {
            AddError(element, absl::StrCat(what, " sources: expected an inline table, got ",
                                           TypeName(element)));
            continue;
          }
          EgressSource source;
          bool ok = true;
          for (auto&& [source_key, source_value] : *source_table) {
            const absl::string_view field = AsAbsl(source_key.str());
            std::optional<std::string> text =
                ReadString(source_value, absl::StrCat(what, " sources ", field));
            if (!text.has_value()) {
              ok = false;
              continue;
            }
            if (field == "address") {
              if (!IsIpLiteral(*text)) {
                AddError(source_value, absl::StrCat(what, " sources address: \"", *text,
                                                    "\" is not a numeric IP address"));
                ok = false;
              }
              source.address = *std::move(text);
            } else if (field == "ehlo") {
              if (!text->empty() && !IsDomainName(*text)) {
                AddError(source_value, absl::StrCat(what, " sources ehlo: \"", *text,
                                                    "\" is not a valid host name"));
                ok = false;
              }
              source.ehlo = *std::move(text);
            } else if (field == "name") {
              source.name = *std::move(text);
            } else {
              AddError(source_key, absl::StrCat("unknown key '", field, "' in ", what, " sources"));
              ok = false;
            }
          }
          if (source.address.empty()) {
            AddError(element, absl::StrCat(what, " sources: missing key 'address'"));
            ok = false;
          }
          if (!ok) continue;
          if (source.name.empty()) source.name = source.address;
          pool.sources.push_back(std::move(source));
        }
      }
      if (!has_sources) {
        AddError(key, absl::StrCat(what, ": missing key 'sources'"));
        continue;
      }
      if (!pool.sources.empty()) config_.egress_pools[name] = std::move(pool);
    }
  }

  void ParseRoutes(const toml::table& table) {
    for (auto&& [key, value] : table) {
      const std::string domain = absl::AsciiStrToLower(AsAbsl(key.str()));
      const std::string what = absl::StrCat("[routes.", QuoteKey(key.str()), "]");
      if (!IsDomainName(domain)) {
        AddError(
            key,
            absl::StrCat(
                "[routes] \"", AsAbsl(key.str()), "\" is not a valid domain name",
                HasEightBit(domain) ? " (write internationalised domains as xn-- A-labels)" : ""));
        continue;
      }
      const toml::table* route = value.as_table();
      if (route == nullptr) {
        AddError(value, absl::StrCat("[routes] ", QuoteKey(key.str()),
                                     ": expected an inline table like { host = \"10.0.0.1:25\" }, "
                                     "got ",
                                     TypeName(value)));
        continue;
      }
      PendingRoute pending;
      pending.domain = domain;
      pending.line = key.source().begin.line;
      bool has_host = false;
      bool ok = true;
      for (auto&& [route_key, route_value] : *route) {
        const absl::string_view name = AsAbsl(route_key.str());
        if (name == "host") {
          has_host = true;
          const std::string host_what = absl::StrCat(what, " host");
          std::optional<std::string> text = ReadString(route_value, host_what);
          if (!text.has_value()) {
            ok = false;
            continue;
          }
          absl::StatusOr<SplitAddress> address = SplitHostPort(*text);
          if (address.ok() && address->unbracketed_ipv6) {
            address = absl::InvalidArgumentError(
                absl::StrCat("bad address \"", *text,
                             "\": write IPv6 addresses as [address] or [address]:port"));
          }
          if (!address.ok()) {
            AddError(route_value, absl::StrCat(host_what, ": ", address.status().message()));
            ok = false;
            continue;
          }
          pending.host = std::move(address->host);
          pending.port = address->port;
        } else if (name == "tls") {
          pending.tls = ReadTlsPolicy(route_value, absl::StrCat(what, " tls"), true);
          if (!pending.tls.has_value()) ok = false;
        } else if (name == "auth_user" || name == "auth_password") {
          std::optional<std::string> text = ReadString(route_value, absl::StrCat(what, " ", name));
          if (!text.has_value() || text->empty()) {
            if (text.has_value()) AddError(route_value, absl::StrCat(what, " ", name, ": empty"));
            ok = false;
            continue;
          }
          (name == "auth_user" ? pending.auth_user : pending.auth_password) = *std::move(text);
        } else if (name == "allow_auth_without_tls") {
          const auto* flag = route_value.as_boolean();
          if (flag == nullptr) {
            AddError(route_value, absl::StrCat(what,
                                               " allow_auth_without_tls: expected true or "
                                               "false, got ",
                                               TypeName(route_value)));
            ok = false;
            continue;
          }
          pending.allow_auth_without_tls = flag->get();
        } else {
          AddError(route_key, absl::StrCat("unknown key '", name, "' in ", what));
          ok = false;
        }
      }
      if (!has_host) {
        AddError(key, absl::StrCat(what, ": missing key 'host'"));
        ok = false;
      }
      if (ok && pending.auth_user.empty() != pending.auth_password.empty()) {
        AddError(key, absl::StrCat(what, ": auth_user and auth_password go together"));
        ok = false;
      }
      if (ok) pending_routes_.push_back(std::move(pending));
    }
  }

  // Runs after the whole file is read, since [delivery] may come after [routes].
  void ResolveRoutes() {
    std::stable_sort(pending_routes_.begin(), pending_routes_.end(),
                     [](const PendingRoute& a, const PendingRoute& b) { return a.line < b.line; });
    absl::flat_hash_map<std::string, uint32_t> first_line;
    for (PendingRoute& pending : pending_routes_) {
      const auto [it, inserted] = first_line.emplace(pending.domain, pending.line);
      if (!inserted) {
        AddError(pending.line,
                 absl::StrCat("[routes] duplicate route for domain '", pending.domain,
                              "' (first at line ", it->second, "; domains are case-insensitive)"));
        continue;
      }
      Route route;
      route.host.host = std::move(pending.host);
      // Implicit TLS has its own well-known port (RFC 8314).
      route.host.port = pending.port.value_or(
          pending.tls == TlsPolicy::kImplicit ? uint16_t{465} : config_.delivery.port);
      route.tls = pending.tls;
      route.auth_user = std::move(pending.auth_user);
      route.auth_password = std::move(pending.auth_password);
      route.allow_auth_without_tls = pending.allow_auth_without_tls;
      config_.routes.emplace(pending.domain, std::move(route));
    }
  }

  void CrossCheck() {
    if (config_.dns.min_ttl > config_.dns.max_ttl) {
      AddError(max_ttl_line_, "[dns] min_ttl must not be longer than max_ttl");
    }
    for (const auto& [pool, line] : pool_lines_) {
      if (!config_.egress_pools.contains(pool)) {
        AddError(line, absl::StrCat("egress_pool \"", pool, "\" is not defined (no [egress.", pool,
                                    "] table)"));
      }
    }
    const DeliveryConfig& delivery = config_.delivery;
    if (delivery.retry_initial > delivery.retry_max) {
      AddError(
          retry_initial_line_ != 0 ? retry_initial_line_ : retry_max_line_,
          absl::StrCat("[delivery] retry_initial (", absl::FormatDuration(delivery.retry_initial),
                       ") must not be longer than retry_max (",
                       absl::FormatDuration(delivery.retry_max), ")"));
    }
    const auto& smtp_listen = config_.inject_smtp.listen;
    const auto clash = std::find(smtp_listen.begin(), smtp_listen.end(), config_.http.listen);
    // Port 0 means "any free port": two of those never clash.
    if (clash != smtp_listen.end() && config_.http.listen.port != 0) {
      const size_t index = static_cast<size_t>(clash - smtp_listen.begin());
      const uint32_t smtp_line = index < smtp_listen_lines_.size() ? smtp_listen_lines_[index] : 0;
      AddError(http_listen_line_ != 0 ? http_listen_line_ : smtp_line,
               absl::StrCat("[http] listen: ", config_.http.listen.ToString(),
                            " is also an [inject.smtp] listen address"));
    }
  }

  const absl::string_view origin_;
  Config config_ = Config::Defaults();
  std::vector<Problem> problems_;
  std::vector<PendingRoute> pending_routes_;
  // Lines of values that later cross-checks blame; 0 when the default was kept.
  uint32_t retry_initial_line_ = 0;
  uint32_t retry_max_line_ = 0;
  uint32_t http_listen_line_ = 0;
  uint32_t shaping_default_pool_line_ = 0;
  uint32_t max_ttl_line_ = 0;
  std::vector<std::pair<std::string, uint32_t>> pool_lines_;  // egress_pool values and lines
  std::vector<uint32_t> smtp_listen_lines_;
};

}  // namespace

absl::StatusOr<Config> ParseConfig(absl::string_view toml_text, absl::string_view origin) {
  return Parser(origin).Parse(toml_text);
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int err = errno;
    const std::string message =
        absl::StrCat("cannot read config file \"", path, "\": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::FailedPreconditionError(message);
  }
  std::string text;
  char buffer[16384];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) text.append(buffer, n);
  const bool failed = std::ferror(file) != 0;
  const int err = errno;
  std::fclose(file);
  if (failed) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read config file \"", path, "\": ", std::strerror(err)));
  }
  return ParseConfig(text, path);
}

}  // namespace volley::config
