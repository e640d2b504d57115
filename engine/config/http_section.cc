// [http]; see http_section.h.
#include "engine/config/http_section.h"

#include <optional>
#include <utility>

namespace volley::config {

void ParseHttpSection(const toml::table& table, ConfigParser& parser, Config& config) {
  parser.Walk(
      table, "http",
      {
          {"listen",
           [&](const toml::node& v) {
             if (auto address = parser.ReadIpAddress(v, "[http] listen", std::nullopt,
                                                     /*allow_port_zero=*/true)) {
               config.http.listen = *std::move(address);
               parser.cross_section().http_listen_line = v.source().begin.line;
             }
           }},
          {"site_metrics_limit",
           [&](const toml::node& v) {
             if (auto limit = parser.ReadInteger(v, "[http] site_metrics_limit", 0, 100000)) {
               config.http.site_metrics_limit = static_cast<int>(*limit);
             }
           }},
      },
      {"admin_token"});
}

}  // namespace volley::config
