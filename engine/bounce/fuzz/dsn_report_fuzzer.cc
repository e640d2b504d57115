// libFuzzer target: a DSN built around hostile parts (the original message, a server's reply,
// ENVID and ORCPT as received), which must stay a well-formed report: no bare LF, no line
// past 998 octets.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/str_split.h"
#include "engine/bounce/dsn_report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t third = input.size() / 3;
  volley::bounce::DsnReport report;
  report.reporting_mta = "mta.test";
  report.to = "sender@x.test";
  report.queue_id = "00000000000000aa";
  report.envid = input.substr(0, third / 4);
  report.original = input;
  report.return_full = (size % 2) == 0;
  volley::bounce::DsnRecipient r;
  r.address = "r@x.test";
  r.orcpt = "rfc822;" + input.substr(third, third / 4);
  r.status = "5.1.1";
  r.diagnostic = input.substr(third, third);
  r.explanation = input.substr(2 * third);
  report.recipients.push_back(r);
  const std::string dsn = volley::bounce::BuildDsn(report);
  // The report's own lines (everything before the returned original) must be well formed.
  const std::string head = dsn.substr(0, dsn.find("Content-Description: Undelivered Message"));
  for (absl::string_view line : absl::StrSplit(head, "\r\n")) {
    if (line.size() > 998 || line.find('\n') != absl::string_view::npos) std::abort();
  }
  volley::bounce::DecodeXtext(input);
  return 0;
}
