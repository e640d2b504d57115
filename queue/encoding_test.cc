#include "queue/encoding.h"

#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace volley::queue {
namespace {

TEST(Encoding, FixedBigEndianSortsNumerically) {
  std::string a, b;
  PutFixed64BE(&a, 255);
  PutFixed64BE(&b, 256);
  EXPECT_LT(a, b);
  absl::string_view in = b;
  uint64_t v;
  ASSERT_TRUE(GetFixed64BE(&in, &v));
  EXPECT_EQ(v, 256u);
  EXPECT_TRUE(in.empty());
}

TEST(Encoding, VarintRoundTrip) {
  for (uint64_t value : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{300},
                         uint64_t{1} << 35, UINT64_MAX}) {
    std::string out;
    PutVarint64(&out, value);
    absl::string_view in = out;
    uint64_t decoded = 0;
    ASSERT_TRUE(GetVarint64(&in, &decoded)) << value;
    EXPECT_EQ(decoded, value);
    EXPECT_TRUE(in.empty());
  }
}

TEST(Encoding, TruncatedInputIsRejected) {
  std::string out;
  PutVarint64(&out, 1u << 20);
  absl::string_view in(out.data(), out.size() - 1);
  uint64_t v;
  EXPECT_FALSE(GetVarint64(&in, &v));

  std::string s;
  PutLengthPrefixed(&s, "hello");
  absl::string_view short_in(s.data(), s.size() - 1);
  std::string value;
  EXPECT_FALSE(GetLengthPrefixed(&short_in, &value));

  absl::string_view three("abc");
  uint32_t u;
  EXPECT_FALSE(GetFixed32BE(&three, &u));
}

TEST(Encoding, LengthPrefixedKeepsBinary) {
  std::string out;
  const std::string binary("a\0b\xff", 4);
  PutLengthPrefixed(&out, binary);
  PutLengthPrefixed(&out, "");
  absl::string_view in = out;
  std::string first, second;
  ASSERT_TRUE(GetLengthPrefixed(&in, &first));
  ASSERT_TRUE(GetLengthPrefixed(&in, &second));
  EXPECT_EQ(first, binary);
  EXPECT_EQ(second, "");
}

}  // namespace
}  // namespace volley::queue
