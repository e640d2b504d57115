#include "tests/support/postfix_maildir.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace volley::test_support {
namespace {

constexpr char kHost[] = "postfix.volley.test";

// A copy as virtual(8) writes it (taken from a real delivery), for one of two recipients of a
// message that came over TLS; the topmost Received header is Postfix's own, folded.
constexpr char kOverTls[] =
    "Return-Path: <tls1@sender.test>\n"
    "X-Original-To: One@Example.test\n"
    "Delivered-To: one@example.test\n"
    "Received: from client.volley.test (unknown [127.0.0.1])\n"
    "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n"
    "\t key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256)\n"
    "\t(No client certificate requested)\n"
    "\tby postfix.volley.test (Postfix) with ESMTPS id 78349A724A0;\n"
    "\tThu,  3 Dec 2026 08:53:57 +0000 (UTC)\n"
    "Received: from client.example ([127.0.0.1])\n"
    "\tby volley.test (Volley) with ESMTP; Thu, 3 Dec 2026 08:53:56 +0000\n"
    "From: <tls1@sender.test>\n"
    "Subject: tls\n"
    "X-Index: 7\n"
    "\n"
    ".a line with a leading dot\n"
    "\n"
    "Subject: not a header\n";

TEST(ParseDeliveredMessageTest, ReadsTheEnvelopeAndPostfixsReceivedHeader) {
  absl::StatusOr<DeliveredMessage> m = ParseDeliveredMessage("f1", kOverTls, kHost);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->file, "f1");
  EXPECT_EQ(m->content, kOverTls);
  EXPECT_EQ(m->recipient, "one@example.test");
  EXPECT_EQ(m->original_recipient, "One@Example.test");
  EXPECT_EQ(m->sender, "tls1@sender.test");
  EXPECT_EQ(m->queue_id, "78349A724A0");
  EXPECT_TRUE(m->tls);
  EXPECT_EQ(m->Header("subject"), "tls");
  EXPECT_EQ(m->Header("X-Index"), "7");
  EXPECT_EQ(m->Header("X-Missing"), "");
  EXPECT_EQ(m->Header("Received"),
            "from client.volley.test (unknown [127.0.0.1]) (using TLSv1.3 with cipher "
            "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA "
            "(prime256v1) server-digest SHA256) (No client certificate requested) by "
            "postfix.volley.test (Postfix) with ESMTPS id 78349A724A0; Thu,  3 Dec 2026 "
            "08:53:57 +0000 (UTC)");
  EXPECT_EQ(m->Body(), ".a line with a leading dot\n\nSubject: not a header\n");
}

TEST(ParseDeliveredMessageTest, PlainWhenPostfixsReceivedHeaderSaysNoTls) {
  const std::string plain =
      "Return-Path: <>\n"
      "Delivered-To: a@b.test\n"
      "Received: from client.volley.test (unknown [127.0.0.1])\n"
      "\tby postfix.volley.test (Postfix) with ESMTP id 2D704A72407;\n"
      "\tThu,  3 Dec 2026 08:53:23 +0000 (UTC)\n"
      "\n"
      "hello\n";
  absl::StatusOr<DeliveredMessage> m = ParseDeliveredMessage("f", plain, kHost);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->sender, "");
  EXPECT_EQ(m->queue_id, "2D704A72407");
  EXPECT_FALSE(m->tls);
  EXPECT_EQ(m->Body(), "hello\n");
}

TEST(ParseDeliveredMessageTest, OnlyTheTopmostReceivedHeaderCounts) {
  // A client's header claiming TLS by this host, below a topmost one from elsewhere.
  const std::string forged =
      "Delivered-To: a@b.test\n"
      "Received: from x by other.test (Postfix) with ESMTP id 1111;\n"
      "\tThu,  3 Dec 2026 08:53:23 +0000 (UTC)\n"
      "Received: from y (using TLSv1.3) by postfix.volley.test (Postfix) id 2222;\n"
      "\n";
  absl::StatusOr<DeliveredMessage> m = ParseDeliveredMessage("f", forged, kHost);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->queue_id, "");
  EXPECT_FALSE(m->tls);
  EXPECT_EQ(m->Body(), "");
}

TEST(ParseDeliveredMessageTest, AFileWithoutDeliveredToIsAnError) {
  absl::StatusOr<DeliveredMessage> m =
      ParseDeliveredMessage("f", "Subject: x\n\nDelivered-To: a@b.test\n", kHost);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
}

class MaildirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/maildir-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    for (const char* sub : {"tmp", "new", "cur"}) {
      std::filesystem::create_directories(absl::StrCat(dir_, "/", sub));
    }
  }

  void Put(const std::string& folder, const std::string& name, const std::string& content) {
    std::ofstream(absl::StrCat(dir_, "/", folder, "/", name), std::ios::binary) << content;
  }

  std::string dir_;
};

TEST_F(MaildirTest, CountsAndReadsTheFilesInNewOnly) {
  absl::StatusOr<int> none = CountDelivered(dir_);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, 0);

  Put("new", "2.V1I2M3.host", "Delivered-To: second@b.test\n\nsecond\n");
  Put("new", "1.V1I1M3.host", "Delivered-To: first@b.test\n\nfirst\n");
  // Being written (tmp/), or already seen by a mail reader (cur/): not new deliveries.
  Put("tmp", "3.V1I3M3.host", "Delivered-To: partial@b.test\n");
  Put("cur", "0.V1I0M3.host:2,S", "Delivered-To: old@b.test\n\nold\n");
  Put("new", ".hidden", "not a delivery");

  absl::StatusOr<int> count = CountDelivered(dir_);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 2);
  absl::StatusOr<std::vector<DeliveredMessage>> delivered = ReadDelivered(dir_, kHost);
  ASSERT_TRUE(delivered.ok()) << delivered.status();
  ASSERT_EQ(delivered->size(), 2u);
  EXPECT_EQ((*delivered)[0].file, "1.V1I1M3.host");
  EXPECT_EQ((*delivered)[0].recipient, "first@b.test");
  EXPECT_EQ((*delivered)[0].Body(), "first\n");
  EXPECT_EQ((*delivered)[1].file, "2.V1I2M3.host");
  EXPECT_EQ((*delivered)[1].recipient, "second@b.test");
}

TEST_F(MaildirTest, AFileThatIsNotADeliveryFailsTheRead) {
  Put("new", "1.V1I1M3.host", "Subject: no envelope\n\n");
  absl::StatusOr<std::vector<DeliveredMessage>> delivered = ReadDelivered(dir_, kHost);
  EXPECT_EQ(delivered.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(delivered.status().message().find("1.V1I1M3.host"), absl::string_view::npos);
}

TEST_F(MaildirTest, AMissingMaildirIsAnError) {
  std::filesystem::remove_all(dir_);
  EXPECT_FALSE(CountDelivered(dir_).ok());
  EXPECT_FALSE(ReadDelivered(dir_, kHost).ok());
}

}  // namespace
}  // namespace volley::test_support
