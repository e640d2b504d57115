// [server]; see server_section.h.
#include "engine/config/server_section.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/config/values.h"

namespace volley::config {

void ParseServerSection(const toml::table& table, ConfigParser& parser, Config& config) {
  ServerConfig& server = config.server;
  parser.Walk(
      table, "server",
      {
          {"hostname",
           [&](const toml::node& v) {
             std::optional<std::string> s = parser.ReadString(v, "[server] hostname");
             if (!s.has_value()) return;
             if (!IsDomainName(*s)) {
               parser.AddError(v, absl::StrCat("[server] hostname: \"", *s,
                                               "\" is not a valid host name (letters, "
                                               "digits, '-', '.'; internationalised "
                                               "names as xn-- A-labels)"));
               return;
             }
             server.hostname = *std::move(s);
           }},
          {"threads",
           [&](const toml::node& v) {
             // More threads than this is a typo, not a machine.
             if (auto n = parser.ReadInteger(v, "[server] threads", 0, 1024)) {
               server.threads = *n;
             }
           }},
          {"spool",
           [&](const toml::node& v) {
             std::optional<std::string> s = parser.ReadString(v, "[server] spool");
             if (!s.has_value()) return;
             if (s->empty()) {
               parser.AddError(v, "[server] spool: must not be empty");
               return;
             }
             server.spool = *std::move(s);
           }},
          {"log",
           [&](const toml::node& v) {
             if (auto s = parser.ReadString(v, "[server] log")) server.log = *std::move(s);
           }},
          {"spool_min_free",
           [&](const toml::node& v) {
             if (auto size = parser.ReadSize(v, "[server] spool_min_free", /*allow_zero=*/true)) {
               server.spool_min_free = *size;
             }
           }},
      },
      {});
}

}  // namespace volley::config
