// CompiledPolicy is a validated acd.v1.Policy turned into the dense, id-based tables the router
// reads on every decision (skills, languages and queues by index; durations as absl::Duration;
// defaults filled in). It is immutable and shared: a reload compiles a new one and swaps it in.
// Its normalized YAML (what GetPolicy shows and SetPolicy's diff compares) is made once, by the
// first thread that asks for it, and kept: acdd asks for it off the engine thread where it can
// (SetPolicy's diff, a SIGHUP's compile), and a replay never asks.
//   absl::StatusOr<std::shared_ptr<const CompiledPolicy>> p = CompilePolicy(proto_policy);
//   if (!p.ok()) return p.status();  // INVALID_ARGUMENT listing every problem
//   (*p)->yaml();                      // made here, off the engine thread
#ifndef ACD_ROUTING_COMPILED_POLICY_H_
#define ACD_ROUTING_COMPILED_POLICY_H_

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "acd/v1/policy.pb.h"
#include "routing/types.h"

namespace acd::routing {

enum class Strategy : uint8_t { kLongestIdle, kMostProficient, kFewestCalls, kRoundRobin, kRandom };

struct EscalationStep {
  enum class Action : uint8_t { kRelaxSkillFloor, kAddAlternativeSkills, kOverflow, kRaisePriority,
                                kFallback };
  absl::Duration after;
  Action action = Action::kRaisePriority;
  int value = 0;                   // relax_skill_floor.to, raise_priority.by
  SkillSet alternative_skills;     // add_alternative_skills
  QueueId overflow_queue = 0;      // overflow
  std::string fallback_target;     // fallback (already defaulted to the queue's fallback)
};

// A queue's settings for what callers hear and what agents are reminded of (acd.v1.Prompts, Holds,
// Callbacks). The initial values are the policy's defaults; CompilePolicy keeps them where the
// policy leaves a setting out (or at 0) and copies the policy's value otherwise.
struct PromptRules {
  absl::Duration update_interval = absl::Seconds(45);
  absl::Duration min_spacing = absl::Seconds(20);
  bool announce_position = true;
  bool announce_ewt = true;
  absl::Duration ewt_rounding = absl::Seconds(60);
  absl::Duration ewt_cap = absl::Seconds(1200);
};
struct HoldRules {
  absl::Duration reminder_interval = absl::Seconds(45);
  absl::Duration max = absl::Seconds(300);
};
// The policy must set max_attempts and retry_interval whenever it offers callbacks (validation
// requires them); the values below only stand in while callbacks are off.
struct CallbackRules {
  absl::Duration offer_over;            // zero: callbacks are never offered
  int max_attempts = 3;
  absl::Duration retry_interval = absl::Seconds(600);
};

// What the wallboard and the metrics judge a queue by (acd.v1.ServiceLevel and Alerts), defaulted
// the same way.
inline constexpr double kDefaultServiceLevelTarget = 0.8;
struct ServiceLevelRules {
  absl::Duration threshold = absl::Seconds(20);  // answered within this: in service level
  double target = kDefaultServiceLevelTarget;    // share of calls to answer within the threshold
  double alert = 0;  // the wallboard turns red below this share; default max(0, target - 0.1)
};
struct QueueAlerts {
  absl::Duration oldest_wait;   // zero: none
  uint32_t calls_waiting = 0;   // 0: none
};

struct CompiledQueue {
  QueueId id = 0;
  std::string name;
  Channel channel = Channel::kVoice;
  SkillSet skills;
  Strategy strategy = Strategy::kLongestIdle;
  absl::Duration preferred_agent_timeout;
  int priority = 0;
  double aging_per_second = 1.0;
  std::vector<EscalationStep> escalation;
  absl::Duration wrap_up;
  absl::Duration offer_timeout;
  uint32_t max_queue_length = 0;         // 0: no queue limit
  absl::Duration max_wait;               // InfiniteDuration: no limit
  std::string fallback;
  uint32_t max_transfers = 3;            // per call, counted over its whole life
  int transfer_priority_boost = 0;       // added to calls transferred into this queue
  absl::Duration transfer_agent_wait = absl::Seconds(60);
  // Who may ever serve this queue: an agent meeting any of these sets (the queue's skills at the
  // lowest floor any escalation step can reach, or any alternative set) is a member of the queue.
  std::vector<SkillSet> membership;
  PromptRules prompts;
  HoldRules holds;
  CallbackRules callbacks;
  ServiceLevelRules service_level;
  QueueAlerts alerts;
  // The queue as written, for what is only shown (its description). The settings above are
  // compiled from it with their defaults filled in: nothing reads defaults from here at run time.
  acd::v1::Queue source;
};

struct AgentRules {
  uint32_t max_missed_offers = 3;
  absl::Duration reject_delay = absl::Seconds(5);
  absl::Duration no_answer_delay = absl::Seconds(10);
  std::array<uint32_t, kChannelCount> max_capacity = {1, 3, 5, 3, 3, 1};
  bool voice_allows_other_channels = false;
};

struct Limits {
  uint32_t max_calls_waiting = 100000;
  uint32_t max_agents = 20000;
  uint32_t max_call_attributes = 32;
  uint32_t max_attribute_bytes = 1024;
};

struct CompiledPolicy {
  acd::v1::Policy source;
  std::vector<std::string> skill_names;
  absl::flat_hash_map<std::string, SkillId> skill_ids;
  std::vector<std::string> languages;                 // index = bit in a language mask
  absl::flat_hash_map<std::string, int> language_bits;
  absl::flat_hash_map<std::string, int> tier_priority_boost;
  std::vector<CompiledQueue> queues;
  absl::flat_hash_map<std::string, QueueId> queue_ids;
  AgentRules agent_rules;
  Limits limits;
  uint64_t random_seed = 0;

  std::optional<SkillId> FindSkill(absl::string_view name) const;
  std::optional<QueueId> FindQueue(absl::string_view name) const;
  // `source` as normalized YAML (PolicyToYaml). Any thread; the first call makes it (a policy at
  // the size bound takes a few hundred milliseconds), later ones return it as made.
  const std::string& yaml() const;

 private:
  mutable absl::once_flag yaml_once_;
  mutable std::string yaml_;
};

// Validates `policy` (see policy_validator.h) and compiles it. Never half-applies: a policy with
// any problem yields INVALID_ARGUMENT listing all of them.
absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompilePolicy(const acd::v1::Policy& policy);

Channel ChannelFromProto(acd::v1::Channel channel);

}  // namespace acd::routing

#endif  // ACD_ROUTING_COMPILED_POLICY_H_
