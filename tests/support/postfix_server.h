// A private Postfix instance receiving mail on 127.0.0.1, for interoperability tests: Volley
// delivering to a real MTA (STARTTLS, 8BITMIME, pipelining as Postfix implements them).
//
// Postfix accepts every recipient of every domain from 127.0.0.0/8 and delivers each one with
// virtual(8) into a single Maildir of the instance (tests/support/postfix_config.h has the
// configuration), one file per recipient, so nothing ever leaves the machine. It makes no DNS
// lookups (no reverse lookup of clients, no DNS in its SMTP client, which is never used) and
// listens on loopback only. The harness counts deliveries and reads what arrived from those
// files (tests/support/postfix_maildir.h), not from Postfix's log: postlogd receives log lines
// as datagrams and drops some when it lags (net.unix.max_dgram_qlen is 10 here). The log
// (`maillog_file`) is still kept, for diagnostics.
//
// Requirements: Debian's `postfix` package (tools/setup.sh; the system instance is neither
// configured nor started) and root, because the Postfix master and virtual(8) run as root and
// the other daemons, and the Maildir's files, as the `postfix` user.
//
// Where the instance lives: everything (config_directory, queue_directory, data_directory,
// the Maildir, the log) is under `dir` when the `postfix` user can reach `dir`. Bazel's
// $TEST_TMPDIR is under /root (mode 0700), which Postfix's daemons cannot enter once they drop
// privileges, so the instance then goes to a fresh /tmp/volley-postfix-XXXXXX, linked from
// `dir`/postfix-instance; the destructor copies its log to `dir`/maillog and removes it.
//
// The system Postfix (/etc/postfix) is never read, written or started: a running system
// instance is left alone, ours has its own directories and port.
#ifndef VOLLEY_TESTS_SUPPORT_POSTFIX_SERVER_H_
#define VOLLEY_TESTS_SUPPORT_POSTFIX_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/support/postfix_maildir.h"

namespace volley::test_support {

struct PostfixOptions {
  // PEM files; when both are set, STARTTLS is offered (smtpd_tls_security_level = may). They are
  // copied into the instance's config directory.
  std::string tls_cert_file;
  std::string tls_key_file;
  // STARTTLS required before MAIL (smtpd_tls_security_level = encrypt: "530 5.7.0 Must issue a
  // STARTTLS command first"). Needs the certificate.
  bool require_tls = false;
  // Lines appended to main.cf; a later definition overrides the harness's (Postfix logs a
  // warning). E.g. "smtpd_discard_ehlo_keywords = 8bitmime" for a server without 8BITMIME.
  // Overriding myhostname or the virtual_* settings breaks Delivered().
  std::vector<std::string> extra_main_cf;
  // How long Start waits for the "220" greeting.
  absl::Duration ready_timeout = absl::Seconds(20);
};

class PostfixServer {
 public:
  // Writes the configuration, creates the queue, starts the Postfix master in the foreground as
  // a child process on a free port and returns once the port answers "220". `dir` is created
  // (use one under $TEST_TMPDIR). A Postfix left behind in `dir` by an earlier run that crashed
  // is killed first. A small guardian process (a fork of this one) kills the instance when this
  // process dies without running the destructor, so a crashed test leaves nothing running.
  static absl::StatusOr<std::unique_ptr<PostfixServer>> Start(const std::string& dir,
                                                              const PostfixOptions& options = {});

  PostfixServer(const PostfixServer&) = delete;
  PostfixServer& operator=(const PostfixServer&) = delete;
  // Stops Postfix (SIGTERM to the master, which passes it on, as `postfix abort` does; SIGKILL to
  // its process group after 10 s), waits until no process of the instance is left, and removes
  // the instance if it was placed under /tmp.
  ~PostfixServer();

  uint16_t port() const { return port_; }
  // "127.0.0.1:PORT".
  std::string address() const;
  // The directory holding conf/, queue/, data/, mail/ and maillog.
  const std::string& instance_dir() const { return instance_dir_; }
  pid_t master_pid() const { return pid_; }
  // Postfix's log, for diagnostics only: it may lack lines (see the top of this file).
  std::string log_path() const;
  std::string ReadLog() const;
  // The Maildir every recipient is delivered to.
  std::string maildir() const;

  // Every recipient's copy delivered so far, read from the Maildir's new/ folder.
  absl::StatusOr<std::vector<DeliveredMessage>> Delivered() const;
  // Waits until `count` files are in the Maildir's new/ folder and Postfix's queue is empty:
  // then nothing is in flight, so the count is final. OK when exactly `count` arrived;
  // FailedPrecondition, saying how many, when more did; DeadlineExceeded, saying how many
  // arrived and how many messages are still queued, when fewer did within `timeout`. Call it
  // once the sender is done (e.g. when volleyd has logged a final record for each recipient),
  // so that no message is still on its way to Postfix.
  absl::Status WaitForDelivered(int count, absl::Duration timeout) const;

 private:
  PostfixServer(std::string dir, PostfixOptions options)
      : dir_(std::move(dir)), options_(std::move(options)) {}

  absl::Status PrepareInstance();
  absl::Status WriteConfig();
  absl::Status Spawn();
  absl::Status WaitReady();
  bool ChildExited();
  std::string LogTail() const;
  void Stop();

  std::string dir_;
  PostfixOptions options_;
  std::string instance_dir_;
  bool instance_in_tmp_ = false;
  // In the SMTP banner, so that WaitReady knows a greeting is this instance's.
  std::string banner_nonce_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;   // the master, our child; -1 once reaped
  pid_t pgid_ = -1;  // its process group, which all of the instance's daemons share
  // The user and group virtual(8) writes the Maildir as.
  uid_t mail_uid_ = 0;
  gid_t mail_gid_ = 0;
  pid_t guardian_pid_ = -1;
  int guard_fd_ = -1;  // the guardian's pipe; closing it (or dying) stops the instance
};

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_POSTFIX_SERVER_H_
