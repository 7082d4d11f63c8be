// Engine is acdd's one engine thread. It owns the Router, the call book (each call's switch, its
// history, and the answers retries get), every switch's command outbox and the wallboard watches.
// gRPC handlers validate a request, Post() work here and finish the RPC from here; nothing in
// this class takes a lock, because only the engine thread touches it.
//   Engine engine(policy, "deploy/policy.example.yaml");
//   engine.Start();
//   engine.Post([&] { grpc::Status s = engine.EnqueueCall(request, &response); reactor->Finish(s); });
#ifndef ACD_DAEMON_ENGINE_H_
#define ACD_DAEMON_ENGINE_H_

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "acd/v1/acd.pb.h"
#include "asio/executor_work_guard.hpp"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "daemon/stream_writer.h"
#include "grpcpp/support/status.h"
#include "metrics/acd_metrics.h"
#include "routing/router.h"

namespace acd::daemon {

// "entry", "update", "hold_reminder", "callback_offer": the names the API and metrics use.
absl::string_view PromptKindName(routing::Decision::PromptKind kind);

using CommandWriter = StreamWriter<acd::v1::Command>;
using QueueWatchWriter = StreamWriter<acd::v1::ListQueuesResponse>;

struct EngineOptions {
  // How long a finished call's record stays for GetCall and for retried events, and how many such
  // records at most (the oldest go first): at 2,000 calls/s 15 minutes would be 1.8 million.
  absl::Duration call_retention = absl::Minutes(15);
  size_t max_finished_calls = 200000;
  // Undelivered commands kept per switch while it is disconnected; the oldest go first.
  size_t max_outbox = 100000;
  // A stream whose client reads slower than this many queued messages is closed
  // (RESOURCE_EXHAUSTED); commands stay in the outbox for the reconnect.
  size_t max_stream_backlog = 10000;
};

class Engine {
 public:
  Engine(std::shared_ptr<const routing::CompiledPolicy> policy, std::string policy_source,
         EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void Start();
  // Runs what is queued, then stops the thread. Call after the gRPC server has shut down.
  void Stop();
  void Post(std::function<void()> task);
  asio::io_context* io() { return &io_; }
  // What acdd exports; its readers (the HTTP threads) never block the engine.
  metrics::AcdMetrics& metrics() { return metrics_; }

  // --- Everything below runs on the engine thread only. ---
  absl::Time Now() const;

  grpc::Status EnqueueCall(const acd::v1::EnqueueCallRequest& request,
                           acd::v1::EnqueueCallResponse* response);
  grpc::Status ReportCallEvent(const acd::v1::CallEvent& event,
                               acd::v1::CallEventResponse* response);
  // Takes over as `switch_id`'s command stream (closing an older one) and delivers what is pending.
  void OpenCommandStream(const std::string& switch_id, CommandWriter* stream);
  // Stream callbacks (engine thread): a command reached the transport; a stream is gone.
  void OnCommandWritten(const std::string& switch_id, const acd::v1::Command& command);
  // A command not delivered yet that no longer applies (an offer answered or withdrawn).
  void DropFromOutbox(const std::string& switch_id, uint64_t sequence);
  void CommandStreamGone(const std::string& switch_id, CommandWriter* stream);
  // Plays `switch_id` in-process: its commands go to `deliver` (engine thread) instead of a stream.
  void AttachLocalSwitch(const std::string& switch_id,
                         std::function<void(const acd::v1::Command&)> deliver);
  void QueueWatchGone(QueueWatchWriter* stream);
  grpc::Status ListCalls(const acd::v1::ListCallsRequest& request,
                         acd::v1::ListCallsResponse* response);

  grpc::Status Login(const acd::v1::LoginRequest& request, acd::v1::AgentInfo* response);
  grpc::Status SetAgentState(const acd::v1::SetAgentStateRequest& request,
                             acd::v1::AgentInfo* response);
  grpc::Status Logout(const acd::v1::LogoutRequest& request);

  grpc::Status ListQueues(acd::v1::ListQueuesResponse* response);
  grpc::Status ListAgents(const acd::v1::ListAgentsRequest& request,
                          acd::v1::ListAgentsResponse* response);
  grpc::Status GetCall(const acd::v1::GetCallRequest& request, acd::v1::CallInfo* response);
  grpc::Status GetPolicy(acd::v1::PolicyInfo* response);
  grpc::Status SetPolicy(const acd::v1::SetPolicyRequest& request,
                         acd::v1::SetPolicyResponse* response);
  // A policy file re-read on SIGHUP: applied if valid, else refused with every problem logged.
  void ReloadPolicyText(const std::string& yaml, const std::string& source);
  void OpenQueueWatch(QueueWatchWriter* stream, absl::Duration interval);

  // Shutdown, step one: refuse new calls and close every stream cleanly.
  void BeginDrain();
  bool draining() const { return draining_; }
  bool stopping() const { return stopping_; }  // engine thread: Stop() was asked
  // Command and wallboard streams still open (drained when 0).
  size_t open_streams() const;

 private:
  struct CallRecord {
    std::string switch_id;
    acd::v1::EnqueueCallRequest request;
    acd::v1::EnqueueCallResponse first_response;
    acd::v1::CallState final_state = acd::v1::CALL_STATE_UNSPECIFIED;  // set once it has left
    absl::Time arrived;
    std::string agent_id;  // offered to or connected with
    std::vector<acd::v1::CallHistoryEntry> history;
    // An event that acted, kept so a retry of it is answered the same instead of acting again.
    // Refused events are not kept: they did nothing, so a repeat is judged afresh.
    struct Answer {
      acd::v1::CallEvent::EventCase event;
      std::string agent_id;
      uint64_t offer_sequence;  // the offer an offer answer was about; 0 otherwise
      acd::v1::CallState state;
    };
    std::vector<Answer> answers;
    std::optional<acd::v1::Command> offer; // the outstanding offer, resent on reconnect
    bool offer_delivered = false;
    acd::v1::CallContext context;          // grows with each transfer; sent with every offer
    uint64_t connected_sequence = 0;       // the offer the connected agent accepted
    uint32_t hold_count = 0;
    std::vector<std::string> hold_ids;     // ids the switch gave its holds, for exact retries
    std::string current_hold_id;
    absl::Duration hold_total;             // holds that have ended
    std::optional<absl::Time> on_hold_since;
    double hold_expected_seconds = 0;      // what the caller was told of the current hold
    std::string consulting_agent;          // warm transfer in progress: who stays with the caller
    uint64_t consults = 0;                 // consults started, to tell a retry from a new one
    acd::v1::CallContext context_before_consult;  // restored if the consult is cancelled
    std::string callback_number;           // from callback_accepted
    absl::Time connected_at;               // with its current agent, for handle time
    std::string connected_queue;
  };
  struct SwitchLink {
    uint64_t next_sequence = 1;
    std::deque<acd::v1::Command> outbox;  // made but not yet written to the switch
    CommandWriter* stream = nullptr;
    // An in-process switch (the demo) instead of a stream: it gets each command from the engine
    // thread, right after the event that made it.
    std::function<void(const acd::v1::Command&)> local;
  };
  struct QueueWatch {
    QueueWatchWriter* stream;
    absl::Duration interval;
    std::unique_ptr<asio::steady_timer> timer;
  };

  void AfterEvent();  // turns decisions into commands and records, rearms the wake-up timer
  // Metrics: the series of a queue by name (nullptr if the policy has no such queue), what a call
  // leaving the line or ending tells the figures, and the once-a-second refresh of queue gauges
  // and the wallboard's JSON.
  metrics::QueueSeries* SeriesOf(const std::string& queue);
  void ObserveConnected(CallRecord& record, const std::optional<routing::CallView>& before,
                        absl::Time now);
  void ObserveLeftLine(const std::optional<routing::CallView>& before, absl::Time now);
  void ObserveEnded(const CallRecord& record, absl::Time now);
  void RefreshFigures();
  std::string QueuesJson(absl::Time now);
  void Dispatch(const routing::Decision& decision);
  void SendCommand(const std::string& switch_id, acd::v1::Command command);
  void RearmWakeup();
  void SweepEndedCalls();
  void Finish(CallRecord& record, const std::string& call_id, acd::v1::CallState state);
  void DropOffer(CallRecord& record);  // the offer is over: forget it, and unsend it if undelivered
  absl::Status Answered(CallRecord& record, const std::string& call_id, const std::string& agent_id,
                        absl::Time now);
  absl::Status StartHold(CallRecord& record, const std::string& call_id,
                         const acd::v1::HoldStarted& hold, absl::Time now);
  absl::Status StopHold(CallRecord& record, const std::string& call_id, const std::string& hold_id,
                        absl::Time now);
  void EndHold(CallRecord& record, absl::Time now);  // closes an open hold into the total
  absl::Status Transfer(CallRecord& record, const std::string& call_id,
                        const acd::v1::CallEvent& event, absl::Time now);
  void AddHistory(CallRecord& record, std::string what, std::string detail);
  acd::v1::CallState LiveState(const std::string& call_id, const CallRecord& record) const;
  void FillCallInfo(const std::string& call_id, const CallRecord& record,
                    acd::v1::CallInfo* info) const;
  bool FillAgentInfo(const std::string& agent_id, acd::v1::AgentInfo* info) const;
  grpc::Status ApplyPolicy(std::shared_ptr<const routing::CompiledPolicy> policy,
                           const std::string& source);
  void TickWatch(QueueWatchWriter* stream);
  google::protobuf::Timestamp ToProto(absl::Time t) const;
  std::chrono::steady_clock::time_point ToSteady(absl::Time t) const;

  asio::io_context io_{1};  // one thread runs it: lets asio skip cross-thread locking work
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  const std::chrono::steady_clock::time_point steady_start_;
  const absl::Time wall_start_;
  EngineOptions options_;

  routing::Router router_;
  std::string policy_source_;
  absl::Time policy_applied_at_;
  asio::steady_timer wakeup_;
  std::optional<absl::Time> armed_for_;
  asio::steady_timer sweep_;
  asio::steady_timer figures_timer_;
  metrics::AcdMetrics metrics_;

  // Node-based: records are large and many (finished ones are kept for retries), so a rehash must
  // never move them; only the engine thread touches this.
  absl::node_hash_map<std::string, CallRecord> calls_;
  std::deque<std::pair<absl::Time, std::string>> ended_;  // (ended at, call id), oldest first
  absl::flat_hash_map<std::string, SwitchLink> switches_;
  absl::flat_hash_map<std::string, acd::v1::LoginRequest> logins_;  // by agent id
  absl::flat_hash_map<QueueWatchWriter*, QueueWatch> watches_;
  bool draining_ = false;
  bool stopping_ = false;  // Stop() was asked: timers no longer re-arm
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_ENGINE_H_
