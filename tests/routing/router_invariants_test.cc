// Router invariants under random traffic and policy reloads: after every event, whatever its order
// or validity, no call is lost or invented, no ready agent idles while a call it can take waits,
// and an agent is reserved exactly while a call is offered to it.
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "routing/router.h"
#include "tests/routing/test_policy.h"

namespace acd::routing {
namespace {

using ::acd::routing::testing::PolicyFromYaml;
using ::acd::routing::testing::T;

// A call of a queue suits every member of it who speaks the call's language (if it names one).
constexpr char kPolicy[] = R"(
skills: [{name: a}, {name: b}, {name: c}]
languages: [en, es]
agent_rules: {max_missed_offers: 2, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - name: qa
    skills: [{skill: a, min_proficiency: 1}]
    wrap_up_seconds: 5
    offer_timeout_seconds: 8
    max_wait_seconds: 200
    fallback: "voicemail:qa"
    escalation:
      - {after_seconds: 20, raise_priority: {by: 10}}
      - {after_seconds: 60, overflow: {queue: qb}}
  - name: qb
    skills: [{skill: b, min_proficiency: 1}]
    strategy: round_robin
    wrap_up_seconds: 3
    escalation: [{after_seconds: 100, fallback: {target: "voicemail:qb"}}]
  - name: qc
    skills: [{skill: c, min_proficiency: 1}]
    strategy: random
)";

// The same queues, skills and languages with other rules, so a reload to it is never refused.
constexpr char kOtherPolicy[] = R"(
skills: [{name: a}, {name: b}, {name: c}]
languages: [en, es]
agent_rules: {max_missed_offers: 3, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - name: qa
    skills: [{skill: a, min_proficiency: 2}]
    strategy: most_proficient
    escalation: [{after_seconds: 15, relax_skill_floor: {to: 1}}]
  - name: qb
    skills: [{skill: b, min_proficiency: 1}]
    max_wait_seconds: 90
    fallback: "voicemail:qb"
    escalation: [{after_seconds: 30, overflow: {queue: qc}}]
  - name: qc
    skills: [{skill: c, min_proficiency: 1}]
    strategy: fewest_calls
    escalation: [{after_seconds: 40, add_alternative_skills: {skills: [{skill: a, min_proficiency: 1}]}}]
)";

class Traffic {
 public:
  explicit Traffic(uint64_t seed)
      : policies_{PolicyFromYaml(kPolicy), PolicyFromYaml(kOtherPolicy)},
        router_(policies_[0], T(0)),
        random_(seed) {}

  void Step() {
    ASSERT_NO_FATAL_FAILURE(StepOnce());
  }
  void StepOnce() {
    const int kind = Pick(100);
    const std::string agent = absl::StrCat("agent", Pick(8));
    if (kind < 25) {
      CallSpec spec{.call_id = absl::StrCat("call", next_call_++),
                    .queue = std::vector<std::string>{"qa", "qb", "qc"}[Pick(3)],
                    .priority = Pick(3) * 10,
                    .language = std::vector<std::string>{"", "en", "es"}[Pick(3)]};
      if (router_.Enqueue(spec, now_).ok()) {
        alive_.insert(spec.call_id);
        language_[spec.call_id] = spec.language;
      }
    } else if (kind < 35) {
      AgentSpec spec{.agent_id = agent, .ready = Pick(2) == 0};
      for (const char* s : {"a", "b", "c"}) {
        if (Pick(2) == 0) spec.skills.push_back({s, 1 + Pick(5)});
      }
      for (const char* l : {"en", "es"}) {
        if (Pick(3) != 0) spec.languages.push_back(l);
      }
      if (router_.Login(spec, now_).ok()) {
        std::erase_if(avoided_, [&](const auto& entry) { return entry.second.first == agent; });
        speaks_[agent] = {spec.languages.begin(), spec.languages.end()};
        skills_[agent].clear();
        for (const NamedSkill& s : spec.skills) skills_[agent][s.skill] = s.proficiency;
      }
    } else if (kind < 40) {
      (void)router_.Logout(agent, now_);
    } else if (kind < 50) {
      (void)router_.SetReady(agent, now_);
    } else if (kind < 54) {
      (void)router_.SetNotReady(agent, "break", now_);
    } else if (kind < 57) {
      (void)router_.EndWrapUp(agent, now_);
    } else if (kind < 75 && !offers_.empty()) {
      auto it = std::next(offers_.begin(), Pick(static_cast<int>(offers_.size())));
      const auto [call, to] = *it;
      const int answer = Pick(10);
      if (answer < 7) {
        if (router_.OfferAccepted(call, to, now_).ok()) connected_.insert(call);
      } else if (answer < 9) {
        (void)router_.OfferRejected(call, to, now_);
      } else {
        (void)router_.OfferNotAnswered(call, to, now_);
      }
      offers_.erase(call);
    } else if (kind < 88 && !connected_.empty()) {
      auto it = std::next(connected_.begin(), Pick(static_cast<int>(connected_.size())));
      const std::string call = *it;
      EXPECT_TRUE(router_.EndCall(call, now_).ok());
      connected_.erase(call);
      alive_.erase(call);
    } else if (kind < 90 && !connected_.empty()) {
      auto it = std::next(connected_.begin(), Pick(static_cast<int>(connected_.size())));
      const std::string call = *it;
      std::optional<CallView> view = router_.FindCall(call);
      ASSERT_TRUE(view);
      const TransferTarget target{.queue = std::vector<std::string>{"qa", "qb", "qc"}[Pick(3)]};
      if (router_.Transfer(call, view->agent_id, target, now_).ok()) {
        connected_.erase(call);
        // By design the agent who sent the call on is not offered it again for a while
        // (transfers.agent_wait_seconds, 60 by default), unless they log in anew.
        avoided_[call] = {view->agent_id, now_ + absl::Seconds(60)};
      }
    } else if (kind < 93 && !alive_.empty()) {
      auto it = std::next(alive_.begin(), Pick(static_cast<int>(alive_.size())));
      const std::string call = *it;
      EXPECT_TRUE(router_.Abandon(call, now_).ok());
      alive_.erase(call);
      connected_.erase(call);
      offers_.erase(call);
    } else if (kind < 95) {
      current_ = 1 - current_;
      EXPECT_TRUE(router_.ReplacePolicy(policies_[current_], now_).ok());
    } else {
      now_ += absl::Seconds(Pick(30));
      router_.AdvanceTo(now_);
    }
    Absorb(router_.TakeDecisions());
  }

  // Checks every invariant; returns false after the first broken one (already reported).
  bool Holds(int step) {
    EXPECT_EQ(router_.call_count(), alive_.size()) << "step " << step;
    for (const std::string& call : alive_) {
      if (!router_.FindCall(call)) {
        ADD_FAILURE() << "step " << step << ": call " << call << " was lost";
        return false;
      }
    }
    for (const auto& [call, agent] : offers_) {
      std::optional<CallView> view = router_.FindCall(call);
      std::optional<AgentView> a = router_.FindAgent(agent);
      if (!view || view->state != CallState::kOffered || !a || a->state != AgentState::kReserved) {
        ADD_FAILURE() << "step " << step << ": offer of " << call << " to " << agent << " is not live";
        return false;
      }
    }
    for (int i = 0; i < 8; ++i) {
      std::optional<AgentView> a = router_.FindAgent(absl::StrCat("agent", i));
      if (!a || a->state != AgentState::kReady) continue;
      for (const std::string& call : alive_) {
        std::optional<CallView> c = router_.FindCall(call);
        if (c->state != CallState::kWaiting) continue;
        const std::string& language = language_[call];
        const bool member = std::find(a->queues.begin(), a->queues.end(), c->queue) != a->queues.end();
        // Members of a queue may still lack the floor the call has reached; leave those out.
        auto avoided = avoided_.find(call);
        const bool excused = avoided != avoided_.end() && avoided->second.first == a->agent_id &&
                             now_ < avoided->second.second;
        if (member && !excused && CanServe(a->agent_id, c->queue, *c) &&
            (language.empty() || speaks_[a->agent_id].contains(language))) {
          ADD_FAILURE() << "step " << step << ": " << a->agent_id << " is ready while " << call
                        << " waits in " << c->queue << " in a language it speaks";
          return false;
        }
      }
    }
    return !::testing::Test::HasFailure();
  }

  size_t served() const { return served_; }

  // Whether an agent's skills meet a call's queue as the call stands now: in the second policy qa
  // needs a>=2 until its relax step and qc widens to skill a, so membership alone is not enough.
  bool CanServe(const std::string& agent, const std::string& queue, const CallView& call) {
    const auto& skills = skills_[agent];
    auto level = [&](const char* s) { auto it = skills.find(s); return it == skills.end() ? 0 : it->second; };
    if (current_ == 0) return true;  // first policy: every member meets every call
    if (queue == "qa") return level("a") >= (call.escalation_steps_fired > 0 ? 1 : 2);
    if (queue == "qc") return level("c") >= 1 || (call.escalation_steps_fired > 0 && level("a") >= 1);
    return true;
  }

 private:
  int Pick(int n) { return static_cast<int>(random_() % n); }

  void Absorb(const std::vector<Decision>& decisions) {
    for (const Decision& d : decisions) {
      switch (d.kind) {
        case Decision::Kind::kOfferCall:
          offers_[d.call_id] = d.agent_id;
          ++served_;
          break;
        case Decision::Kind::kCancelOffer: offers_.erase(d.call_id); break;
        case Decision::Kind::kSendToFallback:
          alive_.erase(d.call_id);
          offers_.erase(d.call_id);
          break;
        default: break;
      }
    }
  }

  std::shared_ptr<const CompiledPolicy> policies_[2];
  int current_ = 0;
  Router router_;
  std::mt19937_64 random_;
  absl::Time now_ = T(0);
  uint64_t next_call_ = 0;
  std::set<std::string> alive_;
  std::map<std::string, std::string> offers_;  // call -> agent
  std::set<std::string> connected_;
  std::map<std::string, std::string> language_;             // call -> language ("" for none)
  std::map<std::string, std::set<std::string>> speaks_;     // agent -> languages
  std::map<std::string, std::map<std::string, int>> skills_;  // agent -> skill -> proficiency
  std::map<std::string, std::pair<std::string, absl::Time>> avoided_;  // call -> (agent, until)
  size_t served_ = 0;
};

TEST(RouterInvariants, HoldAfterEveryEventOfRandomTraffic) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Traffic traffic(seed);
    for (int step = 0; step < 3000; ++step) {
      traffic.Step();
      ASSERT_TRUE(traffic.Holds(step)) << "seed " << seed;
    }
    EXPECT_GT(traffic.served(), 100u) << "seed " << seed << ": the traffic must actually route calls";
  }
}

}  // namespace
}  // namespace acd::routing
