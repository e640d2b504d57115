// A private Postfix instance receiving mail on 127.0.0.1, for interoperability tests: Volley
// delivering to a real MTA (STARTTLS, 8BITMIME, pipelining as Postfix implements them).
//
// Postfix accepts every recipient from 127.0.0.0/8 and throws the mail away (transport
// `discard:` for every address class), so nothing ever leaves the machine. It makes no DNS
// lookups (no reverse lookup of clients, no DNS in its SMTP client, which is never used), listens
// on loopback only and logs to its own file (`maillog_file`, through the postlogd service), from
// which the harness counts the messages accepted and those that arrived over TLS.
//
// Requirements: Debian's `postfix` package (tools/setup.sh; the system instance is neither
// configured nor started) and root, because the Postfix master runs as root and its daemons as
// the `postfix` user.
//
// Where the instance lives: everything (config_directory, queue_directory, data_directory,
// the log) is under `dir` when the `postfix` user can reach `dir`. Bazel's $TEST_TMPDIR is under
// /root (mode 0700), which Postfix's daemons cannot enter once they drop privileges, so the
// instance then goes to a fresh /tmp/volley-postfix-XXXXXX, linked from `dir`/postfix-instance;
// the destructor copies its log to `dir`/maillog and removes it.
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
  // Overriding header_checks or myhostname breaks MessagesOverTls.
  std::vector<std::string> extra_main_cf;
  // How long Start waits for the "220" greeting.
  absl::Duration ready_timeout = absl::Seconds(20);
};

// One message Postfix queued, as its log tells.
struct PostfixMessage {
  std::string queue_id;
  std::string sender;  // the envelope sender, "" for <>
  int64_t size = 0;    // Postfix's queue file size, not the message size
  int recipients = 0;  // nrcpt
  // Arrived over TLS: Postfix's own Received header says "(using TLS...)".
  bool tls = false;
  // The recipients the discard transport consumed so far ("status=sent").
  std::vector<std::string> delivered_to;
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
  // The directory holding conf/, queue/, data/ and maillog.
  const std::string& instance_dir() const { return instance_dir_; }
  pid_t master_pid() const { return pid_; }
  std::string log_path() const;
  std::string ReadLog() const;

  // The messages queued so far, in the order the queue manager logged them. A message counts
  // once Postfix's queue manager has logged "from=<...>, size=..., nrcpt=..." for it, which is
  // shortly after the client saw "250 ... queued as": poll (WaitForMessages). Postfix drops
  // log lines when its log server lags; a message whose queue manager line was lost still
  // counts from its cleanup or discard line, with sender, size and recipients unknown, and
  // `tls` may then be false although it came over TLS (its one TLS line may be lost too).
  std::vector<PostfixMessage> Messages() const;
  int MessagesAccepted() const;
  int MessagesOverTls() const;
  // Polls the log until at least `count` messages are queued.
  absl::Status WaitForMessages(int count, absl::Duration timeout) const;

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
  pid_t guardian_pid_ = -1;
  int guard_fd_ = -1;  // the guardian's pipe; closing it (or dying) stops the instance
};

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_POSTFIX_SERVER_H_
