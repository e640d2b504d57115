// The report samples of testdata/inbound (RFC examples and real-world DSNs and ARF reports),
// for the tests that read them: the parser's, the mapping's and tests/inbound_reports_test.
#ifndef VOLLEY_ENGINE_BOUNCE_TESTDATA_INBOUND_SAMPLE_H_
#define VOLLEY_ENGINE_BOUNCE_TESTDATA_INBOUND_SAMPLE_H_

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace volley::bounce {

// The sample `name` ("gmail_nouser.eml") as stored, with LF line endings ("" when missing).
inline std::string InboundSample(const std::string& name) {
  const char* root = std::getenv("TEST_SRCDIR");
  std::ifstream in(
      absl::StrCat(root != nullptr ? root : ".", "/volley/engine/bounce/testdata/inbound/", name),
      std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The same with CRLF line endings, as mail arrives.
inline std::string InboundSampleCrlf(const std::string& name) {
  return absl::StrReplaceAll(InboundSample(name), {{"\n", "\r\n"}});
}

}  // namespace volley::bounce

#endif  // VOLLEY_ENGINE_BOUNCE_TESTDATA_INBOUND_SAMPLE_H_
