// volleyd as operators run it: config checking, exit codes, and refusing a spool it cannot
// own.
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/volleyd_process.h"

namespace volley {
namespace {

using test_support::RunVolleyd;
using test_support::TestTempDir;
using test_support::VolleydProcess;

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = absl::StrCat(TestTempDir(), "/", name);
  std::ofstream(path) << text;
  return path;
}

std::string MinimalConfig(const std::string& spool) {
  return absl::StrCat("[server]\nthreads = 1\nspool = \"", spool, "\"\nlog = \"\"\n",
                      "[inject.smtp]\nlisten = [\"127.0.0.1:0\"]\n",
                      "[http]\nlisten = \"127.0.0.1:0\"\n", "[dns]\nservers = [\"127.0.0.1:9\"]\n");
}

TEST(VolleydCli, CheckConfigAcceptsAGoodFile) {
  const std::string path = WriteFile("good.toml", MinimalConfig("/tmp/unused-spool"));
  auto result = RunVolleyd({"--check-config", absl::StrCat("--config=", path)});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0) << result->output;
}

TEST(VolleydCli, CheckConfigNamesEveryBadLine) {
  const std::string path = WriteFile(
      "bad.toml", "[server]\nthreads = 2\nbogus = 1\n[delivery]\nretry_initial = \"5 minutes\"\n");
  auto result = RunVolleyd({"--check-config", absl::StrCat("--config=", path)});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 1);
  EXPECT_TRUE(absl::StrContains(result->output, absl::StrCat(path, ":3:"))) << result->output;
  EXPECT_TRUE(absl::StrContains(result->output, "bogus")) << result->output;
  EXPECT_TRUE(absl::StrContains(result->output, absl::StrCat(path, ":5:"))) << result->output;
}

TEST(VolleydCli, StartingWithABadConfigExitsOne) {
  const std::string path = WriteFile("bad-start.toml", "[delivery]\nport = 0\n");
  auto result = RunVolleyd({absl::StrCat("--config=", path)});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->exit_code, 1) << result->output;
  EXPECT_TRUE(absl::StrContains(result->output, ":2:")) << result->output;
}

TEST(VolleydCli, MissingConfigFileExitsOneNamingIt) {
  auto result = RunVolleyd({"--config=/nonexistent/volley.toml"});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->exit_code, 1);
  EXPECT_TRUE(absl::StrContains(result->output, "/nonexistent/volley.toml")) << result->output;
}

TEST(VolleydCli, UnknownFlagExitsOne) {
  auto result = RunVolleyd({"--frobnicate"});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->exit_code, 1);
  EXPECT_TRUE(absl::StrContains(result->output, "--frobnicate")) << result->output;
}

TEST(VolleydCli, SecondVolleydOnTheSameSpoolExitsTwo) {
  const std::string spool = absl::StrCat(TestTempDir(), "/shared-spool");
  std::filesystem::remove_all(spool);
  const std::string path = WriteFile("first.toml", MinimalConfig(spool));
  auto first = VolleydProcess::Start(path, absl::StrCat(TestTempDir(), "/first.log"));
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = RunVolleyd({absl::StrCat("--config=", path)});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->exit_code, 2) << second->output;
  EXPECT_TRUE(absl::StrContains(second->output, spool)) << second->output;
  // The first one is unharmed and stops cleanly.
  auto exit = (*first)->Terminate();
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->exit_code, 0) << exit->output;
}

TEST(VolleydCli, UnusableSpoolExitsTwoNamingThePath) {
  const std::string path = WriteFile("proc.toml", MinimalConfig("/proc/volley-spool/here"));
  auto result = RunVolleyd({absl::StrCat("--config=", path)});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->exit_code, 2) << result->output;
  EXPECT_TRUE(absl::StrContains(result->output, "/proc/volley-spool/here")) << result->output;
}

TEST(VolleydCli, SigtermStopsCleanly) {
  const std::string spool = absl::StrCat(TestTempDir(), "/term-spool");
  const std::string path = WriteFile("term.toml", MinimalConfig(spool));
  auto process = VolleydProcess::Start(path, absl::StrCat(TestTempDir(), "/term.log"));
  ASSERT_TRUE(process.ok()) << process.status();
  auto exit = (*process)->Terminate(absl::Seconds(15));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 0) << exit->output;
  EXPECT_TRUE(absl::StrContains(exit->output, "volleyd stopped")) << exit->output;
}

}  // namespace
}  // namespace volley
