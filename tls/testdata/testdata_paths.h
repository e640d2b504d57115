// Locates the generated TLS test certificates (//tls/testdata:certs) at run time.
#ifndef VOLLEY_TLS_TESTDATA_TESTDATA_PATHS_H_
#define VOLLEY_TLS_TESTDATA_TESTDATA_PATHS_H_

#include <string>

#include "absl/strings/string_view.h"

namespace volley::tls {

// The path of `file` ("ca.pem", "mx.key", ...) in the runfiles: $TEST_SRCDIR (tests),
// $RUNFILES_DIR, or the .runfiles tree next to /proc/self/exe (`bazel run`). Falls back to
// bazel-bin/tls/testdata/<file>, relative to the workspace, when none has it.
std::string TlsTestDataPath(absl::string_view file);

}  // namespace volley::tls

#endif  // VOLLEY_TLS_TESTDATA_TESTDATA_PATHS_H_
