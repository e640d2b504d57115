// Micro benchmarks for the SMTP codecs on the per-message hot path: reply parsing on the
// delivery client, dot-stuffing of outgoing bodies and unstuffing of received DATA.
#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "benchmark/benchmark.h"
#include "engine/smtp/dot_stuffing.h"
#include "engine/smtp/reply.h"
#include "engine/smtp/reply_parser.h"

namespace volley::smtp {
namespace {

// A message body of about `size` bytes: header block, then 76-column text lines with a
// leading dot every 50 lines (as quoted-printable and signatures produce).
std::string MakeBody(size_t size, absl::string_view eol) {
  std::string body = absl::StrCat("From: sender@example.com", eol, "To: rcpt@example.net", eol,
                                  "Subject: benchmark", eol, eol);
  const std::string text(74, 'x');
  for (int line = 0; body.size() < size; ++line) {
    if (line % 50 == 0) body.push_back('.');
    body.append(text);
    body.append(eol.data(), eol.size());
  }
  body.resize(size);
  return body;
}

void BM_ReplyParserEhlo(benchmark::State& state) {
  const std::vector<std::string> lines = {
      "250-mx.example.com",
      "250-PIPELINING",
      "250-SIZE 52428800",
      "250-ETRN",
      "250-STARTTLS",
      "250-AUTH PLAIN LOGIN",
      "250-ENHANCEDSTATUSCODES",
      "250-8BITMIME",
      "250-DSN",
      "250-SMTPUTF8",
      "250 CHUNKING",
  };
  ReplyParser parser;
  for (auto _ : state) {
    for (const std::string& line : lines) parser.FeedLine(line);
    Reply reply = parser.Take();
    benchmark::DoNotOptimize(reply);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReplyParserEhlo);

void BM_ReplyParserOk(benchmark::State& state) {
  const std::string line = "250 2.0.0 Ok";
  ReplyParser parser;
  for (auto _ : state) {
    parser.FeedLine(line);
    Reply reply = parser.Take();
    benchmark::DoNotOptimize(reply);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReplyParserOk);

void DotStuffBench(benchmark::State& state, absl::string_view eol) {
  const std::string body = MakeBody(state.range(0), eol);
  std::string out;
  for (auto _ : state) {
    out.clear();  // keeps its capacity, as a session's send buffer would
    DotStuff(body, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * body.size());
}

void BM_DotStuffCrlf(benchmark::State& state) { DotStuffBench(state, "\r\n"); }
BENCHMARK(BM_DotStuffCrlf)->Arg(4 << 10)->Arg(1 << 20);

void BM_DotStuffBareLf(benchmark::State& state) { DotStuffBench(state, "\n"); }
BENCHMARK(BM_DotStuffBareLf)->Arg(4 << 10)->Arg(1 << 20);

void BM_DotUnstufferFeed(benchmark::State& state) {
  std::string wire;
  DotStuff(MakeBody(state.range(0), "\r\n"), &wire);
  // Received in 16 KiB reads (or fewer for a small message), as from a socket.
  constexpr size_t kRead = 16 << 10;
  DotUnstuffer unstuffer(64 << 20);
  std::string out;
  for (auto _ : state) {
    unstuffer.Reset();
    out.clear();
    for (size_t pos = 0; pos < wire.size(); pos += kRead) {
      unstuffer.Feed(absl::string_view(wire).substr(pos, kRead), &out);
    }
    if (!unstuffer.done()) state.SkipWithError("end of data not found");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * wire.size());
}
BENCHMARK(BM_DotUnstufferFeed)->Arg(4 << 10)->Arg(1 << 20);

}  // namespace
}  // namespace volley::smtp
