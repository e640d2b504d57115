#include "engine/events/delivery_log.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/events/log_record.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "queue/test_temp_path.h"

namespace volley::events {
namespace {

using queue::TempPath;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const smtp::Reply& SampleReply() {
  static const smtp::Reply* reply =
      new smtp::Reply(smtp::MakeReply(250, "2.0.0", "Ok: queued as \"X\""));
  return *reply;
}

RecipientEvent Sample() {
  RecipientEvent r;
  r.type = EventType::kDelivery;
  r.queue_id = "00000000000000ff";
  r.sender = "from@example.com";
  r.recipient = "to@example.net";
  r.domain = "example.net";
  r.site = "mx.example.net";
  r.size = 1234;
  r.num_attempts = 1;
  r.reply = &SampleReply();
  r.command = "DATA";
  r.peer_name = "mx.example.net";
  r.peer_address = "127.0.0.3";
  r.egress_pool = "default";
  r.egress_source = "default";
  r.message_id = "<abc@example.com>";
  r.tenant = "acme";
  r.campaign = "spring-2026";
  r.priority = 8;
  r.timestamp = absl::FromUnixMicros(1700000000123456);
  r.created = absl::FromUnixSeconds(1699999999);
  return r;
}

TEST(LogRecord, MatchesTheDocumentedShape) {
  std::string line;
  AppendLogRecord(Sample(), &line);
  EXPECT_EQ(line,
            "{\"type\":\"Delivery\",\"id\":\"00000000000000ff\",\"sender\":\"from@example.com\","
            "\"recipient\":\"to@example.net\",\"queue\":\"example.net\",\"site\":\"mx.example."
            "net\",\"size\":1234,\"num_attempts\":1,\"response\":{\"code\":250,\"enhanced_"
            "code\":{\"class\":2,\"subject\":0,\"detail\":0},\"content\":\"Ok: queued as "
            "\\\"X\\\"\",\"command\":\"DATA\"},\"peer_address\":{\"name\":\"mx.example.net\","
            "\"addr\":\"127.0.0.3\"},\"egress_pool\":\"default\",\"egress_source\":\"default\","
            "\"tls_protocol_version\":null,\"tls_cipher\":null,\"bounce_classification\":null,"
            "\"message_id\":\"<abc@example.com>\",\"tenant\":\"acme\",\"campaign\":\"spring-"
            "2026\",\"priority\":8,\"timestamp\":1700000000,\"event_time\":"
            "\"2023-11-14T22:13:20.123456Z\",\"created\":1699999999,\"meta\":{}}\n");
}

// The metadata is already JSON: it goes in as an object, not as a string, and nothing in it is
// escaped again.
TEST(LogRecord, MetaIsTheMessagesMetadataObjectAsItIs) {
  RecipientEvent r = Sample();
  const std::string metadata = R"({"user_id":"u-17","list":[1,2],"note":"a \"b\" \u00e9"})";
  r.metadata = metadata;
  std::string line;
  AppendLogRecord(r, &line);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  const std::string expected_tail = absl::StrCat(",\"meta\":", metadata, "}\n");
  ASSERT_GE(line.size(), expected_tail.size());
  EXPECT_EQ(line.substr(line.size() - expected_tail.size()), expected_tail) << line;
  const nlohmann::json record = nlohmann::json::parse(line);
  ASSERT_TRUE(record.contains("meta"));
  ASSERT_TRUE(record["meta"].is_object()) << line;
  EXPECT_EQ(record["meta"].size(), 3u);
  EXPECT_EQ(record["meta"]["user_id"], "u-17");
  EXPECT_EQ(record["meta"]["list"], nlohmann::json::array({1, 2}));
  EXPECT_EQ(record["meta"]["note"], "a \"b\" \xc3\xa9");
  // The rest of the record is unchanged by it.
  EXPECT_EQ(record["campaign"], "spring-2026");
  EXPECT_EQ(record["created"], 1699999999);
}

TEST(LogRecord, MetaIsAnEmptyObjectWithoutMetadata) {
  for (EventType type : {EventType::kReception, EventType::kDelivery, EventType::kBounce,
                         EventType::kSuppressed, EventType::kOob}) {
    RecipientEvent r = Sample();
    r.type = type;
    std::string line;
    AppendLogRecord(r, &line);
    const nlohmann::json record = nlohmann::json::parse(line);
    ASSERT_TRUE(record.contains("meta")) << line;
    EXPECT_TRUE(record["meta"].is_object()) << line;
    EXPECT_TRUE(record["meta"].empty()) << line;
  }
}

TEST(LogRecord, SuspendedRecordNamesWhatItHoldsAndHowItEnded) {
  SuspensionEvent e;
  e.state = "end";
  e.ended_by = "expired";
  e.id = "9511a32e-66f8-42aa-b151-ccb176df47d9";
  e.domain = "example.net";
  e.campaign = "spring";
  e.reason = "421 4.7.28 rate limited";
  e.origin = "rule 1 (line 3)";
  e.expires = absl::FromUnixSeconds(1700000600);
  e.timestamp = absl::FromUnixSeconds(1700000600);
  std::string line;
  AppendSuspensionRecord(e, &line);
  EXPECT_EQ(line,
            "{\"type\":\"Suspended\",\"id\":\"9511a32e-66f8-42aa-b151-ccb176df47d9\","
            "\"state\":\"end\",\"ended_by\":\"expired\",\"queue\":\"example.net\",\"site\":null,"
            "\"tenant\":null,\"campaign\":\"spring\",\"egress_source\":null,\"reason\":\"421 "
            "4.7.28 rate limited\",\"origin\":\"rule 1 (line 3)\",\"expires\":\"2023-11-14T22:"
            "23:20.000000Z\",\"timestamp\":1700000600,\"event_time\":\"2023-11-14T22:23:20."
            "000000Z\"}\n");
}

TEST(LogRecord, TenantAndCampaignAreNullWhenUnsetAndThePriorityIsAlwaysANumber) {
  RecipientEvent r = Sample();
  r.tenant = "";
  r.campaign = "";
  r.priority = 0;
  std::string line;
  AppendLogRecord(r, &line);
  EXPECT_NE(line.find("\"message_id\":\"<abc@example.com>\",\"tenant\":null,\"campaign\":null,"
                      "\"priority\":0,\"timestamp\":"),
            std::string::npos)
      << line;
  // Only the tenant set: the campaign stays null.
  r.tenant = "t.1";
  r.priority = 9;
  line.clear();
  AppendLogRecord(r, &line);
  EXPECT_NE(line.find("\"tenant\":\"t.1\",\"campaign\":null,\"priority\":9"), std::string::npos)
      << line;
  // An event nobody tagged has the normal priority.
  EXPECT_EQ(RecipientEvent().priority, 5);
}

TEST(LogRecord, TlsFieldsWhenTlsWasUsed) {
  RecipientEvent r = Sample();
  r.tls_version = "TLSv1.3";
  r.tls_cipher = "TLS_AES_128_GCM_SHA256";
  std::string line;
  AppendLogRecord(r, &line);
  EXPECT_NE(line.find("\"tls_protocol_version\":\"TLSv1.3\",\"tls_cipher\":\"TLS_AES_128_GCM_"
                      "SHA256\""),
            std::string::npos)
      << line;
}

TEST(LogRecord, NullsWhenAbsent) {
  RecipientEvent r = Sample();
  r.type = EventType::kBounce;
  const smtp::Reply plain = smtp::MakeReply(550, "", "no");
  r.reply = &plain;
  r.command.reset();
  r.peer_address.reset();
  r.classification = bounce::BounceClass::kInvalidRecipient;
  std::string line;
  AppendLogRecord(r, &line);
  EXPECT_NE(line.find("\"enhanced_code\":null"), std::string::npos);
  EXPECT_NE(line.find("\"command\":null"), std::string::npos);
  EXPECT_NE(line.find("\"peer_address\":null"), std::string::npos);
  EXPECT_NE(line.find("\"bounce_classification\":\"InvalidRecipient\""), std::string::npos);
  EXPECT_NE(line.find("\"type\":\"Bounce\""), std::string::npos);
}

TEST(DeliveryLog, WritesEveryRecordFromManyThreadsAsWholeLines) {
  const std::string path = TempPath("log/sub/delivery.jsonl");
  auto log = DeliveryLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        RecipientEvent r = Sample();
        const std::string recipient = absl::StrCat("t", t, "-", i, "@example.net");
        r.recipient = recipient;
        (*log)->OnEvent(r);
      }
    });
  }
  for (auto& t : threads) t.join();
  (*log)->Flush();
  std::vector<std::string> lines = absl::StrSplit(ReadFile(path), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2000u);
  for (const std::string& line : lines) {
    ASSERT_EQ(line.front(), '{');
    ASSERT_EQ(line.back(), '}');
  }
  // Records from one thread keep their order.
  int last = -1;
  for (const std::string& line : lines) {
    if (line.find("\"t2-") == std::string::npos) continue;
    const size_t at = line.find("\"t2-") + 4;
    const int i = std::atoi(line.c_str() + at);
    EXPECT_EQ(i, last + 1);
    last = i;
  }
  EXPECT_EQ(last, 499);
}

TEST(DeliveryLog, ReopenAfterRotation) {
  const std::string path = TempPath("rotate.jsonl");
  auto log = DeliveryLog::Open(path);
  ASSERT_TRUE(log.ok());
  (*log)->OnEvent(Sample());
  (*log)->Flush();
  ASSERT_EQ(std::rename(path.c_str(), (path + ".1").c_str()), 0);
  (*log)->Reopen();
  (*log)->OnEvent(Sample());
  (*log)->Flush();
  const std::string rotated = ReadFile(path + ".1");
  EXPECT_EQ(std::count(rotated.begin(), rotated.end(), '\n'), 1);
  const std::string fresh = ReadFile(path);
  EXPECT_EQ(std::count(fresh.begin(), fresh.end(), '\n'), 1);
}

TEST(DeliveryLog, EmptyPathDisablesTheLog) {
  auto log = DeliveryLog::Open("");
  ASSERT_TRUE(log.ok());
  (*log)->OnEvent(Sample());
  (*log)->Flush();
  EXPECT_EQ((*log)->records_written(), 0u);
}

TEST(DeliveryLog, UnwritablePathIsAnErrorNamingIt) {
  auto log = DeliveryLog::Open("/proc/volley/delivery.jsonl");
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("/proc/volley/delivery.jsonl"), absl::string_view::npos);
}

}  // namespace
}  // namespace volley::events
