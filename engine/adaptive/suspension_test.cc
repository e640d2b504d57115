#include "engine/adaptive/suspension.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace volley::adaptive {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
const SiteName kSite{"mx1.example.net,mx2.example.net", "mx:example.net"};

Suspension Parsed(absl::string_view body) {
  absl::StatusOr<Suspension> s = ParseSuspendRequest(body, kNow);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : Suspension{};
}

// The field a refused request names, checking that the message starts with it.
std::string RefusedField(absl::string_view body) {
  absl::StatusOr<Suspension> s = ParseSuspendRequest(body, kNow);
  EXPECT_FALSE(s.ok()) << body;
  if (s.ok()) return "(accepted)";
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string field = RequestField(s.status());
  if (!field.empty()) {
    EXPECT_TRUE(absl::StartsWith(s.status().message(), field + ": ")) << s.status();
  }
  return field;
}

TEST(ParseSuspendRequest, TakesKumoMtaFields) {
  Suspension s = Parsed(
      R"({"domain": "Example.COM", "campaign": "spring", "tenant": "t1", "reason": "fix DNS",
          "duration": "2h"})");
  EXPECT_EQ(s.domain, "example.com");
  EXPECT_EQ(s.campaign, "spring");
  EXPECT_EQ(s.tenant, "t1");
  EXPECT_EQ(s.reason, "fix DNS");
  EXPECT_EQ(s.origin, "admin");
  EXPECT_EQ(s.created, kNow);
  EXPECT_EQ(s.expires, kNow + absl::Hours(2));
}

TEST(ParseSuspendRequest, DefaultsToFiveMinutesAndTakesAnExpiryInstead) {
  EXPECT_EQ(Parsed(R"({"domain": "a.example", "reason": "r"})").expires, kNow + absl::Minutes(5));
  EXPECT_EQ(
      Parsed(R"({"tenant": "t", "reason": "r", "expires": "2027-01-15T09:30:00+01:00"})").expires,
      absl::FromCivil(absl::CivilSecond(2027, 1, 15, 8, 30, 0), absl::UTCTimeZone()));
  Suspension site = Parsed(R"({"site": "mx:example.net", "source": "ip2", "reason": "r"})");
  EXPECT_EQ(site.source, "ip2");
}

TEST(ParseSuspendRequest, RefusesBadRequestsNamingTheField) {
  EXPECT_EQ(RefusedField(R"({"reason": "no target"})"), "domain");
  EXPECT_EQ(RefusedField(R"({"domain": "a.example"})"), "reason");
  EXPECT_EQ(RefusedField(R"({"domain": "a.example", "reason": "r", "duration": "3 fortnights"})"),
            "duration");
  EXPECT_EQ(RefusedField(R"({"domain": "a.example", "reason": "r", "duration": "0s"})"),
            "duration");
  EXPECT_EQ(RefusedField(R"({"domain": "a.example", "reason": "r", "duration": 30})"), "duration");
  EXPECT_EQ(
      RefusedField(
          R"({"domain": "a.example", "reason": "r", "duration": "1h", "expires": "2030-01-01T00:00:00Z"})"),
      "expires");
  EXPECT_EQ(RefusedField(R"({"domain": "a.example", "reason": "r", "expires": "tomorrow"})"),
            "expires");
  EXPECT_EQ(
      RefusedField(R"({"domain": "a.example", "reason": "r", "expires": "2001-01-01T00:00:00Z"})"),
      "expires");
  EXPECT_EQ(RefusedField(R"({"domain": "not a domain", "reason": "r"})"), "domain");
  EXPECT_EQ(RefusedField(R"({"domian": "a.example", "reason": "r"})"), "domian");
  EXPECT_EQ(RefusedField(R"({"domain": "a.example", "source": "ip1", "reason": "r"})"), "source");
  EXPECT_EQ(RefusedField(R"({"queue_names": ["x@a.example"], "reason": "r"})"), "queue_names");
  EXPECT_EQ(RefusedField(R"({"domain": "a.example", "reason": "r")"), "");
  EXPECT_EQ(RefusedField(R"(["domain"])"), "");
}

TEST(ParseLiftRequest, NeedsAnId) {
  EXPECT_EQ(*ParseLiftRequest(R"({"id": "abc"})"), "abc");
  EXPECT_EQ(RequestField(ParseLiftRequest("{}").status()), "id");
  EXPECT_EQ(RequestField(ParseLiftRequest(R"({"id": 7})").status()), "id");
  EXPECT_FALSE(ParseLiftRequest("nope").ok());
}

Suspension Active(std::string domain, std::string tenant, std::string campaign) {
  Suspension s;
  s.id = NewSuspensionId();
  s.domain = std::move(domain);
  s.tenant = std::move(tenant);
  s.campaign = std::move(campaign);
  s.created = kNow;
  s.expires = kNow + absl::Hours(1);
  return s;
}

TEST(SuspensionSet, EveryNamedFieldMustMatch) {
  SuspensionSet set({Active("a.example", "", "spring")});
  EXPECT_NE(set.Holding(kSite, "a.example", "t1", "spring", kNow), nullptr);
  EXPECT_EQ(set.Holding(kSite, "a.example", "t1", "autumn", kNow), nullptr);
  EXPECT_EQ(set.Holding(kSite, "b.example", "t1", "spring", kNow), nullptr);
  // Expired: holds nothing.
  EXPECT_EQ(set.Holding(kSite, "a.example", "t1", "spring", kNow + absl::Hours(2)), nullptr);
  EXPECT_EQ(set.NextExpiry(kNow), kNow + absl::Hours(1));
  EXPECT_EQ(set.NextExpiry(kNow + absl::Hours(2)), absl::InfiniteFuture());
}

TEST(SuspensionSet, SitesByNameOrKeyAndOneSourceOnlyPauses) {
  Suspension whole = Active("", "", "");
  whole.site = "mx:example.net";
  Suspension one = Active("", "", "");
  one.site = "mx1.example.net,mx2.example.net";
  one.source = "ip2";
  SuspensionSet by_key({whole});
  EXPECT_NE(by_key.Holding(kSite, "x.example", "", "", kNow), nullptr);
  EXPECT_EQ(by_key.Holding(SiteName{"other", "mx:other"}, "x.example", "", "", kNow), nullptr);
  SuspensionSet paused({one});
  EXPECT_EQ(paused.Holding(kSite, "x.example", "", "", kNow), nullptr);
  EXPECT_NE(paused.PausingSource(kSite, "ip2", kNow), nullptr);
  EXPECT_EQ(paused.PausingSource(kSite, "ip1", kNow), nullptr);
  EXPECT_EQ(paused.Concerning(kSite, kNow).size(), 1u);
}

TEST(SuspensionJson, ReadsBackWhatItWrites) {
  Suspension s = Active("a.example", "t1", "");
  s.site = "mx:example.net";
  s.reason = "say \"why\"";
  s.origin = "rule 2 (line 14)";
  s.created = kNow + absl::Microseconds(12);
  const std::string json = SuspensionJson(s, kNow);
  EXPECT_TRUE(absl::StrContains(json, R"("duration":"1h")")) << json;
  EXPECT_TRUE(absl::StrContains(json, R"("campaign":null)")) << json;
  absl::StatusOr<Suspension> back = SuspensionFromJson(json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->id, s.id);
  EXPECT_EQ(back->domain, s.domain);
  EXPECT_EQ(back->site, s.site);
  EXPECT_EQ(back->tenant, s.tenant);
  EXPECT_EQ(back->campaign, "");
  EXPECT_EQ(back->reason, s.reason);
  EXPECT_EQ(back->origin, s.origin);
  EXPECT_EQ(back->created, s.created);
  EXPECT_EQ(back->expires, s.expires);
  EXPECT_FALSE(SuspensionFromJson(R"({"id": "x"})").ok());
}

TEST(NewSuspensionId, IsAVersionFourUuid) {
  const std::string a = NewSuspensionId();
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[8], '-');
  EXPECT_EQ(a[14], '4');
  EXPECT_TRUE(a[19] == '8' || a[19] == '9' || a[19] == 'a' || a[19] == 'b') << a;
  EXPECT_NE(a, NewSuspensionId());
}

}  // namespace
}  // namespace volley::adaptive
