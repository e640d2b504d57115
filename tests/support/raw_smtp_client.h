// A blocking SMTP client on a raw socket, for tests that need exact conversations: parameters
// the injector does not send, bad input, pipelining by hand, plaintext behind STARTTLS.
// STARTTLS and implicit TLS go through tls::TlsSession and verify the server's certificate
// against the test CA (//tls/testdata). Every read has a deadline (kReadTimeout) and every
// write a timeout, so that a broken server fails the test instead of hanging it.
#ifndef VOLLEY_TESTS_SUPPORT_RAW_SMTP_CLIENT_H_
#define VOLLEY_TESTS_SUPPORT_RAW_SMTP_CLIENT_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tls/tls_session.h"

namespace volley::test_support {

class RawSmtpClient {
 public:
  // How long one read (a reply, the TLS handshake, waiting for the end of the connection) and
  // one write may take.
  static constexpr absl::Duration kReadTimeout = absl::Seconds(10);

  // Connects to `ip` (IPv4 or IPv6, e.g. "::1") on `port`, from `source_ip` when it is not
  // empty. nullptr when the connection fails (refused, bad address).
  static std::unique_ptr<RawSmtpClient> Connect(absl::string_view ip, uint16_t port,
                                                absl::string_view source_ip = "");

  ~RawSmtpClient();
  RawSmtpClient(const RawSmtpClient&) = delete;
  RawSmtpClient& operator=(const RawSmtpClient&) = delete;

  // Sends `bytes`, through TLS once StartTls has succeeded.
  bool Send(absl::string_view bytes);
  // Sends `bytes` on the socket as they are, even under TLS.
  bool SendRaw(absl::string_view bytes);

  // The lines (without CRLF) of the next complete reply, or what arrived of it before the
  // end of the connection or the deadline.
  std::vector<std::string> ReadReply();
  // The last line of the next reply ("" on the end of the connection or the deadline).
  std::string ReadFinal();
  // Sends `line` + CRLF and returns the last line of its reply ("" if it could not be sent).
  std::string Command(absl::string_view line);
  // Sends "EHLO `domain`" and returns the lines of its reply.
  std::vector<std::string> Ehlo(absl::string_view domain = "client.test");

  // True when the server closes the connection without sending anything but what was read
  // already (under TLS, nothing but its close_notify).
  bool ReadsEof();
  // The plaintext received and not read yet, then the raw bytes as they arrive, until the end
  // of the connection or the deadline (e.g. whatever a server sends instead of a handshake).
  std::string ReadRawUntilEof();

  // The TLS handshake (after the 220 to STARTTLS, or at once for implicit TLS), verifying the
  // server's certificate for `server_name` against the test CA.
  absl::Status StartTls(absl::string_view server_name = "mx.tls.test");

  // The numeric IP of this end of the connection.
  std::string LocalIp() const;

 private:
  explicit RawSmtpClient(int fd) : fd_(fd) {}

  // Waits until `deadline` for bytes: their count, 0 at the end of the connection, -1 on an
  // error or at the deadline (errno ETIMEDOUT).
  ssize_t Receive(char* buffer, size_t size, absl::Time deadline);
  // Adds what arrives before `deadline` to buffer_ (decrypted under TLS); false when nothing
  // more will come.
  bool Fill(absl::Time deadline);

  int fd_;
  std::string buffer_;  // plaintext received and not read yet
  std::unique_ptr<tls::TlsSession> tls_;
};

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_RAW_SMTP_CLIENT_H_
