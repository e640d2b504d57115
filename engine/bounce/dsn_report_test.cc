#include "engine/bounce/dsn_report.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::bounce {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kOriginal[] =
    "Received: from client ([127.0.0.1])\r\n\tby mta.test (Volley)\r\n"
    "From: <s@sender.test>\r\nSubject: hello\r\nMessage-ID: <m1@sender.test>\r\n\r\n"
    "the secret body\r\n";

DsnReport Report() {
  DsnReport report;
  report.reporting_mta = "mta.test";
  report.to = "s@sender.test";
  report.queue_id = "00000000000000aa";
  report.envid = "campaign+2B7";
  report.arrival = absl::FromUnixSeconds(1800000000);
  report.now = absl::FromUnixSeconds(1800000060);
  report.original = kOriginal;
  DsnRecipient r;
  r.address = "gone@dest.test";
  r.orcpt = "rfc822;Gone+2Bx@dest.test";
  r.status = "5.1.1";
  r.remote_mta = "mx.dest.test";
  r.diagnostic = "550 5.1.1 No such user";
  r.explanation = "550 5.1.1 No such user";
  r.last_attempt = absl::FromUnixSeconds(1800000050);
  report.recipients.push_back(r);
  return report;
}

// The lines of the body part whose Content-Type is `type`, up to its boundary.
std::string PartOf(const std::string& dsn, absl::string_view type) {
  const size_t at = dsn.find(absl::StrCat("Content-Type: ", type));
  if (at == std::string::npos) return "";
  const size_t body = dsn.find("\r\n\r\n", at);
  const size_t end = dsn.find("\r\n--=_volley_dsn_", body);
  return dsn.substr(body + 4, end - body - 4);
}

TEST(DsnReport, AFailureCarriesThePerMessageAndPerRecipientFields) {
  const std::string dsn = BuildDsn(Report());
  EXPECT_THAT(dsn, HasSubstr("From: Mail Delivery System <MAILER-DAEMON@mta.test>\r\n"));
  EXPECT_THAT(dsn, HasSubstr("To: <s@sender.test>\r\n"));
  EXPECT_THAT(dsn, HasSubstr("Subject: Undelivered Mail Returned to Sender\r\n"));
  EXPECT_THAT(dsn, HasSubstr("Auto-Submitted: auto-replied\r\n"));
  EXPECT_THAT(dsn, HasSubstr("Content-Type: multipart/report; report-type=delivery-status;"));
  const std::string status = PartOf(dsn, "message/delivery-status");
  EXPECT_THAT(status, HasSubstr("Reporting-MTA: dns; mta.test\r\n"));
  EXPECT_THAT(status, HasSubstr("Original-Envelope-Id: campaign+7\r\n"));
  EXPECT_THAT(status, HasSubstr("Arrival-Date: Fri, 15 Jan 2027 08:00:00 +0000\r\n"));
  EXPECT_THAT(status, HasSubstr("\r\n\r\nFinal-Recipient: rfc822; gone@dest.test\r\n"));
  EXPECT_THAT(status, HasSubstr("Original-Recipient: rfc822; Gone+x@dest.test\r\n"));
  EXPECT_THAT(status, HasSubstr("Action: failed\r\nStatus: 5.1.1\r\n"));
  EXPECT_THAT(status, HasSubstr("Remote-MTA: dns; mx.dest.test\r\n"));
  EXPECT_THAT(status, HasSubstr("Diagnostic-Code: smtp; 550 5.1.1 No such user\r\n"));
  EXPECT_THAT(status, HasSubstr("Last-Attempt-Date: "));
  EXPECT_THAT(status, Not(HasSubstr("Will-Retry-Until")));
  EXPECT_THAT(PartOf(dsn, "text/plain"), HasSubstr("<gone@dest.test> (failed)"));
}

TEST(DsnReport, RetChoosesTheWholeMessageOrItsHeaders) {
  DsnReport report = Report();
  const std::string headers = PartOf(BuildDsn(report), "text/rfc822-headers");
  EXPECT_THAT(headers, HasSubstr("Subject: hello\r\n"));
  EXPECT_THAT(headers, Not(HasSubstr("secret body")));
  EXPECT_THAT(BuildDsn(report), Not(HasSubstr("message/rfc822")));
  report.return_full = true;
  const std::string full = PartOf(BuildDsn(report), "message/rfc822");
  EXPECT_THAT(full, HasSubstr("Subject: hello\r\n"));
  EXPECT_THAT(full, HasSubstr("the secret body"));
}

TEST(DsnReport, ADelayCarriesWillRetryUntilAndItsOwnSubject) {
  DsnReport report = Report();
  report.recipients[0].action = DsnAction::kDelayed;
  report.recipients[0].status = "4.4.1";
  report.will_retry_until = absl::FromUnixSeconds(1800432000);
  const std::string dsn = BuildDsn(report);
  EXPECT_THAT(dsn, HasSubstr("Subject: Delayed Mail (still being retried)\r\n"));
  EXPECT_THAT(dsn, HasSubstr("Action: delayed\r\nStatus: 4.4.1\r\n"));
  EXPECT_THAT(dsn, HasSubstr("Will-Retry-Until: Wed, 20 Jan 2027 08:00:00 +0000\r\n"));
  // A failure among the recipients makes it a failure notice.
  DsnRecipient failed = report.recipients[0];
  failed.action = DsnAction::kFailed;
  report.recipients.push_back(failed);
  EXPECT_THAT(BuildDsn(report), HasSubstr("Subject: Undelivered Mail Returned to Sender\r\n"));
}

TEST(DsnReport, LongAndMultiLineRepliesAreFoldedWithinTheLineLimit) {
  DsnReport report = Report();
  std::string reply = "550-5.7.1 first line\r\n550 5.7.1";
  for (int i = 0; i < 300; ++i) absl::StrAppend(&reply, " word", i);
  report.recipients[0].diagnostic = reply;
  report.recipients[0].explanation = reply;
  const std::string dsn = BuildDsn(report);
  for (absl::string_view line : absl::StrSplit(dsn, "\r\n")) {
    EXPECT_LE(line.size(), 998u);
    EXPECT_EQ(line.find('\n'), absl::string_view::npos) << "a bare LF";
  }
  const std::string status = PartOf(dsn, "message/delivery-status");
  EXPECT_THAT(status, HasSubstr("Diagnostic-Code: smtp; 550-5.7.1 first line 550 5.7.1 word0"));
  EXPECT_THAT(status, HasSubstr("\r\n word"));  // continuation lines start with a space
}

TEST(DsnReport, TheBoundaryIsNotInTheOriginal) {
  DsnReport report = Report();
  const std::string original =
      absl::StrCat("Subject: x\r\n\r\n--=_volley_dsn_", report.queue_id, "\r\n");
  report.original = original;
  report.return_full = true;
  const std::string dsn = BuildDsn(report);
  EXPECT_THAT(dsn, HasSubstr(absl::StrCat("boundary=\"=_volley_dsn_", report.queue_id, "_1\"")));
}

TEST(DsnReport, AnInternationalizedAddressUsesTheUtf8Type) {
  DsnReport report = Report();
  report.recipients[0].address = "j\xC3\xB6rg@dest.test";
  const std::string dsn = BuildDsn(report);
  EXPECT_THAT(dsn, HasSubstr("Content-Type: message/global-delivery-status\r\n"));
  EXPECT_THAT(dsn, HasSubstr("Final-Recipient: utf-8; j\xC3\xB6rg@dest.test\r\n"));
}

TEST(DsnReport, XtextDecoding) {
  EXPECT_EQ(DecodeXtext("a+2Bb+3Dc"), "a+b=c");
  EXPECT_EQ(DecodeXtext("plain"), "plain");
  EXPECT_EQ(DecodeXtext("bad+zz+4"), "bad+zz+4");
}

}  // namespace
}  // namespace volley::bounce
