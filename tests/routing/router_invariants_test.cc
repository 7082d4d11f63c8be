// Router invariants under random traffic and policy reloads: after every event, whatever its order
// or validity, the router's own state holds together (Router::CheckInvariants), no call is lost or
// invented, no ready agent idles while a call it can take waits,
// an agent is reserved exactly while a call is offered to it, an agent consulting stays busy with
// its call, callers hear the queue only as its rules allow, and every figure the router keeps
// count of per queue equals a recount from its views.
#include <algorithm>
#include <array>
#include <numeric>
#include <optional>
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
    prompts: {update_interval_seconds: 30, min_spacing_seconds: 20}
    holds: {reminder_interval_seconds: 20, max_seconds: 60}
    callbacks: {offer_when_ewt_over_seconds: 20, max_attempts: 2, retry_interval_seconds: 25}
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
    callbacks: {offer_when_ewt_over_seconds: 1, max_attempts: 3, retry_interval_seconds: 40}
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
    prompts: {update_interval_seconds: 45, min_spacing_seconds: 20}
    callbacks: {offer_when_ewt_over_seconds: 10, max_attempts: 1, retry_interval_seconds: 30}
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
    if (kind < 22) {
      CallSpec spec{.call_id = absl::StrCat("call", next_call_++),
                    .queue = std::vector<std::string>{"qa", "qb", "qc"}[Pick(3)],
                    .priority = Pick(3) * 10,
                    .language = std::vector<std::string>{"", "en", "es"}[Pick(3)]};
      if (router_.Enqueue(spec, now_).ok()) {
        alive_.insert(spec.call_id);
        language_[spec.call_id] = spec.language;
      }
    } else if (kind < 31) {
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
    } else if (kind < 35) {
      (void)router_.Logout(agent, now_);
    } else if (kind < 44) {
      (void)router_.SetReady(agent, now_);
    } else if (kind < 48) {
      (void)router_.SetNotReady(agent, "break", now_);
    } else if (kind < 50) {
      (void)router_.EndWrapUp(agent, now_);
    } else if (kind < 66 && !offers_.empty()) {
      auto it = std::next(offers_.begin(), Pick(static_cast<int>(offers_.size())));
      const auto [call, to] = *it;
      const int answer = Pick(10);
      if (answer < 7) {
        if (router_.OfferAccepted(call, to, now_).ok()) {
          connected_.insert(call);
          consults_.erase(call);  // a consult completes when its offer is accepted
        }
      } else if (answer < 9) {
        (void)router_.OfferRejected(call, to, now_);
      } else {
        (void)router_.OfferNotAnswered(call, to, now_);
      }
      offers_.erase(call);
    } else if (kind < 76 && !connected_.empty()) {
      const std::string call = PickFrom(connected_);
      EXPECT_TRUE(router_.EndCall(call, now_).ok());
      Gone(call);
    } else if (kind < 78 && !connected_.empty()) {
      const std::string call = PickFrom(connected_);
      std::optional<CallView> view = router_.FindCall(call);
      ASSERT_TRUE(view);
      const TransferTarget target{.queue = std::vector<std::string>{"qa", "qb", "qc"}[Pick(3)]};
      if (router_.Transfer(call, view->agent_id, target, now_).ok()) {
        connected_.erase(call);
        callbacks_.erase(call);  // the customer is on the line now
        // By design the agent who sent the call on is not offered it again for a while
        // (transfers.agent_wait_seconds, 60 by default), unless they log in anew.
        avoided_[call] = {view->agent_id, now_ + absl::Seconds(60)};
      }
    } else if (kind < 81 && !alive_.empty()) {
      const std::string call = PickFrom(alive_);
      EXPECT_TRUE(router_.Abandon(call, now_).ok());
      Gone(call);
    } else if (kind < 83) {
      current_ = 1 - current_;
      EXPECT_TRUE(router_.ReplacePolicy(policies_[current_], now_).ok());
    } else if (kind < 86 && !alive_.empty()) {
      // Mostly calls with an agent (connected or consulting); now and then any call.
      const std::string call =
          !connected_.empty() && Pick(4) != 0 ? PickFrom(connected_) : PickFrom(alive_);
      std::optional<CallView> view = router_.FindCall(call);
      if (view->on_hold) {
        if (Pick(2) == 0) {
          EXPECT_TRUE(router_.EndHold(call, now_).ok());
        }
      } else {
        const absl::Status s = router_.StartHold(call, absl::Seconds(Pick(3) * 20), now_);
        // A connected caller can be held, and so can one whose agent is consulting.
        EXPECT_EQ(s.ok(), view->state == CallState::kConnected || !view->consulting_agent.empty())
            << s;
      }
    } else if (kind < 89 && !connected_.empty()) {
      const std::string call = PickFrom(connected_);
      const std::string from = router_.FindCall(call)->agent_id;
      const TransferTarget target{.queue = std::vector<std::string>{"qa", "qb", "qc"}[Pick(3)]};
      absl::StatusOr<EnqueueResult> consult = router_.StartConsult(call, from, target, now_);
      if (consult.ok()) {
        connected_.erase(call);
        callbacks_.erase(call);
        if (consult->disposition != EnqueueResult::Disposition::kSentToFallback) {
          consults_[call] = from;
        }
      }
    } else if (kind < 91 && !consults_.empty()) {
      const auto [call, from] = *std::next(consults_.begin(), Pick(static_cast<int>(consults_.size())));
      if (Pick(3) == 0) {
        EXPECT_TRUE(router_.EndCall(call, now_).ok());
        Gone(call);
      } else {
        EXPECT_TRUE(router_.CancelConsult(call, from, now_).ok());
        consults_.erase(call);
        offers_.erase(call);
        connected_.insert(call);
      }
    } else if (kind < 94 && !alive_.empty()) {
      const std::string call = PickFrom(alive_);
      if (router_.AcceptCallback(call, now_).ok()) accepted_callback_ = call;
    } else if (kind < 96 && !connected_.empty()) {
      // Mostly a connected callback whose customer does not answer; now and then any call.
      std::set<std::string> dialled;
      for (const std::string& call : connected_) {
        if (router_.FindCall(call)->callback) dialled.insert(call);
      }
      const std::string call =
          !dialled.empty() && Pick(4) != 0 ? PickFrom(dialled) : PickFrom(connected_);
      std::optional<CallView> view = router_.FindCall(call);
      const absl::Status s = router_.CallbackNotReached(call, view->agent_id, now_);
      EXPECT_EQ(s.ok(), view->callback) << s;
      if (s.ok()) connected_.erase(call);
    } else {
      now_ += absl::Seconds(Pick(30));
      router_.AdvanceTo(now_);
    }
    Absorb(router_.TakeDecisions());
    if (!accepted_callback_.empty()) callbacks_.insert(accepted_callback_);
    accepted_callback_.clear();
  }

  // Checks every invariant; returns false after the first broken one (already reported).
  bool Holds(int step) {
    if (absl::Status s = router_.CheckInvariants(); !s.ok()) {
      ADD_FAILURE() << "step " << step << ": " << s.message();
      return false;
    }
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
    for (const std::string& call : alive_) {
      std::optional<CallView> view = router_.FindCall(call);
      if (connected_.contains(call) != (view->state == CallState::kConnected)) {
        ADD_FAILURE() << "step " << step << ": " << call << " is connected only on one side";
        return false;
      }
      if (view->state == CallState::kConnected &&
          router_.FindAgent(view->agent_id)->state != AgentState::kBusy) {
        ADD_FAILURE() << "step " << step << ": " << view->agent_id << " is on " << call
                      << " but not busy";
        return false;
      }
      if (view->state == CallState::kCallbackPending && (!view->callback || !view->agent_id.empty())) {
        ADD_FAILURE() << "step " << step << ": " << call << " waits for a retry but holds an agent";
        return false;
      }
      if (view->on_hold && view->state != CallState::kConnected && view->consulting_agent.empty()) {
        ADD_FAILURE() << "step " << step << ": " << call << " is on hold without an agent";
        return false;
      }
      auto consult = consults_.find(call);
      if (view->consulting_agent != (consult == consults_.end() ? "" : consult->second)) {
        ADD_FAILURE() << "step " << step << ": " << call << " consulting agent is '"
                      << view->consulting_agent << "'";
        return false;
      }
      if (consult != consults_.end() &&
          router_.FindAgent(consult->second)->state != AgentState::kBusy) {
        ADD_FAILURE() << "step " << step << ": " << consult->second << " consults on " << call
                      << " but is not busy with it";
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
    if (!FiguresMatchARecount(step)) return false;
    return !::testing::Test::HasFailure();
  }

  // What the router keeps count of as events come, per queue, equals what a recount from its
  // views finds: the waiting calls, the callbacks among them and the oldest arrival (the line
  // keeps times to the microsecond), the places (1..n, each once), the staffed members (ready
  // ones, busy or not; an agent cooling down after a missed offer is still ready) and the members
  // by state. Returns false after the first queue that differs (already reported).
  bool FiguresMatchARecount(int step) {
    for (const std::string queue : {"qa", "qb", "qc"}) {
      absl::StatusOr<QueueView> view = router_.Queue(queue);
      if (!view.ok()) {
        ADD_FAILURE() << "step " << step << ": " << view.status();
        return false;
      }
      int waiting = 0;
      int callbacks = 0;
      std::optional<absl::Time> oldest;
      std::vector<int> places;
      for (const std::string& call : alive_) {
        std::optional<CallView> c = router_.FindCall(call);
        if (c->state != CallState::kWaiting || c->queue != queue) continue;
        ++waiting;
        callbacks += c->callback;
        const absl::Time arrived = absl::FromUnixMicros(absl::ToUnixMicros(c->arrived));
        oldest = std::min(oldest.value_or(arrived), arrived);
        places.push_back(c->position);
      }
      std::sort(places.begin(), places.end());
      std::vector<int> one_to_n(places.size());
      std::iota(one_to_n.begin(), one_to_n.end(), 1);
      int staffed = 0;
      std::array<int, kAgentStateCount> by_state{};
      for (int i = 0; i < 8; ++i) {
        std::optional<AgentView> a = router_.FindAgent(absl::StrCat("agent", i));
        if (!a || std::find(a->queues.begin(), a->queues.end(), queue) == a->queues.end()) continue;
        staffed += a->not_ready_reason.empty() || a->not_ready_reason == "offer_cooldown";
        ++by_state[static_cast<int>(a->state)];
      }
      EXPECT_EQ(view->calls_waiting, waiting) << "step " << step << ": " << queue;
      EXPECT_EQ(view->callbacks_waiting, callbacks) << "step " << step << ": " << queue;
      EXPECT_EQ(view->oldest_arrival, oldest) << "step " << step << ": " << queue;
      EXPECT_EQ(places, one_to_n) << "step " << step << ": places in " << queue;
      EXPECT_EQ(view->staffed_agents, staffed) << "step " << step << ": " << queue;
      EXPECT_EQ(view->agents_by_state, by_state) << "step " << step << ": " << queue;
      if (::testing::Test::HasFailure()) return false;
    }
    return true;
  }

  size_t served() const { return served_; }
  size_t prompts() const { return prompts_; }
  size_t completed_consults() const { return completed_consults_; }

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
  std::string PickFrom(const std::set<std::string>& calls) {
    return *std::next(calls.begin(), Pick(static_cast<int>(calls.size())));
  }
  void Gone(const std::string& call) {
    alive_.erase(call);
    connected_.erase(call);
    offers_.erase(call);
    consults_.erase(call);
    callbacks_.erase(call);
  }

  void Absorb(const std::vector<Decision>& decisions) {
    for (const Decision& d : decisions) {
      switch (d.kind) {
        case Decision::Kind::kOfferCall:
        case Decision::Kind::kStartCallback:
          offers_[d.call_id] = d.agent_id;
          ++served_;
          break;
        case Decision::Kind::kCancelOffer: offers_.erase(d.call_id); break;
        case Decision::Kind::kSendToFallback:
          // A callback keeps its place whatever the wait; only its transfers can send it on.
          EXPECT_FALSE(callbacks_.contains(d.call_id) && d.reason != "too_many_transfers")
              << d.call_id << " is a callback sent on: " << d.reason;
          Gone(d.call_id);
          break;
        case Decision::Kind::kCallbackGaveUp: Gone(d.call_id); break;
        case Decision::Kind::kTransferCompleted: ++completed_consults_; break;
        case Decision::Kind::kPlayPrompt: {
          ++prompts_;
          if (d.prompt == Decision::PromptKind::kHoldReminder) {
            last_prompt_[d.call_id] = d.at;
            break;
          }
          // Only a caller alone in line hears the queue, never closer than min_spacing (20 s)
          // after the last prompt, bar the callback offer that follows a prompt at once.
          EXPECT_FALSE(consults_.contains(d.call_id)) << d.call_id << " hears the queue in a consult";
          EXPECT_FALSE(callbacks_.contains(d.call_id)) << d.call_id << " hears the queue as a callback";
          auto last = last_prompt_.find(d.call_id);
          if (d.prompt != Decision::PromptKind::kCallbackOffer && last != last_prompt_.end()) {
            EXPECT_GE(d.at - last->second, absl::Seconds(20)) << d.call_id << " prompted too soon";
          }
          last_prompt_[d.call_id] = d.at;
          break;
        }
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
  std::map<std::string, std::string> consults_;  // call -> the agent still on the line
  std::set<std::string> callbacks_;              // calls whose customer accepted a callback
  std::string accepted_callback_;                // in this step: a callback from the next one on
  std::map<std::string, absl::Time> last_prompt_;  // call -> when it last heard a prompt
  size_t prompts_ = 0;
  size_t completed_consults_ = 0;
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
    EXPECT_GT(traffic.prompts(), 50u) << "seed " << seed << ": callers must actually hear prompts";
    EXPECT_GT(traffic.completed_consults(), 0u) << "seed " << seed << ": consults must complete";
  }
}

}  // namespace
}  // namespace acd::routing
