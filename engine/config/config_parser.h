// What every section parser of the configuration shares: the collector of problems each section
// reports into, the typed readers that turn a TOML node into a value or a problem, and the
// values sections remember for the checks that run once the whole file is read.
//
// This header and this package's .cc files are the only ones that include toml++. Every target
// that includes it compiles with TOML_EXCEPTIONS=0 (see BUILD.bazel), so a syntax error comes
// back as a toml::parse_result instead of a thrown toml::parse_error, nothing can throw out of
// the parser, and all of them see the same toml++ ABI.
#ifndef VOLLEY_ENGINE_CONFIG_CONFIG_PARSER_H_
#define VOLLEY_ENGINE_CONFIG_CONFIG_PARSER_H_

#include <toml++/toml.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/config/config_types.h"
#include "engine/config/values.h"

namespace volley::config {

// The message for keys and tables that are documented for a later version.
inline constexpr absl::string_view kNotSupported = "not supported yet by this version";

inline absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// `key` as it would be written in a table header: bare when it can be, quoted otherwise.
std::string QuoteKey(std::string_view key);

// "a string", "an integer", ...: what a value was, for "expected X, got Y" messages.
absl::string_view TypeName(const toml::node& node);

// A route as written; its port is filled in once [delivery] port is known.
struct PendingRoute {
  std::string domain;
  uint32_t line = 0;
  std::string host;
  std::optional<uint16_t> port;
  std::optional<TlsPolicy> tls;
  std::string auth_user;
  std::string auth_password;
  bool allow_auth_without_tls = false;
};

// What sections leave for the checks that run after the whole file is read (cross_checks.h),
// since a value may be checked against one from a table that comes later in the file. Lines are
// those the checks blame; 0 when the default was kept.
struct CrossSectionState {
  uint32_t retry_initial_line = 0;
  uint32_t retry_max_line = 0;
  uint32_t http_listen_line = 0;
  uint32_t http_admin_token_line = 0;
  uint32_t max_ttl_line = 0;
  // Every SMTP listener's listen addresses, with the line of each.
  std::vector<std::pair<HostPort, uint32_t>> smtp_listen;
  std::vector<std::pair<std::string, uint32_t>> pool_lines;  // egress_pool values and lines
  // Egress source names of [shaping.source."NAME"] and [shaping."domain".source."NAME"].
  std::vector<std::pair<std::string, uint32_t>> source_lines;
  // Warm-up schedule names of [egress] sources, with their lines.
  std::vector<std::pair<std::string, uint32_t>> warmup_lines;
  std::vector<PendingRoute> pending_routes;
};

// Collects every problem found in one configuration file, each with its line, instead of
// stopping at the first, so an operator fixes a file in one round instead of one per error; and
// reads typed values from TOML nodes, reporting what is wrong with them. A reader that reports a
// problem returns nullopt (or nullptr), and the caller keeps the default.
//
// One ConfigParser serves one parse, on the thread that runs it; it is not thread-safe.
class ConfigParser {
 public:
  // A key of a table and what to do with its value.
  struct Field {
    absl::string_view key;
    std::function<void(const toml::node&)> parse;
  };

  // `origin` names the source in messages ("volley.toml").
  explicit ConfigParser(absl::string_view origin);
  ConfigParser(const ConfigParser&) = delete;
  ConfigParser& operator=(const ConfigParser&) = delete;

  // Records a problem; line 0 is a problem of the file as a whole.
  void AddError(uint32_t line, std::string message);
  void AddError(const toml::node& at, std::string message);
  void AddError(const toml::key& at, std::string message);

  // OK when nothing was reported. Otherwise InvalidArgument listing every problem in file order
  // (problems on one line in the order they were reported), one per line, each as
  // "origin:LINE: message", or "origin: message" for line 0.
  absl::Status Finish();

  // Dispatches each key of `table` to its field, and reports keys that are documented but not
  // implemented (`unsupported`), and keys nobody knows. `table_name` is as in messages:
  // "server", "shaping.default".
  void Walk(const toml::table& table, absl::string_view table_name, absl::Span<const Field> fields,
            absl::Span<const absl::string_view> unsupported);

  // The readers. `what` starts each message: "[server] threads".
  const toml::table* ExpectTable(const toml::node& node, absl::string_view what);
  std::optional<std::string> ReadString(const toml::node& node, absl::string_view what);
  // An integer from `min` to `max`; a `max` of INT_MAX is not named in the message.
  std::optional<int64_t> ReadInteger(const toml::node& node, absl::string_view what, int64_t min,
                                     int64_t max);
  // A size: an integer number of bytes or a string like "25MiB".
  std::optional<uint64_t> ReadSize(const toml::node& node, absl::string_view what, bool allow_zero);
  // A strictly positive duration string.
  std::optional<absl::Duration> ReadDuration(const toml::node& node, absl::string_view what);
  // A duration string, or "" for `if_empty` (a key whose "" means "forever" or "off").
  std::optional<absl::Duration> ReadDurationOrEmpty(const toml::node& node, absl::string_view what,
                                                    absl::Duration if_empty);
  // true or false.
  std::optional<bool> ReadBool(const toml::node& node, absl::string_view what);
  // A listening or server address: a numeric IP, since nothing is resolved at startup.
  // Listen addresses may use port 0: the kernel picks a free port, which volleyd reports in its
  // ready line (tests and benchmarks run that way).
  std::optional<HostPort> ReadIpAddress(const toml::node& node, absl::string_view what,
                                        std::optional<uint16_t> default_port,
                                        bool allow_port_zero = false);
  // A TLS policy name; "implicit" only where `allow_implicit` ([routes]).
  std::optional<TlsPolicy> ReadTlsPolicy(const toml::node& node, absl::string_view what,
                                         bool allow_implicit);

  // A rate ("100/s", "20/m,max_burst=5"); "" stores nullopt (no limit). False on an error.
  bool ReadRate(const toml::node& node, absl::string_view what, std::optional<Rate>* rate);

  CrossSectionState& cross_section() { return cross_section_; }
  // The file's name as messages give it.
  const std::string& origin() const { return origin_; }

 private:
  struct Problem {
    uint32_t line;
    std::string message;
  };

  const std::string origin_;
  std::vector<Problem> problems_;
  CrossSectionState cross_section_;
};

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_CONFIG_PARSER_H_
