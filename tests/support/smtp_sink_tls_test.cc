// The sink's STARTTLS, implicit TLS and AUTH, over a raw client
// (tests/support/raw_smtp_client.h).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/raw_smtp_client.h"
#include "tests/support/smtp_sink.h"
#include "tests/support/smtp_sink_test_util.h"
#include "tls/testdata/testdata_paths.h"

namespace volley::test_support {
namespace {

using sink_test::Recording;
using sink_test::StartSink;
using sink_test::WaitForTranscript;

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

SinkOptions WithTls(SinkOptions options) {
  options.tls_cert_file = tls::TlsTestDataPath("mx.pem");
  options.tls_key_file = tls::TlsTestDataPath("mx.key");
  return options;
}

TEST(SmtpSinkTlsTest, StartTlsSession) {
  std::unique_ptr<SmtpSink> sink = StartSink(WithTls(Recording()));
  ASSERT_NE(sink, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  EXPECT_THAT(client->Ehlo(), Contains("250-STARTTLS"));
  EXPECT_EQ(client->Command("STARTTLS"), "220 2.0.0 Ready to start TLS");
  ASSERT_TRUE(client->StartTls().ok());
  EXPECT_THAT(client->Ehlo(), Not(Contains("250-STARTTLS")));
  ASSERT_TRUE(client->Send("MAIL FROM:<s@x.test>\r\nRCPT TO:<a@y.test>\r\nDATA\r\n"));
  EXPECT_EQ(client->ReadFinal(), "250 2.1.0 Ok");
  EXPECT_EQ(client->ReadFinal(), "250 2.1.5 Ok");
  EXPECT_THAT(client->ReadFinal(), StartsWith("354 "));
  EXPECT_THAT(client->Command("Subject: tls\r\n\r\nover TLS\r\n."), StartsWith("250 2.0.0 "));
  EXPECT_EQ(client->Command("QUIT"), "221 2.0.0 Bye");
  EXPECT_TRUE(client->ReadsEof());

  ASSERT_TRUE(sink->WaitForMessages(1, absl::Seconds(10)));
  std::vector<ReceivedMessage> messages = sink->TakeMessages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_TRUE(messages[0].tls);
  EXPECT_THAT(messages[0].tls_version, StartsWith("TLSv1."));
  EXPECT_EQ(messages[0].content, "Subject: tls\r\n\r\nover TLS\r\n");
  std::optional<SessionTranscript> t = WaitForTranscript(*sink, 7);
  ASSERT_TRUE(t.has_value());
  EXPECT_THAT(t->commands,
              ElementsAre("EHLO client.test", "STARTTLS", "EHLO client.test",
                          "MAIL FROM:<s@x.test>", "RCPT TO:<a@y.test>", "DATA", "QUIT"));
  EXPECT_TRUE(t->tls);
  EXPECT_EQ(t->tls_version, messages[0].tls_version);
}

// CVE-2011-0411: a MAIL pipelined behind STARTTLS in the clear is never executed.
TEST(SmtpSinkTlsTest, CommandsInjectedBeforeTheHandshakeAreDiscarded) {
  std::unique_ptr<SmtpSink> sink = StartSink(WithTls(Recording()));
  ASSERT_NE(sink, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  client->Ehlo();
  ASSERT_TRUE(client->SendRaw("STARTTLS\r\nMAIL FROM:<evil@x.test>\r\n"));
  EXPECT_EQ(client->ReadFinal(), "220 2.0.0 Ready to start TLS");
  ASSERT_TRUE(client->StartTls().ok());
  client->Ehlo();
  // Had MAIL been taken, this RCPT would be accepted.
  EXPECT_THAT(client->Command("RCPT TO:<a@y.test>"), StartsWith("503 5.5.1 "));
  EXPECT_EQ(client->Command("MAIL FROM:<good@x.test>"), "250 2.1.0 Ok");
  std::optional<SessionTranscript> t = WaitForTranscript(*sink, 5);
  ASSERT_TRUE(t.has_value());
  EXPECT_THAT(t->commands, ElementsAre("EHLO client.test", "STARTTLS", "EHLO client.test",
                                       "RCPT TO:<a@y.test>", "MAIL FROM:<good@x.test>"));
}

TEST(SmtpSinkTlsTest, AuthAfterTls) {
  SinkOptions options = WithTls(Recording());
  options.auth_users = {{"alice", "secret"}};
  options.auth_required = true;
  std::unique_ptr<SmtpSink> sink = StartSink(options);
  ASSERT_NE(sink, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  std::vector<std::string> ehlo = client->Ehlo();
  EXPECT_THAT(ehlo, Not(Contains(HasSubstr("AUTH"))));
  const std::string plain = absl::Base64Escape(std::string("\0alice\0secret", 13));
  EXPECT_THAT(client->Command("AUTH PLAIN " + plain), StartsWith("538 5.7.11 "));
  EXPECT_THAT(client->Command("MAIL FROM:<s@x.test>"), StartsWith("530 5.7.0 "));
  EXPECT_THAT(client->Command("STARTTLS"), StartsWith("220 "));
  ASSERT_TRUE(client->StartTls().ok());
  EXPECT_THAT(client->Ehlo(), Contains("250-AUTH PLAIN LOGIN"));
  EXPECT_THAT(
      client->Command("AUTH PLAIN " + absl::Base64Escape(std::string("\0alice\0wrong", 12))),
      StartsWith("535 5.7.8 "));
  EXPECT_EQ(client->Command("AUTH LOGIN"), "334 VXNlcm5hbWU6");
  EXPECT_EQ(client->Command(absl::Base64Escape("alice")), "334 UGFzc3dvcmQ6");
  EXPECT_EQ(client->Command(absl::Base64Escape("secret")), "235 2.7.0 Authentication successful");
  ASSERT_TRUE(client->Send("MAIL FROM:<s@x.test>\r\nRCPT TO:<a@y.test>\r\nBDAT 3 LAST\r\nabc"));
  EXPECT_EQ(client->ReadFinal(), "250 2.1.0 Ok");
  EXPECT_EQ(client->ReadFinal(), "250 2.1.5 Ok");
  EXPECT_THAT(client->ReadFinal(), StartsWith("250 2.0.0 Ok: queued as S"));
  ASSERT_TRUE(sink->WaitForMessages(1, absl::Seconds(10)));
  std::vector<ReceivedMessage> messages = sink->TakeMessages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].auth_user, "alice");
  EXPECT_TRUE(messages[0].tls);
  EXPECT_TRUE(messages[0].bdat);
  std::optional<SessionTranscript> t = WaitForTranscript(*sink, 12);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->auth_user, "alice");
  EXPECT_TRUE(t->tls);
}

TEST(SmtpSinkTlsTest, AuthWithoutTlsWhenAllowed) {
  SinkOptions options = Recording();
  options.auth_users = {{"bob", "pw"}};
  options.auth_requires_tls = false;
  std::unique_ptr<SmtpSink> sink = StartSink(options);
  ASSERT_NE(sink, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  EXPECT_THAT(client->Ehlo(), Contains("250-AUTH PLAIN LOGIN"));
  EXPECT_EQ(client->Command("AUTH PLAIN"), "334 ");
  EXPECT_EQ(client->Command(absl::Base64Escape(std::string("\0bob\0pw", 7))),
            "235 2.7.0 Authentication successful");
  EXPECT_THAT(client->Command("AUTH PLAIN"), StartsWith("503 5.5.1 "));
}

TEST(SmtpSinkTlsTest, ImplicitTls) {
  SinkOptions options = WithTls(Recording());
  options.implicit_tls = true;
  std::unique_ptr<SmtpSink> sink = StartSink(options);
  ASSERT_NE(sink, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->StartTls("127.0.0.1").ok());
  EXPECT_EQ(client->ReadFinal(), "220 sink.localdomain ESMTP Volley");
  EXPECT_THAT(client->Ehlo(), Not(Contains("250-STARTTLS")));
  EXPECT_EQ(client->Command("MAIL FROM:<s@x.test>"), "250 2.1.0 Ok");
  std::optional<SessionTranscript> t = WaitForTranscript(*sink, 2);
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->tls);
}

TEST(SmtpSinkTlsTest, StartTlsBreaksFault) {
  SinkOptions options = Recording();
  options.starttls_breaks = true;
  std::unique_ptr<SmtpSink> sink = StartSink(options);
  ASSERT_NE(sink, nullptr);
  auto client = RawSmtpClient::Connect("127.0.0.1", sink->port());
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ReadFinal(), StartsWith("220 "));
  EXPECT_THAT(client->Ehlo(), Contains("250-STARTTLS"));
  EXPECT_EQ(client->Command("STARTTLS"), "220 2.0.0 Ready to start TLS");
  EXPECT_FALSE(client->StartTls().ok());
}

TEST(SmtpSinkTlsTest, StartFailsOnBadTlsOptions) {
  SinkOptions options;
  options.tls_cert_file = "/nonexistent/cert.pem";
  options.tls_key_file = "/nonexistent/key.pem";
  EXPECT_FALSE(SmtpSink::Start(options).ok());
  options = SinkOptions();
  options.tls_cert_file = tls::TlsTestDataPath("mx.pem");
  EXPECT_FALSE(SmtpSink::Start(options).ok());  // no key
  options = SinkOptions();
  options.implicit_tls = true;
  EXPECT_FALSE(SmtpSink::Start(options).ok());  // no certificate
}

}  // namespace
}  // namespace volley::test_support
