// acdload plays a telephony switch and its agents against a running acdd and measures, end to
// end over gRPC, how long a call waits between arriving (EnqueueCall sent) and its offer reaching
// the switch, at a sustained arrival rate. In the same run it measures the floor of this stack (the
// round trip of a request acdd answers without its engine) and the CPU seconds acdload and acdd
// spend per thousand calls.
//   acdd --grpc_listen 127.0.0.1:50051 &
//   acdload --server 127.0.0.1:50051 --rate 2000 --seconds 20 --agents 200 --json
//   acdload --server 127.0.0.1:50051 --mode session --max --max_p99_ms 10 --json
// --mode unary: one RPC per request, commands on StreamCommands, a health Check as the floor.
// --mode session: the switch's requests, their answers and its commands on one
// SwitchService.Session, a ping on a second session as the floor. Each call is offered to a
// logged-in agent; the agent accepts, the call ends, and the agent ends its wrap-up at once, so
// the run sustains the rate with the matching agent events. Arrivals are paced open-loop: a slow
// daemon does not slow the offered load down. --max searches for the highest rate whose
// arrival->offer p99 stays under --max_p99_ms. After the report, acdload exits 1 when any request
// failed, saying which and why on stderr.
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "acd/v1/acd.grpc.pb.h"
#include "bench/async_call.h"
#include "bench/load_failures.h"
#include "bench/process_cpu.h"
#include "bench/session_client.h"
#include "daemon/access/client_access.h"
#include "daemon/access/leader_channel.h"
#include "grpcpp/grpcpp.h"
#include "protos/health.grpc.pb.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051",
          "acdd's gRPC HOST:PORT; HOST:PORT,HOST:PORT for an HA pair (the leader is found)");
ABSL_FLAG(std::string, mode, "unary",
          "unary: one RPC per request, commands on StreamCommands, a health Check as the floor; "
          "session: requests, answers and commands on one SwitchService.Session, a ping on a "
          "second session (switch <switch_id>-floor) as the floor");
ABSL_FLAG(bool, pipeline, false,
          "session mode: the agent's answer (accept, call ended, wrap-up ended) goes as one "
          "message of three requests, without waiting for each answer (the session keeps their "
          "order); off: each is sent once the one before is answered, as in unary mode");
ABSL_FLAG(double, session_hold_ms, 0,
          "session mode: how long an agent's call event or state change may wait to go out with "
          "the next arrival's EnqueueCall, in one write (0: each goes as soon as it can)");
ABSL_FLAG(double, rate, 2000, "call arrivals per second (with --max: the first rate tried)");
ABSL_FLAG(double, seconds, 10, "how long to sustain the rate (after a 1 s warm-up)");
ABSL_FLAG(int, agents, 200, "agents to log in");
ABSL_FLAG(std::string, queue, "sales", "queue the calls enter");
ABSL_FLAG(std::string, skill, "sales", "skill the agents log in with (proficiency 5)");
ABSL_FLAG(std::string, switch_id, "acdload", "the switch id acdload plays");
ABSL_FLAG(double, floor_rate, 200, "floor round trips per second measured alongside");
ABSL_FLAG(int, acdd_pid, 0,
          "acdd's pid, for its CPU seconds; 0: the process listening on --server's port on "
          "loopback");
ABSL_FLAG(bool, max, false,
          "search for the highest rate whose arrival->offer p99 stays under --max_p99_ms: runs of "
          "--seconds from --rate, doubling while they pass, then bisecting");
ABSL_FLAG(double, max_p99_ms, 10, "--max: the arrival->offer p99 bound, in milliseconds");
ABSL_FLAG(int, max_bisect_steps, 4,
          "--max: runs bisecting between the last rate that passed and the first that failed");
ABSL_FLAG(bool, json, false, "print one JSON object instead of a report");

namespace {

using Clock = std::chrono::steady_clock;
using acd::bench::AsyncCall;
using acd::bench::Die;
using acd::bench::Failures;
using acd::bench::kAnswerDeadline;
using acd::bench::ListeningSocketInode;
using acd::bench::NowNanos;
using acd::bench::ProcessCpuSeconds;
using acd::bench::SocketOwner;
using acd::bench::SwitchSession;

constexpr auto kWarmup = std::chrono::seconds(1);
// After the last arrival, the run waits for its calls to finish while some still do.
constexpr auto kDrainStall = std::chrono::seconds(2);
constexpr auto kDrainLimit = std::chrono::seconds(60);
// --max: a run passes only when it sustained this share of its rate.
constexpr double kSustainedShare = 0.95;
constexpr int kMaxDoublings = 12;

int64_t ToNanos(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::chrono::system_clock::time_point AnswerDeadline() {
  return std::chrono::system_clock::now() + kAnswerDeadline;
}

struct Percentiles {
  double p50 = 0, p99 = 0, p999 = 0, max = 0;
  size_t count = 0;
};

Percentiles Summarize(std::vector<int64_t> nanos) {
  Percentiles p;
  p.count = nanos.size();
  if (nanos.empty()) return p;
  std::sort(nanos.begin(), nanos.end());
  auto at = [&](double q) {
    return nanos[std::min(nanos.size() - 1, static_cast<size_t>(q * nanos.size()))] / 1000.0;
  };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.max = nanos.back() / 1000.0;
  return p;
}

// acdd's pid: --acdd_pid, or the process listening on `address`'s port on loopback. 0, said on
// stderr, when it cannot be found: acdd's CPU is then not reported.
int AcddPid(const std::string& address) {
  if (const int pid = absl::GetFlag(FLAGS_acdd_pid); pid != 0) {
    if (ProcessCpuSeconds(absl::StrCat(pid))) return pid;
    std::cerr << "acdload: cannot read /proc/" << pid
              << "/stat (--acdd_pid): acdd's CPU is not reported\n";
    return 0;
  }
  const size_t colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  host.erase(std::remove(host.begin(), host.end(), '['), host.end());
  host.erase(std::remove(host.begin(), host.end(), ']'), host.end());
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
    std::cerr << "acdload: no port in " << address << ": acdd's CPU is not reported\n";
    return 0;
  }
  if (host != "localhost" && host != "::1" && !absl::StartsWith(host, "127.")) {
    std::cerr << "acdload: acdd at " << address
              << " is not on loopback (pass --acdd_pid): acdd's CPU is not reported\n";
    return 0;
  }
  const uint64_t inode = ListeningSocketInode(port);
  const int pid = inode == 0 ? 0 : SocketOwner(inode);
  if (pid == 0) {
    std::cerr << "acdload: found no process listening on port " << port
              << " on loopback (pass --acdd_pid): acdd's CPU is not reported\n";
  }
  return pid;
}

// The CPU seconds both processes have used so far.
struct CpuSample {
  std::optional<double> acdload, acdd;
};
CpuSample SampleCpu(int acdd_pid) {
  CpuSample sample;
  sample.acdload = ProcessCpuSeconds("self");
  if (acdd_pid != 0) sample.acdd = ProcessCpuSeconds(absl::StrCat(acdd_pid));
  return sample;
}
std::optional<double> Used(std::optional<double> before, std::optional<double> after) {
  if (!before || !after) return std::nullopt;
  return *after - *before;
}

// ---------------------------------------------------------------------------------------------
// How the switch and its agents reach acdd: RPC by RPC with the command stream (UnaryLink), or on
// the switch's session (SessionLink). Answers and commands come on gRPC's (or the stream
// reader's) threads.
class SwitchLink : public acd::bench::AgentAnswers {
 public:
  using CommandHandler = SwitchSession::CommandHandler;
  using EnqueueDone = std::function<void(const grpc::Status&, const acd::v1::EnqueueCallResponse&)>;

  // From here on, the switch's commands go to `on_command`.
  virtual grpc::Status Open(CommandHandler on_command) = 0;
  virtual void EnqueueCall(const acd::v1::EnqueueCallRequest& request, EnqueueDone done) = 0;
  // Waits for the answers still due (up to kAnswerDeadline), then stops the commands; nothing is
  // called back after it returns.
  virtual void Close() = 0;
  // A line about how the requests went out, for the report; empty if nothing to say.
  virtual std::string Notes() const { return ""; }
};

class UnaryLink : public SwitchLink {
 public:
  UnaryLink(acd::v1::SwitchService::Stub* switches, acd::v1::AgentService::Stub* agents,
            Failures* failures)
      : switches_(switches), agents_(agents), failures_(failures) {}

  grpc::Status Open(CommandHandler on_command) override {
    reader_ = std::thread([this, on_command = std::move(on_command)] { ReadCommands(on_command); });
    return grpc::Status::OK;
  }

  void EnqueueCall(const acd::v1::EnqueueCallRequest& request, EnqueueDone done) override {
    Call<acd::v1::EnqueueCallRequest, acd::v1::EnqueueCallResponse>(
        [this](auto... args) { switches_->async()->EnqueueCall(args...); }, request,
        std::move(done));
  }
  void ReportCallEvent(const acd::v1::CallEvent& event, Done done) override {
    Call<acd::v1::CallEvent, acd::v1::CallEventResponse>(
        [this](auto... args) { switches_->async()->ReportCallEvent(args...); }, event,
        [done = std::move(done)](const grpc::Status& s, const auto&) { done(s); });
  }
  void SetAgentState(const acd::v1::SetAgentStateRequest& request, Done done) override {
    Call<acd::v1::SetAgentStateRequest, acd::v1::AgentInfo>(
        [this](auto... args) { agents_->async()->SetAgentState(args...); }, request,
        [done = std::move(done)](const grpc::Status& s, const auto&) { done(s); });
  }

  void Close() override {
    closing_ = true;
    stream_context_.TryCancel();
    if (reader_.joinable()) reader_.join();
    // Every request has a deadline: this wait ends.
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* in_flight) { return *in_flight == 0; }, &in_flight_));
  }

 private:
  // One unary call on the callback API, counted in flight until `done` has run.
  template <typename Request, typename Response, typename Rpc>
  void Call(Rpc rpc, const Request& request,
            std::function<void(const grpc::Status&, const Response&)> done) {
    auto* call = new AsyncCall<Request, Response>;
    call->request = request;
    call->context.set_deadline(AnswerDeadline());
    {
      absl::MutexLock lock(&mu_);
      ++in_flight_;
    }
    rpc(&call->context, &call->request, &call->response,
        [this, call, done = std::move(done)](grpc::Status status) {
          done(status, call->response);  // may start the chain's next call before this one ends
          delete call;
          absl::MutexLock lock(&mu_);
          --in_flight_;
        });
  }

  void ReadCommands(const CommandHandler& on_command) {
    acd::v1::StreamCommandsRequest request;
    request.set_switch_id(absl::GetFlag(FLAGS_switch_id));
    std::unique_ptr<grpc::ClientReader<acd::v1::Command>> reader =
        switches_->StreamCommands(&stream_context_, request);
    acd::v1::Command command;
    while (reader->Read(&command)) on_command(command, NowNanos());
    const grpc::Status ended = reader->Finish();
    if (!ended.ok() && !(closing_ && ended.error_code() == grpc::StatusCode::CANCELLED)) {
      failures_->Add("StreamCommands", ended);
    }
  }

  acd::v1::SwitchService::Stub* const switches_;
  acd::v1::AgentService::Stub* const agents_;
  Failures* const failures_;
  grpc::ClientContext stream_context_;
  std::thread reader_;
  std::atomic<bool> closing_{false};
  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

class SessionLink : public SwitchLink {
 public:
  SessionLink(acd::v1::SwitchService::Stub* switches, Failures* failures)
      : session_(switches, absl::GetFlag(FLAGS_switch_id), failures, "Session",
                 absl::Milliseconds(absl::GetFlag(FLAGS_session_hold_ms))) {}

  grpc::Status Open(CommandHandler on_command) override {
    return session_.Open(std::move(on_command));
  }

  void EnqueueCall(const acd::v1::EnqueueCallRequest& request, EnqueueDone done) override {
    acd::v1::SwitchMessage message;
    *message.mutable_enqueue_call() = request;
    session_.Send(std::move(message), acd::v1::AcdMessage::kEnqueueCall,
                  [done = std::move(done)](const grpc::Status& s, const acd::v1::AcdMessage& m) {
                    done(s, m.enqueue_call());
                  });
  }
  void ReportCallEvent(const acd::v1::CallEvent& event, Done done) override {
    acd::v1::SwitchMessage message;
    *message.mutable_call_event() = event;
    session_.Send(
        std::move(message), acd::v1::AcdMessage::kCallEvent,
        [done = std::move(done)](const grpc::Status& s, const auto&) { done(s); },
        /*urgent=*/false);
  }
  void SetAgentState(const acd::v1::SetAgentStateRequest& request, Done done) override {
    acd::v1::SwitchMessage message;
    *message.mutable_set_agent_state() = request;
    session_.Send(
        std::move(message), acd::v1::AcdMessage::kAgent,
        [done = std::move(done)](const grpc::Status& s, const auto&) { done(s); },
        /*urgent=*/false);
  }

  void Close() override { session_.Close(); }
  std::string Notes() const override {
    return absl::StrFormat("session: %.2f messages per write", session_.MessagesPerWrite());
  }

 private:
  SwitchSession session_;
};

// ---------------------------------------------------------------------------------------------
// The floor: the round trip of a request acdd answers without its engine, one at a time.
class FloorProbe {
 public:
  virtual ~FloorProbe() = default;
  virtual grpc::Status Open() { return grpc::Status::OK; }
  // One round trip; its time in *nanos when it succeeded.
  virtual grpc::Status RoundTrip(int64_t* nanos) = 0;
  virtual void Close() {}
  // The step a failed round trip is counted under.
  virtual const char* Step() const = 0;
};

// --mode unary: the standard health Check.
class HealthCheckFloor : public FloorProbe {
 public:
  explicit HealthCheckFloor(grpc::health::v1::Health::Stub* health) : health_(health) {}
  grpc::Status RoundTrip(int64_t* nanos) override {
    grpc::ClientContext context;
    context.set_deadline(AnswerDeadline());
    grpc::health::v1::HealthCheckResponse response;
    const int64_t start = NowNanos();
    grpc::Status s = health_->Check(&context, grpc::health::v1::HealthCheckRequest(), &response);
    *nanos = NowNanos() - start;
    return s;
  }
  const char* Step() const override { return "floor Check"; }

 private:
  grpc::health::v1::Health::Stub* const health_;
};

// --mode session: a ping on a session of its own (switch "<switch_id>-floor"), answered by a pong
// without acdd's engine.
class PingFloor : public FloorProbe {
 public:
  PingFloor(acd::v1::SwitchService::Stub* switches, Failures* failures)
      : session_(switches, absl::StrCat(absl::GetFlag(FLAGS_switch_id), "-floor"), failures,
                 "floor Session") {}
  grpc::Status Open() override {
    return session_.Open([](const acd::v1::Command&, int64_t) {});
  }
  grpc::Status RoundTrip(int64_t* nanos) override {
    auto pong = std::make_shared<std::promise<grpc::Status>>();
    acd::v1::SwitchMessage ping;
    ping.mutable_ping();
    const int64_t start = NowNanos();
    session_.Send(std::move(ping), acd::v1::AcdMessage::kPong,
                  [pong](const grpc::Status& s, const auto&) { pong->set_value(s); });
    std::future<grpc::Status> answer = pong->get_future();
    if (answer.wait_for(kAnswerDeadline) != std::future_status::ready) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "no pong in time");
    }
    *nanos = NowNanos() - start;
    return answer.get();
  }
  void Close() override { session_.Close(); }
  const char* Step() const override { return "floor ping"; }

 private:
  SwitchSession session_;
};

// ---------------------------------------------------------------------------------------------
// One run at one rate.

// What the runs share: acdd's stubs, the agents (logged in once) and what the queue's policy says.
struct Center {
  std::unique_ptr<acd::v1::SwitchService::Stub> switches;
  std::unique_ptr<acd::v1::AgentService::Stub> agents;
  std::unique_ptr<acd::v1::AdminService::Stub> admin;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
  std::string run;       // this acdload's id, in its agents' and calls' ids
  bool wrap_up = false;  // the queue puts agents in wrap-up after a call
};

void PrepareCenter(Center* center) {
  acd::v1::PolicyInfo policy;
  {
    grpc::ClientContext context;
    grpc::Status s = center->admin->GetPolicy(&context, acd::v1::GetPolicyRequest(), &policy);
    if (!s.ok()) Die("GetPolicy", s);
  }
  for (const auto& q : policy.policy().queues()) {
    if (q.name() == absl::GetFlag(FLAGS_queue)) center->wrap_up = q.wrap_up_seconds() > 0;
  }
  center->run = absl::StrCat(NowNanos() % 1000000000);
  for (int a = 0; a < absl::GetFlag(FLAGS_agents); ++a) {
    const acd::v1::LoginRequest login = acd::bench::ReadyAgent(
        absl::StrCat("load-", center->run, "-", a), absl::GetFlag(FLAGS_skill));
    acd::v1::AgentInfo info;
    grpc::ClientContext context;
    grpc::Status s = center->agents->Login(&context, login, &info);
    if (!s.ok()) Die("Login", s);
  }
}

// What one run measured.
struct RunResult {
  double target_rate = 0, arrivals_per_s = 0;
  int calls = 0, queued = 0, errors = 0;
  int completed_in_window = 0;  // calls whose last step was answered inside the measured window
  Percentiles offer, floor, enqueue;
  std::optional<double> acdload_cpu_seconds, acdd_cpu_seconds;  // over the measured window
  std::string link_notes;
};

std::optional<double> PerThousandCalls(std::optional<double> cpu_seconds, int calls) {
  if (!cpu_seconds || calls == 0) return std::nullopt;
  return *cpu_seconds * 1000 / calls;
}
std::optional<double> Sum(std::optional<double> a, std::optional<double> b) {
  if (!a || !b) return std::nullopt;
  return *a + *b;
}

// A run: warm-up, then --seconds of arrivals at `rate`, each call answered by its agent, the floor
// measured alongside; then the calls still running are waited for while they keep finishing.
class Load {
 public:
  // REQUIRES: `link`, `floor` and `failures` outlive the run.
  Load(const Center& center, std::shared_ptr<SwitchLink> link, FloorProbe* floor,
       Failures* failures, std::string call_prefix, double rate, int acdd_pid)
      : center_(center),
        link_(std::move(link)),
        floor_(floor),
        failures_(failures),
        call_prefix_(std::move(call_prefix)),
        rate_(rate),
        acdd_pid_(acdd_pid) {}

  RunResult Run() {
    const int errors_before = failures_->Total();
    grpc::Status opened = link_->Open(
        [this](const acd::v1::Command& c, int64_t received) { OnCommand(c, received); });
    if (!opened.ok()) Die("opening the switch's session", opened);
    opened = floor_->Open();
    if (!opened.ok()) Die("opening the floor's session", opened);
    const auto start = Clock::now();
    const auto window_start = start + kWarmup;
    const auto window_end =
        window_start +
        std::chrono::nanoseconds(static_cast<int64_t>(absl::GetFlag(FLAGS_seconds) * 1e9));
    window_start_ns_ = ToNanos(window_start);
    window_end_ns_ = ToNanos(window_end);
    std::thread floor_thread([this] { MeasureFloor(); });
    const CpuSample before = PaceArrivals(start, window_start, window_end);
    const CpuSample after = SampleCpu(acdd_pid_);
    WaitForCalls();
    measuring_done_ = true;
    floor_thread.join();
    floor_->Close();
    link_->Close();

    RunResult r;
    r.target_rate = rate_;
    r.calls = static_cast<int>(sent_);
    r.arrivals_per_s = measured_arrivals_.load() / absl::GetFlag(FLAGS_seconds);
    r.queued = queued_.load();
    r.errors = failures_->Total() - errors_before;
    r.completed_in_window = completed_in_window_.load();
    r.acdload_cpu_seconds = Used(before.acdload, after.acdload);
    r.acdd_cpu_seconds = Used(before.acdd, after.acdd);
    r.link_notes = link_->Notes();
    absl::MutexLock lock(&mu_);
    r.offer = Summarize(latencies_);
    r.floor = Summarize(floor_latencies_);
    r.enqueue = Summarize(enqueue_latencies_);
    return r;
  }

 private:
  // Open loop: arrivals at their scheduled times, however acdd keeps up. Returns the CPU sample
  // taken as the measured window opens.
  CpuSample PaceArrivals(Clock::time_point start, Clock::time_point window_start,
                         Clock::time_point window_end) {
    const auto interval = std::chrono::nanoseconds(static_cast<int64_t>(1e9 / rate_));
    std::optional<CpuSample> at_window_start;
    auto next = start;
    uint64_t n = 0;
    while (next < window_end) {
      std::this_thread::sleep_until(next);
      if (!at_window_start && next >= window_start) at_window_start = SampleCpu(acdd_pid_);
      Arrive(n++, next);
      next += interval;
    }
    sent_ = n;
    return at_window_start ? *at_window_start : SampleCpu(acdd_pid_);
  }

  void Arrive(uint64_t n, Clock::time_point scheduled) {
    acd::v1::EnqueueCallRequest request;
    request.set_switch_id(absl::GetFlag(FLAGS_switch_id));
    request.set_call_id(absl::StrCat(call_prefix_, n));
    request.set_queue(absl::GetFlag(FLAGS_queue));
    // The arrival time travels with the call and comes back on the offer.
    const int64_t t0 = ToNanos(scheduled);
    (*request.mutable_attributes())["acdload_t0"] = absl::StrCat(t0);
    if (t0 >= window_start_ns_) measured_arrivals_++;
    link_->EnqueueCall(request, [this, t0](const grpc::Status& status,
                                           const acd::v1::EnqueueCallResponse& response) {
      if (status.ok() && t0 >= window_start_ns_) {
        absl::MutexLock lock(&mu_);
        enqueue_latencies_.push_back(NowNanos() - t0);
      }
      if (!status.ok()) {
        failures_->Add("EnqueueCall", status);
        finished_calls_++;
      } else if (response.disposition() == acd::v1::EnqueueCallResponse::DISPOSITION_QUEUED) {
        queued_++;
      } else if (response.disposition() ==
                 acd::v1::EnqueueCallResponse::DISPOSITION_SENT_TO_FALLBACK) {
        finished_calls_++;  // the call left acd: no offer will come
      }
    });
  }

  void OnCommand(const acd::v1::Command& command, int64_t received) {
    if (!command.has_offer_call()) return;
    const acd::v1::OfferCall& offer = command.offer_call();
    auto t0 = offer.attributes().find("acdload_t0");
    int64_t sent = 0;
    if (t0 != offer.attributes().end() && absl::SimpleAtoi(t0->second, &sent) &&
        sent >= window_start_ns_) {
      absl::MutexLock lock(&mu_);
      latencies_.push_back(received - sent);
    }
    auto finished = [this](const char* step, const grpc::Status& status) {
      CallFinished(step, status);
    };
    if (absl::GetFlag(FLAGS_pipeline) && absl::GetFlag(FLAGS_mode) == "session") {
      acd::bench::AnswerOfferPipelined(link_, absl::GetFlag(FLAGS_switch_id), offer.call_id(),
                                       offer.agent_id(), command.sequence(), center_.wrap_up,
                                       std::move(finished));
    } else {
      acd::bench::AnswerOffer(link_, absl::GetFlag(FLAGS_switch_id), offer.call_id(),
                              offer.agent_id(), command.sequence(), center_.wrap_up,
                              std::move(finished));
    }
  }

  void CallFinished(const char* step, const grpc::Status& status) {
    finished_calls_++;
    if (!status.ok()) return failures_->Add(step, status);
    const int64_t now = NowNanos();
    if (now >= window_start_ns_ && now < window_end_ns_) completed_in_window_++;
  }

  // Until every call sent has finished, or none has for kDrainStall (or kDrainLimit in all).
  void WaitForCalls() {
    const auto give_up = Clock::now() + kDrainLimit;
    auto last_progress = Clock::now();
    uint64_t finished = finished_calls_.load();
    while (finished < sent_ && Clock::now() < give_up &&
           Clock::now() - last_progress < kDrainStall) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      const uint64_t now_finished = finished_calls_.load();
      if (now_finished != finished) last_progress = Clock::now();
      finished = now_finished;
    }
  }

  void MeasureFloor() {
    const auto interval =
        std::chrono::nanoseconds(static_cast<int64_t>(1e9 / absl::GetFlag(FLAGS_floor_rate)));
    auto next = Clock::now();
    while (!measuring_done_) {
      std::this_thread::sleep_until(next);
      next += interval;
      const int64_t start = NowNanos();
      int64_t took = 0;
      const grpc::Status s = floor_->RoundTrip(&took);
      if (!s.ok()) {
        failures_->Add(floor_->Step(), s);
      } else if (start >= window_start_ns_) {
        absl::MutexLock lock(&mu_);
        floor_latencies_.push_back(took);
      }
    }
  }

  const Center& center_;
  const std::shared_ptr<SwitchLink> link_;
  FloorProbe* const floor_;
  Failures* const failures_;
  const std::string call_prefix_;
  const double rate_;
  const int acdd_pid_;
  // Set before the arrivals, the floor thread and the first command; constant after.
  int64_t window_start_ns_ = 0, window_end_ns_ = 0;
  uint64_t sent_ = 0;  // only the pacing thread
  std::atomic<bool> measuring_done_{false};
  std::atomic<int> measured_arrivals_{0}, queued_{0}, completed_in_window_{0};
  std::atomic<uint64_t> finished_calls_{0};  // answered by their agent, failed, or sent away
  absl::Mutex mu_;
  std::vector<int64_t> latencies_ ABSL_GUARDED_BY(mu_);          // arrival -> offer
  std::vector<int64_t> floor_latencies_ ABSL_GUARDED_BY(mu_);    // floor round trips
  std::vector<int64_t> enqueue_latencies_ ABSL_GUARDED_BY(mu_);  // EnqueueCall sent -> answered OK
};

// A run at `rate` in --mode's way, its calls' ids starting with `call_prefix`.
RunResult RunAt(const Center& center, bool session, double rate, const std::string& call_prefix,
                int acdd_pid, Failures* failures) {
  std::shared_ptr<SwitchLink> link;
  std::unique_ptr<FloorProbe> floor;
  if (session) {
    link = std::make_shared<SessionLink>(center.switches.get(), failures);
    floor = std::make_unique<PingFloor>(center.switches.get(), failures);
  } else {
    link = std::make_shared<UnaryLink>(center.switches.get(), center.agents.get(), failures);
    floor = std::make_unique<HealthCheckFloor>(center.health.get());
  }
  Load load(center, link, floor.get(), failures, call_prefix, rate, acdd_pid);
  return load.Run();
}

// ---------------------------------------------------------------------------------------------
// --max: the highest rate whose arrival->offer p99 stays under the bound.

struct MaxStep {
  RunResult result;
  bool passed = false;
};

bool StepPassed(const RunResult& r, double p99_bound_us) {
  return r.errors == 0 && r.offer.count > 0 && r.offer.p99 < p99_bound_us &&
         r.arrivals_per_s >= kSustainedShare * r.target_rate;
}

// From `first_rate`, doubling while runs pass, then `bisect_steps` runs halving the gap between
// the last rate that passed and the first that failed (from 0 if the first failed).
std::vector<MaxStep> SearchMaxRate(const std::function<RunResult(double rate)>& run_at,
                                   double first_rate, double p99_bound_us, int bisect_steps,
                                   const std::function<void(const MaxStep&)>& on_step) {
  std::vector<MaxStep> steps;
  auto step = [&](double rate) {
    MaxStep s;
    s.result = run_at(rate);
    s.passed = StepPassed(s.result, p99_bound_us);
    steps.push_back(s);
    on_step(s);
    return s.passed;
  };
  double passed = 0, failed = 0;
  for (int i = 0; i <= kMaxDoublings && failed == 0; ++i) {
    const double rate = first_rate * std::pow(2, i);
    if (step(rate)) {
      passed = rate;
    } else {
      failed = rate;
    }
  }
  for (int i = 0; i < bisect_steps && failed > 0; ++i) {
    const double rate = std::round((passed + failed) / 2);
    if (rate <= passed || rate >= failed) break;
    if (step(rate)) {
      passed = rate;
    } else {
      failed = rate;
    }
  }
  return steps;
}

double HighestPassed(const std::vector<MaxStep>& steps) {
  double best = 0;
  for (const MaxStep& s : steps) {
    if (s.passed) best = std::max(best, s.result.target_rate);
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Reports.

std::string JsonNumber(std::optional<double> value) {
  return value ? absl::StrFormat("%.4f", *value) : "null";
}
std::string Seconds(std::optional<double> value) {
  return value ? absl::StrFormat("%.3f s", *value) : "unknown";
}

struct CpuPerThousandCalls {
  std::optional<double> acdload, acdd, both;
};
CpuPerThousandCalls CpuPerCalls(const RunResult& r) {
  CpuPerThousandCalls c;
  c.acdload = PerThousandCalls(r.acdload_cpu_seconds, r.completed_in_window);
  c.acdd = PerThousandCalls(r.acdd_cpu_seconds, r.completed_in_window);
  c.both = Sum(c.acdload, c.acdd);
  return c;
}

void PrintRunJson(const RunResult& r, int acdd_pid, const Failures& failures) {
  const double ratio = r.floor.p99 > 0 ? r.offer.p99 / r.floor.p99 : 0;
  const CpuPerThousandCalls cpu = CpuPerCalls(r);
  std::cout << absl::StrFormat(
      "{\"arrivals_per_s\": %.1f, \"target_rate\": %.1f, \"agents\": %d, \"calls\": %d, "
      "\"offers_measured\": %d, \"queued_at_arrival\": %d, \"errors\": %d, "
      "\"p50_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, \"max_us\": %.1f, "
      "\"floor_p50_us\": %.1f, \"floor_p99_us\": %.1f, \"floor_samples\": %d, "
      "\"enqueue_rtt_p50_us\": %.1f, \"enqueue_rtt_p99_us\": %.1f, "
      "\"p99_over_floor_p99\": %.2f, \"mode\": \"%s\", \"pipeline\": %s, "
      "\"session_hold_ms\": %g, \"acdd_pid\": %s, "
      "\"completed_in_window\": %d, \"cpu_seconds_per_1000_calls\": %s, "
      "\"acdload_cpu_seconds_per_1000_calls\": %s, \"acdd_cpu_seconds_per_1000_calls\": %s, "
      "\"failures\": %s}\n",
      r.arrivals_per_s, r.target_rate, absl::GetFlag(FLAGS_agents), r.calls, r.offer.count,
      r.queued, r.errors, r.offer.p50, r.offer.p99, r.offer.p999, r.offer.max, r.floor.p50,
      r.floor.p99, r.floor.count, r.enqueue.p50, r.enqueue.p99, ratio, absl::GetFlag(FLAGS_mode),
      absl::GetFlag(FLAGS_pipeline) ? "true" : "false", absl::GetFlag(FLAGS_session_hold_ms),
      acdd_pid == 0 ? "null" : absl::StrCat(acdd_pid), r.completed_in_window, JsonNumber(cpu.both),
      JsonNumber(cpu.acdload), JsonNumber(cpu.acdd), failures.Json());
}

void PrintRunReport(const RunResult& r) {
  const double ratio = r.floor.p99 > 0 ? r.offer.p99 / r.floor.p99 : 0;
  const CpuPerThousandCalls cpu = CpuPerCalls(r);
  std::cout << absl::StrFormat(
      "acdload against %s (mode %s): %d agents, queue %s\n"
      "  arrivals      %.1f/s sustained over %.0f s (target %.0f/s); %d calls, %d errors, %d "
      "found no free agent\n"
      "  arrival->offer p50 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us  (%d offers)\n"
      "  floor (%s) p50 %.1f us  p99 %.1f us  (%d round trips)\n"
      "  EnqueueCall round trip p50 %.1f us  p99 %.1f us\n"
      "  p99 / floor p99 = %.2f\n"
      "  CPU per 1000 calls: acdload %s + acdd %s = %s  (%d calls completed in the window)\n",
      absl::GetFlag(FLAGS_server), absl::GetFlag(FLAGS_mode), absl::GetFlag(FLAGS_agents),
      absl::GetFlag(FLAGS_queue), r.arrivals_per_s, absl::GetFlag(FLAGS_seconds), r.target_rate,
      r.calls, r.errors, r.queued, r.offer.p50, r.offer.p99, r.offer.p999, r.offer.max,
      r.offer.count, absl::GetFlag(FLAGS_mode) == "session" ? "ping" : "health Check", r.floor.p50,
      r.floor.p99, r.floor.count, r.enqueue.p50, r.enqueue.p99, ratio, Seconds(cpu.acdload),
      Seconds(cpu.acdd), Seconds(cpu.both), r.completed_in_window);
  if (!r.link_notes.empty()) std::cout << "  " << r.link_notes << "\n";
}

std::string MaxStepLine(size_t n, const MaxStep& s) {
  return absl::StrFormat(
      "  step %2d  rate %8.0f/s  arrivals %8.1f/s  p99 %9.1f us  floor p99 %7.1f us  errors %d  "
      "CPU/1000 calls %s  %s",
      n, s.result.target_rate, s.result.arrivals_per_s, s.result.offer.p99, s.result.floor.p99,
      s.result.errors, Seconds(CpuPerCalls(s.result).both), s.passed ? "passed" : "failed");
}

void PrintMaxJson(const std::vector<MaxStep>& steps, int acdd_pid, const Failures& failures) {
  std::vector<std::string> rows;
  for (const MaxStep& s : steps) {
    const RunResult& r = s.result;
    rows.push_back(absl::StrFormat(
        "{\"rate\": %.1f, \"p99_us\": %.1f, \"arrivals_per_s\": %.1f, \"errors\": %d, "
        "\"p50_us\": %.1f, \"floor_p99_us\": %.1f, \"cpu_seconds_per_1000_calls\": %s, "
        "\"passed\": %s}",
        r.target_rate, r.offer.p99, r.arrivals_per_s, r.errors, r.offer.p50, r.floor.p99,
        JsonNumber(CpuPerCalls(r).both), s.passed ? "true" : "false"));
  }
  std::cout << absl::StrFormat(
      "{\"mode\": \"%s\", \"max_p99_ms\": %.3f, \"seconds\": %.1f, \"agents\": %d, "
      "\"acdd_pid\": %s, \"max_rate\": %.1f, \"steps\": [%s], \"errors\": %d, \"failures\": %s}\n",
      absl::GetFlag(FLAGS_mode), absl::GetFlag(FLAGS_max_p99_ms), absl::GetFlag(FLAGS_seconds),
      absl::GetFlag(FLAGS_agents), acdd_pid == 0 ? "null" : absl::StrCat(acdd_pid),
      HighestPassed(steps), absl::StrJoin(rows, ", "), failures.Total(), failures.Json());
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Load generator for acdd: arrivals at a fixed rate, arrival->offer latency, the floor, CPU "
      "per call.\n"
      "  acdload --server HOST:PORT --rate 2000 --seconds 10 --agents 200 [--mode session] "
      "[--json]\n"
      "          [--max [--max_p99_ms 10]] [--acdd_pid PID]\n"
      "          [--token_file F] [--tls_ca F] [--tls_cert F --tls_key F]\n"
      "Exits 1 after the report when any request failed.");
  absl::ParseCommandLine(argc, argv);
  // Deadlock detection on every absl::Mutex (gRPC's locks included) costs CPU on each RPC; the
  // code's lock discipline is checked at build time with -Wthread-safety instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "unary" && mode != "session") {
    std::cerr << "acdload: --mode is unary or session, not '" << mode << "'\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_pipeline) && mode != "session") {
    std::cerr << "acdload: --pipeline needs --mode session (unary RPCs keep no order)\n";
    return 2;
  }
  if (const double hold = absl::GetFlag(FLAGS_session_hold_ms);
      hold != 0 && (mode != "session" || !(hold >= 0.1 && hold <= 1000))) {
    std::cerr << "acdload: --session_hold_ms needs --mode session and is 0 (no hold) or from 0.1 "
                 "to 1000\n";
    return 2;
  }
  if (!(absl::GetFlag(FLAGS_rate) > 0) || !(absl::GetFlag(FLAGS_seconds) > 0) ||
      absl::GetFlag(FLAGS_agents) < 1 || !(absl::GetFlag(FLAGS_floor_rate) > 0) ||
      !(absl::GetFlag(FLAGS_max_p99_ms) > 0)) {
    std::cerr << "acdload: --rate, --seconds, --agents, --floor_rate and --max_p99_ms must be "
                 "positive\n";
    return 2;
  }
  // --token_file, --tls_ca, --tls_cert/--tls_key: an acdd with TLS and tokens.
  // With several addresses (an HA pair), the one that leads.
  absl::StatusOr<acd::daemon::LeaderChannel> opened = acd::daemon::OpenLeaderChannel(
      absl::GetFlag(FLAGS_server), acd::daemon::ClientAccessFromFlags(), absl::Seconds(5));
  if (!opened.ok()) {
    std::cerr << "acdload: " << opened.status().message() << "\n";
    return opened.status().code() == absl::StatusCode::kUnavailable ? 1 : 2;
  }
  std::shared_ptr<grpc::Channel> channel = std::move(opened->channel);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
    std::cerr << "acdload: cannot reach acdd at " << opened->address << "\n";
    return 1;
  }
  const int acdd_pid = AcddPid(opened->address);
  Center center{acd::v1::SwitchService::NewStub(channel), acd::v1::AgentService::NewStub(channel),
                acd::v1::AdminService::NewStub(channel),
                grpc::health::v1::Health::NewStub(channel)};
  PrepareCenter(&center);
  const bool session = mode == "session";
  const bool json = absl::GetFlag(FLAGS_json);
  Failures failures;

  if (absl::GetFlag(FLAGS_max)) {
    if (!json) {
      std::cout << absl::StrFormat(
          "acdload --max against %s (mode %s): highest rate with arrival->offer p99 < %.3f ms, "
          "runs of %.0f s\n",
          absl::GetFlag(FLAGS_server), mode, absl::GetFlag(FLAGS_max_p99_ms),
          absl::GetFlag(FLAGS_seconds));
    }
    int step = 0;
    const std::vector<MaxStep> steps = SearchMaxRate(
        [&](double rate) {
          return RunAt(center, session, rate, absl::StrCat("load-", center.run, "-", ++step, "-"),
                       acdd_pid, &failures);
        },
        absl::GetFlag(FLAGS_rate), absl::GetFlag(FLAGS_max_p99_ms) * 1000,
        absl::GetFlag(FLAGS_max_bisect_steps),
        [&](const MaxStep& s) {
          if (!json) std::cout << MaxStepLine(step, s) << std::endl;
        });
    if (json) {
      PrintMaxJson(steps, acdd_pid, failures);
    } else {
      std::cout << absl::StrFormat("  highest rate that passed: %.0f/s\n", HighestPassed(steps));
    }
  } else {
    const RunResult result = RunAt(center, session, absl::GetFlag(FLAGS_rate),
                                   absl::StrCat("load-", center.run, "-"), acdd_pid, &failures);
    if (json) {
      PrintRunJson(result, acdd_pid, failures);
    } else {
      PrintRunReport(result);
    }
  }
  std::cout.flush();
  if (failures.Total() > 0) {
    failures.Print(std::cerr);
    return 1;
  }
  return 0;
}
