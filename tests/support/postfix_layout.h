// The directories of the harness's private Postfix instance (tests/support/postfix_server.h):
// creating them with the owners and modes Postfix's daemons insist on, and reading from the
// queue whether Postfix still has messages to deal with.
#ifndef VOLLEY_TESTS_SUPPORT_POSTFIX_LAYOUT_H_
#define VOLLEY_TESTS_SUPPORT_POSTFIX_LAYOUT_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"

namespace volley::test_support {

// Creates conf/, data/, queue/ with its folders, and the Maildir (tests/support/postfix_config.h)
// with its tmp/, new/ and cur/ under `instance_dir`, which must exist. `owner_uid`/`owner_gid`
// are mail_owner's, `setgid_gid` is setgid_group's. Existing directories are reused.
absl::Status MakePostfixLayout(const std::string& instance_dir, uid_t owner_uid, gid_t owner_gid,
                               gid_t setgid_gid);

// The messages in the instance's queue: submitted locally (maildrop), being received or just
// received (incoming), being delivered (active), waiting for a retry (deferred) or held. Postfix
// removes a queue file once every recipient has been delivered or bounced, so zero means that
// every message received so far has been dealt with. A message that moves from deferred back to
// active while the folders are read is missed, so only two zeros in a row tell that for sure.
int QueuedMessages(const std::string& instance_dir);

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_POSTFIX_LAYOUT_H_
