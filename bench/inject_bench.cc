// The HTTP injection API's CPU per request and per message, without the network and the spool:
// reading a request body (ParseInjectV1Request) of 1, 1,000 and 10,000 recipients, rendering a
// subject and a 4 KB HTML body (ContentTemplate::Render), and building one recipient's message
// (InjectV1Builder::Build) from structured content (text + HTML, about 4 KB) and from raw content,
// compiling a request's templates (InjectV1Builder::Create), and all of it for a request of one
// recipient, which pays the parse and the compile per message.
// The requests look like volley-bench http's. `bazel run -c opt //bench:inject_bench`.
#include <algorithm>
#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "engine/base/logging.h"
#include "engine/inject/content_template.h"
#include "engine/inject/inject_v1_builder.h"
#include "engine/inject/inject_v1_request.h"

namespace volley::inject {
namespace {

using Escape = ContentTemplate::Escape;

constexpr absl::string_view kLine =
    "The quick brown fox jumps over the lazy dog, again and again, for the benchmark.";

// About `size` bytes of text with {{ name }}, {{ code }} and {{ brand }}.
std::string TextBody(size_t size) {
  std::string text = "Hello {{ name }},\n\nyour code is {{ code }}.\n\n";
  while (text.size() + kLine.size() < size) absl::StrAppend(&text, kLine, "\n");
  absl::StrAppend(&text, "-- \n{{ brand }}\n");
  return text;
}

// About `size` bytes of HTML with five placeholders, spread through it as a newsletter's are:
// the greeting, the code, a link with the recipient's address, the brand and the footer's
// address.
std::string HtmlBody(size_t size) {
  std::string html =
      "<html><body>\n<p>Hello {{ name }},</p>\n<p>your code is <b>{{ code }}</b>.</p>\n";
  const size_t middle = size / 2;
  while (html.size() + kLine.size() + 8 < middle) absl::StrAppend(&html, "<p>", kLine, "</p>\n");
  absl::StrAppend(&html,
                  "<p><a href=\"https://news.example.net/u?e={{ email }}\">Manage</a></p>\n");
  while (html.size() + kLine.size() + 8 < size - 80) {
    absl::StrAppend(&html, "<p>", kLine, "</p>\n");
  }
  absl::StrAppend(&html, "<p>{{ brand }}</p>\n<p>Sent to {{ email }}</p>\n</body></html>\n");
  return html;
}

nlohmann::json Recipients(size_t n) {
  nlohmann::json recipients = nlohmann::json::array();
  for (size_t i = 0; i < n; ++i) {
    recipients.push_back({{"email", absl::StrCat("r", i, "@d", i % 10, ".bench.test")},
                          {"name", absl::StrCat("User ", i)},
                          {"substitutions", {{"code", absl::StrCat("C", i)}}}});
  }
  return recipients;
}

// A structured request of `n` recipients whose messages are about 4 KB (text and HTML, 2 KB
// each), as volley-bench http sends.
std::string StructuredBody(size_t n) {
  const nlohmann::json request = {
      {"envelope_sender", "bounces@volley.test"},
      {"substitutions", {{"brand", "Volley Bench"}}},
      {"recipients", Recipients(n)},
      {"content",
       {{"from", {{"email", "news@volley.test"}, {"name", "Volley Bench"}}},
        {"subject", "Hello {{ name }}"},
        {"text_body", TextBody(2048)},
        {"html_body", HtmlBody(2048)}}}};
  return request.dump();
}

// A raw request: a 4 KB RFC 5322 message with placeholders in its header and its body.
std::string RawBody(size_t n) {
  std::string message =
      "From: Volley Bench <news@volley.test>\r\nTo: {{ to_header }}\r\nSubject: Hello {{ name }}"
      "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n";
  absl::StrAppend(&message, TextBody(4096 - message.size()));
  const nlohmann::json request = {{"envelope_sender", "bounces@volley.test"},
                                  {"substitutions", {{"brand", "Volley Bench"}}},
                                  {"recipients", Recipients(n)},
                                  {"content", message}};
  return request.dump();
}

InjectV1Request Parse(const std::string& body) {
  absl::StatusOr<InjectV1Request> request = ParseInjectV1Request(body, InjectV1Limits());
  CHECK(request.ok()) << request.status();
  return *std::move(request);
}

BuildOptions Options() {
  BuildOptions options;
  options.hostname = "mta.bench.test";
  return options;
}

void BM_ParseInjectV1Request(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const std::string body = StructuredBody(n);
  InjectV1Limits limits;
  CHECK(ParseInjectV1Request(body, limits).ok());
  for (auto _ : state) {
    absl::StatusOr<InjectV1Request> request = ParseInjectV1Request(body, limits);
    benchmark::DoNotOptimize(request);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));  // recipients
  state.SetLabel(absl::StrCat(body.size() / 1024, " KiB body"));
}
BENCHMARK(BM_ParseInjectV1Request)->Arg(1)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

// The substitutions of one recipient as Build makes them: its own, then the built-in ones.
Substitutions RecipientSubstitutions() {
  Substitutions top(nlohmann::json{{"code", "C42"}});
  top.Set("email", "r42@d2.bench.test");
  top.Set("to_header", "User 42 <r42@d2.bench.test>");
  top.Set("name", "User 42");
  return top;
}

void Render(benchmark::State& state, std::string text, Escape escape) {
  absl::StatusOr<std::unique_ptr<ContentTemplate>> t =
      ContentTemplate::Compile(std::move(text), TemplateDialect::kMustache, escape, "content.x");
  CHECK(t.ok()) << t.status();
  const Substitutions base(nlohmann::json{{"brand", "Volley Bench"}});
  const Substitutions top = RecipientSubstitutions();
  size_t bytes = 0;
  for (auto _ : state) {
    absl::StatusOr<std::string> out = (*t)->Render(base, top);
    bytes += out->size();
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_RenderSubject(benchmark::State& state) {
  Render(state, "Hello {{ name }}", Escape::kNoLineBreaks);
}
BENCHMARK(BM_RenderSubject);

void BM_RenderHtml4K(benchmark::State& state) { Render(state, HtmlBody(4096), Escape::kHtml); }
BENCHMARK(BM_RenderHtml4K)->Unit(benchmark::kMicrosecond);

// Build for recipient after recipient of a 1,000-recipient request, as a pool task does.
void Build(benchmark::State& state, const std::string& body) {
  absl::StatusOr<std::unique_ptr<InjectV1Builder>> builder =
      InjectV1Builder::Create(Parse(body), Options());
  CHECK(builder.ok()) << builder.status();
  const absl::Time now = absl::FromUnixSeconds(1790000000);
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    absl::StatusOr<BuiltMessage> built = (*builder)->Build(i, now);
    CHECK(built.ok()) << built.status();
    bytes += built->content.size();
    benchmark::DoNotOptimize(built);
    if (++i == (*builder)->recipients()) i = 0;
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));  // messages
  state.SetLabel(absl::StrCat(bytes / std::max<size_t>(state.iterations(), 1), " B message"));
}

void BM_BuildStructured(benchmark::State& state) { Build(state, StructuredBody(1000)); }
BENCHMARK(BM_BuildStructured)->Unit(benchmark::kMicrosecond);

void BM_BuildRaw(benchmark::State& state) { Build(state, RawBody(1000)); }
BENCHMARK(BM_BuildRaw)->Unit(benchmark::kMicrosecond);

// Compiling a request's templates (subject, text, HTML), which a request pays once whatever its
// recipients; the copy of the parsed request Create takes is counted too.
void BM_CreateBuilder(benchmark::State& state) {
  const InjectV1Request request = Parse(StructuredBody(1));
  for (auto _ : state) {
    absl::StatusOr<std::unique_ptr<InjectV1Builder>> builder =
        InjectV1Builder::Create(request, Options());
    benchmark::DoNotOptimize(builder);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));  // requests
}
BENCHMARK(BM_CreateBuilder)->Unit(benchmark::kMicrosecond);

// A request of one recipient from its body to its message: what volleyd spends per message,
// short of the spool, when a platform sends each message on its own.
void BM_OneRecipientRequest(benchmark::State& state) {
  const std::string body = StructuredBody(1);
  const absl::Time now = absl::FromUnixSeconds(1790000000);
  for (auto _ : state) {
    absl::StatusOr<std::unique_ptr<InjectV1Builder>> builder =
        InjectV1Builder::Create(Parse(body), Options());
    absl::StatusOr<BuiltMessage> built = (*builder)->Build(0, now);
    benchmark::DoNotOptimize(built);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_OneRecipientRequest)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace volley::inject
