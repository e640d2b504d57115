#include "engine/inject/auth_file.h"

#include <crypt.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace volley::inject {
namespace {

// A hash as mkpasswd makes it, with libxcrypt's own salt generator (`prefix`: "$y$", "$6$").
std::string Hash(const char* prefix, const char* password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn(prefix, 0, nullptr, 0, salt, sizeof(salt)), nullptr);
  struct crypt_data data = {};
  const char* hash = crypt_rn(password, salt, &data, sizeof(data));
  EXPECT_NE(hash, nullptr);
  return hash;
}

TEST(UserTableTest, ChecksYescryptAndSha512CryptUsers) {
  const std::string text = absl::StrCat("# platform users\n\nalice:", Hash("$y$", "alice pw"),
                                        "\nbob:", Hash("$6$", "b0b"), "\n");
  absl::StatusOr<UserTable> users = UserTable::Parse(text, "users");
  ASSERT_TRUE(users.ok()) << users.status();
  EXPECT_EQ(users->size(), 2u);
  EXPECT_TRUE(users->Check("alice", "alice pw"));
  EXPECT_TRUE(users->Check("bob", "b0b"));
  EXPECT_FALSE(users->Check("alice", "b0b"));
  EXPECT_FALSE(users->Check("bob", "B0B"));
  EXPECT_FALSE(users->Check("bob", ""));
  EXPECT_FALSE(users->Check("carol", "alice pw"));
  EXPECT_FALSE(users->Check("Alice", "alice pw"));  // user names are exact
}

TEST(UserTableTest, RefusesBadLinesNamingTheLine) {
  const std::string good = Hash("$6$", "x");
  struct Case {
    std::string text;
    std::string message;
  } cases[] = {
      {absl::StrCat("a:", good, "\nnocolon\n"), "users:2: expected user:hash"},
      {absl::StrCat(":", good), "users:1: empty user name"},
      {absl::StrCat("a:", good, "\na:", good), "users:2: a is listed twice"},
      {"a:not a hash!", "users:1: the hash of a is not a crypt(3) hash"},
      {"a:$1$abcdefgh$8cDm5b/9kFXBPxrBGjC6W/", "users:1: the hash of a is a legacy format"},
      {"a:abJnggxhB/yWI", "users:1: the hash of a is a legacy format"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<UserTable> users = UserTable::Parse(c.text, "users");
    ASSERT_FALSE(users.ok()) << c.text;
    EXPECT_NE(users.status().message().find(c.message), absl::string_view::npos) << users.status();
  }
}

TEST(UserTableTest, LoadNamesAMissingFile) {
  absl::StatusOr<UserTable> users = UserTable::Load("/nonexistent/volley-users");
  ASSERT_FALSE(users.ok());
  EXPECT_NE(users.status().message().find("/nonexistent/volley-users"), absl::string_view::npos);
}

}  // namespace
}  // namespace volley::inject
