// The delivery client's TLS contexts on a shard: one per trust-anchor file, made on first use.
#ifndef VOLLEY_ENGINE_DELIVERY_TLS_CLIENT_CACHE_H_
#define VOLLEY_ENGINE_DELIVERY_TLS_CLIENT_CACHE_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/base/thread_checker.h"
#include "tls/tls_context.h"

namespace volley::delivery {

// Making a context reads the CA bundle, so it is done once per shard and file, not per
// connection. All calls on the owning shard's loop.
class TlsClientCache {
 public:
  // The client context trusting `ca_file` ("" = the system bundle).
  absl::StatusOr<std::shared_ptr<tls::TlsContext>> ContextFor(const std::string& ca_file);

 private:
  ThreadChecker thread_;
  absl::flat_hash_map<std::string, std::shared_ptr<tls::TlsContext>> contexts_;
};

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_TLS_CLIENT_CACHE_H_
