#include "engine/message/trace.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace volley::message {
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

TEST(Trace, ReceivedHeaderIsFoldedAndDated) {
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

TEST(Trace, TlsAndAuthAreNamedAndSetTheProtocol) {
  TraceInfo t = Trace();
  t.tls_version = "TLSv1.3";
  t.tls_cipher = "TLS_AES_128_GCM_SHA256";
  EXPECT_EQ(ReceivedHeader(t),
            "Received: from client.example ([127.0.0.1])\r\n\t(using TLSv1.3 with cipher "
            "TLS_AES_128_GCM_SHA256)\r\n\tby volley.test (Volley) with ESMTPS id "
            "00000000000000aa;\r\n\tTue, 14 Nov 2023 22:13:20 +0000\r\n");
  t.auth_user = "platform";
  EXPECT_TRUE(absl::StrContains(ReceivedHeader(t), "\t(Authenticated sender: platform)\r\n"));
  EXPECT_TRUE(absl::StrContains(ReceivedHeader(t), "with ESMTPSA id"));
  t.tls_version.clear();
  EXPECT_TRUE(absl::StrContains(ReceivedHeader(t), "with ESMTPA id"));
  EXPECT_FALSE(absl::StrContains(ReceivedHeader(t), "using"));
}

TEST(Trace, AMessageVolleyMadeHasOnlyTheByClause) {
  TraceInfo t = Trace();
  t.peer_ip.clear();
  t.helo.clear();
  t.recipient = "s@b.example";
  EXPECT_EQ(ReceivedHeader(t),
            "Received: by volley.test (Volley) id 00000000000000aa\r\n\tfor <s@b.example>;\r\n\t"
            "Tue, 14 Nov 2023 22:13:20 +0000\r\n");
}

TEST(Trace, AddsMessageIdOnlyWhenMissing) {
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

}  // namespace
}  // namespace volley::message
