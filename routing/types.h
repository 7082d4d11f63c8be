// Small value types shared by the whole routing library: channels, dense ids, skill levels, agent
// and call states, transfer kinds. Everything here is plain data, cheap to copy, with no behaviour
// of its own.
#ifndef ACD_ROUTING_TYPES_H_
#define ACD_ROUTING_TYPES_H_

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

namespace acd::routing {

// Mirrors acd.v1.Channel without its UNSPECIFIED value (which means voice in a policy).
enum class Channel : uint8_t { kVoice, kChat, kEmail, kSms, kSocial, kVideo };
inline constexpr int kChannelCount = 6;
absl::string_view ChannelName(Channel channel);

// Dense indexes into the compiled policy's tables; stable for one compiled policy only.
using SkillId = uint16_t;
using QueueId = uint32_t;
// Slots in the router's agent and call tables; reused after an agent logs out or a call leaves.
using AgentSlot = uint32_t;
using CallSlot = uint32_t;
inline constexpr uint32_t kNoSlot = std::numeric_limits<uint32_t>::max();

inline constexpr int kMinProficiency = 1;
inline constexpr int kMaxProficiency = 5;

// One skill at a minimum proficiency (on a requirement) or at a proficiency (on an agent).
struct SkillLevel {
  SkillId skill = 0;
  int8_t level = 0;
  friend bool operator==(const SkillLevel&, const SkillLevel&) = default;
};
// All of these are needed.
using SkillSet = std::vector<SkillLevel>;

// The same, by name, as switches and agents send them; survives a policy reload.
struct NamedSkill {
  std::string skill;
  int proficiency = 0;
};

// What a supervisor sees for an agent. Derived from presence (set by the agent) and work (offers,
// calls, wrap-up), in this order: reserved > busy > wrap_up > presence.
enum class AgentState : uint8_t { kLoggedOut, kReady, kNotReady, kReserved, kBusy, kWrapUp };
inline constexpr int kAgentStateCount = 6;
absl::string_view AgentStateName(AgentState state);

// Where a call stands in the router.
// kCallbackPending: a callback whose customer was not reached waits for its next attempt; it is
// out of the line until then and keeps its original arrival.
enum class CallState : uint8_t { kWaiting, kOffered, kConnected, kCallbackPending };

// How a connected call was handed to another agent: blind (the agent lets go at once) or warm
// (the agent stays on the line until the next one accepts).
enum class TransferKind : uint8_t { kBlind, kWarm };
inline constexpr int kTransferKindCount = 2;
absl::string_view TransferKindName(TransferKind kind);  // "blind", "warm"

}  // namespace acd::routing

#endif  // ACD_ROUTING_TYPES_H_
