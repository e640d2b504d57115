// [egress.*]; see egress_section.h.
#include "engine/config/egress_section.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/base/net_address.h"
#include "engine/config/values.h"

namespace volley::config {
namespace {

// One { address = "ip", ehlo = "name", name = "label" } of a pool's sources; nullopt (with the
// problems reported) when it is not usable. `what` is "[egress.pool]".
std::optional<EgressSource> ParseEgressSource(const toml::node& element, absl::string_view what,
                                              ConfigParser& parser) {
  const toml::table* source_table = element.as_table();
  if (source_table == nullptr) {
    parser.AddError(
        element, absl::StrCat(what, " sources: expected an inline table, got ", TypeName(element)));
    return std::nullopt;
  }
  EgressSource source;
  bool ok = true;
  for (auto&& [source_key, source_value] : *source_table) {
    const absl::string_view field = AsAbsl(source_key.str());
    std::optional<std::string> text =
        parser.ReadString(source_value, absl::StrCat(what, " sources ", field));
    if (!text.has_value()) {
      ok = false;
      continue;
    }
    if (field == "address") {
      if (!IsIpLiteral(*text)) {
        parser.AddError(source_value, absl::StrCat(what, " sources address: \"", *text,
                                                   "\" is not a numeric IP address"));
        ok = false;
      }
      source.address = *std::move(text);
    } else if (field == "ehlo") {
      if (!text->empty() && !IsDomainName(*text)) {
        parser.AddError(source_value, absl::StrCat(what, " sources ehlo: \"", *text,
                                                   "\" is not a valid host name"));
        ok = false;
      }
      source.ehlo = *std::move(text);
    } else if (field == "name") {
      source.name = *std::move(text);
    } else if (field == "warmup") {
      // A [warmup] table may come later in the file: the name is checked once all is read.
      if (!text->empty()) {
        parser.cross_section().warmup_lines.emplace_back(*text, source_value.source().begin.line);
      }
      source.warmup = *std::move(text);
    } else {
      parser.AddError(source_key, absl::StrCat("unknown key '", field, "' in ", what, " sources"));
      ok = false;
    }
  }
  if (source.address.empty()) {
    parser.AddError(element, absl::StrCat(what, " sources: missing key 'address'"));
    ok = false;
  }
  if (!ok) return std::nullopt;
  if (source.name.empty()) source.name = source.address;
  return source;
}

// Each source's warm-up schedule and the pool that said it first, by source name.
using WarmupBySource = absl::flat_hash_map<std::string, std::pair<std::string, std::string>>;

// One [egress."pool"] table.
void ParseEgressPool(const toml::key& key, const toml::node& value, ConfigParser& parser,
                     WarmupBySource& warmups, Config& config) {
  const std::string name(AsAbsl(key.str()));
  const std::string what = absl::StrCat("[egress.", QuoteKey(key.str()), "]");
  const toml::table* pool_table = parser.ExpectTable(value, what);
  if (pool_table == nullptr) return;
  EgressPool pool;
  pool.name = name;
  bool has_sources = false;
  for (auto&& [pool_key, pool_value] : *pool_table) {
    if (pool_key.str() != "sources") {
      parser.AddError(pool_key,
                      absl::StrCat("unknown key '", AsAbsl(pool_key.str()), "' in ", what));
      continue;
    }
    has_sources = true;
    const toml::array* array = pool_value.as_array();
    if (array == nullptr || array->empty()) {
      parser.AddError(pool_value, absl::StrCat(what,
                                               " sources: expected a non-empty array of "
                                               "{ address = \"ip\", ehlo = \"name\" }"));
      continue;
    }
    for (const toml::node& element : *array) {
      std::optional<EgressSource> source = ParseEgressSource(element, what, parser);
      if (!source.has_value()) continue;
      // A source is one address with one reputation: every pool that lists it warms it alike.
      const auto [it, inserted] = warmups.try_emplace(source->name, source->warmup, name);
      if (!inserted && it->second.first != source->warmup) {
        parser.AddError(element, absl::StrCat("egress source \"", source->name, "\" has warmup \"",
                                              source->warmup, "\" here but \"", it->second.first,
                                              "\" in [egress.", it->second.second, "]"));
        continue;
      }
      pool.sources.push_back(*std::move(source));
    }
  }
  if (!has_sources) {
    parser.AddError(key, absl::StrCat(what, ": missing key 'sources'"));
    return;
  }
  if (!pool.sources.empty()) config.egress_pools[name] = std::move(pool);
}

}  // namespace

void ParseEgressSection(const toml::table& table, ConfigParser& parser, Config& config) {
  WarmupBySource warmups;
  for (auto&& [key, value] : table) ParseEgressPool(key, value, parser, warmups, config);
}

}  // namespace volley::config
