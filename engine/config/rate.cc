// Rate values; see rate.h.
#include "engine/config/rate.h"

#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "engine/config/values.h"

namespace volley::config {
namespace {

// Caps keep interval() and the throttle's arithmetic far from overflow: a billion a second is
// beyond any mail rate, and a period of a year is beyond any quota.
constexpr uint64_t kMaxQuantity = 1'000'000'000;
constexpr absl::Duration kMaxPeriod = absl::Hours(24 * 366);

struct PeriodUnit {
  absl::string_view name;
  absl::Duration length;
};
constexpr PeriodUnit kPeriodUnits[] = {
    {"s", absl::Seconds(1)}, {"sec", absl::Seconds(1)}, {"second", absl::Seconds(1)},
    {"m", absl::Minutes(1)}, {"min", absl::Minutes(1)}, {"minute", absl::Minutes(1)},
    {"h", absl::Hours(1)},   {"hr", absl::Hours(1)},    {"hour", absl::Hours(1)},
    {"d", absl::Hours(24)},  {"day", absl::Hours(24)},
};

// A whole number with optional ',' or '_' between digits ("1,000", "10_000").
std::optional<uint64_t> ParseGroupedNumber(absl::string_view text) {
  std::string digits;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      digits.push_back(c);
    } else if ((c == ',' || c == '_') && i > 0 && i + 1 < text.size() &&
               absl::ascii_isdigit(static_cast<unsigned char>(text[i - 1]))) {
      continue;
    } else {
      return std::nullopt;
    }
  }
  uint64_t value = 0;
  if (digits.empty() || digits.size() > 19 || !absl::SimpleAtoi(digits, &value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<absl::Duration> ParsePeriod(absl::string_view text) {
  for (const PeriodUnit& unit : kPeriodUnits) {
    if (absl::EqualsIgnoreCase(unit.name, text)) return unit.length;
  }
  if (text.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(text[0]))) {
    return std::nullopt;
  }
  absl::StatusOr<absl::Duration> duration = ParseDurationValue(text);
  if (!duration.ok()) return std::nullopt;
  return *duration;
}

}  // namespace

absl::Duration Rate::interval() const {
  const int64_t n = static_cast<int64_t>(quantity);
  absl::Duration spacing = period / n;
  // Rounded up, so that quantity events never fit in less than a period (a good citizen errs
  // slow, by a nanosecond at most).
  if (spacing * n < period) spacing += absl::Nanoseconds(1);
  return spacing;
}

std::string Rate::ToString() const {
  std::string period_text;
  for (const PeriodUnit& unit : kPeriodUnits) {
    if (unit.length == period && unit.name.size() == 1) {
      period_text = std::string(unit.name);
      break;
    }
  }
  if (period_text.empty()) period_text = absl::FormatDuration(period);
  std::string text = absl::StrCat(quantity, "/", period_text);
  if (max_burst != quantity) absl::StrAppend(&text, ",max_burst=", max_burst);
  return text;
}

absl::StatusOr<std::optional<Rate>> ParseRateValue(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad rate \"", text, "\": ", why,
                     " (write a count per period such as \"100/s\", \"5000/h\" or "
                     "\"20/m,max_burst=5\", or \"\" for no limit)"));
  };
  if (text.empty()) return std::optional<Rate>();
  const size_t slash = text.find('/');
  if (slash == absl::string_view::npos) return bad("missing '/'");
  const std::optional<uint64_t> quantity = ParseGroupedNumber(text.substr(0, slash));
  if (!quantity.has_value()) return bad("the count before '/' must be a whole number");
  if (*quantity == 0) return bad("the count must be at least 1 (\"\" means no limit)");
  if (*quantity > kMaxQuantity)
    return bad(absl::StrCat("the count must be at most ", kMaxQuantity));
  absl::string_view rest = text.substr(slash + 1);
  absl::string_view options;
  if (const size_t comma = rest.find(','); comma != absl::string_view::npos) {
    options = rest.substr(comma + 1);
    rest = rest.substr(0, comma);
  }
  const std::optional<absl::Duration> period = ParsePeriod(rest);
  if (!period.has_value()) {
    return bad(absl::StrCat("unknown period \"", rest,
                            "\" (use s, m, h, d, their long names, or a duration such as \"5m\")"));
  }
  if (*period <= absl::ZeroDuration()) return bad("the period must be longer than zero");
  if (*period > kMaxPeriod) return bad("the period must be at most 366 days");
  Rate rate;
  rate.quantity = *quantity;
  rate.period = *period;
  rate.max_burst = *quantity;
  if (!options.empty()) {
    if (!absl::ConsumePrefix(&options, "max_burst=")) {
      return bad(absl::StrCat("unknown option \"", options, "\" (only max_burst=N)"));
    }
    const std::optional<uint64_t> burst = ParseGroupedNumber(options);
    if (!burst.has_value() || *burst == 0 || *burst > kMaxQuantity) {
      return bad(absl::StrCat("max_burst must be a whole number from 1 to ", kMaxQuantity));
    }
    rate.max_burst = *burst;
  }
  if (rate.interval() <= absl::ZeroDuration()) return bad("the count is too large for the period");
  return std::optional<Rate>(rate);
}

}  // namespace volley::config
