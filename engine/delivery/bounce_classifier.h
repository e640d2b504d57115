// Bounce classification (KumoMTA's classes): from the enhanced status code first, then the
// reply text. This is the built-in rule set; an operator-extensible rules file is planned
// (see the README's "Not yet built").
#ifndef VOLLEY_ENGINE_DELIVERY_BOUNCE_CLASSIFIER_H_
#define VOLLEY_ENGINE_DELIVERY_BOUNCE_CLASSIFIER_H_

#include "absl/strings/string_view.h"
#include "engine/smtp/reply.h"

namespace volley::delivery {

// Returns a class name such as "InvalidRecipient" or "Uncategorized".
absl::string_view ClassifyBounce(const smtp::Reply& reply);

}  // namespace volley::delivery

#endif  // VOLLEY_ENGINE_DELIVERY_BOUNCE_CLASSIFIER_H_
