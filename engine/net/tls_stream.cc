#include "engine/net/tls_stream.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/net/callback_slot.h"

namespace volley::net {

struct TlsStream::State {
  std::unique_ptr<Stream> transport;
  std::unique_ptr<tls::TlsSession> session;
  CallbackSlot callbacks;
  absl::AnyInvocable<void()> on_established;
  bool closed = false;
  bool ended = false;
  std::string plaintext;  // decrypted input; the buffer is reused from read to read

  void SendOutput() {
    if (session->HasEncryptedOutput()) transport->Write(session->TakeEncryptedOutput());
  }

  void End(const absl::Status& status) {
    if (closed || ended) return;
    ended = true;
    callbacks.End(status);
  }

  void OnEncrypted(absl::string_view bytes) {
    if (closed || ended) return;
    const bool was_established = session->established();
    plaintext.clear();
    const absl::Status status = session->OnEncryptedInput(bytes, &plaintext);
    SendOutput();  // handshake messages, or the alert that tells the peer why it failed
    if (!status.ok()) {
      End(status);
      return;
    }
    if (!was_established && session->established() && on_established) {
      absl::AnyInvocable<void()> established = std::move(on_established);
      on_established = nullptr;
      established();
      if (closed || ended) return;
    }
    // With TLS 1.3 the peer's first data may come with its Finished message.
    // on_data cannot re-enter OnEncrypted (input comes from the loop), so it reads the buffer
    // in place.
    if (!plaintext.empty()) {
      callbacks.Data(plaintext);
      if (closed || ended) return;
    }
    if (session->state() == tls::TlsSession::State::kClosed) End(absl::OkStatus());
  }
};

TlsStream::TlsStream(std::shared_ptr<State> state) : state_(std::move(state)) {}

absl::StatusOr<std::unique_ptr<TlsStream>> TlsStream::Client(
    std::unique_ptr<Stream> transport, std::shared_ptr<tls::TlsContext> context,
    const tls::ClientSessionOptions& options) {
  absl::StatusOr<std::unique_ptr<tls::TlsSession>> session =
      tls::TlsSession::CreateClient(std::move(context), options);
  if (!session.ok()) return session.status();
  return Start(std::move(transport), *std::move(session));
}

absl::StatusOr<std::unique_ptr<TlsStream>> TlsStream::Server(
    std::unique_ptr<Stream> transport, std::shared_ptr<tls::TlsContext> context) {
  absl::StatusOr<std::unique_ptr<tls::TlsSession>> session =
      tls::TlsSession::CreateServer(std::move(context));
  if (!session.ok()) return session.status();
  return Start(std::move(transport), *std::move(session));
}

absl::StatusOr<std::unique_ptr<TlsStream>> TlsStream::Start(
    std::unique_ptr<Stream> transport, std::unique_ptr<tls::TlsSession> session) {
  auto state = std::make_shared<State>();
  state->transport = std::move(transport);
  state->session = std::move(session);
  Stream* raw = state->transport.get();
  // The transport's callbacks hold the state weakly: the state owns the transport, so a strong
  // reference would be a cycle.
  std::weak_ptr<State> weak = state;
  raw->SetCallbacks(StreamCallbacks{
      .on_data =
          [weak](absl::string_view bytes) {
            if (std::shared_ptr<State> s = weak.lock()) s->OnEncrypted(bytes);
          },
      .on_end =
          [weak](const absl::Status& status) {
            if (std::shared_ptr<State> s = weak.lock()) s->End(status);
          },
  });
  const absl::Status started = state->session->StartHandshake();
  state->SendOutput();
  if (!started.ok()) return started;
  const absl::Status reading = raw->StartReading();
  if (!reading.ok()) return reading;
  return std::unique_ptr<TlsStream>(new TlsStream(std::move(state)));
}

TlsStream::~TlsStream() {
  // After Shutdown the transport lingers on its own once it is destroyed with the state.
  if (!state_->closed) Close();
}

void TlsStream::set_on_established(absl::AnyInvocable<void()> on_established) {
  state_->on_established = std::move(on_established);
}

const tls::TlsSession& TlsStream::session() const { return *state_->session; }

void TlsStream::SetCallbacks(StreamCallbacks callbacks) {
  state_->callbacks.Set(std::move(callbacks));
}

absl::Status TlsStream::StartReading() { return state_->transport->StartReading(); }

void TlsStream::StopReading() { state_->transport->StopReading(); }

void TlsStream::Write(std::string bytes) {
  State& s = *state_;
  if (s.closed || bytes.empty()) return;
  const absl::Status status = s.session->WritePlaintext(bytes);
  if (!status.ok()) {
    s.End(status);
    return;
  }
  s.SendOutput();
}

void TlsStream::Shutdown(absl::Duration linger) {
  State& s = *state_;
  if (s.closed) return;
  s.closed = true;
  if (s.session->established()) {
    s.session->Shutdown();  // close_notify, so the peer knows nothing was cut off
    s.SendOutput();
  }
  s.transport->Shutdown(linger);
}

void TlsStream::Close() {
  State& s = *state_;
  if (s.closed && s.transport->closed()) return;
  s.closed = true;
  s.transport->Close();
}

bool TlsStream::closed() const { return state_->closed; }

const std::string& TlsStream::peer_address() const { return state_->transport->peer_address(); }

const std::string& TlsStream::local_address() const { return state_->transport->local_address(); }

}  // namespace volley::net
