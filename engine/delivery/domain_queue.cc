#include "engine/delivery/domain_queue.h"

#include <utility>

#include "engine/base/net_address.h"
#include "engine/smtp/local_replies.h"

namespace volley::delivery {

DomainQueue::DomainQueue(const ShardServices* services, std::string domain)
    : services_(services),
      domain_(std::move(domain)),
      route_(RouteFor(*services->config, domain_)) {}

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
  auto on_result = liveness_.Guard([this, generation = generation_](const dns::MxResult& result) {
    resolving_ = false;
    if (generation != generation_) {
      Resolve();
      return;
    }
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
      std::shared_ptr<const SiteRoute> site = MakeSiteRoute(services_->config, domain_, result);
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

void DomainQueue::Reconfigure() {
  DCHECK(thread_.InLoopThread());
  route_ = RouteFor(*services_->config, domain_);
  // Resolved again (from the resolver's cache) under the new config at the next Flush; an
  // answer still on its way was asked for under the old one, and is asked for again.
  site_.reset();
  ++generation_;
}

void DomainQueue::BeginShutdown() { pending_.clear(); }

}  // namespace volley::delivery
