// An incremental HTTP/1.x request parser over Debian's http-parser: bytes go in as they arrive
// from the socket, in pieces of any size, and whole requests come out one at a time.
#ifndef VOLLEY_ENGINE_HTTP_HTTP_REQUEST_PARSER_H_
#define VOLLEY_ENGINE_HTTP_HTTP_REQUEST_PARSER_H_

#include <http_parser.h>

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/http/http_message.h"

namespace volley::http {

struct RequestLimits {
  // The request line and the headers, with their line ends. More is answered with 431.
  // http-parser itself stops at 80 KiB of headers, so a larger limit acts as 80 KiB.
  size_t max_header_bytes = 16 * 1024;
  // The body (Content-Length). More is answered with 413 as soon as the headers announce it.
  size_t max_body_bytes = 32ull << 20;
};

// Parses the requests of one connection, in order. Pipelined requests stay buffered until
// Next is called again, so that a server answers one request at a time.
//
// Bodies need Content-Length: a request with Transfer-Encoding (chunked) is answered with 411,
// as curl and every client Volley serves can send Content-Length, and refusing keeps the body
// limit a check on one number made before any body byte is read.
//
// Not thread-safe; one connection's thread (the loop's) uses it. Not movable: http-parser's
// state points back at the object.
class HttpRequestParser {
 public:
  // What Next found.
  struct Result {
    enum class Kind {
      kNeedMore,  // no complete request yet: Feed more bytes
      kRequest,   // `request` is complete
      kError,     // the connection's input is unusable: answer `status` and close
    };
    Kind kind = Kind::kNeedMore;
    HttpRequest request;
    // kRequest: the connection may carry another request (http_should_keep_alive: HTTP/1.1
    // unless "Connection: close", HTTP/1.0 only with "Connection: keep-alive").
    bool keep_alive = false;
    // kRequest: the request said HTTP/1.0 (a kept-alive answer needs "Connection: keep-alive").
    bool http10 = false;
    // kError: 400 (malformed), 411 (Transfer-Encoding), 413 (body too large), 414 (request
    // target too long), 431 (headers too large); `message` says why in a few words.
    int status = 0;
    std::string message;
  };

  explicit HttpRequestParser(const RequestLimits& limits);
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // Appends bytes received from the peer; Next parses them. Ignored once finished().
  void Feed(absl::string_view bytes);

  // Parses what was fed up to the end of the next request. After an error, or a request that is
  // not keep-alive, the parser is finished: later calls return kNeedMore and parse nothing.
  Result Next();

  // No request can follow (an error, or the last request of the connection was returned).
  bool finished() const { return finished_; }
  // Fed bytes not parsed yet: pipelined requests after the one Next returned.
  size_t buffered_bytes() const { return input_.size() - parsed_; }
  // A request is partly parsed (its first bytes arrived, its end did not).
  bool in_request() const { return in_message_; }

 private:
  // Where the message being parsed is.
  enum class Event { kNone, kHeadersComplete, kMessageComplete };

  static int OnMessageBegin(http_parser* parser);
  static int OnUrl(http_parser* parser, const char* at, size_t length);
  static int OnHeaderField(http_parser* parser, const char* at, size_t length);
  static int OnHeaderValue(http_parser* parser, const char* at, size_t length);
  static int OnHeadersComplete(http_parser* parser);
  static int OnBody(http_parser* parser, const char* at, size_t length);
  static int OnMessageComplete(http_parser* parser);
  static const http_parser_settings& Settings();

  // The checks made once the headers are in; false with `result` filled on an error.
  bool CheckHeaders(Result* result);
  // Moves the finished message into `result`.
  void TakeRequest(Result* result);
  void CommitHeader();
  Result Fail(int status, std::string message);

  RequestLimits limits_;
  http_parser parser_;
  std::string input_;  // bytes fed; those before parsed_ are consumed
  size_t parsed_ = 0;
  bool finished_ = false;
  bool in_message_ = false;
  Event event_ = Event::kNone;
  bool headers_done_ = false;  // of the message being parsed
  size_t header_bytes_ = 0;    // of the message being parsed, so far
  // Set by a callback that refuses the message (its return value stops http-parser).
  int refusal_status_ = 0;
  std::string refusal_message_;

  // The message being parsed.
  std::string url_;
  std::string field_;
  std::string value_;
  bool in_value_ = false;  // the last header callback was for a value
  HttpRequest request_;
};

}  // namespace volley::http

#endif  // VOLLEY_ENGINE_HTTP_HTTP_REQUEST_PARSER_H_
