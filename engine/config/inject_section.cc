// [inject], [inject.smtp] and [[inject.smtp.listener]]; see inject_section.h.
#include "engine/config/inject_section.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/config/smtp_listener_section.h"

namespace volley::config {
namespace {

// The listeners of [inject.smtp]: its own (when it has no listener tables, or writes `listen`
// itself), then one per [[inject.smtp.listener]] table, each starting from [inject.smtp]'s keys.
void ParseInjectSmtp(const toml::table& table, ConfigParser& parser, Config& config) {
  ListenerDraft defaults;
  defaults.config = config.inject_smtp;
  defaults.what = "[inject.smtp]";
  defaults.line = table.source().begin.line;
  ParseListenerKeys(table, /*listener_table=*/false, parser, defaults);
  std::vector<ListenerDraft> drafts;
  const toml::node* tables = table.get("listener");
  const toml::array* array = tables != nullptr ? tables->as_array() : nullptr;
  if (tables != nullptr && (array == nullptr || !array->is_array_of_tables())) {
    parser.AddError(*tables, "[inject.smtp] listener: expected [[inject.smtp.listener]] tables");
  }
  // `listen = []` in [inject.smtp] is "no listener there" (with no tables: no SMTP at all).
  if ((array == nullptr || array->empty() || defaults.listen_written) &&
      !defaults.config.listen.empty()) {
    drafts.push_back(defaults);
  }
  if (array != nullptr) {
    int number = 0;
    for (const toml::node& element : *array) {
      ++number;
      const toml::table* own = element.as_table();
      if (own == nullptr) continue;
      ListenerDraft draft = defaults;
      draft.what = absl::StrCat("[[inject.smtp.listener]] ", number);
      draft.line = own->source().begin.line;
      draft.listen_written = false;
      draft.config.name.clear();
      ParseListenerKeys(*own, /*listener_table=*/true, parser, draft);
      if (!draft.listen_written || draft.config.listen.empty()) {
        parser.AddError(draft.line,
                        absl::StrCat(draft.what, ": listen is required (one address or more)"));
        continue;
      }
      if (draft.config.name.empty()) {
        // The first address names it; two on port 0 ("any free port") get their number too.
        draft.config.name = absl::StrCat("smtp-", draft.config.listen.front().ToString());
        if (draft.config.listen.front().port == 0) absl::StrAppend(&draft.config.name, "-", number);
      }
      drafts.push_back(std::move(draft));
    }
  }
  config.inject_smtp = defaults.config;
  std::vector<SmtpListenerConfig> listeners;
  std::vector<std::pair<HostPort, uint32_t>>& seen = parser.cross_section().smtp_listen;
  seen.clear();
  absl::flat_hash_set<std::string> names;
  for (ListenerDraft& draft : drafts) {
    ResolveListener(parser, draft);
    if (!names.insert(draft.config.name).second) {
      parser.AddError(draft.line, absl::StrCat(draft.what, ": the name \"", draft.config.name,
                                               "\" is another listener's"));
    }
    for (size_t i = 0; i < draft.config.listen.size(); ++i) {
      const HostPort& address = draft.config.listen[i];
      const uint32_t line = i < draft.listen_lines.size() ? draft.listen_lines[i] : draft.line;
      const bool twice =
          address.port != 0 &&
          std::any_of(seen.begin(), seen.end(), [&](const auto& s) { return s.first == address; });
      if (twice) {
        parser.AddError(line, absl::StrCat(draft.what, " listen: ", address.ToString(),
                                           " is another listener's address"));
      }
      seen.emplace_back(address, line);
    }
    listeners.push_back(std::move(draft.config));
  }
  config.smtp_listeners = std::move(listeners);
}

}  // namespace

void ParseInjectSection(const toml::table& table, ConfigParser& parser, Config& config) {
  InjectConfig& inject = config.inject;
  const toml::table* smtp = nullptr;
  for (auto&& [key, value] : table) {
    if (key.str() == "smtp") {
      smtp = parser.ExpectTable(value, "[inject.smtp]");
      continue;
    }
    if (key.str() == "max_memory") {
      if (auto size = parser.ReadSize(value, "[inject] max_memory", /*allow_zero=*/false)) {
        inject.max_memory = *size;
      }
    } else if (key.str() == "max_spool_backlog") {
      if (auto n = parser.ReadInteger(value, "[inject] max_spool_backlog", 1,
                                      std::numeric_limits<int>::max())) {
        inject.max_spool_backlog = *n;
      }
    } else if (key.str() == "max_queued_recipients") {
      if (auto n = parser.ReadInteger(value, "[inject] max_queued_recipients", 1,
                                      std::numeric_limits<int64_t>::max())) {
        inject.max_queued_recipients = *n;
      }
    } else if (value.is_table()) {
      parser.AddError(key, absl::StrCat("unknown table [inject.", QuoteKey(key.str()), "]"));
    } else {
      parser.AddError(key, absl::StrCat("unknown key '", AsAbsl(key.str()), "' in [inject]"));
    }
  }
  if (smtp != nullptr) ParseInjectSmtp(*smtp, parser, config);
}

}  // namespace volley::config
