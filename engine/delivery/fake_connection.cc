#include "engine/delivery/fake_connection.h"

#include <algorithm>
#include <utility>

#include "engine/base/logging.h"
#include "engine/smtp/local_replies.h"

namespace volley::delivery {

FakeConnection::FakeConnection(FakeConnections* registry, ConnectionOwner* owner,
                               std::vector<ConnectTarget> targets, const ConnectionOptions& options)
    : registry_(registry), owner_(owner), targets_(std::move(targets)), options_(options) {
  registry_->open_.push_back(this);
  ++registry_->made_;
}

FakeConnection::~FakeConnection() {
  auto& open = registry_->open_;
  open.erase(std::remove(open.begin(), open.end(), this), open.end());
}

void FakeConnection::Ready() {
  readied_ = true;
  owner_->OnConnectionReady(this);
}

void FakeConnection::Complete(std::vector<smtp::RecipientOutcome> outcomes) {
  CHECK(transaction_.has_value());
  transaction_.reset();
  ++completed_;
  owner_->OnTransactionDone(this, std::move(outcomes));
  // As a real session: idle again, and the owner is told unless it started another.
  if (!transaction_.has_value() && !quit_requested_) owner_->OnConnectionReady(this);
}

void FakeConnection::FailTarget(size_t i) { owner_->OnTargetFailed(targets_[i]); }

void FakeConnection::Close(ConnectionOwner::CloseInfo info) {
  owner_->OnConnectionClosed(this, std::move(info));
  delete this;
}

void FakeConnection::StartTransaction(smtp::Transaction transaction) {
  CHECK(!transaction_.has_value());
  transaction_ = std::move(transaction);
  ++started_;
}

void FakeConnection::Quit() { quit_requested_ = true; }

void FakeConnection::Abort(absl::string_view reason) {
  aborted_ = true;
  ConnectionOwner::CloseInfo info;
  info.error = std::string(reason);
  if (transaction_.has_value()) {
    for (size_t i = 0; i < transaction_->recipients.size(); ++i) {
      info.in_flight.push_back(smtp::RecipientOutcome{
          smtp::MakeLocalReply(smtp::LocalReply::kConnectionLost, reason), "", true});
    }
  }
  Close(std::move(info));
}

ConnectionFactory FakeConnections::Factory() {
  return [this](uv_loop_t*, ConnectionOwner* owner, std::vector<ConnectTarget> targets,
                const ConnectionOptions& options) -> DeliveryConnection* {
    return new FakeConnection(this, owner, std::move(targets), options);
  };
}

void FakeConnections::CloseQuitting() {
  std::vector<FakeConnection*> open = open_;
  for (FakeConnection* connection : open) {
    if (connection->quit_requested() && !connection->transaction().has_value()) {
      connection->Close(ConnectionOwner::CloseInfo{.was_ready = true});
    }
  }
}

}  // namespace volley::delivery
