// See client_access.h.
#include "daemon/access/client_access.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/client_interceptor.h"

ABSL_FLAG(std::string, token_file, "",
          "file holding this client's token (acdctl token makes one); sent with every call");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA that signed acdd's certificate: talk TLS (empty: plain gRPC, unless --tls_cert)");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate, for acdd's mutual TLS");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");

namespace acd::daemon {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* flag) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (!in) return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": cannot read it"));
  return buffer.str();
}

// Adds "authorization: Bearer TOKEN" to every call's metadata, on any channel (gRPC's own call
// credentials are sent over TLS only; this also reaches an acdd on loopback without TLS).
class BearerToken final : public grpc::experimental::Interceptor {
 public:
  explicit BearerToken(const std::string* header) : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", *header_);
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class BearerTokenFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenFactory(std::string token) : header_(absl::StrCat("Bearer ", token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new BearerToken(&header_);
  }

 private:
  const std::string header_;  // lives as long as the channel, which owns this factory
};

}  // namespace

ClientAccess ClientAccessFromFlags() {
  return {.token_file = absl::GetFlag(FLAGS_token_file),
          .tls_ca = absl::GetFlag(FLAGS_tls_ca),
          .tls_cert = absl::GetFlag(FLAGS_tls_cert),
          .tls_key = absl::GetFlag(FLAGS_tls_key)};
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(
    const std::string& server, const ClientAccess& access,
    const grpc::ChannelArguments& arguments) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (access.tls_cert.empty() != access.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (!access.tls_ca.empty() || !access.tls_cert.empty()) {
    grpc::SslCredentialsOptions tls;
    for (auto [path, flag, into] :
         {std::tuple{&access.tls_ca, "--tls_ca", &tls.pem_root_certs},
          std::tuple{&access.tls_cert, "--tls_cert", &tls.pem_cert_chain},
          std::tuple{&access.tls_key, "--tls_key", &tls.pem_private_key}}) {
      if (path->empty()) continue;
      absl::StatusOr<std::string> pem = ReadFile(*path, flag);
      if (!pem.ok()) return pem.status();
      *into = *std::move(pem);
    }
    credentials = grpc::SslCredentials(tls);
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  if (!access.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadFile(access.token_file, "--token_file");
    if (!token.ok()) return token.status();
    const std::string trimmed(absl::StripAsciiWhitespace(*token));
    if (trimmed.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token_file ", access.token_file, " is empty"));
    }
    interceptors.push_back(std::make_unique<BearerTokenFactory>(trimmed));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(server, credentials, arguments,
                                                                 std::move(interceptors));
}

}  // namespace acd::daemon
