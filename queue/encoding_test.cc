#include "queue/encoding.h"

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace volley::queue {
namespace {

TEST(Encoding, FixedBigEndianSortsNumerically) {
  std::string a, b;
  PutFixed64BE(&a, 255);
  PutFixed64BE(&b, 256);
  EXPECT_LT(a, b);
  absl::string_view in = b;
  uint64_t v;
  ASSERT_TRUE(GetFixed64BE(&in, &v));
  EXPECT_EQ(v, 256u);
  EXPECT_TRUE(in.empty());
}

TEST(Encoding, VarintRoundTrip) {
  for (uint64_t value : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{300},
                         uint64_t{1} << 35, UINT64_MAX}) {
    std::string out;
    PutVarint64(&out, value);
    absl::string_view in = out;
    uint64_t decoded = 0;
    ASSERT_TRUE(GetVarint64(&in, &decoded)) << value;
    EXPECT_EQ(decoded, value);
    EXPECT_TRUE(in.empty());
  }
}

TEST(Encoding, TruncatedInputIsRejected) {
  std::string out;
  PutVarint64(&out, 1u << 20);
  absl::string_view in(out.data(), out.size() - 1);
  uint64_t v;
  EXPECT_FALSE(GetVarint64(&in, &v));

  std::string s;
  PutLengthPrefixed(&s, "hello");
  absl::string_view short_in(s.data(), s.size() - 1);
  std::string value;
  EXPECT_FALSE(GetLengthPrefixed(&short_in, &value));

  absl::string_view three("abc");
  uint32_t u;
  EXPECT_FALSE(GetFixed32BE(&three, &u));
}

TEST(Encoding, LengthPrefixedKeepsBinary) {
  std::string out;
  const std::string binary("a\0b\xff", 4);
  PutLengthPrefixed(&out, binary);
  PutLengthPrefixed(&out, "");
  absl::string_view in = out;
  std::string first, second;
  ASSERT_TRUE(GetLengthPrefixed(&in, &first));
  ASSERT_TRUE(GetLengthPrefixed(&in, &second));
  EXPECT_EQ(first, binary);
  EXPECT_EQ(second, "");
}

TEST(Encoding, QueueIdsFormatAndParse) {
  EXPECT_EQ(FormatQueueId(0x1234abcd), "000000001234abcd");
  EXPECT_EQ(ParseQueueId("000000001234abcd"), MessageId{0x1234abcd});
  EXPECT_EQ(ParseQueueId("1234"), std::nullopt);
  EXPECT_EQ(ParseQueueId("000000001234ABCD"), std::nullopt);
}

TEST(Encoding, RecordsRoundTrip) {
  MessageMeta meta;
  meta.id = 7;
  meta.sender = "sender@example.com";
  meta.created = absl::FromUnixMicros(1700000000123456);
  meta.size = 11;
  meta.num_recipients = 3;
  meta.message_id = "<m@example.com>";
  meta.smtputf8 = true;
  meta.dsn_ret = "HDRS";
  meta.dsn_envid = "QQ+2B314";
  meta.tenant = "acme";
  meta.campaign = "spring-2026";
  meta.priority = 8;
  meta.metadata = R"({"user_id":"u-1","n":[1,2],"s":"\u00e9\"q\""})";
  MessageMeta decoded;
  ASSERT_TRUE(DecodeMeta(7, EncodeMeta(meta), &decoded));
  EXPECT_EQ(decoded, meta);
  EXPECT_EQ(EncodeMeta(meta)[0], '\x03') << "the message record's current format byte";
  // None, none, the lowest priority (0 is not "unset") and no metadata survive too.
  meta.tenant.clear();
  meta.campaign.clear();
  meta.priority = 0;
  meta.metadata.clear();
  decoded.metadata = "stale";
  ASSERT_TRUE(DecodeMeta(7, EncodeMeta(meta), &decoded));
  EXPECT_EQ(decoded, meta);

  RecipientRecord r;
  r.index = 4;
  r.address = "a@b.c";
  r.attempts = 3;
  r.next_due = absl::FromUnixMicros(1800000000000000);
  r.last_response = "451 4.3.0 try later";
  r.dsn_notify = "SUCCESS,FAILURE";
  r.dsn_orcpt = "rfc822;a@b.c";
  r.delay_notified = true;
  RecipientRecord back;
  ASSERT_TRUE(DecodeRecipient(4, EncodeRecipient(r), &back));
  EXPECT_EQ(back, r);
  // A record from before the flags (it ends after the ORCPT) reads with none set.
  std::string old_record = EncodeRecipient(r);
  old_record.pop_back();
  ASSERT_TRUE(DecodeRecipient(4, old_record, &back));
  EXPECT_FALSE(back.delay_notified);
  EXPECT_EQ(back.dsn_orcpt, r.dsn_orcpt);

  RecipientRecord due_now;
  due_now.address = "x@y";
  ASSERT_TRUE(DecodeRecipient(0, EncodeRecipient(due_now), &back));
  EXPECT_EQ(back.next_due, absl::InfinitePast());

  EXPECT_FALSE(DecodeMeta(1, "", &decoded));
  EXPECT_FALSE(DecodeMeta(1, std::string("\x01\x80", 2), &decoded));
  EXPECT_FALSE(DecodeRecipient(1, "\x09", &back));
}

// A message record as volleyd wrote it before the tenant, campaign and priority existed (format
// byte 1), byte by byte, so that the test does not depend on today's encoder.
std::string FormatOneMeta() {
  std::string out = "\x01";
  PutVarint64(&out, 1700000000123456);  // created
  PutLengthPrefixed(&out, "old@example.com");
  PutVarint64(&out, 42);  // size
  PutVarint64(&out, 2);   // recipients
  PutLengthPrefixed(&out, "<old@example.com>");
  PutVarint64(&out, 1);  // flags: 8-bit
  PutLengthPrefixed(&out, "FULL");
  PutLengthPrefixed(&out, "env-1");
  return out;
}

TEST(Encoding, FormatOneMessageRecordsStillDecodeWithoutTags) {
  MessageMeta decoded;
  // Whatever the struct held before, an old record gives none, none and the default priority.
  decoded.tenant = "stale";
  decoded.campaign = "stale";
  decoded.priority = 9;
  ASSERT_TRUE(DecodeMeta(3, FormatOneMeta(), &decoded));
  EXPECT_EQ(decoded.id, 3u);
  EXPECT_EQ(decoded.created, absl::FromUnixMicros(1700000000123456));
  EXPECT_EQ(decoded.sender, "old@example.com");
  EXPECT_EQ(decoded.size, 42u);
  EXPECT_EQ(decoded.num_recipients, 2u);
  EXPECT_EQ(decoded.message_id, "<old@example.com>");
  EXPECT_TRUE(decoded.eight_bit);
  EXPECT_FALSE(decoded.smtputf8);
  EXPECT_EQ(decoded.dsn_ret, "FULL");
  EXPECT_EQ(decoded.dsn_envid, "env-1");
  EXPECT_EQ(decoded.tenant, "");
  EXPECT_EQ(decoded.campaign, "");
  EXPECT_EQ(decoded.priority, kDefaultPriority);
  EXPECT_EQ(kDefaultPriority, 5);
}

// A message record as volleyd wrote it before the metadata existed (format byte 2): format 1's
// fields, then the tenant, the campaign and the priority.
std::string FormatTwoMeta() {
  std::string out = FormatOneMeta();
  out[0] = '\x02';
  PutLengthPrefixed(&out, "acme");
  PutLengthPrefixed(&out, "spring-2026");
  PutVarint64(&out, 8);  // priority
  return out;
}

TEST(Encoding, FormatTwoMessageRecordsStillDecodeWithoutMetadata) {
  MessageMeta decoded;
  decoded.metadata = R"({"stale":true})";
  ASSERT_TRUE(DecodeMeta(4, FormatTwoMeta(), &decoded));
  EXPECT_EQ(decoded.id, 4u);
  EXPECT_EQ(decoded.sender, "old@example.com");
  EXPECT_EQ(decoded.message_id, "<old@example.com>");
  EXPECT_EQ(decoded.dsn_envid, "env-1");
  EXPECT_EQ(decoded.tenant, "acme");
  EXPECT_EQ(decoded.campaign, "spring-2026");
  EXPECT_EQ(decoded.priority, 8);
  EXPECT_EQ(decoded.metadata, "");
  // Re-encoded, it is a format 3 record that reads back the same.
  MessageMeta again;
  ASSERT_TRUE(DecodeMeta(4, EncodeMeta(decoded), &again));
  EXPECT_EQ(again, decoded);
}

TEST(Encoding, TruncatedOrUnknownMessageRecordsAreRejected) {
  MessageMeta meta;
  meta.tenant = "acme";
  meta.campaign = "c";
  meta.priority = 7;
  meta.metadata = R"({"k":"v"})";
  const std::string current = EncodeMeta(meta);
  MessageMeta decoded;
  // Format 2 without its tags (a format 1 body under the new byte) is corrupt, not "no tags".
  std::string v1_body_v2_byte = FormatOneMeta();
  v1_body_v2_byte[0] = '\x02';
  EXPECT_FALSE(DecodeMeta(1, v1_body_v2_byte, &decoded));
  // Likewise format 3 without its metadata is corrupt, not "no metadata".
  std::string v2_body_v3_byte = FormatTwoMeta();
  v2_body_v3_byte[0] = '\x03';
  EXPECT_FALSE(DecodeMeta(1, v2_body_v3_byte, &decoded));
  for (size_t cut = 1; cut < current.size(); ++cut) {
    EXPECT_FALSE(DecodeMeta(1, current.substr(0, current.size() - cut), &decoded)) << cut;
  }
  std::string future = current;
  future[0] = '\x04';
  EXPECT_FALSE(DecodeMeta(1, future, &decoded));
  // A priority that does not fit its byte.
  std::string wide = FormatTwoMeta();
  wide.pop_back();
  PutVarint64(&wide, 300);
  EXPECT_FALSE(DecodeMeta(1, wide, &decoded));
  wide[0] = '\x03';
  PutLengthPrefixed(&wide, "");
  EXPECT_FALSE(DecodeMeta(1, wide, &decoded));
}

TEST(Encoding, KeysSortByIdThenIndex) {
  EXPECT_LT(EncodeRecipientKey(1, 0xffffffff), EncodeRecipientKey(2, 0));
  EXPECT_LT(EncodeRecipientKey(2, 1), EncodeRecipientKey(2, 256));
  EXPECT_TRUE(EncodeRecipientKey(2, 7).starts_with(EncodeMessageKey(2)));
  EXPECT_LT(ScheduleKey::For(9, 0, absl::FromUnixSeconds(1)).Encode(),
            ScheduleKey::For(1, 0, absl::FromUnixSeconds(2)).Encode());
  ScheduleKey back;
  ASSERT_TRUE(ScheduleKey::Decode(ScheduleKey::For(3, 4, absl::InfinitePast()).Encode(), &back));
  EXPECT_EQ(back, (ScheduleKey{0, 3, 4}));
}

}  // namespace
}  // namespace volley::queue
