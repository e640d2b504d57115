#include "engine/inject/message_builder.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace volley::inject {
namespace {

TraceInfo Trace() {
  TraceInfo t;
  t.helo = "client.example";
  t.peer_ip = "127.0.0.1";
  t.hostname = "volley.test";
  t.queue_id = "00000000000000aa";
  t.time = absl::FromUnixSeconds(1700000000);
  return t;
}

TEST(MessageBuilder, ReceivedHeaderIsFoldedAndDated) {
  TraceInfo t = Trace();
  t.recipient = "a@b.example";
  EXPECT_EQ(ReceivedHeader(t),
            "Received: from client.example ([127.0.0.1])\r\n\tby volley.test (Volley) with ESMTP "
            "id 00000000000000aa\r\n\tfor <a@b.example>;\r\n\tTue, 14 Nov 2023 22:13:20 +0000\r\n");
  t.esmtp = false;
  t.recipient.clear();
  EXPECT_TRUE(absl::StrContains(ReceivedHeader(t), "with SMTP id"));
  EXPECT_FALSE(absl::StrContains(ReceivedHeader(t), "for <"));
}

TEST(MessageBuilder, FindsHeadersOnlyInTheHeaderSection) {
  const std::string msg =
      "From: a@b\r\nmessage-id:  <x@y>  \r\nSubject: long\r\n  folded line\r\n\r\n"
      "Message-ID: <body@not-a-header>\r\n";
  EXPECT_EQ(FindHeader(msg, "Message-ID"), "<x@y>");
  EXPECT_EQ(FindHeader(msg, "subject"), "long folded line");
  EXPECT_EQ(FindHeader(msg, "To"), "");
  EXPECT_EQ(FindHeader("Subject: x\r\n\r\nMessage-ID: <b>\r\n", "Message-ID"), "");
  EXPECT_EQ(FindHeader("Subject: x\n\nbody\n", "subject"), "x");
  // A field whose name only starts with the one asked for.
  EXPECT_EQ(FindHeader("Message-IDs: <no>\r\n\r\n", "Message-ID"), "");
}

TEST(MessageBuilder, AddsMessageIdOnlyWhenMissing) {
  PreparedMessage with = PrepareMessage("Message-ID: <mine@x>\r\n\r\nhi\r\n", Trace());
  EXPECT_EQ(with.message_id, "<mine@x>");
  EXPECT_TRUE(absl::StartsWith(with.content, "Received: "));
  EXPECT_TRUE(absl::EndsWith(with.content, "Message-ID: <mine@x>\r\n\r\nhi\r\n"));

  PreparedMessage without = PrepareMessage("Subject: s\r\n\r\nhi\r\n", Trace());
  EXPECT_EQ(without.message_id, "<00000000000000aa@volley.test>");
  EXPECT_TRUE(absl::EndsWith(without.content,
                             "Message-ID: <00000000000000aa@volley.test>\r\nSubject: s\r\n\r\n"
                             "hi\r\n"));
}

TEST(MessageBuilder, EightBitDetection) {
  EXPECT_FALSE(HasEightBitOctets(""));
  EXPECT_FALSE(HasEightBitOctets(std::string(1000, 'a')));
  EXPECT_TRUE(HasEightBitOctets("caf\xc3\xa9"));
  std::string late(1001, 'a');
  late[1000] = '\x80';
  EXPECT_TRUE(HasEightBitOctets(late));
  std::string early(1001, 'a');
  early[3] = '\xff';
  EXPECT_TRUE(HasEightBitOctets(early));
}

}  // namespace
}  // namespace volley::inject
