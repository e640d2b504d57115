// A DeliveryConnection a test drives by hand, for unit tests of the site queue and the shard:
// it records what it is asked to do, and the test decides when it is ready, what each
// transaction's outcomes are, and how it closes.
#ifndef VOLLEY_ENGINE_DELIVERY_FAKE_CONNECTION_H_
#define VOLLEY_ENGINE_DELIVERY_FAKE_CONNECTION_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/delivery/delivery_connection.h"

namespace volley::delivery {

class FakeConnections;

// All calls on the loop's thread, as a real connection's.
class FakeConnection final : public DeliveryConnection {
 public:
  FakeConnection(FakeConnections* registry, ConnectionOwner* owner,
                 std::vector<ConnectTarget> targets, const ConnectionOptions& options);
  ~FakeConnection() override;

  // --- What the test does. ---
  // The session is established (OnConnectionReady).
  void Ready();
  // The transaction in progress ends with these outcomes; then the connection is ready again
  // unless it was asked to quit.
  void Complete(std::vector<smtp::RecipientOutcome> outcomes);
  // Host `i` of the targets could not be used (OnTargetFailed).
  void FailTarget(size_t i);
  // The connection closes (OnConnectionClosed) and is deleted.
  void Close(ConnectionOwner::CloseInfo info);

  // --- What the test looks at. ---
  const std::vector<ConnectTarget>& targets() const { return targets_; }
  bool quit_requested() const { return quit_requested_; }
  bool was_readied() const { return readied_; }  // Ready was called
  bool aborted() const { return aborted_; }
  const std::optional<smtp::Transaction>& transaction() const { return transaction_; }
  int transactions_started() const { return started_; }

  // DeliveryConnection:
  void StartTransaction(smtp::Transaction transaction) override;
  void Quit() override;
  void Abort(absl::string_view reason) override;
  int transactions() const override { return completed_; }
  const ConnectTarget& target() const override { return targets_.front(); }
  const std::string& tls_version() const override { return tls_version_; }
  const std::string& tls_cipher() const override { return tls_cipher_; }
  const ConnectionOptions& options() const override { return options_; }

 private:
  FakeConnections* const registry_;
  ConnectionOwner* const owner_;
  const std::vector<ConnectTarget> targets_;
  const ConnectionOptions options_;
  const std::string tls_version_;
  const std::string tls_cipher_;
  std::optional<smtp::Transaction> transaction_;
  int started_ = 0;
  int completed_ = 0;
  bool quit_requested_ = false;
  bool aborted_ = false;
  bool readied_ = false;
};

// The factory and the connections it made that are still open, in order of creation.
class FakeConnections {
 public:
  ConnectionFactory Factory();
  const std::vector<FakeConnection*>& open() const { return open_; }
  int made() const { return made_; }
  // Closes, politely, every open connection that was asked to quit and is idle.
  void CloseQuitting();

 private:
  friend class FakeConnection;
  std::vector<FakeConnection*> open_;
  int made_ = 0;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_FAKE_CONNECTION_H_
