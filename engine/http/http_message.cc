#include "engine/http/http_message.h"

#include <http_parser.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace volley::http {
namespace {

// A final status a handler may send. 1xx are interim answers, which the server does not send
// on a handler's behalf.
bool IsFinalStatus(int status) { return status >= 200 && status <= 599; }

// Responses that never have a body, and so no Content-Length (RFC 9110 8.6, 15.3.5, 15.4.5).
bool HasNoBody(int status) { return status == 204 || status == 304; }

}  // namespace

absl::string_view HttpRequest::Header(absl::string_view lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? absl::string_view() : absl::string_view(it->second);
}

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

absl::string_view ReasonPhrase(int status) {
  if (status < 100 || status > 599) return "";
  // http-parser carries the IANA registry; it answers "<unknown>" for codes not in it.
  const char* registered = http_status_str(static_cast<enum http_status>(status));
  if (registered != nullptr && registered[0] != '<') return registered;
  switch (status / 100) {
    case 1:
      return "Informational";
    case 2:
      return "Success";
    case 3:
      return "Redirection";
    case 4:
      return "Client Error";
    default:
      return "Server Error";
  }
}

std::string SerializeResponse(const HttpResponse& response, const SerializeOptions& options) {
  const int status = IsFinalStatus(response.status) ? response.status : 500;
  std::string out = absl::StrCat("HTTP/1.1 ", status, " ", ReasonPhrase(status), "\r\n");
  const bool bodyless = HasNoBody(status);
  if (!bodyless) {
    absl::StrAppend(&out, "Content-Type: ", response.content_type,
                    "\r\nContent-Length: ", response.body.size(), "\r\n");
  }
  for (const auto& [name, value] : response.headers) {
    absl::StrAppend(&out, name, ": ", value, "\r\n");
  }
  if (options.close) {
    absl::StrAppend(&out, "Connection: close\r\n");
  } else if (options.keep_alive_header) {
    absl::StrAppend(&out, "Connection: keep-alive\r\n");
  }
  absl::StrAppend(&out, "\r\n");
  if (!bodyless && !options.omit_body) absl::StrAppend(&out, response.body);
  return out;
}

}  // namespace volley::http
