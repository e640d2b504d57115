// Volley's configuration: the TOML file of ../../README.md ("Configuration"), parsed into plain
// structs. Every key has a default (the embedded defaults are a Config{} as constructed here);
// unknown keys and bad values are errors that name the file's line.
//
// This is the header to include. The structs are declared in config_types.h and the value
// syntax (HostPort, Cidr, ParseDurationValue, ...) in values.h; both come with this header.
#ifndef VOLLEY_ENGINE_CONFIG_CONFIG_H_
#define VOLLEY_ENGINE_CONFIG_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/config/config_types.h"  // IWYU pragma: export
#include "engine/config/values.h"        // IWYU pragma: export

namespace volley::config {

// Parses TOML text. `origin` names the source in messages ("volley.toml"). On failure the
// status message lists every problem found, one per line, each as "origin:LINE: message".
absl::StatusOr<Config> ParseConfig(absl::string_view toml_text, absl::string_view origin);

// Reads and parses a file.
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_CONFIG_H_
