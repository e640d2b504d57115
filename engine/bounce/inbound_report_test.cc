#include "engine/bounce/inbound_report.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/bounce/testdata/inbound_sample.h"
#include "gtest/gtest.h"

namespace volley::bounce {
namespace {

// The samples are stored with LF; mail arrives with CRLF. Both must read the same.
TEST(InboundReport, Rfc3464FailedDelivery) {
  for (const std::string& text :
       {InboundSample("rfc3464_failed.eml"), InboundSampleCrlf("rfc3464_failed.eml")}) {
    const InboundReport r = ParseInboundReport(text);
    ASSERT_EQ(r.kind, InboundReport::Kind::kDsn) << r.unparsed_reason;
    EXPECT_EQ(r.reporting_mta, "cs.utk.edu");
    ASSERT_EQ(r.recipients.size(), 1u);
    EXPECT_EQ(r.recipients[0].address, "louisl@larry.slip.umd.edu");
    EXPECT_EQ(r.recipients[0].original, "louisl@larry.slip.umd.edu");
    EXPECT_EQ(r.recipients[0].action, "failed");
    EXPECT_EQ(r.recipients[0].status, "4.0.0");
    EXPECT_EQ(r.recipients[0].diagnostic, "426 connection timed out");
  }
}

TEST(InboundReport, Rfc3464SeveralRecipientsWithCommentsAndFolding) {
  const InboundReport r = ParseInboundReport(InboundSample("rfc3464_multi.eml"));
  ASSERT_EQ(r.kind, InboundReport::Kind::kDsn) << r.unparsed_reason;
  ASSERT_EQ(r.recipients.size(), 3u);
  EXPECT_EQ(r.recipients[0].status, "5.0.0");  // "(permanent failure)" dropped
  EXPECT_EQ(r.recipients[0].diagnostic,
            "550 'arathib@vnet.IBM.COM' is not a registered gateway user");
  EXPECT_EQ(r.recipients[0].remote_mta, "vnet.ibm.com");
  EXPECT_EQ(r.recipients[1].action, "delayed");
  EXPECT_EQ(r.recipients[2].address, "wsnell@sdcc13.ucsd.edu");
}

TEST(InboundReport, GmailNoSuchUserWithTheReturnedHeaders) {
  const InboundReport r = ParseInboundReport(InboundSampleCrlf("gmail_nouser.eml"));
  ASSERT_EQ(r.kind, InboundReport::Kind::kDsn) << r.unparsed_reason;
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].address, "someone@gmail.com");
  EXPECT_EQ(r.recipients[0].status, "5.1.1");
  EXPECT_EQ(r.recipients[0].diagnostic.substr(0, 9), "550-5.1.1");
  EXPECT_EQ(r.OriginalHeader("Message-ID"), "<00000000000004d2@mta1.example.net>");
  EXPECT_EQ(r.OriginalHeader("subject"), "Our December issue");
}

TEST(InboundReport, ExchangeNdrWithTheWholeOriginal) {
  const InboundReport r = ParseInboundReport(InboundSampleCrlf("exchange_ndr.eml"));
  ASSERT_EQ(r.kind, InboundReport::Kind::kDsn) << r.unparsed_reason;
  EXPECT_EQ(r.recipients[0].status, "5.1.10");
  EXPECT_EQ(r.OriginalHeader("Message-ID"), "<00000000000010e1@mta1.example.net>");
}

TEST(InboundReport, Rfc5965AbuseReport) {
  const InboundReport r = ParseInboundReport(InboundSampleCrlf("rfc5965_abuse.eml"));
  ASSERT_EQ(r.kind, InboundReport::Kind::kFeedback) << r.unparsed_reason;
  EXPECT_EQ(r.feedback_type, "abuse");
  EXPECT_EQ(r.user_agent, "SomeGenerator/1.0");
  EXPECT_EQ(r.source_ip, "192.0.2.1");
  EXPECT_EQ(r.original_mail_from, "somespammer@example.net");
  ASSERT_EQ(r.original_rcpt_to.size(), 1u);
  EXPECT_EQ(r.original_rcpt_to[0], "user@example.com");
  EXPECT_EQ(r.OriginalHeader("Subject"), "Earn money");
}

TEST(InboundReport, YahooComplaintFeedbackLoop) {
  const InboundReport r = ParseInboundReport(InboundSampleCrlf("yahoo_fbl.eml"));
  ASSERT_EQ(r.kind, InboundReport::Kind::kFeedback) << r.unparsed_reason;
  EXPECT_EQ(r.original_rcpt_to, std::vector<std::string>{"reader@yahoo.com"});
  EXPECT_EQ(r.OriginalHeader("Message-ID"), "<0000000000002a2a@mta1.example.net>");
  EXPECT_EQ(r.OriginalHeader("Return-Path"),
            "<b-0000000000002a2a-reader=yahoo.com-000000000000@bounces.example.net>");
}

TEST(InboundReport, WhatIsNotAReportIsUnparsedWithItsReason) {
  InboundReport r = ParseInboundReport(InboundSample("qmail_plain.eml"));
  EXPECT_EQ(r.kind, InboundReport::Kind::kUnparsed);
  EXPECT_EQ(r.unparsed_reason, "not a delivery report or a feedback report");
  r = ParseInboundReport(InboundSampleCrlf("report_without_status.eml"));
  EXPECT_EQ(r.kind, InboundReport::Kind::kUnparsed);
  EXPECT_EQ(r.unparsed_reason, "a multipart/report without a delivery-status or feedback part");
  EXPECT_EQ(r.OriginalHeader("Message-ID"), "<abc@example.org>");
}

TEST(InboundReport, HostileInputNeverCrashes) {
  // Empty, binary, NUL octets, a boundary that never closes, absurd nesting.
  EXPECT_EQ(ParseInboundReport("").kind, InboundReport::Kind::kUnparsed);
  EXPECT_EQ(ParseInboundReport(std::string("\0\0\0\xff\xfe", 5)).kind,
            InboundReport::Kind::kUnparsed);
  std::string with_nul = InboundSampleCrlf("rfc3464_failed.eml");
  with_nul.insert(with_nul.find("Action:"), std::string("X-Junk: a\0b\r\n", 13));
  EXPECT_EQ(ParseInboundReport(with_nul).kind, InboundReport::Kind::kDsn);
  const std::string unclosed =
      "MIME-Version: 1.0\r\nContent-Type: multipart/report; boundary=\"B\"\r\n\r\n--B\r\n"
      "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
      "Final-Recipient: rfc822; a@b.test\r\nAction: failed\r\nStatus: 5.1.1\r\n";
  const InboundReport r = ParseInboundReport(unclosed);
  EXPECT_EQ(r.kind, InboundReport::Kind::kDsn);
  std::string nested = "MIME-Version: 1.0\r\n";
  for (int i = 0; i < 2000; ++i) {
    absl::StrAppend(&nested, "Content-Type: multipart/mixed; boundary=\"b", i, "\"\r\n\r\n--b", i,
                    "\r\n");
  }
  EXPECT_EQ(ParseInboundReport(nested).kind, InboundReport::Kind::kUnparsed);
  // A 10 MB attachment in a complaint: read, the attachment ignored.
  std::string big = InboundSampleCrlf("rfc5965_abuse.eml");
  const std::string attachment = absl::StrCat(
      "--part1_13d.2e68ed54_boundary\r\nContent-Type: application/octet-stream\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n",
      std::string(10 << 20, 'A'), "\r\n");
  big.insert(big.rfind("--part1_13d.2e68ed54_boundary--"), attachment);
  EXPECT_EQ(ParseInboundReport(big).kind, InboundReport::Kind::kFeedback);
}

}  // namespace
}  // namespace volley::bounce
