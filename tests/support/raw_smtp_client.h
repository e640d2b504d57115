// A blocking SMTP client for tests that need exact conversations (parameters the injector does
// not send, bad input, pipelining by hand). Every read has a deadline.
#ifndef VOLLEY_TESTS_SUPPORT_RAW_SMTP_CLIENT_H_
#define VOLLEY_TESTS_SUPPORT_RAW_SMTP_CLIENT_H_

#include <cstdint>
#include <string>

namespace volley::test_support {

class RawSmtpClient {
 public:
  // Connects to 127.0.0.1:port from `source_ip`. Check connected().
  explicit RawSmtpClient(uint16_t port, const std::string& source_ip = "127.0.0.1");
  ~RawSmtpClient();
  RawSmtpClient(const RawSmtpClient&) = delete;
  RawSmtpClient& operator=(const RawSmtpClient&) = delete;

  bool connected() const { return connected_; }
  bool Send(const std::string& bytes);
  // One complete (possibly multi-line) reply, lines joined by '\n', without the final CRLF;
  // "<closed>" appended when the connection ended first.
  std::string Reply();
  // Sends `line` + CRLF and returns the reply.
  std::string Command(const std::string& line);

 private:
  std::string Line();

  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_RAW_SMTP_CLIENT_H_
