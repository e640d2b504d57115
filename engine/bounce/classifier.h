// Classifies an SMTP reply into a bounce class: the built-in rules. (An operator-extensible
// rules file comes with the bounce-handling work.)
#ifndef VOLLEY_ENGINE_BOUNCE_CLASSIFIER_H_
#define VOLLEY_ENGINE_BOUNCE_CLASSIFIER_H_

#include "engine/bounce/bounce_class.h"
#include "engine/smtp/reply.h"

namespace volley::bounce {

// Pure; any thread. A few text rules that are more specific than the codes servers send with
// them come first (spam and block lists, viruses, relay denied), then the enhanced status code
// (RFC 3463, mapped as KumoMTA's iana.toml does), then the text, then the basic code.
BounceClass Classify(const smtp::Reply& reply);

}  // namespace volley::bounce

#endif  // VOLLEY_ENGINE_BOUNCE_CLASSIFIER_H_
