// Router is the routing engine: it owns every waiting call and logged-in agent, decides which
// agent takes which call, and runs the clock-driven rules (offer timeouts, escalation steps, max
// wait, wrap-up). It is pure and deterministic: time is an argument, nothing blocks, and the same
// events at the same times give the same decisions. One thread owns a Router; it has no locks.
//
//   Router router(policy, now);
//   router.Login({.agent_id = "a1", .skills = {{"sales", 3}}, .ready = true}, now);
//   router.Enqueue({.call_id = "c1", .queue = "sales"}, now);
//   for (const Decision& d : router.TakeDecisions()) Send(d);   // kOfferCall c1 -> a1
//   if (auto t = router.NextWakeup()) SleepUntil(*t), router.AdvanceTo(*t);
//
// Every event first runs the timers due at or before its time, so events and timers are handled
// in time order whichever way the caller interleaves them.
#ifndef ACD_ROUTING_ROUTER_H_
#define ACD_ROUTING_ROUTER_H_

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "routing/compiled_policy.h"
#include "routing/prompt_kind.h"
#include "routing/router_state.h"
#include "routing/slot_table.h"
#include "routing/timer_queue.h"
#include "routing/types.h"
#include "routing/waiting_calls.h"

namespace acd::routing {

// A call as the switch hands it over.
struct CallSpec {
  std::string call_id;
  std::string queue;
  std::optional<Channel> channel;          // when given, must be the queue's channel
  std::vector<NamedSkill> required_skills; // needed on top of the queue's own skills
  int priority = 0;                        // 0-1000, added to the queue's priority
  std::string tier;                        // a policy tier name, or empty
  std::string language;                    // a policy language code, or empty
  std::string preferred_agent;             // agent id, or empty
  std::vector<std::pair<std::string, std::string>> attributes;
};

// An agent logging in.
struct AgentSpec {
  std::string agent_id;
  std::vector<NamedSkill> skills;
  std::vector<std::string> languages;
  // Calls the agent takes at once per channel; empty means one voice call.
  std::vector<std::pair<Channel, uint32_t>> capacity;
  // Queues the agent serves; empty means every queue its skills and channels qualify it for.
  std::vector<std::string> queues;
  bool ready = false;  // log in ready, or not_ready("logged_in")
};

// What the router decided; the daemon turns these into commands to the switch and records.
struct Decision {
  enum class Kind : uint8_t {
    kOfferCall,          // ring `agent_id` with `call_id` from `queue`
    kCancelOffer,        // stop ringing `agent_id`: `reason` no_answer | abandoned | agent_logged_out
    kSendToFallback,     // the call leaves to `target`: `reason` queue_full | max_wait | escalation
    kCallOverflowed,     // the call moved from `from_queue` to `queue` (informational)
    kAgentMadeNotReady,  // `agent_id` went not_ready(`reason`) by policy, e.g. missed_offers
    // What the caller hears (`prompt` says which); `position` and `expected_wait` are what to
    // announce, already filtered and rounded by the queue's prompt rules.
    kPlayPrompt,
    kHoldReminder,       // to `agent_id`: the caller of `call_id` has been on hold for `held`
    // A hold ran past what the caller was told (`reason` expected) or past the queue's maximum
    // (`reason` max); `held` says how long so far. Flagged once per reason per hold.
    kHoldOverrun,
    // A callback's turn came: `agent_id` is reserved; the switch connects them and dials the
    // customer back (attempt `attempt`). Answer like an offer (accepted / rejected / no answer);
    // a customer who cannot be reached is reported with CallbackNotReached.
    kStartCallback,
    kCallbackGaveUp,     // every attempt failed (`attempt` made): the call is gone
    // A warm transfer completed: `agent_id` accepted and is connected; `from_agent` (who stayed
    // on the line until now) is released to wrap-up. The switch bridges the caller to agent_id.
    kTransferCompleted,
  };
  using PromptKind = ::acd::routing::PromptKind;  // see prompt_kind.h
  Kind kind;
  absl::Time at;
  std::string call_id;
  std::string agent_id;
  std::string queue;
  std::string from_queue;
  std::string target;
  std::string reason;
  std::string from_agent;                       // kTransferCompleted
  PromptKind prompt = PromptKind::kNone;        // kPlayPrompt
  int position = 0;                             // to announce; 0: do not announce it
  std::optional<absl::Duration> expected_wait;  // to announce, rounded; nullopt: do not
  bool wait_over_cap = false;                   // say "more than <expected_wait>"
  absl::Duration held;                          // kHoldReminder, kHoldOverrun, hold prompts
  absl::Duration hold_expected;                 // kHoldReminder: what the caller was told; 0: nothing
  int attempt = 0;                              // kStartCallback, kCallbackGaveUp: 1-based
};

// Where a blind transfer sends a connected call: a queue, or one agent of the call's queue.
struct TransferTarget {
  std::string queue;     // set one of the two
  std::string agent_id;
};

struct EnqueueResult {
  enum class Disposition : uint8_t { kQueued, kOffered, kSentToFallback };
  Disposition disposition = Disposition::kQueued;
  int position = 0;         // 1-based among the queue's waiting calls; 0 unless queued
  std::string fallback;     // the target when sent to the fallback
  std::optional<absl::Duration> expected_wait;  // when queued and it can be estimated
};

struct CallView {
  std::string call_id;
  std::string queue;
  CallState state;
  int position = 0;         // 1-based while waiting, else 0
  std::string agent_id;     // offered to or connected with
  absl::Time arrived;       // original arrival, kept across overflow
  absl::Time entered_queue;
  int priority = 0;         // effective: queue + call + tier + raises + transfer boost
  int escalation_steps_fired = 0;
  uint32_t transfers = 0;
  std::optional<absl::Duration> expected_wait;  // while waiting, when it can be estimated
  bool on_hold = false;
  absl::Time hold_started;           // while on hold: when the current hold began
  uint32_t holds = 0;                // holds started, ended ones and the current one
  absl::Duration hold_time;          // ended holds plus the current one so far
  bool callback = false;             // the caller accepted a callback and left the line
  int callback_attempts = 0;         // dial-outs made so far
  std::string consulting_agent;      // warm transfer: the agent still on the line, or empty
  uint32_t prompts_played = 0;
};

// What the router saw happen to a call, for the figures and records kept outside it (acdd's
// metrics and its finished calls). Kept once asked for (Router::KeepCallFacts) and taken with
// TakeCallFacts(), in the order they happened. These are the same moments the router learns its
// wait estimates from, so a board and an estimate never disagree on what counted.
struct CallFact {
  enum class Kind : uint8_t {
    kAnswered,   // the caller left `queue`'s line to an agent after `duration` (not a callback
                 // reaching its customer, not a warm transfer completing)
    kAbandoned,  // the caller hung up in `queue`'s line, waiting or ringing, after `duration`
    kTalkEnded,  // an agent's part of the call, answered in `queue`, ended after `duration`
                 // (holds included; the queue's wrap-up follows)
    kHoldEnded,  // a hold by an agent of `queue` ended after `duration`
    kLeft,       // the call left the router (`outcome`); `last` is how it stood just before
  };
  enum class Outcome : uint8_t { kEnded, kAbandoned, kSentToFallback, kCallbackGaveUp };
  Kind kind;
  absl::Time at;
  std::string call_id;
  std::string queue;
  // The agent it concerns: who answered, whose talk or hold ended, who was ringing when the caller
  // hung up; empty when none.
  std::string agent_id;
  absl::Duration duration;
  int position = 0;                    // kAbandoned: 1-based place in line (0: it was ringing)
  Outcome outcome = Outcome::kEnded;   // kLeft
  std::optional<CallView> last;        // kLeft: position and expected wait not filled
};

struct AgentView {
  std::string agent_id;
  AgentState state;
  std::string not_ready_reason;
  absl::Time idle_since;
  uint64_t calls_handled = 0;
  uint32_t missed_offers_in_a_row = 0;
  std::vector<std::string> queues;
  std::array<uint32_t, kChannelCount> load{};
};

struct QueueView {
  std::string queue;
  int calls_waiting = 0;
  std::optional<absl::Time> oldest_arrival;  // among waiting calls (original arrival)
  std::optional<absl::Duration> expected_wait_for_new_call;
  int staffed_agents = 0;       // members logged in and not not_ready (busy ones included)
  double mean_handle_seconds = 0;  // learned talk + the queue's wrap-up; 0 until a call ended
  double abandonment_rate_per_second = 0;  // learned patience: theta of QL-m
  int callbacks_waiting = 0;    // of calls_waiting, those holding a virtual place for a callback
  // What the queue has said to callers and done for them since the router started, by kind.
  std::array<uint64_t, kPromptKindCount> prompts_played{};  // by PromptKind
  uint64_t callbacks_accepted = 0;
  uint64_t callbacks_gave_up = 0;
  uint64_t hold_overruns = 0;
  std::array<int, kAgentStateCount> agents_by_state{};  // members of the queue
};

class Router {
 public:
  Router(std::shared_ptr<const CompiledPolicy> policy, absl::Time now);
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Calls (router.cc; transfers and consults in transfers.cc). Errors: INVALID_ARGUMENT (bad
  // field), NOT_FOUND (unknown queue or call), ALREADY_EXISTS (call id in use), FAILED_PRECONDITION
  // (event not valid in the call's state), RESOURCE_EXHAUSTED (the policy's total waiting-call
  // limit).
  absl::StatusOr<EnqueueResult> Enqueue(const CallSpec& spec, absl::Time now);
  absl::Status OfferAccepted(absl::string_view call_id, absl::string_view agent_id, absl::Time now);
  absl::Status OfferRejected(absl::string_view call_id, absl::string_view agent_id, absl::Time now);
  absl::Status OfferNotAnswered(absl::string_view call_id, absl::string_view agent_id,
                                absl::Time now);
  // The caller hung up: a waiting call leaves, an offered one is withdrawn from its agent, a
  // connected one ends.
  absl::Status Abandon(absl::string_view call_id, absl::Time now);
  // A connected call ended; the agent goes to wrap-up per the call's queue.
  absl::Status EndCall(absl::string_view call_id, absl::Time now);
  // Blind transfer: `agent_id` lets go of its connected call (wrap-up as after a call) and the
  // call waits again, keeping its original arrival, with the target queue's transfer priority
  // boost. To an agent: the call stays in its queue, held for that agent for the queue's
  // transfers.agent_wait_seconds. Past its queue's transfers.max_per_call the call goes to the
  // fallback instead (kSendToFallback, reason too_many_transfers), or the transfer is refused when
  // the queue has no fallback.
  absl::StatusOr<EnqueueResult> Transfer(absl::string_view call_id, absl::string_view agent_id,
                                         const TransferTarget& target, absl::Time now);
  // Warm (consult) transfer: like Transfer, but `agent_id` stays connected with the caller until
  // another agent accepts the offer; then kTransferCompleted releases `agent_id` to wrap-up. The
  // call waits in the target queue meanwhile (no prompts: the caller is with the agent), keeping
  // its original arrival, transfer count and context. Over the transfer limit it goes to the
  // fallback as a blind transfer would.
  absl::StatusOr<EnqueueResult> StartConsult(absl::string_view call_id, absl::string_view agent_id,
                                             const TransferTarget& target, absl::Time now);
  // The consulting agent takes the call back: it leaves the line (a ringing offer is cancelled,
  // kCancelOffer reason consult_cancelled) and is connected with `agent_id` again.
  absl::Status CancelConsult(absl::string_view call_id, absl::string_view agent_id, absl::Time now);

  // Holds of a connected call (holds.cc). While held, kPlayPrompt(kHoldReminder) to the caller and
  // kHoldReminder to the agent every holds.reminder_interval; kHoldOverrun once past `expected`
  // (when non-zero) and once past holds.max_seconds. FAILED_PRECONDITION unless connected (start)
  // or on hold (end).
  absl::Status StartHold(absl::string_view call_id, absl::Duration expected, absl::Time now);
  absl::Status EndHold(absl::string_view call_id, absl::Time now);

  // Callbacks (callbacks.cc). A waiting caller offered one (kPlayPrompt kCallbackOffer) accepted:
  // they leave the line but keep their place; no more prompts, max wait and fallback steps no
  // longer apply. When their turn comes the router reserves an agent with kStartCallback instead
  // of kOfferCall.
  absl::Status AcceptCallback(absl::string_view call_id, absl::Time now);
  // The customer was not reached on a callback attempt (the agent had accepted it): the agent is
  // freed without wrap-up, and the call takes its place again after callbacks.retry_interval, or
  // after callbacks.max_attempts gives up (kCallbackGaveUp) and leaves.
  absl::Status CallbackNotReached(absl::string_view call_id, absl::string_view agent_id,
                                  absl::Time now);

  // Agents (agents.cc).
  absl::Status Login(const AgentSpec& spec, absl::Time now);
  absl::Status Logout(absl::string_view agent_id, absl::Time now);
  absl::Status SetReady(absl::string_view agent_id, absl::Time now);
  absl::Status SetNotReady(absl::string_view agent_id, absl::string_view reason, absl::Time now);
  absl::Status EndWrapUp(absl::string_view agent_id, absl::Time now);

  // Policy reload (policy_reload.cc).
  // Swaps in a new policy; waiting calls keep their arrival and are re-escalated under it.
  // FAILED_PRECONDITION (nothing changes) when it drops a queue, skill or language that live
  // calls use.
  absl::Status ReplacePolicy(std::shared_ptr<const CompiledPolicy> policy, absl::Time now);
  // What ReplacePolicy would refuse, without changing anything (for dry runs).
  absl::Status CanReplacePolicy(const CompiledPolicy& policy) const;

  // Time and decisions (router.cc).
  // Runs every timer due at or before `now`.
  void AdvanceTo(absl::Time now);
  // When the router next needs AdvanceTo, if ever.
  std::optional<absl::Time> NextWakeup();
  // The decisions made since the last call, in order. The second form swaps them into `*into`
  // (emptied first) and keeps its buffer for the next ones: a caller that takes them after every
  // event reuses two buffers instead of allocating one each time.
  std::vector<Decision> TakeDecisions();
  void TakeDecisions(std::vector<Decision>* into);
  // Keep what happens to calls for TakeCallFacts (off by default: a simulator need not drain it).
  void KeepCallFacts(bool keep) { keep_facts_ = keep; }
  // What happened to calls since the last call, in order (the second form as for TakeDecisions).
  std::vector<CallFact> TakeCallFacts();
  void TakeCallFacts(std::vector<CallFact>* into);
  // The router's clock: the time of the last event or timer it handled.
  absl::Time now() const { return now_; }

  // Views (router_views.cc).
  std::optional<CallView> FindCall(absl::string_view call_id) const;
  // Just the call's state: cheap, for hot paths that need no more.
  std::optional<CallState> CallStateOf(absl::string_view call_id) const;
  // The expected wait of a waiting call (see ExpectedWait), or nullopt.
  std::optional<absl::Duration> ExpectedWaitOf(absl::string_view call_id) const;
  std::optional<AgentView> FindAgent(absl::string_view agent_id) const;
  absl::StatusOr<QueueView> Queue(absl::string_view queue) const;
  const CompiledPolicy& policy() const { return *policy_; }
  // The same, shared: for a copy handed to another thread (Engine::published_policy).
  const std::shared_ptr<const CompiledPolicy>& shared_policy() const { return policy_; }
  size_t calls_waiting() const { return waiting_count_; }
  size_t call_count() const { return call_ids_.size(); }
  size_t agent_count() const { return agent_ids_.size(); }
  // Whether the call or agent is here, without building its view.
  bool HasCall(absl::string_view call_id) const { return call_ids_.contains(call_id); }
  bool HasAgent(absl::string_view agent_id) const { return agent_ids_.contains(agent_id); }

  // Checks every invariant router_state.h lists against the whole state, the derived sets and
  // counts recounted; that each waiting, ringing or held call has its deadlines scheduled; and
  // that no available agent idles while a waiting call it may be offered waits. INTERNAL naming
  // the first one broken, else OK. Walks every call and agent (router_invariants.cc): for tests
  // and fuzzers, never on the request path.
  absl::Status CheckInvariants() const;

  // Snapshots (router_snapshot.cc), for acdd to recover from a snapshot and the journal's tail.
  // SaveState writes the whole state as bytes (a versioned binary archive; see
  // router_snapshot.cc). RestoreState builds a router that is exactly the saved one: the same
  // views, NextWakeup, and the same decisions and call facts for the same further events. The
  // policy is not in the bytes: pass the one the saved router held (the daemon journals it
  // apart). Truncated, corrupt or foreign bytes, or a policy whose queues, skills or languages
  // differ from the saved router's, give DATA_LOSS or INVALID_ARGUMENT, never a crash.
  //   std::string bytes = router.SaveState();
  //   absl::StatusOr<std::unique_ptr<Router>> copy = Router::RestoreState(policy, bytes);
  // REQUIRES: the decisions and call facts made so far have been taken (TakeDecisions,
  // TakeCallFacts); SaveState crashes otherwise, as they are not part of the state.
  std::string SaveState() const;
  static absl::StatusOr<std::unique_ptr<Router>> RestoreState(
      std::shared_ptr<const CompiledPolicy> policy, absl::string_view bytes);

 private:
  // The private model (router_state.h); the method bodies say Call and Agent.
  using Call = RoutedCall;
  using Agent = RoutedAgent;

  // Time, decisions and the call life cycle (router.cc).
  absl::Time Advance(absl::Time now);
  void RunTimer(const Timer& timer);
  void ScheduleCallTimer(CallSlot slot, TimerKind kind, absl::Time due);
  void CancelCallTimer(CallSlot slot, TimerKind kind);
  void CancelCallTimers(CallSlot slot);
  void Emit(Decision decision);
  absl::StatusOr<CallSlot> CallFor(absl::string_view call_id) const;
  absl::StatusOr<CallSlot> OfferedCall(absl::string_view call_id, absl::string_view agent_id) const;
  void FailOffer(CallSlot slot, bool rejected, bool cancel_at_switch);
  void ReturnToQueue(CallSlot slot);
  void ReleaseAgentFromOffer(AgentSlot agent);
  // The agent's part of a connected call ends (load, wrap-up); the caller re-indexes the agent.
  void LetGoOfCall(CallSlot call);
  void ReleaseAgent(AgentSlot agent, CallSlot call, absl::Duration wrap_up);
  void FreeCall(CallSlot slot);

  // Eligibility and matching (matching.cc).
  // The agent may be offered a call now: ready, not ringing, past its wrap-up or cooldown.
  bool Available(const Agent& agent) const;
  // `slot` still holds the login `login_seq` (slots are reused after a logout).
  bool StillLoggedIn(AgentSlot slot, uint64_t login_seq) const;
  bool Eligible(const Call& call, const Agent& agent) const;
  bool CanTake(const Agent& agent, Channel channel) const;
  bool IsMember(const Agent& agent, QueueId queue) const;
  bool ReservedForOther(const Call& call, AgentSlot agent) const;
  bool PreferredAgentHolds(const Call& call) const;
  bool Avoids(const Call& call, AgentSlot agent) const;
  AgentSlot FindAgentFor(CallSlot call);
  void TryRouteCall(CallSlot call);
  void TryServeAgent(AgentSlot agent);
  void Offer(CallSlot call, AgentSlot agent);

  // Waiting sets and agent indexes (matching.cc).
  int EffectivePriority(const Call& call) const;
  WaitingKey KeyFor(const Call& call, CallSlot slot) const;
  void InsertWaiting(CallSlot slot);
  void EraseWaiting(CallSlot slot);
  // More calls wait in the queue than its max_queue_length allows.
  bool QueueFull(QueueId queue) const;
  AgentKey AgentKeyFor(const Agent& agent, AgentSlot slot, const CompiledQueue& queue) const;
  void Unindex(AgentSlot slot);
  void Index(AgentSlot slot);
  void Reindex(AgentSlot slot) { Unindex(slot); Index(slot); }
  // The agent is a member of the queue: it can take the queue's channel, was not narrowed to
  // other queues at login, and meets one of the queue's membership skill sets.
  bool Qualifies(const Agent& agent, const CompiledQueue& queue) const;
  void ComputeMembership(AgentSlot slot);
  void CountServers(const Agent& agent, int sign);
  void CountByState(const Agent& agent, int sign);
  // Counts the agent under its state now (agents_by_state_), if that changed.
  void Recount(AgentSlot slot);
  absl::Status ResolveAgentSkills(Agent& agent, const CompiledPolicy& policy, bool strict) const;

  // Queue stints, escalation steps, max wait and the fallback (escalation.cc).
  void StartQueueStint(CallSlot slot, absl::Time entered);
  void HoldForAgent(CallSlot call, AgentSlot agent, absl::Time until);
  void ScheduleNextStep(CallSlot slot);
  void ApplyDueSteps(CallSlot slot);
  bool ApplyStep(CallSlot slot, const EscalationStep& step, absl::Time due);
  void SendToFallback(CallSlot slot, const std::string& target, const char* reason);

  // Transfers and consults (transfers.cc).
  absl::StatusOr<TransferPlan> PlanTransfer(absl::string_view call_id, absl::string_view agent_id,
                                            const TransferTarget& target) const;
  void SendTransferToFallback(CallSlot call, AgentSlot from_agent);
  std::optional<EnqueueResult> TransferOverLimit(CallSlot call, AgentSlot from_agent);
  void PlaceTransferred(const TransferPlan& plan, AgentSlot from_agent);
  EnqueueResult RouteTransferred(CallSlot call, bool greet);
  AgentSlot LetGoOfConsult(CallSlot call);
  void EndConsultCall(CallSlot call, const char* reason);

  // What the caller hears in line (caller_prompts.cc).
  bool HearsPrompts(const Call& call) const;
  bool TooSoonToPrompt(CallSlot call);
  void GreetInLine(CallSlot call, int position, std::optional<absl::Duration> expected_wait);
  void PromptInLine(CallSlot call);
  void Announce(CallSlot call, Decision::PromptKind kind, int position,
                std::optional<absl::Duration> expected_wait);
  void ResumePrompts(CallSlot call);
  void SchedulePrompt(CallSlot call);
  void EmitPrompt(CallSlot call, Decision decision);

  // Holds (holds.cc).
  void ScheduleHoldTimers(CallSlot call);
  void RemindHold(CallSlot call);
  void FlagHoldOverruns(CallSlot call);
  void EndHoldNow(CallSlot call);
  AgentSlot HoldingAgent(const Call& call) const;

  // Agents (agents.cc).
  absl::StatusOr<AgentSlot> AgentFor(absl::string_view agent_id) const;
  void SetUnavailableUntil(AgentSlot slot, absl::Time until, bool wrap_up);

  // Views and wait estimates (router_views.cc).
  int Position(CallSlot slot) const;

  // Wait estimates (expected_wait.cc). The expected wait of the waiting call in `slot`, at
  // `position` in its queue, and of a caller who would join `queue` now. A queue whose agents
  // serve only it gets its QL-m estimate: the callers ahead served by the calls its staffed agents
  // hold at once on the queue's channel, at the learned handle time (talk + the queue's wrap-up),
  // less those who give up. A queue whose agents also serve other queues gets FluidWait's
  // (routing/fluid_wait.h): the callers those agents take first, on every queue they serve, count
  // too. Where staffing says nothing the delay history does (last to enter service, then the head
  // of the line).
  std::optional<absl::Duration> ExpectedWait(CallSlot slot, int position) const;
  std::optional<absl::Duration> ExpectedWaitForNewCall(QueueId queue) const;
  // Who is estimated: queue, language partition, rank among all lines, and place in the queue.
  struct EstimatedCaller {
    QueueId queue = 0;
    int language_bit = -1;
    WaitingKey key;  // the caller's key in its queue; ranks the callers ahead on the other lines
    int position = 1;
  };
  std::optional<absl::Duration> ExpectedWait(const EstimatedCaller& caller) const;
  std::optional<absl::Duration> QlmWait(const EstimatedCaller& caller) const;
  std::optional<absl::Duration> FluidEstimate(const EstimatedCaller& caller) const;
  // What a queue's callers compete with for agents: the queues whose lines count (the queue
  // first, then those its pools serve, then theirs, at most kCompetingQueues), and the pools that
  // serve any of them, merged by the queues among those they serve and their languages.
  struct Competition {
    uint64_t pools_version = ~uint64_t{0};  // of pools_ when built
    std::vector<QueueId> queues;
    struct Pool {
      uint32_t queues_mask = 0;  // bit i: serves queues[i]
      uint64_t language_mask = 0;
      int servers = 0;
    };
    std::vector<Pool> pools;
    bool shared = false;  // a pool serving the queue serves another queue too
  };
  static constexpr size_t kCompetingQueues = 4;
  // The queue's Competition, rebuilt when pools_ changed since it was last built.
  const Competition& CompetitionOf(QueueId queue) const;
  // The pools the agent belongs to, with the calls it holds at once in each (one per channel on
  // which it is a member of some queue); CountPools adds a ready agent's to pools_, +1 or -1.
  void ForEachPoolOf(const Agent& agent,
                     absl::FunctionRef<void(AgentPoolKey, int servers)> f) const;
  void CountPools(const Agent& agent, int sign);
  AgentState StateOf(const Agent& agent) const;
  // The call as callers of FindCall see it; its place and expected wait only when `in_line`.
  CallView ViewOf(CallSlot slot, bool in_line) const;

  // What happens to calls, for TakeCallFacts (router.cc).
  // The fact concerns `agent` (by default the call's own: offered to or connected with).
  void Note(CallFact::Kind kind, const Call& call, QueueId queue, absl::Duration duration);
  void Note(CallFact::Kind kind, const Call& call, QueueId queue, absl::Duration duration,
            AgentSlot agent);
  // The call is about to leave the router: a hold still going on ends, and the call is noted as it
  // stands. Called on every way out before the call is freed, while the agent still on the line
  // (if any) is still with it — but after a transfer over the limit lets its agent go.
  void NoteLeaving(CallSlot slot, CallFact::Outcome outcome);
  // The call's preferred (or transfer-target) agent slot; keeps held_calls_ in step.
  void SetPreferredSlot(CallSlot slot, AgentSlot agent);

  // Snapshots (router_snapshot.cc). The primary state, listed once for saving and restoring
  // (`self` is a const Router when saving); the rest is rebuilt from it by RebuildDerived, which
  // checks what it needs to build safely as it goes; CheckState then checks the rest.
  template <typename Archive, typename Self>
  static void SnapshotFields(Archive& ar, Self& self);
  absl::Status RebuildDerived(const std::vector<std::vector<int>>& line_languages);
  // CheckInvariants without the promise of matching: linear in the state (matching walks lines
  // per available agent), so RestoreState refuses any bytes that decode to a broken router.
  absl::Status CheckState() const;

  // The slot tables and per-queue state; router_state.h says what they hold and their invariants.
  std::shared_ptr<const CompiledPolicy> policy_;
  absl::Time origin_;  // ranks are relative to it to keep doubles precise
  absl::Time now_;

  SlotTable<Call> calls_;
  std::vector<CallSlot> free_calls_;
  // Keyed by views of RoutedCall::id and RoutedAgent::id: slot tables never move their elements,
  // and an id leaves the map before its slot is reset.
  absl::flat_hash_map<absl::string_view, CallSlot> call_ids_;
  uint64_t next_call_seq_ = 0;
  size_t waiting_count_ = 0;

  SlotTable<Agent> agents_;
  std::vector<bool> agent_live_;
  std::vector<AgentSlot> free_agents_;
  absl::flat_hash_map<absl::string_view, AgentSlot> agent_ids_;
  uint64_t next_login_seq_ = 0;

  std::vector<WaitingCalls> waiting_;                     // by QueueId
  std::vector<absl::btree_set<AgentKey>> available_;      // by QueueId
  std::vector<uint64_t> round_robin_last_;                // by QueueId: login_seq chosen last
  // By QueueId: calls the queue's ready members hold at once on its channel (three chats each,
  // say): the servers of its wait estimate, kept as readiness and membership change.
  std::vector<int> servers_;
  std::vector<int> staffed_;                              // by QueueId: ready members
  // Calls each pool's ready agents hold at once; node-based, so pools_by_queue_ may point in.
  std::map<AgentPoolKey, int> pools_;
  // By QueueId: the pools serving the queue, in no particular order.
  std::vector<std::vector<const std::pair<const AgentPoolKey, int>*>> pools_by_queue_;
  uint64_t pools_version_ = 0;  // changes with pools_
  // By QueueId, built on demand from pools_ alone, so its content never depends on when it was
  // asked for (a read-only view asking first changes nothing a replay would see).
  mutable std::vector<Competition> competition_;
  std::vector<std::array<int, kAgentStateCount>> agents_by_state_;  // by QueueId: members
  std::vector<QueueStats> stats_;                         // by QueueId
  // (agent slot, call slot) for every call held for an agent (RoutedCall::preferred_slot): the
  // calls to let go when that agent logs out, found without walking a line.
  absl::btree_set<std::pair<AgentSlot, CallSlot>> held_calls_;

  TimerQueue timers_;
  std::mt19937_64 random_;
  std::vector<Decision> decisions_;
  bool keep_facts_ = false;
  std::vector<CallFact> facts_;
};

}  // namespace acd::routing

#endif  // ACD_ROUTING_ROUTER_H_
