#include "engine/config/config_test_util.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::config {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

std::vector<std::string> Errors(const absl::StatusOr<Config>& result) {
  if (result.ok()) return {};
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  return absl::StrSplit(result.status().message(), '\n');
}

void ExpectOneError(absl::string_view toml, int line, absl::string_view text) {
  SCOPED_TRACE(toml);
  const absl::StatusOr<Config> result = ParseConfig(toml, kOrigin);
  ASSERT_FALSE(result.ok());
  const std::vector<std::string> errors = Errors(result);
  ASSERT_THAT(errors, SizeIs(1)) << result.status().message();
  EXPECT_THAT(errors[0], StartsWith(absl::StrCat(kOrigin, ":", line, ": ")));
  EXPECT_THAT(errors[0], HasSubstr(std::string(text)));
}

std::vector<std::string> CidrStrings(const std::vector<Cidr>& cidrs) {
  std::vector<std::string> out;
  for (const Cidr& c : cidrs) out.push_back(c.ToString());
  return out;
}

}  // namespace volley::config
