// default_automation.toml as built into the binary (a genrule writes its .cc).
#ifndef VOLLEY_ENGINE_ADAPTIVE_DEFAULT_AUTOMATION_DATA_H_
#define VOLLEY_ENGINE_ADAPTIVE_DEFAULT_AUTOMATION_DATA_H_

namespace volley::adaptive {

extern const char kDefaultAutomationToml[];

}  // namespace volley::adaptive

#endif  // VOLLEY_ENGINE_ADAPTIVE_DEFAULT_AUTOMATION_DATA_H_
