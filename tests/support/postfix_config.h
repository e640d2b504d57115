// The main.cf and master.cf of the private Postfix that tests/support/postfix_server.h runs: a
// receiving instance on 127.0.0.1 that delivers every recipient of every domain into one
// Maildir with virtual(8) and sends nothing anywhere else. Pure text: writing the files and
// creating the directories they name is the server's job.
#ifndef VOLLEY_TESTS_SUPPORT_POSTFIX_CONFIG_H_
#define VOLLEY_TESTS_SUPPORT_POSTFIX_CONFIG_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace volley::test_support {

// The instance's own name, in its greeting and in the Received header it adds. Fixed, so that
// Postfix never asks the resolver for the host's name, and known to the Maildir reader, which
// recognises Postfix's own Received header by it.
inline constexpr char kPostfixHostname[] = "postfix.volley.test";
// Debian's postfix package: where its daemons are, and the user and group they run as.
inline constexpr char kPostfixDaemonDirectory[] = "/usr/lib/postfix/sbin";
inline constexpr char kPostfixMailOwner[] = "postfix";
inline constexpr char kPostfixSetgidGroup[] = "postdrop";

struct PostfixConfig {
  // Holds conf/, queue/, data/, mail/ and maillog.
  std::string instance_dir;
  uint16_t port = 0;
  // In the SMTP banner, so that the server knows a greeting is from this instance.
  std::string banner_nonce;
  // Unix user and group that virtual(8) writes the Maildir as.
  uid_t mail_uid = 0;
  gid_t mail_gid = 0;
  // PEM files Postfix reads (copies in conf/); both empty for no STARTTLS.
  std::string tls_cert_file;
  std::string tls_key_file;
  bool require_tls = false;
  // Lines appended to main.cf, where a later definition overrides an earlier one.
  std::vector<std::string> extra_main_cf;
};

// Where virtual(8) delivers: every recipient's copy is a file in its new/ folder.
std::string PostfixMaildir(const std::string& instance_dir);
std::string PostfixLogPath(const std::string& instance_dir);

std::string PostfixMainCf(const PostfixConfig& config);
std::string PostfixMasterCf(uint16_t port);

}  // namespace volley::test_support

#endif  // VOLLEY_TESTS_SUPPORT_POSTFIX_CONFIG_H_
