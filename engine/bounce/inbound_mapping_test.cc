#include "engine/bounce/inbound_mapping.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/bounce/testdata/inbound_sample.h"
#include "gtest/gtest.h"

namespace volley::bounce {
namespace {

const VerpCodec kCodec("bounces.example.net", "key");

TEST(InboundMapping, AVerpAddressNamesTheMessageAndTheRecipient) {
  const std::string verp = kCodec.Encode("00000000000004d2", "someone@gmail.com");
  const std::string text = absl::StrReplaceAll(
      InboundSampleCrlf("gmail_nouser.eml"),
      {{"b-00000000000004d2-someone=gmail.com-000000000000@bounces.example.net", verp}});
  const std::vector<InboundOutcome> out = MapInbound(ParseInboundReport(text), {verp}, &kCodec);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].feedback);
  EXPECT_EQ(out[0].queue_id, "00000000000004d2");
  EXPECT_EQ(out[0].recipient, "someone@gmail.com");
  EXPECT_EQ(out[0].mapped_by, "verp");
  EXPECT_EQ(out[0].code, 550);
  EXPECT_EQ(out[0].enhanced, "5.1.1");
  EXPECT_TRUE(out[0].permanent);
  EXPECT_FALSE(out[0].forged);
}

TEST(InboundMapping, AForgedVerpAddressIsMarkedAndNothingElseIsTrusted) {
  // The sample's signature is zeros: not one Volley made.
  const std::string verp = "b-00000000000004d2-someone=gmail.com-000000000000@bounces.example.net";
  const std::vector<InboundOutcome> out =
      MapInbound(ParseInboundReport(InboundSampleCrlf("gmail_nouser.eml")), {verp}, &kCodec);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].forged);
  EXPECT_EQ(out[0].queue_id, "");
  EXPECT_EQ(out[0].recipient, "");
}

TEST(InboundMapping, WithoutVerpTheReturnedMessageIdOrReceivedHeaderFindsIt) {
  // Exchange's NDR came to the sender's own address: its returned Message-ID is Volley's.
  std::vector<InboundOutcome> out = MapInbound(
      ParseInboundReport(InboundSampleCrlf("exchange_ndr.eml")), {"news@example.org"}, &kCodec);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].queue_id, "00000000000010e1");
  EXPECT_EQ(out[0].mapped_by, "message-id");
  EXPECT_EQ(out[0].recipient, "gone@contoso.com");
  EXPECT_EQ(out[0].code, 550);
  EXPECT_EQ(out[0].enhanced, "5.1.10");
  // Only Volley's Received header left to go by.
  const std::string received_only = absl::StrReplaceAll(
      InboundSampleCrlf("exchange_ndr.eml"),
      {{"Message-ID: <00000000000010e1@mta1.example.net>", "Message-ID: <x@y>"}});
  out = MapInbound(ParseInboundReport(received_only), {}, nullptr);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].queue_id, "00000000000010e1");
  EXPECT_EQ(out[0].mapped_by, "received");
}

TEST(InboundMapping, AComplaintMapsThroughTheVerpReturnPathItQuotes) {
  const std::string verp = kCodec.Encode("0000000000002a2a", "reader@yahoo.com");
  const std::string text = absl::StrReplaceAll(
      InboundSampleCrlf("yahoo_fbl.eml"),
      {{"b-0000000000002a2a-reader=yahoo.com-000000000000@bounces.example.net", verp}});
  const std::vector<InboundOutcome> out =
      MapInbound(ParseInboundReport(text), {"fbl@bounces.example.net"}, &kCodec);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].feedback);
  EXPECT_EQ(out[0].queue_id, "0000000000002a2a");
  EXPECT_EQ(out[0].recipient, "reader@yahoo.com");
  EXPECT_EQ(out[0].mapped_by, "verp");
  EXPECT_EQ(out[0].text, "Feedback-Type: abuse");
}

TEST(InboundMapping, DelayedRecipientsAreReportedAndDeliveredOnesAreNot) {
  const std::vector<InboundOutcome> out =
      MapInbound(ParseInboundReport(InboundSampleCrlf("rfc3464_multi.eml")), {}, nullptr);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[0].permanent);
  EXPECT_FALSE(out[1].permanent);  // delayed
  EXPECT_EQ(out[1].code, 450);
  EXPECT_EQ(out[0].queue_id, "");  // not one of Volley's messages
}

TEST(InboundMapping, UnparsedMailIsOneOobRecordMarkedSo) {
  const std::string verp = kCodec.Encode("00000000000004d2", "someone@example.org");
  const std::vector<InboundOutcome> out =
      MapInbound(ParseInboundReport(InboundSampleCrlf("qmail_plain.eml")), {verp}, &kCodec);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].permanent);
  EXPECT_EQ(out[0].recipient, "someone@example.org");
  EXPECT_EQ(out[0].text, "unparsed: not a delivery report or a feedback report");
}

}  // namespace
}  // namespace volley::bounce
