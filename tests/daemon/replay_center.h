// The call center the journal-replay traffic (random_core_traffic.h) plays: a policy whose rules
// all come into play within minutes, core limits small enough to be reached, and the names of the
// queues, skills, switches and agents that traffic picks from.
//   absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> policy =
//       routing::CompilePolicyText(kReplayPolicy, kPolicyFile);
//   CoreOptions options = kOptions;  // the limits acdd starts the core with
#ifndef ACD_TESTS_DAEMON_REPLAY_CENTER_H_
#define ACD_TESTS_DAEMON_REPLAY_CENTER_H_

#include "absl/time/time.h"
#include "daemon/core.h"

namespace acd::daemon::testing {

// Four queues whose rules all come into play within minutes: offers time out, escalations raise,
// relax, widen and overflow, long waits leave to fallbacks or are offered callbacks that are
// retried and given up, holds are reminded and overrun, a full queue turns calls away, and one
// queue serves chats several at a time.
inline constexpr char kReplayPolicy[] = R"(
name: journal-replay
skills: [{name: sales}, {name: support}, {name: billing}, {name: chat}]
languages: [en, es]
tiers: [{name: gold, priority_boost: 50}]
agent_rules: {max_missed_offers: 2, reject_delay_seconds: 2, no_answer_delay_seconds: 3}
queues:
  - name: sales
    skills: [{skill: sales, min_proficiency: 1}]
    offer_timeout_seconds: 8
    wrap_up_seconds: 5
    max_wait_seconds: 240
    fallback: "voicemail:sales"
    preferred_agent: {timeout_seconds: 10}
    prompts: {update_interval_seconds: 30, min_spacing_seconds: 20}
    holds: {reminder_interval_seconds: 20, max_seconds: 60}
    transfers: {max_per_call: 2, priority_boost: 5, agent_wait_seconds: 15}
    callbacks: {offer_when_ewt_over_seconds: 20, max_attempts: 2, retry_interval_seconds: 25}
    escalation:
      - {after_seconds: 20, raise_priority: {by: 10}}
      - {after_seconds: 60, overflow: {queue: support}}
  - name: support
    skills: [{skill: support, min_proficiency: 3}]
    strategy: round_robin
    offer_timeout_seconds: 10
    wrap_up_seconds: 3
    fallback: "voicemail:support"
    callbacks: {offer_when_ewt_over_seconds: 45, max_attempts: 1, retry_interval_seconds: 10}
    escalation:
      - {after_seconds: 30, relax_skill_floor: {to: 1}}
      - {after_seconds: 150, fallback: {target: "voicemail:support-late"}}
  - name: billing
    skills: [{skill: billing, min_proficiency: 1}]
    strategy: random
    max_queue_length: 5
    fallback: "voicemail:billing"
    holds: {reminder_interval_seconds: 30, max_seconds: 120}
    callbacks: {offer_when_ewt_over_seconds: 1, max_attempts: 3, retry_interval_seconds: 40}
    escalation:
      - {after_seconds: 40, add_alternative_skills: {skills: [{skill: sales, min_proficiency: 2}]}}
  - name: chat
    channel: chat
    skills: [{skill: chat, min_proficiency: 1}]
    strategy: most_proficient
    offer_timeout_seconds: 20
    wrap_up_seconds: 2
)";

// Small bounds, so that retention sweeps, the finished-call bound and outbox overflow all happen.
inline const CoreOptions kOptions{
    .call_retention = absl::Minutes(3), .max_finished_calls = 60, .max_outbox = 40};
// Where acdd reads the policy from, as the created and started records name it.
inline constexpr char kPolicyFile[] = "/etc/acd/policy.yaml";

inline const char* const kQueues[] = {"sales", "support", "billing", "chat"};
inline const char* const kSkills[] = {"sales", "support", "billing", "chat"};
inline const char* const kSwitches[] = {"sw1", "sw2", "sw3"};
inline constexpr int kAgents = 12;

}  // namespace acd::daemon::testing

#endif  // ACD_TESTS_DAEMON_REPLAY_CENTER_H_
