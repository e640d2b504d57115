// [unsubscribe]; see unsubscribe_section.h.
#include "engine/config/unsubscribe_section.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "engine/message/message_tags.h"

namespace volley::config {
namespace {

// The characters a path segment may hold unescaped (RFC 3986 3.3, without the sub-delims, which
// a List-Unsubscribe header's angle brackets and commas would make fragile).
bool IsPathChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '~' || c == '/';
}

// The url's path ("/u"), or why the url cannot carry tokens. The link is url + "/" + token; the
// HTTP listener answers POST <path>/TOKEN, so the path must be one that no API route owns.
absl::StatusOr<std::string> UnsubscribePath(absl::string_view url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "https://") && !absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError("expected an http:// or https:// URL");
  }
  const size_t slash = rest.find('/');
  const absl::string_view host = rest.substr(0, slash);
  if (host.empty()) return absl::InvalidArgumentError("the URL has no host");
  for (char c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != ':' &&
        c != '[' && c != ']') {
      return absl::InvalidArgumentError("the URL's host has a character a host name cannot have");
    }
  }
  absl::string_view path = slash == absl::string_view::npos ? "" : rest.substr(slash);
  while (absl::ConsumeSuffix(&path, "/")) {
  }
  if (path.empty()) {
    return absl::InvalidArgumentError(
        "the URL needs a path of its own (\"https://host/u\"): the root is the status page's");
  }
  for (char c : path) {
    if (!IsPathChar(c)) {
      return absl::InvalidArgumentError(
          "the URL's path may hold only letters, digits and - . _ ~ / (no query or fragment)");
    }
  }
  if (path == "/api" || absl::StartsWith(path, "/api/") || path == "/metrics") {
    return absl::InvalidArgumentError(absl::StrCat("the path ", path, " is the HTTP API's"));
  }
  return std::string(path);
}

}  // namespace

void ParseUnsubscribeSection(const toml::table& table, ConfigParser& parser, Config& config) {
  UnsubscribeConfig& unsubscribe = config.unsubscribe;
  parser.Walk(
      table, "unsubscribe",
      {{"url",
        [&](const toml::node& v) {
          std::optional<std::string> url = parser.ReadString(v, "[unsubscribe] url");
          if (!url.has_value() || url->empty()) return;
          // The link is the url and a token of a few hundred characters on one header line.
          if (url->size() > 256) {
            parser.AddError(v, "[unsubscribe] url: at most 256 characters");
            return;
          }
          absl::StatusOr<std::string> path = UnsubscribePath(*url);
          if (!path.ok()) {
            parser.AddError(v, absl::StrCat("[unsubscribe] url: ", path.status().message()));
            return;
          }
          absl::string_view trimmed = *url;
          while (absl::ConsumeSuffix(&trimmed, "/")) {
          }
          unsubscribe.url = std::string(trimmed);
          unsubscribe.path = *std::move(path);
        }},
       {"secret",
        [&](const toml::node& v) {
          std::optional<std::string> s = parser.ReadString(v, "[unsubscribe] secret");
          if (!s.has_value()) return;
          if (!s->empty() && s->size() < 16) {
            parser.AddError(v, "[unsubscribe] secret: at least 16 characters");
            return;
          }
          unsubscribe.secret = *std::move(s);
        }},
       {"expire_after",
        [&](const toml::node& v) {
          if (auto d = parser.ReadDuration(v, "[unsubscribe] expire_after")) {
            unsubscribe.expire_after = *d;
          }
        }},
       {"enabled",
        [&](const toml::node& v) {
          if (auto b = parser.ReadBool(v, "[unsubscribe] enabled")) unsubscribe.enabled = *b;
        }},
       {"tenant",
        [&](const toml::node& v) {
          const toml::table* tenants = parser.ExpectTable(v, "[unsubscribe.tenant]");
          if (tenants == nullptr) return;
          for (auto&& [key, value] : *tenants) {
            const std::string name(key.str());
            const std::string what = absl::StrCat("[unsubscribe.tenant.\"", name, "\"]");
            if (absl::Status tag = message::CheckTag(name); !tag.ok()) {
              parser.AddError(key, absl::StrCat(what, ": ", tag.message()));
              continue;
            }
            const toml::table* t = parser.ExpectTable(value, what);
            if (t == nullptr) continue;
            bool enabled = true;  // a tenant's table is there to say so
            parser.Walk(*t, absl::StrCat("unsubscribe.tenant.", name),
                        {{"enabled",
                          [&](const toml::node& e) {
                            if (auto b = parser.ReadBool(e, absl::StrCat(what, " enabled"))) {
                              enabled = *b;
                            }
                          }}},
                        {});
            unsubscribe.tenants[name] = enabled;
          }
        }}},
      {});
}

}  // namespace volley::config
