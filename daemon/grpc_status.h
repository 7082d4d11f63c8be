// The one place absl::Status becomes grpc::Status (the codes share their numbers).
//   reactor->Finish(ToGrpcStatus(router.Logout(id, now)));
#ifndef ACD_DAEMON_GRPC_STATUS_H_
#define ACD_DAEMON_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace acd::daemon {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace acd::daemon

#endif  // ACD_DAEMON_GRPC_STATUS_H_
