#include "engine/http/http_request_parser.h"

#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace volley::http {
namespace {

HttpRequestParser* Self(http_parser* parser) {
  return static_cast<HttpRequestParser*>(parser->data);
}

// Splits the request target into path and query. Origin form ("/a?b") is what clients send to
// a server that is not a proxy; absolute form ("http://host/a?b") is accepted too, as RFC 9112
// 3.2.2 asks, and "*" (OPTIONS *) is its own path.
bool SplitTarget(absl::string_view target, bool is_connect, HttpRequest* request) {
  if (target == "*") {
    request->path = "*";
    return true;
  }
  http_parser_url url;
  http_parser_url_init(&url);
  if (http_parser_parse_url(target.data(), target.size(), is_connect ? 1 : 0, &url) != 0) {
    return false;
  }
  auto field = [&](http_parser_url_fields f) {
    return target.substr(url.field_data[f].off, url.field_data[f].len);
  };
  if ((url.field_set & (1 << UF_PATH)) != 0) {
    request->path = std::string(field(UF_PATH));
  } else if (!is_connect) {
    request->path = "/";  // "http://host" names the root
  }
  if ((url.field_set & (1 << UF_QUERY)) != 0) request->query = std::string(field(UF_QUERY));
  return true;
}

}  // namespace

HttpRequestParser::HttpRequestParser(const RequestLimits& limits) : limits_(limits) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

const http_parser_settings& HttpRequestParser::Settings() {
  static const http_parser_settings settings = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_message_begin = &OnMessageBegin;
    s.on_url = &OnUrl;
    s.on_header_field = &OnHeaderField;
    s.on_header_value = &OnHeaderValue;
    s.on_headers_complete = &OnHeadersComplete;
    s.on_body = &OnBody;
    s.on_message_complete = &OnMessageComplete;
    return s;
  }();
  return settings;
}

void HttpRequestParser::Feed(absl::string_view bytes) {
  if (finished_) return;
  if (parsed_ == input_.size()) {
    input_.assign(bytes.data(), bytes.size());
    parsed_ = 0;
  } else {
    absl::StrAppend(&input_, bytes);
  }
}

HttpRequestParser::Result HttpRequestParser::Next() {
  Result result;
  while (!finished_ && parsed_ < input_.size()) {
    event_ = Event::kNone;
    const size_t length = input_.size() - parsed_;
    const size_t n = http_parser_execute(&parser_, &Settings(), input_.data() + parsed_, length);
    const http_errno error = HTTP_PARSER_ERRNO(&parser_);
    if (error == HPE_PAUSED) {
      // A callback paused the parser at the end of the headers or of the message, so that the
      // bytes of the two parts, and of the next request, are told apart.
      http_parser_pause(&parser_, 0);
      if (event_ == Event::kHeadersComplete) {
        // http-parser stops on the header section's last LF, and reads it again on resuming.
        header_bytes_ += n + 1;
        parsed_ += n;
        if (!CheckHeaders(&result)) return result;
        continue;
      }
      parsed_ += n;
      TakeRequest(&result);
      break;
    }
    if (error != HPE_OK) {
      if (refusal_status_ != 0) return Fail(refusal_status_, std::move(refusal_message_));
      switch (error) {
        case HPE_HEADER_OVERFLOW:
          return Fail(431, "request headers too large");
        case HPE_INVALID_TRANSFER_ENCODING:
          return Fail(411, "request bodies need Content-Length");
        default:
          return Fail(400, http_errno_description(error));
      }
    }
    // Everything was parsed without reaching the end of the headers or of the message.
    parsed_ += n;
    if (!headers_done_) {
      header_bytes_ += n;
      if (header_bytes_ > limits_.max_header_bytes) {
        return Fail(431, "request headers too large");
      }
    }
  }
  input_.erase(0, parsed_);
  parsed_ = 0;
  return result;
}

bool HttpRequestParser::CheckHeaders(Result* result) {
  headers_done_ = true;
  if (header_bytes_ > limits_.max_header_bytes) {
    *result = Fail(431, "request headers too large");
    return false;
  }
  if (parser_.http_major != 1) {
    *result = Fail(505, "only HTTP/1.0 and HTTP/1.1 are served");
    return false;
  }
  // http-parser's offsets into the target are 16 bits.
  if (url_.size() > UINT16_MAX) {
    *result = Fail(414, "request target too long");
    return false;
  }
  request_.method = http_method_str(static_cast<http_method>(parser_.method));
  if (!SplitTarget(url_, parser_.method == HTTP_CONNECT, &request_)) {
    *result = Fail(400, "malformed request target");
    return false;
  }
  if (request_.headers.contains("transfer-encoding")) {
    *result = Fail(411, "chunked request bodies are not supported; send Content-Length");
    return false;
  }
  if ((parser_.flags & F_CONTENTLENGTH) != 0 && parser_.content_length > limits_.max_body_bytes) {
    *result = Fail(413, "request body too large");
    return false;
  }
  return true;
}

void HttpRequestParser::TakeRequest(Result* result) {
  result->kind = Result::Kind::kRequest;
  result->request = std::move(request_);
  // An Upgrade (or CONNECT) request hands the connection to another protocol, which Volley
  // does not speak: it is answered, then the connection closes.
  result->keep_alive = http_should_keep_alive(&parser_) != 0 && parser_.upgrade == 0;
  result->http10 = parser_.http_major == 1 && parser_.http_minor == 0;
  if (!result->keep_alive) finished_ = true;
  request_ = HttpRequest();
  url_.clear();
  field_.clear();
  value_.clear();
  in_value_ = false;
  in_message_ = false;
  headers_done_ = false;
  header_bytes_ = 0;
}

HttpRequestParser::Result HttpRequestParser::Fail(int status, std::string message) {
  finished_ = true;
  input_.clear();
  parsed_ = 0;
  Result result;
  result.kind = Result::Kind::kError;
  result.status = status;
  result.message = std::move(message);
  return result;
}

void HttpRequestParser::CommitHeader() {
  if (field_.empty()) return;
  absl::AsciiStrToLower(&field_);
  absl::string_view value = absl::StripTrailingAsciiWhitespace(value_);
  auto [it, inserted] = request_.headers.try_emplace(field_, value);
  if (!inserted) absl::StrAppend(&it->second, ", ", value);
  field_.clear();
  value_.clear();
}

int HttpRequestParser::OnMessageBegin(http_parser* parser) {
  Self(parser)->in_message_ = true;
  return 0;
}

int HttpRequestParser::OnUrl(http_parser* parser, const char* at, size_t length) {
  absl::StrAppend(&Self(parser)->url_, absl::string_view(at, length));
  return 0;
}

int HttpRequestParser::OnHeaderField(http_parser* parser, const char* at, size_t length) {
  HttpRequestParser* self = Self(parser);
  // http-parser may hand a name or value over in pieces: a name after a value starts a header.
  if (self->in_value_) {
    self->CommitHeader();
    self->in_value_ = false;
  }
  absl::StrAppend(&self->field_, absl::string_view(at, length));
  return 0;
}

int HttpRequestParser::OnHeaderValue(http_parser* parser, const char* at, size_t length) {
  HttpRequestParser* self = Self(parser);
  self->in_value_ = true;
  absl::StrAppend(&self->value_, absl::string_view(at, length));
  return 0;
}

int HttpRequestParser::OnHeadersComplete(http_parser* parser) {
  HttpRequestParser* self = Self(parser);
  self->CommitHeader();
  self->in_value_ = false;
  self->event_ = Event::kHeadersComplete;
  http_parser_pause(parser, 1);
  return 0;
}

int HttpRequestParser::OnBody(http_parser* parser, const char* at, size_t length) {
  HttpRequestParser* self = Self(parser);
  // Content-Length was checked against the limit already; this holds whatever the framing.
  if (self->request_.body.size() + length > self->limits_.max_body_bytes) {
    self->refusal_status_ = 413;
    self->refusal_message_ = "request body too large";
    return 1;
  }
  absl::StrAppend(&self->request_.body, absl::string_view(at, length));
  return 0;
}

int HttpRequestParser::OnMessageComplete(http_parser* parser) {
  Self(parser)->event_ = Event::kMessageComplete;
  http_parser_pause(parser, 1);
  return 0;
}

}  // namespace volley::http
