#include "tls/testdata/testdata_paths.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace volley::tls {
namespace {

constexpr absl::string_view kPackage = "volley/tls/testdata/";

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

std::string TlsTestDataPath(absl::string_view file) {
  for (const char* var : {"TEST_SRCDIR", "RUNFILES_DIR"}) {
    if (const char* dir = std::getenv(var); dir != nullptr && *dir != '\0') {
      std::string path = absl::StrCat(dir, "/", kPackage, file);
      if (FileExists(path)) return path;
    }
  }
  // `bazel run` of a benchmark sets neither variable: the runfiles tree sits next to the binary.
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = '\0';
    std::string path = absl::StrCat(self, ".runfiles/", kPackage, file);
    if (FileExists(path)) return path;
  }
  return absl::StrCat("bazel-bin/tls/testdata/", file);
}

}  // namespace volley::tls
