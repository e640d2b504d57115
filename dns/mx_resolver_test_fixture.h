// The fixture of the MxResolver tests (dns/mx_resolver_*_test.cc): one real unbound on
// 127.0.0.1 per test binary (tests/support/unbound_server.h), serving the records below, and a
// libuv loop per test, run on the test thread, that must end with uv_loop_close() == 0.
#ifndef VOLLEY_DNS_MX_RESOLVER_TEST_FIXTURE_H_
#define VOLLEY_DNS_MX_RESOLVER_TEST_FIXTURE_H_

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dns/mx_resolver.h"
#include "engine/base/clock.h"
#include "gtest/gtest.h"
#include "tests/support/unbound_server.h"

namespace volley::dns {

// A path under $TEST_TMPDIR (or /tmp).
std::string TmpDir(absl::string_view name);

// How many MX records trunc.test has: more than fit in a UDP answer.
inline constexpr int kTruncatedMxHosts = 30;

// The records and zones of the shared unbound.
std::vector<test_support::DnsRecord> SharedRecords();
std::vector<test_support::AuthZone> SharedAuthZones();

class MxResolverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    test_support::UnboundOptions options;
    options.auth_zones = SharedAuthZones();
    options.servfail_zones = {"fail.test"};
    options.drop_zones = {"drop.test"};
    options.log_replies = true;
    auto server =
        test_support::UnboundServer::Start(TmpDir("unbound-shared"), SharedRecords(), options);
    if (server.ok()) {
      server_ = std::move(*server).release();
    } else {
      start_error_ = new std::string(server.status().ToString());
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr) << *start_error_;
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    ASSERT_EQ(uv_timer_init(&loop_, &deadline_), 0);
    deadline_.data = this;
    loop_ready_ = true;
  }

  void TearDown() override {
    if (!loop_ready_) return;
    if (resolver_ != nullptr) ShutdownResolver();
    uv_close(reinterpret_cast<uv_handle_t*>(&deadline_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  ResolverOptions Options(const std::string& server) {
    ResolverOptions options;
    options.servers = {server};
    options.timeout = absl::Seconds(2);
    options.tries = 2;
    options.min_ttl = absl::Seconds(30);
    options.max_ttl = absl::Hours(1);
    return options;
  }

  void MakeResolver(const ResolverOptions& options) {
    auto resolver = MxResolver::Create(&loop_, options, clock_);
    ASSERT_TRUE(resolver.ok()) << resolver.status();
    resolver_ = std::move(*resolver);
  }
  void MakeResolver() { MakeResolver(Options(server_->address())); }

  // Runs the loop until `done` holds or `timeout` passes; returns `done()`.
  bool RunUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(10)) {
    expired_ = false;
    uv_timer_start(
        &deadline_, [](uv_timer_t* t) { static_cast<MxResolverTest*>(t->data)->expired_ = true; },
        absl::ToInt64Milliseconds(timeout), 0);
    while (!done() && !expired_) uv_run(&loop_, UV_RUN_ONCE);
    uv_timer_stop(&deadline_);
    return done();
  }

  // Shared, so that a callback arriving after a failed wait writes to live
  // memory.
  using Slot = std::shared_ptr<std::optional<MxResult>>;

  Slot StartResolve(absl::string_view domain) {
    auto slot = std::make_shared<std::optional<MxResult>>();
    resolver_->Resolve(domain, [slot](const MxResult& r) { *slot = r; });
    return slot;
  }

  MxResult Wait(const Slot& slot) {
    EXPECT_TRUE(RunUntil([&] { return slot->has_value(); })) << "no answer in time";
    if (!slot->has_value()) {
      MxResult failed;
      failed.error = "test: no answer in time";
      return failed;
    }
    return **slot;
  }

  MxResult Resolve(absl::string_view domain) { return Wait(StartResolve(domain)); }

  MxResult ResolveHost(absl::string_view host) {
    auto slot = std::make_shared<std::optional<MxResult>>();
    resolver_->ResolveHost(host, [slot](const MxResult& r) { *slot = r; });
    return Wait(slot);
  }

  void ShutdownResolver() {
    bool done = false;
    resolver_->Shutdown([&] { done = true; });
    EXPECT_TRUE(RunUntil([&] { return done; }));
    if (done) resolver_.reset();
  }

  static inline test_support::UnboundServer* server_ = nullptr;
  static inline std::string* start_error_ = nullptr;

  SimulatedClock clock_;
  uv_loop_t loop_;
  uv_timer_t deadline_;
  bool loop_ready_ = false;
  bool expired_ = false;
  std::unique_ptr<MxResolver> resolver_;
};

// A UDP socket on 127.0.0.1 that never answers.
class SilentServer {
 public:
  SilentServer();
  ~SilentServer();
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const;

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace volley::dns

#endif  // VOLLEY_DNS_MX_RESOLVER_TEST_FIXTURE_H_
