// Core is acdd's deterministic state machine: the router, the call book (records, history,
// retention, the retry ledger), every switch's command numbering and outbox, and the translation
// of router decisions into acd.v1 commands. It takes every input as (request, time) and answers
// the reply; what to send to which switch it hands over with TakeCommands(). It reads no clock,
// starts no thread and touches no socket or stream: the same inputs at the same times give the
// same state and the same commands. The shell (Engine) feeds it from one thread and carries its
// output (commands, and notices for the operator's log) out; every method checks it runs on that
// thread.
//   Core core(policy, "built-in", {}, &observer, clock.Now());
//   absl::Status s = core.EnqueueCall(request, &response, clock.Now());
//   for (OutgoingCommand& c : core.TakeCommands()) shell.Write(c.switch_id, *c.command);
//   if (auto t = core.NextWakeup()) ... later: core.AdvanceTo(clock.Now());
//
// Inputs that change state: EnqueueCall, ReportCallEvent, Login, SetAgentState, Logout,
// SetPolicy (unless validate_only), ApplyPolicyText, AdvanceTo, CommandWritten, ReconnectSwitch,
// BeginDrain, Restart; the journal keeps each (daemon/core_input.h).
// The rest read.
#ifndef ACD_DAEMON_CORE_H_
#define ACD_DAEMON_CORE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "acd/journal/v1/snapshot.pb.h"
#include "acd/v1/acd.pb.h"
#include "daemon/call_book.h"
#include "daemon/history_sink.h"
#include "daemon/policy_request.h"
#include "daemon/retry_ledger.h"
#include "daemon/switch_outbox.h"
#include "daemon/thread_owner.h"
#include "metrics/call_observer.h"
#include "routing/router.h"

namespace acd::daemon {

struct CoreOptions {
  // How long a finished call's record stays for GetCall and for retried events, and how many such
  // records at most (the oldest go first): at 2,000 calls/s 15 minutes would be 1.8 million.
  absl::Duration call_retention = absl::Minutes(15);
  size_t max_finished_calls = 200000;
  // Unwritten commands kept per switch while it is away; the oldest go first.
  size_t max_outbox = 100000;
};

class Core {
 public:
  // `observer` (may be null) is told what happens to calls, for the metrics.
  Core(std::shared_ptr<const routing::CompiledPolicy> policy, std::string policy_source,
       CoreOptions options, metrics::CallObserver* observer, absl::Time now);
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // From now on only the calling thread may use the core.
  void BindToCurrentThread() { owner_.BindToCurrentThread(); }
  // Who is told the history as it happens (null: nobody). The sink is not part of the state: a
  // snapshot neither keeps nor needs it.
  void set_history_sink(HistorySink* sink) { history_ = sink; }

  // --- Switch side ---
  absl::Status EnqueueCall(const acd::v1::EnqueueCallRequest& request,
                           acd::v1::EnqueueCallResponse* response, absl::Time now);
  absl::Status ReportCallEvent(const acd::v1::CallEvent& event,
                               acd::v1::CallEventResponse* response, absl::Time now);
  // One page of the switch's live calls, ordered by call id: those after `page_token`, at most
  // `page_size` of them (0: kDefaultCallsPage; at most kMaxCallsPage), and fewer once they pass
  // kCallsPageBytes encoded (a call's attributes, history and context can make it tens of
  // kilobytes). It costs a lookup plus the page's own calls, however many calls acd holds.
  // CheckListCalls has vetted the request.
  static constexpr int kDefaultCallsPage = 1000;
  static constexpr int kMaxCallsPage = 10000;
  static constexpr size_t kCallsPageBytes = 8 << 20;
  absl::Status ListCalls(const acd::v1::ListCallsRequest& request,
                         acd::v1::ListCallsResponse* response, absl::Time now) const;
  // A new command stream of `switch_id` took over: what it must deliver first (see
  // SwitchOutboxes::Reconnect).
  std::vector<acd::v1::Command> ReconnectSwitch(const std::string& switch_id);
  // The shell wrote command `sequence` to `switch_id`.
  void CommandWritten(const std::string& switch_id, uint64_t sequence);
  // Whether that write would change anything (SwitchOutboxes::AwaitsWrite): a second report of
  // one write is not journaled.
  bool AwaitsWrite(const std::string& switch_id, uint64_t sequence) const;
  // Commands made since the last call, in order.
  std::vector<OutgoingCommand> TakeCommands();
  // Lines for the operator's log since the last call (a policy applied or refused, an agent made
  // not ready by policy, a switch's outbox overflowing); the shell writes them out. A notice's
  // topic names its condition, so that the shell can rate-limit the ones a client can repeat at
  // will (LogLimiter).
  struct Notice {
    const char* topic;  // "commands_dropped", "agent_made_not_ready", "policy"
    std::string line;
  };
  std::vector<Notice> TakeNotices();

  // --- Agents ---
  absl::Status Login(const acd::v1::LoginRequest& request, acd::v1::AgentInfo* response,
                     absl::Time now);
  absl::Status SetAgentState(const acd::v1::SetAgentStateRequest& request,
                             acd::v1::AgentInfo* response, absl::Time now);
  absl::Status Logout(const acd::v1::LogoutRequest& request, absl::Time now);

  // --- Operations ---
  absl::Status ListQueues(acd::v1::ListQueuesResponse* response, absl::Time now) const;
  absl::Status ListAgents(const acd::v1::ListAgentsRequest& request,
                          acd::v1::ListAgentsResponse* response) const;
  absl::Status GetCall(const acd::v1::GetCallRequest& request, acd::v1::CallInfo* response,
                       absl::Time now) const;
  absl::Status GetPolicy(acd::v1::PolicyInfo* response) const;
  // The login a logged-in agent sent (a what-if logs it in again the same way), or nullopt.
  std::optional<acd::v1::LoginRequest> LoginOf(const std::string& agent_id) const;
  // `prepared`, when given, is what PreparePolicyRequest made of `request` off the engine thread.
  // `response` null: no one reads the answer (a replay), so its diff is not made.
  absl::Status SetPolicy(const acd::v1::SetPolicyRequest& request,
                         acd::v1::SetPolicyResponse* response, absl::Time now,
                         const PolicyRequestPrepared* prepared = nullptr);
  // A policy file's text (SIGHUP): applied if valid and it fits the live calls, else refused with
  // every problem, the running policy staying. `compiled`, when given, is what
  // routing::CompilePolicyText(yaml, source) gives, made off the engine thread; null: made here.
  absl::Status ApplyPolicyText(
      const std::string& yaml, const std::string& source, absl::Time now,
      const absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>>* compiled = nullptr);
  // The policy acdd was restarted with, when it changed while acdd was down: likewise.
  absl::Status ApplyStartupPolicy(const acd::v1::Policy& policy, const std::string& source,
                                  absl::Time now);

  // --- Time ---
  // Runs what fell due by `now`: the router's timers, and the end of finished calls' retention.
  void AdvanceTo(absl::Time now);
  // When the core next needs AdvanceTo, if ever.
  std::optional<absl::Time> NextWakeup();

  // Shutdown: new calls are refused from now on (a retried enqueue still gets its answer).
  void BeginDrain();
  // acdd started again on this state (recovered from its journal): no longer draining, and the
  // limits it was started with apply from now on.
  void Restart(const CoreOptions& options);
  bool draining() const;

  // The router, for the figures the shell refreshes from its views.
  const routing::Router& router() const;

  // --- Snapshots (core_snapshot.cc) ---
  // The whole state as snapshot parts (acd.journal.v1.SnapshotPart: the core's head, the router,
  // the calls, the outboxes, the logins), handed to `emit` in order; an error from `emit` stops
  // it. Reads only: acdd calls it on the snapshot taker's copy of the core, on its thread.
  // REQUIRES: the commands and notices made so far have been taken (as after every input).
  absl::Status SaveSnapshot(
      const std::function<absl::Status(const acd::journal::v1::SnapshotPart&)>& emit) const;
  // A core that is exactly the saved one: the same Dump(), the same replies and commands for the
  // same further inputs. `next` gives the parts in the order SaveSnapshot made them (false: no
  // more). Truncated, foreign or inconsistent parts give DATA_LOSS, never a crash.
  static absl::StatusOr<std::unique_ptr<Core>> RestoreSnapshot(
      const std::function<absl::StatusOr<bool>(acd::journal::v1::SnapshotPart*)>& next,
      metrics::CallObserver* observer);

  // The whole state as canonical text: the same inputs at the same times give the same text, byte
  // for byte (a recovered core is checked against the original this way). Costly: tests and tools.
  // kText writes each message as one line of text format, for people and diffs; kWire as its
  // deterministic wire bytes, several times cheaper, to tell whether two cores are the same
  // (the core_api fuzzer's end checks), then kText to show how they differ.
  enum class DumpStyle { kText, kWire };
  std::string Dump(DumpStyle style = DumpStyle::kText) const;
  // The router's invariants (Router::CheckInvariants), and that the call book, the logins and the
  // switches' outstanding offers agree with it: INTERNAL naming the first one broken, else OK.
  // Walks the whole state (core_dump.cc): for tests and fuzzers, after an input is settled.
  absl::Status CheckInvariants() const;

 private:
  // Every state-changing input starts here: the router catches up on its timers, finished records
  // past their retention go, and what fell due is settled before the input acts.
  void CatchUp(absl::Time now);
  // Every state-changing input ends here (and CatchUp settles too): the router's decisions become
  // commands and records, and what it saw happen to calls reaches the records and the figures.
  // Decisions and facts carry the time the router made them, so nothing here needs the input's.
  void Settle();
  void Dispatch(const routing::Decision& decision);
  void Observe(const routing::CallFact& fact);
  void TellFact(const routing::CallFact& fact);
  void AddNotice(const char* topic, std::string line) {
    notices_.push_back({topic, std::move(line)});
  }
  // Tells the history sink, if any, of an agent's event (with the queues it serves).
  void TellAgent(HistoryEvent::Kind kind, const std::string& agent_id, std::string reason,
                 absl::Time at);

  // Call events (call_events.cc).
  absl::Status ApplyCallEvent(CallRecord& record, const routing::CallView& call,
                              const acd::v1::CallEvent& event, absl::Time now);
  absl::Status Accept(CallRecord& record, const std::string& call_id, const std::string& agent_id,
                      absl::Time now);
  absl::Status Answered(CallRecord& record, const routing::CallView& call,
                        const std::string& agent_id, absl::Time now);
  absl::Status Transfer(CallRecord& record, const routing::CallView& call,
                        const acd::v1::CallEvent& event, absl::Time now);
  absl::Status StartHold(CallRecord& record, const routing::CallView& call,
                         const acd::v1::HoldStarted& hold, absl::Time now);
  absl::Status EndHold(CallRecord& record, const routing::CallView& call,
                       const std::string& hold_id, absl::Time now);
  void EndOffer(const CallRecord& record, const std::string& call_id);
  // Tells the history sink, if any, that the switch reported `agent_id`'s ringing over.
  void TellOfferEnded(const routing::CallView& call, const std::string& agent_id,
                      const char* reason, absl::Time now);

  // Reads (operations.cc).
  acd::v1::CallState StateOf(absl::string_view call_id, const CallRecord& record) const;
  void FillCallInfo(absl::string_view call_id, const CallRecord& record, absl::Time now,
                    acd::v1::CallInfo* info) const;
  bool FillAgentInfo(const std::string& agent_id, acd::v1::AgentInfo* info) const;
  absl::Status ApplyPolicy(std::shared_ptr<const routing::CompiledPolicy> policy,
                           const std::string& source, absl::Time now);

  // A core around a restored router (RestoreSnapshot fills the rest).
  Core(std::shared_ptr<const routing::CompiledPolicy> policy,
       std::unique_ptr<routing::Router> router, CoreOptions options,
       metrics::CallObserver* observer);

  ThreadOwner owner_;
  CoreOptions options_;
  metrics::CallObserver* const observer_;
  HistorySink* history_ = nullptr;           // callers build an event only when there is one
  std::unique_ptr<routing::Router> router_;  // never null
  std::string policy_source_;
  absl::Time policy_applied_at_;
  CallBook book_;
  SwitchOutboxes outboxes_;
  // Each logged-in agent's login as sent (deterministically serialized), so that a retried login
  // is answered instead of refused.
  absl::flat_hash_map<std::string, std::string> logins_;
  std::vector<Notice> notices_;
  bool draining_ = false;
  // Settle's buffers for the router's decisions and call facts, reused input after input.
  std::vector<routing::Decision> decisions_;
  std::vector<routing::CallFact> facts_;
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_CORE_H_
