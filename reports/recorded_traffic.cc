#include "reports/recorded_traffic.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "daemon/api_convert.h"
#include "daemon/core.h"

namespace acd::reports {
namespace {

using daemon::HistoryEvent;
using routing::sim::FiguresBook;
using routing::sim::TraceAgentEvent;
using routing::sim::TraceCall;

// Listens to the replayed history and its inputs, and writes the trace and the recorded figures.
class TrafficRecorder : public daemon::HistorySink {
 public:
  explicit TrafficRecorder(HistoryRange range, RecordedTraffic* out) : range_(range), out_(out) {}

  void Record(const HistoryEvent& e) override;
  // Before the first record (no input), and after each one.
  void BetweenRecords(const daemon::Core& core, const daemon::JournalInput* input);
  // The recorded figures, staffing counted to the span's end.
  void Finish(absl::Time history_to);

 private:
  double SecondsOf(absl::Time t) const { return std::max(0.0, absl::ToDoubleSeconds(t - from_)); }
  bool InSpan(absl::Time t) const { return t >= from_ && t < range_.to; }
  void Agent(TraceAgentEvent::Kind kind, const HistoryEvent& e);
  void FindAgents(const daemon::Core& core);

  const HistoryRange range_;
  RecordedTraffic* const out_;
  absl::Time from_;
  std::optional<FiguresBook> book_;
  absl::flat_hash_map<std::string, size_t> calls_;  // in-span calls still in acd -> trace index
  absl::flat_hash_map<std::string, absl::Time> ringing_since_;
  std::vector<std::pair<std::string, size_t>> logins_to_fill_;  // agent -> its trace event
  const routing::CompiledPolicy* policy_seen_ = nullptr;
  absl::flat_hash_set<std::string> found_;  // agents found at the start, told again next
  // Each agent's last talk that ended, for a wrap-up cut short after it.
  struct Talk {
    size_t call;  // in the trace
    absl::Time ended;
    std::string queue;
  };
  absl::flat_hash_map<std::string, Talk> last_talk_;
};

// The agents logged in when the history starts, as their logins said, paused as they are.
void TrafficRecorder::FindAgents(const daemon::Core& core) {
  acd::v1::ListAgentsResponse agents;
  if (!core.ListAgents({}, &agents).ok()) return;
  for (const acd::v1::AgentInfo& agent : agents.agents()) {
    std::optional<acd::v1::LoginRequest> login = core.LoginOf(agent.agent_id());
    if (!login) continue;
    absl::StatusOr<routing::AgentSpec> spec = daemon::AgentSpecOf(*login);
    if (!spec.ok()) continue;
    spec->ready = true;
    found_.insert(agent.agent_id());
    const std::vector<std::string> queues(agent.queues().begin(), agent.queues().end());
    const bool paused = agent.state() == acd::v1::AGENT_STATE_NOT_READY;
    out_->trace.agents.push_back({.kind = TraceAgentEvent::Kind::kLogin,
                                  .login = *std::move(spec),
                                  .agent_id = agent.agent_id()});
    if (paused) {
      out_->trace.agents.push_back({.kind = TraceAgentEvent::Kind::kNotReady,
                                    .agent_id = agent.agent_id(),
                                    .reason = agent.not_ready_reason()});
    }
    book_->Staff(agent.agent_id(), paused ? std::vector<std::string>{} : queues, 0);
  }
}

void TrafficRecorder::Agent(TraceAgentEvent::Kind kind, const HistoryEvent& e) {
  if (e.at >= range_.to) return;
  out_->trace.agents.push_back(
      {.at = SecondsOf(e.at), .kind = kind, .agent_id = e.agent_id, .reason = e.reason});
  const bool staffing = kind == TraceAgentEvent::Kind::kReady ||
                        (kind == TraceAgentEvent::Kind::kLogin && e.reason.empty());
  book_->Staff(e.agent_id, staffing ? e.queues : std::vector<std::string>{}, SecondsOf(e.at));
}

void TrafficRecorder::Record(const HistoryEvent& e) {
  switch (e.kind) {
    case HistoryEvent::kLoggedIn:
      if (found_.erase(e.agent_id) > 0) return;  // taken from the state at the start
      Agent(TraceAgentEvent::Kind::kLogin, e);
      if (e.at >= range_.to) return;
      logins_to_fill_.emplace_back(e.agent_id, out_->trace.agents.size() - 1);
      // It logs in ready in the replay, then pauses as it was (not ready at login, or found so).
      if (!e.reason.empty()) Agent(TraceAgentEvent::Kind::kNotReady, e);
      return;
    case HistoryEvent::kReady:
      Agent(TraceAgentEvent::Kind::kReady, e);
      return;
    case HistoryEvent::kNotReady:
      Agent(TraceAgentEvent::Kind::kNotReady, e);
      return;
    case HistoryEvent::kLoggedOut:
      Agent(TraceAgentEvent::Kind::kLogout, e);
      return;
    case HistoryEvent::kEntered:
      if (!InSpan(e.at)) return;
      calls_[e.call_id] = out_->trace.calls.size();
      out_->trace.calls.push_back({.arrived = SecondsOf(e.at)});
      book_->Offered(e.queue);
      return;
    default:
      break;
  }
  auto it = calls_.find(e.call_id);
  if (it == calls_.end()) return;  // not a call of the span
  TraceCall& call = out_->trace.calls[it->second];
  const double seconds = absl::ToDoubleSeconds(e.duration);
  switch (e.kind) {
    case HistoryEvent::kOffered:
      ringing_since_[e.call_id] = e.at;
      return;
    case HistoryEvent::kOfferEnded:
      if (!call.ring_seconds && e.reason != "abandoned") call.missed_offers++;
      return;
    case HistoryEvent::kConnected: {
      if (!call.ring_seconds) {
        auto rang = ringing_since_.find(e.call_id);
        call.ring_seconds =
            rang == ringing_since_.end() ? 0.0 : absl::ToDoubleSeconds(e.at - rang->second);
      }
      call.waited_seconds += seconds;
      book_->Answered(e.queue, seconds);
      return;
    }
    case HistoryEvent::kAbandoned:
      call.waited_seconds += seconds;
      call.abandoned = true;
      book_->Abandoned(e.queue, seconds);
      return;
    case HistoryEvent::kTalkEnded:
      call.talk_seconds = call.talk_seconds.value_or(0) + seconds;
      book_->TalkEnded(e.queue, seconds);
      last_talk_[e.agent_id] = {it->second, e.at, e.queue};
      return;
    case HistoryEvent::kOverflowed:
      book_->SentOn(e.other);
      book_->Offered(e.queue);
      return;
    case HistoryEvent::kSentToFallback:
    case HistoryEvent::kCallbackAccepted:
      book_->SentOn(e.queue);
      return;
    case HistoryEvent::kLeft:
      ringing_since_.erase(e.call_id);
      calls_.erase(it);
      return;
    default:
      return;
  }
}

void TrafficRecorder::BetweenRecords(const daemon::Core& core, const daemon::JournalInput* input) {
  if (input == nullptr) {
    // The start: the span begins here when it was asked to begin earlier (or not at all).
    from_ = std::max(range_.from, core.router().now());
    out_->trace.start = from_;
  }
  const routing::CompiledPolicy& policy = core.router().policy();
  if (&policy != policy_seen_) {
    if (policy_seen_ != nullptr && core.router().now() < range_.to) out_->policy_changes++;
    policy_seen_ = &policy;
    if (out_->policy == nullptr) {
      acd::v1::PolicyInfo info;
      (void)core.GetPolicy(&info);
      absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> compiled =
          routing::CompilePolicy(info.policy());
      if (compiled.ok()) out_->policy = *compiled;
      out_->policy_source = info.source();
      book_.emplace(out_->policy);
    }
  }
  if (input == nullptr) FindAgents(core);
  if (input != nullptr && input->has_set_agent_state() &&
      input->set_agent_state().has_end_wrap_up()) {
    // The agent cut the wrap-up after its last call short.
    if (auto last = last_talk_.find(input->set_agent_state().agent_id());
        last != last_talk_.end()) {
      TraceCall& call = out_->trace.calls[last->second.call];
      if (!call.wrap_up_seconds) {
        call.wrap_up_seconds = absl::ToDoubleSeconds(daemon::TimeOf(*input) - last->second.ended);
        book_->WrapUpCut(last->second.queue, *call.wrap_up_seconds);
      }
      last_talk_.erase(last);
    }
  }
  // The events this record made that need its input, or the state after it.
  if (input != nullptr && input->has_enqueue_call()) {
    if (auto it = calls_.find(input->enqueue_call().call_id()); it != calls_.end()) {
      out_->trace.calls[it->second].spec = daemon::CallSpecOf(input->enqueue_call());
    }
  }
  for (const auto& [agent_id, index] : logins_to_fill_) {
    std::optional<acd::v1::LoginRequest> login = core.LoginOf(agent_id);
    if (!login) continue;
    absl::StatusOr<routing::AgentSpec> spec = daemon::AgentSpecOf(*login);
    if (!spec.ok()) continue;
    spec->ready = true;  // a pause follows when it was not
    out_->trace.agents[index].login = *std::move(spec);
  }
  logins_to_fill_.clear();
}

void TrafficRecorder::Finish(absl::Time history_to) {
  const absl::Time to = std::min(range_.to, std::max(history_to, from_));
  out_->trace.seconds = absl::ToDoubleSeconds(to - from_);
  if (!calls_.empty()) out_->trace.recording_ended = SecondsOf(history_to);
  // Calls found already in acd have no spec: they are not part of the span's traffic.
  out_->recorded = book_->Figures(out_->trace.seconds);
}

}  // namespace

absl::StatusOr<RecordedTraffic> RecordTraffic(const std::string& data_dir, HistoryRange range) {
  RecordedTraffic out;
  TrafficRecorder recorder(range, &out);
  absl::StatusOr<HistoryReplayed> replayed = ReplayHistory(
      data_dir, range, &recorder, [&](const daemon::Core& core, const daemon::JournalInput* input) {
        recorder.BetweenRecords(core, input);
      });
  if (!replayed.ok()) return replayed.status();
  if (out.policy == nullptr) {
    return absl::DataLossError("the policy in force at the span's start does not compile");
  }
  out.replayed = *replayed;
  recorder.Finish(replayed->history_to);
  return out;
}

}  // namespace acd::reports
