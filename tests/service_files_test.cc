// The service files an operator installs (tools/volleyd.service, tools/logrotate.conf): the
// unit keeps the settings volleyd needs to run well as a service, and logrotate accepts the
// rotation config. Nothing here needs systemd running or touches /var/log.
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/support/shell.h"

namespace volley {
namespace {

// The paths README.md's /etc/volley/volley.toml uses: the unit must let volleyd write them and
// logrotate must rotate the log.
constexpr char kSpool[] = "/var/lib/volley/spool";
constexpr char kLogDir[] = "/var/log/volley";
constexpr char kLog[] = "/var/log/volley/delivery.jsonl";

std::string Runfile(const std::string& path) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/volley/", path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "Key=Value" lines of the unit's [Service] section; a key given twice keeps every value.
std::multimap<std::string, std::string> ServiceKeys(const std::string& unit) {
  std::multimap<std::string, std::string> keys;
  std::string section;
  for (absl::string_view line : absl::StrSplit(unit, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      section = std::string(line);
      continue;
    }
    if (section != "[Service]") continue;
    std::vector<std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    if (kv.size() == 2) {
      keys.emplace(absl::StripAsciiWhitespace(kv[0]), absl::StripAsciiWhitespace(kv[1]));
    }
  }
  return keys;
}

std::string Only(const std::multimap<std::string, std::string>& keys, const std::string& key) {
  EXPECT_EQ(keys.count(key), 1u) << key;
  auto it = keys.find(key);
  return it == keys.end() ? "" : it->second;
}

// Whether `path` is `root` or below it, by whole components.
bool Covers(absl::string_view root, absl::string_view path) {
  return path == root || absl::StartsWith(path, absl::StrCat(root, "/"));
}

TEST(ServiceFiles, UnitRunsUnprivilegedWithWhatVolleydNeeds) {
  const std::string unit = ReadFile(Runfile("tools/volleyd.service"));
  ASSERT_FALSE(unit.empty());
  const auto keys = ServiceKeys(unit);

  EXPECT_EQ(Only(keys, "User"), "volley");
  EXPECT_EQ(Only(keys, "Group"), "volley");
  EXPECT_TRUE(absl::StartsWith(Only(keys, "ExecStart"),
                               "/usr/local/bin/volleyd --config=/etc/volley/volley.toml"));
  // volleyd does not call sd_notify: Type=notify would time every start out.
  EXPECT_EQ(Only(keys, "Type"), "simple");

  const std::string reload = Only(keys, "ExecReload");
  EXPECT_TRUE(absl::StrContains(reload, "kill -HUP $MAINPID")) << reload;

  // Above the 10 s volleyd gives transactions in flight, or systemd kills it mid-flush.
  EXPECT_EQ(Only(keys, "KillSignal"), "SIGTERM");
  int stop_seconds = 0;
  const std::string stop = Only(keys, "TimeoutStopSec");
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripSuffix(stop, "s"), &stop_seconds)) << stop;
  EXPECT_GT(stop_seconds, 10);
  EXPECT_EQ(Only(keys, "Restart"), "on-failure");

  int nofile = 0;
  ASSERT_TRUE(absl::SimpleAtoi(Only(keys, "LimitNOFILE"), &nofile));
  EXPECT_GE(nofile, 10000);

  EXPECT_EQ(Only(keys, "ProtectSystem"), "strict");
  std::vector<std::string> writable;
  for (auto [it, end] = keys.equal_range("ReadWritePaths"); it != end; ++it) {
    for (absl::string_view path : absl::StrSplit(it->second, ' ', absl::SkipEmpty())) {
      writable.push_back(std::string(absl::StripPrefix(path, "-")));
    }
  }
  for (const char* path : {kSpool, kLog}) {
    bool covered = false;
    for (const std::string& root : writable) covered = covered || Covers(root, path);
    EXPECT_TRUE(covered) << path << " is read-only under ProtectSystem=strict";
  }

  // Ports 25, 465 and 587 without root, and nothing else.
  EXPECT_EQ(Only(keys, "AmbientCapabilities"), "CAP_NET_BIND_SERVICE");
  EXPECT_EQ(Only(keys, "CapabilityBoundingSet"), "CAP_NET_BIND_SERVICE");
  for (const char* key : {"NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices",
                          "MemoryDenyWriteExecute"}) {
    EXPECT_EQ(Only(keys, key), "true") << key;
  }
}

// The rotation config with its paths moved into `dir` and its owner made the test's user, so
// that logrotate can check it here: fails the test if either is no longer where it was.
std::string RelocatedLogrotateConfig(const std::string& dir) {
  std::string config = ReadFile(Runfile("tools/logrotate.conf"));
  EXPECT_TRUE(absl::StrContains(config, absl::StrCat(kLogDir, "/*.jsonl {"))) << config;
  EXPECT_TRUE(absl::StrContains(config, "create 0640 volley volley")) << config;
  const std::string user = ::getpwuid(::geteuid())->pw_name;
  const std::string group = ::getgrgid(::getegid())->gr_name;
  return absl::StrReplaceAll(
      config, {{absl::StrCat(kLogDir, "/"), absl::StrCat(dir, "/")},
               {"create 0640 volley volley", absl::StrCat("create 0640 ", user, " ", group)}});
}

// logrotate --debug with a state file of our own: parses the config, says what it would do and
// does none of it (no rename, no script). It reports some config errors only as "error:" lines.
std::pair<int, std::string> DryRun(const std::string& dir, const std::string& config) {
  const std::string path = absl::StrCat(dir, "/logrotate.conf");
  std::ofstream(path) << config;
  // Bazel's test PATH has no /usr/sbin, where Debian puts logrotate.
  return test_support::RunShell(absl::StrCat(
      "PATH=/usr/sbin:/usr/bin:/sbin:/bin logrotate -d -f -s ", dir, "/state ", path, " 2>&1"));
}

TEST(ServiceFiles, LogrotateAcceptsTheConfigAndSignalsVolleyd) {
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/logrotate");
  std::filesystem::create_directories(dir);
  std::ofstream(absl::StrCat(dir, "/delivery.jsonl")) << "{\"event\":\"delivered\"}\n";
  const std::string config = RelocatedLogrotateConfig(dir);
  for (const char* directive : {"daily", "rotate 14", "compress", "delaycompress", "missingok",
                                "notifempty", "sharedscripts"}) {
    EXPECT_TRUE(absl::StrContains(config, absl::StrCat("\n    ", directive, "\n"))) << directive;
  }

  auto [status, output] = DryRun(dir, config);
  EXPECT_EQ(status, 0) << output;
  EXPECT_FALSE(absl::StrContains(output, "error:")) << output;
  EXPECT_TRUE(absl::StrContains(output, absl::StrCat("rotating pattern: ", dir, "/*.jsonl")))
      << output;
  EXPECT_TRUE(absl::StrContains(output, "running postrotate script")) << output;
  EXPECT_TRUE(absl::StrContains(output, "systemctl kill -s USR1 --kill-who=main volleyd.service"))
      << output;
  EXPECT_TRUE(absl::StrContains(output, "pkill -USR1 -x volleyd")) << output;
  EXPECT_TRUE(std::filesystem::exists(absl::StrCat(dir, "/delivery.jsonl")));

  // The check above can fail: a misspelt directive is only an "error:" line to logrotate.
  auto [bad_status, bad_output] =
      DryRun(dir, absl::StrReplaceAll(config, {{"delaycompress", "delaycompres"}}));
  EXPECT_TRUE(bad_status != 0 || absl::StrContains(bad_output, "error:")) << bad_output;
}

}  // namespace
}  // namespace volley
