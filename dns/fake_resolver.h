// A Resolver for unit tests of delivery logic: answers come from a table the test fills, on
// a real libuv loop, with the real one's rule that no callback runs inside the call.
#ifndef VOLLEY_DNS_FAKE_RESOLVER_H_
#define VOLLEY_DNS_FAKE_RESOLVER_H_

#include <uv.h>

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "dns/resolver.h"

namespace volley::dns {

// Answers Resolve and ResolveHost from SetAnswer/SetHostAnswer/SetHosts, by
// lower-cased name; a name without an answer gets kTemporaryFailure "no fake
// answer for NAME" (NAME lower-cased). IP literals get no special treatment:
// give them an answer too. The answer is the one set when the request is made,
// and its callback runs on a later loop iteration, never inside the call;
// requests made from inside callbacks are answered on the iteration after.
// Failures (unknown names, "shutting down") expire at InfinitePast. stats()
// stays zero: the fake sends no queries.
//
// Not thread-safe: all calls and callbacks on the loop's thread. The one libuv
// handle lives in a heap box freed in its close callback, so the fake may be
// destroyed while its close is pending (callbacks not yet run are then
// dropped); the contract is still Shutdown, then `done`, then destroy.
class FakeResolver : public Resolver {
 public:
  explicit FakeResolver(uv_loop_t* loop);
  FakeResolver(const FakeResolver&) = delete;
  FakeResolver& operator=(const FakeResolver&) = delete;
  ~FakeResolver() override;

  // The answer for Resolve(domain).
  void SetAnswer(absl::string_view domain, MxResult result);
  // The answer for ResolveHost(host).
  void SetHostAnswer(absl::string_view host, MxResult result);
  // Shorthand for SetAnswer: outcome kOk with these hosts, site_name the
  // sorted host names joined by ",", expires InfiniteFuture.
  void SetHosts(absl::string_view domain, std::vector<MxHost> hosts);

  // Resolve and ResolveHost calls for `name` (either kind, any case) so far.
  int requests(absl::string_view name) const;

  // While held, answers are kept until Release(), so that a test can observe
  // the "resolving" state. Release posts them to the loop (they run on the
  // next iteration, not inside Release).
  void Hold();
  void Release();

  // Resolver. Shutdown answers every request whose callback has not run yet,
  // held or not, with kTemporaryFailure "shutting down" (on a later loop
  // iteration), then closes the handle; `done` runs after that.
  void Resolve(absl::string_view domain, Callback callback) override;
  void ResolveHost(absl::string_view host, Callback callback) override;
  void Shutdown(absl::AnyInvocable<void()> done) override;
  const ResolverStats& stats() const override { return stats_; }

 private:
  struct IdleBox;
  struct Request {
    Callback callback;
    MxResult result;
  };

  void Answer(const absl::flat_hash_map<std::string, MxResult>& answers, absl::string_view name,
              Callback callback);
  void Wake();
  void Deliver();
  void CloseHandle();

  IdleBox* idle_;                                            // null once closed
  absl::flat_hash_map<std::string, MxResult> answers_;       // by lower-cased domain
  absl::flat_hash_map<std::string, MxResult> host_answers_;  // by lower-cased host
  absl::flat_hash_map<std::string, int> requests_;           // by lower-cased name
  std::vector<Request> pending_;                             // answered, callbacks not run yet
  bool held_ = false;
  bool delivering_ = false;
  bool shutting_down_ = false;
  absl::AnyInvocable<void()> shutdown_done_;
  ResolverStats stats_;
};

}  // namespace volley::dns

#endif  // VOLLEY_DNS_FAKE_RESOLVER_H_
