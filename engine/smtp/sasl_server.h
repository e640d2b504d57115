// The server side of an SMTP AUTH exchange (RFC 4954) for the PLAIN (RFC 4616) and LOGIN
// mechanisms: challenges, the client's base64 responses, cancelling. Pure: lines in, outcomes
// out; the server session sends what it is told, has the credentials checked (off its thread:
// hashing is slow), and keeps the rules of when AUTH is allowed at all (EHLO first, TLS, once
// per session, not in a transaction).
#ifndef VOLLEY_ENGINE_SMTP_SASL_SERVER_H_
#define VOLLEY_ENGINE_SMTP_SASL_SERVER_H_

#include <optional>
#include <string>
#include <variant>

#include "absl/strings/string_view.h"
#include "engine/smtp/reply.h"

namespace volley::smtp {

// The exchange goes on: send this challenge and feed the client's next line to Respond.
struct SaslChallenge {
  std::string base64;  // the challenge, base64-encoded ("" for PLAIN's empty one)

  // "334 <base64>\r\n". RFC 4954 4 requires the space even when the challenge is empty
  // (continue-req = "334" SP [base64] CRLF), where Reply::ToWire would send a bare "334".
  std::string ToWire() const;
};

// The exchange is over: the client claims to be `user`, with `password`, which the session
// has checked.
struct SaslCredentials {
  std::string user;
  std::string password;
};

// The exchange is over without an identity: send `reply` (a 501, 504 or 535; the session
// counts it as a bad command).
struct SaslFailure {
  Reply reply;
};

using SaslStep = std::variant<SaslChallenge, SaslCredentials, SaslFailure>;

// One AUTH exchange at a time. Responses must be padded base64 (RFC 4648; 501 5.5.2
// otherwise); "*" cancels (501 5.7.0). PLAIN takes "[authzid] NUL authcid NUL passwd" and
// refuses an authzid other than the user (535 5.7.8: acting for someone else is not
// supported); LOGIN asks "Username:" and "Password:". An empty user is refused here (535
// 5.7.8), never checked. Not thread-safe: it runs on the thread of the session that owns it.
class SaslServer {
 public:
  SaslServer() = default;
  SaslServer(const SaslServer&) = delete;
  SaslServer& operator=(const SaslServer&) = delete;

  // "AUTH <mechanism> [initial-response]": starts an exchange, abandoning any under way.
  // `mechanism` is case-insensitive; others than PLAIN and LOGIN get 504 5.5.4. An initial
  // response is taken as the response to the first challenge; "=" is an empty one (RFC 4954 4).
  SaslStep Start(absl::string_view mechanism, std::optional<absl::string_view> initial_response);

  // The same from the AUTH command's argument ("<mechanism> [initial-response]"); 501 5.5.4
  // when it is not that.
  SaslStep StartCommand(absl::string_view argument);

  // The client's line (without CRLF) answering the last SaslChallenge.
  SaslStep Respond(absl::string_view line);

  // Abandons the exchange (the response line was too long to read, say) and forgets any user
  // name it held.
  void Reset();

  // A challenge was sent and its response is due.
  bool awaiting_response() const { return step_ != Step::kIdle; }

 private:
  enum class Step { kIdle, kPlain, kLoginUser, kLoginPassword };

  SaslStep Fail(Reply reply);
  SaslStep RespondPlain(absl::string_view decoded);
  SaslStep Credentials(std::string user, absl::string_view password);

  Step step_ = Step::kIdle;
  std::string login_user_;  // LOGIN: the user, while the password is asked for
};

}  // namespace volley::smtp

#endif  // VOLLEY_ENGINE_SMTP_SASL_SERVER_H_
