#include "engine/inject/injector.h"

#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/bounce/list_unsubscribe.h"
#include "engine/events/log_record.h"
#include "engine/inject/smtp_injection.h"
#include "engine/inject/smtp_status.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace volley::inject {
namespace {

class RecordingSink final : public events::EventSink {
 public:
  void OnEvent(const events::RecipientEvent& e) override {
    std::lock_guard<std::mutex> lock(mutex_);
    receptions.push_back(absl::StrCat(e.recipient, " ", e.reply->code, " ", e.reply->Text()));
    tags.push_back(absl::StrCat(e.tenant, "|", e.campaign, "|", e.priority));
    events::AppendLogRecord(e, &records.emplace_back());
  }
  void OnMessageReceived(const events::MessageReceived& m) override {
    std::lock_guard<std::mutex> lock(mutex_);
    messages.push_back(absl::StrCat(m.listener, ":", m.recipients));
  }
  std::mutex mutex_;
  std::vector<std::string> receptions;
  std::vector<std::string> tags;     // "tenant|campaign|priority" per Reception
  std::vector<std::string> records;  // each event's log record
  std::vector<std::string> messages;
};

class InjectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/injector-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    absl::StatusOr<std::unique_ptr<queue::Spool>> spool = queue::Spool::Open(dir_);
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = *std::move(spool);
    writer_ = std::make_unique<queue::SpoolWriter>(spool_.get());
    config_ = config::Config::Defaults();
    config_.server.hostname = "volley.test";
    config_.inject_smtp.default_tenant = "platform";
    config_.inject_smtp.default_priority = 3;
    metrics_ = std::make_unique<metrics::EngineMetrics>(1);
    context_.config = &config_;
    context_.spool = spool_.get();
    context_.writer = writer_.get();
    context_.events = &sink_;
    context_.metrics = metrics_.get();
    context_.clock = &Clock::Real();
    ASSERT_TRUE(shard_.Start().ok());
    // No shard has a DeliveryShard attached: the hand-off to delivery is dropped, which is
    // all these tests need (the recipients stay in the spool).
    router_ = std::make_unique<delivery::DeliveryRouter>(std::vector<Shard*>{&shard_});
    ASSERT_TRUE(
        shard_
            .Call([this] {
              injector_ = std::make_unique<Injector>(&shard_, context_, router_.get(), &ids_);
              smtp_ = std::make_unique<SmtpInjection>(
                  injector_.get(), SmtpInjectionOptionsFrom(config_.inject_smtp, config_.inject));
              return absl::OkStatus();
            })
            .ok());
  }

  void TearDown() override {
    ASSERT_TRUE(shard_
                    .Call([this] {
                      smtp_.reset();
                      injector_.reset();
                      return absl::OkStatus();
                    })
                    .ok());
    shard_.Post([this] { shard_.CloseMailbox(); });
    shard_.Join();
    writer_->Stop();
  }

  // Injects on the shard and waits for the answer.
  absl::StatusOr<std::string> Inject(InjectRequest request) {
    std::promise<absl::StatusOr<std::string>> answer;
    shard_.Post([&] {
      injector_->Inject(std::move(request), [&answer](absl::StatusOr<std::string> queue_id) {
        answer.set_value(std::move(queue_id));
      });
    });
    return answer.get_future().get();
  }

  // Hands `content` for a@example.test to the SMTP adapter, as a session does at the end of
  // the data, and waits for its reply.
  smtp::MessageResponse SmtpMessage(std::string content) {
    std::promise<smtp::MessageResponse> response;
    smtp::Envelope envelope;
    envelope.peer_address = "127.0.0.1";
    envelope.mail_from = "from@origin.test";
    envelope.recipients = {"a@example.test"};
    envelope.recipient_params.resize(1);
    shard_.Post([&] {
      smtp_->OnMessage(envelope, std::move(content),
                       [&response](smtp::MessageResponse r) { response.set_value(std::move(r)); });
    });
    return response.get_future().get();
  }

  // The messages in the spool, once the writer has written what it was given.
  std::vector<queue::MessageMeta> Spooled() {
    writer_->Flush();
    std::vector<queue::MessageMeta> metas;
    auto stats =
        spool_->Recover([&](const queue::MessageMeta& meta, std::vector<queue::RecipientRecord>) {
          metas.push_back(meta);
        });
    EXPECT_TRUE(stats.ok()) << stats.status();
    return metas;
  }

  static InjectRequest Request() {
    InjectRequest request;
    request.sender = "from@origin.test";
    request.recipients = {{"a@example.test", "SUCCESS,FAILURE", ""}, {"b@example.test", "", ""}};
    request.content = "Subject: hi\r\n\r\nbody\r\n";
    request.peer_address = "127.0.0.1";
    request.helo = "client.test";
    return request;
  }

  std::string dir_;
  std::unique_ptr<queue::Spool> spool_;
  std::unique_ptr<queue::SpoolWriter> writer_;
  config::Config config_;
  std::unique_ptr<metrics::EngineMetrics> metrics_;
  RecordingSink sink_;
  delivery::EngineContext context_;
  queue::MessageIdGenerator ids_{Clock::Real()};
  Shard shard_{0};
  std::unique_ptr<delivery::DeliveryRouter> router_;
  std::unique_ptr<Injector> injector_;  // shard thread
  std::unique_ptr<SmtpInjection> smtp_;
};

TEST_F(InjectorTest, AnInjectedMessageIsDurableBeforeItsQueueIdComesBack) {
  absl::StatusOr<std::string> queue_id = Inject(Request());
  ASSERT_TRUE(queue_id.ok()) << queue_id.status();
  std::optional<queue::MessageId> id = queue::ParseQueueId(*queue_id);
  ASSERT_TRUE(id.has_value()) << *queue_id;
  // In the spool already (the insert was synced before the answer).
  absl::StatusOr<std::vector<queue::RecipientRecord>> recipients = spool_->ReadRecipients(*id);
  ASSERT_TRUE(recipients.ok()) << recipients.status();
  ASSERT_EQ(recipients->size(), 2u);
  EXPECT_EQ((*recipients)[0].address, "a@example.test");
  EXPECT_EQ((*recipients)[0].dsn_notify, "SUCCESS,FAILURE");
  absl::StatusOr<std::string> body = spool_->ReadBody(*id);
  ASSERT_TRUE(body.ok());
  EXPECT_TRUE(absl::StartsWith(*body, "Received: from client.test ([127.0.0.1])")) << *body;
  EXPECT_TRUE(absl::StrContains(*body, absl::StrCat("Message-ID: <", *queue_id, "@volley.test>")));
  std::lock_guard<std::mutex> lock(sink_.mutex_);
  EXPECT_EQ(sink_.messages, std::vector<std::string>{"smtp:2"});
  ASSERT_EQ(sink_.receptions.size(), 2u);
  EXPECT_EQ(sink_.receptions[0], absl::StrCat("a@example.test 250 OK <", *queue_id, ">"));
}

// A delivery notice: injected like any message, and the recipients it reports leave the spool
// in the same write.
TEST_F(InjectorTest, ANoticeRemovesTheRecipientsItCompletes) {
  absl::StatusOr<std::string> original = Inject(Request());
  ASSERT_TRUE(original.ok()) << original.status();
  const queue::MessageId id = *queue::ParseQueueId(*original);
  InjectRequest notice;
  notice.listener = "dsn";
  notice.recipients = {{"from@origin.test", "NEVER", ""}};
  notice.content = "Subject: Undelivered Mail Returned to Sender\r\n\r\nreport\r\n";
  notice.completes = {queue::RecipientRef{id, 1, absl::InfinitePast()}};
  notice.check_suppression = false;
  absl::StatusOr<std::string> stored = Inject(std::move(notice));
  ASSERT_TRUE(stored.ok()) << stored.status();
  const std::vector<queue::RecipientRecord> left = *spool_->ReadRecipients(id);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].address, "a@example.test");
  const queue::MessageMeta meta = *spool_->ReadMeta(*queue::ParseQueueId(*stored));
  EXPECT_EQ(meta.sender, "");
  // Volley made it: its Received header has no "from" clause.
  EXPECT_TRUE(absl::StartsWith(*spool_->ReadBody(meta.id), "Received: by volley.test (Volley)"));
  std::lock_guard<std::mutex> lock(sink_.mutex_);
  EXPECT_EQ(sink_.messages, (std::vector<std::string>{"smtp:2", "dsn:1"}));
}

// The adapter's metadata is stored with the message and written into its Reception records;
// a message without it (a delivery notice, here) gets an empty object.
TEST_F(InjectorTest, TheMetadataIsStoredAndInEveryReceptionRecord) {
  InjectRequest request = Request();
  request.metadata = R"({"user_id":"u-1","tags":["a","b"]})";
  absl::StatusOr<std::string> queue_id = Inject(std::move(request));
  ASSERT_TRUE(queue_id.ok()) << queue_id.status();
  InjectRequest notice;
  notice.listener = "dsn";
  notice.recipients = {{"from@origin.test", "NEVER", ""}};
  notice.content = "Subject: Undelivered Mail Returned to Sender\r\n\r\nreport\r\n";
  notice.check_suppression = false;
  ASSERT_TRUE(Inject(std::move(notice)).ok());
  const std::vector<queue::MessageMeta> spooled = Spooled();
  ASSERT_EQ(spooled.size(), 2u);
  EXPECT_EQ(spooled[0].metadata, R"({"user_id":"u-1","tags":["a","b"]})");
  EXPECT_EQ(spooled[1].metadata, "");
  std::lock_guard<std::mutex> lock(sink_.mutex_);
  ASSERT_EQ(sink_.records.size(), 3u);
  for (int i = 0; i < 2; ++i) {
    const nlohmann::json record = nlohmann::json::parse(sink_.records[i]);
    EXPECT_EQ(record["type"], "Reception");
    EXPECT_EQ(record["id"], *queue_id);
    ASSERT_TRUE(record["meta"].is_object()) << sink_.records[i];
    EXPECT_EQ(record["meta"],
              nlohmann::json({{"user_id", "u-1"}, {"tags", nlohmann::json::array({"a", "b"})}}));
  }
  const nlohmann::json dsn = nlohmann::json::parse(sink_.records[2]);
  EXPECT_EQ(dsn["recipient"], "from@origin.test");
  EXPECT_EQ(dsn["meta"], nlohmann::json::object()) << sink_.records[2];
}

TEST_F(InjectorTest, ControlHeadersSetTheTagsAndAreNotStored) {
  const smtp::MessageResponse got = SmtpMessage(
      "X-Volley-Tenant: acme\r\nSubject: hi\r\nx-volley-campaign: spring\r\n"
      "X-Volley-Priority: high\r\n\r\nbody\r\n");
  ASSERT_EQ(got.reply.code, 250) << got.reply.Text();
  const std::vector<queue::MessageMeta> spooled = Spooled();
  ASSERT_EQ(spooled.size(), 1u);
  EXPECT_EQ(spooled[0].tenant, "acme");
  EXPECT_EQ(spooled[0].campaign, "spring");
  EXPECT_EQ(spooled[0].priority, 8);
  absl::StatusOr<std::string> body = spool_->ReadBody(spooled[0].id);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(*body), "x-volley")) << *body;
  EXPECT_TRUE(absl::EndsWith(*body, "Subject: hi\r\n\r\nbody\r\n")) << *body;
  EXPECT_EQ(spooled[0].size, body->size());
  std::lock_guard<std::mutex> lock(sink_.mutex_);
  EXPECT_EQ(sink_.tags, std::vector<std::string>{"acme|spring|8"});
}

TEST_F(InjectorTest, WithoutControlHeadersTheListenerDefaultsApply) {
  ASSERT_EQ(SmtpMessage("Subject: plain\r\n\r\nbody\r\n").reply.code, 250);
  // Only the campaign given: the tenant and priority still come from the defaults.
  ASSERT_EQ(SmtpMessage("X-Volley-Campaign: c7\r\n\r\nbody\r\n").reply.code, 250);
  const std::vector<queue::MessageMeta> spooled = Spooled();
  ASSERT_EQ(spooled.size(), 2u);
  EXPECT_EQ(spooled[0].tenant, "platform");
  EXPECT_EQ(spooled[0].campaign, "");
  EXPECT_EQ(spooled[0].priority, 3);
  EXPECT_EQ(spooled[1].tenant, "platform");
  EXPECT_EQ(spooled[1].campaign, "c7");
  EXPECT_EQ(spooled[1].priority, 3);
  std::lock_guard<std::mutex> lock(sink_.mutex_);
  EXPECT_EQ(sink_.tags, (std::vector<std::string>{"platform||3", "platform|c7|3"}));
}

TEST_F(InjectorTest, ABadControlHeaderValueIs550AndNothingIsStored) {
  const smtp::MessageResponse got =
      SmtpMessage("X-Volley-Tenant: acme\r\nX-Volley-Priority: urgent\r\n\r\nbody\r\n");
  EXPECT_EQ(got.reply.ToWire(),
            "550 5.6.0 message refused: X-Volley-Priority: \"urgent\" is not a priority (high, "
            "normal, bulk or a digit 0 to 9)\r\n");
  EXPECT_EQ(got.then, smtp::MessageResponse::Then::kContinue);
  const smtp::MessageResponse tenant = SmtpMessage("X-Volley-Tenant: a b\r\n\r\nbody\r\n");
  EXPECT_EQ(tenant.reply.code, 550);
  EXPECT_TRUE(absl::StrContains(tenant.reply.Text(), "X-Volley-Tenant: \"a b\""))
      << tenant.reply.Text();
  EXPECT_TRUE(Spooled().empty());
  std::lock_guard<std::mutex> lock(sink_.mutex_);
  EXPECT_TRUE(sink_.receptions.empty());
  EXPECT_TRUE(sink_.messages.empty());
}

TEST_F(InjectorTest, AStoppedSpoolWriterIsUnavailableAndTheClientGets421) {
  writer_->Stop();
  absl::StatusOr<std::string> queue_id = Inject(Request());
  EXPECT_EQ(queue_id.status().code(), absl::StatusCode::kUnavailable) << queue_id.status();
  // Through the SMTP adapter: 421 4.3.2, the session's last reply.
  std::promise<smtp::MessageResponse> response;
  smtp::Envelope envelope;
  envelope.peer_address = "127.0.0.1";
  envelope.mail_from = "from@origin.test";
  envelope.recipients = {"a@example.test"};
  envelope.recipient_params.resize(1);
  shard_.Post([&] {
    smtp_->OnMessage(envelope, "Subject: x\r\n\r\ny\r\n",
                     [&response](smtp::MessageResponse r) { response.set_value(std::move(r)); });
  });
  const smtp::MessageResponse got = response.get_future().get();
  EXPECT_EQ(got.reply.code, 421);
  ASSERT_TRUE(got.reply.enhanced.has_value());
  EXPECT_EQ(got.reply.enhanced->ToString(), "4.3.2");
  std::lock_guard<std::mutex> lock(sink_.mutex_);
  EXPECT_TRUE(sink_.receptions.empty());
}

TEST_F(InjectorTest, RelayRightsAndRecipientsWithoutADomain) {
  absl::Status outsider, postmaster, fine;
  ASSERT_TRUE(shard_
                  .Call([&] {
                    outsider = injector_->CheckRecipient(false, "192.0.2.9", "a@example.test");
                    postmaster = injector_->CheckRecipient(true, "127.0.0.1", "postmaster");
                    fine = injector_->CheckRecipient(true, "::1", "a@example.test");
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(outsider.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(SmtpReplyFor(outsider).ToWire(), "550 5.7.1 relaying denied for 192.0.2.9\r\n");
  EXPECT_EQ(postmaster.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SmtpReplyFor(postmaster).code, 550);
  EXPECT_TRUE(fine.ok()) << fine;
}

TEST(RequestFromEnvelope, BdatContentGetsCrlfAndTheDsnParametersAreKept) {
  smtp::Envelope envelope;
  envelope.mail_from = "s@x.test";
  envelope.bdat = true;
  envelope.smtputf8_requested = true;
  envelope.mail_params = {{"SIZE", "10"}, {"RET", "HDRS"}, {"ENVID", "abc"}};
  envelope.recipients = {"a@x.test"};
  envelope.recipient_params = {{{"NOTIFY", "NEVER"}, {"ORCPT", "rfc822;a@x.test"}}};
  envelope.peer_address = "127.0.0.5";
  envelope.helo = "c.test";
  InjectRequest request = RequestFromEnvelope(envelope, "a\nb\r\n");
  EXPECT_EQ(request.content, "a\r\nb\r\n");
  EXPECT_EQ(request.dsn_ret, "HDRS");
  EXPECT_EQ(request.dsn_envid, "abc");
  EXPECT_TRUE(request.smtputf8);
  ASSERT_EQ(request.recipients.size(), 1u);
  EXPECT_EQ(request.recipients[0].dsn_notify, "NEVER");
  EXPECT_EQ(request.recipients[0].dsn_orcpt, "rfc822;a@x.test");
  EXPECT_EQ(request.peer_address, "127.0.0.5");
  // DATA content is canonical already and stays as it is.
  envelope.bdat = false;
  EXPECT_EQ(RequestFromEnvelope(envelope, "a\nb").content, "a\nb");
}

TEST_F(InjectorTest, OnlyBulkMailOfOneRecipientGetsOneClickFieldsAndNoticesNever) {
  bounce::ListUnsubscribeOptions options;
  options.url = "https://mta.example.net/u";
  bounce::ListUnsubscribe unsubscribe(
      options, std::make_shared<bounce::UnsubscribeTokens>(std::string(32, 'k')));
  context_.unsubscribe = &unsubscribe;
  std::unique_ptr<Injector> with_links;
  ASSERT_TRUE(shard_
                  .Call([&] {
                    with_links =
                        std::make_unique<Injector>(&shard_, context_, router_.get(), &ids_);
                    return absl::OkStatus();
                  })
                  .ok());
  // Injects with the link-making injector; the stored body has the fields or not.
  auto stored_has_link = [&](InjectRequest request) {
    std::promise<absl::StatusOr<std::string>> answer;
    shard_.Post([&] {
      with_links->Inject(std::move(request), [&answer](absl::StatusOr<std::string> id) {
        answer.set_value(std::move(id));
      });
    });
    absl::StatusOr<std::string> id = answer.get_future().get();
    EXPECT_TRUE(id.ok()) << id.status();
    writer_->Flush();
    std::optional<queue::MessageId> parsed = queue::ParseQueueId(id.value_or(""));
    absl::StatusOr<std::string> body = spool_->ReadBody(parsed.value_or(0));
    EXPECT_TRUE(body.ok()) << body.status();
    const bool link = absl::StrContains(body.value_or(""), "List-Unsubscribe: <https://mta.");
    EXPECT_EQ(link, absl::StrContains(body.value_or(""), "List-Unsubscribe-Post: "));
    return link;
  };
  InjectRequest bulk = Request();
  bulk.recipients.resize(1);
  bulk.tags.campaign = "winter";
  EXPECT_TRUE(stored_has_link(bulk));
  InjectRequest two = Request();
  two.tags.campaign = "winter";
  EXPECT_FALSE(stored_has_link(two)) << "a link names one recipient";
  InjectRequest transactional = Request();
  transactional.recipients.resize(1);
  EXPECT_FALSE(stored_has_link(transactional)) << "no campaign, normal priority";
  InjectRequest notice = bulk;
  notice.check_suppression = false;
  EXPECT_FALSE(stored_has_link(notice)) << "Volley's own message";
  ASSERT_TRUE(shard_
                  .Call([&] {
                    with_links.reset();
                    return absl::OkStatus();
                  })
                  .ok());
}

}  // namespace
}  // namespace volley::inject
