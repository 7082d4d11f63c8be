#include "routing/types.h"

namespace acd::routing {

absl::string_view ChannelName(Channel channel) {
  switch (channel) {
    case Channel::kVoice: return "voice";
    case Channel::kChat: return "chat";
    case Channel::kEmail: return "email";
    case Channel::kSms: return "sms";
    case Channel::kSocial: return "social";
    case Channel::kVideo: return "video";
  }
  return "unknown";
}

absl::string_view AgentStateName(AgentState state) {
  switch (state) {
    case AgentState::kLoggedOut: return "logged_out";
    case AgentState::kReady: return "ready";
    case AgentState::kNotReady: return "not_ready";
    case AgentState::kReserved: return "reserved";
    case AgentState::kBusy: return "busy";
    case AgentState::kWrapUp: return "wrap_up";
  }
  return "unknown";
}

absl::string_view TransferKindName(TransferKind kind) {
  switch (kind) {
    case TransferKind::kBlind: return "blind";
    case TransferKind::kWarm: return "warm";
  }
  return "unknown";
}

}  // namespace acd::routing
