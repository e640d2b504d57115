// TLS cost through the memory BIOs, as the engine drives it: bulk encryption (WritePlaintext,
// TakeEncryptedOutput, the peer's OnEncryptedInput) and handshakes, full and resumed. Client
// and server run on the same thread, so a handshake's time is the CPU of both sides.
//
//   bazel run -c opt //bench:tls_bench
#include <openssl/ssl.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "tls/testdata/testdata_paths.h"
#include "tls/tls_context.h"
#include "tls/tls_session.h"

namespace volley::tls {
namespace {

std::shared_ptr<TlsContext> MustCreate(const TlsContextOptions& options) {
  absl::StatusOr<std::shared_ptr<TlsContext>> context = TlsContext::Create(options);
  if (!context.ok()) {
    std::cerr << "TlsContext::Create: " << context.status() << "\n";
    std::abort();
  }
  return *std::move(context);
}

std::shared_ptr<TlsContext> ServerContext(const std::string& name) {
  TlsContextOptions options;
  options.role = TlsContextOptions::Role::kServer;
  options.cert_file = TlsTestDataPath(name + ".pem");
  options.key_file = TlsTestDataPath(name + ".key");
  return MustCreate(options);
}

// `tls12_cipher`, when set, is the only TLS 1.2 suite the client offers (TLS 1.3 suites are
// not configurable in BoringSSL; it picks AES-128-GCM when the CPU has AES instructions).
std::shared_ptr<TlsContext> ClientContext(TlsVersion version, const char* tls12_cipher = nullptr) {
  TlsContextOptions options;
  options.ca_file = TlsTestDataPath("ca.pem");
  options.min_version = version;
  options.max_version = version;
  std::shared_ptr<TlsContext> context = MustCreate(options);
  if (tls12_cipher != nullptr && !SSL_CTX_set_strict_cipher_list(context->get(), tls12_cipher)) {
    std::cerr << "SSL_CTX_set_strict_cipher_list(" << tls12_cipher << "): " << DrainErrors()
              << "\n";
    std::abort();
  }
  return context;
}

struct Pair {
  std::unique_ptr<TlsSession> client;
  std::unique_ptr<TlsSession> server;
};

// Moves each side's output into the other until both are quiet.
absl::Status Pump(Pair& pair, std::string* client_in, std::string* server_in) {
  while (true) {
    std::string to_server = pair.client->TakeEncryptedOutput();
    std::string to_client = pair.server->TakeEncryptedOutput();
    if (to_server.empty() && to_client.empty()) return absl::OkStatus();
    if (absl::Status s = pair.server->OnEncryptedInput(to_server, server_in); !s.ok()) return s;
    if (absl::Status s = pair.client->OnEncryptedInput(to_client, client_in); !s.ok()) return s;
  }
}

// A connection as an SMTP STARTTLS would make it: handshake, and the server's first reply
// (which also carries the TLS 1.3 tickets).
absl::StatusOr<Pair> Connect(const std::shared_ptr<TlsContext>& client_context,
                             const std::shared_ptr<TlsContext>& server_context,
                             SSL_SESSION* resume) {
  ClientSessionOptions options;
  options.server_name = "mx.tls.test";
  options.verify_peer = true;
  options.resume = resume;
  Pair pair;
  absl::StatusOr<std::unique_ptr<TlsSession>> client =
      TlsSession::CreateClient(client_context, options);
  if (!client.ok()) return client.status();
  absl::StatusOr<std::unique_ptr<TlsSession>> server = TlsSession::CreateServer(server_context);
  if (!server.ok()) return server.status();
  pair.client = *std::move(client);
  pair.server = *std::move(server);
  if (absl::Status s = pair.server->WritePlaintext("250 ok\r\n"); !s.ok()) return s;
  if (absl::Status s = pair.client->StartHandshake(); !s.ok()) return s;
  std::string client_in, server_in;
  if (absl::Status s = Pump(pair, &client_in, &server_in); !s.ok()) return s;
  if (!pair.client->established() || client_in != "250 ok\r\n") {
    return absl::InternalError("handshake did not complete");
  }
  return pair;
}

void BM_Bulk(benchmark::State& state, TlsVersion version, const char* tls12_cipher) {
  const size_t chunk = static_cast<size_t>(state.range(0));
  absl::StatusOr<Pair> pair =
      Connect(ClientContext(version, tls12_cipher), ServerContext("mx"), nullptr);
  if (!pair.ok()) {
    const std::string error = pair.status().ToString();
    state.SkipWithError(error.c_str());
    return;
  }
  const std::string data(chunk, 'x');
  std::string received;
  received.reserve(chunk);
  for (auto _ : state) {
    if (!pair->client->WritePlaintext(data).ok()) {
      state.SkipWithError("WritePlaintext failed");
      return;
    }
    const std::string wire = pair->client->TakeEncryptedOutput();
    received.clear();
    if (!pair->server->OnEncryptedInput(wire, &received).ok() || received.size() != chunk) {
      state.SkipWithError("OnEncryptedInput failed");
      return;
    }
    benchmark::DoNotOptimize(received.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(chunk));
  state.SetLabel(absl::StrCat(pair->client->protocol_version(), " ", pair->client->cipher()));
}

void BM_Handshake(benchmark::State& state, TlsVersion version, const char* server_cert,
                  bool resume) {
  std::shared_ptr<TlsContext> client_context = ClientContext(version);
  std::shared_ptr<TlsContext> server_context = ServerContext(server_cert);
  bssl::UniquePtr<SSL_SESSION> session;
  if (resume) {
    absl::StatusOr<Pair> first = Connect(client_context, server_context, nullptr);
    if (first.ok()) session = first->client->GetSessionForResumption();
    if (session == nullptr) {
      state.SkipWithError("no session to resume");
      return;
    }
  }
  std::string label;
  for (auto _ : state) {
    absl::StatusOr<Pair> pair = Connect(client_context, server_context, session.get());
    if (!pair.ok() || pair->client->resumed() != resume) {
      const std::string error = pair.ok() ? "resumption mismatch" : pair.status().ToString();
      state.SkipWithError(error.c_str());
      return;
    }
    if (label.empty()) {
      label = absl::StrCat(pair->client->protocol_version(), " ", pair->client->cipher());
    }
  }
  state.counters["handshakes/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetLabel(label);
}

BENCHMARK_CAPTURE(BM_Bulk, tls13, TlsVersion::kTls13, nullptr)->Arg(16 << 10)->Arg(256 << 10);
BENCHMARK_CAPTURE(BM_Bulk, tls12_ecdhe_ecdsa_aes128gcm, TlsVersion::kTls12,
                  "ECDHE-ECDSA-AES128-GCM-SHA256")
    ->Arg(16 << 10)
    ->Arg(256 << 10);

BENCHMARK_CAPTURE(BM_Handshake, tls13_full_ecdsa, TlsVersion::kTls13, "mx", false);
BENCHMARK_CAPTURE(BM_Handshake, tls13_resumed, TlsVersion::kTls13, "mx", true);
BENCHMARK_CAPTURE(BM_Handshake, tls12_full_ecdsa, TlsVersion::kTls12, "mx", false);
BENCHMARK_CAPTURE(BM_Handshake, tls12_resumed, TlsVersion::kTls12, "mx", true);
BENCHMARK_CAPTURE(BM_Handshake, tls13_full_rsa2048, TlsVersion::kTls13, "rsa", false);

}  // namespace
}  // namespace volley::tls
