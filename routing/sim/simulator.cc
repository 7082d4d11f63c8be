// The discrete-event loop of acdsim; see simulator.h.
//
// Events (arrivals, hang-ups, call ends, shift starts and ends) sit in one time-ordered heap; the
// router's own timers (wrap-up ends, escalation, prompts) run through NextWakeup()/AdvanceTo()
// whenever they come before the next event. Agents accept every offer at once and talk for a
// sampled handle time; the router ends wrap-up by its own timer.
#include "routing/sim/simulator.h"

#include <charconv>
#include <cmath>
#include <deque>
#include <limits>
#include <queue>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "routing/policy_text.h"
#include "routing/router.h"
#include "routing/sim/oracle.h"
#include "routing/wait_estimator.h"

namespace acd::routing::sim {
namespace {

constexpr double kNever = std::numeric_limits<double>::infinity();

absl::Time Origin() { return absl::FromUnixSeconds(1'800'000'000); }
absl::Time At(double t) { return Origin() + absl::Seconds(t); }
double SecondsOf(absl::Time time) { return absl::ToDoubleSeconds(time - Origin()); }

// The part of [from, to) that lies inside [lo, hi).
double Overlap(double from, double to, double lo, double hi) {
  return std::max(0.0, std::min(to, hi) - std::max(from, lo));
}

uint32_t IdNumber(absl::string_view id) {  // "c123" / "a45" -> 123 / 45
  uint32_t n = 0;
  std::from_chars(id.data() + 1, id.data() + id.size(), n);
  return n;
}

// The next arrival after `t` of a Poisson stream whose rate is piecewise constant: sample within
// the current step; past its end, start again at the boundary (the exponential is memoryless).
double NextArrival(const Traffic& traffic, double t, std::mt19937_64& random) {
  bool any = false;
  for (const RateStep& s : traffic.rates) any |= s.per_hour > 0;
  if (!any) return kNever;
  for (;;) {
    double period_start = 0, phase = t;
    if (traffic.repeat_seconds > 0) {
      period_start = std::floor(t / traffic.repeat_seconds) * traffic.repeat_seconds;
      phase = t - period_start;
    }
    size_t i = 0;
    while (i + 1 < traffic.rates.size() && traffic.rates[i + 1].from_seconds <= phase) ++i;
    double step_end = kNever;
    if (i + 1 < traffic.rates.size()) {
      step_end = period_start + traffic.rates[i + 1].from_seconds;
    } else if (traffic.repeat_seconds > 0) {
      step_end = period_start + traffic.repeat_seconds;
    }
    if (step_end <= t) step_end = std::nextafter(t, kNever);
    const double rate = traffic.rates[i].per_hour / 3600;
    if (rate > 0) {
      const double next = t + std::exponential_distribution<double>(rate)(random);
      if (next < step_end) return next;
    }
    if (step_end == kNever) return kNever;
    t = step_end;
  }
}

enum class EventKind : uint8_t { kArrival, kHangUp, kCallEnd, kShiftStart, kShiftEnd };

struct Event {
  double t;
  uint64_t order;   // ties go in the order scheduled
  EventKind kind;
  uint32_t index;   // traffic, caller slot or agent
  uint64_t caller;  // the caller's sequence number (a slot is reused after a caller is done)
  bool operator>(const Event& o) const { return t != o.t ? t > o.t : order > o.order; }
};

struct Caller {
  enum class State : uint8_t { kWaiting, kConnected, kDone };
  uint64_t seq = 0;
  State state = State::kDone;
  QueueId queue = 0;
  uint32_t traffic = 0;
  uint32_t agent = 0;
  bool measured = false;     // arrived after the warm-up
  bool predicted = false;    // was queued, so the estimators were asked
  double arrived = 0;
  double connected = 0;
  std::array<double, kEstimatorCount> prediction{};
};

struct Agent {
  std::string id;
  uint32_t group = 0;
  size_t shift = 0;           // the current or next shift
  bool logged_in = false;
  bool busy = false;
  bool logout_due = false;    // the shift ended during a call
  double logged_in_at = 0;
  uint32_t caller = 0;  // the caller slot of the call, while busy
  double free_at = 0;   // when the wrap-up after the last call ends
  std::vector<QueueId> queues;
};

struct QueueState {
  bool has_traffic = false;
  std::deque<std::pair<uint32_t, uint64_t>> line;  // (slot, seq) in arrival order, lazily pruned
  std::optional<double> last_served_wait;
  double holdtime = 0;  // Asterisk's moving average, from 0 as Asterisk starts
  int waiting = 0;      // callers in the line now
  int staffed = 0;      // agents on shift serving the queue, not going off it
  QueueWaitEstimator estimator;
  // Measured figures.
  uint64_t offered = 0, answered = 0, abandoned = 0, fallback = 0, waited = 0, within_sl = 0;
  uint64_t handled = 0;
  double wait_sum = 0, waiter_wait_sum = 0, handle_sum = 0, busy_seconds = 0, staffed_seconds = 0;
  std::array<double, kEstimatorCount> squared_error{}, error{};
};

class Simulation {
 public:
  Simulation(const Scenario& scenario, std::shared_ptr<const CompiledPolicy> policy, uint64_t seed,
             double hours, int oracle_runs)
      : scenario_(scenario),
        policy_(std::move(policy)),
        router_(policy_, At(0)),
        random_(seed),
        oracle_random_(seed ^ 0x6f7261636c65),
        oracle_runs_(oracle_runs),
        warmup_(scenario.warmup_hours * 3600),
        end_(warmup_ + hours * 3600),
        queues_(policy_->queues.size()) {}

  absl::StatusOr<SimReport> Run();

 private:
  void Schedule(double t, EventKind kind, uint32_t index, uint64_t caller = 0) {
    if (t <= end_) events_.push({t, next_order_++, kind, index, caller});
  }
  absl::Status Handle(const Event& e);
  absl::Status Arrive(uint32_t traffic);
  absl::Status HangUp(uint32_t slot);
  absl::Status EndCall(uint32_t slot);
  absl::Status StartShift(uint32_t agent);
  absl::Status EndShift(uint32_t agent);
  absl::Status LogOut(uint32_t agent);
  // Acts on everything the router decided (offers are accepted on the spot, which may decide more).
  absl::Status Decide();
  void Connect(uint32_t slot, uint32_t agent);
  std::optional<double> HeadOfLineWait(QueueId q);
  // OracleWait for the caller in `slot`, who just joined the line.
  std::optional<double> Oracle(uint32_t slot);
  OracleCaller OracleCallerOf(const Caller& c) const;
  void AddBusy(QueueId q, double from, double to) {
    queues_[q].busy_seconds += Overlap(from, to, warmup_, end_);
  }
  // Now for the router: never earlier than a time it has already been given.
  absl::Time RouterNow() {
    router_now_ = std::max(router_now_, At(now_));
    return router_now_;
  }
  absl::Status Check(const absl::Status& status, absl::string_view what) {
    ++router_events_;
    if (status.ok()) return status;
    return absl::InternalError(absl::StrCat("t=", now_, "s: router refused ", what, ": ",
                                            status.message()));
  }

  const Scenario& scenario_;
  std::shared_ptr<const CompiledPolicy> policy_;
  Router router_;
  std::mt19937_64 random_;
  std::mt19937_64 oracle_random_;  // apart, so that the oracle never changes the simulation
  const int oracle_runs_;
  const double warmup_, end_;
  double now_ = 0;
  absl::Time router_now_ = At(0);
  uint64_t router_events_ = 0;

  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  uint64_t next_order_ = 0;
  std::vector<Caller> callers_;
  std::vector<uint32_t> free_callers_;
  uint64_t next_caller_seq_ = 1;
  std::vector<Agent> agents_;
  std::vector<QueueId> traffic_queue_;
  std::vector<QueueState> queues_;
};

absl::StatusOr<SimReport> Simulation::Run() {
  for (uint32_t i = 0; i < scenario_.traffic.size(); ++i) {
    const Traffic& t = scenario_.traffic[i];
    std::optional<QueueId> q = policy_->FindQueue(t.queue);
    if (!q) {
      return absl::InvalidArgumentError(absl::StrCat("traffic[", i, "].queue: '", t.queue,
                                                     "' is not a queue of the policy"));
    }
    traffic_queue_.push_back(*q);
    queues_[*q].has_traffic = true;
    Schedule(NextArrival(t, 0, random_), EventKind::kArrival, i);
  }
  for (uint32_t g = 0; g < scenario_.agents.size(); ++g) {
    const AgentGroup& group = scenario_.agents[g];
    for (int k = 0; k < group.count; ++k) {
      const uint32_t index = static_cast<uint32_t>(agents_.size());
      agents_.push_back({.id = absl::StrCat("a", index), .group = g});
      Schedule(group.shifts.empty() ? 0 : group.shifts[0].first, EventKind::kShiftStart, index);
    }
  }

  // Router timer runs since the last event: a router whose timer stays due would spin forever.
  int timer_runs = 0;
  for (;;) {
    const double next_event = events_.empty() ? kNever : events_.top().t;
    if (std::optional<absl::Time> wake = router_.NextWakeup()) {
      const double t = std::max(now_, SecondsOf(*wake));
      if (t <= next_event && t <= end_) {
        if (++timer_runs > 1'000'000) {
          return absl::InternalError(absl::StrCat("t=", now_, "s: the router's timer at ",
                                                  absl::FormatTime(*wake), " stays due"));
        }
        now_ = t;
        // The router's own time, not a round trip through double seconds, which can land a
        // fraction of a nanosecond early and leave the timer due forever.
        router_now_ = std::max(router_now_, *wake);
        router_.AdvanceTo(RouterNow());
        if (absl::Status s = Decide(); !s.ok()) return s;
        continue;
      }
    }
    if (next_event > end_) break;
    const Event e = events_.top();
    events_.pop();
    timer_runs = 0;
    now_ = e.t;
    if (absl::Status s = Handle(e); !s.ok()) return s;
  }

  // Close the books at the end: time on shift and calls still in progress count up to it.
  for (const Agent& a : agents_) {
    if (!a.logged_in) continue;
    for (QueueId q : a.queues) queues_[q].staffed_seconds += Overlap(a.logged_in_at, end_, warmup_, end_);
  }
  for (const Caller& c : callers_) {
    if (c.state == Caller::State::kConnected) AddBusy(c.queue, c.connected, end_);
  }

  SimReport report;
  report.scenario = scenario_.name;
  report.warmup_hours = scenario_.warmup_hours;
  report.hours = (end_ - warmup_) / 3600;
  report.router_events = router_events_;
  report.oracle_runs = oracle_runs_;
  for (const CompiledQueue& cq : policy_->queues) {
    const QueueState& s = queues_[cq.id];
    if (!s.has_traffic) continue;
    QueueReport r;
    r.name = cq.name;
    r.service_level_threshold_seconds = absl::ToDoubleSeconds(cq.service_level.threshold);
    r.offered = s.offered;
    r.answered = s.answered;
    r.abandoned = s.abandoned;
    r.fallback = s.fallback;
    r.waited = s.waited;
    const double finished = static_cast<double>(s.answered + s.abandoned + s.fallback);
    auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
    r.service_level = ratio(s.within_sl, finished);
    r.abandon_rate = ratio(s.abandoned, finished);
    r.waited_ratio = ratio(s.waited, s.answered);
    r.asa_seconds = ratio(s.wait_sum, s.answered);
    r.aht_seconds = ratio(s.handle_sum, s.handled);
    r.occupancy = ratio(s.busy_seconds, s.staffed_seconds);
    r.mean_wait_of_waiters_seconds = ratio(s.waiter_wait_sum, s.waited);
    for (int e = 0; e < kEstimatorCount; ++e) {
      r.ewt_rel_rmse[e] =
          ratio(std::sqrt(ratio(s.squared_error[e], s.waited)), r.mean_wait_of_waiters_seconds);
      r.ewt_mean_error_seconds[e] = ratio(s.error[e], s.waited);
      r.ewt_rel_bias[e] = ratio(r.ewt_mean_error_seconds[e], r.mean_wait_of_waiters_seconds);
    }
    report.queues.push_back(std::move(r));
  }
  return report;
}

absl::Status Simulation::Handle(const Event& e) {
  switch (e.kind) {
    case EventKind::kArrival:
      return Arrive(e.index);
    case EventKind::kHangUp:
      if (callers_[e.index].seq != e.caller) return absl::OkStatus();
      return HangUp(e.index);
    case EventKind::kCallEnd:
      return EndCall(e.index);
    case EventKind::kShiftStart:
      return StartShift(e.index);
    case EventKind::kShiftEnd:
      return EndShift(e.index);
  }
  return absl::OkStatus();
}

std::optional<double> Simulation::HeadOfLineWait(QueueId q) {
  auto& line = queues_[q].line;
  while (!line.empty()) {
    const Caller& c = callers_[line.front().first];
    if (c.seq == line.front().second && c.state == Caller::State::kWaiting) {
      return now_ - c.arrived;
    }
    line.pop_front();
  }
  return std::nullopt;
}

OracleCaller Simulation::OracleCallerOf(const Caller& c) const {
  const Traffic& t = scenario_.traffic[c.traffic];
  const CompiledQueue& queue = policy_->queues[c.queue];
  auto language = policy_->language_bits.find(t.language);
  return {.queue = c.queue,
          .language = language == policy_->language_bits.end() ? -1 : language->second,
          .priority = static_cast<double>(queue.priority + t.priority),
          .aging = queue.aging_per_second,
          .waited = now_ - c.arrived,
          .order = c.seq,
          .patience = t.patience ? &*t.patience : nullptr,
          .talk = &t.handle_time,
          .wrap_up = absl::ToDoubleSeconds(queue.wrap_up)};
}

std::optional<double> Simulation::Oracle(uint32_t slot) {
  OracleInput input;
  for (const Agent& a : agents_) {
    if (!a.logged_in || a.logout_due) continue;
    OracleAgent& agent = input.agents.emplace_back();
    agent.queues = a.queues;
    for (const std::string& code : scenario_.agents[a.group].languages) {
      if (auto bit = policy_->language_bits.find(code); bit != policy_->language_bits.end()) {
        agent.languages |= uint64_t{1} << bit->second;
      }
    }
    if (a.busy) {
      const Caller& on_call = callers_[a.caller];
      agent.talk = &scenario_.traffic[on_call.traffic].handle_time;
      agent.talk_so_far = now_ - on_call.connected;
      agent.wrap_up_after = absl::ToDoubleSeconds(policy_->queues[on_call.queue].wrap_up);
    } else {
      agent.free_in = std::max(0.0, a.free_at - now_);
    }
  }
  for (const QueueState& qs : queues_) {
    for (const auto& [other, seq] : qs.line) {
      const Caller& c = callers_[other];
      if (other == slot || c.seq != seq || c.state != Caller::State::kWaiting) continue;
      input.ahead.push_back(OracleCallerOf(c));
    }
  }
  input.caller = OracleCallerOf(callers_[slot]);
  return OracleWait(input, oracle_runs_, oracle_random_);
}

absl::Status Simulation::Arrive(uint32_t traffic) {
  const Traffic& t = scenario_.traffic[traffic];
  Schedule(NextArrival(t, now_, random_), EventKind::kArrival, traffic);

  uint32_t slot;
  if (!free_callers_.empty()) {
    slot = free_callers_.back();
    free_callers_.pop_back();
  } else {
    slot = static_cast<uint32_t>(callers_.size());
    callers_.emplace_back();
  }
  const QueueId q = traffic_queue_[traffic];
  QueueState& qs = queues_[q];
  Caller& c = callers_[slot];
  c = Caller{.seq = next_caller_seq_++, .state = Caller::State::kWaiting, .queue = q,
             .traffic = traffic, .measured = now_ >= warmup_, .arrived = now_};
  if (c.measured) ++qs.offered;
  // The baselines at the arrival instant, before this caller joins.
  const std::optional<double> head = HeadOfLineWait(q);
  c.prediction[static_cast<int>(Estimator::kHeadOfLine)] = head.value_or(0);
  c.prediction[static_cast<int>(Estimator::kLastToEnter)] = qs.last_served_wait.value_or(0);
  c.prediction[static_cast<int>(Estimator::kMovingAverage)] = qs.holdtime;
  std::optional<absl::Duration> reference = qs.estimator.Estimate(
      {.ahead = qs.waiting, .servers = qs.staffed, .wrap_up = policy_->queues[q].wrap_up,
       .head_wait = head ? std::optional(absl::Seconds(*head)) : std::nullopt},
      RouterNow());
  c.prediction[static_cast<int>(Estimator::kQlmReference)] =
      reference ? absl::ToDoubleSeconds(*reference) : 0;

  const std::string id = absl::StrCat("c", slot);
  absl::StatusOr<EnqueueResult> result =
      router_.Enqueue({.call_id = id, .queue = policy_->queues[q].name,
                       .required_skills = t.required_skills, .priority = t.priority,
                       .language = t.language},
                      RouterNow());
  if (absl::Status s = Check(result.status(), absl::StrCat("Enqueue ", id)); !s.ok()) return s;
  switch (result->disposition) {
    case EnqueueResult::Disposition::kQueued:
      c.predicted = true;
      c.prediction[static_cast<int>(Estimator::kAcd)] =
          result->expected_wait ? absl::ToDoubleSeconds(*result->expected_wait) : 0;
      qs.line.emplace_back(slot, c.seq);
      ++qs.waiting;
      if (oracle_runs_ > 0) {
        c.prediction[static_cast<int>(Estimator::kOracle)] = Oracle(slot).value_or(0);
      }
      if (t.patience) {
        Schedule(now_ + Sample(*t.patience, random_), EventKind::kHangUp, slot, c.seq);
      }
      break;
    case EnqueueResult::Disposition::kOffered:
      break;
    case EnqueueResult::Disposition::kSentToFallback:
      break;  // Decide() sees kSendToFallback
  }
  return Decide();
}

void Simulation::Connect(uint32_t slot, uint32_t agent) {
  Caller& c = callers_[slot];
  QueueState& qs = queues_[c.queue];
  const double wait = now_ - c.arrived;
  if (c.predicted) --qs.waiting;
  qs.estimator.Served(absl::Seconds(wait), RouterNow());
  c.state = Caller::State::kConnected;
  c.agent = agent;
  c.connected = now_;
  agents_[agent].busy = true;
  agents_[agent].caller = slot;
  if (c.measured) {
    ++qs.answered;
    qs.wait_sum += wait;
    if (wait <= absl::ToDoubleSeconds(policy_->queues[c.queue].service_level.threshold)) {
      ++qs.within_sl;
    }
    if (wait > 0) {
      ++qs.waited;
      qs.waiter_wait_sum += wait;
      for (int e = 0; e < kEstimatorCount; ++e) {
        const double err = (c.predicted ? c.prediction[e] : 0) - wait;
        qs.squared_error[e] += err * err;
        qs.error[e] += err;
      }
    }
  }
  qs.last_served_wait = wait;
  qs.holdtime = (3 * qs.holdtime + wait) / 4;
  const double talk = Sample(scenario_.traffic[c.traffic].handle_time, random_);
  Schedule(now_ + talk, EventKind::kCallEnd, slot, c.seq);
}

absl::Status Simulation::Decide() {
  for (;;) {
    std::vector<Decision> decisions = router_.TakeDecisions();
    if (decisions.empty()) return absl::OkStatus();
    for (const Decision& d : decisions) {
      switch (d.kind) {
        case Decision::Kind::kOfferCall: {
          if (absl::Status s = Check(router_.OfferAccepted(d.call_id, d.agent_id, RouterNow()),
                                     absl::StrCat("OfferAccepted ", d.call_id));
              !s.ok()) {
            return s;
          }
          Connect(IdNumber(d.call_id), IdNumber(d.agent_id));
          break;
        }
        case Decision::Kind::kSendToFallback: {
          const uint32_t slot = IdNumber(d.call_id);
          Caller& c = callers_[slot];
          if (c.measured) ++queues_[c.queue].fallback;
          if (c.predicted) --queues_[c.queue].waiting;
          c.state = Caller::State::kDone;
          free_callers_.push_back(slot);
          break;
        }
        default:
          break;  // prompts, reminders and the rest ask nothing of the callers here
      }
    }
  }
}

absl::Status Simulation::HangUp(uint32_t slot) {
  Caller& c = callers_[slot];
  if (c.state != Caller::State::kWaiting) return absl::OkStatus();
  if (absl::Status s = Check(router_.Abandon(absl::StrCat("c", slot), RouterNow()), "Abandon");
      !s.ok()) {
    return s;
  }
  if (c.measured) ++queues_[c.queue].abandoned;
  --queues_[c.queue].waiting;
  queues_[c.queue].estimator.Abandoned(absl::Seconds(now_ - c.arrived), RouterNow());
  c.state = Caller::State::kDone;
  free_callers_.push_back(slot);
  return Decide();
}

absl::Status Simulation::EndCall(uint32_t slot) {
  Caller& c = callers_[slot];
  const double wrap_up = absl::ToDoubleSeconds(policy_->queues[c.queue].wrap_up);
  if (absl::Status s = Check(router_.EndCall(absl::StrCat("c", slot), RouterNow()), "EndCall");
      !s.ok()) {
    return s;
  }
  QueueState& qs = queues_[c.queue];
  qs.estimator.HandleEnded(absl::Seconds(now_ - c.connected), RouterNow());
  AddBusy(c.queue, c.connected, std::min(now_ + wrap_up, end_));
  if (c.measured) {
    ++qs.handled;
    qs.handle_sum += now_ - c.connected + wrap_up;
  }
  Agent& a = agents_[c.agent];
  a.busy = false;
  a.free_at = now_ + wrap_up;
  c.state = Caller::State::kDone;
  free_callers_.push_back(slot);
  if (a.logout_due) {
    if (absl::Status s = LogOut(c.agent); !s.ok()) return s;
  }
  return Decide();
}

absl::Status Simulation::StartShift(uint32_t index) {
  Agent& a = agents_[index];
  const AgentGroup& g = scenario_.agents[a.group];
  if (absl::Status s = Check(router_.Login({.agent_id = a.id, .skills = g.skills,
                                            .languages = g.languages, .ready = true},
                                           RouterNow()),
                             absl::StrCat("Login ", a.id, " (agents group '", g.name, "')"));
      !s.ok()) {
    return s;
  }
  a.logged_in = true;
  a.logged_in_at = now_;
  a.queues.clear();
  if (std::optional<AgentView> view = router_.FindAgent(a.id)) {
    for (const std::string& name : view->queues) {
      if (std::optional<QueueId> q = policy_->FindQueue(name)) a.queues.push_back(*q);
    }
  }
  for (QueueId q : a.queues) ++queues_[q].staffed;
  if (!g.shifts.empty()) Schedule(g.shifts[a.shift].second, EventKind::kShiftEnd, index);
  return Decide();
}

absl::Status Simulation::EndShift(uint32_t index) {
  Agent& a = agents_[index];
  if (!a.busy) return LogOut(index);
  // Finish the call first; no new offers meanwhile.
  a.logout_due = true;
  for (QueueId q : a.queues) --queues_[q].staffed;
  return Check(router_.SetNotReady(a.id, "shift_end", RouterNow()), "SetNotReady");
}

absl::Status Simulation::LogOut(uint32_t index) {
  Agent& a = agents_[index];
  if (absl::Status s = Check(router_.Logout(a.id, RouterNow()), absl::StrCat("Logout ", a.id));
      !s.ok()) {
    return s;
  }
  for (QueueId q : a.queues) {
    queues_[q].staffed_seconds += Overlap(a.logged_in_at, now_, warmup_, end_);
    if (!a.logout_due) --queues_[q].staffed;
  }
  a.logged_in = false;
  a.logout_due = false;
  const AgentGroup& g = scenario_.agents[a.group];
  if (++a.shift < g.shifts.size()) Schedule(g.shifts[a.shift].first, EventKind::kShiftStart, index);
  return Decide();
}

}  // namespace

absl::StatusOr<SimReport> Simulate(const Scenario& scenario, const SimOptions& options) {
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> policy =
      CompilePolicyText(scenario.policy_text, scenario.policy_name);
  if (!policy.ok()) return policy.status();
  const uint64_t seed = options.seed.value_or(scenario.seed);
  Simulation sim(scenario, *std::move(policy), seed, options.hours.value_or(scenario.hours),
                 options.oracle_runs);
  absl::StatusOr<SimReport> report = sim.Run();
  if (report.ok()) report->seed = seed;
  return report;
}

}  // namespace acd::routing::sim
