// [shaping.*]; see shaping_section.h.
#include "engine/config/shaping_section.h"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/config/values.h"

namespace volley::config {
namespace {

// One [shaping.*] table, applied over *shaping key by key. `*pool_line` gets the line of
// egress_pool when the table sets it.
void ParseShapingTable(const toml::table& table, const std::string& table_name,
                       ConfigParser& parser, ShapingConfig* shaping, uint32_t* pool_line) {
  const std::string prefix = absl::StrCat("[", table_name, "] ");
  auto positive = [&](int* field, absl::string_view key) {
    return [&parser, field, key, &prefix](const toml::node& v) {
      if (auto n = parser.ReadInteger(v, absl::StrCat(prefix, key), 1,
                                      std::numeric_limits<int>::max())) {
        *field = static_cast<int>(*n);
      }
    };
  };
  auto duration = [&](absl::Duration* field, absl::string_view key) {
    return [&parser, field, key, &prefix](const toml::node& v) {
      if (auto d = parser.ReadDuration(v, absl::StrCat(prefix, key))) *field = *d;
    };
  };
  parser.Walk(
      table, table_name,
      {
          {"connection_limit", positive(&shaping->connection_limit, "connection_limit")},
          {"max_deliveries_per_connection",
           positive(&shaping->max_deliveries_per_connection, "max_deliveries_per_connection")},
          {"max_recipients_per_batch",
           positive(&shaping->max_recipients_per_batch, "max_recipients_per_batch")},
          {"connect_timeout", duration(&shaping->timeouts.connect, "connect_timeout")},
          {"banner_timeout", duration(&shaping->timeouts.banner, "banner_timeout")},
          {"ehlo_timeout", duration(&shaping->timeouts.ehlo, "ehlo_timeout")},
          {"mail_from_timeout", duration(&shaping->timeouts.mail_from, "mail_from_timeout")},
          {"rcpt_to_timeout", duration(&shaping->timeouts.rcpt_to, "rcpt_to_timeout")},
          {"data_timeout", duration(&shaping->timeouts.data, "data_timeout")},
          {"data_dot_timeout", duration(&shaping->timeouts.data_dot, "data_dot_timeout")},
          {"idle_timeout", duration(&shaping->timeouts.idle, "idle_timeout")},
          {"tls",
           [&](const toml::node& v) {
             if (auto policy = parser.ReadTlsPolicy(v, absl::StrCat(prefix, "tls"), false)) {
               shaping->tls = *policy;
             }
           }},
          {"tls_ca_file",
           [&](const toml::node& v) {
             if (auto s = parser.ReadString(v, absl::StrCat(prefix, "tls_ca_file"))) {
               shaping->tls_ca_file = *std::move(s);
             }
           }},
          {"egress_pool",
           [&](const toml::node& v) {
             if (auto s = parser.ReadString(v, absl::StrCat(prefix, "egress_pool"))) {
               shaping->egress_pool = *std::move(s);
               *pool_line = v.source().begin.line;
             }
           }},
      },
      {"max_message_rate", "max_connection_rate"});
}

// A [shaping."domain"] table: the domain's complete shaping, [shaping.default] plus the table.
void ParseShapingDomain(const toml::key& key, const toml::table& table, ConfigParser& parser,
                        Config& config) {
  const std::string what = absl::StrCat("[shaping.", QuoteKey(key.str()), "]");
  const absl::string_view name = AsAbsl(key.str());
  const std::string domain = absl::AsciiStrToLower(name);
  if (!IsDomainName(domain)) {
    parser.AddError(key, absl::StrCat(what, ": \"", name, "\" is not a valid domain name"));
    return;
  }
  if (config.shaping_domains.contains(domain)) {
    parser.AddError(key, absl::StrCat(what, ": duplicate (domains are case-insensitive)"));
    return;
  }
  ShapingConfig shaping = config.shaping_default;
  uint32_t pool_line = 0;
  ParseShapingTable(table, absl::StrCat("shaping.", QuoteKey(key.str())), parser, &shaping,
                    &pool_line);
  if (pool_line != 0) {
    parser.cross_section().pool_lines.emplace_back(shaping.egress_pool, pool_line);
  }
  config.shaping_domains.emplace(domain, std::move(shaping));
}

}  // namespace

void ParseShapingSection(const toml::table& table, ConfigParser& parser, Config& config) {
  // [shaping.default] first, wherever it is: every domain table starts from it.
  uint32_t default_pool_line = 0;
  if (const toml::node* node = table.get("default")) {
    if (const toml::table* shaping = parser.ExpectTable(*node, "[shaping.default]")) {
      ParseShapingTable(*shaping, "shaping.default", parser, &config.shaping_default,
                        &default_pool_line);
    }
  }
  for (auto&& [key, value] : table) {
    const absl::string_view name = AsAbsl(key.str());
    if (name == "default") continue;
    if (name == "site" && value.is_table()) {
      parser.AddError(key, absl::StrCat("[shaping.site.*] (per-site shaping): ", kNotSupported));
    } else if (value.is_table() && absl::StrContains(name, '.')) {
      // A domain (domains have dots; a bare word is far more likely a misspelt "default").
      ParseShapingDomain(key, *value.as_table(), parser, config);
    } else if (value.is_table()) {
      parser.AddError(key, absl::StrCat("unknown table [shaping.", QuoteKey(key.str()), "]"));
    } else {
      parser.AddError(key, absl::StrCat("unknown key '", name,
                                        "' in [shaping] (default limits go in [shaping.default])"));
    }
  }
  if (default_pool_line != 0) {
    parser.cross_section().pool_lines.emplace_back(config.shaping_default.egress_pool,
                                                   default_pool_line);
  }
}

}  // namespace volley::config
