// The router's private model: what it keeps per call, per agent and per queue. Only Router and the
// files that implement it (see README.md) read these; callers see CallView, AgentView, QueueView.
//
// Calls and agents live in slot tables (Router::calls_, Router::agents_): vectors indexed by
// CallSlot and AgentSlot, with freed slots kept on a free list and reused. Ids map to slots
// (call_ids_, agent_ids_). The invariants (a router that finds one broken crashes with a message):
//  - A call slot is live exactly when its id is non-empty (it is in call_ids_); an agent slot
//    when agent_live_[slot] is true (it is in agent_ids_). A freed slot is reset to a fresh value.
//  - A reused agent slot gets a new login_seq, so (slot, login_seq) names one login. Whatever
//    outlives a login (a preferred agent, the agent a transfer avoids or is held for) keeps both
//    and asks Router::StillLoggedIn before acting on it.
//  - A call is in its queue's waiting set (Router::waiting_, under RoutedCall::key) exactly when
//    its state is kWaiting; Router::waiting_count_ counts them over all queues.
//  - state kOffered: agents_[call.agent].offered_call is the call. kConnected: the call is in
//    agents_[call.agent].calls and counted in its load. During a consult the call waits or rings
//    while consulting_agent still holds it in its calls and load.
//  - Per queue, Router::staffed_ counts the ready members and Router::agents_by_state_ every member
//    under its `counted_as` state, which Router::Recount keeps equal to StateOf after each event.
//  - A call sits in Router::held_calls_ as (preferred_slot, slot) exactly when its preferred_slot
//    is set (Router::SetPreferredSlot is the only writer).
//  - An agent sits in a queue's available set (Router::available_) under the key listed in its
//    `indexed` exactly when it is a member of the queue, available (Router::Available) and can
//    take the queue's channel.
//  - A timer handle is active exactly while its timer is pending.
//  - Router::pools_ counts, per AgentPoolKey, the calls its ready agents hold at once: every ready
//    agent once per channel on which it is a member of some queue (expected_wait.cc).
#ifndef ACD_ROUTING_ROUTER_STATE_H_
#define ACD_ROUTING_ROUTER_STATE_H_

#include <array>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/time/time.h"
#include "routing/prompt_kind.h"
#include "routing/timer_queue.h"
#include "routing/types.h"
#include "routing/wait_estimator.h"
#include "routing/waiting_calls.h"

namespace acd::routing {

// Order of a queue's available agents by its strategy: first is chosen first.
struct AgentKey {
  int64_t load;       // calls on the queue's channel: chats spread before they stack
  int64_t primary;
  int64_t secondary;
  AgentSlot slot;
  friend auto operator<=>(const AgentKey&, const AgentKey&) = default;
};

// Agents who serve the same queues of one channel, in the same languages, form one pool of the
// multi-skill wait estimate (routing/fluid_wait.h): a freed agent of the pool takes the best
// caller among those queues' lines in its languages.
struct AgentPoolKey {
  Channel channel = Channel::kVoice;
  uint64_t language_mask = 0;
  absl::InlinedVector<QueueId, 8> queues;  // in QueueId order
  friend bool operator<(const AgentPoolKey& a, const AgentPoolKey& b) {
    return std::tie(a.channel, a.language_mask, a.queues) <
           std::tie(b.channel, b.language_mask, b.queues);
  }
  friend bool operator==(const AgentPoolKey&, const AgentPoolKey&) = default;
};

struct RoutedCall {
  std::string id;
  uint64_t seq = 0;
  CallState state = CallState::kWaiting;
  QueueId queue = 0;
  Channel channel = Channel::kVoice;
  std::vector<NamedSkill> extra_skill_names;
  SkillSet extra_skills;
  int call_priority = 0;
  std::string tier;
  int raised_priority = 0;
  int transfer_boost = 0;               // the boost of the queue it was last transferred into
  uint32_t transfers = 0;
  // The agent who transferred the call away is not offered it again for a while.
  AgentSlot transferred_from = kNoSlot;
  uint64_t transferred_from_login = 0;
  absl::Time avoid_until = absl::InfinitePast();
  // A transfer to one agent holds the call for them until then (restored after a reload).
  AgentSlot held_for = kNoSlot;
  uint64_t held_for_login = 0;
  absl::Time held_until = absl::InfinitePast();
  std::string language;
  int language_bit = -1;
  std::string preferred_agent;
  AgentSlot preferred_slot = kNoSlot;   // exclusive while preferred_until > now and that
  uint64_t preferred_login = 0;         // login (by login_seq) is still the one in the slot
  absl::Time preferred_until = absl::InfinitePast();
  absl::Time arrived;
  absl::Time entered_queue;
  absl::Time connected_at;
  int next_step = 0;                    // escalation steps of this queue fired so far
  int8_t skill_floor = kMaxProficiency; // relax_skill_floor lowers it
  AgentSlot agent = kNoSlot;            // offered to or connected with
  WaitingKey key{};
  std::array<TimerHandle, kCallTimerKinds> timers{};  // by TimerKind
  // What the caller has heard. Spacing counts every prompt; a position is said again only when
  // it is better than the last one said in this queue (0: none said here yet).
  absl::Time last_prompt_at = absl::InfinitePast();
  int announced_position = 0;
  uint32_t prompts_played = 0;
  std::vector<std::string> callback_offered_in;  // queue names: one callback offer per queue
  // Holds by the agent; hold_time sums the ended ones.
  bool on_hold = false;
  absl::Time hold_started;
  absl::Time hold_reminded;             // the last reminder, or the start
  absl::Duration hold_expected;         // what the caller was told; zero: nothing
  bool hold_expected_flagged = false;
  bool hold_max_flagged = false;
  uint32_t holds = 0;
  absl::Duration hold_time;
  // A warm transfer: the call waits in its target queue while this agent stays on the line.
  // What the call had before is kept so that a cancelled consult puts it back.
  AgentSlot consulting_agent = kNoSlot;
  QueueId consult_from_queue = 0;
  absl::Time consult_from_entered;
  int consult_from_boost = 0;
  absl::Duration consult_wrap_up;       // the consulting agent's wrap-up when it lets go
  // A callback: the customer left the line keeping their place; attempts are dial-outs made.
  bool callback = false;
  int callback_attempts = 0;
};

// What the router learns and counts per queue; kept by queue name across reloads.
struct QueueStats {
  QueueWaitEstimator wait;
  std::array<uint64_t, kPromptKindCount> prompts_played{};  // by PromptKind
  uint64_t callbacks_accepted = 0;
  uint64_t callbacks_gave_up = 0;
  uint64_t hold_overruns = 0;
};

struct RoutedAgent {
  std::string id;
  uint64_t login_seq = 0;
  std::vector<NamedSkill> skill_names;
  std::vector<std::string> language_names;
  std::vector<std::string> queue_names;
  bool narrowed = false;             // logged in for a list of queues, not for all it qualifies
  std::vector<int8_t> proficiency;   // by SkillId; 0 = does not have it
  uint64_t language_mask = 0;
  std::array<uint32_t, kChannelCount> capacity{};
  std::array<uint32_t, kChannelCount> load{};
  bool ready = false;
  std::string not_ready_reason;
  CallSlot offered_call = kNoSlot;
  std::vector<CallSlot> calls;       // connected
  absl::Time unavailable_until = absl::InfinitePast();
  bool wrapping_up = false;
  absl::Time idle_since;
  uint64_t handled = 0;
  uint32_t missed_in_a_row = 0;
  uint64_t random_key = 0;
  TimerHandle available_timer;       // wrap-up or cooldown end
  std::vector<QueueId> queues;       // member of
  AgentState counted_as = AgentState::kLoggedOut;  // its state in Router::agents_by_state_
  std::vector<std::pair<QueueId, AgentKey>> indexed;  // where it sits in available_
};

// Where a checked transfer sends the call.
struct TransferPlan {
  CallSlot call = kNoSlot;
  QueueId queue = 0;
  AgentSlot agent = kNoSlot;  // a transfer to one agent, or kNoSlot
};

}  // namespace acd::routing

#endif  // ACD_ROUTING_ROUTER_STATE_H_
