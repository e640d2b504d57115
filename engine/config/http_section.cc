// [http]; see http_section.h.
#include "engine/config/http_section.h"

#include <optional>
#include <utility>

namespace volley::config {

void ParseHttpSection(const toml::table& table, ConfigParser& parser, Config& config) {
  parser.Walk(table, "http",
              {
                  {"listen",
                   [&](const toml::node& v) {
                     if (auto address = parser.ReadIpAddress(v, "[http] listen", std::nullopt,
                                                             /*allow_port_zero=*/true)) {
                       config.http.listen = *std::move(address);
                       parser.cross_section().http_listen_line = v.source().begin.line;
                     }
                   }},
              },
              {"admin_token", "site_metrics_limit"});
}

}  // namespace volley::config
