#include "tests/support/relay_world.h"

#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"

namespace volley::test_support {

absl::Status RelayWorld::Start(RelayOptions options) {
  options_ = std::move(options);
  dir_ = FreshTestDir(options_.name);
  SinkOptions sink = options_.sink;
  auto then = sink.on_message;
  sink.on_message = [this, then](const bench::ReceivedMessage& m) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const std::string& r : m.recipients) ++received_[r];
    }
    if (then) then(m);
  };
  absl::StatusOr<std::unique_ptr<SmtpSink>> started = SmtpSink::Start(sink);
  if (!started.ok()) return started.status();
  sink_ = *std::move(started);
  log_path_ = absl::StrCat(dir_, "/delivery.jsonl");
  config_path_ = absl::StrCat(dir_, "/volley.toml");
  std::vector<std::pair<std::string, uint16_t>> routes;
  for (const std::string& domain : options_.domains) routes.emplace_back(domain, sink_->port());
  std::ofstream(config_path_) << LoopbackConfig(absl::StrCat(dir_, "/spool"), log_path_, 2, "",
                                                options_.http)
                              << RoutesToSinks(routes)
                              << "[shaping.default]\nmax_message_rate = \"\"\n"
                                 "max_connection_rate = \"\"\n"
                              << options_.shaping_default << "\n"
                              << options_.config;
  return Restart();
}

RelayWorld::~RelayWorld() {
  volleyd_.reset();
  if (sink_ != nullptr) sink_->Stop();
}

absl::Status RelayWorld::Restart() {
  if (volleyd_ != nullptr) {
    absl::StatusOr<ExitResult> stopped = volleyd_->Terminate();
    if (!stopped.ok()) return stopped.status();
    if (stopped->exit_code != 0) {
      return absl::InternalError(absl::StrCat("volleyd exited with ", stopped->exit_code));
    }
    volleyd_.reset();
  }
  return StartVolleyd();
}

absl::Status RelayWorld::KillAndRestart() {
  if (volleyd_ != nullptr) volleyd_->Kill();
  volleyd_.reset();
  return StartVolleyd();
}

absl::Status RelayWorld::StartVolleyd() {
  absl::StatusOr<std::unique_ptr<VolleydProcess>> volleyd =
      VolleydProcess::Start(config_path_, absl::StrCat(dir_, "/volleyd.log"));
  if (!volleyd.ok()) return volleyd.status();
  volleyd_ = *std::move(volleyd);
  return absl::OkStatus();
}

std::string RelayWorld::site() const { return absl::StrCat("route:127.0.0.1:", sink_->port()); }

int RelayWorld::Received(const std::string& recipient) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = received_.find(recipient);
  return it == received_.end() ? 0 : it->second;
}

int RelayWorld::NotOnce(const std::vector<std::string>& recipients) {
  int wrong = 0;
  for (const std::string& r : recipients) wrong += Received(r) != 1;
  return wrong;
}

nlohmann::json RelayWorld::Explain() {
  absl::StatusOr<HttpResult> r = Api("GET", absl::StrCat("/api/admin/explain/v1?site=", site()));
  if (!r.ok() || r->status != 200) return nlohmann::json();
  nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j["queues"].is_array() || j["queues"].empty()) return nlohmann::json();
  return j["queues"][0];
}

absl::StatusOr<HttpResult> RelayWorld::Api(const std::string& method, const std::string& path,
                                           const std::string& body) {
  return HttpCall("127.0.0.1", volleyd_->http_port(), method, path, body);
}

}  // namespace volley::test_support
