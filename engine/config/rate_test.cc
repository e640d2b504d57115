#include "engine/config/rate.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace volley::config {
namespace {

using ::testing::HasSubstr;

Rate Parsed(absl::string_view text) {
  absl::StatusOr<std::optional<Rate>> rate = ParseRateValue(text);
  EXPECT_TRUE(rate.ok()) << text << ": " << rate.status();
  if (!rate.ok() || !rate->has_value()) return Rate{};
  return **rate;
}

TEST(ParseRateValue, KumoMtaForms) {
  struct Case {
    absl::string_view text;
    uint64_t quantity;
    absl::Duration period;
    uint64_t max_burst;
  };
  const Case cases[] = {
      {"100/s", 100, absl::Seconds(1), 100},         {"10/sec", 10, absl::Seconds(1), 10},
      {"10/second", 10, absl::Seconds(1), 10},       {"50/m", 50, absl::Minutes(1), 50},
      {"50/min", 50, absl::Minutes(1), 50},          {"50/minute", 50, absl::Minutes(1), 50},
      {"1,000/hr", 1000, absl::Hours(1), 1000},      {"1_000/h", 1000, absl::Hours(1), 1000},
      {"5000/hour", 5000, absl::Hours(1), 5000},     {"10_000/d", 10000, absl::Hours(24), 10000},
      {"10,000/day", 10000, absl::Hours(24), 10000}, {"20/m,max_burst=5", 20, absl::Minutes(1), 5},
      {"50/s,max_burst=1", 50, absl::Seconds(1), 1}, {"3/5m", 3, absl::Minutes(5), 3},
      {"100/S", 100, absl::Seconds(1), 100},
  };
  for (const Case& c : cases) {
    const Rate rate = Parsed(c.text);
    EXPECT_EQ(rate.quantity, c.quantity) << c.text;
    EXPECT_EQ(rate.period, c.period) << c.text;
    EXPECT_EQ(rate.max_burst, c.max_burst) << c.text;
  }
}

TEST(ParseRateValue, EmptyMeansUnlimited) {
  absl::StatusOr<std::optional<Rate>> rate = ParseRateValue("");
  ASSERT_TRUE(rate.ok());
  EXPECT_FALSE(rate->has_value());
}

TEST(ParseRateValue, IntervalIsPeriodOverQuantity) {
  EXPECT_EQ(Parsed("50/s").interval(), absl::Milliseconds(20));
  EXPECT_EQ(Parsed("100/m").interval(), absl::Milliseconds(600));
  EXPECT_EQ(Parsed("3/5m").interval(), absl::Seconds(100));
}

TEST(ParseRateValue, ToStringReadsBack) {
  for (absl::string_view text : {"100/s", "20/m,max_burst=5", "3/5m", "7/h", "9/d", "2/1m30s"}) {
    const Rate rate = Parsed(text);
    EXPECT_EQ(Parsed(rate.ToString()), rate) << text << " -> " << rate.ToString();
  }
  EXPECT_EQ(Parsed("1,000/hour").ToString(), "1000/h");
  EXPECT_EQ(Parsed("20/m,max_burst=5").ToString(), "20/m,max_burst=5");
}

TEST(ParseRateValue, ErrorsSayWhatIsWrong) {
  struct Case {
    absl::string_view text;
    absl::string_view says;
  };
  const Case cases[] = {
      {"fast", "missing '/'"},
      {"0/s", "at least 1"},
      {"10/fortnight", "unknown period \"fortnight\""},
      {"10/", "unknown period \"\""},
      {"/s", "whole number"},
      {"-5/s", "whole number"},
      {"1.5/s", "whole number"},
      {"1,,000/s", "whole number"},
      {"10/s,burst=3", "unknown option \"burst=3\""},
      {"10/s,max_burst=0", "max_burst must be"},
      {"10/s,max_burst=x", "max_burst must be"},
      {"10/0s", "longer than zero"},
      {"99999999999999999999/s", "whole number"},
      {"2000000000/s", "at most 1000000000"},
      {"1/400d", "at most 366 days"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::optional<Rate>> rate = ParseRateValue(c.text);
    ASSERT_FALSE(rate.ok()) << c.text;
    EXPECT_THAT(rate.status().message(), HasSubstr(c.says)) << c.text;
    EXPECT_THAT(rate.status().message(), HasSubstr(absl::StrCat("\"", c.text, "\""))) << c.text;
  }
}

}  // namespace
}  // namespace volley::config
