#include "engine/inject/http_injection.h"

#include <nlohmann/json.hpp>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "engine/base/json_request.h"
#include "engine/base/logging.h"
#include "engine/http/api/json_error.h"
#include "engine/http/bearer_auth.h"

namespace volley::inject {

// One request, from its parse to its answer. The builder is used by one pool task at a time
// (`building`); everything else on the loop thread.
struct HttpInjection::Job {
  http::Respond respond;
  std::string peer_address;
  std::unique_ptr<InjectV1Builder> builder;
  size_t next = 0;        // the first recipient not handed to the pool yet
  bool building = false;  // a pool task has the builder
  size_t in_flight = 0;   // built and not yet answered by the Injector
  size_t in_flight_bytes = 0;
  MemoryCharge charge;  // what the request may hold at most, charged to [inject] max_memory
  // The answer.
  size_t success_count = 0;
  std::vector<std::string> failed_recipients;
  std::vector<std::string> errors;
  size_t refused_by_spool = 0;  // failures that were the spool's, not the message's
  size_t failed_to_build = 0;
  std::string first_build_error;
  std::string first_build_field;
  bool answered = false;
};

struct HttpInjection::Chunk {
  size_t first = 0;
  std::vector<absl::StatusOr<BuiltMessage>> messages;
};

namespace {

// What a request of `body` octets for `recipients` holds at most: the body and nlohmann's tree
// of it (a few times the text), and the window of built messages, each about as large as the
// body (the content and its attachments are in it) but never all of them at once.
uint64_t MemoryEstimate(size_t body, size_t recipients, size_t window_bytes) {
  const uint64_t per_message = 2 * static_cast<uint64_t>(body);
  return 4 * static_cast<uint64_t>(body) +
         std::min<uint64_t>(recipients * per_message,
                            std::max<uint64_t>(window_bytes, per_message));
}

// The recipients of a request as its body counts them: "email" keys. Only for the memory
// estimate, before the parse; a string holding the word counts too, which errs high.
size_t RoughRecipientCount(absl::string_view body) {
  size_t n = 0;
  for (size_t at = body.find("\"email\""); at != absl::string_view::npos;
       at = body.find("\"email\"", at + 7)) {
    ++n;
  }
  return std::max<size_t>(n, 1);
}

}  // namespace

namespace {

http::HttpResponse ParseRefusal(const absl::Status& status) {
  if (absl::IsOutOfRange(status)) return http::api::JsonError(413, status.message(), "recipients");
  return http::api::JsonError(400, status.message(), FieldOf(status));
}

}  // namespace

HttpInjection::HttpInjection(Shard* shard, Injector* injector, WorkerPool* pool,
                             HttpInjectionOptions options)
    : shard_(shard), injector_(injector), pool_(pool), options_(std::move(options)) {}

HttpInjection::~HttpInjection() { DCHECK(thread_.InLoopThread()); }

void HttpInjection::Register(http::Router* router) {
  router->Add("POST", kInjectV1Path,
              [this](const http::HttpRequest& request, http::Respond respond) {
                Handle(request, std::move(respond));
              });
}

void HttpInjection::Handle(const http::HttpRequest& request, http::Respond respond) {
  DCHECK(thread_.InLoopThread());
  if (!options_.token.empty() || !options_.admin_token.empty()) {
    if (std::optional<http::HttpResponse> refused =
            http::CheckBearer(request, {options_.token, options_.admin_token}, "inject_token")) {
      std::move(respond)(*std::move(refused));
      return;
    }
  }
  if (absl::Status refused = injector_->CheckSender(); !refused.ok()) {
    http::HttpResponse response =
        http::api::JsonError(503, absl::StrCat("not accepting messages now: ", refused.message()));
    response.headers.emplace_back("Retry-After", "30");
    std::move(respond)(std::move(response));
    return;
  }
  auto job = std::make_shared<Job>();
  job->charge = MemoryCharge(options_.memory);
  if (!job->charge.GrowTo(MemoryEstimate(request.body.size(), RoughRecipientCount(request.body),
                                         options_.window_bytes))) {
    http::HttpResponse response = http::api::JsonError(
        503, "not accepting messages now: injection is using its memory ([inject] max_memory)");
    response.headers.emplace_back("Retry-After", "5");
    std::move(respond)(std::move(response));
    return;
  }
  job->respond = std::move(respond);
  job->peer_address = request.peer_address;
  // The parse and the templates' compilation are CPU work in proportion to the body: off the
  // loop. The body is copied once for it.
  pool_->Run([this, alive = liveness_.weak(), shard = shard_, job, body = request.body,
              options = options_]() mutable {
    absl::StatusOr<InjectV1Request> parsed = ParseInjectV1Request(body, options.limits);
    body = std::string();
    absl::Status status = parsed.status();
    bool unbuildable = false;  // the request is well-formed but its content cannot be built
    if (parsed.ok()) {
      absl::StatusOr<std::unique_ptr<InjectV1Builder>> builder =
          InjectV1Builder::Create(*std::move(parsed), options.build);
      if (builder.ok()) {
        job->builder = *std::move(builder);
      } else {
        status = builder.status();
        unbuildable = true;
      }
    }
    // The job goes with the post, so that it ends on the loop, never on this thread.
    shard->Post([this, alive, job = std::move(job), status = std::move(status),
                 unbuildable]() mutable {
      if (!alive.alive()) return;
      if (!status.ok()) {
        job->answered = true;
        std::move(job->respond)(unbuildable
                                    ? http::api::JsonError(422, status.message(), FieldOf(status))
                                    : ParseRefusal(status));
        return;
      }
      Start(std::move(job));
    });
  });
}

void HttpInjection::Start(std::shared_ptr<Job> job) {
  DCHECK(thread_.InLoopThread());
  MaybeBuild(job);
}

void HttpInjection::MaybeBuild(const std::shared_ptr<Job>& job) {
  DCHECK(thread_.InLoopThread());
  const size_t total = job->builder->recipients();
  if (job->building || job->next >= total || job->in_flight + options_.chunk > options_.window ||
      job->in_flight_bytes >= options_.window_bytes) {
    return;
  }
  job->building = true;
  pool_->Run([this, alive = liveness_.weak(), shard = shard_, job, first = job->next, total,
              chunk = options_.chunk, chunk_bytes = options_.chunk_bytes]() mutable {
    const absl::Time now = absl::Now();
    Chunk built;
    built.first = first;
    size_t bytes = 0;
    for (size_t i = first; i < total && built.messages.size() < chunk && bytes < chunk_bytes; ++i) {
      built.messages.push_back(job->builder->Build(i, now));
      if (built.messages.back().ok()) bytes += built.messages.back()->content.size();
    }
    shard->Post([this, alive, job = std::move(job), built = std::move(built)]() mutable {
      if (alive.alive()) OnBuilt(job, std::move(built));
    });
  });
}

void HttpInjection::OnBuilt(const std::shared_ptr<Job>& job, Chunk chunk) {
  DCHECK(thread_.InLoopThread());
  job->next = chunk.first + chunk.messages.size();
  // `building` stays set until every message of the chunk is handed over: an injection answered
  // at once (a refusal) must not let the request be answered while some are still to go.
  for (size_t k = 0; k < chunk.messages.size(); ++k) {
    const size_t index = chunk.first + k;
    const std::string& recipient = job->builder->recipient(index);
    absl::StatusOr<BuiltMessage>& built = chunk.messages[k];
    if (!built.ok()) {
      if (job->failed_to_build++ == 0) {
        job->first_build_error = std::string(built.status().message());
        job->first_build_field = FieldOf(built.status());
      }
      job->failed_recipients.push_back(recipient);
      job->errors.push_back(absl::StrCat(recipient, ": ", built.status().message()));
      continue;
    }
    if (absl::Status ok =
            injector_->CheckRecipient(/*may_relay=*/true, job->peer_address, recipient);
        !ok.ok()) {
      job->failed_recipients.push_back(recipient);
      job->errors.push_back(absl::StrCat(recipient, ": ", ok.message()));
      continue;
    }
    InjectRequest request;
    request.listener = "http";
    request.protocol = "HTTP";
    request.sender = job->builder->envelope_sender();
    request.recipients.push_back(InjectRecipient{recipient, "", ""});
    request.content = std::move(built->content);
    request.smtputf8 = built->smtputf8;
    request.peer_address = job->peer_address;
    request.tags = std::move(built->tags);
    request.metadata = std::move(built->metadata);
    const size_t size = request.content.size();
    ++job->in_flight;
    job->in_flight_bytes += size;
    injector_->Inject(std::move(request), [this, alive = liveness_.weak(), job, index,
                                           size](absl::StatusOr<std::string> queue_id) {
      if (alive.alive()) OnInjected(job, index, size, queue_id);
    });
  }
  job->building = false;
  MaybeBuild(job);
  MaybeFinish(job);
}

void HttpInjection::OnInjected(const std::shared_ptr<Job>& job, size_t index, size_t size,
                               const absl::StatusOr<std::string>& queue_id) {
  DCHECK(thread_.InLoopThread());
  --job->in_flight;
  job->in_flight_bytes -= size;
  if (queue_id.ok()) {
    ++job->success_count;
  } else {
    const std::string& recipient = job->builder->recipient(index);
    const absl::Status& status = queue_id.status();
    if (absl::IsResourceExhausted(status) || absl::IsUnavailable(status)) ++job->refused_by_spool;
    job->failed_recipients.push_back(recipient);
    job->errors.push_back(absl::IsFailedPrecondition(status)
                              ? absl::StrCat(recipient, ": on the suppression list")
                              : absl::StrCat(recipient, ": ", status.message()));
  }
  MaybeBuild(job);
  MaybeFinish(job);
}

void HttpInjection::MaybeFinish(const std::shared_ptr<Job>& job) {
  DCHECK(thread_.InLoopThread());
  if (job->building || job->in_flight > 0 || job->next < job->builder->recipients() ||
      job->answered) {
    return;
  }
  job->answered = true;
  const size_t total = job->builder->recipients();
  if (job->success_count == 0 && job->refused_by_spool == job->failed_recipients.size()) {
    // Nothing was kept, and not for anything the request did: the platform sends it again.
    http::HttpResponse response = http::api::JsonError(
        503, absl::StrCat("nothing was stored: ", job->errors.empty() ? "" : job->errors.front()));
    response.headers.emplace_back("Retry-After", "30");
    std::move(job->respond)(std::move(response));
    return;
  }
  nlohmann::json answer = {{"success_count", job->success_count},
                           {"fail_count", total - job->success_count},
                           {"failed_recipients", std::move(job->failed_recipients)},
                           {"errors", std::move(job->errors)}};
  int status = 200;
  if (job->failed_to_build == total) {
    // No recipient's message could be built: the content is at fault.
    status = 422;
    answer["error"] = job->first_build_error;
    answer["field"] = job->first_build_field;
  }
  std::move(job->respond)(http::HttpResponse::Json(
      status, answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
}

}  // namespace volley::inject
