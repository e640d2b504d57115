#include "engine/base/json.h"

#include <string>

#include "gtest/gtest.h"

namespace volley {
namespace {

std::string Quote(absl::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

TEST(Json, EscapesControlQuotesAndBackslashes) {
  EXPECT_EQ(Quote("plain"), "\"plain\"");
  EXPECT_EQ(Quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Quote("l1\r\nl2\t"), "\"l1\\r\\nl2\\t\"");
  EXPECT_EQ(Quote(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
}

TEST(Json, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(Quote("caf\xc3\xa9 \xf0\x9f\x93\xa7"), "\"caf\xc3\xa9 \xf0\x9f\x93\xa7\"");
  EXPECT_EQ(Quote("bad\xff!"), "\"bad\xEF\xBF\xBD!\"");
  EXPECT_EQ(Quote("\xc3"), "\"\xEF\xBF\xBD\"");                  // truncated sequence
  EXPECT_EQ(Quote("\xc0\xaf"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");  // overlong encoding
  EXPECT_EQ(Quote("\xed\xa0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // surrogate
}

TEST(Json, ObjectWriterPlacesCommas) {
  std::string out;
  JsonObjectWriter w(&out);
  w.String("a", "x").Int("b", -2).BeginObject("c").Bool("d", true).Null("e").EndObject().Uint("f",
                                                                                              7);
  w.Finish();
  EXPECT_EQ(out, "{\"a\":\"x\",\"b\":-2,\"c\":{\"d\":true,\"e\":null},\"f\":7}");
}

TEST(Json, TimeOrNullWritesNullForInfiniteTimes) {
  std::string out;
  JsonObjectWriter(&out)
      .TimeOrNull("never", absl::InfiniteFuture())
      .TimeOrNull("not_yet", absl::InfinitePast())
      .TimeOrNull("at", absl::FromUnixSeconds(0))
      .Finish();
  EXPECT_EQ(out, R"({"never":null,"not_yet":null,"at":"1970-01-01T00:00:00.000000Z"})");
}

TEST(Json, EmptyNestedObject) {
  std::string out;
  JsonObjectWriter w(&out);
  w.BeginObject("o").EndObject().Double("d", 0.5);
  w.Finish();
  EXPECT_EQ(out, "{\"o\":{},\"d\":0.5}");
}

}  // namespace
TEST(Rfc3339, WritesUtcMicrosecondsAndReadsItBackWithAnyOffset) {
  const absl::Time t = absl::FromUnixMicros(1700000000123456);
  EXPECT_EQ(Rfc3339(t), "2023-11-14T22:13:20.123456Z");
  absl::Time back;
  ASSERT_TRUE(ParseRfc3339(Rfc3339(t), &back));
  EXPECT_EQ(back, t);
  ASSERT_TRUE(ParseRfc3339("2023-11-14T23:13:20+01:00", &back));
  EXPECT_EQ(back, absl::FromUnixSeconds(1700000000));
  EXPECT_FALSE(ParseRfc3339("yesterday", &back));
  EXPECT_FALSE(ParseRfc3339("2023-11-14", &back));
}

}  // namespace volley
