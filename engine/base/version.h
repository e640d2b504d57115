// Volley's version, as `volleyd --version` prints it and volley_build_info{version} exports it.
// Raised with each issue that lands; the spool's schema has its own version (queue/README.md).
#ifndef VOLLEY_ENGINE_BASE_VERSION_H_
#define VOLLEY_ENGINE_BASE_VERSION_H_

namespace volley {

inline constexpr char kVolleyVersion[] = "0.14.0";

}  // namespace volley

#endif  // VOLLEY_ENGINE_BASE_VERSION_H_
