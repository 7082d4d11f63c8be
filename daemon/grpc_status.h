// The one place absl::Status becomes grpc::Status (the codes share their numbers). The message
// leaves as valid UTF-8 of at most routing::kMaxMessageBytes, whatever went into it: it travels in
// the reply's HTTP/2 headers, where a too-large one breaks the client's whole connection.
//   reactor->Finish(ToGrpcStatus(router.Logout(id, now)));
#ifndef ACD_DAEMON_GRPC_STATUS_H_
#define ACD_DAEMON_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"
#include "routing/quote.h"

namespace acd::daemon {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      routing::BoundedUtf8(status.message()));
}

}  // namespace acd::daemon

#endif  // ACD_DAEMON_GRPC_STATUS_H_
