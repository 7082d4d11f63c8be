// AccessGate: the gRPC listener's gate while tokens are in force. Before any handler runs, a
// call must carry a token whose role may call its method (health checks pass without one). It is
// what guards the methods that have no handler of ours (server reflection: admin only); acd's
// own services ask Access again for the caller, to check the ids its token is bound to.
// gRPC runs such a gate only on secure credentials: TLS, or local credentials on loopback.
//   auto credentials = grpc::SslServerCredentials(options);
//   credentials->SetAuthMetadataProcessor(std::make_shared<AccessGate>(&access));
#ifndef ACD_DAEMON_ACCESS_ACCESS_GATE_H_
#define ACD_DAEMON_ACCESS_ACCESS_GATE_H_

#include "daemon/access/access.h"
#include "grpcpp/security/auth_metadata_processor.h"

namespace acd::daemon {

class AccessGate final : public grpc::AuthMetadataProcessor {
 public:
  explicit AccessGate(const Access* access) : access_(access) {}
  // A hash and a table lookup: it runs inline on gRPC's thread, not on a thread of its own.
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed, OutputMetadata* response) override;

 private:
  const Access* access_;
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_ACCESS_ACCESS_GATE_H_
