#include "tests/support/delivery_log.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/support/volleyd_process.h"

namespace volley::test_support {
namespace {

std::string StringOr(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_string()) return "";
  return j[key].get<std::string>();
}

}  // namespace

std::vector<LogEntry> ReadDeliveryLog(const std::string& path) {
  std::vector<LogEntry> entries;
  const std::string text = ReadFileOrEmpty(path);
  const size_t complete = text.rfind('\n');
  if (complete == std::string::npos) return entries;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(text).substr(0, complete), '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
    if (j.is_discarded()) continue;
    LogEntry e;
    e.type = StringOr(j, "type");
    e.id = StringOr(j, "id");
    e.recipient = StringOr(j, "recipient");
    e.queue = StringOr(j, "queue");
    e.site = StringOr(j, "site");
    // Records about no recipient (Suspended) have no response.
    const nlohmann::json response = j.contains("response") && j["response"].is_object()
                                        ? j["response"]
                                        : nlohmann::json::object();
    e.code = response.value("code", 0);
    if (response.contains("enhanced_code") && response["enhanced_code"].is_object()) {
      const nlohmann::json& ec = response["enhanced_code"];
      e.enhanced = absl::StrCat(ec.value("class", 0), ".", ec.value("subject", 0), ".",
                                ec.value("detail", 0));
    }
    e.content = StringOr(response, "content");
    e.command = StringOr(response, "command");
    if (j.contains("peer_address") && j["peer_address"].is_object()) {
      e.peer_name = StringOr(j["peer_address"], "name");
      e.peer_address = StringOr(j["peer_address"], "addr");
    }
    e.tls_version = StringOr(j, "tls_protocol_version");
    e.tls_cipher = StringOr(j, "tls_cipher");
    e.egress_pool = StringOr(j, "egress_pool");
    e.egress_source = StringOr(j, "egress_source");
    e.classification = StringOr(j, "bounce_classification");
    e.num_attempts = j.value("num_attempts", 0);
    e.raw = std::move(j);
    entries.push_back(std::move(e));
  }
  return entries;
}

absl::StatusOr<std::vector<LogEntry>> WaitForFinalRecords(
    const std::string& path, const std::vector<std::string>& recipients, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    std::vector<LogEntry> entries = ReadDeliveryLog(path);
    std::set<std::string> finished;
    for (const LogEntry& e : entries) {
      if (e.type == "Delivery" || e.type == "Bounce") finished.insert(e.recipient);
    }
    std::vector<std::string> missing;
    for (const std::string& r : recipients) {
      if (!finished.contains(r)) missing.push_back(r);
    }
    if (missing.empty()) return entries;
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("no final record for: ", absl::StrJoin(missing, ", "), "\nlog:\n",
                       ReadFileOrEmpty(path)));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

std::vector<LogEntry> EntriesFor(const std::vector<LogEntry>& entries,
                                 const std::string& recipient) {
  std::vector<LogEntry> out;
  for (const LogEntry& e : entries) {
    if (e.recipient == recipient) out.push_back(e);
  }
  return out;
}

std::vector<std::string> TypesFor(const std::vector<LogEntry>& entries,
                                  const std::string& recipient) {
  std::vector<std::string> out;
  for (const LogEntry& e : entries) {
    if (e.recipient == recipient) out.push_back(e.type);
  }
  return out;
}

}  // namespace volley::test_support
