#include "dns/resolver.h"

namespace volley::dns {

absl::string_view QueryTypeLabel(QueryType type) {
  switch (type) {
    case QueryType::kMx:
      return "mx";
    case QueryType::kA:
      return "a";
    case QueryType::kAaaa:
      return "aaaa";
  }
  return "unknown";
}

absl::string_view QueryResultLabel(QueryResult result) {
  switch (result) {
    case QueryResult::kOk:
      return "ok";
    case QueryResult::kNxDomain:
      return "nxdomain";
    case QueryResult::kNoData:
      return "nodata";
    case QueryResult::kServFail:
      return "servfail";
    case QueryResult::kRefused:
      return "refused";
    case QueryResult::kTimeout:
      return "timeout";
    case QueryResult::kError:
      return "error";
  }
  return "unknown";
}

ResolverStats::ResolverStats()
    : lookup_seconds({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}) {}

}  // namespace volley::dns
