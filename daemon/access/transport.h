// How acdd's listeners are exposed: the secure-by-default rule for their addresses, and the TLS
// files behind them.
//   if (absl::Status s = CheckExposure(exposure); !s.ok()) return Fail(s.message());
//   if (absl::Status s = CheckTlsFiles(files); !s.ok()) return Fail(s.message());
//   builder.AddListeningPort(listen, GrpcTlsCredentials(files), &port);
#ifndef ACD_DAEMON_ACCESS_TRANSPORT_H_
#define ACD_DAEMON_ACCESS_TRANSPORT_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/server_credentials.h"

namespace acd::daemon {

// Is HOST of HOST:PORT a loopback address (127.0.0.0/8, ::1, localhost)? "0.0.0.0", "[::]" and
// an empty host listen on every interface: not loopback.
bool IsLoopbackListen(absl::string_view host_port);

// What acdd is about to listen with.
struct Exposure {
  std::string grpc_listen, http_listen;
  bool grpc_tls = false;  // --tls_cert
  bool http_tls = false;  // --tls_cert and --http_tls
  bool tokens = false;    // --auth_tokens
  bool allow_insecure = false;
};
// On loopback anything goes (./acd.sh run stays one command). A listener on any other address
// needs TLS and tokens, unless --allow_insecure: FAILED_PRECONDITION saying what to add.
absl::Status CheckExposure(const Exposure& exposure);

// The gRPC listener's TLS: its certificate chain and key (PEM files), and the CA whose client
// certificates it requires (mutual TLS; empty: no client certificate asked for).
struct TlsFiles {
  std::string certificate, key, client_ca;
};
// Loads the files with OpenSSL and checks the key is the certificate's, so that a wrong file
// stops acdd at start instead of failing every handshake later. INVALID_ARGUMENT naming the file.
absl::Status CheckTlsFiles(const TlsFiles& files);
// gRPC's TLS credentials for `files`, re-read once a minute: a renewed certificate (cert-manager,
// a cron job) is served without a restart.
std::shared_ptr<grpc::ServerCredentials> GrpcTlsCredentials(const TlsFiles& files);

}  // namespace acd::daemon

#endif  // ACD_DAEMON_ACCESS_TRANSPORT_H_
