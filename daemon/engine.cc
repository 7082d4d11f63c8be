#include "daemon/engine.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "daemon/grpc_status.h"
#include "daemon/log.h"

namespace acd::daemon {
namespace {

// Time moves on this often even when no input comes: finished calls leave the book on time.
constexpr std::chrono::seconds kTickEvery(5);

const Clock* ClockOrOwn(const Clock* clock, std::unique_ptr<RealClock>* own) {
  if (clock != nullptr) return clock;
  *own = std::make_unique<RealClock>();
  return own->get();
}

}  // namespace

Engine::Engine(std::shared_ptr<const routing::CompiledPolicy> policy, std::string policy_source,
               EngineOptions options, const Clock* clock)
    : clock_(ClockOrOwn(clock, &own_clock_)),
      work_(asio::make_work_guard(io_)),
      options_(options),
      core_(std::move(policy), std::move(policy_source), options.core, &observer_, clock_->Now()),
      wakeup_(io_),
      tick_(io_),
      figures_timer_(io_) {}

Engine::~Engine() { Stop(); }

void Engine::Start() {
  thread_ = std::thread([this] {
    core_.BindToCurrentThread();
    io_.run();
  });
  Post([this] {
    Tick();
    RefreshFigures();
  });
}

void Engine::Stop() {
  if (!thread_.joinable()) return;
  Post([this] {
    stopping_ = true;  // handlers already queued must not re-arm
    wakeup_.cancel();
    tick_.cancel();
    figures_timer_.cancel();
    for (auto& [stream, watch] : watches_) watch.timer->cancel();
    work_.reset();
  });
  thread_.join();
}

void Engine::Post(std::function<void()> task) {
  metrics_.engine_queue_depth.fetch_add(1, std::memory_order_relaxed);
  asio::post(io_, [this, task = std::move(task)] {
    metrics_.engine_queue_depth.fetch_sub(1, std::memory_order_relaxed);
    task();
  });
}

// ---------------------------------------------------------------------------------------------
// Inputs, output, time.

template <typename Input>
grpc::Status Engine::RunInput(Timed timed, Input input) {
  const absl::Time now = clock_->Now();
  const auto started = std::chrono::steady_clock::now();
  const absl::Status status = input(now);
  if (timed == Timed::kRoutingDecision) {
    metrics_.routing_decision_seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    metrics_.engine_events.Add(1);
  }
  WriteCommands();
  for (const std::string& line : core_.TakeNotices()) Log(line);
  RearmWakeup();
  return ToGrpcStatus(status);
}

void Engine::WriteCommands() {
  for (OutgoingCommand& out : core_.TakeCommands()) {
    auto it = links_.find(out.switch_id);
    if (it == links_.end()) continue;  // not connected: the command waits in the core's outbox
    SwitchLink& link = it->second;
    if (link.local) {
      // Delivered once the current input is done, as a stream write would be.
      asio::post(io_, [this, out = std::move(out), deliver = link.local] {
        OnCommandWritten(out.switch_id, out.command);
        deliver(out.command);
      });
      continue;
    }
    if (link.stream == nullptr) continue;
    if (link.stream->backlog() >= options_.max_stream_backlog) {
      Log(absl::StrCat("switch ", out.switch_id, " reads its commands too slowly; closing its "
                       "stream (commands wait in the outbox for the reconnect)"));
      link.stream->Abort(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                      "command stream backlog too large; reconnect"));
      link.stream = nullptr;
      continue;
    }
    link.stream->Send(std::move(out.command));
  }
}

void Engine::RearmWakeup() {
  if (stopping_) return;
  std::optional<absl::Time> next = core_.NextWakeup();
  if (next == armed_for_) return;
  armed_for_ = next;
  wakeup_.cancel();
  if (!next) return;
  wakeup_.expires_at(clock_->ToSteady(*next));
  wakeup_.async_wait([this](const asio::error_code& error) {
    if (error || stopping_) return;  // cancelled: re-armed for another time, or stopping
    armed_for_.reset();
    RunInput(Timed::kRoutingDecision, [this](absl::Time now) {
      core_.AdvanceTo(now);
      return absl::OkStatus();
    });
  });
}

void Engine::Tick() {
  RunInput(Timed::kNo, [this](absl::Time now) {
    core_.AdvanceTo(now);
    return absl::OkStatus();
  });
  tick_.expires_after(kTickEvery);
  tick_.async_wait([this](const asio::error_code& error) {
    if (!error && !stopping_) Tick();
  });
}

void Engine::RefreshFigures() {
  observer_.Refresh(core_.router(), clock_->Now());
  figures_timer_.expires_after(std::chrono::seconds(1));
  figures_timer_.async_wait([this](const asio::error_code& error) {
    if (!error && !stopping_) RefreshFigures();
  });
}

// ---------------------------------------------------------------------------------------------
// Switch side.

grpc::Status Engine::EnqueueCall(const acd::v1::EnqueueCallRequest& request,
                                 acd::v1::EnqueueCallResponse* response) {
  return RunInput(Timed::kRoutingDecision,
                  [&](absl::Time now) { return core_.EnqueueCall(request, response, now); });
}

grpc::Status Engine::ReportCallEvent(const acd::v1::CallEvent& event,
                                     acd::v1::CallEventResponse* response) {
  return RunInput(Timed::kRoutingDecision,
                  [&](absl::Time now) { return core_.ReportCallEvent(event, response, now); });
}

grpc::Status Engine::ListCalls(const acd::v1::ListCallsRequest& request,
                               acd::v1::ListCallsResponse* response) {
  return ToGrpcStatus(core_.ListCalls(request, response, clock_->Now()));
}

void Engine::OpenCommandStream(const std::string& switch_id, CommandWriter* stream) {
  SwitchLink& link = links_[switch_id];
  if (link.stream != nullptr) {
    // Stop the old stream now, unflushed: what it has not written goes out on the new one.
    link.stream->Abort(grpc::Status(grpc::StatusCode::ABORTED,
                                    "another command stream for this switch took over"));
  }
  link.stream = stream;
  for (acd::v1::Command& command : core_.ReconnectSwitch(switch_id)) {
    stream->Send(std::move(command));
  }
}

void Engine::OnCommandWritten(const std::string& switch_id, const acd::v1::Command& command) {
  core_.CommandWritten(switch_id, command.sequence());
}

void Engine::CommandStreamGone(const std::string& switch_id, CommandWriter* stream) {
  auto it = links_.find(switch_id);
  if (it != links_.end() && it->second.stream == stream) it->second.stream = nullptr;
}

void Engine::AttachLocalSwitch(const std::string& switch_id,
                               std::function<void(const acd::v1::Command&)> deliver) {
  links_[switch_id].local = std::move(deliver);
}

// ---------------------------------------------------------------------------------------------
// Agents.

grpc::Status Engine::Login(const acd::v1::LoginRequest& request, acd::v1::AgentInfo* response) {
  return RunInput(Timed::kNo,
                  [&](absl::Time now) { return core_.Login(request, response, now); });
}

grpc::Status Engine::SetAgentState(const acd::v1::SetAgentStateRequest& request,
                                   acd::v1::AgentInfo* response) {
  return RunInput(Timed::kNo,
                  [&](absl::Time now) { return core_.SetAgentState(request, response, now); });
}

grpc::Status Engine::Logout(const acd::v1::LogoutRequest& request) {
  return RunInput(Timed::kNo, [&](absl::Time now) { return core_.Logout(request, now); });
}

// ---------------------------------------------------------------------------------------------
// Operations.

grpc::Status Engine::ListQueues(acd::v1::ListQueuesResponse* response) {
  return ToGrpcStatus(core_.ListQueues(response, clock_->Now()));
}

grpc::Status Engine::ListAgents(const acd::v1::ListAgentsRequest& request,
                                acd::v1::ListAgentsResponse* response) {
  return ToGrpcStatus(core_.ListAgents(request, response));
}

grpc::Status Engine::GetCall(const acd::v1::GetCallRequest& request, acd::v1::CallInfo* response) {
  return ToGrpcStatus(core_.GetCall(request, response, clock_->Now()));
}

grpc::Status Engine::GetPolicy(acd::v1::PolicyInfo* response) {
  return ToGrpcStatus(core_.GetPolicy(response));
}

grpc::Status Engine::SetPolicy(const acd::v1::SetPolicyRequest& request,
                               acd::v1::SetPolicyResponse* response) {
  return RunInput(Timed::kNo,
                  [&](absl::Time now) { return core_.SetPolicy(request, response, now); });
}

void Engine::ReloadPolicyText(const std::string& yaml, const std::string& source) {
  RunInput(Timed::kNo, [&](absl::Time now) { return core_.ApplyPolicyText(yaml, source, now); });
}

void Engine::OpenQueueWatch(QueueWatchWriter* stream, absl::Duration interval) {
  QueueWatch& watch = watches_[stream];
  watch.stream = stream;
  watch.interval = interval;
  watch.timer = std::make_unique<asio::steady_timer>(io_);
  TickWatch(stream);
}

void Engine::TickWatch(QueueWatchWriter* stream) {
  auto it = watches_.find(stream);
  if (it == watches_.end() || !stream->open()) return;
  if (stream->backlog() == 0) {  // a wallboard that reads slowly skips snapshots, never queues them
    acd::v1::ListQueuesResponse snapshot;
    (void)core_.ListQueues(&snapshot, clock_->Now());
    stream->Send(std::move(snapshot));
  }
  it->second.timer->expires_after(absl::ToChronoNanoseconds(it->second.interval));
  it->second.timer->async_wait([this, stream](const asio::error_code& error) {
    if (!error && !stopping_) TickWatch(stream);
  });
}

void Engine::QueueWatchGone(QueueWatchWriter* stream) {
  auto it = watches_.find(stream);
  if (it == watches_.end()) return;
  it->second.timer->cancel();
  watches_.erase(it);
}

size_t Engine::open_streams() const {
  size_t open = watches_.size();
  for (const auto& [switch_id, link] : links_) open += link.stream != nullptr;
  return open;
}

void Engine::BeginDrain() {
  core_.BeginDrain();
  for (auto& [switch_id, link] : links_) {
    if (link.stream != nullptr) link.stream->Close(grpc::Status::OK);
  }
  for (auto& [stream, watch] : watches_) {
    watch.timer->cancel();
    stream->Close(grpc::Status::OK);
  }
  Log("draining: no new calls; streams closed");
}

}  // namespace acd::daemon
