// acdfailover plays a telephony switch and its agents against an HA pair of acdd replicas and
// follows the leader across failovers: calls arrive at a steady rate (EnqueueCall, open loop), the
// agents answer every offer (accepted, ended, wrap-up ended), and every call the pair acknowledges
// is written to a ledger with its client-side send and acknowledgement times. A call refused
// (UNAVAILABLE: a standby, a fenced leader, a dead one) is not acknowledged and not retried; the
// next goes to the address the refusal names (its acd-leader trailer), or to the other replica.
// bench/failover.py kills the leader under it and checks the ledger against the new leader.
//   acdfailover --servers 127.0.0.1:50051,127.0.0.1:50052 --rate 300 --seconds 60
//               --ledger /tmp/ledger.txt
// Ledger lines: "ack CALL_ID SENT_UNIX_NS ACKED_UNIX_NS", "refused CALL_ID SENT_UNIX_NS CODE";
// on SIGTERM or after --seconds it stops arriving, waits a second for replies, and exits 0.
#include <signal.h>

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
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "acd/v1/acd.grpc.pb.h"
#include "bench/async_call.h"
#include "daemon/access/leader_channel.h"
#include "daemon/serving_role.h"
#include "grpcpp/grpcpp.h"

ABSL_FLAG(std::string, servers, "", "HOST:PORT,HOST:PORT of the pair's replicas");
ABSL_FLAG(double, rate, 300, "call arrivals per second");
ABSL_FLAG(double, seconds, 60, "how long calls arrive");
ABSL_FLAG(int, agents, 100, "agents to log in (on the leader, once)");
ABSL_FLAG(std::string, queue, "sales", "queue the calls enter");
ABSL_FLAG(std::string, skill, "sales", "skill the agents log in with (proficiency 5)");
ABSL_FLAG(std::string, switch_id, "acdfailover", "the switch id it plays");
ABSL_FLAG(std::string, ledger, "", "file the acknowledged and refused calls are written to");

namespace {

using acd::bench::AsyncCall;
using acd::bench::Die;

std::atomic<bool> stop_requested{false};

int64_t UnixNanos() { return absl::ToUnixNanos(absl::Now()); }

// One replica: its address and stubs on one channel.
struct Replica {
  std::string address;
  std::unique_ptr<acd::v1::SwitchService::Stub> switches;
  std::unique_ptr<acd::v1::AgentService::Stub> agents;
};

class Switch {
 public:
  Switch(std::vector<Replica> replicas, size_t leader, FILE* ledger)
      : replicas_(std::move(replicas)), leader_(leader), ledger_(ledger) {}

  void LogIn() {
    for (int a = 0; a < absl::GetFlag(FLAGS_agents); ++a) {
      const acd::v1::LoginRequest login =
          acd::bench::ReadyAgent(absl::StrCat("failover-", a), absl::GetFlag(FLAGS_skill));
      acd::v1::AgentInfo info;
      grpc::ClientContext context;
      grpc::Status s = Leader().agents->Login(&context, login, &info);
      if (!s.ok()) Die("Login", s);
    }
  }

  void Run() {
    std::thread commands([this] { ReadCommands(); });
    const auto interval =
        std::chrono::nanoseconds(static_cast<int64_t>(1e9 / absl::GetFlag(FLAGS_rate)));
    const auto stop =
        std::chrono::steady_clock::now() +
        std::chrono::nanoseconds(static_cast<int64_t>(absl::GetFlag(FLAGS_seconds) * 1e9));
    const std::string prefix = absl::StrCat("fo-", UnixNanos() % 1000000000, "-");
    auto next = std::chrono::steady_clock::now();
    for (uint64_t n = 0; next < stop && !stop_requested.load(); ++n) {
      std::this_thread::sleep_until(next);
      Arrive(absl::StrCat(prefix, n));
      next += interval;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));  // the last replies
    done_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stream_context_ != nullptr) stream_context_->TryCancel();
    }
    commands.join();
    std::lock_guard<std::mutex> lock(mu_);
    std::fflush(ledger_);
    std::cerr << "acdfailover: " << acked_ << " calls acknowledged, " << refused_ << " refused, "
              << answered_ << " offers answered, " << switches_ << " leader switches\n";
  }

 private:
  Replica& Leader() { return replicas_[leader_.load()]; }

  // After a refusal from replica `from`: the next calls go where it says the leader is, or to
  // the other replica.
  void LeaderRefused(size_t from, const grpc::ClientContext& context) {
    size_t to = (from + 1) % replicas_.size();
    const auto& trailers = context.GetServerTrailingMetadata();
    auto it = trailers.find(acd::daemon::kLeaderMetadata);
    if (it != trailers.end()) {
      const std::string named(it->second.data(), it->second.size());
      for (size_t i = 0; i < replicas_.size(); ++i) {
        if (replicas_[i].address == named) to = i;
      }
    }
    size_t expected = from;
    if (leader_.compare_exchange_strong(expected, to)) {
      std::lock_guard<std::mutex> lock(mu_);
      ++switches_;
    }
  }

  void Arrive(const std::string& call_id) {
    const size_t to = leader_.load();
    auto* call = new AsyncCall<acd::v1::EnqueueCallRequest, acd::v1::EnqueueCallResponse>;
    call->request.set_switch_id(absl::GetFlag(FLAGS_switch_id));
    call->request.set_call_id(call_id);
    call->request.set_queue(absl::GetFlag(FLAGS_queue));
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    const int64_t sent = UnixNanos();
    replicas_[to].switches->async()->EnqueueCall(
        &call->context, &call->request, &call->response,
        [this, call, sent, to](grpc::Status status) {
          const int64_t acked = UnixNanos();
          {
            std::lock_guard<std::mutex> lock(mu_);
            if (status.ok()) {
              ++acked_;
              std::fprintf(ledger_, "ack %s %lld %lld\n", call->request.call_id().c_str(),
                           static_cast<long long>(sent), static_cast<long long>(acked));
            } else {
              ++refused_;
              std::fprintf(ledger_, "refused %s %lld %d\n", call->request.call_id().c_str(),
                           static_cast<long long>(sent), static_cast<int>(status.error_code()));
            }
          }
          if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
              status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
            LeaderRefused(to, call->context);
          }
          delete call;
        });
  }

  // The command stream, on whichever replica leads; opened again whenever it ends.
  void ReadCommands() {
    while (!done_) {
      const size_t on = leader_.load();
      grpc::ClientContext context;
      {
        std::lock_guard<std::mutex> lock(mu_);
        stream_context_ = &context;
      }
      acd::v1::StreamCommandsRequest request;
      request.set_switch_id(absl::GetFlag(FLAGS_switch_id));
      std::unique_ptr<grpc::ClientReader<acd::v1::Command>> reader =
          replicas_[on].switches->StreamCommands(&context, request);
      acd::v1::Command command;
      while (reader->Read(&command)) {
        if (command.has_offer_call()) {
          AnswerAsAgent(command.offer_call().call_id(), command.offer_call().agent_id(),
                        command.sequence());
        }
      }
      const grpc::Status ended = reader->Finish();
      {
        std::lock_guard<std::mutex> lock(mu_);
        stream_context_ = nullptr;
      }
      if (ended.error_code() == grpc::StatusCode::UNAVAILABLE) LeaderRefused(on, context);
      if (!done_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // A step refused by a failover leaves the call (or the agent) where it was; nothing retries it.
  void AnswerAsAgent(const std::string& call_id, const std::string& agent_id, uint64_t sequence) {
    Replica& on = Leader();
    acd::bench::AnswerOffer(on.switches.get(), on.agents.get(), absl::GetFlag(FLAGS_switch_id),
                            call_id, agent_id, sequence, /*wrap_up=*/true,
                            [this](const char*, const grpc::Status& status) {
                              if (!status.ok()) return;
                              std::lock_guard<std::mutex> lock(mu_);
                              ++answered_;
                            });
  }

  std::vector<Replica> replicas_;
  std::atomic<size_t> leader_;
  FILE* const ledger_;
  std::atomic<bool> done_{false};
  std::mutex mu_;
  grpc::ClientContext* stream_context_ = nullptr;                   // guarded by mu_
  uint64_t acked_ = 0, refused_ = 0, answered_ = 0, switches_ = 0;  // guarded by mu_
};

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "A switch and its agents that follow the leader of an HA pair across failovers.\n"
      "  acdfailover --servers A,B --rate 300 --seconds 60 --ledger FILE");
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  signal(SIGTERM, [](int) { stop_requested = true; });
  absl::StatusOr<std::vector<std::string>> addresses =
      acd::daemon::SplitServers(absl::GetFlag(FLAGS_servers));
  if (!addresses.ok() || absl::GetFlag(FLAGS_ledger).empty()) {
    std::cerr << "acdfailover: --servers A,B and --ledger FILE are required\n";
    return 2;
  }
  absl::StatusOr<acd::daemon::LeaderChannel> leader = acd::daemon::OpenLeaderChannel(
      absl::GetFlag(FLAGS_servers), acd::daemon::ClientAccess{}, absl::Seconds(5));
  if (!leader.ok()) {
    std::cerr << "acdfailover: " << leader.status().message() << "\n";
    return 1;
  }
  std::vector<Replica> replicas;
  size_t leading = 0;
  for (const std::string& address : *addresses) {
    if (address == leader->address) leading = replicas.size();
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    replicas.push_back({address, acd::v1::SwitchService::NewStub(channel),
                        acd::v1::AgentService::NewStub(channel)});
  }
  FILE* ledger = std::fopen(absl::GetFlag(FLAGS_ledger).c_str(), "w");
  if (ledger == nullptr) {
    std::cerr << "acdfailover: cannot write " << absl::GetFlag(FLAGS_ledger) << "\n";
    return 1;
  }
  setvbuf(ledger, nullptr, _IOLBF, 0);  // whoever reads it as it grows sees whole lines
  Switch sw(std::move(replicas), leading, ledger);
  sw.LogIn();
  sw.Run();
  std::fclose(ledger);
  return 0;
}
