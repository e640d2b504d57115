// [http]; see http_section.h.
#include "engine/config/http_section.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace volley::config {
namespace {

// A bearer token: a header value, so visible ASCII only, and long enough not to be guessed.
std::optional<std::string> ReadToken(ConfigParser& parser, const toml::node& v,
                                     absl::string_view what) {
  std::optional<std::string> token = parser.ReadString(v, what);
  if (!token.has_value()) return std::nullopt;
  for (char c : *token) {
    if (c <= ' ' || c > '~') {
      parser.AddError(v, absl::StrCat(what, ": printable ASCII without spaces only"));
      return std::nullopt;
    }
  }
  if (!token->empty() && token->size() < 16) {
    parser.AddError(v, absl::StrCat(what, ": at least 16 characters"));
    return std::nullopt;
  }
  return token;
}

}  // namespace

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
             if (auto token = ReadToken(parser, v, "[http] inject_token")) {
               http.inject_token = *std::move(token);
             }
           }},
          {"admin_token",
           [&](const toml::node& v) {
             if (auto token = ReadToken(parser, v, "[http] admin_token")) {
               http.admin_token = *std::move(token);
               parser.cross_section().http_admin_token_line = v.source().begin.line;
             }
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
      {});
}

}  // namespace volley::config
