// Helpers of the Config tests (engine/config/config_*_test.cc).
#ifndef VOLLEY_ENGINE_CONFIG_CONFIG_TEST_UTIL_H_
#define VOLLEY_ENGINE_CONFIG_CONFIG_TEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/config/config.h"

namespace volley::config {

// The origin the tests give ParseConfig; errors start with "t.toml:<line>: ".
inline constexpr absl::string_view kOrigin = "t.toml";

// The errors of a failed parse, one per line (none when it succeeded).
std::vector<std::string> Errors(const absl::StatusOr<Config>& result);

// Expects exactly one error, at `line`, whose message contains `text`.
void ExpectOneError(absl::string_view toml, int line, absl::string_view text);

// The networks as "address/prefix" strings.
std::vector<std::string> CidrStrings(const std::vector<Cidr>& cidrs);

}  // namespace volley::config

#endif  // VOLLEY_ENGINE_CONFIG_CONFIG_TEST_UTIL_H_
