// The rules that classify an SMTP reply into a bounce class (bounce_class.h), read from a TOML
// file of the form of bounce_rules.toml, which Volley ships built in (docs/bounces.md):
//   [codes]     enhanced status codes that decide by themselves ("5.1.1" = "InvalidRecipient");
//   [[rule]]    { class, regex = [...] }: RE2 regexes, in file order, matched
//               case-insensitively against "CODE X.Y.Z TEXT";
//   [fallback]  what the codes say when no rule matched: "X.Y.Z", "X.Y.*", "*.Y.*", "NNN",
//               "4xx" and "5xx", tried in that order.
// An operator's file (`[bounce] rules`) goes on top of the shipped one (Layer).
#ifndef VOLLEY_ENGINE_BOUNCE_BOUNCE_RULES_H_
#define VOLLEY_ENGINE_BOUNCE_BOUNCE_RULES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/bounce/bounce_class.h"
#include "engine/smtp/reply.h"
#include "re2/set.h"

namespace volley::bounce {

// Immutable once made; Classify from any thread.
class BounceRules {
 public:
  // Reads a rules file. Every problem is reported, each as "origin:LINE: message", in one
  // InvalidArgument: a TOML syntax error, an unknown table or key, a class that is not one of
  // the 29, a code that is not "X.Y.Z" (or a fallback key of another form), a bad regex.
  static absl::StatusOr<BounceRules> Parse(absl::string_view toml, absl::string_view origin);
  // The rules built into Volley (bounce_rules.toml).
  static const BounceRules& Shipped();
  // `over` on top of `base`: its codes and fallbacks replace base's of the same key, its rules
  // are tried before base's.
  static BounceRules Layer(const BounceRules& base, const BounceRules& over);

  BounceClass Classify(const smtp::Reply& reply) const;

  size_t code_count() const { return codes_.size(); }
  size_t rule_count() const { return rules_.size(); }

 private:
  struct TextRule {
    std::string pattern;
    BounceClass bounce_class;
  };

  BounceRules() = default;
  // Builds the regex set of `rules_` (each pattern was checked by Parse).
  void Compile();

  absl::flat_hash_map<std::string, BounceClass> codes_;
  std::vector<TextRule> rules_;
  absl::flat_hash_map<std::string, BounceClass> fallback_;
  std::shared_ptr<const RE2::Set> set_;
};

}  // namespace volley::bounce

#endif  // VOLLEY_ENGINE_BOUNCE_BOUNCE_RULES_H_
