// Engine is acdd's shell around its deterministic core: the one engine thread (an asio
// io_context), the wake-up timer the core asks for, the command streams (and the in-process demo
// switch) its commands are written to, the wallboard watches, and the once-a-second refresh of the
// figures. gRPC handlers check a request, Post() it here and finish the RPC from here. Each input
// reads the injected clock once and hands that time to the core; nothing on this thread blocks.
//   Engine engine(policy, "deploy/policy.example.yaml");
//   engine.Start();
//   engine.Post([&] { grpc::Status s = engine.EnqueueCall(request, &response); reactor->Finish(s); });
#ifndef ACD_DAEMON_ENGINE_H_
#define ACD_DAEMON_ENGINE_H_

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "acd/v1/acd.pb.h"
#include "asio/executor_work_guard.hpp"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "daemon/clock.h"
#include "daemon/core.h"
#include "daemon/stream_writer.h"
#include "grpcpp/support/status.h"
#include "metrics/acd_metrics.h"
#include "metrics/call_observer.h"
#include "routing/router.h"

namespace acd::daemon {

using CommandWriter = StreamWriter<acd::v1::Command>;
using QueueWatchWriter = StreamWriter<acd::v1::ListQueuesResponse>;

struct EngineOptions {
  CoreOptions core;
  // A stream whose client reads slower than this many queued messages is closed
  // (RESOURCE_EXHAUSTED); commands stay in the outbox for the reconnect.
  size_t max_stream_backlog = 10000;
};

class Engine {
 public:
  // `clock` (not owned; null: a RealClock of the engine's own) must outlive the engine.
  Engine(std::shared_ptr<const routing::CompiledPolicy> policy, std::string policy_source,
         EngineOptions options = {}, const Clock* clock = nullptr);
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

  // --- Everything below runs on the engine thread only (the core checks it). ---
  grpc::Status EnqueueCall(const acd::v1::EnqueueCallRequest& request,
                           acd::v1::EnqueueCallResponse* response);
  grpc::Status ReportCallEvent(const acd::v1::CallEvent& event,
                               acd::v1::CallEventResponse* response);
  grpc::Status ListCalls(const acd::v1::ListCallsRequest& request,
                         acd::v1::ListCallsResponse* response);
  // Takes over as `switch_id`'s command stream (closing an older one) and delivers what is pending.
  void OpenCommandStream(const std::string& switch_id, CommandWriter* stream);
  // Stream callbacks: a command reached the transport; a stream is gone.
  void OnCommandWritten(const std::string& switch_id, const acd::v1::Command& command);
  void CommandStreamGone(const std::string& switch_id, CommandWriter* stream);
  // Plays `switch_id` in-process: its commands go to `deliver` (engine thread) instead of a stream.
  void AttachLocalSwitch(const std::string& switch_id,
                         std::function<void(const acd::v1::Command&)> deliver);

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
  void QueueWatchGone(QueueWatchWriter* stream);

  // Shutdown, step one: refuse new calls and close every stream cleanly.
  void BeginDrain();
  bool draining() const { return core_.draining(); }
  bool stopping() const { return stopping_; }  // Stop() was asked
  // Command and wallboard streams still open (drained when 0).
  size_t open_streams() const;

 private:
  // Where one switch's commands go: its stream, or an in-process switch.
  struct SwitchLink {
    CommandWriter* stream = nullptr;
    std::function<void(const acd::v1::Command&)> local;
  };
  struct QueueWatch {
    QueueWatchWriter* stream;
    absl::Duration interval;
    std::unique_ptr<asio::steady_timer> timer;
  };

  // Whether an input is one of the routing decisions acd_routing_decision_seconds times and
  // acd_engine_events_total counts (a call arriving, a call event, a timer falling due).
  enum class Timed : bool { kNo, kRoutingDecision };
  // Hands the core one state-changing input at the clock's time, then writes out the commands it
  // made and its notices, and re-arms the wake-up for the core's next deadline.
  template <typename Input>
  grpc::Status RunInput(Timed timed, Input input);
  void WriteCommands();
  void RearmWakeup();
  void Tick();            // every few seconds: time moves on even when nothing happens
  void RefreshFigures();  // once a second
  void TickWatch(QueueWatchWriter* stream);

  std::unique_ptr<RealClock> own_clock_;
  const Clock* const clock_;
  asio::io_context io_{1};  // one thread runs it: lets asio skip cross-thread locking work
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  const EngineOptions options_;
  metrics::AcdMetrics metrics_;
  metrics::CallObserver observer_{&metrics_};
  Core core_;

  asio::steady_timer wakeup_;
  std::optional<absl::Time> armed_for_;
  asio::steady_timer tick_;
  asio::steady_timer figures_timer_;
  absl::flat_hash_map<std::string, SwitchLink> links_;
  absl::flat_hash_map<QueueWatchWriter*, QueueWatch> watches_;
  bool stopping_ = false;  // Stop() was asked: timers no longer re-arm
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_ENGINE_H_
