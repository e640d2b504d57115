// Early-return helpers for absl::Status and absl::StatusOr.
#ifndef VOLLEY_ENGINE_BASE_STATUS_MACROS_H_
#define VOLLEY_ENGINE_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define VOLLEY_STATUS_CONCAT_INNER(a, b) a##b
#define VOLLEY_STATUS_CONCAT(a, b) VOLLEY_STATUS_CONCAT_INNER(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define RETURN_IF_ERROR(expr)                                        \
  do {                                                               \
    ::absl::Status volley_status_internal = (expr);                  \
    if (!volley_status_internal.ok()) return volley_status_internal; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, MakeX());` assigns the value or returns the error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  VOLLEY_ASSIGN_OR_RETURN_IMPL(VOLLEY_STATUS_CONCAT(volley_statusor_, __LINE__), lhs, expr)

#define VOLLEY_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr)  \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)

#endif  // VOLLEY_ENGINE_BASE_STATUS_MACROS_H_
