// Policies that router tests of more than one topic route by; each test file keeps its other
// policies next to its tests.
//   Router router(PolicyFromYaml(kEscalation), T(0));
#ifndef ACD_TESTS_ROUTING_ROUTER_POLICIES_H_
#define ACD_TESTS_ROUTING_ROUTER_POLICIES_H_

namespace acd::routing::testing {

// Sales escalates step by step (escalation tests) and serves as the live policy a reload replaces
// (reload tests): its floor relaxes to 2 at 30 s, Spanish desk agents may help at 60 s, its
// priority rises by 500 at 90 s and it overflows at 120 s; max wait 300 s.
inline constexpr char kEscalation[] = R"(
skills: [{name: sales}, {name: spanish_desk}]
agent_rules: {max_missed_offers: 0, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - name: sales
    skills: [{skill: sales, min_proficiency: 4}]
    max_wait_seconds: 300
    fallback: "voicemail:sales"
    escalation:
      - {after_seconds: 30, relax_skill_floor: {to: 2}}
      - {after_seconds: 60, add_alternative_skills: {skills: [{skill: spanish_desk, min_proficiency: 1}]}}
      - {after_seconds: 90, raise_priority: {by: 500}}
      - {after_seconds: 120, overflow: {queue: overflow}}
  - name: overflow
    skills: [{skill: sales, min_proficiency: 1}]
    escalation:
      - {after_seconds: 60, fallback: {target: "voicemail:overflow"}}
  - name: other
    skills: [{skill: sales, min_proficiency: 1}]
)";

// No wrap-up anywhere: sales needs proficiency 4 (relaxed to 1 at 30 s) and holds a caller for
// their preferred agent 60 s, billing holds one waiting call, and chat serves sales agents
// (transfer tests, and the expected wait of agents holding several chats).
inline constexpr char kNoWrapUp[] = R"(
skills: [{name: sales}, {name: billing}]
queues:
  - name: sales
    skills: [{skill: sales, min_proficiency: 4}]
    preferred_agent: {timeout_seconds: 60}
    escalation: [{after_seconds: 30, relax_skill_floor: {to: 1}}]
  - name: billing
    skills: [{skill: billing, min_proficiency: 1}]
    max_queue_length: 1
    fallback: "voicemail:billing"
  - {name: chat, channel: chat, skills: [{skill: sales, min_proficiency: 1}]}
)";

}  // namespace acd::routing::testing

#endif  // ACD_TESTS_ROUTING_ROUTER_POLICIES_H_
