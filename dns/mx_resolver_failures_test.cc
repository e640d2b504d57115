// MxResolver against a real unbound on 127.0.0.1 (dns/mx_resolver_test_fixture.h) and against
// servers that do not answer: failures are temporary and not cached.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "dns/mx_resolver.h"
#include "dns/mx_resolver_test_fixture.h"
#include "dns/resolver.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::dns {
namespace {

using ::testing::HasSubstr;

TEST_F(MxResolverTest, NameOutsideTheTestZonesIsRefusedAsTemporaryFailure) {
  // Unbound refuses everything outside the test zones, and REFUSED is not an
  // answer.
  MakeResolver();
  // (Not ".invalid" or ".test": unbound's built-in local zones answer those
  // with NXDOMAIN.)
  MxResult r = Resolve("nothere.example");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_THAT(r.error, HasSubstr("REFUSED"));
}

TEST_F(MxResolverTest, SilentServerTimesOutAsTemporaryFailureNotCached) {
  SilentServer silent;
  ASSERT_NE(silent.port(), 0);
  ResolverOptions options = Options(silent.address());
  options.timeout = absl::Milliseconds(300);
  options.tries = 1;
  MakeResolver(options);
  const absl::Time start = absl::Now();
  MxResult r = Resolve("two.test");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_THAT(r.error, HasSubstr("timeout"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(resolver_->queries_sent(), 1u);
  EXPECT_EQ(Resolve("two.test").outcome, MxOutcome::kTemporaryFailure);
  EXPECT_EQ(resolver_->queries_sent(), 2u);
}

TEST_F(MxResolverTest, ConnectionRefusedIsTemporaryFailure) {
  uint16_t port;
  {
    SilentServer closed;  // take a free port, then free it again
    port = closed.port();
  }
  ASSERT_NE(port, 0);
  ResolverOptions options = Options(absl::StrCat("127.0.0.1:", port));
  options.tries = 1;
  MakeResolver(options);
  MxResult r = Resolve("two.test");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_THAT(r.error, HasSubstr("connection refused"));
  // The next lookup runs on a rebuilt channel; it must work the same way.
  r = Resolve("implicit.test");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_EQ(resolver_->queries_sent(), 2u);
}

TEST_F(MxResolverTest, ServfailIsTemporaryAndNotCached) {
  MakeResolver();
  MxResult r = Resolve("x.fail.test");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_THAT(r.error, HasSubstr("SERVFAIL"));
  EXPECT_EQ(Resolve("x.fail.test").outcome, MxOutcome::kTemporaryFailure);
  EXPECT_EQ(resolver_->queries_sent(), 2u);
  EXPECT_EQ(resolver_->stats().Lookups(QueryType::kMx, QueryResult::kServFail), 2u);
}

TEST_F(MxResolverTest, ServfailForAnMxHostAddressIsTemporary) {
  // The MX host lives in the SERVFAIL zone: no address, for now.
  MakeResolver();
  MxResult r = Resolve("mxinfail.test");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_THAT(r.error, HasSubstr("no MX host has an address"));
  EXPECT_THAT(r.error, HasSubstr("SERVFAIL"));
}

TEST_F(MxResolverTest, ServerDroppingQueriesTimesOutNothingCached) {
  // Unbound drops the queries for this name and answers every other one.
  ResolverOptions options = Options(server_->address());
  options.timeout = absl::Milliseconds(300);
  options.tries = 1;
  MakeResolver(options);
  MxResult r = Resolve("x.drop.test");
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_THAT(r.error, HasSubstr("timeout"));
  EXPECT_EQ(Resolve("x.drop.test").outcome, MxOutcome::kTemporaryFailure);
  EXPECT_EQ(resolver_->queries_sent(), 2u);
  EXPECT_EQ(resolver_->cache_hits(), 0u);
  EXPECT_EQ(resolver_->stats().Lookups(QueryType::kMx, QueryResult::kTimeout), 2u);
  EXPECT_EQ(Resolve("two.test").outcome, MxOutcome::kOk);
}

}  // namespace
}  // namespace volley::dns
