// Bounce classification: what BounceRules::Classify costs per reply (each failed recipient's
// reply is classified once), over the 138 real-world replies of
// engine/bounce/testdata/replies.tsv in turn, with the shipped rules alone and with an operator's
// 50 more rules on top. `bazel run -c opt //bench:classify_bench`.
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "benchmark/benchmark.h"
#include "engine/base/logging.h"
#include "engine/bounce/bounce_rules.h"

namespace volley::bounce {
namespace {

std::vector<smtp::Reply> Replies() {
  // `bazel run` starts in the runfiles tree.
  std::ifstream in("engine/bounce/testdata/replies.tsv");
  CHECK(in.good()) << "run with bazel run, which provides the data file";
  std::vector<smtp::Reply> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits('\t', 1));
    const std::vector<std::string> words = absl::StrSplit(parts[1], absl::MaxSplits(' ', 2));
    int code = 0;
    CHECK(absl::SimpleAtoi(words[0], &code));
    const bool enhanced = words.size() > 2 && smtp::ParseEnhancedCode(words[1]).has_value() &&
                          words[1][0] == words[0][0];
    out.push_back(enhanced ? smtp::MakeReply(code, words[1], words[2])
                           : smtp::MakeReply(code, "", parts[1].substr(4)));
  }
  return out;
}

BounceRules WithOperatorRules(int n) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&text, "[[rule]]\nclass = \"PolicyRelated\"\nregex = ['operator rule ", i,
                    " [a-z]+ no match here']\n");
  }
  absl::StatusOr<BounceRules> rules = BounceRules::Parse(text, "operator.toml");
  CHECK(rules.ok()) << rules.status();
  return BounceRules::Layer(BounceRules::Shipped(), *rules);
}

void BM_Classify(benchmark::State& state) {
  const std::vector<smtp::Reply> replies = Replies();
  const BounceRules rules = state.range(0) == 0 ? BounceRules::Shipped() : WithOperatorRules(50);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(rules.Classify(replies[i]));
    if (++i == replies.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(state.range(0) == 0 ? "shipped rules" : "shipped + 50 operator rules");
}
BENCHMARK(BM_Classify)->Arg(0)->Arg(1);

}  // namespace
}  // namespace volley::bounce
