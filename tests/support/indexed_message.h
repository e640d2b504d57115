// Test messages numbered by an `X-Index:` header, so that a sink's record of what arrived can
// be matched to what was injected (loss and duplicate counting in the integration tests).
#ifndef VOLLEY_TESTS_SUPPORT_INDEXED_MESSAGE_H_
#define VOLLEY_TESTS_SUPPORT_INDEXED_MESSAGE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace volley::test_support {

// "X-Index: <index>\r\n".
std::string IndexHeader(size_t index);

// The index in `content`'s X-Index header, or -1 when it has none.
int IndexOf(absl::string_view content);

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_INDEXED_MESSAGE_H_
