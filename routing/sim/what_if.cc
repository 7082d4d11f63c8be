#include "routing/sim/what_if.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <random>

#include "absl/strings/str_cat.h"

namespace acd::routing::sim {
namespace {

constexpr double kNever = std::numeric_limits<double>::infinity();
// How long after the span the replay goes on for the calls still in acd to finish.
constexpr double kDrainSeconds = 24 * 3600;

std::optional<double> Ratio(double numerator, double denominator) {
  if (denominator <= 0) return std::nullopt;
  return numerator / denominator;
}

}  // namespace

std::optional<double> WhatIfFigures::service_level() const {
  return Ratio(static_cast<double>(answered_within_threshold),
               static_cast<double>(answered + abandoned_after_threshold));
}
std::optional<double> WhatIfFigures::asa_seconds() const {
  return Ratio(wait_answered_seconds, static_cast<double>(answered));
}
std::optional<double> WhatIfFigures::aht_seconds() const {
  return Ratio(handle_seconds, static_cast<double>(handled));
}
std::optional<double> WhatIfFigures::abandon_rate() const {
  return Ratio(static_cast<double>(abandoned), static_cast<double>(answered + abandoned));
}
std::optional<double> WhatIfFigures::occupancy() const {
  return Ratio(handle_seconds, staffed_seconds);
}

WhatIfFigures& FiguresBook::Of(const std::string& queue) {
  WhatIfFigures& f = figures_[queue];
  f.queue = queue;
  return f;
}

void FiguresBook::Offered(const std::string& queue) { Of(queue).offered++; }

void FiguresBook::Answered(const std::string& queue, double wait) {
  WhatIfFigures& f = Of(queue);
  f.answered++;
  f.wait_answered_seconds += wait;
  f.longest_wait_seconds = std::max(f.longest_wait_seconds, wait);
  std::optional<QueueId> q = policy_->FindQueue(queue);
  const double threshold =
      q ? absl::ToDoubleSeconds(policy_->queues[*q].service_level.threshold) : 20;
  if (wait <= threshold) f.answered_within_threshold++;
}

void FiguresBook::Abandoned(const std::string& queue, double wait) {
  WhatIfFigures& f = Of(queue);
  f.abandoned++;
  f.longest_wait_seconds = std::max(f.longest_wait_seconds, wait);
  std::optional<QueueId> q = policy_->FindQueue(queue);
  const double threshold =
      q ? absl::ToDoubleSeconds(policy_->queues[*q].service_level.threshold) : 20;
  if (wait > threshold) f.abandoned_after_threshold++;
}

void FiguresBook::SentOn(const std::string& queue) { Of(queue).sent_on++; }

double FiguresBook::WrapUpOf(const std::string& queue) const {
  std::optional<QueueId> q = policy_->FindQueue(queue);
  return q ? absl::ToDoubleSeconds(policy_->queues[*q].wrap_up) : 0;
}

void FiguresBook::TalkEnded(const std::string& queue, double talk, std::optional<double> wrap_up) {
  WhatIfFigures& f = Of(queue);
  f.handled++;
  f.handle_seconds += talk + std::min(WrapUpOf(queue), wrap_up.value_or(WrapUpOf(queue)));
}

void FiguresBook::WrapUpCut(const std::string& queue, double wrap_up) {
  Of(queue).handle_seconds -= std::max(0.0, WrapUpOf(queue) - wrap_up);
}

void FiguresBook::Accrue(double t) {
  if (t <= accrued_until_) return;
  for (const auto& [queue, count] : staffed_now_) {
    if (count > 0) Of(queue).staffed_seconds += count * (t - accrued_until_);
  }
  accrued_until_ = t;
}

void FiguresBook::Staff(const std::string& agent, const std::vector<std::string>& queues,
                        double t) {
  Accrue(t);
  std::vector<std::string>& now = staffing_[agent];
  for (const std::string& queue : now) staffed_now_[queue]--;
  now = queues;
  for (const std::string& queue : now) staffed_now_[queue]++;
}

std::vector<WhatIfFigures> FiguresBook::Figures(double end) {
  Accrue(end);
  std::vector<WhatIfFigures> out;
  auto busy = [](const WhatIfFigures& f) { return f.offered + f.answered + f.abandoned > 0; };
  for (const CompiledQueue& queue : policy_->queues) {
    auto it = figures_.find(queue.name);
    if (it != figures_.end() && busy(it->second)) out.push_back(it->second);
  }
  for (const auto& [name, f] : figures_) {
    if (!policy_->FindQueue(name) && busy(f)) out.push_back(f);
  }
  return out;
}

namespace {

// The replay's discrete-event loop; see what_if.h.
class Replay {
 public:
  Replay(const Trace& trace, std::shared_ptr<const CompiledPolicy> policy, uint64_t seed)
      : trace_(trace),
        policy_(policy),
        router_(policy, trace.start),
        book_(policy),
        random_(seed),
        calls_(trace.calls.size()) {
    router_.KeepCallFacts(true);
  }

  absl::StatusOr<std::vector<WhatIfFigures>> Run();

 private:
  enum class Kind : uint8_t { kArrival, kAgent, kAnswer, kEnd, kHangUp, kEndWrapUp };
  struct Event {
    double t;
    uint64_t order;
    Kind kind;
    uint32_t index;     // the call or the agent event
    uint64_t token;     // kAnswer: the offer it answers
    std::string agent;  // kAnswer, kEndWrapUp
    bool operator>(const Event& o) const { return t != o.t ? t > o.t : order > o.order; }
  };
  struct Call {
    uint64_t offer = 0;  // offers made, to tell a stale answer
    double patience = kNever;
    double talk = 0;
    double ring = 0;
  };

  void Schedule(double t, Kind kind, uint32_t index, uint64_t token = 0, std::string agent = {}) {
    events_.push({t, order_++, kind, index, token, std::move(agent)});
  }
  absl::Time RouterNow() {
    router_now_ = std::max(router_now_, trace_.start + absl::Seconds(now_));
    return router_now_;
  }
  // The router knows trace call i as "c<i>".
  static std::string IdOf(uint32_t call) { return absl::StrCat("c", call); }
  static uint32_t IndexOf(const std::string& id) {
    return static_cast<uint32_t>(std::stoul(id.substr(1)));
  }
  // What recorded calls of each queue teach: mean ring, the talks to draw from, the patience rate.
  void Learn();
  absl::Status Handle(const Event& e);
  void AgentEvent(const TraceAgentEvent& event);
  // Acts on the router's decisions and facts until it has no more.
  void Settle();

  const Trace& trace_;
  std::shared_ptr<const CompiledPolicy> policy_;
  Router router_;
  FiguresBook book_;
  std::mt19937_64 random_;
  std::vector<Call> calls_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  uint64_t order_ = 0;
  double now_ = 0;
  absl::Time router_now_;
  std::map<std::string, double> mean_ring_;
  std::map<std::string, std::vector<double>> talks_;
  std::map<std::string, double> patience_rate_;
};

void Replay::Learn() {
  std::map<std::string, double> ring_sum, wait_sum;
  std::map<std::string, int> rings, abandons;
  for (const TraceCall& c : trace_.calls) {
    const std::string& q = c.spec.queue;
    if (c.ring_seconds) {
      ring_sum[q] += *c.ring_seconds;
      rings[q]++;
    }
    if (c.talk_seconds) talks_[q].push_back(*c.talk_seconds);
    wait_sum[q] += c.waited_seconds;
    if (c.abandoned) abandons[q]++;
  }
  for (const auto& [q, n] : rings) mean_ring_[q] = ring_sum[q] / n;
  for (const auto& [q, n] : abandons) {
    if (wait_sum[q] > 0) patience_rate_[q] = n / wait_sum[q];
  }
  for (uint32_t i = 0; i < trace_.calls.size(); ++i) {
    const TraceCall& c = trace_.calls[i];
    const std::string& q = c.spec.queue;
    Call& call = calls_[i];
    call.ring = c.ring_seconds ? *c.ring_seconds : mean_ring_[q];
    if (c.talk_seconds) {
      call.talk = *c.talk_seconds;
    } else if (!talks_[q].empty()) {
      call.talk =
          talks_[q][std::uniform_int_distribution<size_t>(0, talks_[q].size() - 1)(random_)];
    }
    if (c.abandoned) {
      call.patience = c.waited_seconds;
    } else if (auto rate = patience_rate_.find(q); rate != patience_rate_.end()) {
      // Memoryless: known to wait longer than they did, by an exponential draw beyond.
      call.patience =
          c.waited_seconds + std::exponential_distribution<double>(rate->second)(random_);
    }
  }
}

absl::StatusOr<std::vector<WhatIfFigures>> Replay::Run() {
  router_now_ = trace_.start;
  for (const TraceCall& c : trace_.calls) {
    if (!policy_->FindQueue(c.spec.queue)) {
      return absl::InvalidArgumentError(absl::StrCat("the recorded traffic has calls for queue '",
                                                     c.spec.queue, "', which the policy lacks"));
    }
  }
  Learn();
  for (uint32_t i = 0; i < trace_.calls.size(); ++i) {
    Schedule(trace_.calls[i].arrived, Kind::kArrival, i);
  }
  for (uint32_t i = 0; i < trace_.agents.size(); ++i) {
    if (trace_.agents[i].at <= trace_.seconds) Schedule(trace_.agents[i].at, Kind::kAgent, i);
  }
  const double stop = trace_.recording_ended.value_or(trace_.seconds + kDrainSeconds);
  int timer_runs = 0;
  for (;;) {
    const double next_event = events_.empty() ? kNever : events_.top().t;
    if (std::optional<absl::Time> wake = router_.NextWakeup()) {
      const double t = std::max(now_, absl::ToDoubleSeconds(*wake - trace_.start));
      if (t <= next_event && t <= stop) {
        if (++timer_runs > 1'000'000) {
          return absl::InternalError(
              absl::StrCat("the router's timer at ", absl::FormatTime(*wake), " stays due"));
        }
        now_ = t;
        router_now_ = std::max(router_now_, *wake);
        router_.AdvanceTo(RouterNow());
        Settle();
        continue;
      }
    }
    if (next_event > stop) break;
    const Event e = events_.top();
    events_.pop();
    timer_runs = 0;
    now_ = e.t;
    if (absl::Status s = Handle(e); !s.ok()) return s;
    Settle();
  }
  return book_.Figures(trace_.seconds);
}

absl::Status Replay::Handle(const Event& e) {
  const std::string id = IdOf(e.index);
  switch (e.kind) {
    case Kind::kArrival: {
      CallSpec spec = trace_.calls[e.index].spec;
      spec.call_id = id;
      book_.Offered(spec.queue);
      absl::StatusOr<EnqueueResult> entered = router_.Enqueue(spec, RouterNow());
      if (!entered.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("call ", trace_.calls[e.index].spec.call_id,
                         " cannot enter under this policy: ", entered.status().message()));
      }
      if (calls_[e.index].patience < kNever) {
        Schedule(now_ + calls_[e.index].patience, Kind::kHangUp, e.index);
      }
      return absl::OkStatus();
    }
    case Kind::kAgent:
      AgentEvent(trace_.agents[e.index]);
      return absl::OkStatus();
    case Kind::kAnswer: {
      std::optional<CallView> call = router_.FindCall(id);
      if (e.token != calls_[e.index].offer || !call || call->state != CallState::kOffered ||
          call->agent_id != e.agent) {
        return absl::OkStatus();  // the offer was withdrawn meanwhile
      }
      if (router_.OfferAccepted(id, e.agent, RouterNow()).ok()) {
        Schedule(now_ + calls_[e.index].talk, Kind::kEnd, e.index);
      }
      return absl::OkStatus();
    }
    case Kind::kEnd: {
      std::optional<CallView> call = router_.FindCall(id);
      if (!call || !router_.EndCall(id, RouterNow()).ok()) return absl::OkStatus();
      if (const std::optional<double> wrap = trace_.calls[e.index].wrap_up_seconds) {
        Schedule(now_ + *wrap, Kind::kEndWrapUp, e.index, 0, call->agent_id);
      }
      return absl::OkStatus();
    }
    case Kind::kEndWrapUp:
      (void)router_.EndWrapUp(e.agent, RouterNow());  // refused when it is over already
      return absl::OkStatus();
    case Kind::kHangUp: {
      std::optional<CallState> state = router_.CallStateOf(id);
      if (state == CallState::kWaiting || state == CallState::kOffered) {
        (void)router_.Abandon(id, RouterNow());
      }
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

void Replay::AgentEvent(const TraceAgentEvent& event) {
  // Refusals (a pause of an agent the candidate's rules already paused, say) change nothing.
  switch (event.kind) {
    case TraceAgentEvent::Kind::kLogin:
      (void)router_.Login(event.login, RouterNow());
      break;
    case TraceAgentEvent::Kind::kReady:
      (void)router_.SetReady(event.agent_id, RouterNow());
      break;
    case TraceAgentEvent::Kind::kNotReady:
      (void)router_.SetNotReady(event.agent_id, event.reason, RouterNow());
      break;
    case TraceAgentEvent::Kind::kLogout:
      (void)router_.Logout(event.agent_id, RouterNow());
      break;
  }
  std::optional<AgentView> agent = router_.FindAgent(event.agent_id);
  const bool staffing =
      agent && agent->state != AgentState::kNotReady && agent->state != AgentState::kLoggedOut;
  if (now_ <= trace_.seconds) {
    book_.Staff(event.agent_id, staffing ? agent->queues : std::vector<std::string>{}, now_);
  }
}

void Replay::Settle() {
  for (;;) {
    std::vector<Decision> decisions = router_.TakeDecisions();
    std::vector<CallFact> facts = router_.TakeCallFacts();
    if (decisions.empty() && facts.empty()) return;
    for (const Decision& d : decisions) {
      switch (d.kind) {
        case Decision::Kind::kOfferCall:
        case Decision::Kind::kStartCallback: {
          const uint32_t index = IndexOf(d.call_id);
          const uint64_t offer = ++calls_[index].offer;
          // As many offers as rang unanswered in the recording ring out here too.
          if (offer <= static_cast<uint64_t>(trace_.calls[index].missed_offers)) break;
          Schedule(now_ + calls_[index].ring, Kind::kAnswer, index, offer, d.agent_id);
          break;
        }
        case Decision::Kind::kSendToFallback:
          book_.SentOn(d.queue);
          break;
        case Decision::Kind::kCallOverflowed:
          book_.SentOn(d.from_queue);
          book_.Offered(d.queue);
          break;
        default:
          break;  // prompts, hold reminders, an agent paused by policy: nothing to act on
      }
    }
    for (const CallFact& f : facts) {
      const double seconds = absl::ToDoubleSeconds(f.duration);
      switch (f.kind) {
        case CallFact::Kind::kAnswered:
          book_.Answered(f.queue, seconds);
          break;
        case CallFact::Kind::kAbandoned:
          book_.Abandoned(f.queue, seconds);
          break;
        case CallFact::Kind::kTalkEnded:
          book_.TalkEnded(f.queue, seconds, trace_.calls[IndexOf(f.call_id)].wrap_up_seconds);
          break;
        default:
          break;
      }
    }
  }
}

}  // namespace

absl::StatusOr<std::vector<WhatIfFigures>> ReplayTrace(const Trace& trace,
                                                       std::shared_ptr<const CompiledPolicy> policy,
                                                       uint64_t seed) {
  return Replay(trace, std::move(policy), seed).Run();
}

}  // namespace acd::routing::sim
