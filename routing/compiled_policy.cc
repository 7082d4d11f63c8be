#include "routing/compiled_policy.h"

#include <algorithm>

#include "routing/policy_validator.h"
#include "routing/policy_yaml.h"

namespace acd::routing {
namespace {

absl::Duration SecondsOr(double seconds, double default_seconds) {
  return absl::Seconds(seconds > 0 ? seconds : default_seconds);
}

Strategy StrategyFromProto(acd::v1::Strategy strategy) {
  switch (strategy) {
    case acd::v1::STRATEGY_MOST_PROFICIENT: return Strategy::kMostProficient;
    case acd::v1::STRATEGY_FEWEST_CALLS: return Strategy::kFewestCalls;
    case acd::v1::STRATEGY_ROUND_ROBIN: return Strategy::kRoundRobin;
    case acd::v1::STRATEGY_RANDOM: return Strategy::kRandom;
    default: return Strategy::kLongestIdle;
  }
}

SkillSet Requirements(const CompiledPolicy& policy,
                      const google::protobuf::RepeatedPtrField<acd::v1::SkillRequirement>& list) {
  SkillSet set;
  for (const auto& r : list) {
    set.push_back(SkillLevel{*policy.FindSkill(r.skill()), static_cast<int8_t>(r.min_proficiency())});
  }
  return set;
}

// Keeps the default already in `*rules` unless the policy gives a positive value.
void SetIfPositive(double seconds, absl::Duration* rules) {
  if (seconds > 0) *rules = absl::Seconds(seconds);
}

PromptRules CompilePrompts(const acd::v1::Prompts& p) {
  PromptRules rules;
  SetIfPositive(p.update_interval_seconds(), &rules.update_interval);
  SetIfPositive(p.min_spacing_seconds(), &rules.min_spacing);
  if (p.has_announce_position()) rules.announce_position = p.announce_position();
  if (p.has_announce_ewt()) rules.announce_ewt = p.announce_ewt();
  SetIfPositive(p.ewt_rounding_seconds(), &rules.ewt_rounding);
  SetIfPositive(p.ewt_cap_seconds(), &rules.ewt_cap);
  return rules;
}

HoldRules CompileHolds(const acd::v1::Holds& h) {
  HoldRules rules;
  SetIfPositive(h.reminder_interval_seconds(), &rules.reminder_interval);
  SetIfPositive(h.max_seconds(), &rules.max);
  return rules;
}

CallbackRules CompileCallbacks(const acd::v1::Callbacks& c) {
  CallbackRules rules;
  rules.offer_over = absl::Seconds(std::max(0.0, c.offer_when_ewt_over_seconds()));
  if (c.max_attempts() > 0) rules.max_attempts = static_cast<int>(c.max_attempts());
  SetIfPositive(c.retry_interval_seconds(), &rules.retry_interval);
  return rules;
}

ServiceLevelRules CompileServiceLevel(const acd::v1::ServiceLevel& sl) {
  ServiceLevelRules rules;
  SetIfPositive(sl.threshold_seconds(), &rules.threshold);
  if (sl.target_ratio() > 0) rules.target = sl.target_ratio();
  rules.alert = sl.alert_ratio() > 0 ? sl.alert_ratio() : std::max(0.0, rules.target - 0.1);
  return rules;
}

CompiledQueue CompileQueue(const CompiledPolicy& policy, const acd::v1::Queue& q, QueueId id) {
  CompiledQueue out;
  out.id = id;
  out.name = q.name();
  out.channel = ChannelFromProto(q.channel());
  out.skills = Requirements(policy, q.skills());
  out.strategy = StrategyFromProto(q.strategy());
  out.preferred_agent_timeout = absl::Seconds(q.preferred_agent().timeout_seconds());
  out.priority = q.priority();
  out.aging_per_second = q.has_aging_per_second() ? q.aging_per_second() : 1.0;
  out.wrap_up = absl::Seconds(q.wrap_up_seconds());
  out.offer_timeout = SecondsOr(q.offer_timeout_seconds(), 20);
  out.max_queue_length = q.max_queue_length();
  out.max_wait = q.max_wait_seconds() > 0 ? absl::Seconds(q.max_wait_seconds())
                                          : absl::InfiniteDuration();
  out.fallback = q.fallback();
  out.max_transfers = q.transfers().max_per_call() > 0 ? q.transfers().max_per_call() : 3;
  out.transfer_priority_boost = q.transfers().priority_boost();
  out.transfer_agent_wait = SecondsOr(q.transfers().agent_wait_seconds(), 60);
  out.prompts = CompilePrompts(q.prompts());
  out.holds = CompileHolds(q.holds());
  out.callbacks = CompileCallbacks(q.callbacks());
  out.service_level = CompileServiceLevel(q.service_level());
  out.alerts = QueueAlerts{.oldest_wait = absl::Seconds(q.alerts().oldest_wait_seconds()),
                           .calls_waiting = q.alerts().calls_waiting()};
  out.source = q;

  // Membership: the queue skills at the lowest floor any step relaxes them to, or any
  // alternative set the steps add.
  int lowest_floor = kMaxProficiency;
  bool relaxes = false;
  SkillSet base = out.skills;
  for (const auto& step : q.escalation()) {
    EscalationStep s;
    s.after = absl::Seconds(step.after_seconds());
    switch (step.action_case()) {
      case acd::v1::EscalationStep::kRelaxSkillFloor:
        s.action = EscalationStep::Action::kRelaxSkillFloor;
        s.value = step.relax_skill_floor().to();
        lowest_floor = std::min(lowest_floor, s.value);
        relaxes = true;
        break;
      case acd::v1::EscalationStep::kAddAlternativeSkills:
        s.action = EscalationStep::Action::kAddAlternativeSkills;
        s.alternative_skills = Requirements(policy, step.add_alternative_skills().skills());
        out.membership.push_back(s.alternative_skills);
        break;
      case acd::v1::EscalationStep::kOverflow:
        s.action = EscalationStep::Action::kOverflow;
        s.overflow_queue = *policy.FindQueue(step.overflow().queue());
        break;
      case acd::v1::EscalationStep::kRaisePriority:
        s.action = EscalationStep::Action::kRaisePriority;
        s.value = step.raise_priority().by();
        break;
      case acd::v1::EscalationStep::kFallback:
        s.action = EscalationStep::Action::kFallback;
        s.fallback_target = step.fallback().target().empty() ? q.fallback()
                                                              : step.fallback().target();
        break;
      case acd::v1::EscalationStep::ACTION_NOT_SET:
        break;  // refused by validation
    }
    out.escalation.push_back(std::move(s));
  }
  if (relaxes) {
    for (SkillLevel& level : base) level.level = std::min<int8_t>(level.level, lowest_floor);
  }
  out.membership.insert(out.membership.begin(), std::move(base));
  return out;
}

}  // namespace

Channel ChannelFromProto(acd::v1::Channel channel) {
  switch (channel) {
    case acd::v1::CHANNEL_CHAT: return Channel::kChat;
    case acd::v1::CHANNEL_EMAIL: return Channel::kEmail;
    case acd::v1::CHANNEL_SMS: return Channel::kSms;
    case acd::v1::CHANNEL_SOCIAL: return Channel::kSocial;
    case acd::v1::CHANNEL_VIDEO: return Channel::kVideo;
    default: return Channel::kVoice;
  }
}

std::optional<SkillId> CompiledPolicy::FindSkill(absl::string_view name) const {
  auto it = skill_ids.find(name);
  if (it == skill_ids.end()) return std::nullopt;
  return it->second;
}

std::optional<QueueId> CompiledPolicy::FindQueue(absl::string_view name) const {
  auto it = queue_ids.find(name);
  if (it == queue_ids.end()) return std::nullopt;
  return it->second;
}

const std::string& CompiledPolicy::yaml() const {
  absl::call_once(yaml_once_, [this] { yaml_ = PolicyToYaml(source); });
  return yaml_;
}

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompilePolicy(const acd::v1::Policy& policy) {
  std::vector<PolicyProblem> problems = ValidatePolicy(policy);
  if (!problems.empty()) return PolicyProblemsToStatus(problems);

  auto out = std::make_shared<CompiledPolicy>();
  out->source = policy;
  for (const auto& skill : policy.skills()) {
    out->skill_ids.emplace(skill.name(), static_cast<SkillId>(out->skill_names.size()));
    out->skill_names.push_back(skill.name());
  }
  for (const std::string& code : policy.languages()) {
    out->language_bits.emplace(code, static_cast<int>(out->languages.size()));
    out->languages.push_back(code);
  }
  for (const auto& tier : policy.tiers()) out->tier_priority_boost[tier.name()] = tier.priority_boost();
  for (int i = 0; i < policy.queues_size(); ++i) out->queue_ids.emplace(policy.queues(i).name(), i);
  for (int i = 0; i < policy.queues_size(); ++i) {
    out->queues.push_back(CompileQueue(*out, policy.queues(i), i));
  }

  const auto& rules = policy.agent_rules();
  if (rules.has_max_missed_offers()) out->agent_rules.max_missed_offers = rules.max_missed_offers();
  if (rules.has_reject_delay_seconds()) {
    out->agent_rules.reject_delay = absl::Seconds(rules.reject_delay_seconds());
  }
  if (rules.has_no_answer_delay_seconds()) {
    out->agent_rules.no_answer_delay = absl::Seconds(rules.no_answer_delay_seconds());
  }
  for (const auto& c : rules.max_capacity()) {
    out->agent_rules.max_capacity[static_cast<int>(ChannelFromProto(c.channel()))] = c.max();
  }
  out->agent_rules.voice_allows_other_channels = rules.voice_allows_other_channels();

  const auto& limits = policy.limits();
  if (limits.max_calls_waiting()) out->limits.max_calls_waiting = limits.max_calls_waiting();
  if (limits.max_agents()) out->limits.max_agents = limits.max_agents();
  if (limits.max_call_attributes()) out->limits.max_call_attributes = limits.max_call_attributes();
  if (limits.max_attribute_bytes()) out->limits.max_attribute_bytes = limits.max_attribute_bytes();
  out->random_seed = policy.random_seed();
  return std::shared_ptr<const CompiledPolicy>(std::move(out));
}

}  // namespace acd::routing
