// The keys of one SMTP listener, shared by [inject.smtp] (where they are the defaults of every
// listener) and each [[inject.smtp.listener]] table (inject_section.h reads both).
#ifndef VOLLEY_ENGINE_CONFIG_SMTP_LISTENER_SECTION_H_
#define VOLLEY_ENGINE_CONFIG_SMTP_LISTENER_SECTION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "engine/config/config_parser.h"
#include "engine/config/config_types.h"

namespace volley::config {

// A listener as its table(s) wrote it, with what the checks need to blame a line.
struct ListenerDraft {
  SmtpListenerConfig config;
  std::string what;   // "[inject.smtp]", "[[inject.smtp.listener]] 2": starts each message
  uint32_t line = 0;  // where the table starts
  bool listen_written = false;
  bool tls_written = false;
  bool auth_written = false;
  std::vector<uint32_t> listen_lines;  // parallel to config.listen
  uint32_t tenant_header_line = 0;
  uint32_t campaign_header_line = 0;
  uint32_t priority_header_line = 0;
};

// Reads the listener keys of `table` into `draft`, over what it holds (the defaults). `name` is
// a key only in a listener table (`listener_table`); [inject.smtp]'s `listener` array is the
// caller's and is skipped here.
void ParseListenerKeys(const toml::table& table, bool listener_table, ConfigParser& parser,
                       ListenerDraft& draft);

// Fills in what follows from other keys (tls and auth when not written) and reports settings
// that contradict each other.
void ResolveListener(ConfigParser& parser, ListenerDraft& draft);

absl::string_view SmtpListenerRoleName(SmtpListenerRole role);
absl::string_view SmtpListenerTlsName(SmtpListenerTls tls);
absl::string_view SmtpListenerAuthName(SmtpListenerAuth auth);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_SMTP_LISTENER_SECTION_H_
