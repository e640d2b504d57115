#include "engine/smtp/esmtp_params.h"

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/smtp/local_replies.h"
#include "engine/smtp/reply.h"
#include "gtest/gtest.h"

namespace volley::smtp {
namespace {

using Params = std::vector<EsmtpParam>;

// The wire form of the reply refusing a MAIL parameter list, "" when it is accepted.
std::string MailRefusal(const Params& params, const OfferedExtensions& offered = {}) {
  std::variant<MailParamEffects, Reply> result = CheckMailParams(params, offered);
  const Reply* refusal = std::get_if<Reply>(&result);
  return refusal == nullptr ? "" : refusal->ToWire();
}

std::string RcptRefusal(const Params& params, const OfferedExtensions& offered = {}) {
  std::optional<Reply> refusal = CheckRcptParams(params, offered);
  return refusal.has_value() ? refusal->ToWire() : "";
}

MailParamEffects MailEffects(const Params& params) {
  std::variant<MailParamEffects, Reply> result = CheckMailParams(params, OfferedExtensions{});
  EXPECT_TRUE(std::holds_alternative<MailParamEffects>(result)) << std::get<Reply>(result).ToWire();
  const MailParamEffects* effects = std::get_if<MailParamEffects>(&result);
  return effects == nullptr ? MailParamEffects{} : *effects;
}

std::string Wire(LocalReply id) { return MakeLocalReply(id).ToWire(); }

std::string Unsupported(absl::string_view keyword) {
  return MakeLocalReply(LocalReply::kUnsupportedParameter, keyword).ToWire();
}

OfferedExtensions Nothing() {
  OfferedExtensions offered;
  offered.eightbitmime = false;
  offered.smtputf8 = false;
  offered.dsn = false;
  return offered;
}

TEST(CheckParameterList, ParametersNeedEhlo) {
  EXPECT_EQ(CheckParameterList(Params{}, /*esmtp=*/false), std::nullopt);
  EXPECT_EQ(CheckParameterList(Params{{"SIZE", "10"}}, /*esmtp=*/false),
            MakeLocalReply(LocalReply::kParametersNeedEhlo));
  EXPECT_EQ(CheckParameterList(Params{{"SIZE", "10"}}, /*esmtp=*/true), std::nullopt);
}

TEST(CheckParameterList, EachKeywordOnce) {
  EXPECT_EQ(CheckParameterList(Params{{"SIZE", "1"}, {"BODY", "7BIT"}, {"SIZE", "2"}}, true),
            MakeLocalReply(LocalReply::kRepeatedParameter));
  // The same keyword with the same value is a repeat too.
  EXPECT_EQ(CheckParameterList(Params{{"NOTIFY", "NEVER"}, {"NOTIFY", "NEVER"}}, true),
            MakeLocalReply(LocalReply::kRepeatedParameter));
  EXPECT_EQ(CheckParameterList(Params{{"RET", "FULL"}, {"ENVID", "x"}, {"SIZE", "1"}}, true),
            std::nullopt);
  // Without EHLO that is what is refused first.
  EXPECT_EQ(CheckParameterList(Params{{"SIZE", "1"}, {"SIZE", "1"}}, false),
            MakeLocalReply(LocalReply::kParametersNeedEhlo));
}

TEST(CheckMailParams, NoParametersHaveNoEffects) { EXPECT_EQ(MailEffects({}), MailParamEffects{}); }

TEST(CheckMailParams, Size) {
  EXPECT_EQ(MailEffects({{"SIZE", "12345"}}).size_hint, 12345u);
  EXPECT_EQ(MailEffects({{"SIZE", "0"}}).size_hint, 0u);
  // The limit is the caller's: any 64-bit value is taken.
  EXPECT_EQ(MailEffects({{"SIZE", "18446744073709551615"}}).size_hint, 18446744073709551615u);
  EXPECT_EQ(MailRefusal({{"SIZE", "abc"}}), Wire(LocalReply::kBadSizeParameter));
  EXPECT_EQ(MailRefusal({{"SIZE", ""}}), Wire(LocalReply::kBadSizeParameter));
  EXPECT_EQ(MailRefusal({{"SIZE", "18446744073709551616"}}), Wire(LocalReply::kBadSizeParameter));
  // SIZE belongs to no optional extension.
  EXPECT_EQ(MailRefusal({{"SIZE", "10"}}, Nothing()), "");
}

TEST(CheckMailParams, Body) {
  EXPECT_EQ(MailRefusal({{"BODY", "7BIT"}}), "");
  EXPECT_EQ(MailRefusal({{"BODY", "7bit"}}, Nothing()), "");
  EXPECT_EQ(MailRefusal({{"BODY", "8BITMIME"}}), "");
  EXPECT_EQ(MailRefusal({{"BODY", "8bitMIME"}}), "");
  EXPECT_EQ(MailRefusal({{"BODY", "8BITMIME"}}, Nothing()), Unsupported("BODY"));
  // BINARYMIME is never offered, with or without the other extensions.
  EXPECT_EQ(MailRefusal({{"BODY", "BINARYMIME"}}), Unsupported("BODY"));
  EXPECT_EQ(MailRefusal({{"BODY", "binarymime"}}, Nothing()), Unsupported("BODY"));
  EXPECT_EQ(MailRefusal({{"BODY", "FOO"}}), Wire(LocalReply::kBadBodyParameter));
  EXPECT_EQ(MailRefusal({{"BODY", ""}}), Wire(LocalReply::kBadBodyParameter));
  EXPECT_EQ(MailRefusal({{"BODY", "FOO"}}, Nothing()), Wire(LocalReply::kBadBodyParameter));
}

TEST(CheckMailParams, Smtputf8) {
  EXPECT_FALSE(MailEffects({{"BODY", "8BITMIME"}}).smtputf8);
  EXPECT_TRUE(MailEffects({{"SMTPUTF8", ""}}).smtputf8);
  EXPECT_EQ(MailRefusal({{"SMTPUTF8", "yes"}}), Wire(LocalReply::kSmtputf8Value));
  // Not offered: unknown, whatever its value.
  EXPECT_EQ(MailRefusal({{"SMTPUTF8", ""}}, Nothing()), Unsupported("SMTPUTF8"));
  EXPECT_EQ(MailRefusal({{"SMTPUTF8", "yes"}}, Nothing()), Unsupported("SMTPUTF8"));
}

TEST(CheckMailParams, Ret) {
  for (const char* value : {"FULL", "HDRS", "full", "Hdrs"}) {
    EXPECT_EQ(MailRefusal({{"RET", value}}), "") << value;
  }
  for (const char* value : {"ALL", "", "FULLX", "FULL,HDRS"}) {
    EXPECT_EQ(MailRefusal({{"RET", value}}), Wire(LocalReply::kBadRetParameter)) << value;
  }
}

TEST(CheckMailParams, EnvidIsXtextOfAtMost100Octets) {
  EXPECT_EQ(MailRefusal({{"ENVID", "QQ+2B1.x"}}), "");
  EXPECT_EQ(MailRefusal({{"ENVID", std::string(100, 'a')}}), "");
  EXPECT_EQ(MailRefusal({{"ENVID", std::string(101, 'a')}}), Wire(LocalReply::kBadEnvidParameter));
  EXPECT_EQ(MailRefusal({{"ENVID", ""}}), Wire(LocalReply::kBadEnvidParameter));
  // The length counts the octets as sent, "+XX" as three.
  EXPECT_EQ(MailRefusal({{"ENVID", std::string(97, 'a') + "+2B"}}), "");
  EXPECT_EQ(MailRefusal({{"ENVID", std::string(98, 'a') + "+2B"}}),
            Wire(LocalReply::kBadEnvidParameter));
}

TEST(CheckMailParams, Xtext) {
  // Every xchar, "!" to "~" but "+" and "=".
  std::string xchars;
  for (char c = '!'; c <= '~'; ++c) {
    if (c != '+' && c != '=') xchars.push_back(c);
  }
  ASSERT_EQ(xchars.size(), 92u);
  EXPECT_EQ(MailRefusal({{"ENVID", xchars}}), "");
  for (const char* good : {"+2B", "a+3Db", "+00+FF", "+41+42+43"}) {
    EXPECT_EQ(MailRefusal({{"ENVID", good}}), "") << good;
  }
  // hexchar is "+" and exactly two upper-case hex digits.
  for (const char* bad : {"a+2g", "a+2", "a+", "+", "a+2b", "+ff", "a+G0", "a=b", "a b", "a\tb",
                          "a\x7f", "j\xC3\xB6rg"}) {
    EXPECT_EQ(MailRefusal({{"ENVID", bad}}), Wire(LocalReply::kBadEnvidParameter)) << bad;
  }
  // RFC 6533's "\x{HEX}" is only for utf-8 addresses: in an ENVID a backslash is a plain xchar.
  EXPECT_EQ(MailRefusal({{"ENVID", "a\\x{"}}), "");
}

TEST(CheckMailParams, DsnNotOffered) {
  EXPECT_EQ(MailRefusal({{"RET", "FULL"}}, Nothing()), Unsupported("RET"));
  EXPECT_EQ(MailRefusal({{"ENVID", "x"}}, Nothing()), Unsupported("ENVID"));
  // Even a bad value gets 555: the keyword itself is unknown.
  EXPECT_EQ(MailRefusal({{"RET", "ALL"}}, Nothing()), Unsupported("RET"));
}

TEST(CheckMailParams, UnknownKeywordsAndRcptOnesGet555) {
  for (const char* keyword : {"FROB", "X-THING", "AUTH", "NOTIFY", "ORCPT"}) {
    EXPECT_EQ(MailRefusal({{keyword, "1"}}), Unsupported(keyword)) << keyword;
  }
  // Keywords arrive upper-cased from the parser; anything else is not one we know.
  EXPECT_EQ(MailRefusal({{"size", "1"}}), Unsupported("size"));
}

TEST(CheckMailParams, TheFirstRefusalDecides) {
  EXPECT_EQ(MailRefusal({{"BODY", "FOO"}, {"FROB", ""}}), Wire(LocalReply::kBadBodyParameter));
  EXPECT_EQ(MailRefusal({{"FROB", ""}, {"BODY", "FOO"}}), Unsupported("FROB"));
  EXPECT_EQ(MailRefusal({{"SMTPUTF8", ""}, {"SIZE", "10"}, {"RET", "ALL"}}),
            Wire(LocalReply::kBadRetParameter));
}

TEST(CheckMailParams, EffectsOfAFullList) {
  EXPECT_EQ(MailEffects({{"SIZE", "100"},
                         {"BODY", "8BITMIME"},
                         {"SMTPUTF8", ""},
                         {"RET", "HDRS"},
                         {"ENVID", "QQ+2B1"}}),
            (MailParamEffects{.size_hint = 100, .smtputf8 = true}));
}

TEST(CheckRcptParams, NotifyNeverStandsAlone) {
  for (const char* good : {"NEVER", "never", "SUCCESS", "FAILURE", "DELAY", "SUCCESS,FAILURE",
                           "delay,Success,FAILURE", "FAILURE,DELAY"}) {
    EXPECT_EQ(RcptRefusal({{"NOTIFY", good}}), "") << good;
  }
  for (const char* bad :
       {"NEVER,SUCCESS", "SUCCESS,NEVER", "NEVER,NEVER", "SUCCESS,SUCCESS", "FAILURE,DELAY,failure",
        "BOGUS", "", "SUCCESS,", ",SUCCESS", "SUCCESS,,DELAY", "SUCCESS FAILURE"}) {
    EXPECT_EQ(RcptRefusal({{"NOTIFY", bad}}), Wire(LocalReply::kBadNotifyParameter)) << bad;
  }
}

TEST(CheckRcptParams, OrcptForms) {
  for (const char* good :
       {"rfc822;a@x.org", "rfc822;a+40x.org", "RFC822;a", "x-type.1_b;a", "utf-8;j\xC3\xB6rg@x.org",
        "utf-8;j\\x{F6}rg\\x{40}x.org", "UTF-8;\\x{1F600}", "utf-8;\\x{10FFFF}", "rfc822;a\\b"}) {
    EXPECT_EQ(RcptRefusal({{"ORCPT", good}}), "") << good;
  }
  for (const char* bad : {"rfc822", ";a@x.org", "rfc822;", "rf@c;a", "rfc 822;a",
                          "rfc822;j\xC3\xB6rg@x.org", "rfc822;a=b", "rfc822;a+4", "rfc822;a+4g",
                          "utf-8;a\\b", "utf-8;\\x{}", "utf-8;\\x{1234567}", "utf-8;\\x{12",
                          "utf-8;\\x{G}", "utf-8;\\y{12}", "utf-8;a=b", "utf-8;a+zz"}) {
    EXPECT_EQ(RcptRefusal({{"ORCPT", bad}}), Wire(LocalReply::kBadOrcptParameter)) << bad;
  }
}

TEST(CheckRcptParams, OrcptIsAtMost500Octets) {
  // The limit is on the whole value, address type included.
  const std::string at_limit = "rfc822;" + std::string(500 - 7, 'a');
  ASSERT_EQ(at_limit.size(), 500u);
  EXPECT_EQ(RcptRefusal({{"ORCPT", at_limit}}), "");
  EXPECT_EQ(RcptRefusal({{"ORCPT", at_limit + "a"}}), Wire(LocalReply::kBadOrcptParameter));
}

TEST(CheckRcptParams, DsnNotOfferedAndUnknownKeywords) {
  EXPECT_EQ(RcptRefusal({{"NOTIFY", "NEVER"}}, Nothing()), Unsupported("NOTIFY"));
  EXPECT_EQ(RcptRefusal({{"ORCPT", "rfc822;a@x.org"}}, Nothing()), Unsupported("ORCPT"));
  for (const char* keyword : {"FROB", "SIZE", "BODY", "RET", "ENVID", "SMTPUTF8"}) {
    EXPECT_EQ(RcptRefusal({{keyword, ""}}), Unsupported(keyword)) << keyword;
  }
}

TEST(CheckRcptParams, BothDsnParametersAndTheFirstRefusal) {
  EXPECT_EQ(RcptRefusal({{"NOTIFY", "SUCCESS,FAILURE,DELAY"}, {"ORCPT", "rfc822;a+40x.org"}}), "");
  EXPECT_EQ(RcptRefusal({{"NOTIFY", "BOGUS"}, {"ORCPT", "rfc822"}}),
            Wire(LocalReply::kBadNotifyParameter));
  EXPECT_EQ(RcptRefusal({{"FROB", ""}, {"NOTIFY", "BOGUS"}}), Unsupported("FROB"));
  EXPECT_EQ(RcptRefusal({}), "");
}

}  // namespace
}  // namespace volley::smtp
