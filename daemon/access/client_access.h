// How acd's clients (acdctl, acdload) reach an acdd that asks for TLS and tokens: the flags they
// share and the channel they make from them.
//   --token_file FILE   the token (acdctl token made it), sent as "authorization: Bearer TOKEN"
//   --tls_ca FILE       PEM CA that signed acdd's certificate: TLS instead of plain gRPC
//   --tls_cert FILE --tls_key FILE   this client's certificate, for acdd's mutual TLS
//   absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ChannelFromFlags(server);
#ifndef ACD_DAEMON_ACCESS_CLIENT_ACCESS_H_
#define ACD_DAEMON_ACCESS_CLIENT_ACCESS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/channel_arguments.h"

namespace acd::daemon {

struct ClientAccess {
  std::string token_file, tls_ca, tls_cert, tls_key;
};
// The flags above.
ClientAccess ClientAccessFromFlags();

// A channel to `server` as `access` says: TLS when tls_ca or tls_cert is set, the token on every
// call when token_file is. INVALID_ARGUMENT naming a file that cannot be read.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(
    const std::string& server, const ClientAccess& access,
    const grpc::ChannelArguments& arguments = {});

}  // namespace acd::daemon

#endif  // ACD_DAEMON_ACCESS_CLIENT_ACCESS_H_
