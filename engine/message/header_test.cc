#include "engine/message/header.h"

#include <string>

#include "gtest/gtest.h"

namespace volley::message {
namespace {

TEST(FindHeader, FindsHeadersOnlyInTheHeaderSection) {
  const std::string msg =
      "From: a@b\r\nmessage-id:  <x@y>  \r\nSubject: long\r\n  folded line\r\n\r\n"
      "Message-ID: <body@not-a-header>\r\n";
  EXPECT_EQ(FindHeader(msg, "Message-ID"), "<x@y>");
  EXPECT_EQ(FindHeader(msg, "subject"), "long folded line");
  EXPECT_EQ(FindHeader(msg, "To"), "");
  EXPECT_EQ(FindHeader("Subject: x\r\n\r\nMessage-ID: <b>\r\n", "Message-ID"), "");
  EXPECT_EQ(FindHeader("Subject: x\n\nbody\n", "subject"), "x");
  // A field whose name only starts with the one asked for.
  EXPECT_EQ(FindHeader("Message-IDs: <no>\r\n\r\n", "Message-ID"), "");
}

TEST(HeaderReader, SplitsFieldsWithTheirContinuationLines) {
  const std::string msg = "From: a@b\r\nSubject: one\r\n two\r\nX-Obsolete : yes\r\n\r\nbody\r\n";
  HeaderSection section = SplitHeader(msg);
  ASSERT_EQ(section.fields.size(), 3u);
  EXPECT_EQ(section.fields[0].name, "From");
  EXPECT_EQ(section.fields[0].raw, "From: a@b\r\n");
  EXPECT_EQ(section.fields[1].raw, "Subject: one\r\n two\r\n");
  EXPECT_EQ(section.fields[2].name, "X-Obsolete");
  EXPECT_EQ(section.separator, "\r\n");
  EXPECT_EQ(section.body, "body\r\n");
  EXPECT_EQ(UnfoldedValue(section.fields[1]), " one two");
  ASSERT_NE(FindField(section, "subject"), nullptr);
  EXPECT_EQ(FindField(section, "subject")->name, "Subject");
  EXPECT_EQ(FindField(section, "To"), nullptr);
}

TEST(HeaderReader, ALineThatIsNoFieldStartsTheBody) {
  HeaderSection section = SplitHeader("From: a@b\nthis is text\nmore\n");
  ASSERT_EQ(section.fields.size(), 1u);
  EXPECT_EQ(section.separator, "");
  EXPECT_EQ(section.body, "this is text\nmore\n");
  // A leading continuation line with no field before it is body too.
  section = SplitHeader(" indented\r\n");
  EXPECT_TRUE(section.fields.empty());
  EXPECT_EQ(section.body, " indented\r\n");
}

TEST(HeaderReader, AMessageWithoutBody) {
  HeaderSection section = SplitHeader("Subject: x\r\n");
  ASSERT_EQ(section.fields.size(), 1u);
  EXPECT_EQ(section.separator, "");
  EXPECT_EQ(section.body, "");
  section = SplitHeader("");
  EXPECT_TRUE(section.fields.empty());
  EXPECT_EQ(section.body, "");
}

TEST(HeaderReader, EightBitOctetsAreNameCharacters) {
  HeaderSection section = SplitHeader("X-Caf\xc3\xa9: v\r\n\r\n");
  ASSERT_EQ(section.fields.size(), 1u);
  EXPECT_EQ(section.fields[0].name, "X-Caf\xc3\xa9");
}

TEST(LineAt, StripsCrlfOrLf) {
  Line line = LineAt("a\r\nb\nc", 0);
  EXPECT_EQ(line.text, "a");
  EXPECT_EQ(line.next, 3u);
  line = LineAt("a\r\nb\nc", 3);
  EXPECT_EQ(line.text, "b");
  line = LineAt("a\r\nb\nc", 5);
  EXPECT_EQ(line.text, "c");
  EXPECT_EQ(line.next, 6u);
}

}  // namespace
}  // namespace volley::message
