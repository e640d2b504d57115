#include "queue/test_temp_path.h"

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace volley::queue {

std::string TempPath(absl::string_view name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = absl::StrCat(dir ? dir : "/tmp", "/", name);
  std::filesystem::remove_all(path);
  return path;
}

}  // namespace volley::queue
