#include "engine/http/http_request_parser.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace volley::http {
namespace {

using Kind = HttpRequestParser::Result::Kind;

// Three pipelined requests: a GET with a query, a POST with a body, and a last one that closes.
constexpr char kPipelined[] =
    "GET /hello?x=1&y=2 HTTP/1.1\r\nHost: a\r\nX-Mixed-Case: Value  \r\n\r\n"
    "POST /echo HTTP/1.1\r\nContent-Length: 7\r\nContent-Type: application/json\r\n\r\n{\"a\":1}"
    "GET /bye HTTP/1.1\r\nConnection: close\r\n\r\n";

// The requests in `results`, one line each, for comparing whole parses.
std::string Describe(const std::vector<HttpRequestParser::Result>& results) {
  std::string out;
  for (const HttpRequestParser::Result& r : results) {
    if (r.kind == Kind::kError) {
      absl::StrAppend(&out, "error ", r.status, "\n");
      continue;
    }
    absl::StrAppend(&out, r.request.method, " ", r.request.path, " q=", r.request.query,
                    " host=", r.request.Header("host"), " body=", r.request.body,
                    " keep_alive=", r.keep_alive, " headers=", r.request.headers.size(), "\n");
  }
  return out;
}

// Feeds `pieces` one after the other, taking every request after each.
std::vector<HttpRequestParser::Result> ParsePieces(const std::vector<std::string>& pieces,
                                                   const RequestLimits& limits = {}) {
  HttpRequestParser parser(limits);
  std::vector<HttpRequestParser::Result> results;
  for (const std::string& piece : pieces) {
    parser.Feed(piece);
    while (true) {
      HttpRequestParser::Result r = parser.Next();
      if (r.kind == Kind::kNeedMore) break;
      results.push_back(std::move(r));
    }
  }
  return results;
}

HttpRequestParser::Result ParseOne(const std::string& bytes, const RequestLimits& limits = {}) {
  HttpRequestParser parser(limits);
  parser.Feed(bytes);
  return parser.Next();
}

TEST(HttpRequestParserTest, ParsesMethodPathQueryHeadersAndBody) {
  std::vector<HttpRequestParser::Result> results = ParsePieces({kPipelined});
  ASSERT_EQ(results.size(), 3u);
  const HttpRequest& get = results[0].request;
  EXPECT_EQ(get.method, "GET");
  EXPECT_EQ(get.path, "/hello");
  EXPECT_EQ(get.query, "x=1&y=2");
  EXPECT_EQ(get.Header("host"), "a");
  // Names are lower-cased; the value keeps its case and loses the trailing blanks.
  EXPECT_EQ(get.Header("x-mixed-case"), "Value");
  EXPECT_EQ(get.Header("X-Mixed-Case"), "");
  EXPECT_TRUE(get.body.empty());
  EXPECT_TRUE(results[0].keep_alive);
  EXPECT_FALSE(results[0].http10);
  const HttpRequest& post = results[1].request;
  EXPECT_EQ(post.method, "POST");
  EXPECT_EQ(post.path, "/echo");
  EXPECT_EQ(post.query, "");
  EXPECT_EQ(post.body, "{\"a\":1}");
  EXPECT_EQ(post.Header("content-type"), "application/json");
  EXPECT_TRUE(results[1].keep_alive);
  EXPECT_EQ(results[2].request.path, "/bye");
  EXPECT_FALSE(results[2].keep_alive);
}

TEST(HttpRequestParserTest, PipelinedRequestsComeOutOneAtATime) {
  HttpRequestParser parser(RequestLimits{});
  const std::string all = kPipelined;
  parser.Feed(all);
  HttpRequestParser::Result first = parser.Next();
  ASSERT_EQ(first.kind, Kind::kRequest);
  EXPECT_EQ(first.request.path, "/hello");
  // The other two wait, unparsed, until asked for.
  const size_t first_length = all.find("POST");
  EXPECT_EQ(parser.buffered_bytes(), all.size() - first_length);
  HttpRequestParser::Result second = parser.Next();
  ASSERT_EQ(second.kind, Kind::kRequest);
  EXPECT_EQ(second.request.path, "/echo");
  HttpRequestParser::Result third = parser.Next();
  ASSERT_EQ(third.kind, Kind::kRequest);
  EXPECT_EQ(third.request.path, "/bye");
  EXPECT_EQ(parser.buffered_bytes(), 0u);
  EXPECT_TRUE(parser.finished());
  EXPECT_EQ(parser.Next().kind, Kind::kNeedMore);
}

TEST(HttpRequestParserTest, SplitAtEveryByteParsesTheSame) {
  const std::string all = kPipelined;
  const std::string whole = Describe(ParsePieces({all}));
  ASSERT_EQ(whole.find("error"), std::string::npos) << whole;
  for (size_t split = 0; split <= all.size(); ++split) {
    EXPECT_EQ(Describe(ParsePieces({all.substr(0, split), all.substr(split)})), whole)
        << "split at " << split;
  }
  std::vector<std::string> bytes;
  for (char c : all) bytes.push_back(std::string(1, c));
  EXPECT_EQ(Describe(ParsePieces(bytes)), whole);
}

TEST(HttpRequestParserTest, AnIncompleteRequestNeedsMore) {
  HttpRequestParser parser(RequestLimits{});
  parser.Feed("POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nab");
  EXPECT_EQ(parser.Next().kind, Kind::kNeedMore);
  EXPECT_TRUE(parser.in_request());
  parser.Feed("cde");
  HttpRequestParser::Result r = parser.Next();
  ASSERT_EQ(r.kind, Kind::kRequest);
  EXPECT_EQ(r.request.body, "abcde");
  EXPECT_FALSE(parser.in_request());
}

TEST(HttpRequestParserTest, HeaderLimitIsTheRequestLineAndHeadersWithLineEnds) {
  const std::string request = "GET /a HTTP/1.1\r\nX-Pad: 0123456789\r\n\r\n";
  RequestLimits exact{.max_header_bytes = request.size()};
  HttpRequestParser::Result at_limit = ParseOne(request, exact);
  EXPECT_EQ(at_limit.kind, Kind::kRequest);
  RequestLimits one_less{.max_header_bytes = request.size() - 1};
  HttpRequestParser::Result over = ParseOne(request, one_less);
  EXPECT_EQ(over.kind, Kind::kError);
  EXPECT_EQ(over.status, 431);
}

TEST(HttpRequestParserTest, EndlessHeadersAreRefusedBeforeTheyEnd) {
  HttpRequestParser parser(RequestLimits{.max_header_bytes = 1024});
  parser.Feed("GET /a HTTP/1.1\r\n");
  HttpRequestParser::Result r;
  for (int i = 0; i < 100 && r.kind == Kind::kNeedMore; ++i) {
    parser.Feed("X-Pad: 0123456789012345678901234567890123456789\r\n");
    r = parser.Next();
  }
  EXPECT_EQ(r.kind, Kind::kError);
  EXPECT_EQ(r.status, 431);
  EXPECT_TRUE(parser.finished());
}

TEST(HttpRequestParserTest, BodyLimitIsCheckedOnContentLengthBeforeTheBody) {
  RequestLimits limits{.max_body_bytes = 10};
  HttpRequestParser::Result at_limit =
      ParseOne("POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", limits);
  ASSERT_EQ(at_limit.kind, Kind::kRequest);
  EXPECT_EQ(at_limit.request.body, "0123456789");
  // No body byte has arrived: the announcement is enough.
  HttpRequestParser::Result over =
      ParseOne("POST /a HTTP/1.1\r\nContent-Length: 11\r\n\r\n", limits);
  EXPECT_EQ(over.kind, Kind::kError);
  EXPECT_EQ(over.status, 413);
  HttpRequestParser::Result huge =
      ParseOne("POST /a HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n");
  EXPECT_EQ(huge.status, 413);
}

TEST(HttpRequestParserTest, ChunkedBodiesAreRefusedWith411) {
  HttpRequestParser::Result r =
      ParseOne("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  EXPECT_EQ(r.kind, Kind::kError);
  EXPECT_EQ(r.status, 411);
}

TEST(HttpRequestParserTest, MalformedRequestsGet400) {
  for (const char* bad : {
           "garbage\r\n\r\n",
           "GET /a HTTP/1.1 extra\r\n\r\n",
           "GET /a XTTP/1.1\r\n\r\n",
           "GET /a HTTP/1.x\r\n\r\n",
           "GET\r\n\r\n",
           "GET /a b HTTP/1.1\r\n\r\n",
           "GET /a HTTP/1.1\r\nNo colon here\r\n\r\n",
           "POST /a HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
           "POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
       }) {
    HttpRequestParser::Result r = ParseOne(bad);
    EXPECT_EQ(r.kind, Kind::kError) << bad;
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_FALSE(r.message.empty()) << bad;
  }
}

TEST(HttpRequestParserTest, OnlyHttp1IsServed) {
  // HTTP/2 has its own framing; a request line without a version is HTTP/0.9.
  for (const char* other : {"GET /a HTTP/2.0\r\n\r\n", "GET /a\r\n\r\n"}) {
    HttpRequestParser::Result r = ParseOne(other);
    EXPECT_EQ(r.kind, Kind::kError) << other;
    EXPECT_EQ(r.status, 505) << other;
  }
}

TEST(HttpRequestParserTest, AnErrorAfterAGoodRequestComesAfterIt) {
  HttpRequestParser parser(RequestLimits{});
  parser.Feed("GET /a HTTP/1.1\r\n\r\ngarbage\r\n\r\n");
  HttpRequestParser::Result first = parser.Next();
  ASSERT_EQ(first.kind, Kind::kRequest);
  EXPECT_EQ(first.request.path, "/a");
  HttpRequestParser::Result second = parser.Next();
  EXPECT_EQ(second.kind, Kind::kError);
  EXPECT_EQ(second.status, 400);
  EXPECT_TRUE(parser.finished());
  EXPECT_EQ(parser.Next().kind, Kind::kNeedMore);
}

TEST(HttpRequestParserTest, KeepAliveRules) {
  struct Case {
    const char* request;
    bool keep_alive;
    bool http10;
  };
  for (const Case& c : {
           Case{"GET / HTTP/1.1\r\n\r\n", true, false},
           Case{"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false, false},
           Case{"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", false, false},
           Case{"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", true, false},
           Case{"GET / HTTP/1.0\r\n\r\n", false, true},
           Case{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true, true},
           Case{"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true, true},
           Case{"GET / HTTP/1.0\r\nConnection: close\r\n\r\n", false, true},
       }) {
    HttpRequestParser parser(RequestLimits{});
    parser.Feed(c.request);
    HttpRequestParser::Result r = parser.Next();
    ASSERT_EQ(r.kind, Kind::kRequest) << c.request;
    EXPECT_EQ(r.keep_alive, c.keep_alive) << c.request;
    EXPECT_EQ(r.http10, c.http10) << c.request;
    EXPECT_EQ(parser.finished(), !c.keep_alive) << c.request;
  }
}

TEST(HttpRequestParserTest, NothingIsParsedAfterTheLastRequest) {
  HttpRequestParser parser(RequestLimits{});
  parser.Feed("GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  HttpRequestParser::Result r = parser.Next();
  ASSERT_EQ(r.kind, Kind::kRequest);
  EXPECT_FALSE(r.keep_alive);
  EXPECT_EQ(parser.Next().kind, Kind::kNeedMore);
  parser.Feed("GET /c HTTP/1.1\r\n\r\n");
  EXPECT_EQ(parser.Next().kind, Kind::kNeedMore);
}

TEST(HttpRequestParserTest, RepeatedHeadersAreJoined) {
  HttpRequestParser::Result r =
      ParseOne("GET / HTTP/1.1\r\nAccept: text/plain\r\naccept: application/json\r\n\r\n");
  ASSERT_EQ(r.kind, Kind::kRequest);
  EXPECT_EQ(r.request.Header("accept"), "text/plain, application/json");
}

TEST(HttpRequestParserTest, TargetForms) {
  HttpRequestParser::Result absolute =
      ParseOne("GET http://host:8025/metrics?a=b HTTP/1.1\r\n\r\n");
  ASSERT_EQ(absolute.kind, Kind::kRequest);
  EXPECT_EQ(absolute.request.path, "/metrics");
  EXPECT_EQ(absolute.request.query, "a=b");
  HttpRequestParser::Result root = ParseOne("GET http://host HTTP/1.1\r\n\r\n");
  ASSERT_EQ(root.kind, Kind::kRequest);
  EXPECT_EQ(root.request.path, "/");
  HttpRequestParser::Result star = ParseOne("OPTIONS * HTTP/1.1\r\n\r\n");
  ASSERT_EQ(star.kind, Kind::kRequest);
  EXPECT_EQ(star.request.method, "OPTIONS");
  EXPECT_EQ(star.request.path, "*");
  // The fragment is not the server's business.
  HttpRequestParser::Result fragment = ParseOne("GET /a?b=c#d HTTP/1.1\r\n\r\n");
  ASSERT_EQ(fragment.kind, Kind::kRequest);
  EXPECT_EQ(fragment.request.path, "/a");
  EXPECT_EQ(fragment.request.query, "b=c");
}

TEST(HttpRequestParserTest, BlankLinesBetweenRequestsAreSkipped) {
  std::vector<HttpRequestParser::Result> results =
      ParsePieces({"GET /a HTTP/1.1\r\n\r\n\r\n\r\nGET /b HTTP/1.1\r\n\r\n"});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[1].request.path, "/b");
}

}  // namespace
}  // namespace volley::http
