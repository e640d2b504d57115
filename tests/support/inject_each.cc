#include "tests/support/inject_each.h"

#include "absl/strings/str_cat.h"
#include "bench/smtp_injector.h"

namespace volley::test_support {

absl::StatusOr<size_t> InjectEach(uint16_t smtp_port, const std::vector<std::string>& recipients,
                                  int connections,
                                  const std::function<std::string(size_t)>& content) {
  bench::InjectorOptions injector;
  injector.port = smtp_port;
  injector.connections = connections;
  absl::StatusOr<bench::InjectResult> injected = bench::InjectAll(
      injector,
      [&](size_t i) {
        bench::InjectMessage m;
        m.mail_from = "s@volley.test";
        m.recipients = {recipients[i]};
        m.content = content ? content(i) : absl::StrCat("Subject: message ", i, "\r\n\r\nbody\r\n");
        return m;
      },
      recipients.size());
  if (!injected.ok()) return injected.status();
  return injected->accepted;
}

}  // namespace volley::test_support
