// See access_gate.h.
#include "daemon/access/access_gate.h"

#include "daemon/grpc_status.h"

namespace acd::daemon {
namespace {

absl::string_view Find(const grpc::AuthMetadataProcessor::InputMetadata& metadata,
                       absl::string_view key) {
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return {};
  return absl::string_view(it->second.data(), it->second.size());
}

}  // namespace

grpc::Status AccessGate::Process(const InputMetadata& metadata, grpc::AuthContext* context,
                                 OutputMetadata* consumed, OutputMetadata* response) {
  const absl::string_view method = Find(metadata, ":path");
  if (IsOpenMethod(method)) return grpc::Status::OK;
  absl::StatusOr<Caller> caller = access_->Admit(Find(metadata, "authorization"), method);
  return caller.ok() ? grpc::Status::OK : ToGrpcStatus(caller.status());
}

}  // namespace acd::daemon
