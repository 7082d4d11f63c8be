// acdfill plays a switch whose callers pile up in a queue nobody serves, and reads acdd's own
// /metrics to say what a logged-in agent and a waiting call cost it in resident memory, and what
// one more arrival costs it in CPU as the line grows.
//   acdd --grpc_listen 127.0.0.1:50051 --http_listen 127.0.0.1:9464 &
//   acdfill --server 127.0.0.1:50051 --metrics 127.0.0.1:9464 --agents 10000 --calls 100000 --json
// The agents log in not ready, so every call waits; the command stream is drained as a connected
// switch would, so entry prompts leave acdd instead of piling up in its outbox. Run it against a
// fresh acdd: the figures are differences of acdd's process_resident_memory_bytes and
// process_cpu_seconds_total between scrapes, and whatever else acdd holds shows in them too.
#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "acd/v1/acd.grpc.pb.h"
#include "bench/async_call.h"
#include "grpcpp/grpcpp.h"
#include "tests/integration/http_get.h"  // the same plain GET the integration tests scrape with

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "acdd's gRPC HOST:PORT");
ABSL_FLAG(std::string, metrics, "127.0.0.1:9464", "acdd's HTTP HOST:PORT (its /metrics)");
ABSL_FLAG(int, agents, 10000, "agents to log in, not ready");
ABSL_FLAG(int, calls, 100000, "calls to enqueue in all");
ABSL_FLAG(std::string, steps, "5000,10000,20000,40000,100000",
          "line lengths (cumulative calls enqueued) after which to measure; --calls ends the last");
ABSL_FLAG(std::string, queue, "sales", "queue the calls wait in: one nobody else staffs");
ABSL_FLAG(std::string, skill, "sales", "skill the agents log in with (proficiency 5)");
ABSL_FLAG(std::string, switch_id, "acdfill", "the switch id acdfill plays");
ABSL_FLAG(int, in_flight, 64, "unary calls in flight at once");
ABSL_FLAG(double, settle_seconds, 1.5, "pause before each scrape so that memory figures settle");
ABSL_FLAG(double, max_step_seconds, 600,
          "a step still enqueuing after this long stops there; the report says how far it got");
ABSL_FLAG(bool, json, false, "print one JSON object instead of a report");

namespace {

using Clock = std::chrono::steady_clock;
using acd::bench::AsyncCall;
using acd::bench::Die;

// The body of GET http://`address``path` when it answers 200, or nullopt.
std::optional<std::string> HttpGetBody(const std::string& address, const std::string& path) {
  std::optional<acd::testing::HttpResponse> response = acd::testing::HttpGet(address, path);
  if (!response || response->status != 200) return std::nullopt;
  return response->body;
}

// The value of one series in a Prometheus text exposition, `series` written as it appears there:
// `process_resident_memory_bytes` or `acd_queue_calls_waiting{queue="sales"}`.
std::optional<double> SeriesValue(absl::string_view text, absl::string_view series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, series) || !absl::ConsumePrefix(&line, " ")) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(0, line.find(' ')), &value)) return value;
  }
  return std::nullopt;
}

// What acdd says about itself at one moment.
struct Scrape {
  double rss_bytes = 0;
  double cpu_seconds = 0;
  double calls_waiting = 0;  // in --queue
};

Scrape ScrapeAcdd() {
  const std::string address = absl::GetFlag(FLAGS_metrics);
  std::optional<std::string> text = HttpGetBody(address, "/metrics");
  if (!text) {
    std::cerr << "acdfill: cannot scrape http://" << address << "/metrics\n";
    std::exit(1);
  }
  std::optional<double> rss = SeriesValue(*text, "process_resident_memory_bytes");
  std::optional<double> cpu = SeriesValue(*text, "process_cpu_seconds_total");
  if (!rss || !cpu) {
    std::cerr << "acdfill: acdd's /metrics lacks process_resident_memory_bytes or "
                 "process_cpu_seconds_total\n";
    std::exit(1);
  }
  const std::string waiting =
      absl::StrCat("acd_queue_calls_waiting{queue=\"", absl::GetFlag(FLAGS_queue), "\"}");
  return Scrape{*rss, *cpu, SeriesValue(*text, waiting).value_or(0)};
}

Scrape SettleAndScrape() {
  std::this_thread::sleep_for(
      std::chrono::duration<double>(absl::GetFlag(FLAGS_settle_seconds)));
  return ScrapeAcdd();
}

// Keeps at most `limit` unary calls in flight on the callback API: Acquire before starting one,
// Release from its completion.
class InFlight {
 public:
  explicit InFlight(int limit) : limit_(limit) {}
  void Acquire() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](InFlight* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
          return self->count_ < self->limit_;
        },
        this));
    ++count_;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    --count_;
  }
  // Waits until every call started has completed.
  void Drain() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](InFlight* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) { return self->count_ == 0; },
        this));
  }

 private:
  const int limit_;
  absl::Mutex mu_;
  int count_ ABSL_GUARDED_BY(mu_) = 0;
};

struct Step {
  int line = 0;            // calls enqueued in all when the step was planned to end
  int enqueued = 0;        // calls sent in all when it did end (short of line: out of time)
  double seconds = 0;      // from its first enqueue to its last answer (or deadline)
  double cpu_us_per_enqueue = 0;
  double rss_bytes = 0;
  double calls_waiting = 0;  // acdd's own count for the queue, from the same scrape
};

class Fill {
 public:
  explicit Fill(std::shared_ptr<grpc::Channel> channel)
      : switches_(acd::v1::SwitchService::NewStub(channel)),
        agents_(acd::v1::AgentService::NewStub(channel)),
        in_flight_(absl::GetFlag(FLAGS_in_flight)),
        run_(absl::StrCat(std::chrono::system_clock::now().time_since_epoch().count() %
                          1000000000)) {}

  void Run(const std::vector<int>& lines) {
    stream_thread_ = std::thread([this] { DrainCommands(); });
    start_ = ScrapeAcdd();
    LogInAgents();
    after_agents_ = SettleAndScrape();
    Scrape before = after_agents_;
    int enqueued = 0;
    for (int line : lines) {
      Step step{.line = line};
      const auto started = Clock::now();
      // The calls still unanswered at the step's deadline are given up with it.
      const auto deadline =
          std::chrono::system_clock::now() +
          std::chrono::duration_cast<std::chrono::system_clock::duration>(
              std::chrono::duration<double>(absl::GetFlag(FLAGS_max_step_seconds)));
      const int first = enqueued;
      while (enqueued < line && std::chrono::system_clock::now() < deadline) {
        Enqueue(enqueued++, deadline);
      }
      in_flight_.Drain();
      step.seconds = std::chrono::duration<double>(Clock::now() - started).count();
      step.enqueued = enqueued;
      const Scrape after = SettleAndScrape();
      step.rss_bytes = after.rss_bytes;
      step.calls_waiting = after.calls_waiting;
      if (enqueued > first) {
        step.cpu_us_per_enqueue = (after.cpu_seconds - before.cpu_seconds) * 1e6 / (enqueued - first);
      }
      steps_.push_back(step);
      before = after;
      if (enqueued < line) break;  // out of time: the longer lines would not be reached either
    }
    StopDraining();
    stream_thread_.join();
  }

  void Report() const {
    const int agents = absl::GetFlag(FLAGS_agents);
    const double bytes_per_agent = (after_agents_.rss_bytes - start_.rss_bytes) / agents;
    const int calls = steps_.empty() ? 0 : steps_.back().enqueued;
    // Per call acdd answered as waiting: with every call in, that is --calls.
    const int queued = queued_.load();
    const double bytes_per_waiting_call =
        queued > 0 ? (steps_.back().rss_bytes - after_agents_.rss_bytes) / queued : 0;
    if (absl::GetFlag(FLAGS_json)) {
      std::vector<std::string> steps;
      for (const Step& s : steps_) {
        steps.push_back(absl::StrFormat(
            "{\"line\":%d,\"enqueued\":%d,\"calls_waiting\":%.0f,\"seconds\":%.1f,"
            "\"cpu_us_per_enqueue\":%.1f,\"rss_bytes\":%.0f}",
            s.line, s.enqueued, s.calls_waiting, s.seconds, s.cpu_us_per_enqueue, s.rss_bytes));
      }
      std::cout << absl::StrFormat(
          "{\"agents\":%d,\"calls\":%d,\"rss_bytes_start\":%.0f,\"rss_bytes_after_agents\":%.0f,"
          "\"bytes_per_agent\":%.0f,\"steps\":[%s],\"bytes_per_waiting_call\":%.0f,"
          "\"queued\":%d,\"offered\":%d,\"sent_to_fallback\":%d,\"unanswered\":%d,"
          "\"errors\":%d,\"commands\":%d,\"stream_reconnects\":%d}\n",
          agents, calls, start_.rss_bytes, after_agents_.rss_bytes, bytes_per_agent,
          absl::StrJoin(steps, ","), bytes_per_waiting_call, queued, offered_.load(),
          sent_to_fallback_.load(), unanswered_.load(), errors_.load(), commands_.load(),
          reconnects_.load());
      return;
    }
    std::cout << absl::StrFormat(
        "acdfill against %s (metrics %s): %d agents not ready, calls into queue %s\n"
        "  resident memory  start %.1f MiB, after the agents %.1f MiB: %.0f bytes per agent\n",
        absl::GetFlag(FLAGS_server), absl::GetFlag(FLAGS_metrics), agents,
        absl::GetFlag(FLAGS_queue), start_.rss_bytes / 1048576, after_agents_.rss_bytes / 1048576,
        bytes_per_agent);
    for (const Step& s : steps_) {
      std::cout << absl::StrFormat(
          "  line %6d%s: %7.1f us CPU per enqueue, resident %.1f MiB, %.0f waiting, %.1f s\n",
          s.line, s.enqueued < s.line ? absl::StrCat(" (stopped at ", s.enqueued, ")") : "",
          s.cpu_us_per_enqueue, s.rss_bytes / 1048576, s.calls_waiting, s.seconds);
    }
    std::cout << absl::StrFormat(
        "  %.0f bytes per waiting call (%d sent: %d queued, %d offered, %d sent to fallback, "
        "%d unanswered by the step's deadline, %d errors); %d commands drained, %d stream "
        "reconnects\n",
        bytes_per_waiting_call, calls, queued, offered_.load(), sent_to_fallback_.load(),
        unanswered_.load(), errors_.load(), commands_.load(), reconnects_.load());
  }

 private:
  void LogInAgents() {
    for (int a = 0; a < absl::GetFlag(FLAGS_agents); ++a) {
      in_flight_.Acquire();
      auto* login = new AsyncCall<acd::v1::LoginRequest, acd::v1::AgentInfo>;
      login->request.set_agent_id(absl::StrCat("fill-", run_, "-", a));
      auto* skill = login->request.add_skills();
      skill->set_skill(absl::GetFlag(FLAGS_skill));
      skill->set_proficiency(5);
      login->request.set_ready(false);  // away: the calls wait
      agents_->async()->Login(&login->context, &login->request, &login->response,
                              [this, login](grpc::Status status) {
                                if (!status.ok()) Die("Login", status);
                                delete login;
                                in_flight_.Release();
                              });
    }
    in_flight_.Drain();
  }

  void Enqueue(int n, std::chrono::system_clock::time_point deadline) {
    in_flight_.Acquire();
    auto* call = new AsyncCall<acd::v1::EnqueueCallRequest, acd::v1::EnqueueCallResponse>;
    call->context.set_deadline(deadline);
    call->request.set_switch_id(absl::GetFlag(FLAGS_switch_id));
    call->request.set_call_id(absl::StrCat("fill-", run_, "-", n));
    call->request.set_queue(absl::GetFlag(FLAGS_queue));
    switches_->async()->EnqueueCall(
        &call->context, &call->request, &call->response, [this, call](grpc::Status status) {
          using Response = acd::v1::EnqueueCallResponse;
          if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
            unanswered_++;  // acdd may still enqueue it later
          } else if (!status.ok()) {
            if (errors_++ < 5) std::cerr << "acdfill: EnqueueCall: " << status.error_message() << "\n";
          } else if (call->response.disposition() == Response::DISPOSITION_QUEUED) {
            queued_++;
          } else if (call->response.disposition() == Response::DISPOSITION_OFFERED) {
            offered_++;  // somebody staffs --queue: the line is not what acdfill means to measure
          } else {
            sent_to_fallback_++;
          }
          delete call;
          in_flight_.Release();
        });
  }

  // Reads and drops what acdd commands this switch (prompts, mostly), as a switch would, and
  // reconnects as one would when acdd closes the stream (it closes it on a switch that falls
  // behind, keeping the commands in the outbox for the reconnect) until StopDraining.
  void DrainCommands() {
    acd::v1::StreamCommandsRequest request;
    request.set_switch_id(absl::GetFlag(FLAGS_switch_id));
    acd::v1::Command command;
    while (true) {
      grpc::ClientContext context;
      {
        absl::MutexLock lock(&stream_mu_);
        if (stopping_) return;
        stream_context_ = &context;
      }
      std::unique_ptr<grpc::ClientReader<acd::v1::Command>> reader =
          switches_->StreamCommands(&context, request);
      while (reader->Read(&command)) commands_++;
      const grpc::Status status = reader->Finish();
      absl::MutexLock lock(&stream_mu_);
      stream_context_ = nullptr;
      if (stopping_) return;
      if (reconnects_++ < 3) {
        std::cerr << "acdfill: command stream closed (" << status.error_message()
                  << "); reconnecting\n";
      }
      // A stream refused at once would otherwise spin.
      stream_mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(100));
    }
  }
  void StopDraining() {
    absl::MutexLock lock(&stream_mu_);
    stopping_ = true;
    if (stream_context_ != nullptr) stream_context_->TryCancel();
  }

  std::unique_ptr<acd::v1::SwitchService::Stub> switches_;
  std::unique_ptr<acd::v1::AgentService::Stub> agents_;
  InFlight in_flight_;
  const std::string run_;  // keeps ids apart from an earlier run against the same acdd
  std::thread stream_thread_;
  absl::Mutex stream_mu_;
  grpc::ClientContext* stream_context_ ABSL_GUARDED_BY(stream_mu_) = nullptr;  // the open stream's
  bool stopping_ ABSL_GUARDED_BY(stream_mu_) = false;
  std::atomic<int> queued_{0}, offered_{0}, sent_to_fallback_{0}, unanswered_{0}, errors_{0},
      commands_{0}, reconnects_{0};
  Scrape start_, after_agents_;
  std::vector<Step> steps_;
};

// The line lengths to measure at: the --steps below --calls, then --calls itself.
std::vector<int> LinesToMeasure() {
  const int calls = absl::GetFlag(FLAGS_calls);
  std::vector<int> lines;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_steps), ',', absl::SkipEmpty())) {
    int line = 0;
    if (!absl::SimpleAtoi(s, &line) || line < 1 || (!lines.empty() && line <= lines.back())) {
      std::cerr << "acdfill: --steps must be increasing positive line lengths\n";
      std::exit(2);
    }
    if (line < calls) lines.push_back(line);
  }
  lines.push_back(calls);
  return lines;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Fills a queue nobody serves and reads acdd's /metrics: memory per agent and per waiting\n"
      "call, CPU per enqueue as the line grows.\n"
      "  acdfill --server HOST:PORT --metrics HOST:PORT [--agents 10000] [--calls 100000] [--json]");
  absl::ParseCommandLine(argc, argv);
  // As in acdload: deadlock detection on every absl::Mutex costs CPU on each RPC.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (absl::GetFlag(FLAGS_agents) < 1 || absl::GetFlag(FLAGS_calls) < 1 ||
      absl::GetFlag(FLAGS_in_flight) < 1) {
    std::cerr << "acdfill: --agents, --calls and --in_flight must be positive\n";
    return 2;
  }
  const std::vector<int> lines = LinesToMeasure();
  auto channel = grpc::CreateChannel(absl::GetFlag(FLAGS_server), grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
    std::cerr << "acdfill: cannot reach acdd at " << absl::GetFlag(FLAGS_server) << "\n";
    return 1;
  }
  Fill fill(channel);
  fill.Run(lines);
  fill.Report();
  return 0;
}
