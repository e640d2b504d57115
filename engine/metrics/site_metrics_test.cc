// The per-site series: which sites are named, what "other" sums, and that the counts stay
// right for counters whose sites come and go.
#include "engine/metrics/site_metrics.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

SiteTotals Site(int64_t ready, int64_t in_flight, int64_t connections) {
  SiteTotals t;
  t.ready = ready;
  t.in_flight = in_flight;
  t.connections = connections;
  return t;
}

TEST(SiteMetrics, TheBusiestSitesAreNamedAndTheRestSummedAsOther) {
  SiteScrape scrape;
  scrape.sites["big.test"] = Site(1000, 20, 2);
  scrape.sites["mid.test"] = Site(50, 0, 1);
  scrape.sites["small.test"] = Site(3, 1, 1);
  scrape.sites["tiny.test"] = Site(1, 0, 1);
  std::string out;
  AppendSiteSeries(scrape, 2, &out);
  EXPECT_THAT(out, HasSubstr("volley_site_ready{site=\"big.test\"} 1000\n"));
  EXPECT_THAT(out, HasSubstr("volley_site_ready{site=\"mid.test\"} 50\n"));
  EXPECT_THAT(out, Not(HasSubstr("small.test")));
  EXPECT_THAT(out, HasSubstr("volley_site_ready{site=\"other\"} 4\n"));
  EXPECT_THAT(out, HasSubstr("volley_site_in_flight{site=\"other\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("volley_site_connections_open{site=\"other\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("volley_site_connections_open{site=\"big.test\"} 2\n"));
}

TEST(SiteMetrics, OtherThrottledIsWhatTheNamedSitesDoNotAccountFor) {
  SiteScrape scrape;
  scrape.sites["a.test"] = Site(100, 0, 1);
  scrape.sites["a.test"].throttled["max_message_rate"] = 40;
  scrape.sites["a.test"].held_back["max_message_rate"] = 1;
  scrape.sites["b.test"] = Site(1, 0, 0);
  scrape.sites["b.test"].throttled["max_message_rate"] = 5;
  scrape.sites["b.test"].held_back["connection_limit"] = 1;
  // Also counted: sites whose queues are gone (15 more).
  scrape.throttled_total["max_message_rate"] = 60;
  std::string out;
  AppendSiteSeries(scrape, 1, &out);
  EXPECT_THAT(out,
              HasSubstr("volley_throttled_total{site=\"a.test\",limit=\"max_message_rate\"} 40\n"));
  EXPECT_THAT(out,
              HasSubstr("volley_throttled_total{site=\"other\",limit=\"max_message_rate\"} 20\n"));
  EXPECT_THAT(out,
              HasSubstr("volley_site_held_back{site=\"a.test\",limit=\"max_message_rate\"} 1\n"));
  EXPECT_THAT(out,
              HasSubstr("volley_site_held_back{site=\"other\",limit=\"connection_limit\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("# TYPE volley_throttled_total counter\n"));
}

TEST(SiteMetrics, ALimitOfZeroNamesNoSiteAndLabelsAreEscaped) {
  SiteScrape scrape;
  scrape.sites["we\"ird\\site"] = Site(7, 0, 0);
  std::string out;
  AppendSiteSeries(scrape, 0, &out);
  EXPECT_THAT(out, HasSubstr("volley_site_ready{site=\"other\"} 7\n"));
  AppendSiteSeries(scrape, 5, &out);
  EXPECT_THAT(out, HasSubstr("volley_site_ready{site=\"we\\\"ird\\\\site\"} 7\n"));
}

TEST(SiteMetrics, TenantsAndCampaignsAreBoundedToo) {
  SiteScrape scrape;
  scrape.tenants[{"acme", "spring"}] = TenantTotals{500, 10};
  scrape.tenants[{"acme", ""}] = TenantTotals{20, 0};
  scrape.tenants[{"globex", "news"}] = TenantTotals{3, 2};
  std::string out;
  AppendSiteSeries(scrape, 2, &out);
  EXPECT_THAT(out, HasSubstr("volley_tenant_queue_size{tenant=\"acme\",campaign=\"spring\","
                             "state=\"ready\"} 500\n"));
  EXPECT_THAT(out, HasSubstr("volley_tenant_queue_size{tenant=\"acme\",campaign=\"\","
                             "state=\"in_flight\"} 0\n"));
  EXPECT_THAT(out, Not(HasSubstr("globex")));
  EXPECT_THAT(out, HasSubstr("volley_tenant_queue_size{tenant=\"other\",campaign=\"other\","
                             "state=\"ready\"} 3\n"));
  EXPECT_THAT(out, HasSubstr("volley_tenant_queue_size{tenant=\"other\",campaign=\"other\","
                             "state=\"in_flight\"} 2\n"));
}

}  // namespace
}  // namespace volley::metrics
