// Snapshots: Router::SaveState and Router::RestoreState.
//
// The bytes are a StateWriter archive (state_archive.h):
//   magic "ACDS" (u32 LE) | format version (u32 LE) |
//   the policy's shape: queue names, skill names, language codes (a restore checks them) |
//   the primary state, as Router::SnapshotFields lists it: clocks, the call and agent slot tables
//   (free slots included) with their free lists and sequence counters, round-robin positions and
//   per-queue stats with what the wait estimators learned |
//   the pending timers (due, seq, kind, slot) and the next timer seq |
//   the random engine's state words | each queue's line partitions, by language, in order.
// What router_state.h calls derived (the waiting sets, the available sets, held_calls_, staffing
// and state counts, the id maps) is not stored: RebuildDerived rebuilds it from the calls' stored
// keys and the agents' `indexed` lists, checking the invariants as it goes, so that bytes from
// outside that break them are refused rather than trusted.
#include <algorithm>
#include <cmath>
#include <concepts>
#include <locale>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "routing/quote.h"
#include "routing/router.h"
#include "routing/router_internal.h"
#include "routing/state_archive.h"

namespace acd::routing {

using internal::Crash;

namespace {

constexpr uint32_t kMagic = 0x53444341;  // "ACDS", little-endian
// Bump when the bytes change meaning; RestoreState reads only its own version.
constexpr uint32_t kFormatVersion = 1;

// What a snapshot must agree on with the policy it is restored under: ids in the state index
// these tables.
struct PolicyShape {
  std::vector<std::string> queues;
  std::vector<std::string> skills;
  std::vector<std::string> languages;
  friend bool operator==(const PolicyShape&, const PolicyShape&) = default;
};
template <typename A, typename K>
  requires std::same_as<std::remove_const_t<K>, PolicyShape>
void Fields(A& ar, K& s) { ar(s.queues, s.skills, s.languages); }

PolicyShape ShapeOf(const CompiledPolicy& policy) {
  PolicyShape shape{.skills = policy.skill_names, .languages = policy.languages};
  for (const CompiledQueue& q : policy.queues) shape.queues.push_back(q.name);
  return shape;
}

// The engine's state as its text form's numbers (the standard's textual representation), kept
// as fixed 64-bit words rather than decimal text.
std::vector<uint64_t> EngineWords(const std::mt19937_64& engine) {
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << engine;
  std::istringstream in(out.str());
  in.imbue(std::locale::classic());
  std::vector<uint64_t> words;
  for (uint64_t w; in >> w;) words.push_back(w);
  return words;
}

bool SetEngine(const std::vector<uint64_t>& words, std::mt19937_64& engine) {
  if (words.size() != EngineWords(engine).size()) return false;
  std::istringstream in(absl::StrJoin(words, " "));
  in.imbue(std::locale::classic());
  in >> engine;
  return !in.fail();
}

template <typename... Parts>
absl::Status Corrupt(const Parts&... what) {
  return absl::DataLossError(absl::StrCat("router snapshot: ", what...));
}

}  // namespace

// The values an enum may take, for StateReader.
static uint64_t EnumCount(CallState) { return 4; }
static uint64_t EnumCount(Channel) { return kChannelCount; }
static uint64_t EnumCount(AgentState) { return kAgentStateCount; }
static uint64_t EnumCount(TimerKind) { return static_cast<uint64_t>(TimerKind::kAgentAvailable) + 1; }

// Each struct's fields, listed once for both directions (K is const when saving).
template <typename K, typename T>
concept Is = std::same_as<std::remove_const_t<K>, T>;

template <typename A, Is<NamedSkill> K>
static void Fields(A& ar, K& s) { ar(s.skill, s.proficiency); }
template <typename A, Is<SkillLevel> K>
static void Fields(A& ar, K& s) { ar(s.skill, s.level); }
template <typename A, Is<WaitingKey> K>
static void Fields(A& ar, K& k) { ar(k.rank_desc, k.arrived_us, k.seq, k.slot, k.entered_us); }
template <typename A, Is<AgentKey> K>
static void Fields(A& ar, K& k) { ar(k.load, k.primary, k.secondary, k.slot); }
template <typename A, Is<TimerHandle> K>
static void Fields(A& ar, K& h) { ar(h.due, h.seq); }
template <typename A, Is<Timer> K>
static void Fields(A& ar, K& t) { ar(t.due, t.seq, t.kind, t.slot); }

template <typename Archive, typename Estimator>
void EstimatorFields(Archive& ar, Estimator& e) {
  ar(e.as_of_, e.talk_sum_, e.talk_weight_, e.abandons_, e.waiting_seconds_, e.calls_ended_,
     e.last_served_wait_);
}
template <typename A, Is<QueueWaitEstimator> K>
static void Fields(A& ar, K& e) { EstimatorFields(ar, e); }
template <typename A, Is<QueueStats> K>
static void Fields(A& ar, K& s) {
  ar(s.wait, s.prompts_played, s.callbacks_accepted, s.callbacks_gave_up, s.hold_overruns);
}

// A field added to RoutedCall or RoutedAgent must be listed below; these sizes (x86-64,
// libstdc++) are a reminder.
static_assert(sizeof(void*) != 8 || sizeof(RoutedCall) == 824,
              "RoutedCall changed: list its new field in Fields(RoutedCall) and bump kFormatVersion");
static_assert(sizeof(void*) != 8 || sizeof(RoutedAgent) == 416,
              "RoutedAgent changed: list its new field in Fields(RoutedAgent) and bump kFormatVersion");

template <typename A, Is<RoutedCall> K>
static void Fields(A& ar, K& c) {
  ar(c.id, c.seq, c.state, c.queue, c.channel, c.extra_skill_names, c.extra_skills,
     c.call_priority, c.tier, c.raised_priority, c.transfer_boost, c.transfers);
  ar(c.transferred_from, c.transferred_from_login, c.avoid_until, c.held_for, c.held_for_login,
     c.held_until, c.language, c.language_bit, c.preferred_agent, c.preferred_slot,
     c.preferred_login, c.preferred_until);
  ar(c.arrived, c.entered_queue, c.connected_at, c.next_step, c.skill_floor, c.agent, c.key,
     c.timers);
  ar(c.last_prompt_at, c.announced_position, c.prompts_played, c.callback_offered_in);
  ar(c.on_hold, c.hold_started, c.hold_reminded, c.hold_expected, c.hold_expected_flagged,
     c.hold_max_flagged, c.holds, c.hold_time);
  ar(c.consulting_agent, c.consult_from_queue, c.consult_from_entered, c.consult_from_boost,
     c.consult_wrap_up, c.callback, c.callback_attempts);
}

template <typename A, Is<RoutedAgent> K>
static void Fields(A& ar, K& a) {
  ar(a.id, a.login_seq, a.skill_names, a.language_names, a.queue_names, a.narrowed,
     a.proficiency, a.language_mask, a.capacity, a.load, a.ready, a.not_ready_reason);
  ar(a.offered_call, a.calls, a.unavailable_until, a.wrapping_up, a.idle_since, a.handled,
     a.missed_in_a_row, a.random_key, a.available_timer, a.queues, a.counted_as, a.indexed);
}

template <typename Archive, typename Self>
void Router::SnapshotFields(Archive& ar, Self& self) {
  ar(self.origin_, self.now_, self.keep_facts_);
  ar(self.calls_, self.free_calls_, self.next_call_seq_);
  ar(self.agents_, self.agent_live_, self.free_agents_, self.next_login_seq_);
  ar(self.round_robin_last_, self.stats_);
}

std::string Router::SaveState() const {
  if (!decisions_.empty() || !facts_.empty()) {
    Crash("SaveState with decisions or call facts not taken yet");
  }
  StateWriter w;
  w.Fixed32(kMagic);
  w.Fixed32(kFormatVersion);
  w(ShapeOf(*policy_));
  SnapshotFields(w, *this);
  w(timers_.Pending(), timers_.next_seq());
  w(EngineWords(random_));
  std::vector<std::vector<int>> line_languages;
  for (const WaitingCalls& line : waiting_) line_languages.push_back(line.PartitionLanguages());
  w(line_languages);
  return w.Take();
}

absl::StatusOr<std::unique_ptr<Router>> Router::RestoreState(
    std::shared_ptr<const CompiledPolicy> policy, absl::string_view bytes) {
  StateReader r(bytes);
  if (r.Fixed32() != kMagic) {
    return absl::InvalidArgumentError("not a router snapshot (no ACDS magic)");
  }
  if (const uint32_t version = r.Fixed32(); version != kFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat("router snapshot format version ", version,
                                                   "; this build reads version ", kFormatVersion));
  }
  PolicyShape shape;
  r(shape);
  if (!r.ok()) return r.Finish();
  if (shape != ShapeOf(*policy)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the router snapshot was taken under a policy with queues [",
        absl::StrJoin(shape.queues, ", "), "], skills [", absl::StrJoin(shape.skills, ", "),
        "] and languages [", absl::StrJoin(shape.languages, ", "),
        "]; restore it under that policy (the journaled one), not a different one"));
  }
  auto router = std::make_unique<Router>(std::move(policy), absl::UnixEpoch());
  SnapshotFields(r, *router);
  std::vector<Timer> timers;
  uint64_t next_timer_seq = 0;
  std::vector<uint64_t> engine;
  std::vector<std::vector<int>> line_languages;
  r(timers, next_timer_seq, engine, line_languages);
  if (absl::Status s = r.Finish(); !s.ok()) return s;
  if (!router->timers_.Restore(timers, next_timer_seq)) {
    return Corrupt("timer seqs repeat or pass the next seq");
  }
  if (!SetEngine(engine, router->random_)) return Corrupt("bad random engine state");
  if (absl::Status s = router->RebuildDerived(line_languages); !s.ok()) return s;
  // Whatever else the bytes say must agree too: a snapshot whose agent's load disagreed with its
  // calls restored (a journal fuzz finding), as did flipped bits that put agents in queues they
  // do not qualify for or indexed them under stale keys (FlippedBitsNeverCrash, once it checked).
  if (absl::Status s = router->CheckState(); !s.ok()) return Corrupt(s.message());
  return router;
}

absl::Status Router::RebuildDerived(const std::vector<std::vector<int>>& line_languages) {
  const size_t queues = policy_->queues.size();
  const size_t skills = policy_->skill_names.size();
  if (round_robin_last_.size() != queues || stats_.size() != queues ||
      line_languages.size() != queues) {
    return Corrupt("per-queue tables do not match the policy's ", queues, " queues");
  }
  if (agent_live_.size() != agents_.size()) return Corrupt("agent liveness does not cover the table");
  const auto valid_bit = [](int bit) { return bit >= -1 && bit < 64; };
  for (size_t q = 0; q < queues; ++q) {
    for (int bit : line_languages[q]) {
      if (!valid_bit(bit) || waiting_[q].PartitionIndex(bit) >= 0) {
        return Corrupt("queue ", q, ": bad or repeated line partition ", bit);
      }
      waiting_[q].OpenPartition(bit);
    }
  }
  // Every pending timer is owned by exactly one active handle of a live call or agent.
  internal::TimerClaims timers(timers_.Pending());
  const auto in_agents = [&](AgentSlot a) { return a == kNoSlot || a < agents_.size(); };
  const auto live_agent = [&](AgentSlot a) { return a != kNoSlot && a < agents_.size() && agent_live_[a]; };
  const auto holds = [](const Agent& agent, CallSlot c) {
    return std::find(agent.calls.begin(), agent.calls.end(), c) != agent.calls.end();
  };

  // Agents: ids, skills, membership, counts and the available sets.
  for (AgentSlot a = 0; a < agents_.size(); ++a) {
    Agent& agent = agents_[a];
    if (!agent_live_[a]) {
      if (!internal::IsFresh(agent)) return Corrupt("free agent slot ", a, " is not empty");
      continue;
    }
    if (agent.id.empty() || !agent_ids_.emplace(agent.id, a).second) {
      return Corrupt("agent slot ", a, ": empty or repeated id ", Quote(agent.id));
    }
    if (agent.proficiency.size() != skills)
      return Corrupt("agent ", Quote(agent.id), ": skill table");
    for (size_t i = 0; i < agent.queues.size(); ++i) {
      const QueueId q = agent.queues[i];
      if (q >= queues || std::find(agent.queues.begin(), agent.queues.begin() + i, q) !=
                             agent.queues.begin() + i) {
        return Corrupt("agent ", Quote(agent.id), ": bad or repeated queue ", q);
      }
    }
    if (!timers.Claim(agent.available_timer, TimerKind::kAgentAvailable, a)) {
      return Corrupt("agent ", Quote(agent.id), ": its timer is not pending");
    }
    if (agent.counted_as != StateOf(agent)) {
      return Corrupt("agent ", Quote(agent.id), " is counted under a state it is not in");
    }
    CountServers(agent, +1);
    CountByState(agent, +1);
    if (!agent.indexed.empty() && !Available(agent)) {
      return Corrupt("agent ", Quote(agent.id), " is indexed as available but is not");
    }
    for (const auto& [q, key] : agent.indexed) {
      if (q >= queues || !IsMember(agent, q) || key.slot != a || !available_[q].insert(key).second) {
        return Corrupt("agent ", Quote(agent.id), ": bad place in queue ", q,
                       "'s available agents");
      }
    }
  }
  if (!internal::FreeListMatches(free_agents_, agents_.size(),
                                 [&](size_t s) { return !agent_live_[s]; })) {
    return Corrupt("the free agent slots do not match the free list");
  }

  // Calls: ids, ranges, their agents, the waiting sets and the calls held for agents.
  for (CallSlot c = 0; c < calls_.size(); ++c) {
    Call& call = calls_[c];
    if (call.id.empty()) {
      if (!internal::IsFresh(call)) return Corrupt("free call slot ", c, " is not empty");
      continue;
    }
    if (!call_ids_.emplace(call.id, c).second) return Corrupt("repeated call id ", Quote(call.id));
    if (call.queue >= queues || call.consult_from_queue >= queues || call.next_step < 0 ||
        !valid_bit(call.language_bit) ||
        std::any_of(call.extra_skills.begin(), call.extra_skills.end(),
                    [&](const SkillLevel& s) { return s.skill >= skills; }) ||
        !in_agents(call.transferred_from) || !in_agents(call.held_for) ||
        !in_agents(call.preferred_slot) || !in_agents(call.agent) ||
        !in_agents(call.consulting_agent)) {
      return Corrupt("call ", Quote(call.id), ": a queue, skill, language or agent out of range");
    }
    for (int k = 0; k < kCallTimerKinds; ++k) {
      if (!timers.Claim(call.timers[k], static_cast<TimerKind>(k), c)) {
        return Corrupt("call ", Quote(call.id), ": its timer ", k, " is not pending");
      }
    }
    bool agent_ok = false;
    switch (call.state) {
      case CallState::kWaiting:
        agent_ok = call.agent == kNoSlot;
        if (call.key.slot != c || !std::isfinite(call.key.rank_desc) ||
            waiting_[call.queue].PartitionIndex(call.language_bit) < 0 ||
            !waiting_[call.queue].Insert(call.key, call.language_bit, call.callback)) {
          return Corrupt("call ", Quote(call.id), ": bad or repeated place in line");
        }
        // Its place in line is what its priority and times give (a journal fuzz finding: a
        // snapshot whose key disagreed with them restored, and the line then broke its order).
        if (const WaitingKey key = KeyFor(call, c);
            call.key.seq != call.seq || call.key.rank_desc != key.rank_desc ||
            call.key.arrived_us != key.arrived_us || call.key.entered_us != key.entered_us) {
          return Corrupt("call ", Quote(call.id),
                         ": its place in line is not what its priority and times give");
        }
        ++waiting_count_;
        break;
      case CallState::kOffered:
        agent_ok = live_agent(call.agent) && agents_[call.agent].offered_call == c;
        break;
      case CallState::kConnected:
        agent_ok = live_agent(call.agent) && holds(agents_[call.agent], c);
        break;
      case CallState::kCallbackPending:
        agent_ok = call.agent == kNoSlot;
        break;
    }
    if (!agent_ok) return Corrupt("call ", Quote(call.id), " and its agent disagree");
    if (call.consulting_agent != kNoSlot &&
        !(live_agent(call.consulting_agent) && holds(agents_[call.consulting_agent], c))) {
      return Corrupt("call ", Quote(call.id), ": its consulting agent does not hold it");
    }
    if (call.preferred_slot != kNoSlot) held_calls_.insert({call.preferred_slot, c});
  }
  if (!internal::FreeListMatches(free_calls_, calls_.size(),
                                 [&](size_t s) { return calls_[s].id.empty(); })) {
    return Corrupt("the free call slots do not match the free list");
  }
  if (timers.unclaimed() > 0) {
    return Corrupt(timers.unclaimed(), " pending timer(s) without an owner");
  }

  // The agents' side of offers and connected calls.
  for (AgentSlot a = 0; a < agents_.size(); ++a) {
    if (!agent_live_[a]) continue;
    const Agent& agent = agents_[a];
    if (agent.offered_call != kNoSlot &&
        (agent.offered_call >= calls_.size() || calls_[agent.offered_call].id.empty() ||
         calls_[agent.offered_call].state != CallState::kOffered ||
         calls_[agent.offered_call].agent != a)) {
      return Corrupt("agent ", Quote(agent.id), " rings with a call not offered to it");
    }
    for (CallSlot c : agent.calls) {
      if (c >= calls_.size() || calls_[c].id.empty() ||
          !((calls_[c].state == CallState::kConnected && calls_[c].agent == a) ||
            calls_[c].consulting_agent == a)) {
        return Corrupt("agent ", Quote(agent.id), " holds a call not connected with it");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace acd::routing
