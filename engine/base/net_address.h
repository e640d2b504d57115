// Socket address helpers shared by every listener and client.
#ifndef VOLLEY_ENGINE_BASE_NET_ADDRESS_H_
#define VOLLEY_ENGINE_BASE_NET_ADDRESS_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace volley {

// A numeric IPv4 or IPv6 address (IPv6 without brackets) and a port.
absl::StatusOr<sockaddr_storage> MakeSocketAddress(absl::string_view ip, uint16_t port);

// The numeric IP of an AF_INET/AF_INET6 address ("" for other families).
std::string IpOf(const sockaddr* address);
uint16_t PortOf(const sockaddr* address);

// True for a numeric IPv4 or IPv6 address.
bool IsIpLiteral(absl::string_view text);

}  // namespace volley

#endif  // VOLLEY_ENGINE_BASE_NET_ADDRESS_H_
