#include "routing/policy_text.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "routing/policy_problem.h"
#include "routing/policy_validator.h"
#include "routing/policy_yaml.h"
#include "routing/quote.h"

namespace acd::routing {
namespace {

std::string Seconds(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return "none";
  return absl::StrCat(absl::ToDoubleSeconds(d), " s");
}

std::string StrategyName(Strategy s) {
  switch (s) {
    case Strategy::kLongestIdle: return "longest idle";
    case Strategy::kMostProficient: return "most proficient";
    case Strategy::kFewestCalls: return "fewest calls";
    case Strategy::kRoundRobin: return "round robin";
    case Strategy::kRandom: return "random (seeded)";
  }
  return "?";
}

std::string Skills(const CompiledPolicy& policy, const SkillSet& skills) {
  if (skills.empty()) return "any agent";
  std::vector<std::string> parts;
  for (const SkillLevel& s : skills) {
    parts.push_back(absl::StrCat(policy.skill_names[s.skill], ">=", s.level));
  }
  return absl::StrJoin(parts, " + ");
}

std::string Step(const CompiledPolicy& policy, const EscalationStep& step) {
  const std::string at = absl::StrCat("at ", absl::ToDoubleSeconds(step.after), " s: ");
  switch (step.action) {
    case EscalationStep::Action::kRelaxSkillFloor:
      return absl::StrCat(at, "relax skill floor to ", step.value);
    case EscalationStep::Action::kAddAlternativeSkills:
      return absl::StrCat(at, "also agents with ", Skills(policy, step.alternative_skills));
    case EscalationStep::Action::kOverflow:
      return absl::StrCat(at, "overflow to ", policy.queues[step.overflow_queue].name);
    case EscalationStep::Action::kRaisePriority:
      return absl::StrCat(at, "raise priority by ", step.value);
    case EscalationStep::Action::kFallback:
      return absl::StrCat(at, "leave to ", step.fallback_target);
  }
  return at;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompilePolicyText(
    absl::string_view yaml_text, const std::string& file_name) {
  acd::v1::Policy proto;
  std::vector<PolicyProblem> problems;
  PolicySourceMap where;
  if (!ParsePolicyYaml(yaml_text, &proto, &problems, &where)) {
    return PolicyProblemsToStatus(problems, file_name);
  }
  problems = ValidatePolicy(proto);
  if (!problems.empty()) {
    where.Annotate(&problems);
    return PolicyProblemsToStatus(problems, file_name);
  }
  return CompilePolicy(proto);
}

std::string DescribePolicy(const CompiledPolicy& policy) {
  std::string out = absl::StrCat("policy ", Quote(policy.source.name()), ": ", policy.queues.size(),
                                 " queues, ", policy.skill_names.size(), " skills, languages [",
                                 absl::StrJoin(policy.languages, ", "), "]\n");
  if (!policy.source.tiers().empty()) {
    std::vector<std::string> tiers;
    for (const auto& t : policy.source.tiers()) {
      tiers.push_back(absl::StrCat(t.name(), " ", t.priority_boost() >= 0 ? "+" : "",
                                   t.priority_boost()));
    }
    absl::StrAppend(&out, "tiers: ", absl::StrJoin(tiers, ", "), "\n");
  }
  const AgentRules& rules = policy.agent_rules;
  absl::StrAppend(&out, "agents: not_ready after ", rules.max_missed_offers,
                  " missed offers; reject delay ", Seconds(rules.reject_delay),
                  ", no-answer delay ", Seconds(rules.no_answer_delay), "\n");
  for (const CompiledQueue& q : policy.queues) {
    absl::StrAppend(&out, "\nqueue ", q.name, " (", ChannelName(q.channel), ")",
                    q.source.description().empty() ? "" : ": ", q.source.description(), "\n");
    absl::StrAppend(&out, "  agents: ", Skills(policy, q.skills), "; pick ", StrategyName(q.strategy),
                    "\n");
    absl::StrAppend(&out, "  priority ", q.priority, ", aging ", q.aging_per_second,
                    "/s; offer timeout ", Seconds(q.offer_timeout), ", wrap-up ",
                    Seconds(q.wrap_up), "\n");
    if (q.preferred_agent_timeout > absl::ZeroDuration()) {
      absl::StrAppend(&out, "  preferred agent first for ", Seconds(q.preferred_agent_timeout), "\n");
    }
    absl::StrAppend(&out, "  service level: ", q.service_level.target * 100, "% within ",
                    Seconds(q.service_level.threshold), "\n");
    for (const EscalationStep& step : q.escalation) {
      absl::StrAppend(&out, "  escalation ", Step(policy, step), "\n");
    }
    if (q.max_wait != absl::InfiniteDuration() || q.max_queue_length > 0) {
      absl::StrAppend(&out, "  max wait ", Seconds(q.max_wait), ", max length ",
                      q.max_queue_length == 0 ? std::string("none") : absl::StrCat(q.max_queue_length),
                      " -> ", q.fallback, "\n");
    }
  }
  return out;
}

}  // namespace acd::routing
