// [http]; see http_section.h.
#include "engine/config/http_section.h"

#include <optional>
#include <utility>

namespace volley::config {

void ParseHttpSection(const toml::table& table, ConfigParser& parser, Config& config) {
  HttpConfig& http = config.http;
  parser.Walk(
      table, "http",
      {
          {"listen",
           [&](const toml::node& v) {
             if (auto address = parser.ReadIpAddress(v, "[http] listen", std::nullopt,
                                                     /*allow_port_zero=*/true)) {
               http.listen = *std::move(address);
               parser.cross_section().http_listen_line = v.source().begin.line;
             }
           }},
          {"site_metrics_limit",
           [&](const toml::node& v) {
             if (auto limit = parser.ReadInteger(v, "[http] site_metrics_limit", 0, 100000)) {
               http.site_metrics_limit = static_cast<int>(*limit);
             }
           }},
          {"inject_token",
           [&](const toml::node& v) {
             std::optional<std::string> token = parser.ReadString(v, "[http] inject_token");
             if (!token.has_value()) return;
             // A bearer token is a header value: visible ASCII only, and long enough not to
             // be guessed.
             for (char c : *token) {
               if (c <= ' ' || c > '~') {
                 parser.AddError(v, "[http] inject_token: printable ASCII without spaces only");
                 return;
               }
             }
             if (!token->empty() && token->size() < 16) {
               parser.AddError(v, "[http] inject_token: at least 16 characters");
               return;
             }
             http.inject_token = *std::move(token);
           }},
          {"max_request_size",
           [&](const toml::node& v) {
             if (auto size = parser.ReadSize(v, "[http] max_request_size", false)) {
               http.max_request_size = *size;
             }
           }},
          {"inject_max_recipients",
           [&](const toml::node& v) {
             if (auto n = parser.ReadInteger(v, "[http] inject_max_recipients", 1, 10000000)) {
               http.inject_max_recipients = static_cast<int>(*n);
             }
           }},
          {"inject_max_message_size",
           [&](const toml::node& v) {
             if (auto size = parser.ReadSize(v, "[http] inject_max_message_size", false)) {
               http.inject_max_message_size = *size;
             }
           }},
      },
      {"admin_token"});
}

}  // namespace volley::config
