#include "routing/policy_validator.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "routing/compiled_policy.h"
#include "routing/quote.h"

namespace acd::routing {
namespace {

using acd::v1::EscalationStep;
using acd::v1::Policy;
using acd::v1::Queue;
using acd::v1::SkillRequirement;

// Names used in files, metrics labels and logs: lower-case letters, digits, '_', '-', '.'.
bool IsGoodName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
  });
}

// Whole numbers exactly ("10000001"), others with enough digits to tell them apart.
std::string Number(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  return absl::StrFormat("%.10g", v);
}

// "; did you mean 'sales'?" or "; known skills: a, b, c" so the reader can fix a typo at once.
// Its work is bounded whatever the policy holds: only names of about the right length are
// compared, at most kMaxCompared of them, and the list names at most kMaxListed.
std::string Suggest(const std::string& wrong, const std::vector<std::string>& known,
                    const char* what) {
  constexpr size_t kMaxCompared = 256;
  constexpr size_t kMaxListed = 20;
  const size_t close_enough = std::max<size_t>(2, wrong.size() / 3);
  const std::string* best = nullptr;
  size_t best_distance = 0, compared = 0;
  std::vector<absl::string_view> names;
  size_t named = 0;
  bool more = false;  // names left off the list
  for (const std::string& k : known) {
    if (k.empty()) continue;
    ++named;
    if (std::find(names.begin(), names.end(), k) == names.end()) {
      if (names.size() < kMaxListed) {
        names.push_back(k);
      } else {
        more = true;
      }
    }
    const size_t gap = k.size() > wrong.size() ? k.size() - wrong.size() : wrong.size() - k.size();
    if (gap > close_enough || compared == kMaxCompared) continue;
    ++compared;
    const size_t d = static_cast<size_t>(EditDistance(wrong, k));
    if (best == nullptr || d < best_distance) best = &k, best_distance = d;
  }
  if (named == 0) return absl::StrCat("; the policy defines no ", what);
  if (best != nullptr && best_distance <= close_enough) {
    return absl::StrCat("; did you mean ", Quote(*best), "?");
  }
  std::string list;
  for (absl::string_view name : names) {
    absl::StrAppend(&list, list.empty() ? "" : ", ", BoundedUtf8(name, kMaxQuotedBytes));
  }
  if (more) absl::StrAppend(&list, ", ...");
  return absl::StrCat("; known ", what, ": ", list);
}

class Validator {
 public:
  explicit Validator(const Policy& policy) : policy_(policy) {}

  std::vector<PolicyProblem> Run() {
    CheckSkills();
    CheckLanguages();
    CheckTiers();
    CheckQueues();
    CheckOverflowLoops();
    CheckAgentRules();
    CheckLimits();
    return std::move(problems_);
  }

 private:
  // Suggest, for the first kMaxSuggestions problems that want one: a policy of thousands of
  // unknown names costs no more than a hundred suggestions.
  std::string SuggestWithin(const std::string& wrong, const std::vector<std::string>& known,
                            const char* what) {
    constexpr int kMaxSuggestions = 100;
    if (suggestions_ == kMaxSuggestions) return "";
    ++suggestions_;
    return Suggest(wrong, known, what);
  }

  void Problem(std::string path, std::string message) {
    problems_.push_back(PolicyProblem{std::move(path), std::move(message)});
  }

  // A number that must lie in [low, high]; `unit` completes the message ("seconds").
  void CheckRange(const std::string& path, double value, double low, double high,
                  const std::string& hint = "") {
    if (std::isnan(value) || value < low || value > high) {
      Problem(path, absl::StrCat("must be between ", Number(low), " and ", Number(high), ", not ",
                                 Number(value),
                                 hint.empty() ? "" : "; ", hint));
    }
  }

  void CheckName(const std::string& path, const std::string& name, const char* what) {
    if (name.empty()) {
      Problem(path, absl::StrCat("every ", what, " needs a name"));
    } else if (!IsGoodName(name)) {
      Problem(path, absl::StrCat(what, " name ", Quote(name),
                                 " may only use a-z, 0-9, '_', '-' and '.' (at most 64)"));
    }
  }

  void CheckSkills() {
    if (policy_.skills_size() > kMaxSkills) {
      Problem("skills", absl::StrCat("at most ", kMaxSkills, " skills, not ", policy_.skills_size()));
    }
    for (int i = 0; i < policy_.skills_size(); ++i) {
      const std::string& name = policy_.skills(i).name();
      std::string path = absl::StrCat("skills[", i, "].name");
      CheckName(path, name, "skill");
      if (!name.empty() && !skills_.insert(name).second) {
        Problem(path, absl::StrCat("skill ", Quote(name), " is defined twice; remove one"));
      }
      skill_list_.push_back(name);
    }
  }

  void CheckLanguages() {
    if (policy_.languages_size() > kMaxLanguages) {
      Problem("languages", absl::StrCat("at most ", kMaxLanguages, " languages, not ",
                                        policy_.languages_size()));
    }
    absl::flat_hash_set<std::string> seen;
    for (int i = 0; i < policy_.languages_size(); ++i) {
      const std::string& code = policy_.languages(i);
      std::string path = absl::StrCat("languages[", i, "]");
      CheckName(path, code, "language");
      if (!code.empty() && !seen.insert(code).second) {
        Problem(path, absl::StrCat("language ", Quote(code), " is listed twice; remove one"));
      }
    }
  }

  void CheckTiers() {
    absl::flat_hash_set<std::string> seen;
    for (int i = 0; i < policy_.tiers_size(); ++i) {
      const auto& tier = policy_.tiers(i);
      std::string path = absl::StrCat("tiers[", i, "]");
      CheckName(path + ".name", tier.name(), "tier");
      if (!tier.name().empty() && !seen.insert(tier.name()).second) {
        Problem(path + ".name", absl::StrCat("tier ", Quote(tier.name()), " is defined twice"));
      }
      CheckRange(path + ".priority_boost", tier.priority_boost(), -kMaxPriority, kMaxPriority);
    }
  }

  void CheckRequirements(const std::string& path,
                         const google::protobuf::RepeatedPtrField<SkillRequirement>& skills,
                         const std::string& queue_name) {
    absl::flat_hash_set<std::string> seen;
    for (int i = 0; i < skills.size(); ++i) {
      const SkillRequirement& r = skills.Get(i);
      std::string at = absl::StrCat(path, "[", i, "]");
      if (r.skill().empty()) {
        Problem(at + ".skill",
                absl::StrCat("queue ", Quote(queue_name), ": name the skill required"));
      } else if (!skills_.contains(r.skill())) {
        Problem(
            at + ".skill",
            absl::StrCat("queue ", Quote(queue_name), ": unknown skill ", Quote(r.skill()),
                         SuggestWithin(r.skill(), skill_list_, "skills"),
                         " (or add it under skills:)"));
      } else if (!seen.insert(r.skill()).second) {
        Problem(at + ".skill", absl::StrCat("queue ", Quote(queue_name), ": skill ",
                                            Quote(r.skill()), " is required twice; keep one"));
      }
      if (r.min_proficiency() < 1 || r.min_proficiency() > 5) {
        Problem(at + ".min_proficiency",
                absl::StrCat("queue ", Quote(queue_name), ": proficiency runs from 1 to 5, not ",
                             r.min_proficiency()));
      }
    }
  }

  void CheckQueues() {
    if (policy_.queues_size() == 0) {
      Problem("queues", "the policy defines no queue; add at least one under queues:");
    }
    if (policy_.queues_size() > kMaxQueues) {
      Problem("queues", absl::StrCat("at most ", kMaxQueues, " queues, not ", policy_.queues_size()));
    }
    for (int i = 0; i < policy_.queues_size(); ++i) {
      const std::string& name = policy_.queues(i).name();
      std::string path = absl::StrCat("queues[", i, "].name");
      CheckName(path, name, "queue");
      if (!name.empty() && !queue_index_.emplace(name, i).second) {
        Problem(path,
                absl::StrCat("queue ", Quote(name), " is defined twice; rename or remove one"));
      }
      queue_list_.push_back(name);
    }
    for (int i = 0; i < policy_.queues_size(); ++i) CheckQueue(i, policy_.queues(i));
  }

  void CheckQueue(int index, const Queue& q) {
    const std::string path = absl::StrCat("queues[", index, "]");
    const std::string& name = q.name();
    const std::string in = absl::StrCat("queue ", Quote(name), ": ");
    if (!acd::v1::Channel_IsValid(q.channel())) {
      Problem(path + ".channel", absl::StrCat(in, "unknown channel number ", q.channel(),
                                              "; use voice, chat, email, sms, social or video"));
    }
    if (!acd::v1::Strategy_IsValid(q.strategy())) {
      Problem(path + ".strategy", absl::StrCat(in, "unknown strategy number ", q.strategy()));
    }
    CheckRequirements(path + ".skills", q.skills(), name);
    CheckRange(path + ".preferred_agent.timeout_seconds", q.preferred_agent().timeout_seconds(), 0,
               3600);
    CheckRange(path + ".priority", q.priority(), 0, kMaxPriority);
    if (q.has_aging_per_second()) {
      CheckRange(path + ".aging_per_second", q.aging_per_second(), 0, 1000);
    }
    CheckRange(path + ".wrap_up_seconds", q.wrap_up_seconds(), 0, 3600);
    if (q.offer_timeout_seconds() != 0) {
      CheckRange(path + ".offer_timeout_seconds", q.offer_timeout_seconds(), 1, 600,
                 "0 means the default of 20");
    }
    CheckRange(path + ".max_wait_seconds", q.max_wait_seconds(), 0, 7 * 86400);
    CheckServiceLevel(path, q);
    CheckRange(path + ".alerts.oldest_wait_seconds", q.alerts().oldest_wait_seconds(), 0, 86400);
    const bool can_fall_back = q.max_queue_length() > 0 || q.max_wait_seconds() > 0;
    if (can_fall_back && q.fallback().empty()) {
      Problem(path + ".fallback",
              absl::StrCat(in, "max_queue_length or max_wait_seconds is set, so calls can leave "
                               "this queue: set fallback (e.g. ",
                           Quote(absl::StrCat("voicemail:", name)), ")"));
    }
    CheckEscalation(path, q);
    CheckCallerSettings(path, q);
  }

  void CheckServiceLevel(const std::string& path, const Queue& q) {
    const auto& sl = q.service_level();
    CheckRange(path + ".service_level.threshold_seconds", sl.threshold_seconds(), 0, 86400);
    CheckRange(path + ".service_level.target_ratio", sl.target_ratio(), 0, 1);
    CheckRange(path + ".service_level.alert_ratio", sl.alert_ratio(), 0, 1);
    const double target =
        sl.target_ratio() > 0 ? sl.target_ratio() : kDefaultServiceLevelTarget;
    const bool in_range = target <= 1 && sl.alert_ratio() >= 0 && sl.alert_ratio() <= 1;
    if (in_range && sl.alert_ratio() > target) {
      Problem(path + ".service_level.alert_ratio",
              absl::StrCat("queue ", Quote(q.name()), ": the alert value (",
                           Number(sl.alert_ratio()), ") must not be above the target (",
                           Number(target), sl.target_ratio() > 0 ? ")" : ", the default)"));
    }
  }

  void CheckEscalation(const std::string& path, const Queue& q) {
    const std::string in = absl::StrCat("queue ", Quote(q.name()), ": ");
    double latest = 0;      // the latest after_seconds so far
    int latest_step = -1;   // and the step that set it
    int leaving_step = -1;  // a step after which the call is no longer in this queue
    for (int s = 0; s < q.escalation_size(); ++s) {
      const EscalationStep& step = q.escalation(s);
      const std::string at = absl::StrCat(path, ".escalation[", s, "]");
      const double after = step.after_seconds();
      if (!(after > 0) || after > kMaxStepSeconds) {  // also refuses NaN
        Problem(at + ".after_seconds",
                absl::StrCat(in, "escalation step ", s + 1, ": after_seconds must be > 0 and at most ",
                             Number(kMaxStepSeconds), ", not ", Number(after)));
      } else if (latest_step >= 0 && after <= latest) {
        Problem(at + ".after_seconds",
                absl::StrCat(in, "escalation step ", s + 1, ": after_seconds must be > step ",
                             latest_step + 1, "'s (", Number(latest), "), not ", Number(after)));
      }
      if (q.max_wait_seconds() > 0 && step.after_seconds() >= q.max_wait_seconds()) {
        Problem(at + ".after_seconds",
                absl::StrCat(in, "escalation step ", s + 1, " at ", Number(step.after_seconds()),
                             " s never fires: max_wait_seconds (", Number(q.max_wait_seconds()),
                             ") sends the call to the fallback first"));
      }
      if (after > latest) latest = after, latest_step = s;
      if (leaving_step >= 0) {
        Problem(at, absl::StrCat(in, "escalation step ", s + 1, " never fires: step ",
                                 leaving_step + 1, " already moves the call out of the queue"));
      }
      switch (step.action_case()) {
        case EscalationStep::kRelaxSkillFloor:
          CheckRange(at + ".relax_skill_floor.to", step.relax_skill_floor().to(), 1, 5);
          if (q.skills_size() == 0) {
            Problem(at + ".relax_skill_floor",
                    absl::StrCat(in, "the queue requires no skill, so there is no floor to relax"));
          }
          break;
        case EscalationStep::kAddAlternativeSkills:
          if (step.add_alternative_skills().skills_size() == 0) {
            Problem(at + ".add_alternative_skills.skills",
                    absl::StrCat(in, "list at least one skill"));
          }
          CheckRequirements(at + ".add_alternative_skills.skills",
                            step.add_alternative_skills().skills(), q.name());
          break;
        case EscalationStep::kOverflow: {
          leaving_step = s;
          const std::string& target = step.overflow().queue();
          auto it = queue_index_.find(target);
          if (it == queue_index_.end()) {
            Problem(at + ".overflow.queue", absl::StrCat(in, "unknown queue ", Quote(target), "",
                                                         SuggestWithin(target, queue_list_, "queues")));
          } else if (target == q.name()) {
            Problem(at + ".overflow.queue", absl::StrCat(in, "a queue cannot overflow into itself"));
          } else if (Channel(policy_.queues(it->second)) != Channel(q)) {
            Problem(at + ".overflow.queue",
                    absl::StrCat(in, "overflow queue ", Quote(target),
                                 " serves another channel; overflow only between queues of one "
                                 "channel"));
          } else {
            overflow_edges_[q.name()].push_back(target);
          }
          break;
        }
        case EscalationStep::kRaisePriority:
          CheckRange(at + ".raise_priority.by", step.raise_priority().by(), -kMaxPriority,
                     kMaxPriority);
          if (step.raise_priority().by() == 0) {
            Problem(at + ".raise_priority.by", absl::StrCat(in, "raise by a non-zero amount"));
          }
          break;
        case EscalationStep::kFallback:
          leaving_step = s;
          if (step.fallback().target().empty() && q.fallback().empty()) {
            Problem(at + ".fallback.target",
                    absl::StrCat(in, "give the fallback step a target or set the queue's "
                                     "fallback"));
          }
          break;
        case EscalationStep::ACTION_NOT_SET:
          Problem(at, absl::StrCat(in, "escalation step ", s + 1,
                                   " has no action; set one of relax_skill_floor, "
                                   "add_alternative_skills, overflow, raise_priority, fallback"));
          break;
      }
    }
  }

  void CheckCallerSettings(const std::string& path, const Queue& q) {
    const auto& prompts = q.prompts();
    if (prompts.update_interval_seconds() != 0) {
      CheckRange(path + ".prompts.update_interval_seconds", prompts.update_interval_seconds(), 10,
                 600, "callers expect an update every 30-60 s");
    }
    CheckRange(path + ".prompts.min_spacing_seconds", prompts.min_spacing_seconds(), 0, 600);
    if (prompts.update_interval_seconds() != 0 &&
        prompts.min_spacing_seconds() > prompts.update_interval_seconds()) {
      Problem(path + ".prompts.min_spacing_seconds",
              absl::StrCat("queue ", Quote(q.name()), ": min_spacing_seconds (",
                           prompts.min_spacing_seconds(), ") exceeds update_interval_seconds (",
                           prompts.update_interval_seconds(), ")"));
    }
    CheckRange(path + ".prompts.ewt_rounding_seconds", prompts.ewt_rounding_seconds(), 0, 3600);
    CheckRange(path + ".prompts.ewt_cap_seconds", prompts.ewt_cap_seconds(), 0, 86400);
    if (q.holds().reminder_interval_seconds() != 0) {
      CheckRange(path + ".holds.reminder_interval_seconds", q.holds().reminder_interval_seconds(),
                 10, 600, "callers on hold expect an update every 30-60 s");
    }
    CheckRange(path + ".holds.max_seconds", q.holds().max_seconds(), 0, 86400);
    CheckRange(path + ".transfers.max_per_call", q.transfers().max_per_call(), 0, 20);
    CheckRange(path + ".transfers.priority_boost", q.transfers().priority_boost(), -kMaxPriority,
               kMaxPriority);
    CheckRange(path + ".transfers.agent_wait_seconds", q.transfers().agent_wait_seconds(), 0, 3600);
    const auto& callbacks = q.callbacks();
    CheckRange(path + ".callbacks.offer_when_ewt_over_seconds",
               callbacks.offer_when_ewt_over_seconds(), 0, 86400);
    if (callbacks.offer_when_ewt_over_seconds() > 0) {
      CheckRange(path + ".callbacks.max_attempts", callbacks.max_attempts(), 1, 10);
      CheckRange(path + ".callbacks.retry_interval_seconds", callbacks.retry_interval_seconds(), 10,
                 86400);
    }
  }

  static acd::v1::Channel Channel(const Queue& q) {
    return q.channel() == acd::v1::CHANNEL_UNSPECIFIED ? acd::v1::CHANNEL_VOICE : q.channel();
  }

  // Overflow steps form a graph between queues; a cycle would bounce a call forever.
  void CheckOverflowLoops() {
    enum Mark { kUnseen, kOnPath, kDone };
    absl::flat_hash_map<std::string, Mark> mark;
    std::vector<std::string> path;
    std::function<void(const std::string&)> visit = [&](const std::string& queue) {
      mark[queue] = kOnPath;
      path.push_back(queue);
      for (const std::string& next : overflow_edges_[queue]) {
        if (mark[next] == kOnPath) {  // each back edge closes one loop: report them all
          auto start = std::find(path.begin(), path.end(), next);
          std::vector<std::string> loop(start, path.end());
          loop.push_back(next);
          Problem(absl::StrCat("queues[", queue_index_[queue], "].escalation"),
                  absl::StrCat("overflow loop: ",
                               absl::StrJoin(loop, " -> ",
                                             [](std::string* out, const std::string& name) {
                                               out->append(Quote(name));
                                             }),
                               "; a call would bounce between these queues forever, so end the "
                               "chain in a queue without overflow or with a fallback step"));
        } else if (mark[next] == kUnseen) {
          visit(next);
        }
      }
      path.pop_back();
      mark[queue] = kDone;
    };
    for (const std::string& queue : queue_list_) {
      if (mark[queue] == kUnseen) visit(queue);
    }
  }

  void CheckAgentRules() {
    const auto& rules = policy_.agent_rules();
    if (rules.has_max_missed_offers()) {
      CheckRange("agent_rules.max_missed_offers", rules.max_missed_offers(), 0, 100);
    }
    if (rules.has_reject_delay_seconds()) {
      CheckRange("agent_rules.reject_delay_seconds", rules.reject_delay_seconds(), 0, 3600);
    }
    if (rules.has_no_answer_delay_seconds()) {
      CheckRange("agent_rules.no_answer_delay_seconds", rules.no_answer_delay_seconds(), 0, 3600);
    }
    absl::flat_hash_set<int> seen;
    for (int i = 0; i < rules.max_capacity_size(); ++i) {
      const auto& c = rules.max_capacity(i);
      std::string at = absl::StrCat("agent_rules.max_capacity[", i, "]");
      if (c.channel() == acd::v1::CHANNEL_UNSPECIFIED || !acd::v1::Channel_IsValid(c.channel())) {
        Problem(at + ".channel", "name the channel (voice, chat, email, sms, social, video)");
      } else if (!seen.insert(c.channel()).second) {
        Problem(at + ".channel", "this channel's capacity is set twice; keep one");
      }
      CheckRange(at + ".max", c.max(), 1, 100);
    }
  }

  void CheckLimits() {
    const auto& limits = policy_.limits();
    if (limits.max_calls_waiting() != 0) {
      CheckRange("limits.max_calls_waiting", limits.max_calls_waiting(), 1, 10'000'000);
    }
    if (limits.max_agents() != 0) CheckRange("limits.max_agents", limits.max_agents(), 1, 1'000'000);
    if (limits.max_call_attributes() != 0) {
      CheckRange("limits.max_call_attributes", limits.max_call_attributes(), 1, 1024);
    }
    if (limits.max_attribute_bytes() != 0) {
      CheckRange("limits.max_attribute_bytes", limits.max_attribute_bytes(), 16, 65536);
    }
  }

  const Policy& policy_;
  std::vector<PolicyProblem> problems_;
  int suggestions_ = 0;  // made so far (SuggestWithin)
  absl::flat_hash_set<std::string> skills_;
  std::vector<std::string> skill_list_;
  absl::flat_hash_map<std::string, int> queue_index_;
  std::vector<std::string> queue_list_;
  absl::flat_hash_map<std::string, std::vector<std::string>> overflow_edges_;
};

}  // namespace

std::vector<PolicyProblem> ValidatePolicy(const Policy& policy) {
  return Validator(policy).Run();
}

}  // namespace acd::routing
