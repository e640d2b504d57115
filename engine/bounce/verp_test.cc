#include "engine/bounce/verp.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace volley::bounce {
namespace {

const VerpCodec& Codec() {
  static const VerpCodec* codec = new VerpCodec("Bounces.Example.NET", "a test key");
  return *codec;
}

TEST(Verp, EncodesAReadableReversibleDotAtom) {
  const std::string address = Codec().Encode("00000000000000aa", "john.smith@example.com");
  EXPECT_TRUE(absl::StartsWith(address, "b-00000000000000aa-john.smith=example.com-")) << address;
  EXPECT_TRUE(absl::EndsWith(address, "@bounces.example.net")) << address;
  absl::StatusOr<VerpAddress> back = Codec().Decode(address);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->queue_id, "00000000000000aa");
  EXPECT_EQ(back->recipient, "john.smith@example.com");
}

TEST(Verp, SpecialOctetsAreEscapedAndComeBack) {
  for (const std::string recipient : {"a+tag@x.test", "we=ird@x.test", "\"quoted local\"@x.test",
                                      "j\xC3\xB6rg@x.test", "plus+2b@x.test", "nodomain"}) {
    const std::string address = Codec().Encode("0123456789abcdef", recipient);
    const std::string local = address.substr(0, address.rfind('@'));
    for (char c : local) {
      EXPECT_TRUE(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                  c == '-' || c == '=' || c == '+')
          << address;
    }
    absl::StatusOr<VerpAddress> back = Codec().Decode(address);
    ASSERT_TRUE(back.ok()) << recipient << ": " << back.status();
    EXPECT_EQ(back->recipient, recipient);
  }
}

TEST(Verp, ALowerCasedReturnPathStillVerifies) {
  const std::string address = Codec().Encode("00000000000000aa", "John@Example.com");
  absl::StatusOr<VerpAddress> back = Codec().Decode(absl::AsciiStrToUpper(address));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(absl::AsciiStrToLower(back->recipient), "john@example.com");
  EXPECT_EQ(back->queue_id, "00000000000000aa");
}

TEST(Verp, ForgedAndForeignAddressesAreRecognised) {
  const std::string address = Codec().Encode("00000000000000aa", "victim@example.com");
  // Another recipient or message under the same signature: forged.
  std::string forged = address;
  forged.replace(forged.find("victim"), 6, "target");
  EXPECT_EQ(Codec().Decode(forged).status().code(), absl::StatusCode::kPermissionDenied);
  std::string other_message = address;
  other_message[17] = 'b';
  EXPECT_EQ(Codec().Decode(other_message).status().code(), absl::StatusCode::kPermissionDenied);
  // Another key signs differently.
  const VerpCodec other("bounces.example.net", "another key");
  EXPECT_EQ(other.Decode(address).status().code(), absl::StatusCode::kPermissionDenied);
  // Not VERP at all.
  EXPECT_EQ(Codec().Decode("postmaster@bounces.example.net").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Codec().Decode("b-00000000000000aa-x=y-0123456789ab@elsewhere.test").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(
      Codec().Decode("b-zz000000000000aa-x=y-0123456789ab@bounces.example.net").status().code(),
      absl::StatusCode::kNotFound);
  EXPECT_EQ(
      Codec().Decode("b-00000000000000aa-x+4=y-0123456789ab@bounces.example.net").status().code(),
      absl::StatusCode::kNotFound);
  EXPECT_FALSE(Codec().Decode("").ok());
  EXPECT_TRUE(Codec().IsVerpDomain("x@BOUNCES.example.net"));
}

TEST(Verp, NewKeysAreRandom) {
  EXPECT_EQ(NewVerpKey().size(), 32u);
  EXPECT_NE(NewVerpKey(), NewVerpKey());
}

}  // namespace
}  // namespace volley::bounce
