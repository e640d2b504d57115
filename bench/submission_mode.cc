// volley-bench submission: SMTP injection as platforms submit, over STARTTLS with AUTH, next to
// plain SMTP injection in the same run. One volleyd with two listeners: the plain one (relay
// by address) and a submission one (require_tls, auth = "required", a yescrypt user). Rounds
// alternate between them, N messages each over C connections of M messages, and every message
// is delivered to a fast sink before the next round starts, so rounds do not overlap. Per
// kind: messages per second injected, volleyd's CPU seconds per 1,000 messages (delivery
// included, the same for both), and the TLS handshakes (with their AUTH) per second.
#include <crypt.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "bench/smtp_injector.h"
#include "bench/smtp_sink.h"
#include "bench/volley_bench_modes.h"
#include "tests/support/volleyd_process.h"
#include "tls/testdata/testdata_paths.h"
#include "tls/tls_context.h"

namespace volley::bench {
namespace {

struct SubmissionFlags {
  size_t messages = 20000;
  size_t size = 4096;
  int connections = 16;
  int per_connection = 100;  // messages per connection, then a new one (and a handshake)
  int rounds = 3;            // of each kind, alternating
  int threads = 0;
  bool keep = false;
};

constexpr char kUser[] = "platform";
constexpr char kPassword[] = "bench password";

struct Totals {
  size_t messages = 0;
  double seconds = 0;
  double cpu = 0;
  uint64_t handshakes = 0;
  uint64_t failed = 0;
};

bool ParseFlags(int argc, char** argv, SubmissionFlags* flags) {
  for (int i = 2; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (NumberFlag(arg, "--messages=", &flags->messages) ||
        NumberFlag(arg, "--size=", &flags->size) ||
        NumberFlag(arg, "--connections=", &flags->connections) ||
        NumberFlag(arg, "--per-connection=", &flags->per_connection) ||
        NumberFlag(arg, "--rounds=", &flags->rounds) ||
        NumberFlag(arg, "--threads=", &flags->threads)) {
      continue;
    }
    if (arg == "--keep") {
      flags->keep = true;
      continue;
    }
    std::fprintf(stderr, "volley-bench: unknown flag %s\n%s", argv[i], kUsage);
    return false;
  }
  return flags->messages > 0 && flags->connections > 0 && flags->per_connection > 0 &&
         flags->rounds > 0;
}

// A yescrypt hash of kPassword, as mkpasswd would write it.
std::string UsersFile() {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$y$", 0, nullptr, 0, salt, sizeof(salt)) == nullptr) return "";
  struct crypt_data data = {};
  const char* hash = crypt_rn(kPassword, salt, &data, sizeof(data));
  return hash == nullptr ? "" : absl::StrCat(kUser, ":", hash, "\n");
}

// One round: N messages through `port`, with STARTTLS and AUTH when `tls` is set.
bool Round(const SubmissionFlags& flags, test_support::VolleydProcess& volleyd, SmtpSink& sink,
           uint16_t port, std::shared_ptr<tls::TlsContext> tls, size_t first, Totals* totals) {
  InjectorOptions injector;
  injector.port = port;
  injector.connections = flags.connections;
  injector.messages_per_connection = flags.per_connection;
  if (tls != nullptr) {
    injector.starttls = std::move(tls);
    injector.auth_user = kUser;
    injector.auth_password = kPassword;
  }
  const double cpu_before = ProcessCpuSeconds(volleyd.pid());
  const uint64_t delivered_before = sink.messages();
  absl::StatusOr<InjectResult> result = InjectAll(
      injector,
      [&](size_t i) {
        InjectMessage m;
        m.mail_from = "platform@client.test";
        const std::string to = absl::StrCat("r", first + i, "@d", (first + i) % 10, ".bench.test");
        m.recipients = {to};
        m.content = MessageContent(first + i, to, flags.size);
        return m;
      },
      flags.messages);
  if (!result.ok()) {
    std::fprintf(stderr, "volley-bench: injection: %s\n",
                 std::string(result.status().message()).c_str());
    return false;
  }
  // Delivered before the next round, and counted in this one's CPU.
  sink.WaitForMessages(delivered_before + result->accepted, absl::Seconds(120));
  totals->messages += flags.messages;
  totals->seconds += absl::ToDoubleSeconds(result->finished - result->started);
  totals->cpu += ProcessCpuSeconds(volleyd.pid()) - cpu_before;
  totals->handshakes += result->tls_handshakes;
  totals->failed += result->failed + result->rejected;
  return true;
}

std::string Json(absl::string_view name, const Totals& t) {
  return absl::StrFormat(
      "\"%s\": {\"messages\": %d, \"injected_per_s\": %.0f, \"engine_cpu_s_per_1000\": %.4f, "
      "\"tls_handshakes_per_s\": %.1f, \"failed\": %d}",
      name, t.messages, t.messages / std::max(t.seconds, 1e-9), t.cpu * 1000 / t.messages,
      t.handshakes / std::max(t.seconds, 1e-9), t.failed);
}

}  // namespace

int RunSubmissionMode(int argc, char** argv) {
  SubmissionFlags flags;
  if (!ParseFlags(argc, argv, &flags)) return 1;
  const std::string dir = MakeRunDirectory();
  if (dir.empty()) return 1;
  SinkOptions sink_options;
  sink_options.threads = 1;
  absl::StatusOr<std::unique_ptr<SmtpSink>> sink = SmtpSink::Start(sink_options);
  if (!sink.ok()) {
    std::fprintf(stderr, "volley-bench: sink: %s\n", std::string(sink.status().message()).c_str());
    return 1;
  }
  const std::string users = UsersFile();
  if (users.empty()) {
    std::fprintf(stderr, "volley-bench: crypt(3) cannot make a yescrypt hash\n");
    return 1;
  }
  WriteTextFile(absl::StrCat(dir, "/users"), users);
  std::string config = absl::StrCat(
      VolleydConfigHead(dir, flags.threads, ""),
      "[[inject.smtp.listener]]\nname = \"submission\"\nlisten = \"127.0.0.1:0\"\n",
      "max_connections = 10000\nrequire_tls = true\nauth = \"required\"\n", "auth_file = \"", dir,
      "/users\"\ntls_cert = \"", tls::TlsTestDataPath("mx.pem"), "\"\ntls_key = \"",
      tls::TlsTestDataPath("mx.key"), "\"\n",
      "[delivery]\nretry_initial = \"5s\"\nretry_max = \"10s\"\n",
      "[shaping.default]\nconnection_limit = 10\nmax_deliveries_per_connection = 1000\n",
      "tls = \"disabled\"\nmax_message_rate = \"\"\nmax_connection_rate = \"\"\n[routes]\n");
  for (int d = 0; d < 10; ++d) {
    absl::StrAppend(&config, "\"d", d, ".bench.test\" = { host = \"127.0.0.1:", (*sink)->port(),
                    "\" }\n");
  }
  const std::string config_path = absl::StrCat(dir, "/volley.toml");
  WriteTextFile(config_path, config);
  std::unique_ptr<test_support::VolleydProcess> volleyd =
      StartVolleyd(config_path, absl::StrCat(dir, "/volleyd.log"));
  if (volleyd == nullptr || volleyd->smtp_ports().size() != 2) return 1;
  tls::TlsContextOptions client;
  client.role = tls::TlsContextOptions::Role::kClient;
  absl::StatusOr<std::shared_ptr<tls::TlsContext>> context = tls::TlsContext::Create(client);
  if (!context.ok()) return 1;
  Totals plain, submission;
  size_t first = 0;
  for (int round = 0; round < flags.rounds; ++round) {
    if (!Round(flags, *volleyd, **sink, volleyd->smtp_ports()[0], nullptr, first, &plain)) return 1;
    first += flags.messages;
    if (!Round(flags, *volleyd, **sink, volleyd->smtp_ports()[1], *context, first, &submission)) {
      return 1;
    }
    first += flags.messages;
  }
  // The numbers are in; how volleyd ends does not change them.
  (void)volleyd->Terminate();
  RemoveOrKeepRunDirectory(dir, flags.keep);
  std::printf(
      "{\"size\": %zu, \"connections\": %d, \"per_connection\": %d, \"rounds\": %d, %s, %s}\n",
      flags.size, flags.connections, flags.per_connection, flags.rounds,
      Json("plain", plain).c_str(), Json("starttls_auth", submission).c_str());
  return 0;
}

}  // namespace volley::bench
