// Volley's configuration parser: parses the TOML text, hands each top-level table to its
// section's parser (the *_section files), then runs the checks across tables (cross_checks.h).
//
// The parser walks the parsed document once and records every problem it finds instead of
// stopping at the first, so an operator fixes a file in one round instead of one per error.
#include "engine/config/config.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/config/bounce_section.h"
#include "engine/config/config_parser.h"
#include "engine/config/cross_checks.h"
#include "engine/config/delivery_section.h"
#include "engine/config/dns_section.h"
#include "engine/config/egress_section.h"
#include "engine/config/http_section.h"
#include "engine/config/inject_section.h"
#include "engine/config/routes_section.h"
#include "engine/config/server_section.h"
#include "engine/config/shaping_section.h"
#include "engine/config/warmup_section.h"
#include "engine/config/unsubscribe_section.h"
#include "engine/config/webhook_section.h"

namespace volley::config {
namespace {

using SectionParser = void (*)(const toml::table&, ConfigParser&, Config&);

struct Section {
  absl::string_view name;
  SectionParser parse;
};

constexpr Section kSections[] = {
    {"server", ParseServerSection},     {"inject", ParseInjectSection},
    {"http", ParseHttpSection},         {"dns", ParseDnsSection},
    {"delivery", ParseDeliverySection}, {"shaping", ParseShapingSection},
    {"routes", ParseRoutesSection},     {"egress", ParseEgressSection},
    {"warmup", ParseWarmupSection},     {"bounce", ParseBounceSection},
    {"unsubscribe", ParseUnsubscribeSection},
};

// Hands each top-level table to its section, in the document's (key) order.
void ParseRoot(const toml::table& root, ConfigParser& parser, Config& config) {
  for (auto&& [key, value] : root) {
    const absl::string_view name = AsAbsl(key.str());
    const std::string what = absl::StrCat("[", QuoteKey(key.str()), "]");
    if (name == "dkim") {
      parser.AddError(key, absl::StrCat(what, ": ", kNotSupported));
      continue;
    }
    if (name == "webhook") {
      ParseWebhooks(value, parser, config);
      if (const toml::array* array = value.as_array()) {
        std::ostringstream text;
        text << *array;
        config.tables[name] = text.str();  // read at start only: a reload names it
      }
      continue;
    }
    const Section* section = nullptr;
    for (const Section& candidate : kSections) {
      if (candidate.name == name) section = &candidate;
    }
    if (section == nullptr) {
      if (value.is_table()) {
        parser.AddError(key, absl::StrCat("unknown table ", what));
      } else {
        parser.AddError(key, absl::StrCat("unknown key '", name,
                                          "' at the top level (settings belong in a [table])"));
      }
      continue;
    }
    const toml::table* table = parser.ExpectTable(value, what);
    if (table == nullptr) continue;
    section->parse(*table, parser, config);
    std::ostringstream text;
    text << *table;
    config.tables[name] = text.str();
  }
}

}  // namespace

absl::StatusOr<Config> ParseConfig(absl::string_view toml_text, absl::string_view origin) {
  ConfigParser parser(origin);
  toml::parse_result result = toml::parse(std::string_view(toml_text.data(), toml_text.size()),
                                          std::string_view(origin.data(), origin.size()));
  if (!result) {
    const toml::parse_error& error = result.error();
    parser.AddError(error.source().begin.line,
                    absl::StrCat("TOML syntax error at column ", error.source().begin.column, ": ",
                                 AsAbsl(error.description())));
    return parser.Finish();  // not OK: it has the problem just added
  }
  Config config = Config::Defaults();
  ParseRoot(result.table(), parser, config);
  CheckAcrossSections(parser, config);
  RETURN_IF_ERROR(parser.Finish());
  return config;
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
