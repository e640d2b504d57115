#include "tests/support/fault_stream.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "engine/runtime/timer.h"

namespace volley::test_support {

using EndCallback = absl::AnyInvocable<void(const absl::Status&)>;

constexpr absl::Duration kDropPoll = absl::Milliseconds(20);

struct FaultStream::State {
  State(uv_loop_t* loop, std::unique_ptr<net::Stream> inner_stream, StreamFaults stream_faults)
      : inner(std::move(inner_stream)), faults(stream_faults), timer(loop, [this] { Flush(); }) {}

  std::unique_ptr<net::Stream> inner;
  const StreamFaults faults;
  Timer timer;
  std::deque<std::pair<absl::Time, std::string>> pending;  // delayed writes
  // The user's on_end, shared with the callbacks installed on `inner`: the fault reports
  // through it too.
  std::shared_ptr<EndCallback> on_end;
  std::string line;       // the line being read, before TLS
  bool armed = false;     // STARTTLS seen: the next write is its 220
  bool broken = false;    // the 220 and the garbage are out (or on their way)
  bool ending = false;    // the fault's end is to be reported once the writes are out
  bool shut = false;      // Shutdown or Close was called: no more writes from the user
  bool orphaned = false;  // the FaultStream is gone: delete once the writes are out
  std::optional<absl::Duration> shutdown_after_flush;

  // Looks for the client's STARTTLS command line in the clear.
  void Inspect(absl::string_view bytes) {
    if (!faults.break_starttls || armed) return;
    for (char c : bytes) {
      if (c != '\n') {
        if (line.size() < 64) line.push_back(c);
        continue;
      }
      if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(line), "STARTTLS")) armed = true;
      line.clear();
    }
  }

  void Send(std::string bytes) {
    const absl::Duration delay = faults.Delay();
    if (delay <= absl::ZeroDuration() && pending.empty()) {
      inner->Write(std::move(bytes));
      if (ending) timer.Start(absl::ZeroDuration());  // the end is reported on the next turn
      return;
    }
    // In order: a write never overtakes one held back longer.
    absl::Time at = absl::Now() + delay;
    if (!pending.empty()) at = std::max(at, pending.back().first);
    pending.emplace_back(at, std::move(bytes));
    if (pending.size() == 1) timer.Start(at - absl::Now());
  }

  bool Dropping() const { return faults.dropping != nullptr && faults.dropping->load(); }

  void Flush() {
    if (shut && Dropping()) {
      // The sink stops while a shut connection still holds writes back: it drops them.
      pending.clear();
      shutdown_after_flush.reset();
      inner->Close();
      if (orphaned) delete this;
      return;
    }
    const absl::Time now = absl::Now();
    while (!pending.empty() && pending.front().first <= now) {
      inner->Write(std::move(pending.front().second));
      pending.pop_front();
    }
    if (!pending.empty()) {
      absl::Duration wait = std::max(absl::Milliseconds(1), pending.front().first - now);
      // Nobody tells a shut connection that the sink stops: it looks every kDropPoll, so that
      // a stop does not wait out a long write delay.
      if (shut) wait = std::min(wait, kDropPoll);
      timer.Start(wait);
      return;
    }
    if (shutdown_after_flush) {
      inner->Shutdown(*shutdown_after_flush);
      shutdown_after_flush.reset();
      if (orphaned) delete this;  // the inner stream lingers on its own
      return;
    }
    if (ending && !shut) {
      ending = false;
      // The client's handshake fails on the garbage; the session ends as after a failed one.
      std::shared_ptr<EndCallback> end = on_end;
      if (end && *end) (*end)(absl::UnavailableError("STARTTLS broken as the test asked"));
    }
  }
};

FaultStream::FaultStream(uv_loop_t* loop, std::unique_ptr<net::Stream> inner, StreamFaults faults)
    : state_(new State(loop, std::move(inner), faults)) {}

FaultStream::~FaultStream() {
  if (state_->shutdown_after_flush) {
    state_->orphaned = true;  // deletes itself once the delayed writes are out
    return;
  }
  delete state_;
}

void FaultStream::SetCallbacks(net::StreamCallbacks callbacks) {
  State* s = state_;
  auto on_end = std::make_shared<EndCallback>(std::move(callbacks.on_end));
  s->on_end = on_end;
  s->inner->SetCallbacks(net::StreamCallbacks{
      .on_data =
          [s, on_data = std::move(callbacks.on_data)](absl::string_view bytes) mutable {
            // As every stream: no callbacks once the user has shut or closed it.
            if (s->broken || s->shut) return;
            s->Inspect(bytes);
            if (on_data) on_data(bytes);
          },
      .on_end =
          [s, on_end](const absl::Status& status) {
            if (!s->shut && *on_end) (*on_end)(status);
          },
  });
}

absl::Status FaultStream::StartReading() { return state_->inner->StartReading(); }
void FaultStream::StopReading() { state_->inner->StopReading(); }

void FaultStream::Write(std::string bytes) {
  State& s = *state_;
  if (s.shut || s.broken) return;
  if (s.armed) {
    // The 220 to STARTTLS, then garbage where the handshake should be.
    s.broken = true;
    s.ending = true;
    s.Send(std::move(bytes));
    s.Send(std::string(kNotTls));
    return;
  }
  s.Send(std::move(bytes));
}

void FaultStream::Shutdown(absl::Duration linger) {
  State& s = *state_;
  if (s.shut) return;
  if (s.Dropping()) {
    Close();
    return;
  }
  s.shut = true;
  if (!s.pending.empty()) {
    s.shutdown_after_flush = linger;      // the delayed writes go out first
    s.timer.Start(absl::ZeroDuration());  // from now on it also looks for the sink's stop
    return;
  }
  s.inner->Shutdown(linger);
}

void FaultStream::Close() {
  State& s = *state_;
  s.shut = true;
  s.pending.clear();
  s.shutdown_after_flush.reset();
  s.timer.Stop();
  s.inner->Close();
}

bool FaultStream::closed() const { return state_->shut || state_->inner->closed(); }
const std::string& FaultStream::peer_address() const { return state_->inner->peer_address(); }
const std::string& FaultStream::local_address() const { return state_->inner->local_address(); }

}  // namespace volley::test_support
