#include "engine/delivery/domain_queue.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/base/net_address.h"
#include "engine/smtp/local_replies.h"

namespace volley::delivery {
namespace {

const config::Route* RouteFor(const config::Config& config, const std::string& domain) {
  auto it = config.routes.find(domain);
  return it == config.routes.end() ? nullptr : &it->second;
}

// Routed domains share a queue when they go to the same host the same way.
std::string RouteKey(const config::Route& route) {
  std::string key = absl::StrCat("route:", route.host.ToString());
  if (route.tls) absl::StrAppend(&key, "#tls=", config::TlsPolicyName(*route.tls));
  if (!route.auth_user.empty()) absl::StrAppend(&key, "#auth=", route.auth_user);
  return key;
}

}  // namespace

DomainQueue::DomainQueue(const ShardServices* services, std::string domain)
    : services_(services),
      domain_(std::move(domain)),
      route_(RouteFor(*services->config, domain_)),
      own_site_(services->config->shaping.HasDomainTables(domain_)) {}

DomainQueue::~DomainQueue() = default;

void DomainQueue::Add(RecipientPtr recipient) {
  DCHECK(thread_.InLoopThread());
  pending_.push_back(std::move(recipient));
}

void DomainQueue::Flush() {
  DCHECK(thread_.InLoopThread());
  if (pending_.empty()) return;
  if (site_ == nullptr || services_->clock->Now() >= site_->expires) {
    if (!resolving_) Resolve();
    return;
  }
  std::vector<RecipientPtr> recipients;
  recipients.swap(pending_);
  services_->send_to_site(site_, std::move(recipients));
}

void DomainQueue::Resolve() {
  auto on_result = liveness_.Guard([this](const dns::MxResult& result) {
    resolving_ = false;
    OnResolved(result);
  });
  resolving_ = true;
  if (route_ != nullptr && IsIpLiteral(route_->host.host)) {
    dns::MxResult result;
    result.outcome = dns::MxOutcome::kOk;
    result.hosts.push_back(dns::MxHost{route_->host.host, 0, {route_->host.host}});
    result.expires = absl::InfiniteFuture();
    resolving_ = false;
    OnResolved(result);
    return;
  }
  if (route_ != nullptr) {
    services_->resolver->ResolveHost(route_->host.host, std::move(on_result));
    return;
  }
  services_->resolver->Resolve(domain_, std::move(on_result));
}

void DomainQueue::OnResolved(const dns::MxResult& result) {
  switch (result.outcome) {
    case dns::MxOutcome::kOk: {
      const config::Config& config = *services_->config;
      auto site = std::make_shared<SiteRoute>();
      const uint16_t port = route_ != nullptr ? route_->host.port : config.delivery.port;
      for (const dns::MxHost& host : result.hosts) {
        for (const std::string& address : host.addresses) {
          site->targets.push_back(ConnectTarget{host.name, address, port});
        }
      }
      if (route_ != nullptr) {
        site->name = absl::StrCat("route:", route_->host.ToString());
        site->key = RouteKey(*route_);
      } else {
        // Every MX host name, sorted (the resolver's site name): stable while a host briefly
        // lacks an address.
        site->name = result.site_name;
        site->key = site->name;
      }
      std::vector<std::string> hosts;
      for (const dns::MxHost& host : result.hosts)
        hosts.push_back(absl::AsciiStrToLower(host.name));
      site->shaping = ResolveShaping(hosts);
      if (own_site_) {
        site->key = absl::StrCat("domain:", domain_);
      } else if (const std::string& provider = site->shaping->site.provider; !provider.empty()) {
        // A provider may take a domain by its name: then the domains of this MX set that it
        // does not take have other limits, and a queue of their own.
        const config::ShapingProvider* by_hosts = config.shaping.ProviderFor("", hosts);
        if (by_hosts == nullptr || by_hosts->name != provider) {
          absl::StrAppend(&site->key, "#provider=", provider);
        }
      }
      site->expires = result.expires;
      site->route = route_;
      if (site->targets.empty()) {
        FailPending(smtp::MakeLocalReply(smtp::LocalReply::kNoAddress, domain_),
                    bounce::BounceClass::kDNSFailure, /*permanent=*/false);
        return;
      }
      site_ = std::move(site);
      Flush();
      return;
    }
    case dns::MxOutcome::kNxDomain:
      FailPending(smtp::MakeLocalReply(smtp::LocalReply::kNoSuchDomain, domain_),
                  bounce::BounceClass::kBadDomain, /*permanent=*/true);
      return;
    case dns::MxOutcome::kNullMx:
      FailPending(smtp::MakeLocalReply(smtp::LocalReply::kNullMx, domain_),
                  bounce::BounceClass::kBadDomain, /*permanent=*/true);
      return;
    case dns::MxOutcome::kNoAddresses:
      FailPending(smtp::MakeLocalReply(smtp::LocalReply::kNoMxNoAddress, domain_),
                  bounce::BounceClass::kBadDomain, /*permanent=*/true);
      return;
    case dns::MxOutcome::kTemporaryFailure:
      FailPending(smtp::MakeLocalReply(smtp::LocalReply::kDnsFailed, domain_, result.error),
                  bounce::BounceClass::kDNSFailure, /*permanent=*/false);
      return;
  }
}

void DomainQueue::FailPending(const smtp::Reply& reply, bounce::BounceClass classification,
                              bool permanent) {
  std::vector<RecipientPtr> failed;
  failed.swap(pending_);
  AttemptInfo attempt;
  attempt.site = site_ != nullptr ? site_->name : domain_;
  attempt.egress_pool = site_ != nullptr
                            ? site_->shaping->site.egress_pool
                            : services_->config->shaping.Resolve(domain_, {}, "").egress_pool;
  for (RecipientPtr& r : failed) {
    if (permanent) {
      services_->recorder->Bounce(std::move(r), reply, classification, attempt);
    } else {
      services_->recorder->Defer(std::move(r), reply, std::nullopt, attempt, classification);
    }
  }
}

std::shared_ptr<const SiteShaping> DomainQueue::ResolveShaping(
    const std::vector<std::string>& hosts) const {
  const config::ShapingRules& rules = services_->config->shaping;
  auto shaping = std::make_shared<SiteShaping>();
  shaping->site = rules.Resolve(domain_, hosts, "");
  shaping->pool = &services_->config->egress_pools.at(shaping->site.egress_pool);
  for (const config::EgressSource& source : shaping->pool->sources) {
    shaping->by_source.push_back(rules.Resolve(domain_, hosts, source.name));
  }
  return shaping;
}

void DomainQueue::BeginShutdown() { pending_.clear(); }

}  // namespace volley::delivery
