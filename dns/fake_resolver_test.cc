// FakeResolver on a real libuv loop, run on the test thread.
#include "dns/fake_resolver.h"

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "dns/resolver.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::dns {
namespace {

using ::testing::ElementsAre;

class FakeResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    ASSERT_EQ(uv_timer_init(&loop_, &deadline_), 0);
    deadline_.data = this;
    resolver_ = std::make_unique<FakeResolver>(&loop_);
  }

  void TearDown() override {
    if (resolver_ != nullptr) ShutdownResolver();
    uv_close(reinterpret_cast<uv_handle_t*>(&deadline_), nullptr);
    ASSERT_EQ(uv_run(&loop_, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(uv_loop_close(&loop_), 0);
  }

  // Runs the loop until `done` holds or 10 s pass; returns `done()`.
  bool RunUntil(const std::function<bool()>& done) {
    expired_ = false;
    uv_timer_start(
        &deadline_, [](uv_timer_t* t) { static_cast<FakeResolverTest*>(t->data)->expired_ = true; },
        10000, 0);
    while (!done() && !expired_) uv_run(&loop_, UV_RUN_ONCE);
    uv_timer_stop(&deadline_);
    return done();
  }

  // Runs `turns` loop iterations without waiting: each one would have run a
  // posted callback.
  void Turn(int turns = 3) {
    for (int i = 0; i < turns; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
  }

  // Shared, so that a callback arriving after a failed wait writes to live
  // memory.
  using Slot = std::shared_ptr<std::optional<MxResult>>;

  Slot StartResolve(absl::string_view domain) {
    auto slot = std::make_shared<std::optional<MxResult>>();
    resolver_->Resolve(domain, [slot](const MxResult& r) { *slot = r; });
    return slot;
  }

  Slot StartResolveHost(absl::string_view host) {
    auto slot = std::make_shared<std::optional<MxResult>>();
    resolver_->ResolveHost(host, [slot](const MxResult& r) { *slot = r; });
    return slot;
  }

  MxResult Wait(const Slot& slot) {
    EXPECT_TRUE(RunUntil([&] { return slot->has_value(); })) << "no answer in time";
    return slot->value_or(MxResult{});
  }

  void ShutdownResolver() {
    bool done = false;
    resolver_->Shutdown([&] { done = true; });
    EXPECT_TRUE(RunUntil([&] { return done; }));
    if (done) resolver_.reset();
  }

  uv_loop_t loop_;
  uv_timer_t deadline_;
  bool expired_ = false;
  std::unique_ptr<FakeResolver> resolver_;
};

TEST_F(FakeResolverTest, AnswerArrivesOnlyAfterTheCallReturns) {
  resolver_->SetHosts("Example.Test", {MxHost{"mx2.example.test", 20, {"192.0.2.2"}},
                                       MxHost{"mx1.example.test", 10, {"192.0.2.1"}}});
  Slot slot = StartResolve("EXAMPLE.test");
  EXPECT_FALSE(slot->has_value()) << "the callback ran inside Resolve";
  MxResult r = Wait(slot);
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  ASSERT_EQ(r.hosts.size(), 2u);
  EXPECT_EQ(r.hosts[0].name, "mx2.example.test");  // as given: the fake does not sort hosts
  EXPECT_THAT(r.hosts[1].addresses, ElementsAre("192.0.2.1"));
  EXPECT_EQ(r.site_name, "mx1.example.test,mx2.example.test");
  EXPECT_EQ(r.expires, absl::InfiniteFuture());
  EXPECT_FALSE(r.stale);
  EXPECT_EQ(resolver_->requests("example.test"), 1);
  EXPECT_EQ(resolver_->requests("Example.TEST"), 1);
  EXPECT_EQ(resolver_->requests("other.test"), 0);
}

TEST_F(FakeResolverTest, DomainAndHostAnswersAreKeptApart) {
  MxResult nx;
  nx.outcome = MxOutcome::kNxDomain;
  nx.error = "two.test: NXDOMAIN";
  resolver_->SetAnswer("two.test", nx);
  MxResult host;
  host.outcome = MxOutcome::kOk;
  host.hosts = {MxHost{"two.test", 0, {"192.0.2.9"}}};
  host.site_name = "two.test";
  resolver_->SetHostAnswer("TWO.test", host);

  Slot domain_slot = StartResolve("two.test");
  Slot host_slot = StartResolveHost("two.test");
  EXPECT_FALSE(host_slot->has_value()) << "the callback ran inside ResolveHost";
  EXPECT_EQ(Wait(domain_slot).outcome, MxOutcome::kNxDomain);
  MxResult r = Wait(host_slot);
  ASSERT_EQ(r.outcome, MxOutcome::kOk) << r.error;
  EXPECT_THAT(r.hosts[0].addresses, ElementsAre("192.0.2.9"));
  EXPECT_EQ(resolver_->requests("two.test"), 2);
}

TEST_F(FakeResolverTest, UnknownNameIsATemporaryFailure) {
  MxResult r = Wait(StartResolve("Nowhere.Test"));
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_EQ(r.error, "no fake answer for nowhere.test");
  EXPECT_TRUE(r.hosts.empty());
  r = Wait(StartResolveHost("smarthost.test"));
  EXPECT_EQ(r.outcome, MxOutcome::kTemporaryFailure);
  EXPECT_EQ(r.error, "no fake answer for smarthost.test");
}

TEST_F(FakeResolverTest, HeldAnswersArriveAfterRelease) {
  resolver_->SetHosts("held.test", {MxHost{"mx.held.test", 10, {"192.0.2.3"}}});
  resolver_->Hold();
  Slot held = StartResolve("held.test");
  Slot unknown = StartResolve("unknown.test");
  Turn();
  EXPECT_FALSE(held->has_value()) << "answered while held";
  EXPECT_FALSE(unknown->has_value()) << "answered while held";
  EXPECT_EQ(resolver_->requests("held.test"), 1);

  resolver_->Release();
  EXPECT_FALSE(held->has_value()) << "the callback ran inside Release";
  EXPECT_EQ(Wait(held).outcome, MxOutcome::kOk);
  EXPECT_EQ(Wait(unknown).outcome, MxOutcome::kTemporaryFailure);
}

TEST_F(FakeResolverTest, HoldAlsoKeepsAnswersAlreadyPosted) {
  resolver_->SetHosts("posted.test", {MxHost{"mx.posted.test", 10, {"192.0.2.4"}}});
  Slot slot = StartResolve("posted.test");
  resolver_->Hold();
  Turn();
  EXPECT_FALSE(slot->has_value()) << "answered while held";
  resolver_->Release();
  EXPECT_EQ(Wait(slot).outcome, MxOutcome::kOk);
}

TEST_F(FakeResolverTest, RequestFromACallbackIsAnsweredOnALaterIteration) {
  resolver_->SetHosts("again.test", {MxHost{"mx.again.test", 10, {"192.0.2.5"}}});
  Slot second = std::make_shared<std::optional<MxResult>>();
  bool second_inside_first = true;
  resolver_->Resolve("again.test", [&](const MxResult&) {
    resolver_->Resolve("again.test", [second](const MxResult& r) { *second = r; });
    second_inside_first = second->has_value();
  });
  EXPECT_EQ(Wait(second).outcome, MxOutcome::kOk);
  EXPECT_FALSE(second_inside_first);
  EXPECT_EQ(resolver_->requests("again.test"), 2);
}

TEST_F(FakeResolverTest, ShutdownAnswersAHeldRequestThenCallsDone) {
  resolver_->SetHosts("held.test", {MxHost{"mx.held.test", 10, {"192.0.2.3"}}});
  resolver_->Hold();
  Slot slot = StartResolve("held.test");
  Turn();
  ASSERT_FALSE(slot->has_value());

  bool done = false;
  bool answered_before_done = false;
  resolver_->Shutdown([&] {
    done = true;
    answered_before_done = slot->has_value();
  });
  EXPECT_FALSE(slot->has_value()) << "the callback ran inside Shutdown";
  EXPECT_FALSE(done) << "done ran inside Shutdown";
  ASSERT_TRUE(RunUntil([&] { return done; }));
  EXPECT_TRUE(answered_before_done);
  ASSERT_TRUE(slot->has_value());
  EXPECT_EQ((*slot)->outcome, MxOutcome::kTemporaryFailure);
  EXPECT_EQ((*slot)->error, "shutting down");
  resolver_.reset();
  // TearDown checks that the loop closes.
}

TEST_F(FakeResolverTest, ShutdownAlsoEndsAnswersNotRunYet) {
  resolver_->SetHosts("posted.test", {MxHost{"mx.posted.test", 10, {"192.0.2.4"}}});
  Slot slot = StartResolve("posted.test");
  bool done = false;
  resolver_->Shutdown([&] { done = true; });
  ASSERT_TRUE(RunUntil([&] { return done; }));
  ASSERT_TRUE(slot->has_value());
  EXPECT_EQ((*slot)->error, "shutting down");
  resolver_.reset();
}

TEST_F(FakeResolverTest, ShutdownWithNothingOutstandingClosesToo) {
  bool done = false;
  resolver_->Shutdown([&] { done = true; });
  EXPECT_FALSE(done) << "done ran inside Shutdown";
  ASSERT_TRUE(RunUntil([&] { return done; }));
  resolver_.reset();
}

}  // namespace
}  // namespace volley::dns
