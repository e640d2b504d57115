#include "dns/ares_channel.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "engine/base/logging.h"
#include "engine/base/status_macros.h"

namespace volley::dns {
namespace {

// c-ares must be initialised once per process before the first channel.
int AresLibraryInit() {
  static std::once_flag once;
  static int status = ARES_SUCCESS;
  std::call_once(once, [] { status = ares_library_init(ARES_LIB_INIT_ALL); });
  return status;
}

// For libuv calls made from callbacks, where no Status can be returned.
void LogUvError(absl::string_view call, int rc) {
  if (rc != 0) LOG(ERROR) << call << ": " << uv_strerror(rc);
}

}  // namespace

std::string AresStatusText(int status) {
  switch (status) {
    case ARES_ENODATA:
      return "no records";
    case ARES_ENOTFOUND:
      return "NXDOMAIN";
    case ARES_ESERVFAIL:
      return "SERVFAIL";
    case ARES_EREFUSED:
      return "REFUSED";
    case ARES_ETIMEOUT:
      return "timeout";
    case ARES_ECONNREFUSED:
      return "connection refused";
    default:
      return ares_strerror(status);
  }
}

int ParseMxAnswer(absl::Span<const unsigned char> answer, std::vector<MxRecord>& records) {
  ares_mx_reply* replies = nullptr;
  const int status = ares_parse_mx_reply(answer.data(), static_cast<int>(answer.size()), &replies);
  if (status != ARES_SUCCESS) return status;
  for (const ares_mx_reply* r = replies; r != nullptr; r = r->next) {
    records.push_back(MxRecord{r->host == nullptr ? "" : r->host, r->priority});
  }
  ares_free_data(replies);
  return records.empty() ? ARES_ENODATA : ARES_SUCCESS;
}

int ParseAddressAnswer(int rr_type, absl::Span<const unsigned char> answer,
                       std::vector<std::string>& addresses) {
  constexpr int kMaxAddresses = 32;  // more are ignored
  const size_t before = addresses.size();
  const int len = static_cast<int>(answer.size());
  char text[INET6_ADDRSTRLEN];
  int count = kMaxAddresses;
  int status;
  if (rr_type == ns_t_a) {
    ares_addrttl addrs[kMaxAddresses];
    status = ares_parse_a_reply(answer.data(), len, nullptr, addrs, &count);
    for (int i = 0; status == ARES_SUCCESS && i < count; ++i) {
      if (inet_ntop(AF_INET, &addrs[i].ipaddr, text, sizeof(text)) != nullptr) {
        addresses.emplace_back(text);
      }
    }
  } else {
    ares_addr6ttl addrs[kMaxAddresses];
    status = ares_parse_aaaa_reply(answer.data(), len, nullptr, addrs, &count);
    for (int i = 0; status == ARES_SUCCESS && i < count; ++i) {
      if (inet_ntop(AF_INET6, &addrs[i].ip6addr, text, sizeof(text)) != nullptr) {
        addresses.emplace_back(text);
      }
    }
  }
  if (status == ARES_SUCCESS && addresses.size() == before) return ARES_ENODATA;
  return status;
}

struct AresChannel::HandleBox {
  union {
    uv_handle_t handle;
    uv_poll_t poll;
    uv_timer_t timer;
  };
  AresChannel* owner = nullptr;  // null once the channel is gone
  ares_socket_t fd = ARES_SOCKET_BAD;
};

struct AresChannel::PendingQuery {
  AresChannel* channel;
  AnswerCallback on_answer;
};

absl::StatusOr<std::unique_ptr<AresChannel>> AresChannel::Create(
    uv_loop_t* loop, const AresChannelOptions& options) {
  if (loop == nullptr) return absl::InvalidArgumentError("AresChannel: no loop");
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("AresChannel: timeout must be positive");
  }
  if (options.tries < 1) return absl::InvalidArgumentError("AresChannel: tries must be >= 1");
  if (const int rc = AresLibraryInit(); rc != ARES_SUCCESS) {
    return absl::InternalError(absl::StrCat("ares_library_init: ", ares_strerror(rc)));
  }
  std::unique_ptr<AresChannel> channel(new AresChannel(loop, options));
  RETURN_IF_ERROR(channel->Init());
  return channel;
}

AresChannel::AresChannel(uv_loop_t* loop, const AresChannelOptions& options)
    : loop_(loop), options_(options) {}

AresChannel::~AresChannel() {
  destroying_ = true;
  if (channel_ != nullptr) {
    // Callbacks run with ARES_EDESTRUCTION and are dropped (OnAresAnswer);
    // sockets are closed through OnSockState while this object is still whole.
    ares_destroy(channel_);
    channel_ = nullptr;
  }
  for (HandleBox* box : handles_) {
    box->owner = nullptr;
    if (!uv_is_closing(&box->handle)) {
      uv_close(&box->handle, [](uv_handle_t* h) { delete static_cast<HandleBox*>(h->data); });
    }
  }
}

absl::Status AresChannel::Init() {
  HandleBox* timer = NewHandle();
  if (const int rc = uv_timer_init(loop_, &timer->timer); rc != 0) {
    delete timer;  // never initialised, so there is nothing to close
    return absl::UnavailableError(absl::StrCat("uv_timer_init: ", uv_strerror(rc)));
  }
  timer_ = timer;
  handles_.insert(timer_);
  return InitChannel();
}

absl::Status AresChannel::InitChannel() {
  ares_options opts{};
  opts.sock_state_cb = &SockStateThunk;
  opts.sock_state_cb_data = this;
  opts.timeout = static_cast<int>(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(options_.timeout), 1, 3600 * 1000));
  opts.tries = options_.tries;
  // Names are absolute: never append the host's search domains. EDNS lets large
  // MX sets come back over UDP instead of falling back to TCP; an answer too
  // big even for EDNS comes back truncated (TC), and c-ares repeats the query
  // over TCP (we do not set ARES_FLAG_IGNTC; mx_resolver_answers_test checks it).
  //
  // NOCHECKRESP: c-ares 1.18.1 answers a SERVFAIL or REFUSED from the last
  // server with ARES_ECONNREFUSED, losing the rcode our errors report. With the
  // flag, ares_query maps the rcode to ARES_ESERVFAIL/ARES_EREFUSED; the price
  // is no failover to the next server on those rcodes (timeouts still fail
  // over).
  opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_EDNS | ARES_FLAG_NOCHECKRESP;
  // DNS only, never /etc/hosts ("b" = bind).
  char lookups[] = "b";
  opts.lookups = lookups;
  const int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS |
                   ARES_OPT_LOOKUPS;
  int rc = ares_init_options(&channel_, &opts, mask);
  if (rc != ARES_SUCCESS) {
    channel_ = nullptr;
    return absl::UnavailableError(absl::StrCat("ares_init_options: ", ares_strerror(rc)));
  }
  if (!options_.servers.empty()) {
    const std::string csv = absl::StrJoin(options_.servers, ",");
    rc = ares_set_servers_ports_csv(channel_, csv.c_str());
    if (rc != ARES_SUCCESS) {
      ares_destroy(channel_);
      channel_ = nullptr;
      return absl::InvalidArgumentError(
          absl::StrCat("ares_set_servers_ports_csv(\"", csv, "\"): ", ares_strerror(rc)));
    }
  }
  dirty_ = false;
  return absl::OkStatus();
}

void AresChannel::RebuildIfDirty() {
  if (channel_ == nullptr || !dirty_ || active_queries_ > 0 || callback_depth_ > 0) return;
  // No query holds the channel and c-ares is not on the stack, so destroying
  // it runs no callbacks.
  ares_destroy(channel_);
  channel_ = nullptr;
}

absl::Status AresChannel::Query(const std::string& name, int rr_type, AnswerCallback on_answer) {
  if (shutting_down_) return absl::FailedPreconditionError("AresChannel: shut down");
  RebuildIfDirty();
  if (channel_ == nullptr) RETURN_IF_ERROR(InitChannel());
  ++active_queries_;
  ares_query(channel_, name.c_str(), ns_c_in, rr_type, &OnAresAnswer,
             new PendingQuery{this, std::move(on_answer)});
  // Inside an answer callback, the c-ares call on the stack re-arms the timer
  // once it returns.
  if (callback_depth_ == 0) UpdateTimer();
  return absl::OkStatus();
}

void AresChannel::OnAresAnswer(void* arg, int status, int /*timeouts*/, unsigned char* abuf,
                               int alen) {
  std::unique_ptr<PendingQuery> query(static_cast<PendingQuery*>(arg));
  AresChannel* self = query->channel;
  --self->active_queries_;
  if (self->destroying_) return;
  if (status == ARES_ECONNREFUSED) self->dirty_ = true;
  absl::Span<const unsigned char> answer;
  if (abuf != nullptr && alen > 0) answer = absl::MakeConstSpan(abuf, static_cast<size_t>(alen));
  ++self->callback_depth_;
  query->on_answer(status, answer);
  --self->callback_depth_;
}

void AresChannel::Shutdown(absl::AnyInvocable<void()> done) {
  DCHECK(callback_depth_ == 0) << "AresChannel::Shutdown inside an answer callback";
  if (shutting_down_) {
    LOG(ERROR) << "AresChannel::Shutdown called twice";
    return;
  }
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  if (channel_ != nullptr) {
    // Cancelling first lets the callbacks see a whole channel (and Query
    // refuses to send more); ares_destroy then closes the sockets.
    ares_cancel(channel_);
    ares_destroy(channel_);
    channel_ = nullptr;
  }
  while (!polls_.empty()) {
    auto it = polls_.begin();
    CloseHandle(it->second);
    polls_.erase(it);
  }
  // The timer is open until now, so `done` runs from its close callback at the
  // latest, never inside Shutdown.
  CloseHandle(timer_);
}

void AresChannel::SockStateThunk(void* data, ares_socket_t fd, int readable, int writable) {
  static_cast<AresChannel*>(data)->OnSockState(fd, readable, writable);
}

void AresChannel::OnSockState(ares_socket_t fd, int readable, int writable) {
  auto it = polls_.find(fd);
  if (!readable && !writable) {
    if (it != polls_.end()) {
      CloseHandle(it->second);
      polls_.erase(it);
    }
    return;
  }
  HandleBox* box;
  if (it != polls_.end()) {
    box = it->second;
  } else {
    box = NewHandle();
    box->fd = fd;
    if (const int rc = uv_poll_init_socket(loop_, &box->poll, fd); rc != 0) {
      // The query still ends through c-ares' own timeout on our timer.
      LOG(ERROR) << "uv_poll_init_socket: " << uv_strerror(rc);
      delete box;  // never initialised, so there is nothing to close
      return;
    }
    handles_.insert(box);
    polls_.emplace(fd, box);
  }
  const int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
  LogUvError("uv_poll_start", uv_poll_start(&box->poll, events, &OnPoll));
}

void AresChannel::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* box = static_cast<HandleBox*>(handle->data);
  AresChannel* self = box->owner;
  if (self == nullptr || self->channel_ == nullptr) return;
  const ares_socket_t fd = box->fd;
  if (status < 0) {
    // Let c-ares find the error on the socket itself.
    ares_process_fd(self->channel_, fd, fd);
  } else {
    ares_process_fd(self->channel_, (events & UV_READABLE) ? fd : ARES_SOCKET_BAD,
                    (events & UV_WRITABLE) ? fd : ARES_SOCKET_BAD);
  }
  // `box` may be closing now, but it is freed only in its close callback.
  self->UpdateTimer();
}

void AresChannel::OnTimer(uv_timer_t* handle) {
  AresChannel* self = static_cast<HandleBox*>(handle->data)->owner;
  if (self == nullptr || self->channel_ == nullptr) return;
  ares_process_fd(self->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  self->UpdateTimer();
}

void AresChannel::UpdateTimer() {
  if (channel_ == nullptr || timer_ == nullptr || uv_is_closing(&timer_->handle)) return;
  timeval tv;
  const timeval* next = ares_timeout(channel_, nullptr, &tv);
  if (next == nullptr) {
    LogUvError("uv_timer_stop", uv_timer_stop(&timer_->timer));
    return;
  }
  // Round up so that the timer never fires before c-ares considers the query
  // timed out.
  const uint64_t ms = static_cast<uint64_t>(next->tv_sec) * 1000 +
                      (static_cast<uint64_t>(next->tv_usec) + 999) / 1000;
  LogUvError("uv_timer_start", uv_timer_start(&timer_->timer, &OnTimer, ms, 0));
}

AresChannel::HandleBox* AresChannel::NewHandle() {
  auto* box = new HandleBox;
  box->owner = this;
  box->handle.data = box;
  return box;
}

void AresChannel::CloseHandle(HandleBox* box) {
  if (uv_is_closing(&box->handle)) return;
  uv_close(&box->handle, [](uv_handle_t* h) {
    auto* box = static_cast<HandleBox*>(h->data);
    AresChannel* owner = box->owner;
    // OnHandleClosed may run the shutdown callback, which may destroy the
    // channel, but boxes are not owned by it.
    if (owner != nullptr) owner->OnHandleClosed(box);
    delete box;
  });
}

void AresChannel::OnHandleClosed(HandleBox* box) {
  handles_.erase(box);
  if (!shutting_down_ || !handles_.empty() || !shutdown_done_) return;
  // `done` may destroy the channel: nothing may touch `this` afterwards.
  auto done = std::move(shutdown_done_);
  shutdown_done_ = nullptr;
  done();
}

}  // namespace volley::dns
