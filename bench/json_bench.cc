// Which JSON library the HTTP injection API should read its request bodies with: nlohmann::json
// (already used by the admin API) or simdjson's DOM API. Each benchmark parses a KumoMTA-style
// inject request of 1, 1,000 or 10,000 recipients and then reads every field into std::strings,
// as the injector would before it writes the spool, so that the cost of copying out of the
// parsed document counts too: simdjson's parse is cheap, but nlohmann's walk is a copy of
// strings it already owns. `bazel run -c opt //bench:json_bench`.
//
// Both parse without throwing: nlohmann with allow_exceptions=false and type checks before
// every get, simdjson with its error codes.
#include <simdjson.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "benchmark/benchmark.h"
#include "engine/base/logging.h"
#include "nlohmann/json.hpp"

namespace volley {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

struct InjectRecipient {
  std::string email;
  std::string name;
  Fields substitutions;
  Fields metadata;

  friend bool operator==(const InjectRecipient&, const InjectRecipient&) = default;
};

// What the injector takes out of a request.
struct InjectRequest {
  std::string envelope_sender;
  std::vector<InjectRecipient> recipients;
  std::string subject;
  std::string from_email;
  std::string from_name;
  std::string text_body;
  std::string html_body;
  Fields substitutions;

  friend bool operator==(const InjectRequest&, const InjectRequest&) = default;
};

// About 2 KB of text with a template variable, line breaks and UTF-8: the escapes a real
// body makes the parser undo.
std::string TextBody() {
  std::string out;
  while (out.size() < 2000) {
    absl::StrAppend(&out,
                    "Hello {{ first }},\n\nOur spring catalogue is out: \"fifty new titles\", "
                    "free delivery over 30 \xE2\x82\xAC and a gift for you. Gr\xC3\xBC\xC3\x9F"
                    "e from the {{ brand }} team.\n\tUse code {{ code }} at checkout.\n");
  }
  return out;
}

// About 3 KB of HTML, whose attributes are full of quotes to escape.
std::string HtmlBody() {
  std::string out = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>\n";
  while (out.size() < 3000) {
    absl::StrAppend(&out,
                    "<table role=\"presentation\" width=\"100%\" style=\"max-width:600px\"><tr>"
                    "<td class=\"hero\"><a href=\"https://news.example.net/c?u={{ code }}&amp;"
                    "s=spring\">Hello {{ first }}</a></td></tr></table>\n");
  }
  absl::StrAppend(&out, "</body></html>\n");
  return out;
}

// The request body for `n` recipients, made once per size. The buffer keeps
// SIMDJSON_PADDING spare octets beyond the text, as an HTTP server can when it reads a body
// whose Content-Length it knows, so that simdjson parses it in place.
const std::string& RequestOf(int n) {
  static auto* bodies = new std::map<int, std::string>();
  auto it = bodies->find(n);
  if (it != bodies->end()) return it->second;
  nlohmann::json recipients = nlohmann::json::array();
  for (int i = 0; i < n; ++i) {
    recipients.push_back({
        {"email", absl::StrCat("user", i, "@example.com")},
        {"name", absl::StrCat("User ", i)},
        {"substitutions",
         {{"first", absl::StrCat("First", i)}, {"code", absl::StrCat("C", i * 7919)}}},
        {"metadata", {{"uid", absl::StrCat(i)}}},
    });
  }
  const nlohmann::json request = {
      {"envelope_sender", "bounces@news.example.net"},
      {"recipients", std::move(recipients)},
      {"content",
       {{"subject", "Hello {{ first }}"},
        {"from", {{"email", "news@example.net"}, {"name", "News"}}},
        {"text_body", TextBody()},
        {"html_body", HtmlBody()}}},
      {"substitutions", {{"brand", "X"}}},
  };
  std::string body = request.dump();
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  return bodies->emplace(n, std::move(body)).first->second;
}

namespace nl {

bool String(const nlohmann::json& j, const char* key, std::string* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return false;
  *out = it->get_ref<const std::string&>();
  return true;
}

// An optional object of strings.
bool StringMap(const nlohmann::json& j, const char* key, Fields* out) {
  auto it = j.find(key);
  if (it == j.end()) return true;
  if (!it->is_object()) return false;
  out->reserve(it->size());
  for (auto field = it->begin(); field != it->end(); ++field) {
    if (!field->is_string()) return false;
    out->emplace_back(field.key(), field->get_ref<const std::string&>());
  }
  return true;
}

bool ParseAndWalk(absl::string_view body, InjectRequest* r) {
  const nlohmann::json j =
      nlohmann::json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return false;  // also when discarded (not JSON)
  auto recipients = j.find("recipients");
  auto content = j.find("content");
  if (!String(j, "envelope_sender", &r->envelope_sender) || recipients == j.end() ||
      !recipients->is_array() || content == j.end() || !content->is_object() ||
      !StringMap(j, "substitutions", &r->substitutions)) {
    return false;
  }
  r->recipients.reserve(recipients->size());
  for (const nlohmann::json& each : *recipients) {
    if (!each.is_object()) return false;
    InjectRecipient& out = r->recipients.emplace_back();
    if (!String(each, "email", &out.email) || !String(each, "name", &out.name) ||
        !StringMap(each, "substitutions", &out.substitutions) ||
        !StringMap(each, "metadata", &out.metadata)) {
      return false;
    }
  }
  auto from = content->find("from");
  return String(*content, "subject", &r->subject) && from != content->end() && from->is_object() &&
         String(*from, "email", &r->from_email) && String(*from, "name", &r->from_name) &&
         String(*content, "text_body", &r->text_body) &&
         String(*content, "html_body", &r->html_body);
}

}  // namespace nl

namespace sj {

bool String(simdjson::dom::object o, std::string_view key, std::string* out) {
  std::string_view value;
  if (o[key].get_string().get(value) != simdjson::SUCCESS) return false;
  out->assign(value);
  return true;
}

bool StringMap(simdjson::dom::object o, std::string_view key, Fields* out) {
  simdjson::dom::object map;
  const simdjson::error_code error = o[key].get_object().get(map);
  if (error == simdjson::NO_SUCH_FIELD) return true;
  if (error != simdjson::SUCCESS) return false;
  out->reserve(map.size());
  for (simdjson::dom::key_value_pair field : map) {
    std::string_view value;
    if (field.value.get_string().get(value) != simdjson::SUCCESS) return false;
    out->emplace_back(std::string(field.key), std::string(value));
  }
  return true;
}

// `parser` is reused from request to request, as one per shard would be: it keeps its buffers
// (as large as the largest body so far), so only the first parse allocates them.
bool ParseAndWalk(simdjson::dom::parser& parser, const std::string& body, bool padded,
                  InjectRequest* r) {
  simdjson::dom::object j;
  if (parser.parse(body.data(), body.size(), /*realloc_if_needed=*/!padded).get(j) !=
      simdjson::SUCCESS) {
    return false;
  }
  simdjson::dom::array recipients;
  simdjson::dom::object content, from;
  if (!String(j, "envelope_sender", &r->envelope_sender) ||
      j["recipients"].get_array().get(recipients) != simdjson::SUCCESS ||
      j["content"].get_object().get(content) != simdjson::SUCCESS ||
      !StringMap(j, "substitutions", &r->substitutions)) {
    return false;
  }
  r->recipients.reserve(recipients.size());
  for (simdjson::dom::element each : recipients) {
    simdjson::dom::object o;
    if (each.get_object().get(o) != simdjson::SUCCESS) return false;
    InjectRecipient& out = r->recipients.emplace_back();
    if (!String(o, "email", &out.email) || !String(o, "name", &out.name) ||
        !StringMap(o, "substitutions", &out.substitutions) ||
        !StringMap(o, "metadata", &out.metadata)) {
      return false;
    }
  }
  return String(content, "subject", &r->subject) &&
         content["from"].get_object().get(from) == simdjson::SUCCESS &&
         String(from, "email", &r->from_email) && String(from, "name", &r->from_name) &&
         String(content, "text_body", &r->text_body) && String(content, "html_body", &r->html_body);
}

}  // namespace sj

// Both libraries read the same request, or the comparison means nothing. Once per size.
void CheckAgree(int n) {
  static auto* checked = new std::map<int, bool>();
  if (!checked->emplace(n, true).second) return;
  const std::string& body = RequestOf(n);
  InjectRequest a, b;
  simdjson::dom::parser parser;
  CHECK(nl::ParseAndWalk(body, &a));
  CHECK(sj::ParseAndWalk(parser, body, /*padded=*/true, &b));
  CHECK(a == b);
  CHECK(static_cast<int>(a.recipients.size()) == n);
  CHECK(a.text_body.size() >= 2000 && a.html_body.size() >= 3000);
}

void Report(benchmark::State& state, absl::string_view library) {
  const int n = static_cast<int>(state.range(0));
  const int64_t requests = static_cast<int64_t>(state.iterations());
  state.SetBytesProcessed(requests * static_cast<int64_t>(RequestOf(n).size()));
  state.counters["requests/s"] = benchmark::Counter(requests, benchmark::Counter::kIsRate);
  state.counters["recipients/s"] =
      benchmark::Counter(static_cast<double>(requests) * n, benchmark::Counter::kIsRate);
  state.SetLabel(absl::StrCat(library, ", ", n, " recipients, ", RequestOf(n).size(), " B"));
}

void BM_Nlohmann(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  CheckAgree(n);
  const std::string& body = RequestOf(n);
  for (auto _ : state) {
    InjectRequest r;
    if (!nl::ParseAndWalk(body, &r)) state.SkipWithError("nlohmann: the request did not parse");
    benchmark::DoNotOptimize(r);
  }
  Report(state, absl::StrCat("nlohmann ", NLOHMANN_JSON_VERSION_MAJOR, ".",
                             NLOHMANN_JSON_VERSION_MINOR, ".", NLOHMANN_JSON_VERSION_PATCH));
}

// `padded`: the body's buffer has simdjson's padding (parsed in place); otherwise simdjson
// copies the body into a padded buffer of its own first, as it must for a body read without
// room to spare.
void BM_Simdjson(benchmark::State& state, bool padded) {
  const int n = static_cast<int>(state.range(0));
  CheckAgree(n);
  const std::string& body = RequestOf(n);
  simdjson::dom::parser parser;
  for (auto _ : state) {
    InjectRequest r;
    if (!sj::ParseAndWalk(parser, body, padded, &r)) {
      state.SkipWithError("simdjson: the request did not parse");
    }
    benchmark::DoNotOptimize(r);
  }
  Report(state, absl::StrCat(
                    "simdjson ", simdjson::SIMDJSON_VERSION_MAJOR, ".",
                    simdjson::SIMDJSON_VERSION_MINOR, ".", simdjson::SIMDJSON_VERSION_REVISION, " ",
                    simdjson::get_active_implementation()->name(), padded ? "" : ", copied"));
}

BENCHMARK(BM_Nlohmann)->Arg(1)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Simdjson, padded, true)
    ->Arg(1)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Simdjson, copied, false)
    ->Arg(1)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace volley
