// smtp-sink: the benchmark's fast SMTP sink as a program. Accepts and counts every message until
// SIGINT or SIGTERM, then prints the counts. (The tests' sink with faults is
// tests/support/smtp_sink.h.)
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/smtp_sink.h"

namespace {

constexpr char kUsage[] =
    "usage: smtp-sink [--listen=IP:PORT[,IP:PORT...]]... [--threads=N] [--verbose]\n"
    "                 [--no-pipelining] [--no-8bitmime] [--no-chunking]\n"
    "                 [--tls-cert=PEM --tls-key=PEM]\n"
    "  --listen          addresses to listen on, all with the same port; IPv6 as [::1]:2525\n"
    "                    (default 127.0.0.1:2525)\n"
    "  --threads         loops sharing the port through SO_REUSEPORT (default 1)\n"
    "  --verbose         print each received message's envelope\n"
    "  --no-pipelining   do not offer PIPELINING\n"
    "  --no-8bitmime     do not offer 8BITMIME (BODY=8BITMIME then gets 555)\n"
    "  --no-chunking     do not offer CHUNKING (BDAT)\n"
    "  --tls-cert, --tls-key  offer STARTTLS with this certificate and key\n";

bool SplitHostPort(absl::string_view text, std::string* host, uint16_t* port) {
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return false;
  absl::string_view h = text.substr(0, colon);
  if (absl::StartsWith(h, "[") && absl::EndsWith(h, "]")) h = h.substr(1, h.size() - 2);
  uint32_t p = 0;
  if (h.empty() || !absl::SimpleAtoi(text.substr(colon + 1), &p) || p > 65535) return false;
  *host = std::string(h);
  *port = static_cast<uint16_t>(p);
  return true;
}

int Usage(const char* error) {
  std::fprintf(stderr, "smtp-sink: %s\n%s", error, kUsage);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  volley::bench::SinkOptions options;
  options.addresses.clear();
  bool port_set = false;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--listen=")) {
      for (absl::string_view item : absl::StrSplit(arg, ',', absl::SkipEmpty())) {
        std::string host;
        uint16_t port = 0;
        if (!SplitHostPort(item, &host, &port)) return Usage("bad --listen value");
        if (port_set && port != options.port) return Usage("all --listen ports must match");
        options.port = port;
        port_set = true;
        options.addresses.push_back(host);
      }
    } else if (absl::ConsumePrefix(&arg, "--threads=")) {
      if (!absl::SimpleAtoi(arg, &options.threads) || options.threads < 1) {
        return Usage("bad --threads value");
      }
    } else if (arg == "--verbose") {
      verbose = true;
    } else if (arg == "--no-pipelining") {
      options.pipelining = false;
    } else if (arg == "--no-8bitmime") {
      options.eightbitmime = false;
    } else if (arg == "--no-chunking") {
      options.chunking = false;
    } else if (absl::ConsumePrefix(&arg, "--tls-cert=")) {
      options.tls_cert_file = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--tls-key=")) {
      options.tls_key_file = std::string(arg);
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      return Usage("unknown flag");
    }
  }
  if (options.addresses.empty()) {
    options.addresses.push_back("127.0.0.1");
    options.port = 2525;
  }
  if (verbose) {
    options.on_message = [](const volley::bench::ReceivedMessage& m) {
      std::printf("%s -> %s: from <%s> to <%s>%s%s\n", m.peer_address.c_str(),
                  m.local_address.c_str(), m.mail_from.c_str(),
                  absl::StrJoin(m.recipients, ">, <").c_str(), m.tls ? " tls" : "",
                  m.bdat ? " bdat" : "");
      std::fflush(stdout);
    };
  }

  // The signals are taken by this thread with sigwait; the sink's threads inherit the mask.
  signal(SIGPIPE, SIG_IGN);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<volley::bench::SmtpSink>> sink =
      volley::bench::SmtpSink::Start(options);
  if (!sink.ok()) {
    std::fprintf(stderr, "smtp-sink: %s\n", std::string(sink.status().message()).c_str());
    return 1;
  }
  std::printf("smtp-sink listening on port %u (%s), %d thread(s)\n", (*sink)->port(),
              absl::StrJoin(options.addresses, ", ").c_str(), options.threads);
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  (*sink)->Stop();
  std::printf("messages=%llu recipients=%llu bytes=%llu\n",
              static_cast<unsigned long long>((*sink)->messages()),
              static_cast<unsigned long long>((*sink)->recipients()),
              static_cast<unsigned long long>((*sink)->bytes()));
  return 0;
}
