#include "engine/smtp/sasl_server.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/base/logging.h"
#include "engine/smtp/local_replies.h"

namespace volley::smtp {
namespace {

// PLAIN's first challenge is empty; LOGIN's are these, base64 for "Username:" and
// "Password:", as every LOGIN client expects.
constexpr absl::string_view kLoginUserChallenge = "VXNlcm5hbWU6";
constexpr absl::string_view kLoginPasswordChallenge = "UGFzc3dvcmQ6";

// RFC 4648 base64 with padding, as RFC 4954 requires of SASL exchanges (absl's decoder alone
// would also take unpadded and whitespace-separated input).
bool DecodeBase64(absl::string_view text, std::string* out) {
  if (text.size() % 4 != 0) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '=') {
      if (i + 2 < text.size()) return false;  // only in the last two positions
      if (i + 1 < text.size() && text[i + 1] != '=') return false;
      continue;
    }
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') {
      return false;
    }
  }
  return absl::Base64Unescape(text, out);
}

}  // namespace

std::string SaslChallenge::ToWire() const {
  const Reply reply = MakeLocalReply(LocalReply::kAuthChallenge, base64);
  return absl::StrCat(reply.code, " ", reply.Text(), "\r\n");
}

SaslStep SaslServer::Start(absl::string_view mechanism,
                           std::optional<absl::string_view> initial_response) {
  Reset();
  const bool plain = absl::EqualsIgnoreCase(mechanism, "PLAIN");
  if (!plain && !absl::EqualsIgnoreCase(mechanism, "LOGIN")) {
    return SaslFailure{MakeLocalReply(LocalReply::kAuthMechanism)};
  }
  step_ = plain ? Step::kPlain : Step::kLoginUser;
  if (initial_response.has_value()) {
    return Respond(*initial_response == "=" ? absl::string_view() : *initial_response);
  }
  return SaslChallenge{std::string(plain ? "" : kLoginUserChallenge)};
}

SaslStep SaslServer::StartCommand(absl::string_view argument) {
  std::vector<absl::string_view> words =
      absl::StrSplit(argument, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  if (words.empty() || words.size() > 2) return Fail(MakeLocalReply(LocalReply::kAuthSyntax));
  std::optional<absl::string_view> initial_response;
  if (words.size() == 2) initial_response = words[1];
  return Start(words[0], initial_response);
}

SaslStep SaslServer::Respond(absl::string_view line) {
  DCHECK(awaiting_response()) << "a SASL response without a challenge";
  if (line == "*") return Fail(MakeLocalReply(LocalReply::kAuthAborted));
  std::string decoded;
  if (!DecodeBase64(line, &decoded)) return Fail(MakeLocalReply(LocalReply::kAuthBadBase64));
  switch (step_) {
    case Step::kPlain:
      return RespondPlain(decoded);
    case Step::kLoginUser:
      login_user_ = std::move(decoded);
      step_ = Step::kLoginPassword;
      return SaslChallenge{std::string(kLoginPasswordChallenge)};
    case Step::kLoginPassword:
      return Credentials(std::move(login_user_), decoded);
    case Step::kIdle:
      break;
  }
  // Respond without a challenge: the caller's mistake, and no identity comes of it.
  return Fail(MakeLocalReply(LocalReply::kAuthSyntax));
}

void SaslServer::Reset() {
  step_ = Step::kIdle;
  login_user_.clear();
}

SaslStep SaslServer::Fail(Reply reply) {
  Reset();
  return SaslFailure{std::move(reply)};
}

SaslStep SaslServer::RespondPlain(absl::string_view decoded) {
  // RFC 4616: [authzid] NUL authcid NUL passwd.
  std::vector<absl::string_view> parts = absl::StrSplit(decoded, '\0');
  if (parts.size() != 3 || parts[1].empty()) {
    return Fail(MakeLocalReply(LocalReply::kAuthBadPlain));
  }
  // Acting for someone else (an authzid other than the user) is not supported.
  if (!parts[0].empty() && parts[0] != parts[1]) {
    return Fail(MakeLocalReply(LocalReply::kAuthInvalid));
  }
  return Credentials(std::string(parts[1]), parts[2]);
}

SaslStep SaslServer::Credentials(std::string user, absl::string_view password) {
  Reset();
  if (user.empty()) return SaslFailure{MakeLocalReply(LocalReply::kAuthInvalid)};
  return SaslCredentials{std::move(user), std::string(password)};
}

}  // namespace volley::smtp
