// The fixture of the ServerSession tests (engine/smtp/server_session_*_test.cc): a handler that
// records what the session hands it, and a session driven the way the listener drives it.
#ifndef VOLLEY_ENGINE_SMTP_SERVER_SESSION_TEST_FIXTURE_H_
#define VOLLEY_ENGINE_SMTP_SERVER_SESSION_TEST_FIXTURE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "engine/smtp/reply.h"
#include "engine/smtp/server_session.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::smtp {

struct ReceivedMessage {
  Envelope envelope;
  std::string content;
};

class TestHandler : public ServerSessionHandler {
 public:
  std::optional<Reply> CheckMailFrom(const Envelope& envelope) override {
    if (envelope.mail_from == "blocked@example.com") {
      return MakeReply(550, "5.7.1", "sender blocked");
    }
    if (envelope.mail_from == "closing@example.com") {
      return MakeReply(421, "4.7.0", "too many messages on this connection");
    }
    return std::nullopt;
  }

  std::optional<Reply> CheckRecipient(const Envelope& envelope,
                                      absl::string_view recipient) override {
    recipients_seen_at_check.push_back(envelope.recipients.size());
    if (absl::StartsWith(recipient, "relay")) {
      return MakeReply(550, "5.7.1", "relay access denied");
    }
    return std::nullopt;
  }

  void OnCommandLine(const Envelope& envelope, absl::string_view line) override {
    lines.emplace_back(line);
    line_session_ids.push_back(envelope.session_id);
  }

  bool ContinueData(const Envelope& envelope, size_t bytes_so_far) override {
    EXPECT_FALSE(envelope.recipients.empty());
    data_progress.push_back(bytes_so_far);
    return drop_at == 0 || bytes_so_far < drop_at;
  }

  void OnMessage(Envelope envelope, std::string content,
                 absl::AnyInvocable<void(MessageResponse)> done) override {
    messages.push_back({std::move(envelope), std::move(content)});
    if (async) {
      pending.push_back(std::move(done));
      return;
    }
    done(MakeReply(250, "2.0.0", absl::StrCat("Ok: queued as Q", messages.size())));
  }

  bool async = false;
  size_t drop_at = 0;  // ContinueData refuses once this many content octets arrived (0: never)
  std::vector<std::string> lines;  // OnCommandLine
  std::vector<uint64_t> line_session_ids;
  std::vector<size_t> data_progress;  // ContinueData's bytes_so_far
  std::vector<ReceivedMessage> messages;
  std::vector<absl::AnyInvocable<void(MessageResponse)>> pending;
  std::vector<size_t> recipients_seen_at_check;
};

// Drives a session the way the listener does, capturing what it writes.
class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override { Create(); }

  void Create() {
    session_.reset();
    closed_ = false;
    output_.clear();
    ServerSession::Transport transport;
    transport.write = [this](std::string bytes) {
      EXPECT_FALSE(closed_) << "write after close";
      ++writes_;
      events_.push_back("write " + bytes);
      output_.append(bytes);
    };
    transport.close = [this]() {
      EXPECT_FALSE(closed_) << "closed twice";
      closed_ = true;
    };
    if (with_start_tls_) {
      transport.start_tls = [this]() {
        EXPECT_FALSE(closed_);
        events_.push_back("start_tls");
      };
    }
    events_.clear();
    session_ = std::make_unique<ServerSession>(options_, &handler_, std::move(transport),
                                               "192.0.2.7", "127.0.0.1");
    session_->set_resume_reading([this]() { ++resumes_; });
    session_->Start();
    greeting_ = Take();
  }

  // Feeds `bytes` and returns the reply lines written since the last call.
  std::vector<std::string> Send(absl::string_view bytes) {
    session_->Feed(bytes);
    return Take();
  }

  std::vector<std::string> Take() {
    std::vector<std::string> lines;
    if (!output_.empty()) {
      EXPECT_TRUE(absl::EndsWith(output_, "\r\n")) << output_;
      lines = absl::StrSplit(absl::string_view(output_).substr(0, output_.size() - 2), "\r\n");
    }
    output_.clear();
    return lines;
  }

  // Only the last line of each reply ("250 ..." rather than "250-...").
  static std::vector<std::string> Finals(const std::vector<std::string>& lines) {
    std::vector<std::string> finals;
    for (const std::string& line : lines) {
      if (line.size() >= 4 && line[3] == ' ') finals.push_back(line);
    }
    return finals;
  }

  void Ehlo() {
    std::vector<std::string> lines = Send("EHLO client.example\r\n");
    ASSERT_FALSE(lines.empty());
    ASSERT_THAT(lines.back(), ::testing::StartsWith("250 "));
  }

  ServerSessionOptions options_;
  TestHandler handler_;
  std::unique_ptr<ServerSession> session_;
  std::string output_;
  std::vector<std::string> greeting_;
  int writes_ = 0;
  int resumes_ = 0;
  bool closed_ = false;
  bool with_start_tls_ = false;      // give the session a Transport::start_tls
  std::vector<std::string> events_;  // "write <bytes>" and "start_tls", in order
};

}  // namespace volley::smtp

#endif  // VOLLEY_ENGINE_SMTP_SERVER_SESSION_TEST_FIXTURE_H_
