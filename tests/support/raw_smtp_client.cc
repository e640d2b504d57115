#include "tests/support/raw_smtp_client.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/base/net_address.h"
#include "tls/testdata/testdata_paths.h"
#include "tls/tls_context.h"

namespace volley::test_support {
namespace {

socklen_t LengthOf(const sockaddr_storage& address) {
  return address.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
}

}  // namespace

std::unique_ptr<RawSmtpClient> RawSmtpClient::Connect(absl::string_view ip, uint16_t port,
                                                      absl::string_view source_ip) {
  absl::StatusOr<sockaddr_storage> address = MakeSocketAddress(ip, port);
  if (!address.ok()) return nullptr;
  const int fd = ::socket(address->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  std::unique_ptr<RawSmtpClient> client(new RawSmtpClient(fd));
  // Bounds every send, and the connect too (Linux applies the send timeout to it).
  timeval timeout = absl::ToTimeval(kReadTimeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  if (!source_ip.empty()) {
    absl::StatusOr<sockaddr_storage> source = MakeSocketAddress(source_ip, 0);
    if (!source.ok() ||
        ::bind(fd, reinterpret_cast<const sockaddr*>(&*source), LengthOf(*source)) != 0) {
      return nullptr;
    }
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&*address), LengthOf(*address)) != 0) {
    return nullptr;
  }
  return client;
}

RawSmtpClient::~RawSmtpClient() { ::close(fd_); }

bool RawSmtpClient::Send(absl::string_view bytes) {
  if (tls_ != nullptr) {
    if (!tls_->WritePlaintext(bytes).ok()) return false;
    return SendRaw(tls_->TakeEncryptedOutput());
  }
  return SendRaw(bytes);
}

bool RawSmtpClient::SendRaw(absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::vector<std::string> RawSmtpClient::ReadReply() {
  const absl::Time deadline = absl::Now() + kReadTimeout;
  std::vector<std::string> lines;
  while (true) {
    const size_t end = buffer_.find("\r\n");
    if (end == std::string::npos) {
      if (!Fill(deadline)) return lines;
      continue;
    }
    std::string line = buffer_.substr(0, end);
    buffer_.erase(0, end + 2);
    const bool last = line.size() < 4 || line[3] != '-';
    lines.push_back(std::move(line));
    if (last) return lines;
  }
}

std::string RawSmtpClient::ReadFinal() {
  std::vector<std::string> lines = ReadReply();
  return lines.empty() ? "" : lines.back();
}

std::string RawSmtpClient::Command(absl::string_view line) {
  if (!Send(absl::StrCat(line, "\r\n"))) return "";
  return ReadFinal();
}

std::vector<std::string> RawSmtpClient::Ehlo(absl::string_view domain) {
  if (!Send(absl::StrCat("EHLO ", domain, "\r\n"))) return {};
  return ReadReply();
}

bool RawSmtpClient::ReadsEof() {
  if (!buffer_.empty()) return false;
  const absl::Time deadline = absl::Now() + kReadTimeout;
  while (true) {
    char chunk[4096];
    const ssize_t n = Receive(chunk, sizeof(chunk), deadline);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n < 0 || tls_ == nullptr) return false;
    std::string plaintext;
    if (!tls_->OnEncryptedInput(absl::string_view(chunk, static_cast<size_t>(n)), &plaintext)
             .ok() ||
        !plaintext.empty()) {
      return false;
    }
  }
}

std::string RawSmtpClient::ReadRawUntilEof() {
  const absl::Time deadline = absl::Now() + kReadTimeout;
  std::string all = std::move(buffer_);
  buffer_.clear();
  char chunk[4096];
  ssize_t n;
  while ((n = Receive(chunk, sizeof(chunk), deadline)) > 0) {
    all.append(chunk, static_cast<size_t>(n));
  }
  return all;
}

absl::Status RawSmtpClient::StartTls(absl::string_view server_name) {
  const absl::Time deadline = absl::Now() + kReadTimeout;
  tls::TlsContextOptions options;
  options.ca_file = tls::TlsTestDataPath("ca.pem");
  absl::StatusOr<std::shared_ptr<tls::TlsContext>> context = tls::TlsContext::Create(options);
  if (!context.ok()) return context.status();
  tls::ClientSessionOptions session_options;
  session_options.server_name = std::string(server_name);
  session_options.verify_peer = true;
  absl::StatusOr<std::unique_ptr<tls::TlsSession>> session =
      tls::TlsSession::CreateClient(*context, session_options);
  if (!session.ok()) return session.status();
  tls_ = std::move(*session);
  if (absl::Status status = tls_->StartHandshake(); !status.ok()) return status;
  // Whatever the server sent in the clear after its 220 must not be taken as TLS.
  if (!buffer_.empty()) return absl::InternalError("plaintext after the 220: " + buffer_);
  while (!tls_->established()) {
    if (!SendRaw(tls_->TakeEncryptedOutput())) return absl::UnavailableError("send failed");
    char chunk[4096];
    const ssize_t n = Receive(chunk, sizeof(chunk), deadline);
    if (n < 0 && errno == ETIMEDOUT) return absl::DeadlineExceededError("handshake timed out");
    if (n <= 0) return absl::UnavailableError("connection closed during the handshake");
    absl::Status status =
        tls_->OnEncryptedInput(absl::string_view(chunk, static_cast<size_t>(n)), &buffer_);
    SendRaw(tls_->TakeEncryptedOutput());
    if (!status.ok()) return status;
  }
  return SendRaw(tls_->TakeEncryptedOutput()) ? absl::OkStatus()
                                              : absl::UnavailableError("send failed");
}

std::string RawSmtpClient::LocalIp() const {
  sockaddr_storage address;
  socklen_t length = sizeof(address);
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) return "";
  return IpOf(reinterpret_cast<sockaddr*>(&address));
}

ssize_t RawSmtpClient::Receive(char* buffer, size_t size, absl::Time deadline) {
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      errno = ETIMEDOUT;
      return -1;
    }
    pollfd readable{.fd = fd_, .events = POLLIN, .revents = 0};
    // Rounded up, so that a wait never ends just before the deadline.
    const int ready = ::poll(&readable, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno != EINTR) return -1;
    if (ready <= 0) continue;
    const ssize_t n = ::recv(fd_, buffer, size, 0);
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

bool RawSmtpClient::Fill(absl::Time deadline) {
  char chunk[4096];
  const ssize_t n = Receive(chunk, sizeof(chunk), deadline);
  if (n <= 0) return false;
  if (tls_ == nullptr) {
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  const size_t before = buffer_.size();
  const absl::Status status =
      tls_->OnEncryptedInput(absl::string_view(chunk, static_cast<size_t>(n)), &buffer_);
  SendRaw(tls_->TakeEncryptedOutput());
  // The last replies may come in the same read as the server's close_notify.
  return status.ok() &&
         (buffer_.size() > before || tls_->state() == tls::TlsSession::State::kEstablished);
}

}  // namespace volley::test_support
