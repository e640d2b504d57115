// volleyd's sanitizer reports fail the test that ran it.
#include "gtest/gtest.h"
#include "tests/support/volleyd_process.h"

namespace volley::test_support {
namespace {

TEST(SanitizerReport, CleanOutputPasses) {
  AbortOnSanitizerReport("I2026-12-03T00:00:00Z main.cc:1] volleyd ready\n");
  AbortOnSanitizerReport("");
}

TEST(SanitizerReportDeathTest, AReportAbortsWithIt) {
  EXPECT_DEATH(AbortOnSanitizerReport("I ready\n==12==WARNING: ThreadSanitizer: data race\n  #0"),
               "sanitizer finding:\n==12==WARNING: ThreadSanitizer: data race");
  EXPECT_DEATH(AbortOnSanitizerReport("==7==ERROR: AddressSanitizer: heap-use-after-free"),
               "heap-use-after-free");
  EXPECT_DEATH(AbortOnSanitizerReport("==7==ERROR: LeakSanitizer: detected memory leaks"),
               "detected memory leaks");
  EXPECT_DEATH(AbortOnSanitizerReport("a.cc:3:5: runtime error: signed integer overflow"),
               "signed integer overflow");
}

}  // namespace
}  // namespace volley::test_support
