#include "tests/support/indexed_message.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace volley::test_support {

constexpr absl::string_view kIndexHeader = "X-Index: ";

std::string IndexHeader(size_t index) { return absl::StrCat(kIndexHeader, index, "\r\n"); }

int IndexOf(absl::string_view content) {
  const size_t at = content.find(kIndexHeader);
  if (at == absl::string_view::npos) return -1;
  const size_t start = at + kIndexHeader.size();
  const size_t end = content.find('\r', start);
  if (end == absl::string_view::npos) return -1;
  int index = -1;
  if (!absl::SimpleAtoi(content.substr(start, end - start), &index)) return -1;
  return index;
}

}  // namespace volley::test_support
