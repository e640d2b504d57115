#include "tests/support/postfix_config.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace volley::test_support {
namespace {

// Where the instance keeps its files; the system's /etc/postfix only for Postfix's own
// read-only metadata (postfix-files, dynamicmaps.cf).
std::string DirectoriesSection(const PostfixConfig& config) {
  const std::string& dir = config.instance_dir;
  return absl::StrCat("compatibility_level = 3.6\n",                         //
                      "config_directory = ", dir, "/conf\n",                 //
                      "queue_directory = ", dir, "/queue\n",                 //
                      "data_directory = ", dir, "/data\n",                   //
                      "command_directory = /usr/sbin\n",                     //
                      "daemon_directory = ", kPostfixDaemonDirectory, "\n",  //
                      "meta_directory = /etc/postfix\n",                     //
                      "shlib_directory = /usr/lib/postfix\n",                //
                      "mail_owner = ", kPostfixMailOwner, "\n",              //
                      "setgid_group = ", kPostfixSetgidGroup, "\n",          //
                      // The log, written by the postlogd service (master.cf).
                      "maillog_file = ", PostfixLogPath(dir), "\n",  //
                      "maillog_file_prefixes = ", dir, "\n");
}

// Names fixed here, so that Postfix never asks the resolver for the host's own; loopback only.
std::string IdentitySection(const PostfixConfig& config) {
  return absl::StrCat("myhostname = ", kPostfixHostname, "\n",  //
                      "mydomain = volley.test\n",               //
                      "myorigin = $myhostname\n",
                      "smtpd_banner = $myhostname ESMTP Postfix volley-harness-",
                      config.banner_nonce, "\n",            //
                      "inet_interfaces = loopback-only\n",  //
                      "inet_protocols = ipv4\n");
}

// Every domain is a virtual mailbox domain (a static: table answers for any key) and every
// recipient maps to the one Maildir (the trailing slash asks for Maildir format), so virtual(8)
// writes one file per recipient and the tests count files, not log lines. Nothing else
// delivers: no local domain, no aliases, and the transports for the other address classes,
// which no address reaches, refuse rather than relay (master.cf has no SMTP client at all).
std::string DeliverySection(const PostfixConfig& config) {
  constexpr absl::string_view kRefuse =
      "error:5.7.1 the Volley harness delivers only to its Maildir\n";
  return absl::StrCat(
      "mydestination =\n",                                        //
      "relay_domains =\n",                                        //
      "local_recipient_maps =\n",                                 //
      "alias_maps =\n",                                           //
      "alias_database =\n",                                       //
      "virtual_mailbox_domains = static:all\n",                   //
      "virtual_mailbox_base = ", config.instance_dir, "/mail\n",  //
      "virtual_mailbox_maps = static:Maildir/\n",                 //
      "virtual_uid_maps = static:", config.mail_uid, "\n",        //
      "virtual_gid_maps = static:", config.mail_gid, "\n",        //
      // virtual(8) refuses uids below this; the mail owner's may be below the default 100.
      "virtual_minimum_uid = ", config.mail_uid, "\n",  //
      "virtual_transport = virtual\n",                  //
      "default_transport = ", kRefuse,                  //
      "local_transport = ", kRefuse,                    //
      "relay_transport = ", kRefuse,
      // No DNS in the SMTP client either, should one ever be added.
      "smtp_dns_support_level = disabled\n",  //
      "biff = no\n");
}

// Any client on 127.0.0.0/8, no restriction, no reverse lookup, no pause.
std::string SmtpdSection() {
  return absl::StrCat("mynetworks = 127.0.0.0/8\n",     //
                      "smtpd_client_restrictions =\n",  //
                      "smtpd_helo_restrictions =\n",    //
                      "smtpd_sender_restrictions =\n",  //
                      "smtpd_relay_restrictions = permit_mynetworks, reject\n",
                      "smtpd_recipient_restrictions =\n",  //
                      "smtpd_peername_lookup = no\n",
                      // Tests should not wait: no tarpit after errors, no flow-control pause.
                      "smtpd_error_sleep_time = 0\n",  //
                      "in_flow_delay = 0\n");
}

std::string TlsSection(const PostfixConfig& config) {
  if (config.tls_cert_file.empty()) return "";
  return absl::StrCat("smtpd_tls_cert_file = ", config.tls_cert_file, "\n",  //
                      "smtpd_tls_key_file = ", config.tls_key_file, "\n",    //
                      "smtpd_tls_security_level = ", config.require_tls ? "encrypt" : "may", "\n",
                      "smtpd_tls_loglevel = 1\n",
                      // "(using TLSv1.3 with cipher ...)" in Postfix's own Received header, which
                      // is how the Maildir reader tells that a message came in over TLS.
                      "smtpd_tls_received_header = yes\n");
}

}  // namespace

std::string PostfixMaildir(const std::string& instance_dir) {
  return instance_dir + "/mail/Maildir";
}

std::string PostfixLogPath(const std::string& instance_dir) { return instance_dir + "/maillog"; }

std::string PostfixMainCf(const PostfixConfig& config) {
  return absl::StrCat(
      "# Written by tests/support/postfix_config.cc: a private receiving Postfix that accepts\n"
      "# mail from 127.0.0.0/8 for any domain and delivers it into one Maildir.\n",
      DirectoriesSection(config), IdentitySection(config), DeliverySection(config), SmtpdSection(),
      TlsSection(config), absl::StrJoin(config.extra_main_cf, "\n"),
      config.extra_main_cf.empty() ? "" : "\n");
}

std::string PostfixMasterCf(uint16_t port) {
  // No chroot (the default master.cf chroots to the system queue directory), only the services
  // a receiving instance that delivers into a Maildir needs. virtual(8) runs as root (unpriv
  // "n") so that it can take the uid of virtual_uid_maps.
  return absl::StrCat("# service type  private unpriv  chroot  wakeup  maxproc command\n",
                      "127.0.0.1:", port, " inet n - n - - smtpd\n",
                      "cleanup   unix  n       -       n       -       0       cleanup\n"
                      "qmgr      unix  n       -       n       300     1       qmgr\n"
                      "tlsmgr    unix  -       -       n       1000?   1       tlsmgr\n"
                      "rewrite   unix  -       -       n       -       -       trivial-rewrite\n"
                      "bounce    unix  -       -       n       -       0       bounce\n"
                      "defer     unix  -       -       n       -       0       bounce\n"
                      "trace     unix  -       -       n       -       0       bounce\n"
                      "verify    unix  -       -       n       -       1       verify\n"
                      "flush     unix  n       -       n       1000?   0       flush\n"
                      "proxymap  unix  -       -       n       -       -       proxymap\n"
                      "showq     unix  n       -       n       -       -       showq\n"
                      "error     unix  -       -       n       -       -       error\n"
                      "retry     unix  -       -       n       -       -       error\n"
                      "virtual   unix  -       n       n       -       -       virtual\n"
                      "anvil     unix  -       -       n       -       1       anvil\n"
                      "scache    unix  -       -       n       -       1       scache\n"
                      "postlog   unix-dgram n  -       n       -       1       postlogd\n");
}

}  // namespace volley::test_support
