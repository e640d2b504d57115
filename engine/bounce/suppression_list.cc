#include "engine/bounce/suppression_list.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/json.h"
#include "nlohmann/json.hpp"

namespace volley::bounce {

std::optional<SuppressionEntry> HardBounceSuppression(const std::vector<BounceClass>& classes,
                                                      BounceClass classification,
                                                      std::string recipient, std::string reason,
                                                      std::string source, absl::Time now,
                                                      absl::Duration lifetime) {
  if (std::find(classes.begin(), classes.end(), classification) == classes.end()) {
    return std::nullopt;
  }
  SuppressionEntry entry;
  entry.recipient = std::move(recipient);
  entry.reason = std::move(reason);
  entry.source = std::move(source);
  entry.SetLifetime(now, lifetime);
  return entry;
}
namespace {

// recipient NUL tenant: one recipient's entries sit together, the every-tenant one first.
std::string Key(absl::string_view recipient, absl::string_view tenant) {
  return absl::StrCat(absl::AsciiStrToLower(recipient), std::string(1, '\0'), tenant);
}

absl::StatusOr<SuppressionEntry> FromJson(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto str = [&j](const char* k) { return j.is_object() && j.contains(k) && j[k].is_string(); };
  SuppressionEntry e;
  if (!str("recipient") || !str("reason") || !str("source") || !str("created") ||
      !ParseRfc3339(j["created"].get<std::string>(), &e.created)) {
    return absl::DataLossError(absl::StrCat("not a suppression entry: ", text.substr(0, 200)));
  }
  e.recipient = j["recipient"].get<std::string>();
  e.tenant = str("tenant") ? j["tenant"].get<std::string>() : "";
  e.reason = j["reason"].get<std::string>();
  e.source = j["source"].get<std::string>();
  if (str("expires") && !ParseRfc3339(j["expires"].get<std::string>(), &e.expires)) {
    return absl::DataLossError(absl::StrCat("not a suppression entry: ", text.substr(0, 200)));
  }
  return e;
}

}  // namespace

std::string SuppressionEntryJson(const SuppressionEntry& entry) {
  std::string out;
  JsonObjectWriter w(&out);
  w.String("recipient", entry.recipient)
      .StringOrNull("tenant", entry.tenant)
      .String("reason", entry.reason)
      .String("source", entry.source)
      .String("created", Rfc3339(entry.created))
      .TimeOrNull("expires", entry.expires)
      .Finish();
  return out;
}

absl::Status SuppressionList::Add(SuppressionEntry entry, bool sync) {
  const size_t at = entry.recipient.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == entry.recipient.size() ||
      absl::StrContains(entry.recipient, '\0') || absl::StrContains(entry.tenant, '\0')) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", entry.recipient, "\" is not an address (local@domain)"));
  }
  entry.recipient = absl::AsciiStrToLower(entry.recipient);
  return spool_->PutSuppression(Key(entry.recipient, entry.tenant), SuppressionEntryJson(entry),
                                sync);
}

absl::Status SuppressionList::Remove(absl::string_view recipient, absl::string_view tenant) {
  const std::string key = Key(recipient, tenant);
  absl::StatusOr<std::optional<std::string>> found = spool_->GetSuppression(key);
  if (!found.ok()) return found.status();
  if (!found->has_value()) {
    return absl::NotFoundError(absl::StrCat("\"", recipient, "\" is not suppressed",
                                            tenant.empty() ? "" : " for tenant ",
                                            tenant.empty() ? "" : std::string(tenant)));
  }
  return spool_->DeleteSuppression(key, /*sync=*/true);
}

absl::StatusOr<std::optional<SuppressionEntry>> SuppressionList::Lookup(
    absl::string_view recipient, absl::string_view tenant) const {
  const absl::Time now = clock_->Now();
  for (absl::string_view t : {tenant, absl::string_view()}) {
    absl::StatusOr<std::optional<std::string>> found = spool_->GetSuppression(Key(recipient, t));
    if (!found.ok()) return found.status();
    if (found->has_value()) {
      absl::StatusOr<SuppressionEntry> entry = FromJson(**found);
      if (entry.ok() && entry->expires > now) return std::optional<SuppressionEntry>(*entry);
    }
    if (t.empty()) break;
  }
  return std::optional<SuppressionEntry>();
}

absl::StatusOr<SuppressionList::Page> SuppressionList::List(absl::string_view after, size_t limit) {
  const absl::Time now = clock_->Now();
  Page page;
  std::string cursor(after);
  while (page.entries.size() < limit) {
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> scanned =
        spool_->ScanSuppressions("", cursor, limit - page.entries.size());
    if (!scanned.ok()) return scanned.status();
    if (scanned->empty()) return page;  // the end: no next page
    for (auto& [key, value] : *scanned) {
      cursor = key;
      absl::StatusOr<SuppressionEntry> entry = FromJson(value);
      if (!entry.ok() || entry->expires <= now) {
        // Expired (or unreadable, which no version of Volley wrote): gone for good.
        (void)spool_->DeleteSuppression(key, /*sync=*/false);
        continue;
      }
      page.entries.push_back(*std::move(entry));
    }
  }
  page.next = cursor;
  return page;
}

}  // namespace volley::bounce
