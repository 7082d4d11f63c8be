// routing_bench measures single routing decisions inside the engine, at the two scales of
// DESIGN.md, and reports per-decision latency percentiles as counters p50_us and p99_us:
//   call arrives -> agent chosen  (BM_CallArrives_{small,large})
//   agent frees  -> call chosen   (BM_AgentFrees_{small,large})
//   call arrives -> joins a line of 100,000 nobody has been served from
//   (BM_CallArrives_unserved_100k) call arrives -> joins a line where agents serve several queues
//   (BM_CallJoinsLine_nested)
// small: 1,000 agents / 50 queues / 20 skills / 1,000 waiting calls;
// large: 10,000 agents / 200 queues / 50 skills / 10,000 waiting calls.
// The center is busy: every agent is on a call and the waiting calls spread over the queues,
// 10% of them needing Spanish, which only a fifth of the agents speak. Each timed operation is the
// router's whole handling of the event (validation, queue upkeep, the choice, the offer); the
// work that keeps the center in that state between samples is not timed.
// The unserved line is one queue just opened, or whose agents are all away: 100,000 callers wait,
// nobody is ready and no call there has ever been answered or ended, so each arrival's entry
// prompt (position, expected wait) has only the line itself to go by.
#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "routing/compiled_policy.h"
#include "routing/router.h"

namespace acd::routing {
namespace {

struct Scale {
  int agents;
  int queues;
  int skills;
  int waiting;
};
constexpr Scale kSmall{1000, 50, 20, 1000};
constexpr Scale kLarge{10000, 200, 50, 10000};
// Queues at the end of the list served only by spare agents who stay ready: arrivals there find
// an agent at once while the busy queues keep their waiting calls.
constexpr int kSpareQueues = 5;
constexpr int kSpareAgents = 50;
constexpr int kSkillsPerAgent = 5;

std::shared_ptr<const CompiledPolicy> BenchPolicy(const Scale& scale) {
  acd::v1::Policy p;
  p.set_name("routing_bench");
  p.set_random_seed(1);
  p.add_languages("en");
  p.add_languages("es");
  for (int s = 0; s < scale.skills + 1; ++s) p.add_skills()->set_name(absl::StrCat("skill", s));
  const acd::v1::Strategy strategies[] = {
      acd::v1::STRATEGY_LONGEST_IDLE, acd::v1::STRATEGY_MOST_PROFICIENT,
      acd::v1::STRATEGY_FEWEST_CALLS, acd::v1::STRATEGY_ROUND_ROBIN, acd::v1::STRATEGY_RANDOM};
  for (int q = 0; q < scale.queues; ++q) {
    acd::v1::Queue* queue = p.add_queues();
    queue->set_name(absl::StrCat("queue", q));
    const bool spare = q >= scale.queues - kSpareQueues;
    auto* need = queue->add_skills();
    need->set_skill(absl::StrCat("skill", spare ? scale.skills : q % scale.skills));
    need->set_min_proficiency(1 + q % 3);
    queue->set_strategy(strategies[q % 5]);
    queue->set_priority(q % 4 * 10);
    queue->set_aging_per_second(1 + q % 3);
    auto* step = queue->add_escalation();
    step->set_after_seconds(600);
    step->mutable_raise_priority()->set_by(50);
  }
  p.mutable_agent_rules()->set_max_missed_offers(0);
  auto policy = CompilePolicy(p);
  if (!policy.ok()) std::abort();
  return *policy;
}

// A busy center and the means to keep it busy between samples.
class Center {
 public:
  explicit Center(const Scale& scale)
      : scale_(scale), router_(BenchPolicy(scale), absl::UnixEpoch()), random_(12345) {
    for (int a = 0; a < scale.agents; ++a) {
      AgentSpec spec{.agent_id = absl::StrCat("agent", a), .languages = {"en"}};
      if (a % 5 == 0) spec.languages.push_back("es");
      std::vector<int> skills(scale.skills);
      for (int s = 0; s < scale.skills; ++s) skills[s] = s;
      std::shuffle(skills.begin(), skills.end(), random_);
      for (int k = 0; k < kSkillsPerAgent; ++k) {
        spec.skills.push_back({absl::StrCat("skill", skills[k]), 1 + static_cast<int>(random_() % 5)});
      }
      Check(router_.Login(spec, Now()));
    }
    // Every agent gets a call of its own and accepts it: nobody is left ready.
    for (int a = 0; a < scale.agents; ++a) {
      const std::string agent = absl::StrCat("agent", a);
      const std::vector<std::string> queues = router_.FindAgent(agent)->queues;
      if (queues.empty()) continue;  // qualifies for no queue: stays idle, never chosen
      Check(router_.SetReady(agent, Now()));
      if (router_.FindAgent(agent)->state == AgentState::kReserved) {
        AcceptOffers();
        continue;
      }
      Enqueue(queues[random_() % queues.size()], "en");
      AcceptOffers();
    }
    for (const auto& [agent, call] : on_call_) busy_agents_.push_back(agent);
    std::sort(busy_agents_.begin(), busy_agents_.end());
    for (int i = 0; i < kSpareAgents; ++i) {
      AgentSpec spec{.agent_id = absl::StrCat("spare", i),
                     .skills = {{absl::StrCat("skill", scale.skills), 3}},
                     .languages = {"en"},
                     .ready = true};
      Check(router_.Login(spec, Now()));
    }
    while (router_.calls_waiting() < static_cast<size_t>(scale.waiting)) EnqueueBusy();
    AcceptOffers();
  }

  Router& router() { return router_; }
  absl::Time Now() {
    now_ += absl::Milliseconds(1);
    return now_;
  }

  void Enqueue(const std::string& queue, const char* language) {
    CallSpec call{.call_id = absl::StrCat("call", next_call_++), .queue = queue,
                  .language = language};
    Check(router_.Enqueue(call, Now()).status());
  }
  // A new call for one of the busy queues, 10% of them in Spanish.
  void EnqueueBusy() {
    const int q = static_cast<int>(random_() % (scale_.queues - kSpareQueues));
    Enqueue(absl::StrCat("queue", q), random_() % 10 == 0 ? "es" : "en");
  }
  std::string SpareQueue() {
    return absl::StrCat("queue", scale_.queues - kSpareQueues + random_() % kSpareQueues);
  }
  // Accepts every outstanding offer; remembers which call each agent is on.
  void AcceptOffers() {
    for (const Decision& d : router_.TakeDecisions()) {
      if (d.kind != Decision::Kind::kOfferCall) continue;
      Check(router_.OfferAccepted(d.call_id, d.agent_id, Now()));
      on_call_[d.agent_id] = d.call_id;
    }
  }
  std::string RandomBusyAgent() { return busy_agents_[random_() % busy_agents_.size()]; }
  const std::string& CallOf(const std::string& agent) { return on_call_[agent]; }

  static void Check(const absl::Status& s) {
    if (!s.ok()) {
      std::fprintf(stderr, "routing_bench: %s\n", std::string(s.message()).c_str());
      std::abort();
    }
  }

 private:
  Scale scale_;
  Router router_;
  std::mt19937_64 random_;
  absl::Time now_ = absl::UnixEpoch();
  uint64_t next_call_ = 0;
  std::vector<std::string> busy_agents_;
  absl::flat_hash_map<std::string, std::string> on_call_;
};

using Clock = std::chrono::steady_clock;

void ReportPercentiles(benchmark::State& state, std::vector<double>& nanos) {
  if (nanos.empty()) return;
  std::sort(nanos.begin(), nanos.end());
  auto at = [&](double q) { return nanos[std::min(nanos.size() - 1, size_t(q * nanos.size()))] / 1000; };
  state.counters["p50_us"] = at(0.50);
  state.counters["p99_us"] = at(0.99);
  state.counters["p999_us"] = at(0.999);
  state.counters["max_us"] = nanos.back() / 1000;
}

// Runs `decision` once, timed: the sample goes to `nanos` and to the benchmark's manual time.
template <typename Decision>
auto TimeDecision(benchmark::State& state, std::vector<double>& nanos, Decision decision) {
  const auto start = Clock::now();
  auto result = decision();
  const auto stop = Clock::now();
  const double ns = std::chrono::duration<double, std::nano>(stop - start).count();
  state.SetIterationTime(ns / 1e9);
  nanos.push_back(ns);
  return result;
}

// Times callers who join a line: each sample is one arrival's Router::Enqueue into the queue
// `queue_for()` names, which must leave it waiting and pass `joined`; then, untimed, the caller
// hangs up, which leaves the very same lines for the next sample.
template <typename NextEvent, typename QueueFor, typename Joined>
void TimeCallersJoiningALine(benchmark::State& state, Router& router, NextEvent next_event,
                             QueueFor queue_for, Joined joined, const char* failure) {
  std::vector<double> nanos;
  nanos.reserve(state.max_iterations);
  uint64_t n = 0;
  for (auto _ : state) {
    CallSpec call{.call_id = absl::StrCat("arrival", n++), .queue = queue_for()};
    const absl::Time arrival = next_event();
    absl::StatusOr<EnqueueResult> result =
        TimeDecision(state, nanos, [&] { return router.Enqueue(call, arrival); });
    if (!result.ok() || result->disposition != EnqueueResult::Disposition::kQueued ||
        !joined(*result)) {
      state.SkipWithError(failure);
      break;
    }
    router.TakeDecisions();
    Center::Check(router.Abandon(call.call_id, next_event()));
    router.TakeDecisions();
  }
  state.counters["calls_waiting"] = router.calls_waiting();
  ReportPercentiles(state, nanos);
}

void CallArrives(benchmark::State& state, const Scale& scale) {
  Center center(scale);
  Router& router = center.router();
  std::vector<double> nanos;
  nanos.reserve(1 << 20);
  uint64_t n = 0;
  for (auto _ : state) {
    CallSpec call{.call_id = absl::StrCat("arrival", n++), .queue = center.SpareQueue(),
                  .language = "en"};
    const absl::Time now = center.Now();
    absl::StatusOr<EnqueueResult> result =
        TimeDecision(state, nanos, [&] { return router.Enqueue(call, now); });
    if (!result.ok() || result->disposition != EnqueueResult::Disposition::kOffered) {
      state.SkipWithError("the arriving call found no agent");
      break;
    }
    // Untimed: the caller hangs up while ringing, so the spare agent is free again.
    router.TakeDecisions();
    Center::Check(router.Abandon(call.call_id, center.Now()));
    router.TakeDecisions();
  }
  state.counters["calls_waiting"] = router.calls_waiting();
  ReportPercentiles(state, nanos);
}

void AgentFrees(benchmark::State& state, const Scale& scale) {
  Center center(scale);
  Router& router = center.router();
  std::vector<double> nanos;
  nanos.reserve(1 << 20);
  int64_t chose = 0;
  for (auto _ : state) {
    const std::string agent = center.RandomBusyAgent();
    const std::string call = center.CallOf(agent);
    const absl::Time now = center.Now();
    // Ending the call frees the agent, who takes the best call of all its queues.
    absl::Status ended = TimeDecision(state, nanos, [&] { return router.EndCall(call, now); });
    Center::Check(ended);
    // Untimed: the agent accepts, and a new caller replaces the one just served.
    const bool offered = router.FindAgent(agent)->state == AgentState::kReserved;
    chose += offered;
    center.AcceptOffers();
    if (offered) {
      center.EnqueueBusy();  // keeps the number of waiting calls where it was
    } else {
      center.Enqueue(router.FindAgent(agent)->queues.front(), "en");  // keeps the agent busy
    }
    center.AcceptOffers();
  }
  state.counters["calls_waiting"] = router.calls_waiting();
  state.counters["chose_a_call"] = static_cast<double>(chose) / std::max<int64_t>(1, state.iterations());
  ReportPercentiles(state, nanos);
}

// A queue with a line of kUnservedLine callers that nobody has been served from (see the top).
constexpr int kUnservedLine = 100000;
constexpr int kAwayAgents = 10;  // logged in for the queue, all not ready
// Simulated time between two events. The whole run (the line's build-up, then two events per
// sample) stays inside the queue's first update interval (45 s by default), so no update prompt
// falls due inside a timed arrival: each sample is the arrival and its entry prompt alone.
constexpr absl::Duration kUnservedEventSpacing = absl::Microseconds(100);

std::shared_ptr<const CompiledPolicy> UnservedLinePolicy() {
  acd::v1::Policy p;
  p.set_name("routing_bench_unserved");
  p.add_skills()->set_name("sales");
  acd::v1::Queue* queue = p.add_queues();
  queue->set_name("sales");
  auto* need = queue->add_skills();
  need->set_skill("sales");
  need->set_min_proficiency(1);
  // The line plus the arrival being timed.
  p.mutable_limits()->set_max_calls_waiting(kUnservedLine + 1);
  auto policy = CompilePolicy(p);
  if (!policy.ok()) std::abort();
  return *policy;
}

void CallArrivesUnserved(benchmark::State& state) {
  absl::Time now = absl::UnixEpoch();
  auto next_event = [&] { return now += kUnservedEventSpacing; };
  Router router(UnservedLinePolicy(), now);
  for (int a = 0; a < kAwayAgents; ++a) {
    Center::Check(router.Login({.agent_id = absl::StrCat("away", a), .skills = {{"sales", 3}}},
                               next_event()));
  }
  for (int c = 0; c < kUnservedLine; ++c) {
    CallSpec call{.call_id = absl::StrCat("waiting", c), .queue = "sales"};
    Center::Check(router.Enqueue(call, next_event()).status());
    router.TakeDecisions();
  }
  TimeCallersJoiningALine(
      state, router, next_event, [] { return "sales"; },
      [](const EnqueueResult& r) { return r.position == kUnservedLine + 1; },
      "the arriving call did not join the back of the line");
}

// A multi-skill center where wait estimates count the other queues' callers (FluidWait): 300
// agents with nested skills (100 take general calls only, 100 general and billing, 100 all three),
// all on calls, and kNestedWaiting callers spread over the three lines. Every agent has ended calls
// of each queue it serves, so handle times are learned. Each sample is one caller joining a line:
// the arrival, its place and its expected wait for the entry prompt, plus whatever prompts fall due
// meanwhile (each with the expected wait of its caller).
constexpr int kNestedGroupSize = 100;
constexpr int kNestedWaiting = 300;
constexpr const char* kNestedQueues[] = {"general", "billing", "retention"};

std::shared_ptr<const CompiledPolicy> NestedPolicy() {
  acd::v1::Policy p;
  p.set_name("routing_bench_nested");
  for (const char* name : kNestedQueues) {
    p.add_skills()->set_name(name);
    acd::v1::Queue* queue = p.add_queues();
    queue->set_name(name);
    auto* need = queue->add_skills();
    need->set_skill(name);
    need->set_min_proficiency(1);
  }
  p.mutable_agent_rules()->set_max_missed_offers(0);
  auto policy = CompilePolicy(p);
  if (!policy.ok()) std::abort();
  return *policy;
}

void CallJoinsNestedLine(benchmark::State& state) {
  absl::Time now = absl::UnixEpoch();
  auto next_event = [&] { return now += absl::Milliseconds(1); };
  Router router(NestedPolicy(), now);
  std::mt19937_64 random(7);
  for (int g = 0; g < 3; ++g) {
    for (int a = 0; a < kNestedGroupSize; ++a) {
      AgentSpec spec{.agent_id = absl::StrCat("agent", g, "_", a), .ready = true};
      for (int q = 0; q <= g; ++q) spec.skills.push_back({kNestedQueues[q], 3});
      Center::Check(router.Login(spec, next_event()));
    }
  }
  uint64_t n = 0;
  auto enqueue = [&](const char* queue) {
    CallSpec call{.call_id = absl::StrCat("call", n++), .queue = queue};
    Center::Check(router.Enqueue(call, next_event()).status());
  };
  // Calls of every queue, answered and ended, until each queue has learned its handle time; then
  // every agent on a call and the lines filled.
  absl::flat_hash_map<std::string, std::string> on_call;
  auto accept = [&] {
    for (const Decision& d : router.TakeDecisions()) {
      if (d.kind != Decision::Kind::kOfferCall) continue;
      Center::Check(router.OfferAccepted(d.call_id, d.agent_id, next_event()));
      on_call[d.agent_id] = d.call_id;
    }
  };
  for (int round = 0; round < 3; ++round) {
    for (int c = 0; c < 3 * kNestedGroupSize; ++c) enqueue(kNestedQueues[2 - c % 3]);
    accept();
    now += absl::Seconds(240);
    for (auto& [agent, call] : on_call) Center::Check(router.EndCall(call, next_event()));
    on_call.clear();
    accept();
  }
  while (router.calls_waiting() < static_cast<size_t>(kNestedWaiting)) {
    enqueue(kNestedQueues[random() % 3]);
    accept();
  }
  TimeCallersJoiningALine(
      state, router, next_event, [&] { return kNestedQueues[random() % 3]; },
      [](const EnqueueResult& r) { return r.expected_wait.has_value(); },
      "the arriving call did not join a line with an expected wait");
}

BENCHMARK_CAPTURE(CallArrives, small, kSmall)->Name("BM_CallArrives_small")->UseManualTime()->Iterations(200000);
BENCHMARK_CAPTURE(AgentFrees, small, kSmall)->Name("BM_AgentFrees_small")->UseManualTime()->Iterations(200000);
BENCHMARK_CAPTURE(CallArrives, large, kLarge)->Name("BM_CallArrives_large")->UseManualTime()->Iterations(200000);
BENCHMARK_CAPTURE(AgentFrees, large, kLarge)->Name("BM_AgentFrees_large")->UseManualTime()->Iterations(200000);
// A fixed count: building the line of 100,000 is most of the run. (Before arrivals and prompts cost
// O(log n), each arrival here walked the whole line: ~730 us at p50.)
BENCHMARK(CallArrivesUnserved)->Name("BM_CallArrives_unserved_100k")->UseManualTime()->Iterations(2000);
BENCHMARK(CallJoinsNestedLine)
    ->Name("BM_CallJoinsLine_nested")
    ->UseManualTime()
    ->Iterations(200000);

}  // namespace
}  // namespace acd::routing

BENCHMARK_MAIN();
