#include "engine/http/query.h"

#include "gtest/gtest.h"

namespace volley::http {
namespace {

TEST(QueryParam, FindsAndDecodesTheFirstValue) {
  auto site = QueryParam("x=1&site=mx1.example.com%2Cmx2.example.com&site=second", "site");
  ASSERT_TRUE(site.ok()) << site.status();
  EXPECT_EQ(site->value_or("?"), "mx1.example.com,mx2.example.com");
  auto spaced = QueryParam("reason=over+quota%21", "reason");
  ASSERT_TRUE(spaced.ok());
  EXPECT_EQ(spaced->value_or("?"), "over quota!");
}

TEST(QueryParam, AbsentEmptyAndWithoutValue) {
  auto absent = QueryParam("a=1&b=2", "site");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
  auto none = QueryParam("", "site");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto bare = QueryParam("site", "site");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->value_or("?"), "");
}

TEST(QueryParam, MalformedEscapesAreErrors) {
  for (const char* query : {"site=%G1", "site=abc%", "site=abc%4"}) {
    auto result = QueryParam(query, "site");
    EXPECT_FALSE(result.ok()) << query;
    EXPECT_NE(result.status().message().find("'site'"), absl::string_view::npos) << query;
  }
}

}  // namespace
}  // namespace volley::http
