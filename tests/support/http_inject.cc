#include "tests/support/http_inject.h"

#include <atomic>
#include <cstdlib>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/support/shell.h"
#include "tests/support/volleyd_process.h"

namespace volley::test_support {
namespace {

// A file of its own in the test's temporary directory.
std::string TempFile(const std::string& stem) {
  static std::atomic<int> next{0};
  return absl::StrCat(TestTempDir(), "/", stem, "-", next.fetch_add(1), ".tmp");
}

std::string ReadAll(const std::string& path) { return ReadFileOrEmpty(path); }

}  // namespace

absl::StatusOr<CurlAnswer> Curl(uint16_t port, const std::string& method, const std::string& path,
                                const std::string& body, const std::string& extra,
                                const std::string& content_type) {
  const std::string in = TempFile("curl-body");
  const std::string out = TempFile("curl-answer");
  std::ofstream(in, std::ios::binary) << body;
  const std::string command =
      absl::StrCat("curl -sS --max-time 120 -X ", method, " -o '", out,
                   "' -w '%{http_code}' -H 'Content-Type: ", content_type, "' --data-binary @'", in,
                   "' ", extra, " 'http://127.0.0.1:", port, path, "'");
  auto [code, output] = RunShell(command);
  std::remove(in.c_str());
  CurlAnswer answer;
  answer.body = ReadAll(out);
  std::remove(out.c_str());
  if (code != 0 || !absl::SimpleAtoi(output, &answer.status)) {
    return absl::InternalError(absl::StrCat("curl failed (", code, "): ", output));
  }
  return answer;
}

absl::StatusOr<nlohmann::json> ReadMime(const std::vector<std::string>& messages) {
  std::string args;
  std::vector<std::string> files;
  for (const std::string& m : messages) {
    files.push_back(TempFile("message"));
    std::ofstream(files.back(), std::ios::binary) << m;
    absl::StrAppend(&args, " '", files.back(), "'");
  }
  const std::string script =
      absl::StrCat(std::getenv("TEST_SRCDIR"), "/volley/tests/testdata/read_mime.py");
  auto [code, output] = RunShell(absl::StrCat("python3 '", script, "'", args));
  for (const std::string& f : files) std::remove(f.c_str());
  if (code != 0) return absl::InternalError(absl::StrCat("read_mime.py failed: ", output));
  nlohmann::json parsed = nlohmann::json::parse(output, nullptr, false);
  if (parsed.is_discarded()) return absl::InternalError(absl::StrCat("not JSON: ", output));
  return parsed;
}

}  // namespace volley::test_support
