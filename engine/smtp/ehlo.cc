#include "engine/smtp/ehlo.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "engine/smtp/reply.h"

namespace volley::smtp {
namespace {

void AddAuthMechanisms(const std::vector<absl::string_view>& words, Capabilities* caps) {
  for (absl::string_view word : words) {
    std::string mechanism = absl::AsciiStrToUpper(word);
    if (std::find(caps->auth_mechanisms.begin(), caps->auth_mechanisms.end(), mechanism) ==
        caps->auth_mechanisms.end()) {
      caps->auth_mechanisms.push_back(std::move(mechanism));
    }
  }
}

}  // namespace

Capabilities ParseEhloReply(const Reply& reply) {
  Capabilities caps;
  if (reply.code != 250) return caps;
  for (size_t i = 1; i < reply.lines.size(); ++i) {
    std::vector<absl::string_view> words =
        absl::StrSplit(reply.lines[i], absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (words.empty()) continue;
    const absl::string_view keyword = words.front();
    const std::vector<absl::string_view> params(words.begin() + 1, words.end());
    if (absl::EqualsIgnoreCase(keyword, "PIPELINING")) {
      caps.pipelining = true;
    } else if (absl::EqualsIgnoreCase(keyword, "SIZE")) {
      caps.size = true;
      // RFC 1870: an absent or zero limit means no fixed maximum; a malformed one is ignored.
      uint64_t max_size = 0;
      if (!params.empty() && absl::SimpleAtoi(params.front(), &max_size)) {
        caps.max_size = max_size;
      }
    } else if (absl::EqualsIgnoreCase(keyword, "8BITMIME")) {
      caps.eightbitmime = true;
    } else if (absl::EqualsIgnoreCase(keyword, "SMTPUTF8")) {
      caps.smtputf8 = true;
    } else if (absl::EqualsIgnoreCase(keyword, "STARTTLS")) {
      caps.starttls = true;
    } else if (absl::EqualsIgnoreCase(keyword, "CHUNKING")) {
      caps.chunking = true;
    } else if (absl::EqualsIgnoreCase(keyword, "BINARYMIME")) {
      caps.binarymime = true;
    } else if (absl::EqualsIgnoreCase(keyword, "DSN")) {
      caps.dsn = true;
    } else if (absl::EqualsIgnoreCase(keyword, "ENHANCEDSTATUSCODES")) {
      caps.enhanced_status_codes = true;
    } else if (absl::EqualsIgnoreCase(keyword, "AUTH")) {
      AddAuthMechanisms(params, &caps);
    } else if (absl::StartsWithIgnoreCase(keyword, "AUTH=")) {
      // The pre-standard form "AUTH=LOGIN PLAIN" that some servers still send.
      std::vector<absl::string_view> mechanisms = params;
      const absl::string_view first = keyword.substr(5);
      if (!first.empty()) mechanisms.insert(mechanisms.begin(), first);
      AddAuthMechanisms(mechanisms, &caps);
    }
  }
  return caps;
}

Reply MakeEhloReply(const std::string& hostname, const Capabilities& offered) {
  Reply reply;
  reply.code = 250;
  reply.lines.push_back(hostname);
  if (offered.pipelining) reply.lines.push_back("PIPELINING");
  if (offered.size) reply.lines.push_back(absl::StrCat("SIZE ", offered.max_size));
  if (offered.eightbitmime) reply.lines.push_back("8BITMIME");
  if (offered.smtputf8) reply.lines.push_back("SMTPUTF8");
  if (offered.dsn) reply.lines.push_back("DSN");
  if (offered.chunking) reply.lines.push_back("CHUNKING");
  if (offered.binarymime) reply.lines.push_back("BINARYMIME");
  if (offered.starttls) reply.lines.push_back("STARTTLS");
  if (!offered.auth_mechanisms.empty()) {
    reply.lines.push_back(absl::StrCat("AUTH ", absl::StrJoin(offered.auth_mechanisms, " ")));
  }
  if (offered.enhanced_status_codes) reply.lines.push_back("ENHANCEDSTATUSCODES");
  return reply;
}

}  // namespace volley::smtp
