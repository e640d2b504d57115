// The EHLO reply (RFC 5321 4.1.1.1): as the delivery client reads a server's, and as the server
// session writes its own.
#ifndef VOLLEY_ENGINE_SMTP_EHLO_H_
#define VOLLEY_ENGINE_SMTP_EHLO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "engine/smtp/reply.h"

namespace volley::smtp {

struct Capabilities {
  bool pipelining = false;
  bool size = false;
  uint64_t max_size = 0;  // 0: SIZE without a limit (or not offered)
  bool eightbitmime = false;
  bool smtputf8 = false;
  bool starttls = false;
  bool chunking = false;
  bool binarymime = false;
  bool dsn = false;
  bool enhanced_status_codes = false;
  std::vector<std::string> auth_mechanisms;  // upper-cased, from "AUTH" (and "AUTH=")
};

// Reads the keywords from lines 2..n of a 250 reply to EHLO (line 1 is the greeting).
// Keywords are case-insensitive; unknown ones are ignored.
Capabilities ParseEhloReply(const Reply& reply);

// The 250 reply offering `offered` (max_size with SIZE; the AUTH mechanisms when any), which
// ParseEhloReply reads back as it was.
Reply MakeEhloReply(const std::string& hostname, const Capabilities& offered);

}  // namespace volley::smtp

#endif  // VOLLEY_ENGINE_SMTP_EHLO_H_
