#include "engine/http/http_message.h"

#include <string>

#include "gtest/gtest.h"

namespace volley::http {
namespace {

TEST(ReasonPhraseTest, EveryStatusTheServerSendsHasItsPhrase) {
  // The server's own answers (router, parser, connection limit, a handler that did not answer)
  // and what Volley's handlers send.
  struct Case {
    int status;
    const char* phrase;
  };
  for (const Case& c : {
           Case{200, "OK"},
           Case{201, "Created"},
           Case{202, "Accepted"},
           Case{204, "No Content"},
           Case{400, "Bad Request"},
           Case{401, "Unauthorized"},
           Case{403, "Forbidden"},
           Case{404, "Not Found"},
           Case{405, "Method Not Allowed"},
           Case{408, "Request Timeout"},
           Case{409, "Conflict"},
           Case{411, "Length Required"},
           Case{413, "Payload Too Large"},
           Case{414, "URI Too Long"},
           Case{429, "Too Many Requests"},
           Case{431, "Request Header Fields Too Large"},
           Case{500, "Internal Server Error"},
           Case{501, "Not Implemented"},
           Case{503, "Service Unavailable"},
           Case{505, "HTTP Version Not Supported"},
           Case{507, "Insufficient Storage"},
       }) {
    EXPECT_EQ(ReasonPhrase(c.status), c.phrase) << c.status;
  }
}

TEST(ReasonPhraseTest, EveryCodeFrom100To599HasOne) {
  for (int status = 100; status <= 599; ++status) {
    EXPECT_FALSE(ReasonPhrase(status).empty()) << status;
    EXPECT_NE(ReasonPhrase(status)[0], '<') << status;
  }
  EXPECT_EQ(ReasonPhrase(299), "Success");
  EXPECT_EQ(ReasonPhrase(418), "Client Error");
  EXPECT_EQ(ReasonPhrase(599), "Server Error");
  EXPECT_EQ(ReasonPhrase(99), "");
  EXPECT_EQ(ReasonPhrase(600), "");
}

TEST(SerializeResponseTest, StatusLineHeadersAndBody) {
  HttpResponse r = HttpResponse::Json(201, "{}");
  r.headers.emplace_back("Location", "/x");
  EXPECT_EQ(SerializeResponse(r, {}),
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
            "Location: /x\r\n\r\n{}");
}

TEST(SerializeResponseTest, ConnectionHeaders) {
  HttpResponse r = HttpResponse::Text(200, "ok");
  EXPECT_EQ(SerializeResponse(r, {.close = true}),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n"
            "Connection: close\r\n\r\nok");
  EXPECT_EQ(SerializeResponse(r, {.keep_alive_header = true}),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n"
            "Connection: keep-alive\r\n\r\nok");
  // Closing wins.
  EXPECT_EQ(SerializeResponse(r, {.close = true, .keep_alive_header = true}).find("keep-alive"),
            std::string::npos);
}

TEST(SerializeResponseTest, HeadKeepsTheLengthAndDropsTheBody) {
  EXPECT_EQ(SerializeResponse(HttpResponse::Text(200, "hello"), {.omit_body = true}),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n"
            "\r\n");
}

TEST(SerializeResponseTest, NoContentHasNoBodyOrLength) {
  EXPECT_EQ(SerializeResponse(HttpResponse::Text(204, "ignored"), {}),
            "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST(SerializeResponseTest, AStatusThatIsNotFinalGoesOutAs500) {
  for (int status : {0, 42, 100, 101, 199, 600, -1}) {
    const std::string bytes = SerializeResponse(HttpResponse::Text(status, "x"), {});
    EXPECT_EQ(bytes.rfind("HTTP/1.1 500 Internal Server Error\r\n", 0), 0u) << status;
  }
}

}  // namespace
}  // namespace volley::http
