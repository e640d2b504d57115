#include "engine/inject/client_limits.h"

#include <string>
#include <vector>

namespace volley::inject {

bool ClientLimits::Exempt(absl::string_view ip) const {
  for (const config::Cidr& network : options_.exempt) {
    if (network.Contains(ip)) return true;
  }
  return false;
}

ClientLimits::Verdict ClientLimits::Arrive(absl::string_view ip, absl::Time now) {
  if (options_.max_connections_per_ip <= 0 && !options_.connection_rate_per_ip.has_value()) {
    return Verdict::kAdmitted;
  }
  if (Exempt(ip)) return Verdict::kAdmitted;
  std::lock_guard<std::mutex> lock(mutex_);
  if (++events_ % 4096 == 0) SweepLocked(now);
  Client& client = clients_[std::string(ip)];
  if (options_.max_connections_per_ip > 0 &&
      client.connections >= options_.max_connections_per_ip) {
    return Verdict::kTooManyConnections;
  }
  if (options_.connection_rate_per_ip.has_value()) {
    if (!client.rate.has_value()) {
      client.rate.emplace(*options_.connection_rate_per_ip, "max_connection_rate_per_ip");
    }
    if (!client.rate->TryTake(now).go()) return Verdict::kConnectionRate;
  }
  ++client.connections;
  return Verdict::kAdmitted;
}

void ClientLimits::Leave(absl::string_view ip) {
  if (options_.max_connections_per_ip <= 0 && !options_.connection_rate_per_ip.has_value()) {
    return;
  }
  if (Exempt(ip)) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = clients_.find(ip);
  if (it == clients_.end() || it->second.connections == 0) return;
  --it->second.connections;
  if (it->second.connections == 0 && !it->second.rate.has_value()) clients_.erase(it);
}

bool ClientLimits::TakeMessage(absl::string_view user, absl::Time now) {
  if (!options_.message_rate_per_user.has_value() || user.empty()) return true;
  std::lock_guard<std::mutex> lock(mutex_);
  if (++events_ % 4096 == 0) SweepLocked(now);
  auto it = users_.find(user);
  if (it == users_.end()) {
    it = users_
             .emplace(std::string(user), shaping::Throttle(*options_.message_rate_per_user,
                                                           "max_message_rate_per_user"))
             .first;
  }
  return it->second.TryTake(now).go();
}

size_t ClientLimits::tracked_clients() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return clients_.size() + users_.size();
}

void ClientLimits::SweepLocked(absl::Time now) {
  std::vector<std::string> idle;
  for (const auto& [ip, client] : clients_) {
    const bool whole =
        !client.rate.has_value() || client.rate->Available(now) >= client.rate->rate().max_burst;
    if (client.connections == 0 && whole) idle.push_back(ip);
  }
  for (const std::string& ip : idle) clients_.erase(ip);
  std::vector<std::string> users;
  for (const auto& [user, throttle] : users_) {
    if (throttle.Available(now) >= throttle.rate().max_burst) users.push_back(user);
  }
  for (const std::string& user : users) users_.erase(user);
}

}  // namespace volley::inject
