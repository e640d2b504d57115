// volley-bench http: injection through POST /api/inject/v1 with 1 and with 1,000 recipients per
// request, next to SMTP injection in the same run. One volleyd, its SMTP and HTTP listeners on
// loopback, every bench domain routed to a fast sink. Rounds alternate between the three kinds,
// N messages each, and every message is delivered to the sink (and volleyd holds no recipient)
// before the next round starts, so rounds do not overlap and each kind's CPU includes its
// deliveries. Per kind: messages per second injected (first request to last answer), volleyd's
// CPU seconds per 1,000 messages, the bench's own, and for HTTP each request's latency.
//
// The HTTP requests carry structured content (a From, a subject, a text and an HTML body with
// {{ name }}, {{ code }} and {{ brand }} placeholders) and per-recipient names and
// substitutions, so that volleyd parses, renders and builds MIME for every message, as a
// platform's request makes it do. The SMTP messages are ready-made plain text of the same size.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "bench/http_injector.h"
#include "bench/smtp_injector.h"
#include "bench/smtp_sink.h"
#include "bench/volley_bench_modes.h"
#include "tests/support/volleyd_process.h"

namespace volley::bench {
namespace {

struct HttpFlags {
  size_t messages = 20000;  // per round, of each kind
  size_t size = 4096;
  int connections = 16;       // SMTP, and HTTP with 1 recipient per request
  int batch_connections = 4;  // HTTP with `batch` recipients per request
  size_t batch = 1000;
  int per_connection = 0;  // SMTP messages per connection; 0: one for the round, as HTTP's
  int rounds = 3;
  int threads = 0;
  bool keep = false;
};

constexpr int kDomains = 10;

struct Totals {
  size_t messages = 0;
  uint64_t requests = 0;
  double seconds = 0;
  double cpu = 0;
  double bench_cpu = 0;
  uint64_t failed = 0;       // not stored: refused, failed, or never sent
  uint64_t undelivered = 0;  // stored, not at the sink when the round gave up waiting
  uint64_t delivered = 0;
  uint64_t delivered_bytes = 0;
  std::vector<double> latencies_ms;  // HTTP: per request
};

bool ParseFlags(int argc, char** argv, HttpFlags* flags) {
  for (int i = 2; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (NumberFlag(arg, "--messages=", &flags->messages) ||
        NumberFlag(arg, "--size=", &flags->size) ||
        NumberFlag(arg, "--connections=", &flags->connections) ||
        NumberFlag(arg, "--batch-connections=", &flags->batch_connections) ||
        NumberFlag(arg, "--batch=", &flags->batch) ||
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
  if (flags->messages == 0 || flags->connections <= 0 || flags->batch_connections <= 0 ||
      flags->batch == 0 || flags->per_connection < 0 || flags->rounds <= 0) {
    std::fprintf(stderr,
                 "volley-bench: --messages, --connections, --batch-connections, "
                 "--batch and --rounds must be > 0\n");
    return false;
  }
  return true;
}

std::string Recipient(size_t i) { return absl::StrCat("r", i, "@d", i % kDomains, ".bench.test"); }

// Request bodies: everything but the recipients made once, as JSON text (nlohmann escapes the
// bodies), and the recipients appended per request, which is all that differs between them.
class RequestMaker {
 public:
  explicit RequestMaker(size_t size) {
    // Half the size in each body, so that the built message is about `size`, as SMTP's.
    static constexpr absl::string_view kLine =
        "The quick brown fox jumps over the lazy dog, again and again, for the benchmark.";
    std::string text = "Hello {{ name }},\n\nyour code is {{ code }}.\n\n";
    while (text.size() + kLine.size() < size / 2) absl::StrAppend(&text, kLine, "\n");
    absl::StrAppend(&text, "-- \n{{ brand }}\n");
    std::string html =
        "<html><body>\n<p>Hello {{ name }},</p>\n<p>your code is <b>{{ code }}</b>.</p>\n";
    while (html.size() + kLine.size() + 8 < size / 2)
      absl::StrAppend(&html, "<p>", kLine, "</p>\n");
    absl::StrAppend(&html, "<p>{{ brand }}</p>\n</body></html>\n");
    const nlohmann::json request = {
        {"envelope_sender", "bounces@volley.test"},
        {"substitutions", {{"brand", "Volley Bench"}}},
        {"content",
         {{"from", {{"email", "news@volley.test"}, {"name", "Volley Bench"}}},
          {"subject", "Hello {{ name }}"},
          {"text_body", text},
          {"html_body", html}}}};
    head_ = request.dump();
    head_.pop_back();  // the closing brace: the recipients follow
    head_ += ",\"recipients\":[";
  }

  // A request for recipients first to first + n - 1.
  HttpInjectRequest Make(size_t first, size_t n) const {
    HttpInjectRequest request;
    request.recipients = n;
    request.body.reserve(head_.size() + n * 96 + 2);
    request.body = head_;
    for (size_t i = first; i < first + n; ++i) {
      absl::StrAppend(&request.body, i == first ? "" : ",", "{\"email\":\"", Recipient(i),
                      "\",\"name\":\"User ", i, "\",\"substitutions\":{\"code\":\"C", i, "\"}}");
    }
    request.body += "]}";
    return request;
  }

 private:
  std::string head_;
};

// What a round's injection reports, whichever its protocol.
struct Injected {
  uint64_t accepted = 0;
  uint64_t requests = 0;
  absl::Time started, finished;
  std::vector<double> latencies_ms;
};

bool InjectSmtp(const HttpFlags& flags, uint16_t port, size_t first, Injected* out) {
  InjectorOptions injector;
  injector.port = port;
  injector.connections = flags.connections;
  injector.messages_per_connection = flags.per_connection;
  absl::StatusOr<InjectResult> result = InjectAll(
      injector,
      [&](size_t i) {
        InjectMessage m;
        m.mail_from = "bounces@volley.test";
        m.recipients = {Recipient(first + i)};
        m.content = MessageContent(first + i, m.recipients[0], flags.size);
        return m;
      },
      flags.messages);
  if (!result.ok()) {
    std::fprintf(stderr, "volley-bench: SMTP injection: %s\n",
                 std::string(result.status().message()).c_str());
    return false;
  }
  out->accepted = result->accepted;
  out->requests = flags.messages;
  out->started = result->started;
  out->finished = result->finished;
  return true;
}

bool InjectOverHttp(const HttpFlags& flags, const RequestMaker& maker, uint16_t port,
                    size_t per_request, int connections, size_t first, Injected* out) {
  HttpInjectorOptions options;
  options.port = port;
  options.connections = connections;
  const size_t requests = (flags.messages + per_request - 1) / per_request;
  absl::StatusOr<HttpInjectResult> result = InjectHttp(
      options,
      [&](size_t r) {
        const size_t begin = r * per_request;
        return maker.Make(first + begin, std::min(per_request, flags.messages - begin));
      },
      requests);
  if (!result.ok()) {
    std::fprintf(stderr, "volley-bench: HTTP injection: %s\n",
                 std::string(result.status().message()).c_str());
    return false;
  }
  if (!result->first_error.empty()) {
    std::fprintf(stderr, "volley-bench: %llu of %zu requests failed (%llu unsent), first: %s\n",
                 static_cast<unsigned long long>(result->requests_failed), requests,
                 static_cast<unsigned long long>(result->requests_unsent),
                 result->first_error.c_str());
  }
  out->accepted = result->accepted;
  out->requests = requests;
  out->started = result->started;
  out->finished = result->finished;
  out->latencies_ms = std::move(result->latencies_ms);
  return true;
}

// Waits (bounded) until volleyd holds no recipient: its deliveries are recorded and their spool
// entries gone, so that no work of this round is counted in the next.
void WaitForIdle(uint16_t http_port) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    const QueueSizes sizes = ReadQueueSizes(http_port);
    if (sizes.complete() && sizes.total() == 0) return;
    absl::SleepFor(absl::Milliseconds(20));
  }
  std::fprintf(stderr, "volley-bench: volleyd still holds recipients after 10 s\n");
}

// One round of one kind: `inject` stores the round's messages; then their deliveries.
template <typename Inject>
bool Round(const HttpFlags& flags, absl::string_view name, test_support::VolleydProcess& volleyd,
           SmtpSink& sink, Inject inject, Totals* totals) {
  const double cpu_before = ProcessCpuSeconds(volleyd.pid());
  const double bench_cpu_before = ProcessCpuSeconds(getpid());
  const uint64_t delivered_before = sink.messages();
  const uint64_t bytes_before = sink.bytes();
  Injected injected;
  if (!inject(&injected)) return false;
  sink.WaitForMessages(delivered_before + injected.accepted, absl::Seconds(120));
  WaitForIdle(volleyd.http_port());
  const double cpu = ProcessCpuSeconds(volleyd.pid()) - cpu_before;
  const uint64_t delivered = sink.messages() - delivered_before;
  const double seconds = absl::ToDoubleSeconds(injected.finished - injected.started);
  totals->messages += flags.messages;
  totals->requests += injected.requests;
  totals->seconds += seconds;
  totals->cpu += cpu;
  totals->bench_cpu += ProcessCpuSeconds(getpid()) - bench_cpu_before;
  totals->failed += flags.messages - std::min<uint64_t>(flags.messages, injected.accepted);
  totals->undelivered += injected.accepted - std::min(injected.accepted, delivered);
  totals->delivered += delivered;
  totals->delivered_bytes += sink.bytes() - bytes_before;
  totals->latencies_ms.insert(totals->latencies_ms.end(), injected.latencies_ms.begin(),
                              injected.latencies_ms.end());
  std::fprintf(stderr,
               "volley-bench: %s: %llu of %zu stored in %.2f s (%.0f/s), %llu delivered, "
               "volleyd %.2f CPU s\n",
               std::string(name).c_str(), static_cast<unsigned long long>(injected.accepted),
               flags.messages, seconds, flags.messages / std::max(seconds, 1e-9),
               static_cast<unsigned long long>(delivered), cpu);
  return true;
}

std::string Json(absl::string_view name, Totals& t, bool http) {
  std::string out = absl::StrFormat(
      "\"%s\": {\"messages\": %d, \"requests\": %d, \"injected_per_s\": %.0f, "
      "\"engine_cpu_s_per_1000\": %.4f, \"bench_cpu_s_per_1000\": %.4f, "
      "\"delivered_bytes_avg\": %.0f",
      name, t.messages, t.requests, t.messages / std::max(t.seconds, 1e-9),
      t.cpu * 1000 / t.messages, t.bench_cpu * 1000 / t.messages,
      static_cast<double>(t.delivered_bytes) / std::max<uint64_t>(t.delivered, 1));
  if (http) {
    std::sort(t.latencies_ms.begin(), t.latencies_ms.end());
    absl::StrAppendFormat(&out, ", \"request_p50_ms\": %.2f, \"request_p99_ms\": %.2f",
                          Percentile(t.latencies_ms, 0.50), Percentile(t.latencies_ms, 0.99));
  }
  absl::StrAppendFormat(&out, ", \"failed\": %d, \"undelivered\": %d}", t.failed, t.undelivered);
  return out;
}

}  // namespace

int RunHttpMode(int argc, char** argv) {
  HttpFlags flags;
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
  // [http]'s injection limits stay at their defaults (64 MiB requests, 100,000 recipients),
  // which a request of --batch recipients is far from.
  std::string config = absl::StrCat(
      VolleydConfigHead(dir, flags.threads, ""),
      "[delivery]\nretry_initial = \"5s\"\nretry_max = \"10s\"\n",
      "[shaping.default]\nconnection_limit = 10\nmax_deliveries_per_connection = 1000\n",
      "tls = \"disabled\"\nmax_message_rate = \"\"\nmax_connection_rate = \"\"\n[routes]\n");
  for (int d = 0; d < kDomains; ++d) {
    absl::StrAppend(&config, "\"d", d, ".bench.test\" = { host = \"127.0.0.1:", (*sink)->port(),
                    "\" }\n");
  }
  const std::string config_path = absl::StrCat(dir, "/volley.toml");
  WriteTextFile(config_path, config);
  std::unique_ptr<test_support::VolleydProcess> volleyd =
      StartVolleyd(config_path, absl::StrCat(dir, "/volleyd.log"));
  if (volleyd == nullptr) return 1;
  const RequestMaker maker(flags.size);
  const std::string batch_name = absl::StrCat("http_", flags.batch);
  Totals smtp, single, batch;
  size_t first = 0;  // every message has a recipient of its own
  bool ok = true;
  for (int round = 0; ok && round < flags.rounds; ++round) {
    ok = Round(
        flags, "smtp", *volleyd, **sink,
        [&](Injected* out) { return InjectSmtp(flags, volleyd->smtp_port(), first, out); }, &smtp);
    first += flags.messages;
    ok = ok && Round(
                   flags, "http_1", *volleyd, **sink,
                   [&](Injected* out) {
                     return InjectOverHttp(flags, maker, volleyd->http_port(), 1, flags.connections,
                                           first, out);
                   },
                   &single);
    first += flags.messages;
    ok = ok && Round(
                   flags, batch_name, *volleyd, **sink,
                   [&](Injected* out) {
                     return InjectOverHttp(flags, maker, volleyd->http_port(), flags.batch,
                                           flags.batch_connections, first, out);
                   },
                   &batch);
    first += flags.messages;
  }
  // A volleyd that does not stop cleanly is worth knowing about, but the numbers stand.
  if (absl::StatusOr<test_support::ExitResult> exit = volleyd->Terminate();
      !exit.ok() || exit->exit_code != 0) {
    std::fprintf(stderr, "volley-bench: volleyd did not exit cleanly: %s\n",
                 exit.ok() ? exit->output.substr(0, 500).c_str()
                           : std::string(exit.status().message()).c_str());
  }
  RemoveOrKeepRunDirectory(dir, flags.keep);
  if (!ok) return 1;
  std::printf(
      "{\"size\": %zu, \"rounds\": %d, \"connections\": %d, \"batch\": %zu, "
      "\"batch_connections\": %d, \"smtp_per_connection\": %d, %s, %s, %s}\n",
      flags.size, flags.rounds, flags.connections, flags.batch, flags.batch_connections,
      flags.per_connection, Json("smtp", smtp, false).c_str(), Json("http_1", single, true).c_str(),
      Json(batch_name, batch, true).c_str());
  const uint64_t bad = smtp.failed + smtp.undelivered + single.failed + single.undelivered +
                       batch.failed + batch.undelivered;
  return bad == 0 ? 0 : 3;
}

}  // namespace volley::bench
