#include "engine/inject/smtp_status.h"

#include "engine/base/logging.h"
#include "engine/smtp/local_replies.h"

namespace volley::inject {

smtp::Reply SmtpReplyFor(const absl::Status& status) {
  using smtp::LocalReply;
  switch (status.code()) {
    case absl::StatusCode::kResourceExhausted:
      return smtp::MakeLocalReply(LocalReply::kSpoolFull);
    case absl::StatusCode::kUnavailable:
      return smtp::MakeLocalReply(LocalReply::kSpoolUnavailable);
    case absl::StatusCode::kPermissionDenied:
      return smtp::MakeLocalReply(LocalReply::kRelayDenied, status.message());
    case absl::StatusCode::kFailedPrecondition:
      return smtp::MakeLocalReply(LocalReply::kAllSuppressed);
    case absl::StatusCode::kInvalidArgument:
      return smtp::MakeLocalReply(LocalReply::kRecipientNeedsDomain);
    default:
      LOG_EVERY_N_SEC(ERROR, 5) << "injection failed: " << status;
      return smtp::MakeLocalReply(LocalReply::kInternalError);
  }
}

}  // namespace volley::inject
