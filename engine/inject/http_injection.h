// POST /api/inject/v1: KumoMTA's HTTP injection API on the protocol-neutral Injector, so that
// a message injected over HTTP meets the same suppression list, tenants, trace fields and
// synced spool insert as one over SMTP.
//
// A request is parsed, its templates compiled and its messages built off the loop, on a worker
// pool: a request of 10,000 recipients is milliseconds of CPU that no loop may spend. Messages
// are built a chunk at a time and handed to the Injector on the loop; at most a window of them
// (in messages and in bytes) is built and not yet durable, so a request's memory is its JSON
// plus the window, whatever its number of recipients, and the spool's pace sets the request's. The
// answer goes out once every message is synced (or has failed).
//
// Answers:
//   200 {"success_count", "fail_count", "failed_recipients", "errors"}: some or all stored; a
//       recipient that failed (an unusable address, a substituted value that breaks a header,
//       the suppression list) is listed with its error
//   400 {"error", "field"}  the body is not JSON, or a field is missing, mistyped or unknown
//   401 / 403               [http] inject_token (or admin_token) is set and the request has no
//                           or another token
//   413                     beyond [http] max_request_size (the server) or inject_max_recipients
//   422 {"error", "field"}  the content cannot be built (a template that does not parse, no
//                           From), or, with the 200 body, when no recipient's message could be
//   503                     nothing was stored because the spool refuses or failed, or the
//                           request does not fit [inject] max_memory now; retry later
#ifndef VOLLEY_ENGINE_INJECT_HTTP_INJECTION_H_
#define VOLLEY_ENGINE_INJECT_HTTP_INJECTION_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/base/liveness.h"
#include "engine/base/memory_budget.h"
#include "engine/base/thread_checker.h"
#include "engine/http/router.h"
#include "engine/inject/inject_v1_builder.h"
#include "engine/inject/inject_v1_request.h"
#include "engine/inject/injector.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/worker_pool.h"

namespace volley::inject {

inline constexpr absl::string_view kInjectV1Path = "/api/inject/v1";

struct HttpInjectionOptions {
  // [http] inject_token and admin_token: a request needs one of them when either is set.
  std::string token;
  std::string admin_token;
  InjectV1Limits limits;
  BuildOptions build;
  // A pool task builds up to `chunk` messages or `chunk_bytes` of them (at least one); a new
  // task starts while fewer than `window` messages and `window_bytes` are built and not yet
  // answered by the Injector.
  size_t chunk = 64;
  size_t chunk_bytes = 4 << 20;
  size_t window = 512;
  size_t window_bytes = 16 << 20;
  // [inject] max_memory, shared with SMTP injection (null: none). A request charges what it will
  // hold at most, estimated from its body (the body, its parse, the window), before it is
  // parsed; a request that does not fit is answered 503.
  MemoryBudget* memory = nullptr;
};

// Lives on the HTTP server's shard: constructed, used and destroyed on its loop thread. The
// pool and the injector outlive it; pool tasks still running when it goes find it gone.
class HttpInjection {
 public:
  HttpInjection(Shard* shard, Injector* injector, WorkerPool* pool, HttpInjectionOptions options);
  ~HttpInjection();
  HttpInjection(const HttpInjection&) = delete;
  HttpInjection& operator=(const HttpInjection&) = delete;

  // Routes POST kInjectV1Path.
  void Register(http::Router* router);

 private:
  struct Job;
  struct Chunk;

  void Handle(const http::HttpRequest& request, http::Respond respond);
  void Start(std::shared_ptr<Job> job);
  // Hands the next chunk to the pool when the window has room and none is being built.
  void MaybeBuild(const std::shared_ptr<Job>& job);
  void OnBuilt(const std::shared_ptr<Job>& job, Chunk chunk);
  void OnInjected(const std::shared_ptr<Job>& job, size_t index, size_t size,
                  const absl::StatusOr<std::string>& queue_id);
  void MaybeFinish(const std::shared_ptr<Job>& job);

  Shard* const shard_;
  Injector* const injector_;
  WorkerPool* const pool_;
  const HttpInjectionOptions options_;
  ThreadChecker thread_;
  Liveness liveness_;
};

}  // namespace volley::inject

#endif  // VOLLEY_ENGINE_INJECT_HTTP_INJECTION_H_
