// One relay for an integration test: a test sink that counts what each recipient received, and
// a volleyd whose config routes the test's domains to it, with its delivery log and HTTP API at
// hand. The shaping, rule and suspension tests each built this by hand.
#ifndef VOLLEY_TESTS_SUPPORT_RELAY_WORLD_H_
#define VOLLEY_TESTS_SUPPORT_RELAY_WORLD_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tests/support/smtp_sink.h"
#include "tests/support/volleyd_process.h"

namespace volley::test_support {

struct RelayOptions {
  std::string name;  // the test directory (FreshTestDir)
  // The sink's options; its on_message is called after the world counts the message.
  SinkOptions sink;
  std::vector<std::string> domains;  // routed to the sink
  // Lines of [shaping.default] after its unlimited rates (max_message_rate and
  // max_connection_rate ""), e.g. "connection_limit = 10\n".
  std::string shaping_default;
  // The rest of the config: more tables, [[shaping.automation]] rules.
  std::string config;
  // Lines of [http] after its listen address ("inject_token = \"...\"\n").
  std::string http;
};

// Thread-safe counts; the rest on the test's thread.
class RelayWorld {
 public:
  RelayWorld() = default;
  // Stops volleyd, then the sink (joining its threads), before the counts they write go.
  ~RelayWorld();
  RelayWorld(const RelayWorld&) = delete;
  RelayWorld& operator=(const RelayWorld&) = delete;

  absl::Status Start(RelayOptions options);
  // volleyd stops (SIGTERM, a clean exit) and starts again on the same spool and config.
  absl::Status Restart();
  // volleyd is killed (SIGKILL: a crash) and started again on the same spool and config.
  absl::Status KillAndRestart();

  SmtpSink& sink() { return *sink_; }
  VolleydProcess& volleyd() { return *volleyd_; }
  const std::string& log_path() const { return log_path_; }
  // The sink's site as log records and the explain read-out name it.
  std::string site() const;

  int Received(const std::string& recipient);
  // The recipients that did not arrive exactly once.
  int NotOnce(const std::vector<std::string>& recipients);

  // The explain read-out's first queue of the site (null while there is none).
  nlohmann::json Explain();
  // A call to volleyd's HTTP API.
  absl::StatusOr<HttpResult> Api(const std::string& method, const std::string& path,
                                 const std::string& body = "");

 private:
  absl::Status StartVolleyd();

  RelayOptions options_;
  std::string dir_, log_path_, config_path_;
  std::unique_ptr<SmtpSink> sink_;
  std::unique_ptr<VolleydProcess> volleyd_;
  std::mutex mutex_;
  absl::flat_hash_map<std::string, int> received_;
};

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_RELAY_WORLD_H_
