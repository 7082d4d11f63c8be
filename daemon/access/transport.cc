// See transport.h.
#include "daemon/access/transport.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace acd::daemon {
namespace {

constexpr unsigned kTlsRefreshSeconds = 60;

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no detail from OpenSSL";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

absl::string_view HostOf(absl::string_view host_port) {
  const size_t colon = host_port.rfind(':');
  absl::string_view host =
      colon == absl::string_view::npos ? host_port : host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

}  // namespace

bool IsLoopbackListen(absl::string_view host_port) {
  const absl::string_view host = HostOf(host_port);
  if (host == "localhost" || host == "::1") return true;
  std::vector<absl::string_view> octets = absl::StrSplit(host, '.');
  int first = 0;
  return octets.size() == 4 && absl::SimpleAtoi(octets[0], &first) && first == 127;
}

absl::Status CheckExposure(const Exposure& exposure) {
  if (exposure.allow_insecure) return absl::OkStatus();
  std::vector<std::string> problems;
  auto check = [&](const std::string& listen, const char* flag, bool tls, const char* add_tls) {
    if (IsLoopbackListen(listen)) return;
    std::vector<std::string> missing;
    if (!tls) missing.push_back(add_tls);
    if (!exposure.tokens) missing.push_back("--auth_tokens FILE");
    if (missing.empty()) return;
    problems.push_back(absl::StrCat(flag, " ", listen, " is not a loopback address: add ",
                                    absl::StrJoin(missing, " and ")));
  };
  check(exposure.grpc_listen, "--grpc_listen", exposure.grpc_tls, "--tls_cert FILE --tls_key FILE");
  check(exposure.http_listen, "--http_listen", exposure.http_tls,
        exposure.grpc_tls ? "--http_tls (on by default with --tls_cert)"
                          : "--tls_cert FILE --tls_key FILE");
  if (problems.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("refusing to serve the network in the clear or without tokens: ",
                   absl::StrJoin(problems, "; "),
                   " (deploy/tls/make-test-ca.sh makes certificates and acdctl token makes tokens; "
                   "--allow_insecure serves anyway, for a network you trust entirely)"));
}

absl::Status CheckTlsFiles(const TlsFiles& files) {
  if (files.certificate.empty() != files.key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (files.certificate.empty()) {
    if (!files.client_ca.empty()) {
      return absl::InvalidArgumentError(
          "--tls_client_ca needs --tls_cert and --tls_key (mutual TLS is TLS first)");
    }
    return absl::OkStatus();
  }
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_server_method()),
                                                            &SSL_CTX_free);
  if (context == nullptr) return absl::InternalError(absl::StrCat("OpenSSL: ", OpenSslError()));
  if (SSL_CTX_use_certificate_chain_file(context.get(), files.certificate.c_str()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_cert ", files.certificate, ": not a PEM certificate chain (", OpenSslError(), ")"));
  }
  if (SSL_CTX_use_PrivateKey_file(context.get(), files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_key ", files.key, ": not a PEM private key (", OpenSslError(), ")"));
  }
  if (SSL_CTX_check_private_key(context.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_key ", files.key, " is not the key of the certificate in ", files.certificate));
  }
  if (!files.client_ca.empty() &&
      SSL_CTX_load_verify_locations(context.get(), files.client_ca.c_str(), nullptr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_client_ca ", files.client_ca, ": not PEM CA certificates (", OpenSslError(), ")"));
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::ServerCredentials> GrpcTlsCredentials(const TlsFiles& files) {
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key, files.certificate, files.client_ca, kTlsRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!files.client_ca.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace acd::daemon
