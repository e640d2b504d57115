// Runs a shell command for a test (a Python checker, a Postfix tool) and returns what it said.
#ifndef VOLLEY_TESTS_SUPPORT_SHELL_H_
#define VOLLEY_TESTS_SUPPORT_SHELL_H_

#include <string>
#include <utility>

namespace volley::test_support {

// Runs `command` with /bin/sh; its exit status (-1 when it did not exit normally) and its
// standard output and error, combined.
std::pair<int, std::string> RunShell(const std::string& command);

// Debian's interpreter, not whatever `python3` is first on PATH.
inline constexpr char kPython[] = "/usr/bin/python3";

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_SHELL_H_
