#include "engine/delivery/tls_client_cache.h"

#include "engine/base/logging.h"

namespace volley::delivery {

absl::StatusOr<std::shared_ptr<tls::TlsContext>> TlsClientCache::ContextFor(
    const std::string& ca_file) {
  DCHECK(thread_.InLoopThread());
  auto it = contexts_.find(ca_file);
  if (it != contexts_.end()) return it->second;
  tls::TlsContextOptions options;
  options.role = tls::TlsContextOptions::Role::kClient;
  options.ca_file = ca_file;
  absl::StatusOr<std::shared_ptr<tls::TlsContext>> context = tls::TlsContext::Create(options);
  if (!context.ok()) return context.status();
  contexts_.emplace(ca_file, *context);
  return *context;
}

}  // namespace volley::delivery
