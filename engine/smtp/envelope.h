// What the ESMTP server knows of a client and its mail transaction: filled by the server
// session (the transaction fields by its MailTransaction) and given to the ServerSessionHandler
// with each check and each message. Included by server_session.h; in a header of its own so that
// MailTransaction, which the session is built on, can name it.
#ifndef VOLLEY_ENGINE_SMTP_ENVELOPE_H_
#define VOLLEY_ENGINE_SMTP_ENVELOPE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace volley::smtp {

// What the client has said about itself and the transaction so far. A plain value: the
// session's own copy is used on the session's thread, the handler gets copies.
struct Envelope {
  // Unique per process (a counter shared by every session), for transcripts and logs.
  uint64_t session_id = 0;
  std::string peer_address;   // numeric IP of the client
  std::string local_address;  // numeric IP the client connected to
  std::string helo;           // EHLO/HELO argument
  bool esmtp = false;         // EHLO (not HELO) was used
  // TLS (STARTTLS or implicit) is active; then the protocol version ("TLSv1.3") and the IANA
  // cipher suite name.
  bool tls = false;
  std::string tls_version;
  std::string tls_cipher;
  std::string auth_user;  // the authenticated user (AUTH), "" when none
  // --- The transaction (reset by RSET, EHLO/HELO, and after each message). ---
  std::string mail_from;  // "" for the null reverse-path
  // MAIL parameters as parsed: keywords upper-cased, values as sent ("" for none), in order
  // (SIZE, BODY, SMTPUTF8, RET, ENVID).
  std::vector<std::pair<std::string, std::string>> mail_params;
  bool smtputf8_requested = false;      // MAIL ... SMTPUTF8 (RFC 6531)
  std::vector<std::string> recipients;  // accepted RCPT TO addresses, in order
  // The parameters of each accepted RCPT (NOTIFY, ORCPT), parallel to `recipients`.
  std::vector<std::vector<std::pair<std::string, std::string>>> recipient_params;
  bool bdat = false;  // the content came by BDAT (RFC 3030) rather than DATA
};

}  // namespace volley::smtp

#endif  // VOLLEY_ENGINE_SMTP_ENVELOPE_H_
