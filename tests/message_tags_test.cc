// Tenant, campaign and priority end to end, all real: a raw SMTP session sets them with the
// X-Volley-* headers (over DATA and BDAT), volleyd stores and delivers the messages to the
// project's sink through a route, and the delivery log's Reception and Delivery records carry
// them. The headers never reach the recipient; a message without them gets the listener's
// defaults; a bad value is refused with 550 5.6.0 and nothing of it is stored or delivered.
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/delivery_log.h"
#include "tests/support/raw_smtp_client.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using test_support::LogEntry;
using test_support::RawSmtpClient;
using test_support::TestTempDir;
using test_support::VolleydProcess;

// The tagged message as the platform writes it, and as the recipient must get it (behind the
// Received header volleyd prepends): the same bytes without the three control fields.
constexpr absl::string_view kTagged =
    "From: <news@platform.test>\r\n"
    "X-Volley-Tenant: acme\r\n"
    "To: <tagged@tags.test>\r\n"
    "x-volley-campaign:\r\n"
    "\tspring-2026\r\n"
    "Subject: tagged\r\n"
    "X-VOLLEY-PRIORITY:  high \r\n"
    "Message-ID: <tagged@platform.test>\r\n"
    "\r\n"
    "X-Volley-Tenant: a body line, not a header\r\n"
    "..and a line that needed dot-stuffing\r\n";
constexpr absl::string_view kTaggedDelivered =
    "From: <news@platform.test>\r\n"
    "To: <tagged@tags.test>\r\n"
    "Subject: tagged\r\n"
    "Message-ID: <tagged@platform.test>\r\n"
    "\r\n"
    "X-Volley-Tenant: a body line, not a header\r\n"
    ".and a line that needed dot-stuffing\r\n";
constexpr absl::string_view kPlain =
    "From: <news@platform.test>\r\nSubject: plain\r\nMessage-ID: <plain@platform.test>\r\n"
    "\r\nno tags here\r\n";

// One message over DATA; the final reply to the data.
std::string SendWithData(RawSmtpClient& c, absl::string_view recipient, absl::string_view content) {
  if (!absl::StartsWith(c.Command("MAIL FROM:<news@platform.test>"), "250")) return "MAIL failed";
  if (!absl::StartsWith(c.Command(absl::StrCat("RCPT TO:<", recipient, ">")), "250")) {
    return "RCPT failed";
  }
  if (!absl::StartsWith(c.Command("DATA"), "354")) return "DATA failed";
  c.Send(content);
  return c.Command(".");
}

// One message in a single BDAT LAST chunk; the reply to it.
std::string SendWithBdat(RawSmtpClient& c, absl::string_view recipient, absl::string_view content) {
  if (!absl::StartsWith(c.Command("MAIL FROM:<news@platform.test>"), "250")) return "MAIL failed";
  if (!absl::StartsWith(c.Command(absl::StrCat("RCPT TO:<", recipient, ">")), "250")) {
    return "RCPT failed";
  }
  c.Send(absl::StrCat("BDAT ", content.size(), " LAST\r\n", content));
  return c.ReadFinal();
}

void ExpectTags(const LogEntry& e, absl::string_view tenant, absl::string_view campaign,
                int priority) {
  EXPECT_EQ(e.raw.value("tenant", ""), tenant) << e.raw.dump();
  EXPECT_EQ(e.raw.value("campaign", ""), campaign) << e.raw.dump();
  ASSERT_TRUE(e.raw.contains("priority") && e.raw["priority"].is_number()) << e.raw.dump();
  EXPECT_EQ(e.raw["priority"].get<int>(), priority) << e.raw.dump();
}

// Each message at the sink: behind the Received header, exactly what the platform wrote minus
// the control fields.
void ExpectDeliveredWithoutControlFields(const std::vector<test_support::ReceivedMessage>& got) {
  std::set<std::string> recipients;
  for (const test_support::ReceivedMessage& m : got) {
    ASSERT_EQ(m.recipients.size(), 1u);
    recipients.insert(m.recipients[0]);
    const absl::string_view expected =
        m.recipients[0] == "tagged@tags.test" ? kTaggedDelivered : kPlain;
    EXPECT_TRUE(absl::EndsWith(m.content, expected)) << m.content;
    EXPECT_TRUE(absl::StartsWith(m.content, "Received: from ")) << m.content;
    const std::string headers =
        absl::AsciiStrToLower(m.content.substr(0, m.content.find("\r\n\r\n")));
    EXPECT_FALSE(absl::StrContains(headers, "x-volley")) << m.content;
  }
  EXPECT_EQ(got.size(), 2u);
  EXPECT_EQ(recipients, (std::set<std::string>{"plain@tags.test", "tagged@tags.test"}));
}

class MessageTagsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = absl::StrCat(TestTempDir(), "/message-tags");
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    test_support::SinkOptions sink_options;
    sink_options.addresses = {"127.0.0.1"};
    sink_options.record = true;
    auto sink = test_support::SmtpSink::Start(sink_options);
    ASSERT_TRUE(sink.ok()) << sink.status();
    sink_ = *std::move(sink);
    // The listener's defaults differ from the built-in ones, so that the test sees them used.
    const std::string config_path = absl::StrCat(dir, "/volley.toml");
    log_path_ = absl::StrCat(dir, "/delivery.jsonl");
    {
      std::ofstream config(config_path);
      config << "[server]\nthreads = 2\nspool = \"" << dir << "/spool\"\nlog = \"" << log_path_
             << "\"\n[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\ndefault_tenant = \"platform\"\n"
             << "default_campaign = \"general\"\ndefault_priority = \"bulk\"\n"
             << "[http]\nlisten = \"127.0.0.1:0\"\n[dns]\nservers = [\"127.0.0.1:9\"]\n"
             << "[routes]\n\"tags.test\" = { host = \"127.0.0.1:" << sink_->port() << "\" }\n";
    }
    auto volleyd = VolleydProcess::Start(config_path, absl::StrCat(dir, "/volleyd.log"));
    ASSERT_TRUE(volleyd.ok()) << volleyd.status();
    volleyd_ = *std::move(volleyd);
  }

  std::unique_ptr<test_support::SmtpSink> sink_;
  std::unique_ptr<VolleydProcess> volleyd_;
  std::string log_path_;
};

TEST_F(MessageTagsTest, SetByHeadersOrDefaultsLoggedAndNeverDelivered) {
  std::unique_ptr<RawSmtpClient> c = RawSmtpClient::Connect("127.0.0.1", volleyd_->smtp_port());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(absl::StartsWith(c->ReadFinal(), "220"));
  c->Ehlo();
  // Refused at the end of the data, naming the header and the value; the session goes on.
  EXPECT_EQ(SendWithData(*c, "bad1@tags.test",
                         "X-Volley-Priority: urgent\r\nSubject: bad\r\n\r\nbody\r\n"),
            "550 5.6.0 message refused: X-Volley-Priority: \"urgent\" is not a priority (high, "
            "normal, bulk or a digit 0 to 9)");
  const std::string tagged_reply = SendWithData(*c, "tagged@tags.test", kTagged);
  ASSERT_TRUE(absl::StartsWith(tagged_reply, "250 2.0.0 OK <")) << tagged_reply;
  // The same over BDAT LAST.
  const std::string bad_bdat = SendWithBdat(
      *c, "bad2@tags.test", "X-Volley-Tenant: two words\r\nSubject: bad\r\n\r\nbody\r\n");
  EXPECT_TRUE(absl::StartsWith(
      bad_bdat, "550 5.6.0 message refused: X-Volley-Tenant: \"two words\" is not 1 to 64"))
      << bad_bdat;
  const std::string plain_reply = SendWithBdat(*c, "plain@tags.test", kPlain);
  ASSERT_TRUE(absl::StartsWith(plain_reply, "250 2.0.0 OK <")) << plain_reply;
  EXPECT_TRUE(absl::StartsWith(c->Command("QUIT"), "221"));

  // Both accepted messages are delivered; their records carry the tags.
  auto entries = test_support::WaitForFinalRecords(
      log_path_, {"tagged@tags.test", "plain@tags.test"}, absl::Seconds(30));
  ASSERT_TRUE(entries.ok()) << entries.status();
  for (const char* rcpt : {"tagged@tags.test", "plain@tags.test"}) {
    ASSERT_EQ(test_support::TypesFor(*entries, rcpt),
              (std::vector<std::string>{"Reception", "Delivery"}))
        << rcpt;
  }
  for (const LogEntry& e : test_support::EntriesFor(*entries, "tagged@tags.test")) {
    ExpectTags(e, "acme", "spring-2026", 8);
  }
  for (const LogEntry& e : test_support::EntriesFor(*entries, "plain@tags.test")) {
    ExpectTags(e, "platform", "general", 2);
  }
  // The refused messages left no record. The session's records are logged in the order it made
  // them, so with plain@'s Reception in the log, one for a refused message would be too.
  EXPECT_TRUE(test_support::EntriesFor(*entries, "bad1@tags.test").empty());
  EXPECT_TRUE(test_support::EntriesFor(*entries, "bad2@tags.test").empty());

  ASSERT_TRUE(sink_->WaitForMessages(2, absl::Seconds(10)));
  ExpectDeliveredWithoutControlFields(sink_->TakeMessages());

  // Only the two accepted messages were stored, so nothing else can be delivered; after the
  // stop the sink still has just those two.
  auto metrics = test_support::HttpGet("127.0.0.1", volleyd_->http_port(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(
      test_support::MetricValue(metrics->body, "volley_messages_received_total{listener=\"smtp\"}"),
      2);
  EXPECT_EQ(test_support::MetricValue(metrics->body, "volley_spool_synced_messages_total"), 2);
  auto exit = volleyd_->Terminate();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 0) << exit->output;
  EXPECT_EQ(sink_->messages(), 2u);
}

}  // namespace
}  // namespace volley
