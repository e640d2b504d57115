#include "tls/tls_context.h"

#include <openssl/err.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tls/testdata/testdata_paths.h"

namespace volley::tls {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TlsContextOptions ServerOptions(const std::string& cert, const std::string& key) {
  TlsContextOptions options;
  options.role = TlsContextOptions::Role::kServer;
  options.cert_file = TlsTestDataPath(cert);
  options.key_file = TlsTestDataPath(key);
  return options;
}

std::string WriteTempFile(const std::string& name, const std::string& contents) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
  std::ofstream(path) << contents;
  return path;
}

TEST(TlsContextTest, ServerWithEcAndRsaKeys) {
  for (const char* name : {"mx", "rsa", "other", "selfsigned"}) {
    SCOPED_TRACE(name);
    absl::StatusOr<std::shared_ptr<TlsContext>> context =
        TlsContext::Create(ServerOptions(std::string(name) + ".pem", std::string(name) + ".key"));
    ASSERT_TRUE(context.ok()) << context.status();
    EXPECT_NE((*context)->get(), nullptr);
    EXPECT_EQ((*context)->role(), TlsContextOptions::Role::kServer);
  }
}

TEST(TlsContextTest, ClientWithTestCaAndWithSystemBundle) {
  TlsContextOptions options;
  options.ca_file = TlsTestDataPath("ca.pem");
  absl::StatusOr<std::shared_ptr<TlsContext>> context = TlsContext::Create(options);
  ASSERT_TRUE(context.ok()) << context.status();
  EXPECT_EQ((*context)->role(), TlsContextOptions::Role::kClient);

  options.ca_file.clear();  // /etc/ssl/certs/ca-certificates.crt
  context = TlsContext::Create(options);
  ASSERT_TRUE(context.ok()) << context.status();
}

TEST(TlsContextTest, VersionsAreApplied) {
  TlsContextOptions options = ServerOptions("mx.pem", "mx.key");
  options.min_version = TlsVersion::kTls13;
  absl::StatusOr<std::shared_ptr<TlsContext>> context = TlsContext::Create(options);
  ASSERT_TRUE(context.ok()) << context.status();
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*context)->get()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_max_proto_version((*context)->get()), TLS1_3_VERSION);

  options.min_version = TlsVersion::kTls12;
  options.max_version = TlsVersion::kTls12;
  context = TlsContext::Create(options);
  ASSERT_TRUE(context.ok()) << context.status();
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*context)->get()), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CTX_get_max_proto_version((*context)->get()), TLS1_2_VERSION);
}

TEST(TlsContextTest, MinAboveMaxIsRefused) {
  TlsContextOptions options;
  options.ca_file = TlsTestDataPath("ca.pem");
  options.min_version = TlsVersion::kTls13;
  options.max_version = TlsVersion::kTls12;
  absl::StatusOr<std::shared_ptr<TlsContext>> context = TlsContext::Create(options);
  EXPECT_EQ(context.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TlsContextTest, ServerNeedsCertificateAndKey) {
  TlsContextOptions options;
  options.role = TlsContextOptions::Role::kServer;
  absl::StatusOr<std::shared_ptr<TlsContext>> context = TlsContext::Create(options);
  EXPECT_EQ(context.status().code(), absl::StatusCode::kInvalidArgument);

  options = ServerOptions("mx.pem", "mx.key");
  options.key_file.clear();
  context = TlsContext::Create(options);
  EXPECT_EQ(context.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TlsContextTest, MissingCertificateFileIsNamed) {
  TlsContextOptions options = ServerOptions("mx.pem", "mx.key");
  options.cert_file = "/nonexistent/volley/cert.pem";
  absl::StatusOr<std::shared_ptr<TlsContext>> context = TlsContext::Create(options);
  EXPECT_EQ(context.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(context.status().message(),
              AllOf(HasSubstr("/nonexistent/volley/cert.pem"), HasSubstr("No such file")));
}

TEST(TlsContextTest, MissingKeyFileIsNamed) {
  TlsContextOptions options = ServerOptions("mx.pem", "mx.key");
  options.key_file = "/nonexistent/volley/key.pem";
  absl::StatusOr<std::shared_ptr<TlsContext>> context = TlsContext::Create(options);
  EXPECT_EQ(context.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(context.status().message(), HasSubstr("/nonexistent/volley/key.pem"));
}

TEST(TlsContextTest, MissingCaFileIsNamed) {
  TlsContextOptions options;
  options.ca_file = "/nonexistent/volley/ca.pem";
  absl::StatusOr<std::shared_ptr<TlsContext>> context = TlsContext::Create(options);
  EXPECT_EQ(context.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(context.status().message(), HasSubstr("/nonexistent/volley/ca.pem"));
}

TEST(TlsContextTest, KeyNotMatchingCertificateNamesBothFiles) {
  TlsContextOptions options = ServerOptions("mx.pem", "other.key");
  absl::StatusOr<std::shared_ptr<TlsContext>> context = TlsContext::Create(options);
  EXPECT_EQ(context.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(context.status().message(),
              AllOf(HasSubstr(options.key_file), HasSubstr(options.cert_file),
                    HasSubstr("KEY_VALUES_MISMATCH")));
  // The reason went into the message, not left behind on the thread's error queue.
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(TlsContextTest, GarbageFilesAreNamedWithBoringSslReason) {
  const std::string garbage = WriteTempFile("garbage.pem", "this is not PEM\n");
  TlsContextOptions options = ServerOptions("mx.pem", "mx.key");
  options.cert_file = garbage;
  absl::StatusOr<std::shared_ptr<TlsContext>> context = TlsContext::Create(options);
  EXPECT_EQ(context.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(context.status().message(), AllOf(HasSubstr(garbage), HasSubstr("PEM")));

  options = ServerOptions("mx.pem", "mx.key");
  options.key_file = garbage;
  context = TlsContext::Create(options);
  EXPECT_EQ(context.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(context.status().message(), AllOf(HasSubstr(garbage), HasSubstr("PEM")));

  TlsContextOptions client;
  client.ca_file = garbage;
  context = TlsContext::Create(client);
  EXPECT_EQ(context.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(context.status().message(), HasSubstr(garbage));
}

TEST(TlsContextTest, DrainErrorsEmptiesTheQueue) {
  EXPECT_EQ(DrainErrors(), "");
  OPENSSL_PUT_ERROR(X509, X509_R_KEY_VALUES_MISMATCH);
  OPENSSL_PUT_ERROR(SSL, SSL_R_NO_CERTIFICATE_SET);
  const std::string text = DrainErrors();
  EXPECT_THAT(text, AllOf(HasSubstr("KEY_VALUES_MISMATCH"), HasSubstr("; "),
                          HasSubstr("NO_CERTIFICATE_SET")));
  EXPECT_EQ(ERR_peek_error(), 0u);
  EXPECT_EQ(DrainErrors(), "");
}

}  // namespace
}  // namespace volley::tls
