#include "daemon/api_convert.h"

#include <algorithm>
#include <string>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace acd::daemon {

acd::v1::AgentState AgentStateToProto(routing::AgentState state) {
  switch (state) {
    case routing::AgentState::kLoggedOut: return acd::v1::AGENT_STATE_LOGGED_OUT;
    case routing::AgentState::kReady: return acd::v1::AGENT_STATE_READY;
    case routing::AgentState::kNotReady: return acd::v1::AGENT_STATE_NOT_READY;
    case routing::AgentState::kReserved: return acd::v1::AGENT_STATE_RESERVED;
    case routing::AgentState::kBusy: return acd::v1::AGENT_STATE_BUSY;
    case routing::AgentState::kWrapUp: return acd::v1::AGENT_STATE_WRAP_UP;
  }
  return acd::v1::AGENT_STATE_UNSPECIFIED;
}

acd::v1::CallState CallStateToProto(routing::CallState state) {
  switch (state) {
    case routing::CallState::kWaiting: return acd::v1::CALL_STATE_WAITING;
    case routing::CallState::kOffered: return acd::v1::CALL_STATE_OFFERED;
    case routing::CallState::kConnected: return acd::v1::CALL_STATE_CONNECTED;
    case routing::CallState::kCallbackPending: return acd::v1::CALL_STATE_CALLBACK_PENDING;
  }
  return acd::v1::CALL_STATE_UNSPECIFIED;
}

acd::v1::Channel ChannelToProto(routing::Channel channel) {
  switch (channel) {
    case routing::Channel::kVoice: return acd::v1::CHANNEL_VOICE;
    case routing::Channel::kChat: return acd::v1::CHANNEL_CHAT;
    case routing::Channel::kEmail: return acd::v1::CHANNEL_EMAIL;
    case routing::Channel::kSms: return acd::v1::CHANNEL_SMS;
    case routing::Channel::kSocial: return acd::v1::CHANNEL_SOCIAL;
    case routing::Channel::kVideo: return acd::v1::CHANNEL_VIDEO;
  }
  return acd::v1::CHANNEL_UNSPECIFIED;
}

acd::v1::PlayPrompt::Kind PromptKindToProto(routing::PromptKind kind) {
  switch (kind) {
    case routing::PromptKind::kNone: break;
    case routing::PromptKind::kEntry: return acd::v1::PlayPrompt::KIND_ENTRY;
    case routing::PromptKind::kUpdate: return acd::v1::PlayPrompt::KIND_UPDATE;
    case routing::PromptKind::kHoldReminder: return acd::v1::PlayPrompt::KIND_HOLD_REMINDER;
    case routing::PromptKind::kCallbackOffer: return acd::v1::PlayPrompt::KIND_CALLBACK_OFFER;
  }
  return acd::v1::PlayPrompt::KIND_UNSPECIFIED;
}

google::protobuf::Timestamp TimestampOf(absl::Time t) {
  google::protobuf::Timestamp out;
  const int64_t nanos = absl::ToUnixNanos(t);
  out.set_seconds(nanos / 1'000'000'000);
  out.set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  return out;
}

std::string DeterministicBytes(const google::protobuf::Message& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

double SecondsOrUnknown(const std::optional<absl::Duration>& d) {
  return d ? absl::ToDoubleSeconds(*d) : -1;
}

routing::CallSpec CallSpecOf(const acd::v1::EnqueueCallRequest& request) {
  routing::CallSpec spec;
  spec.call_id = request.call_id();
  spec.queue = request.queue();
  if (request.channel() != acd::v1::CHANNEL_UNSPECIFIED) {
    spec.channel = routing::ChannelFromProto(request.channel());
  }
  for (const auto& r : request.required_skills()) {
    spec.required_skills.push_back({r.skill(), r.min_proficiency()});
  }
  spec.priority = request.priority();
  spec.tier = request.tier();
  spec.language = request.language();
  spec.preferred_agent = request.preferred_agent();
  for (const auto& [key, value] : request.attributes()) spec.attributes.emplace_back(key, value);
  std::sort(spec.attributes.begin(), spec.attributes.end());
  return spec;
}

absl::StatusOr<routing::AgentSpec> AgentSpecOf(const acd::v1::LoginRequest& request) {
  routing::AgentSpec spec;
  spec.agent_id = request.agent_id();
  for (const auto& s : request.skills()) spec.skills.push_back({s.skill(), s.proficiency()});
  spec.languages.assign(request.languages().begin(), request.languages().end());
  for (const auto& c : request.capacity()) {
    if (c.channel() == acd::v1::CHANNEL_UNSPECIFIED || !acd::v1::Channel_IsValid(c.channel())) {
      return absl::InvalidArgumentError(
          "capacity: name the channel (voice, chat, email, sms, social, video)");
    }
    spec.capacity.emplace_back(routing::ChannelFromProto(c.channel()), c.max());
  }
  spec.queues.assign(request.queues().begin(), request.queues().end());
  spec.ready = request.ready();
  return spec;
}

acd::v1::EnqueueCallResponse EnqueueResponseOf(const routing::EnqueueResult& result) {
  acd::v1::EnqueueCallResponse response;
  switch (result.disposition) {
    case routing::EnqueueResult::Disposition::kQueued:
      response.set_disposition(acd::v1::EnqueueCallResponse::DISPOSITION_QUEUED);
      break;
    case routing::EnqueueResult::Disposition::kOffered:
      response.set_disposition(acd::v1::EnqueueCallResponse::DISPOSITION_OFFERED);
      break;
    case routing::EnqueueResult::Disposition::kSentToFallback:
      response.set_disposition(acd::v1::EnqueueCallResponse::DISPOSITION_SENT_TO_FALLBACK);
      break;
  }
  response.set_position(result.position);
  response.set_expected_wait_seconds(SecondsOrUnknown(result.expected_wait));
  response.set_fallback(result.fallback);
  return response;
}

void FillAgentInfo(const routing::AgentView& view, acd::v1::AgentInfo* info) {
  info->set_agent_id(view.agent_id);
  info->set_state(AgentStateToProto(view.state));
  info->set_not_ready_reason(view.not_ready_reason);
  for (const std::string& q : view.queues) info->add_queues(q);
  info->set_calls_handled(view.calls_handled);
  info->set_missed_offers_in_a_row(view.missed_offers_in_a_row);
  *info->mutable_idle_since() = TimestampOf(view.idle_since);
}

void FillQueueInfo(const routing::CompiledQueue& queue, const routing::QueueView& view,
                   absl::Time now, acd::v1::QueueInfo* info) {
  info->set_queue(queue.name);
  info->set_channel(ChannelToProto(queue.channel));
  info->set_calls_waiting(view.calls_waiting);
  info->set_oldest_wait_seconds(
      view.oldest_arrival ? absl::ToDoubleSeconds(now - *view.oldest_arrival) : 0);
  info->set_expected_wait_seconds(SecondsOrUnknown(view.expected_wait_for_new_call));
  info->set_staffed_agents(view.staffed_agents);
  info->set_mean_handle_seconds(view.mean_handle_seconds);
  info->set_abandonment_rate_per_second(view.abandonment_rate_per_second);
  info->set_callbacks_waiting(view.callbacks_waiting);
  for (int k = 1; k < routing::kPromptKindCount; ++k) {
    (*info->mutable_prompts_played())[std::string(
        routing::PromptKindName(static_cast<routing::PromptKind>(k)))] = view.prompts_played[k];
  }
  info->set_callbacks_accepted(view.callbacks_accepted);
  info->set_callbacks_gave_up(view.callbacks_gave_up);
  info->set_hold_overruns(view.hold_overruns);
  for (int s = 0; s < routing::kAgentStateCount; ++s) {
    if (view.agents_by_state[s] == 0) continue;
    (*info->mutable_agents_by_state())[std::string(
        routing::AgentStateName(static_cast<routing::AgentState>(s)))] = view.agents_by_state[s];
  }
}

}  // namespace acd::daemon
