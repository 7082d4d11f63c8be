// acdload plays a telephony switch and its agents against a running acdd and measures, end to
// end over gRPC, how long a call waits between arriving (EnqueueCall sent) and its offer reaching
// the switch on the command stream, at a sustained arrival rate. In the same run it measures the
// round trip of a bare no-op RPC (the standard health Check) as the floor of this stack.
//   acdd --grpc_listen 127.0.0.1:50051 &
//   acdload --server 127.0.0.1:50051 --rate 2000 --seconds 20 --agents 200 --json
// Each call is offered to a logged-in agent; the agent accepts, the call ends, and the agent ends
// its wrap-up at once, so the run sustains the rate with the matching agent events. Arrivals are
// paced open-loop: a slow daemon does not slow the offered load down.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "acd/v1/acd.grpc.pb.h"
#include "bench/async_call.h"
#include "daemon/access/client_access.h"
#include "daemon/access/leader_channel.h"
#include "grpcpp/grpcpp.h"
#include "protos/health.grpc.pb.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051",
          "acdd's gRPC HOST:PORT; HOST:PORT,HOST:PORT for an HA pair (the leader is found)");
ABSL_FLAG(double, rate, 2000, "call arrivals per second");
ABSL_FLAG(double, seconds, 10, "how long to sustain the rate (after a 1 s warm-up)");
ABSL_FLAG(int, agents, 200, "agents to log in");
ABSL_FLAG(std::string, queue, "sales", "queue the calls enter");
ABSL_FLAG(std::string, skill, "sales", "skill the agents log in with (proficiency 5)");
ABSL_FLAG(std::string, switch_id, "acdload", "the switch id acdload plays");
ABSL_FLAG(double, floor_rate, 200, "no-op round trips per second measured alongside");
ABSL_FLAG(bool, json, false, "print one JSON object instead of a report");

namespace {

using Clock = std::chrono::steady_clock;
using acd::bench::AsyncCall;
using acd::bench::Die;

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
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

class Load {
 public:
  explicit Load(std::shared_ptr<grpc::Channel> channel)
      : switches_(acd::v1::SwitchService::NewStub(channel)),
        agents_(acd::v1::AgentService::NewStub(channel)),
        admin_(acd::v1::AdminService::NewStub(channel)),
        health_(grpc::health::v1::Health::NewStub(channel)) {}

  void Prepare() {
    acd::v1::PolicyInfo policy;
    {
      grpc::ClientContext context;
      grpc::Status s = admin_->GetPolicy(&context, acd::v1::GetPolicyRequest(), &policy);
      if (!s.ok()) Die("GetPolicy", s);
    }
    for (const auto& q : policy.policy().queues()) {
      if (q.name() == absl::GetFlag(FLAGS_queue)) wrap_up_ = q.wrap_up_seconds() > 0;
    }
    const std::string run = absl::StrCat(NowNanos() % 1000000000);
    for (int a = 0; a < absl::GetFlag(FLAGS_agents); ++a) {
      const acd::v1::LoginRequest login =
          acd::bench::ReadyAgent(absl::StrCat("load-", run, "-", a), absl::GetFlag(FLAGS_skill));
      acd::v1::AgentInfo info;
      grpc::ClientContext context;
      grpc::Status s = agents_->Login(&context, login, &info);
      if (!s.ok()) Die("Login", s);
      agent_ids_.push_back(login.agent_id());
    }
    call_prefix_ = absl::StrCat("load-", run, "-");
  }

  void Run() {
    stream_thread_ = std::thread([this] { ReadCommands(); });
    std::thread floor_thread([this] { MeasureFloor(); });
    const double rate = absl::GetFlag(FLAGS_rate);
    const auto interval = std::chrono::nanoseconds(static_cast<int64_t>(1e9 / rate));
    const auto warmup = std::chrono::seconds(1);
    const auto measure = std::chrono::nanoseconds(static_cast<int64_t>(absl::GetFlag(FLAGS_seconds) * 1e9));
    const auto start = Clock::now();
    measure_from_ns_ = NowNanos() + std::chrono::nanoseconds(warmup).count();
    const auto stop = start + warmup + measure;
    auto next = start;
    uint64_t n = 0;
    while (next < stop) {
      std::this_thread::sleep_until(next);
      Arrive(n++, next);
      next += interval;
    }
    const double sent_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    sent_ = n;
    sent_rate_ = n / sent_seconds;
    // Let the last offers arrive and the agents finish their calls.
    for (int i = 0; i < 300 && static_cast<uint64_t>(completed_.load() + failed_.load()) < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    measuring_done_ = true;
    floor_thread.join();
    stream_context_.TryCancel();
    stream_thread_.join();
  }

  void Report() {
    Percentiles offer, floor, enqueue;
    {
      std::lock_guard<std::mutex> lock(mu_);
      offer = Summarize(latencies_);
      floor = Summarize(floor_latencies_);
      enqueue = Summarize(enqueue_latencies_);
    }
    const double measured_seconds = absl::GetFlag(FLAGS_seconds);
    const double arrivals_per_s = measured_arrivals_.load() / measured_seconds;
    const double ratio = floor.p99 > 0 ? offer.p99 / floor.p99 : 0;
    if (absl::GetFlag(FLAGS_json)) {
      std::cout << absl::StrFormat(
          "{\"arrivals_per_s\": %.1f, \"target_rate\": %.1f, \"agents\": %d, \"calls\": %d, "
          "\"offers_measured\": %d, \"queued_at_arrival\": %d, \"errors\": %d, "
          "\"p50_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, \"max_us\": %.1f, "
          "\"floor_p50_us\": %.1f, \"floor_p99_us\": %.1f, \"floor_samples\": %d, "
          "\"enqueue_rtt_p50_us\": %.1f, \"enqueue_rtt_p99_us\": %.1f, "
          "\"p99_over_floor_p99\": %.2f}\n",
          arrivals_per_s, absl::GetFlag(FLAGS_rate), absl::GetFlag(FLAGS_agents), sent_,
          offer.count, queued_.load(), failed_.load(), offer.p50, offer.p99, offer.p999, offer.max,
          floor.p50, floor.p99, floor.count, enqueue.p50, enqueue.p99, ratio);
      return;
    }
    std::cout << absl::StrFormat(
        "acdload against %s: %d agents, queue %s\n"
        "  arrivals      %.1f/s sustained over %.0f s (target %.0f/s); %d calls, %d errors, %d "
        "found no free agent\n"
        "  arrival->offer p50 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us  (%d offers)\n"
        "  no-op floor    p50 %.1f us  p99 %.1f us  (%d round trips)\n"
        "  EnqueueCall round trip p50 %.1f us  p99 %.1f us\n"
        "  p99 / floor p99 = %.2f\n",
        absl::GetFlag(FLAGS_server), absl::GetFlag(FLAGS_agents), absl::GetFlag(FLAGS_queue),
        arrivals_per_s, measured_seconds, absl::GetFlag(FLAGS_rate), sent_, failed_.load(),
        queued_.load(), offer.p50, offer.p99, offer.p999, offer.max, offer.count, floor.p50,
        floor.p99, floor.count, enqueue.p50, enqueue.p99, ratio);
  }

 private:
  void Arrive(uint64_t n, Clock::time_point scheduled) {
    auto* call = new AsyncCall<acd::v1::EnqueueCallRequest, acd::v1::EnqueueCallResponse>;
    call->request.set_switch_id(absl::GetFlag(FLAGS_switch_id));
    call->request.set_call_id(absl::StrCat(call_prefix_, n));
    call->request.set_queue(absl::GetFlag(FLAGS_queue));
    // The arrival time travels with the call and comes back on the offer.
    const int64_t t0 =
        std::chrono::duration_cast<std::chrono::nanoseconds>(scheduled.time_since_epoch()).count();
    (*call->request.mutable_attributes())["acdload_t0"] = absl::StrCat(t0);
    if (t0 >= measure_from_ns_) measured_arrivals_++;
    switches_->async()->EnqueueCall(&call->context, &call->request, &call->response,
                                    [this, call, t0](grpc::Status status) {
                                      if (t0 >= measure_from_ns_) {
                                        std::lock_guard<std::mutex> lock(mu_);
                                        enqueue_latencies_.push_back(NowNanos() - t0);
                                      }
                                      if (!status.ok()) {
                                        failed_++;
                                        ReportError("EnqueueCall", status);
                                      } else if (call->response.disposition() ==
                                                 acd::v1::EnqueueCallResponse::DISPOSITION_QUEUED) {
                                        queued_++;
                                      }
                                      delete call;
                                    });
  }

  void ReadCommands() {
    acd::v1::StreamCommandsRequest request;
    request.set_switch_id(absl::GetFlag(FLAGS_switch_id));
    std::unique_ptr<grpc::ClientReader<acd::v1::Command>> reader =
        switches_->StreamCommands(&stream_context_, request);
    acd::v1::Command command;
    while (reader->Read(&command)) {
      const int64_t received = NowNanos();
      if (!command.has_offer_call()) continue;
      const acd::v1::OfferCall& offer = command.offer_call();
      auto t0 = offer.attributes().find("acdload_t0");
      int64_t sent = 0;
      if (t0 != offer.attributes().end() && absl::SimpleAtoi(t0->second, &sent) &&
          sent >= measure_from_ns_) {
        std::lock_guard<std::mutex> lock(mu_);
        latencies_.push_back(received - sent);
      }
      AnswerAsAgent(offer.call_id(), offer.agent_id(), command.sequence());
    }
  }

  void AnswerAsAgent(const std::string& call_id, const std::string& agent_id, uint64_t sequence) {
    acd::bench::AnswerOffer(switches_.get(), agents_.get(), absl::GetFlag(FLAGS_switch_id), call_id,
                            agent_id, sequence, wrap_up_,
                            [this](const char* step, const grpc::Status& status) {
                              if (!status.ok()) return Failed(step, status);
                              completed_++;
                            });
  }

  void MeasureFloor() {
    const auto interval =
        std::chrono::nanoseconds(static_cast<int64_t>(1e9 / absl::GetFlag(FLAGS_floor_rate)));
    auto next = Clock::now();
    while (!measuring_done_) {
      std::this_thread::sleep_until(next);
      next += interval;
      grpc::ClientContext context;
      grpc::health::v1::HealthCheckResponse response;
      const int64_t start = NowNanos();
      grpc::Status s = health_->Check(&context, grpc::health::v1::HealthCheckRequest(), &response);
      const int64_t took = NowNanos() - start;
      if (s.ok() && start >= measure_from_ns_) {
        std::lock_guard<std::mutex> lock(mu_);
        floor_latencies_.push_back(took);
      }
    }
  }

  void Failed(const char* what, const grpc::Status& status) {
    failed_++;
    ReportError(what, status);
  }
  void ReportError(const char* what, const grpc::Status& status) {
    if (errors_reported_++ < 5) {
      std::cerr << "acdload: " << what << ": " << status.error_message() << "\n";
    }
  }

  std::unique_ptr<acd::v1::SwitchService::Stub> switches_;
  std::unique_ptr<acd::v1::AgentService::Stub> agents_;
  std::unique_ptr<acd::v1::AdminService::Stub> admin_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  std::vector<std::string> agent_ids_;
  std::string call_prefix_;
  bool wrap_up_ = false;
  int64_t measure_from_ns_ = 0;
  grpc::ClientContext stream_context_;
  std::thread stream_thread_;
  std::atomic<bool> measuring_done_{false};
  std::atomic<int> measured_arrivals_{0}, queued_{0}, failed_{0}, completed_{0}, errors_reported_{0};
  int sent_ = 0;
  double sent_rate_ = 0;
  std::mutex mu_;
  std::vector<int64_t> latencies_;        // guarded by mu_
  std::vector<int64_t> floor_latencies_;  // guarded by mu_
  std::vector<int64_t> enqueue_latencies_;  // guarded by mu_: EnqueueCall sent -> answered
};

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Load generator for acdd: arrivals at a fixed rate, arrival->offer latency, no-op floor.\n"
      "  acdload --server HOST:PORT --rate 2000 --seconds 10 --agents 200 [--json]\n"
      "          [--token_file F] [--tls_ca F] [--tls_cert F --tls_key F]");
  absl::ParseCommandLine(argc, argv);
  // Deadlock detection on every absl::Mutex (gRPC's locks included) costs CPU on each RPC; the
  // code's lock discipline is checked at build time with -Wthread-safety instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (!(absl::GetFlag(FLAGS_rate) > 0) || !(absl::GetFlag(FLAGS_seconds) > 0) ||
      absl::GetFlag(FLAGS_agents) < 1) {
    std::cerr << "acdload: --rate, --seconds and --agents must be positive\n";
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
  Load load(channel);
  load.Prepare();
  load.Run();
  load.Report();
  return 0;
}
