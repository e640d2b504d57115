// Reading what the harness's Postfix (tests/support/postfix_server.h) delivered: virtual(8)
// writes one file per recipient into a Maildir, first into tmp/ and then, complete, by a link
// into new/, so a file in new/ is a finished delivery and their number is the exact count.
#ifndef VOLLEY_TESTS_SUPPORT_POSTFIX_MAILDIR_H_
#define VOLLEY_TESTS_SUPPORT_POSTFIX_MAILDIR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace volley::test_support {

// One recipient's copy of a message, as Postfix wrote it: LF line ends, dot-unstuffed, and
// virtual(8)'s Return-Path, X-Original-To and Delivered-To above the headers that came in.
struct DeliveredMessage {
  std::string file;     // its name in new/
  std::string content;  // the whole file
  // The envelope: Delivered-To is the recipient this copy was for; X-Original-To the address
  // as the client gave it in RCPT TO; Return-Path the envelope sender ("" for <>).
  std::string recipient;
  std::string original_recipient;
  std::string sender;
  // From Postfix's own Received header (the topmost one, naming this host): the queue id,
  // shared by the copies of one message, and whether it says "(using TLS...)".
  std::string queue_id;
  bool tls = false;

  // The first header named `name` (case-insensitive), trimmed, each line break and the white
  // space after it replaced by one space; "" when absent.
  std::string Header(absl::string_view name) const;
  // Everything after the blank line that ends the headers.
  absl::string_view Body() const;
};

// Parses one delivered file. `hostname` is Postfix's myhostname, which its Received header
// names ("by HOST (Postfix)"). InvalidArgument when virtual(8)'s Delivered-To is missing.
absl::StatusOr<DeliveredMessage> ParseDeliveredMessage(std::string file, std::string content,
                                                       absl::string_view hostname);

// The number of files in `maildir`/new.
absl::StatusOr<int> CountDelivered(const std::string& maildir);

// Every file in `maildir`/new, parsed, ordered by file name (which starts with the time of
// delivery).
absl::StatusOr<std::vector<DeliveredMessage>> ReadDelivered(const std::string& maildir,
                                                            absl::string_view hostname);

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_POSTFIX_MAILDIR_H_
