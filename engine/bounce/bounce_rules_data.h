// bounce_rules.toml, built into the binary (BUILD.bazel's genrule), so that volleyd needs no
// data file to classify.
#ifndef VOLLEY_ENGINE_BOUNCE_BOUNCE_RULES_DATA_H_
#define VOLLEY_ENGINE_BOUNCE_BOUNCE_RULES_DATA_H_

namespace volley::bounce {

extern const char kShippedBounceRulesToml[];

}  // namespace volley::bounce

#endif  // VOLLEY_ENGINE_BOUNCE_BOUNCE_RULES_DATA_H_
