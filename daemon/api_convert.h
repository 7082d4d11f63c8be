// The one place where the routing library's types and acd.v1's messages meet: enum conversions,
// requests turned into the router's specs, and the router's views turned into API messages.
// Pure functions; no state, no clock.
//   absl::StatusOr<routing::AgentSpec> spec = AgentSpecOf(login_request);
//   FillAgentInfo(*router.FindAgent("a1"), &info);
#ifndef ACD_DAEMON_API_CONVERT_H_
#define ACD_DAEMON_API_CONVERT_H_

#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "acd/v1/acd.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "routing/compiled_policy.h"
#include "routing/prompt_kind.h"
#include "routing/router.h"

namespace acd::daemon {

acd::v1::AgentState AgentStateToProto(routing::AgentState state);
acd::v1::CallState CallStateToProto(routing::CallState state);
acd::v1::Channel ChannelToProto(routing::Channel channel);
acd::v1::PlayPrompt::Kind PromptKindToProto(routing::PromptKind kind);
google::protobuf::Timestamp TimestampOf(absl::Time t);
// The same message always gives the same bytes (map entries in key order), so equal bytes mean an
// exact repeat.
std::string DeterministicBytes(const google::protobuf::Message& message);
// A duration the API states in seconds, where -1 says "unknown".
double SecondsOrUnknown(const std::optional<absl::Duration>& d);

// The router's view of a request. Fields the router checks itself (queue, skills, tier...) pass
// through unchecked; a login naming no channel for a capacity is INVALID_ARGUMENT here.
routing::CallSpec CallSpecOf(const acd::v1::EnqueueCallRequest& request);
absl::StatusOr<routing::AgentSpec> AgentSpecOf(const acd::v1::LoginRequest& request);

acd::v1::EnqueueCallResponse EnqueueResponseOf(const routing::EnqueueResult& result);
void FillAgentInfo(const routing::AgentView& view, acd::v1::AgentInfo* info);
// `now` dates the oldest wait.
void FillQueueInfo(const routing::CompiledQueue& queue, const routing::QueueView& view,
                   absl::Time now, acd::v1::QueueInfo* info);

}  // namespace acd::daemon

#endif  // ACD_DAEMON_API_CONVERT_H_
