// volleyd as operators run it: config checking, exit codes, and refusing a spool it cannot
// own.
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/smtp_injector.h"
#include "engine/base/version.h"
#include "gtest/gtest.h"
#include "queue/spool.h"
#include "rocksdb/db.h"
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

TEST(VolleydCli, CheckConfigNamesTheBadLineOfABounceRulesFile) {
  const std::string rules =
      WriteFile("rules.toml", "[[rule]]\nclass = \"SpamBlock\"\nregex = ['(open']\n");
  const std::string path = WriteFile(
      "with-rules.toml",
      absl::StrCat(MinimalConfig("/tmp/unused-spool"), "[bounce]\nrules = \"", rules, "\"\n"));
  auto result = RunVolleyd({"--check-config", absl::StrCat("--config=", path)});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 1) << result->output;
  // The config's line and the rules file's.
  EXPECT_TRUE(absl::StrContains(result->output, absl::StrCat(path, ":12: [bounce] rules: ", rules,
                                                             ":3: [[rule]] regex \"(open\"")))
      << result->output;
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

TEST(VolleydCli, VersionPrintsOnlyTheVersionWithoutReadingTheConfig) {
  // A config that does not exist: --version must not open it (nor any spool).
  auto result = RunVolleyd({"--version", "--config=/nonexistent/volley.toml"});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0) << result->output;
  EXPECT_EQ(result->output, absl::StrCat("volleyd ", kVolleyVersion, "\n"));
  // An unknown flag beside it still fails as any unknown flag does.
  auto typo = RunVolleyd({"--version", "--frobnicate"});
  ASSERT_TRUE(typo.ok()) << typo.status();
  EXPECT_EQ(typo->exit_code, 1) << typo->output;
  EXPECT_TRUE(absl::StrContains(typo->output, "unknown flag '--frobnicate'")) << typo->output;
}

TEST(VolleydCli, SecondVolleydOrSpoolCheckOnTheSameSpoolExitsTwo) {
  const std::string spool = absl::StrCat(TestTempDir(), "/shared-spool");
  std::filesystem::remove_all(spool);
  const std::string path = WriteFile("first.toml", MinimalConfig(spool));
  auto first = VolleydProcess::Start(path, absl::StrCat(TestTempDir(), "/first.log"));
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = RunVolleyd({absl::StrCat("--config=", path)});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->exit_code, 2) << second->output;
  EXPECT_TRUE(absl::StrContains(second->output, spool)) << second->output;
  // Neither may a check open a spool in use.
  auto busy = RunVolleyd({absl::StrCat("--config=", path), "--spool-check"});
  ASSERT_TRUE(busy.ok());
  EXPECT_EQ(busy->exit_code, 2) << busy->output;
  EXPECT_TRUE(absl::StrContains(busy->output, "in use by another process")) << busy->output;
  EXPECT_TRUE(absl::StrContains(busy->output, spool)) << busy->output;
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

// Five messages for two recipients each, queued for a site that refuses connections.
void QueueTenRecipients(const std::string& spool) {
  const std::string path =
      WriteFile("queued.toml", absl::StrCat(MinimalConfig(spool),
                                            "[routes]\n\"nowhere.test\" = { host = "
                                            "\"127.0.0.1:9\" }\n"));
  auto volleyd = VolleydProcess::Start(path, absl::StrCat(TestTempDir(), "/queued.log"));
  ASSERT_TRUE(volleyd.ok()) << volleyd.status();
  bench::InjectorOptions options;
  options.port = (*volleyd)->smtp_port();
  options.connections = 1;
  auto injected = bench::InjectAll(
      options,
      [](size_t i) {
        bench::InjectMessage m;
        m.mail_from = "check@volley.test";
        m.recipients = {absl::StrCat("a", i, "@nowhere.test"),
                        absl::StrCat("b", i, "@nowhere.test")};
        m.content = absl::StrCat("Subject: ", i, "\r\n\r\nbody\r\n");
        return m;
      },
      5);
  ASSERT_TRUE(injected.ok()) << injected.status();
  ASSERT_EQ(injected->accepted, 5u);
  auto exit = (*volleyd)->Terminate();
  ASSERT_TRUE(exit.ok());
  ASSERT_EQ(exit->exit_code, 0) << exit->output;
}

TEST(VolleydCli, SpoolCheckReportsWhatTheSpoolHolds) {
  const std::string spool = absl::StrCat(TestTempDir(), "/checked-spool");
  std::filesystem::remove_all(spool);
  QueueTenRecipients(spool);
  const std::string path = WriteFile("check.toml", MinimalConfig(spool));
  auto result = RunVolleyd({absl::StrCat("--config=", path), "--spool-check"});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0) << result->output;
  EXPECT_TRUE(absl::StrContains(result->output, absl::StrCat("spool:                 ", spool)))
      << result->output;
  EXPECT_TRUE(absl::StrContains(result->output, "messages:              5\n")) << result->output;
  EXPECT_TRUE(absl::StrContains(result->output, "recipients:            10\n")) << result->output;
  EXPECT_TRUE(absl::StrContains(result->output, "missing_bodies:        0\n")) << result->output;
  EXPECT_TRUE(absl::StrContains(result->output, "result:                OK")) << result->output;
  // Checking changes nothing a start would see: the same counts again.
  auto again = RunVolleyd({absl::StrCat("--config=", path), "--spool-check"});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(absl::StrContains(again->output, "recipients:            10\n")) << again->output;
  EXPECT_TRUE(absl::StrContains(again->output, "index_repaired:        0\n")) << again->output;
}

TEST(VolleydCli, SpoolCheckNeverCreatesASpool) {
  const std::string missing = absl::StrCat(TestTempDir(), "/no-such-spool");
  std::filesystem::remove_all(missing);
  auto result =
      RunVolleyd({absl::StrCat("--config=", WriteFile("missing.toml", MinimalConfig(missing))),
                  "--spool-check"});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->exit_code, 2) << result->output;
  EXPECT_TRUE(absl::StrContains(result->output, absl::StrCat("no spool at ", missing)))
      << result->output;
  EXPECT_FALSE(std::filesystem::exists(missing));
}

TEST(VolleydCli, NewerSchemaExitsTwoNamingThePath) {
  const std::string spool = absl::StrCat(TestTempDir(), "/future-spool");
  std::filesystem::remove_all(spool);
  QueueTenRecipients(spool);
  {
    // What a later volleyd would leave: its own schema version.
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const char* name : volley::queue::kSpoolColumnFamilies) {
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), spool, families, &handles, &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "volley.schema", "99").ok());
    for (rocksdb::ColumnFamilyHandle* handle : handles) {
      ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
    }
    delete db;
  }
  const std::string path = WriteFile("future.toml", MinimalConfig(spool));
  for (bool check : {false, true}) {
    std::vector<std::string> args = {absl::StrCat("--config=", path)};
    if (check) args.push_back("--spool-check");
    auto result = RunVolleyd(args);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result->exit_code, 2) << result->output;
    EXPECT_TRUE(absl::StrContains(result->output, "schema version 99")) << result->output;
    EXPECT_TRUE(absl::StrContains(result->output, spool)) << result->output;
  }
}

TEST(VolleydCli, CorruptSpoolExitsTwoNamingThePath) {
  const std::string spool = absl::StrCat(TestTempDir(), "/corrupt-spool");
  std::filesystem::remove_all(spool);
  QueueTenRecipients(spool);
  // Scribble over the manifests: RocksDB can no longer tell which files make the spool.
  int scribbled = 0;
  for (const auto& entry : std::filesystem::directory_iterator(spool)) {
    if (absl::StartsWith(entry.path().filename().string(), "MANIFEST-")) {
      std::ofstream(entry.path(), std::ios::binary | std::ios::trunc) << std::string(4096, '\x5a');
      ++scribbled;
    }
  }
  ASSERT_GT(scribbled, 0);
  const std::string path = WriteFile("corrupt.toml", MinimalConfig(spool));
  for (bool check : {false, true}) {
    std::vector<std::string> args = {absl::StrCat("--config=", path)};
    if (check) args.push_back("--spool-check");
    auto result = RunVolleyd(args);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result->exit_code, 2) << result->output;
    EXPECT_TRUE(absl::StrContains(result->output, spool)) << result->output;
  }
}

}  // namespace
}  // namespace volley
