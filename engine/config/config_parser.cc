// The configuration parser's shared machinery; see config_parser.h.
#include "engine/config/config_parser.h"

#include <algorithm>
#include <limits>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/net_address.h"

namespace volley::config {

std::string QuoteKey(std::string_view key) {
  const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
  if (bare) return std::string(key);
  std::string quoted = "\"";
  for (char c : key) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

absl::string_view TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

ConfigParser::ConfigParser(absl::string_view origin) : origin_(origin) {}

void ConfigParser::AddError(uint32_t line, std::string message) {
  problems_.push_back({line, std::move(message)});
}

void ConfigParser::AddError(const toml::node& at, std::string message) {
  AddError(at.source().begin.line, std::move(message));
}

void ConfigParser::AddError(const toml::key& at, std::string message) {
  AddError(at.source().begin.line, std::move(message));
}

absl::Status ConfigParser::Finish() {
  if (problems_.empty()) return absl::OkStatus();
  // Tables iterate in key order, not file order; report in file order.
  std::stable_sort(problems_.begin(), problems_.end(),
                   [](const Problem& a, const Problem& b) { return a.line < b.line; });
  std::vector<std::string> lines;
  lines.reserve(problems_.size());
  for (const Problem& p : problems_) {
    if (p.line == 0) {
      lines.push_back(absl::StrCat(origin_, ": ", p.message));
    } else {
      lines.push_back(absl::StrCat(origin_, ":", p.line, ": ", p.message));
    }
  }
  return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
}

void ConfigParser::Walk(const toml::table& table, absl::string_view table_name,
                        absl::Span<const Field> fields,
                        absl::Span<const absl::string_view> unsupported) {
  for (auto&& [key, value] : table) {
    const absl::string_view name = AsAbsl(key.str());
    const auto field =
        std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.key == name; });
    if (field != fields.end()) {
      field->parse(value);
    } else if (std::find(unsupported.begin(), unsupported.end(), name) != unsupported.end()) {
      AddError(key, absl::StrCat("[", table_name, "] ", name, ": ", kNotSupported));
    } else {
      AddError(key, absl::StrCat("unknown key '", name, "' in [", table_name, "]"));
    }
  }
}

const toml::table* ConfigParser::ExpectTable(const toml::node& node, absl::string_view what) {
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    AddError(node, absl::StrCat(what, ": expected a table, got ", TypeName(node)));
  }
  return table;
}

std::optional<std::string> ConfigParser::ReadString(const toml::node& node,
                                                    absl::string_view what) {
  if (const auto* s = node.as_string()) return s->get();
  AddError(node, absl::StrCat(what, ": expected a string, got ", TypeName(node)));
  return std::nullopt;
}

std::optional<int64_t> ConfigParser::ReadInteger(const toml::node& node, absl::string_view what,
                                                 int64_t min, int64_t max) {
  const auto* integer = node.as_integer();
  if (integer == nullptr) {
    AddError(node, absl::StrCat(what, ": expected an integer, got ", TypeName(node)));
    return std::nullopt;
  }
  const int64_t value = integer->get();
  if (value < min || value > max) {
    if (max == std::numeric_limits<int>::max()) {
      AddError(node,
               absl::StrCat(what, ": ", value, " is out of range (must be at least ", min, ")"));
    } else {
      AddError(node, absl::StrCat(what, ": ", value, " is out of range (must be from ", min, " to ",
                                  max, ")"));
    }
    return std::nullopt;
  }
  return value;
}

std::optional<uint64_t> ConfigParser::ReadSize(const toml::node& node, absl::string_view what,
                                               bool allow_zero) {
  std::optional<uint64_t> size;
  if (const auto* integer = node.as_integer()) {
    if (integer->get() < 0) {
      AddError(node, absl::StrCat(what, ": must not be negative"));
      return std::nullopt;
    }
    size = static_cast<uint64_t>(integer->get());
  } else if (const auto* s = node.as_string()) {
    absl::StatusOr<uint64_t> parsed = ParseSizeValue(s->get());
    if (!parsed.ok()) {
      AddError(node, absl::StrCat(what, ": ", parsed.status().message()));
      return std::nullopt;
    }
    size = *parsed;
  } else {
    AddError(node, absl::StrCat(what,
                                ": expected a size (an integer number of bytes or a string "
                                "like \"25MiB\"), got ",
                                TypeName(node)));
    return std::nullopt;
  }
  if (*size == 0 && !allow_zero) {
    AddError(node, absl::StrCat(what, ": must be larger than zero"));
    return std::nullopt;
  }
  return size;
}

std::optional<absl::Duration> ConfigParser::ReadDuration(const toml::node& node,
                                                         absl::string_view what) {
  const auto* s = node.as_string();
  if (s == nullptr) {
    AddError(node,
             absl::StrCat(what, ": expected a duration string like \"30s\", got ", TypeName(node)));
    return std::nullopt;
  }
  absl::StatusOr<absl::Duration> duration = ParseDurationValue(s->get());
  if (!duration.ok()) {
    AddError(node, absl::StrCat(what, ": ", duration.status().message()));
    return std::nullopt;
  }
  if (*duration <= absl::ZeroDuration()) {
    AddError(node, absl::StrCat(what, ": must be longer than zero"));
    return std::nullopt;
  }
  return *duration;
}

std::optional<absl::Duration> ConfigParser::ReadDurationOrEmpty(const toml::node& node,
                                                                absl::string_view what,
                                                                absl::Duration if_empty) {
  if (const auto* s = node.as_string(); s != nullptr && s->get().empty()) return if_empty;
  return ReadDuration(node, what);
}

std::optional<bool> ConfigParser::ReadBool(const toml::node& node, absl::string_view what) {
  const auto* b = node.as_boolean();
  if (b == nullptr) {
    AddError(node, absl::StrCat(what, ": expected true or false, got ", TypeName(node)));
    return std::nullopt;
  }
  return b->get();
}

std::optional<HostPort> ConfigParser::ReadIpAddress(const toml::node& node, absl::string_view what,
                                                    std::optional<uint16_t> default_port,
                                                    bool allow_port_zero) {
  std::optional<std::string> text = ReadString(node, what);
  if (!text.has_value()) return std::nullopt;
  absl::StatusOr<HostPort> address = ParseHostPort(*text, default_port, allow_port_zero);
  if (!address.ok()) {
    AddError(node, absl::StrCat(what, ": ", address.status().message()));
    return std::nullopt;
  }
  if (!IsIpLiteral(address->host)) {
    AddError(node, absl::StrCat(what, ": \"", *text, "\": the host must be a numeric IP address"));
    return std::nullopt;
  }
  return *std::move(address);
}

std::optional<TlsPolicy> ConfigParser::ReadTlsPolicy(const toml::node& node, absl::string_view what,
                                                     bool allow_implicit) {
  std::optional<std::string> text = ReadString(node, what);
  if (!text.has_value()) return std::nullopt;
  for (TlsPolicy policy : {TlsPolicy::kDisabled, TlsPolicy::kOpportunistic, TlsPolicy::kRequired,
                           TlsPolicy::kRequiredVerify, TlsPolicy::kImplicit}) {
    if (policy == TlsPolicy::kImplicit && !allow_implicit) continue;
    if (*text == TlsPolicyName(policy)) return policy;
  }
  AddError(node, absl::StrCat(what, ": \"", *text, "\" is not one of disabled, opportunistic, ",
                              "required, required_verify", allow_implicit ? ", implicit" : ""));
  return std::nullopt;
}

bool ConfigParser::ReadRate(const toml::node& node, absl::string_view what,
                            std::optional<Rate>* rate) {
  const auto* s = node.as_string();
  if (s == nullptr) {
    AddError(node,
             absl::StrCat(what, ": expected a rate string like \"100/s\", got ", TypeName(node)));
    return false;
  }
  absl::StatusOr<std::optional<Rate>> parsed = ParseRateValue(s->get());
  if (!parsed.ok()) {
    AddError(node, absl::StrCat(what, ": ", parsed.status().message()));
    return false;
  }
  *rate = *parsed;
  return true;
}

}  // namespace volley::config
