#include "daemon/engine.h"

#include <cmath>
#include <cstdio>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "asio/post.hpp"
#include "daemon/grpc_status.h"
#include "daemon/text_diff.h"
#include "google/protobuf/util/message_differencer.h"
#include "routing/policy_text.h"
#include "routing/policy_validator.h"
#include "routing/policy_yaml.h"

namespace acd::daemon {
namespace {

using acd::v1::CallState;
using routing::Decision;

constexpr size_t kMaxHistory = 100;
constexpr absl::Duration kSweepEvery = absl::Seconds(5);

acd::v1::AgentState AgentStateToProto(routing::AgentState state) {
  switch (state) {
    case routing::AgentState::kLoggedOut: return acd::v1::AGENT_STATE_LOGGED_OUT;
    case routing::AgentState::kReady: return acd::v1::AGENT_STATE_READY;
    case routing::AgentState::kNotReady: return acd::v1::AGENT_STATE_NOT_READY;
    case routing::AgentState::kReserved: return acd::v1::AGENT_STATE_RESERVED;
    case routing::AgentState::kBusy: return acd::v1::AGENT_STATE_BUSY;
    case routing::AgentState::kWrapUp: return acd::v1::AGENT_STATE_WRAP_UP;
  }
  return acd::v1::AGENT_STATE_UNSPECIFIED;
}

CallState CallStateToProto(routing::CallState state) {
  switch (state) {
    case routing::CallState::kWaiting: return acd::v1::CALL_STATE_WAITING;
    case routing::CallState::kOffered: return acd::v1::CALL_STATE_OFFERED;
    case routing::CallState::kConnected: return acd::v1::CALL_STATE_CONNECTED;
    case routing::CallState::kCallbackPending: return acd::v1::CALL_STATE_CALLBACK_PENDING;
  }
  return acd::v1::CALL_STATE_UNSPECIFIED;
}

acd::v1::PlayPrompt::Kind PromptKindToProto(Decision::PromptKind kind) {
  switch (kind) {
    case Decision::PromptKind::kNone: break;
    case Decision::PromptKind::kEntry: return acd::v1::PlayPrompt::KIND_ENTRY;
    case Decision::PromptKind::kUpdate: return acd::v1::PlayPrompt::KIND_UPDATE;
    case Decision::PromptKind::kHoldReminder: return acd::v1::PlayPrompt::KIND_HOLD_REMINDER;
    case Decision::PromptKind::kCallbackOffer: return acd::v1::PlayPrompt::KIND_CALLBACK_OFFER;
  }
  return acd::v1::PlayPrompt::KIND_UNSPECIFIED;
}

// The call an offer-like command (an offer, or a callback's start) reserves an agent for.
const std::string* ReservingCallId(const acd::v1::Command& command) {
  if (command.has_offer_call()) return &command.offer_call().call_id();
  if (command.has_start_callback()) return &command.start_callback().call_id();
  return nullptr;
}


void Log(const std::string& line) { std::fprintf(stderr, "acdd: %s\n", line.c_str()); }

}  // namespace

absl::string_view PromptKindName(Decision::PromptKind kind) {
  switch (kind) {
    case Decision::PromptKind::kNone: return "none";
    case Decision::PromptKind::kEntry: return "entry";
    case Decision::PromptKind::kUpdate: return "update";
    case Decision::PromptKind::kHoldReminder: return "hold_reminder";
    case Decision::PromptKind::kCallbackOffer: return "callback_offer";
  }
  return "none";
}

Engine::Engine(std::shared_ptr<const routing::CompiledPolicy> policy, std::string policy_source,
               EngineOptions options)
    : work_(asio::make_work_guard(io_)),
      steady_start_(std::chrono::steady_clock::now()),
      wall_start_(absl::Now()),
      options_(options),
      router_(std::move(policy), wall_start_),
      policy_source_(std::move(policy_source)),
      policy_applied_at_(wall_start_),
      wakeup_(io_),
      sweep_(io_),
      figures_timer_(io_) {
  metrics_.SetQueues(router_.policy());
}

Engine::~Engine() { Stop(); }

void Engine::Start() {
  thread_ = std::thread([this] { io_.run(); });
  Post([this] {
    SweepEndedCalls();
    RefreshFigures();
  });
}

void Engine::Stop() {
  if (!thread_.joinable()) return;
  Post([this] {
    stopping_ = true;  // handlers already queued must not re-arm
    wakeup_.cancel();
    sweep_.cancel();
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

// The engine's clock: wall time at start plus steady time since, so it never jumps backwards.
absl::Time Engine::Now() const {
  return wall_start_ + absl::FromChrono(std::chrono::steady_clock::now() - steady_start_);
}

std::chrono::steady_clock::time_point Engine::ToSteady(absl::Time t) const {
  return steady_start_ + absl::ToChronoNanoseconds(t - wall_start_);
}

google::protobuf::Timestamp Engine::ToProto(absl::Time t) const {
  google::protobuf::Timestamp out;
  const int64_t nanos = absl::ToUnixNanos(t);
  out.set_seconds(nanos / 1'000'000'000);
  out.set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decisions, commands, timers.

void Engine::AfterEvent() {
  for (const Decision& d : router_.TakeDecisions()) Dispatch(d);
  RearmWakeup();
}

void Engine::RearmWakeup() {
  if (stopping_) return;
  std::optional<absl::Time> next = router_.NextWakeup();
  if (next == armed_for_) return;
  armed_for_ = next;
  wakeup_.cancel();
  if (!next) return;
  wakeup_.expires_at(ToSteady(*next));
  wakeup_.async_wait([this](const asio::error_code& error) {
    if (error || stopping_) return;  // cancelled: re-armed for another time, or stopping
    armed_for_.reset();
    const auto started = std::chrono::steady_clock::now();
    router_.AdvanceTo(Now());
    metrics_.routing_decision_seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    metrics_.engine_events.Add(1);
    AfterEvent();
  });
}

// ---------------------------------------------------------------------------------------------
// Metrics and the wallboard's figures.

metrics::QueueSeries* Engine::SeriesOf(const std::string& queue) {
  std::optional<routing::QueueId> id = router_.policy().FindQueue(queue);
  return id ? metrics_.queue(*id) : nullptr;
}

// A call reached an agent: an answer for its queue (a callback was counted when accepted), and
// the end of the previous agent's part if this completes a warm transfer.
void Engine::ObserveConnected(CallRecord& record, const std::optional<routing::CallView>& before,
                              absl::Time now) {
  if (!before) return;
  const bool consult_completes = !before->consulting_agent.empty();
  if (consult_completes) ObserveEnded(record, now);  // the first agent's part is over
  record.connected_at = now;
  record.connected_queue = before->queue;
  // A callback was counted when accepted; a consulted caller was talking to the first agent, not
  // waiting in line, so neither is an answer of the queue.
  if (before->callback || consult_completes) return;
  metrics::QueueSeries* q = SeriesOf(before->queue);
  if (q == nullptr) return;
  const absl::Duration wait = now - before->entered_queue;
  q->calls[static_cast<int>(metrics::Outcome::kAnswered)].Add(1);
  q->wait.Observe(absl::ToDoubleSeconds(wait));
  q->answered_wait.Observe(absl::ToDoubleSeconds(wait));
  q->figures.Answered(wait, now);
}

// A caller hung up while waiting or ringing.
void Engine::ObserveLeftLine(const std::optional<routing::CallView>& before, absl::Time now) {
  if (!before || before->callback || !before->consulting_agent.empty()) return;
  metrics::QueueSeries* q = SeriesOf(before->queue);
  if (q == nullptr) return;
  const absl::Duration wait = now - before->entered_queue;
  q->calls[static_cast<int>(metrics::Outcome::kAbandoned)].Add(1);
  q->wait.Observe(absl::ToDoubleSeconds(wait));
  q->figures.Abandoned(wait, now);
}

// An agent's part of a call ended (the call ended, or it was transferred on): talk time, and
// handle time with the queue's wrap-up for the AHT figures.
void Engine::ObserveEnded(const CallRecord& record, absl::Time now) {
  std::optional<routing::QueueId> id = router_.policy().FindQueue(record.connected_queue);
  if (!id || record.connected_at == absl::Time()) return;
  const absl::Duration talk = now - record.connected_at;
  metrics::QueueSeries* q = metrics_.queue(*id);
  q->handle.Observe(absl::ToDoubleSeconds(talk));
  q->figures.Handled(talk + router_.policy().queues[*id].wrap_up, now);
}

void Engine::RefreshFigures() {
  const absl::Time now = Now();
  for (const routing::CompiledQueue& queue : router_.policy().queues) {
    absl::StatusOr<routing::QueueView> view = router_.Queue(queue.name);
    metrics::QueueSeries* q = metrics_.queue(queue.id);
    if (!view.ok() || q == nullptr) continue;
    q->calls_waiting.Set(view->calls_waiting);
    q->callbacks_waiting.Set(view->callbacks_waiting);
    q->oldest_wait_seconds.Set(
        view->oldest_arrival ? absl::ToDoubleSeconds(now - *view->oldest_arrival) : 0);
    q->ewt_seconds.Set(view->expected_wait_for_new_call
                           ? absl::ToDoubleSeconds(*view->expected_wait_for_new_call)
                           : std::nan(""));
    q->staffed_agents.Set(view->staffed_agents);
    for (int s = 0; s < routing::kAgentStateCount; ++s) {
      q->agents_by_state[s].Set(view->agents_by_state[s]);
    }
  }
  metrics_.RefreshWindows(now);
  metrics_.PublishQueuesJson(QueuesJson(now));
  figures_timer_.expires_after(std::chrono::seconds(1));
  figures_timer_.async_wait([this](const asio::error_code& error) {
    if (!error && !stopping_) RefreshFigures();
  });
}

namespace {

void AppendJsonString(std::string* out, absl::string_view text) {
  out->push_back('"');
  for (char c : text) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppend(out, absl::StrFormat("\\u%04x", c));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void AppendJsonNumber(std::string* out, double value) {
  if (std::isnan(value) || std::isinf(value)) {
    out->append("null");
  } else {
    absl::StrAppend(out, absl::StrFormat("%.6g", value));
  }
}

}  // namespace

// The wallboard's view of every queue, from the series just refreshed.
std::string Engine::QueuesJson(absl::Time now) {
  std::string out = "{\"at\": ";
  AppendJsonString(&out, absl::FormatTime("%Y-%m-%d%ET%H:%M:%E3SZ", now, absl::UTCTimeZone()));
  out.append(", \"policy\": ");
  AppendJsonString(&out, router_.policy().source.name());
  out.append(", \"queues\": [");
  bool first = true;
  for (const routing::CompiledQueue& queue : router_.policy().queues) {
    const metrics::QueueSeries* q = metrics_.queue(queue.id);
    if (q == nullptr) continue;
    if (!first) out.append(", ");
    first = false;
    out.append("{\"queue\": ");
    AppendJsonString(&out, q->name);
    out.append(", \"channel\": ");
    AppendJsonString(&out, q->channel);
    auto field = [&](absl::string_view name, double value) {
      absl::StrAppend(&out, ", \"", name, "\": ");
      AppendJsonNumber(&out, value);
    };
    field("calls_waiting", q->calls_waiting.Get());
    field("callbacks_waiting", q->callbacks_waiting.Get());
    field("oldest_wait_seconds", q->oldest_wait_seconds.Get());
    field("ewt_seconds", q->ewt_seconds.Get());
    field("staffed_agents", q->staffed_agents.Get());
    field("service_level_15m", q->windows[0].service_level.Get());
    field("service_level_1h", q->windows[1].service_level.Get());
    field("asa_seconds_15m", q->windows[0].asa_seconds.Get());
    field("aht_seconds_15m", q->windows[0].aht_seconds.Get());
    field("abandon_ratio_15m", q->windows[0].abandon_rate.Get());
    absl::StrAppend(&out, ", \"answered_total\": ", q->calls[0].Get());
    absl::StrAppend(&out, ", \"abandoned_total\": ", q->calls[1].Get());
    field("service_level_target", q->service_level_target.Get());
    field("service_level_alert", q->service_level_alert.Get());
    field("service_level_threshold_seconds", q->service_level_threshold_seconds.Get());
    field("oldest_wait_alert_seconds", q->oldest_wait_alert_seconds.Get());
    field("calls_waiting_alert", q->calls_waiting_alert.Get());
    out.append(", \"agents\": {");
    bool first_state = true;
    for (int s = 1; s < routing::kAgentStateCount; ++s) {
      if (!first_state) out.append(", ");
      first_state = false;
      AppendJsonString(&out, routing::AgentStateName(static_cast<routing::AgentState>(s)));
      absl::StrAppend(&out, ": ", static_cast<int64_t>(q->agents_by_state[s].Get()));
    }
    out.append("}}");
  }
  out.append("]}");
  return out;
}

void Engine::AddHistory(CallRecord& record, std::string what, std::string detail) {
  // Past the cap only the entries that say where the call went are kept, so its end always shows.
  static const std::set<std::string> kEssential = {"connected", "transferred", "ended",
                                                   "consult_started", "transfer_completed",
                                                   "callback_accepted", "callback_gave_up",
                                                   "abandoned", "fallback", "overflowed"};
  if (record.history.size() >= kMaxHistory &&
      (record.history.size() >= 2 * kMaxHistory || !kEssential.contains(what))) {
    return;
  }
  acd::v1::CallHistoryEntry& entry = record.history.emplace_back();
  *entry.mutable_at() = ToProto(Now());
  entry.set_what(std::move(what));
  entry.set_detail(std::move(detail));
}

void Engine::DropOffer(CallRecord& record) {
  if (record.offer && !record.offer_delivered) {
    DropFromOutbox(record.switch_id, record.offer->sequence());
  }
  record.offer.reset();
}

void Engine::Finish(CallRecord& record, const std::string& call_id, CallState state) {
  record.final_state = state;
  DropOffer(record);
  ended_.emplace_back(Now(), call_id);
  while (ended_.size() > options_.max_finished_calls) {
    auto oldest = calls_.find(ended_.front().second);
    if (oldest != calls_.end() && oldest->second.final_state != acd::v1::CALL_STATE_UNSPECIFIED &&
        &oldest->second != &record) {
      calls_.erase(oldest);
    }
    ended_.pop_front();
  }
}

void Engine::Dispatch(const Decision& d) {
  auto it = calls_.find(d.call_id);
  if (d.kind == Decision::Kind::kAgentMadeNotReady) {
    Log(absl::StrCat("agent ", d.agent_id, " is now not_ready(", d.reason, ")"));
    return;
  }
  if (it == calls_.end()) {
    Log(absl::StrCat("decision for unknown call ", d.call_id));  // can't happen: records outlive calls
    return;
  }
  CallRecord& record = it->second;
  acd::v1::Command command;
  switch (d.kind) {
    case Decision::Kind::kOfferCall: {
      record.agent_id = d.agent_id;
      AddHistory(record, "offered", d.agent_id);
      acd::v1::OfferCall* offer = command.mutable_offer_call();
      offer->set_call_id(d.call_id);
      offer->set_agent_id(d.agent_id);
      offer->set_queue(d.queue);
      if (auto q = router_.policy().FindQueue(d.queue)) {
        offer->set_offer_timeout_seconds(
            absl::ToDoubleSeconds(router_.policy().queues[*q].offer_timeout));
      }
      *offer->mutable_attributes() = record.request.attributes();
      offer->set_waited_seconds(absl::ToDoubleSeconds(Now() - record.arrived));
      *offer->mutable_context() = record.context;
      break;
    }
    case Decision::Kind::kCancelOffer:
      AddHistory(record, "offer_cancelled", absl::StrCat(d.agent_id, ": ", d.reason));
      DropOffer(record);
      command.mutable_cancel_offer()->set_call_id(d.call_id);
      command.mutable_cancel_offer()->set_agent_id(d.agent_id);
      command.mutable_cancel_offer()->set_reason(d.reason);
      break;
    case Decision::Kind::kSendToFallback:
      if (metrics::QueueSeries* q = SeriesOf(d.queue)) {
        q->calls[static_cast<int>(metrics::Outcome::kFallback)].Add(1);
      }
      if (!record.consulting_agent.empty()) {  // the first agent lets the caller go with it
        ObserveEnded(record, Now());
        record.agent_id = record.consulting_agent;
        record.consulting_agent.clear();
      }
      AddHistory(record, "fallback", absl::StrCat(d.target, " (", d.reason, ")"));
      Finish(record, d.call_id, acd::v1::CALL_STATE_FALLBACK);
      command.mutable_send_to_fallback()->set_call_id(d.call_id);
      command.mutable_send_to_fallback()->set_queue(d.queue);
      command.mutable_send_to_fallback()->set_target(d.target);
      command.mutable_send_to_fallback()->set_reason(d.reason);
      break;
    case Decision::Kind::kCallOverflowed:
      if (metrics::QueueSeries* q = SeriesOf(d.from_queue)) {
        q->calls[static_cast<int>(metrics::Outcome::kOverflowed)].Add(1);
      }
      AddHistory(record, "overflowed", absl::StrCat(d.from_queue, " -> ", d.queue));
      return;
    case Decision::Kind::kAgentMadeNotReady:
      return;
    case Decision::Kind::kPlayPrompt: {
      if (metrics::QueueSeries* q = SeriesOf(d.queue);
          q != nullptr && d.prompt != Decision::PromptKind::kNone) {
        q->prompts[static_cast<int>(d.prompt) - 1].Add(1);
      }
      acd::v1::PlayPrompt* prompt = command.mutable_play_prompt();
      prompt->set_call_id(d.call_id);
      prompt->set_kind(PromptKindToProto(d.prompt));
      prompt->set_queue(d.queue);
      prompt->set_position(d.position);
      prompt->set_expected_wait_seconds(
          d.expected_wait ? absl::ToDoubleSeconds(*d.expected_wait) : -1);
      prompt->set_wait_over_cap(d.wait_over_cap);
      prompt->set_held_seconds(absl::ToDoubleSeconds(d.held));
      if (d.prompt == Decision::PromptKind::kCallbackOffer) {
        AddHistory(record, "callback_offered",
                   d.expected_wait ? absl::StrCat("expected wait ",
                                                  absl::ToDoubleSeconds(*d.expected_wait), " s")
                                   : "");
      }
      break;
    }
    case Decision::Kind::kHoldReminder: {
      acd::v1::HoldReminder* reminder = command.mutable_hold_reminder();
      reminder->set_call_id(d.call_id);
      reminder->set_agent_id(d.agent_id);
      reminder->set_held_seconds(absl::ToDoubleSeconds(d.held));
      reminder->set_expected_seconds(record.hold_expected_seconds);
      break;
    }
    case Decision::Kind::kHoldOverrun: {
      if (metrics::QueueSeries* q = SeriesOf(d.queue.empty() ? record.connected_queue : d.queue)) {
        q->hold_overruns[d.reason == "max" ? 1 : 0].Add(1);
      }
      AddHistory(record, "hold_overrun",
                 absl::StrCat(d.reason, " after ", absl::ToDoubleSeconds(d.held), " s"));
      acd::v1::HoldOverrun* overrun = command.mutable_hold_overrun();
      overrun->set_call_id(d.call_id);
      overrun->set_agent_id(d.agent_id);
      overrun->set_held_seconds(absl::ToDoubleSeconds(d.held));
      overrun->set_reason(d.reason);
      break;
    }
    case Decision::Kind::kStartCallback: {
      if (metrics::QueueSeries* q = SeriesOf(d.queue)) {
        q->callbacks[static_cast<int>(metrics::CallbackOutcome::kStarted)].Add(1);
      }
      record.agent_id = d.agent_id;
      AddHistory(record, "callback_started", absl::StrCat(d.agent_id, ", attempt ", d.attempt));
      acd::v1::StartCallback* start = command.mutable_start_callback();
      start->set_call_id(d.call_id);
      start->set_agent_id(d.agent_id);
      start->set_queue(d.queue);
      start->set_number(record.callback_number);
      start->set_attempt(d.attempt);
      if (auto q = router_.policy().FindQueue(d.queue)) {
        start->set_offer_timeout_seconds(
            absl::ToDoubleSeconds(router_.policy().queues[*q].offer_timeout));
      }
      *start->mutable_attributes() = record.request.attributes();
      start->set_waited_seconds(absl::ToDoubleSeconds(Now() - record.arrived));
      *start->mutable_context() = record.context;
      break;
    }
    case Decision::Kind::kCallbackGaveUp:
      if (metrics::QueueSeries* q = SeriesOf(d.queue)) {
        q->callbacks[static_cast<int>(metrics::CallbackOutcome::kGaveUp)].Add(1);
      }
      AddHistory(record, "callback_gave_up", absl::StrCat(d.attempt, " attempts"));
      Finish(record, d.call_id, acd::v1::CALL_STATE_CALLBACK_FAILED);
      command.mutable_callback_gave_up()->set_call_id(d.call_id);
      command.mutable_callback_gave_up()->set_queue(d.queue);
      command.mutable_callback_gave_up()->set_attempts(d.attempt);
      break;
    case Decision::Kind::kTransferCompleted:
      record.connected_at = Now();
      if (auto view = router_.FindCall(d.call_id)) record.connected_queue = view->queue;
      EndHold(record, Now());
      record.consulting_agent.clear();
      record.agent_id = d.agent_id;
      AddHistory(record, "transfer_completed", absl::StrCat(d.from_agent, " -> ", d.agent_id));
      command.mutable_complete_transfer()->set_call_id(d.call_id);
      command.mutable_complete_transfer()->set_agent_id(d.agent_id);
      command.mutable_complete_transfer()->set_from_agent_id(d.from_agent);
      break;
  }
  SendCommand(record.switch_id, std::move(command));
  if (d.kind == Decision::Kind::kOfferCall || d.kind == Decision::Kind::kStartCallback) {
    record.offer = switches_[record.switch_id].outbox.back();
    record.offer_delivered = false;
  }
}

void Engine::SendCommand(const std::string& switch_id, acd::v1::Command command) {
  SwitchLink& link = switches_[switch_id];
  command.set_sequence(link.next_sequence++);
  *command.mutable_at() = ToProto(Now());
  if (link.outbox.size() >= options_.max_outbox) {
    Log(absl::StrCat("switch ", switch_id, " has not read its commands; dropping the oldest"));
    link.outbox.pop_front();
  }
  if (link.local) {
    // Delivered once the current event is done, as a stream write would be.
    asio::post(io_, [this, switch_id, command, deliver = link.local] {
      OnCommandWritten(switch_id, command);
      deliver(command);
    });
    link.outbox.push_back(std::move(command));
    return;
  }
  link.outbox.push_back(command);
  if (link.stream == nullptr) return;
  if (link.stream->backlog() >= options_.max_stream_backlog) {
    Log(absl::StrCat("switch ", switch_id, " reads its commands too slowly; closing its stream "
                     "(commands wait in the outbox for the reconnect)"));
    link.stream->Abort(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                    "command stream backlog too large; reconnect"));
    link.stream = nullptr;
    return;
  }
  link.stream->Send(std::move(command));
}

void Engine::DropFromOutbox(const std::string& switch_id, uint64_t sequence) {
  auto link = switches_.find(switch_id);
  if (link == switches_.end()) return;
  std::deque<acd::v1::Command>& outbox = link->second.outbox;
  // The outbox is in sequence order.
  auto it = std::lower_bound(outbox.begin(), outbox.end(), sequence,
                             [](const acd::v1::Command& c, uint64_t s) { return c.sequence() < s; });
  if (it != outbox.end() && it->sequence() == sequence) outbox.erase(it);
}

void Engine::OnCommandWritten(const std::string& switch_id, const acd::v1::Command& command) {
  DropFromOutbox(switch_id, command.sequence());
  if (const std::string* call_id = ReservingCallId(command)) {
    auto it = calls_.find(*call_id);
    if (it != calls_.end() && it->second.offer &&
        it->second.offer->sequence() == command.sequence()) {
      it->second.offer_delivered = true;
    }
  }
}

void Engine::OpenCommandStream(const std::string& switch_id, CommandWriter* stream) {
  SwitchLink& link = switches_[switch_id];
  if (link.stream != nullptr) {
    // Stop the old stream now, unflushed: what it has not written goes out on the new one.
    link.stream->Abort(grpc::Status(grpc::StatusCode::ABORTED,
                                    "another command stream for this switch took over"));
  }
  link.stream = stream;
  // Undelivered commands first. Offers answered or withdrawn meanwhile no longer apply.
  std::erase_if(link.outbox, [&](const acd::v1::Command& command) {
    const std::string* call_id = ReservingCallId(command);
    if (call_id == nullptr) return false;
    auto it = calls_.find(*call_id);
    return it == calls_.end() || !it->second.offer ||
           it->second.offer->sequence() != command.sequence();
  });
  for (const acd::v1::Command& command : link.outbox) stream->Send(command);
  // Offers delivered on the old stream that are still outstanding: the switch may have lost them.
  for (auto& [call_id, record] : calls_) {
    if (record.switch_id == switch_id && record.offer && record.offer_delivered) {
      acd::v1::Command again = *record.offer;
      again.set_resent(true);
      stream->Send(std::move(again));
    }
  }
}

void Engine::AttachLocalSwitch(const std::string& switch_id,
                               std::function<void(const acd::v1::Command&)> deliver) {
  switches_[switch_id].local = std::move(deliver);
}

void Engine::CommandStreamGone(const std::string& switch_id, CommandWriter* stream) {
  auto it = switches_.find(switch_id);
  if (it != switches_.end() && it->second.stream == stream) it->second.stream = nullptr;
}

void Engine::QueueWatchGone(QueueWatchWriter* stream) {
  auto it = watches_.find(stream);
  if (it == watches_.end()) return;
  it->second.timer->cancel();
  watches_.erase(it);
}

void Engine::SweepEndedCalls() {
  const absl::Time now = Now();
  while (!ended_.empty() && ended_.front().first + options_.call_retention <= now) {
    auto it = calls_.find(ended_.front().second);
    if (it != calls_.end() && it->second.final_state != acd::v1::CALL_STATE_UNSPECIFIED) {
      calls_.erase(it);
    }
    ended_.pop_front();
  }
  sweep_.expires_after(absl::ToChronoNanoseconds(kSweepEvery));
  sweep_.async_wait([this](const asio::error_code& error) {
    if (!error && !stopping_) SweepEndedCalls();
  });
}

// ---------------------------------------------------------------------------------------------
// Switch side.

CallState Engine::LiveState(const std::string& call_id, const CallRecord& record) const {
  if (record.final_state != acd::v1::CALL_STATE_UNSPECIFIED) return record.final_state;
  std::optional<routing::CallState> state = router_.CallStateOf(call_id);
  return state ? CallStateToProto(*state) : acd::v1::CALL_STATE_UNSPECIFIED;
}

grpc::Status Engine::EnqueueCall(const acd::v1::EnqueueCallRequest& request,
                                 acd::v1::EnqueueCallResponse* response) {
  auto existing = calls_.find(request.call_id());
  if (existing != calls_.end()) {
    if (existing->second.switch_id != request.switch_id()) {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                          absl::StrCat("call_id '", request.call_id(),
                                       "' is in use by switch '", existing->second.switch_id, "'"));
    }
    if (!google::protobuf::util::MessageDifferencer::Equals(existing->second.request, request)) {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                          absl::StrCat("call_id '", request.call_id(),
                                       "' is in use for another call (queue '",
                                       existing->second.request.queue(),
                                       "'); a retry must repeat the request exactly"));
    }
    *response = existing->second.first_response;  // a retry: the original answer
    return grpc::Status::OK;
  }
  if (draining_) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "acdd is shutting down; not taking calls");
  }
  routing::CallSpec spec;
  spec.call_id = request.call_id();
  spec.queue = request.queue();
  if (request.channel() != acd::v1::CHANNEL_UNSPECIFIED) {
    spec.channel = routing::ChannelFromProto(request.channel());
  }
  for (const auto& r : request.required_skills()) {
    spec.required_skills.push_back({r.skill(), r.min_proficiency()});
  }
  spec.priority = request.priority();
  spec.tier = request.tier();
  spec.language = request.language();
  spec.preferred_agent = request.preferred_agent();
  for (const auto& [key, value] : request.attributes()) spec.attributes.emplace_back(key, value);
  std::sort(spec.attributes.begin(), spec.attributes.end());

  CallRecord& record = calls_[request.call_id()];
  record.switch_id = request.switch_id();
  record.request = request;
  record.arrived = Now();
  const auto started = std::chrono::steady_clock::now();
  absl::StatusOr<routing::EnqueueResult> result = router_.Enqueue(spec, record.arrived);
  metrics_.routing_decision_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  metrics_.engine_events.Add(1);
  if (!result.ok()) {
    calls_.erase(request.call_id());
    return ToGrpcStatus(result.status());
  }
  AddHistory(record, "enqueued", request.queue());
  switch (result->disposition) {
    case routing::EnqueueResult::Disposition::kQueued:
      response->set_disposition(acd::v1::EnqueueCallResponse::DISPOSITION_QUEUED);
      break;
    case routing::EnqueueResult::Disposition::kOffered:
      response->set_disposition(acd::v1::EnqueueCallResponse::DISPOSITION_OFFERED);
      break;
    case routing::EnqueueResult::Disposition::kSentToFallback:
      response->set_disposition(acd::v1::EnqueueCallResponse::DISPOSITION_SENT_TO_FALLBACK);
      break;
  }
  response->set_position(result->position);
  response->set_expected_wait_seconds(
      result->expected_wait ? absl::ToDoubleSeconds(*result->expected_wait) : -1);
  response->set_fallback(result->fallback);
  record.first_response = *response;
  AfterEvent();
  return grpc::Status::OK;
}

grpc::Status Engine::ReportCallEvent(const acd::v1::CallEvent& event,
                                     acd::v1::CallEventResponse* response) {
  auto it = calls_.find(event.call_id());
  if (it == calls_.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no call '", event.call_id(), "'"));
  }
  CallRecord& record = it->second;
  if (record.switch_id != event.switch_id()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("call '", event.call_id(), "' belongs to switch '",
                                     record.switch_id, "'"));
  }
  // What the event is about: an answer to an offer names the offer ringing at that agent;
  // `answered` and a transfer name the connection (the offer that agent accepted). Events carry
  // that offer's command sequence in offer_sequence to make retries exact.
  const bool about_offer = event.has_offer_accepted() || event.has_offer_rejected() ||
                           event.has_offer_no_answer() || event.has_answered();
  const bool about_connection = event.has_answered() || event.has_transfer_requested() ||
                                event.has_consult_transfer_requested() ||
                                event.has_callback_not_reached();
  const bool connected_here = about_connection && record.agent_id == event.agent_id() &&
                              LiveState(event.call_id(), record) == acd::v1::CALL_STATE_CONNECTED;
  uint64_t sequence = 0;
  if (about_offer && record.offer && record.agent_id == event.agent_id()) {
    sequence = record.offer->sequence();
  } else if (about_connection && connected_here) {
    sequence = record.connected_sequence;
  }
  // A consult is named by its number on the call: one agent may consult, cancel, and consult again.
  const bool about_consult = event.has_consult_cancelled();
  if (about_consult && record.consulting_agent == event.agent_id()) sequence = record.consults;
  auto stored = [&](uint64_t seq) -> const CallRecord::Answer* {
    for (auto a = record.answers.rbegin(); a != record.answers.rend(); ++a) {
      if (a->event != event.event_case()) continue;
      if (!about_offer && !about_connection && !about_consult) return &*a;  // once per call
      if (a->agent_id == event.agent_id() && (seq == 0 || a->offer_sequence == seq)) return &*a;
    }
    return nullptr;
  };
  if ((about_offer || about_connection) && event.offer_sequence() != 0 &&
      event.offer_sequence() != sequence) {
    // It names an offer or connection that is over: a retry of what was answered then, or late.
    if (const CallRecord::Answer* answer = stored(event.offer_sequence())) {
      response->set_state(answer->state);
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("offer ", event.offer_sequence(), " of call '", event.call_id(),
                                     "' to '", event.agent_id(),
                                     "' is no longer ringing or connected"));
  }
  // Without a sequence: an event about the current offer or connection is new unless it was
  // answered already; one about none repeats the last answer of its kind from that agent.
  if (!event.has_hold_started() && !event.has_hold_ended()) {
    if (const CallRecord::Answer* answer = stored(sequence)) {
      if (sequence == 0 || answer->offer_sequence == sequence) {
        response->set_state(answer->state);
        return grpc::Status::OK;
      }
    }
  }
  const uint64_t offer_sequence = sequence;
  if (record.final_state != acd::v1::CALL_STATE_UNSPECIFIED) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("call '", event.call_id(), "' has already left acd (",
                                     acd::v1::CallState_Name(record.final_state), ")"));
  }
  const absl::Time now = Now();
  absl::Status status;
  const std::string& call_id = event.call_id();
  // Where the call stood, for what leaving the line tells the figures.
  std::optional<routing::CallView> before;
  if (event.has_offer_accepted() || event.has_answered() || event.has_caller_abandoned()) {
    before = router_.FindCall(call_id);
  }
  const auto started = std::chrono::steady_clock::now();
  metrics_.engine_events.Add(1);
  switch (event.event_case()) {
    case acd::v1::CallEvent::kOfferAccepted:
      status = router_.OfferAccepted(call_id, event.agent_id(), now);
      if (status.ok()) {
        record.connected_sequence = record.offer ? record.offer->sequence() : 0;
        DropOffer(record);
        AddHistory(record, "connected", event.agent_id());
        ObserveConnected(record, before, now);
      }
      break;
    case acd::v1::CallEvent::kOfferRejected:
      status = router_.OfferRejected(call_id, event.agent_id(), now);
      if (status.ok()) {
        DropOffer(record);
        AddHistory(record, "offer_rejected",
                   absl::StrCat(event.agent_id(), event.offer_rejected().reason().empty() ? "" : ": ",
                                event.offer_rejected().reason()));
      }
      break;
    case acd::v1::CallEvent::kOfferNoAnswer:
      status = router_.OfferNotAnswered(call_id, event.agent_id(), now);
      if (status.ok()) {
        DropOffer(record);
        AddHistory(record, "offer_no_answer", event.agent_id());
      }
      break;
    case acd::v1::CallEvent::kCallerAbandoned: {
      // A caller in a warm transfer is still with the first agent: their call ends, not abandons.
      const bool connected = LiveState(call_id, record) == acd::v1::CALL_STATE_CONNECTED ||
                             !record.consulting_agent.empty();
      status = router_.Abandon(call_id, now);
      if (status.ok() && !record.consulting_agent.empty()) {
        record.agent_id = record.consulting_agent;  // the caller was with them, not the consultee
        record.consulting_agent.clear();
      }
      if (status.ok()) {
        if (connected) {
          ObserveEnded(record, now);
        } else {
          ObserveLeftLine(before, now);
        }
        EndHold(record, now);
        AddHistory(record, connected ? "ended" : "abandoned", "caller hung up");
        Finish(record, call_id,
               connected ? acd::v1::CALL_STATE_ENDED : acd::v1::CALL_STATE_ABANDONED);
      }
      break;
    }
    case acd::v1::CallEvent::kCallEnded:
      status = router_.EndCall(call_id, now);
      if (status.ok() && !record.consulting_agent.empty()) {
        record.agent_id = record.consulting_agent;
        record.consulting_agent.clear();
      }
      if (status.ok()) {
        ObserveEnded(record, now);
        EndHold(record, now);
        AddHistory(record, "ended", record.agent_id);
        Finish(record, call_id, acd::v1::CALL_STATE_ENDED);
      }
      break;
    case acd::v1::CallEvent::kAnswered:
      status = Answered(record, call_id, event.agent_id(), now);
      if (status.ok() && before && before->state != routing::CallState::kConnected) {
        ObserveConnected(record, before, now);
      }
      break;
    case acd::v1::CallEvent::kTransferRequested:
    case acd::v1::CallEvent::kConsultTransferRequested:
      status = Transfer(record, call_id, event, now);
      break;
    case acd::v1::CallEvent::kConsultCancelled:
      status = router_.CancelConsult(call_id, event.agent_id(), now);
      if (status.ok()) {
        record.consulting_agent.clear();
        record.agent_id = event.agent_id();
        // The transfer did not happen: the context is as before, and a new consult request by
        // this agent is new, not a retry of the cancelled one.
        record.context = record.context_before_consult;
        std::erase_if(record.answers, [&](const CallRecord::Answer& a) {
          return a.event == acd::v1::CallEvent::kConsultTransferRequested &&
                 a.agent_id == event.agent_id();
        });
        AddHistory(record, "consult_cancelled", event.agent_id());
      }
      break;
    case acd::v1::CallEvent::kCallbackAccepted:
      status = router_.AcceptCallback(call_id, now);
      if (status.ok()) {
        if (auto view = router_.FindCall(call_id)) {
          if (metrics::QueueSeries* q = SeriesOf(view->queue)) {
            q->calls[static_cast<int>(metrics::Outcome::kCallback)].Add(1);
            q->callbacks[static_cast<int>(metrics::CallbackOutcome::kAccepted)].Add(1);
          }
        }
        record.callback_number = event.callback_accepted().number();
        AddHistory(record, "callback_accepted",
                   record.callback_number.empty() ? "caller's number" : record.callback_number);
      }
      break;
    case acd::v1::CallEvent::kCallbackNotReached:
      status = router_.CallbackNotReached(call_id, event.agent_id(), now);
      if (status.ok()) {
        if (metrics::QueueSeries* q = SeriesOf(record.connected_queue)) {
          q->callbacks[static_cast<int>(metrics::CallbackOutcome::kNotReached)].Add(1);
        }
        EndHold(record, now);
        record.agent_id.clear();
        AddHistory(record, "callback_not_reached",
                   absl::StrCat(event.agent_id(), event.callback_not_reached().reason().empty()
                                                      ? ""
                                                      : ": ",
                                event.callback_not_reached().reason()));
      }
      break;
    case acd::v1::CallEvent::kHoldStarted:
    case acd::v1::CallEvent::kHoldEnded: {
      // Holds are judged by state, not stored answers: a repeat while on hold (or after the hold
      // ended) is a no-op, and a call may be held many times.
      // During a consult the caller is with the consulting agent, not the one being offered.
      const std::string& on_the_line =
          record.consulting_agent.empty() ? record.agent_id : record.consulting_agent;
      if (!event.agent_id().empty() && event.agent_id() != on_the_line) {
        status = absl::FailedPreconditionError(absl::StrCat(
            "agent '", event.agent_id(), "' is not on call '", call_id, "'"));
      } else {
        status = event.has_hold_started()
                     ? StartHold(record, call_id, event.hold_started(), now)
                     : StopHold(record, call_id, event.hold_ended().hold_id(), now);
      }
      AfterEvent();
      response->set_state(LiveState(call_id, record));
      return ToGrpcStatus(status);
    }
    case acd::v1::CallEvent::EVENT_NOT_SET:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "event: set one event");
  }
  metrics_.routing_decision_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  AfterEvent();
  CallRecord& after = calls_.at(call_id);
  response->set_state(LiveState(call_id, after));
  if (!status.ok()) return ToGrpcStatus(status);
  after.answers.push_back({event.event_case(), event.agent_id(), offer_sequence, response->state()});
  return grpc::Status::OK;
}

absl::Status Engine::Answered(CallRecord& record, const std::string& call_id,
                              const std::string& agent_id, absl::Time now) {
  const acd::v1::CallState state = LiveState(call_id, record);
  if (state == acd::v1::CALL_STATE_OFFERED && record.agent_id == agent_id) {
    absl::Status accepted = router_.OfferAccepted(call_id, agent_id, now);
    if (!accepted.ok()) return accepted;
    record.connected_sequence = record.offer ? record.offer->sequence() : 0;
    DropOffer(record);
    AddHistory(record, "connected", agent_id);
  }
  if (LiveState(call_id, record) != acd::v1::CALL_STATE_CONNECTED || record.agent_id != agent_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "call '", call_id, "' is not ringing or connected at agent '", agent_id, "'"));
  }
  AddHistory(record, "answered", agent_id);
  return absl::OkStatus();
}

absl::Status Engine::Transfer(CallRecord& record, const std::string& call_id,
                              const acd::v1::CallEvent& event, absl::Time now) {
  const bool warm = event.has_consult_transfer_requested();
  const acd::v1::TransferRequested& transfer =
      warm ? event.consult_transfer_requested() : event.transfer_requested();
  std::optional<routing::CallView> before = router_.FindCall(call_id);
  const std::string from_queue = before ? before->queue : "";
  routing::TransferTarget target;
  target.queue = transfer.queue();
  target.agent_id = transfer.agent_id();
  // The context must be complete before the router makes the next offer (in AfterEvent).
  absl::StatusOr<routing::EnqueueResult> moved =
      warm ? router_.StartConsult(call_id, event.agent_id(), target, now)
           : router_.Transfer(call_id, event.agent_id(), target, now);
  if (!moved.ok()) return moved.status();
  if (warm && moved->disposition != routing::EnqueueResult::Disposition::kSentToFallback) {
    record.context_before_consult = record.context;
    record.consulting_agent = event.agent_id();
    record.consults++;
  } else {
    ObserveEnded(record, now);
    record.connected_at = absl::Time();
    EndHold(record, now);
  }
  if (metrics::QueueSeries* q = SeriesOf(from_queue)) {
    q->transfers[warm ? 1 : 0].Add(1);
  }
  acd::v1::CallContext& context = record.context;
  context.set_transfers(context.transfers() + 1);
  context.add_previous_queues(from_queue);
  context.add_previous_agents(event.agent_id());
  context.set_transfer_reason(transfer.reason());
  if (!transfer.notes().empty()) context.add_notes(transfer.notes());
  if (!warm) record.agent_id.clear();
  AddHistory(record, warm ? "consult_started" : "transferred",
             absl::StrCat(event.agent_id(), " -> ",
                          transfer.has_queue() ? absl::StrCat("queue ", transfer.queue())
                                               : absl::StrCat("agent ", transfer.agent_id()),
                          transfer.reason().empty() ? "" : ": ", transfer.reason()));
  return absl::OkStatus();
}

absl::Status Engine::StartHold(CallRecord& record, const std::string& call_id,
                               const acd::v1::HoldStarted& hold, absl::Time now) {
  if (LiveState(call_id, record) != acd::v1::CALL_STATE_CONNECTED &&
      record.consulting_agent.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("call '", call_id, "' is not connected to an agent; only a connected caller "
                     "can be put on hold"));
  }
  const std::string& id = hold.hold_id();
  if (!id.empty() && std::find(record.hold_ids.begin(), record.hold_ids.end(), id) !=
                         record.hold_ids.end()) {
    return absl::OkStatus();  // this hold was started already: a retry
  }
  if (record.on_hold_since) {
    if (!id.empty() && !record.current_hold_id.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("the caller is already on hold ('",
                                                        record.current_hold_id, "')"));
    }
    return absl::OkStatus();  // a repeat
  }
  absl::Status held = router_.StartHold(call_id, absl::Seconds(hold.expected_seconds()), now);
  if (!held.ok()) return held;
  record.hold_expected_seconds = hold.expected_seconds();
  if (!id.empty() && record.hold_ids.size() < 100) record.hold_ids.push_back(id);
  record.current_hold_id = id;
  record.on_hold_since = now;
  record.hold_count++;
  AddHistory(record, "hold_started",
             absl::StrCat(hold.reason().empty() ? "no reason given" : hold.reason(),
                          hold.caller_consented() ? ", caller consented" : ", no consent recorded",
                          hold.expected_seconds() > 0
                              ? absl::StrCat(", expected ", hold.expected_seconds(), " s")
                              : ""));
  return absl::OkStatus();
}

absl::Status Engine::StopHold(CallRecord& record, const std::string& call_id,
                              const std::string& hold_id, absl::Time now) {
  if (!hold_id.empty() && record.on_hold_since && hold_id != record.current_hold_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("the caller is on hold '", record.current_hold_id, "', not '", hold_id, "'"));
  }
  if (!record.on_hold_since) {
    const bool known = hold_id.empty() ? record.hold_count > 0
                                       : std::find(record.hold_ids.begin(), record.hold_ids.end(),
                                                   hold_id) != record.hold_ids.end();
    if (known) return absl::OkStatus();  // a repeat of a hold's end
    return absl::FailedPreconditionError("the call is not on hold");
  }
  const absl::Duration held = now - *record.on_hold_since;
  if (absl::Status ended = router_.EndHold(call_id, now); !ended.ok()) return ended;
  EndHold(record, now);
  AddHistory(record, "hold_ended", absl::StrCat(absl::ToDoubleSeconds(held), " s"));
  return absl::OkStatus();
}

void Engine::EndHold(CallRecord& record, absl::Time now) {
  if (!record.on_hold_since) return;
  const absl::Duration held = now - *record.on_hold_since;
  record.hold_total += held;
  record.on_hold_since.reset();
  if (metrics::QueueSeries* q = SeriesOf(record.connected_queue)) {
    q->hold.Observe(absl::ToDoubleSeconds(held));
  }
}

grpc::Status Engine::ListCalls(const acd::v1::ListCallsRequest& request,
                               acd::v1::ListCallsResponse* response) {
  for (const auto& [call_id, record] : calls_) {
    if (record.switch_id != request.switch_id()) continue;
    if (record.final_state != acd::v1::CALL_STATE_UNSPECIFIED) continue;
    FillCallInfo(call_id, record, response->add_calls());
  }
  std::sort(response->mutable_calls()->begin(), response->mutable_calls()->end(),
            [](const acd::v1::CallInfo& a, const acd::v1::CallInfo& b) {
              return a.call_id() < b.call_id();
            });
  return grpc::Status::OK;
}

void Engine::FillCallInfo(const std::string& call_id, const CallRecord& record,
                          acd::v1::CallInfo* info) const {
  info->set_call_id(call_id);
  info->set_switch_id(record.switch_id);
  info->set_queue(record.request.queue());
  info->set_state(LiveState(call_id, record));
  info->set_expected_wait_seconds(-1);
  *info->mutable_arrived() = ToProto(record.arrived);
  if (std::optional<routing::CallView> view = router_.FindCall(call_id)) {
    info->set_queue(view->queue);
    info->set_position(view->position);
    info->set_agent_id(view->agent_id);
    info->set_priority(view->priority);
    if (view->expected_wait) info->set_expected_wait_seconds(absl::ToDoubleSeconds(*view->expected_wait));
    info->set_callback(view->callback);
    info->set_callback_attempts(view->callback_attempts);
    info->set_consulting_agent(view->consulting_agent);
    info->set_prompts_played(view->prompts_played);
  } else {
    info->set_agent_id(record.agent_id);
  }
  for (const auto& entry : record.history) *info->add_history() = entry;
  info->set_on_hold(record.on_hold_since.has_value());
  info->set_hold_count(record.hold_count);
  absl::Duration held = record.hold_total;
  if (record.on_hold_since) held += Now() - *record.on_hold_since;
  info->set_hold_seconds(absl::ToDoubleSeconds(held));
  *info->mutable_context() = record.context;
}

// ---------------------------------------------------------------------------------------------
// Agents.

bool Engine::FillAgentInfo(const std::string& agent_id, acd::v1::AgentInfo* info) const {
  std::optional<routing::AgentView> view = router_.FindAgent(agent_id);
  if (!view) return false;
  info->set_agent_id(agent_id);
  info->set_state(AgentStateToProto(view->state));
  info->set_not_ready_reason(view->not_ready_reason);
  for (const std::string& q : view->queues) info->add_queues(q);
  info->set_calls_handled(view->calls_handled);
  info->set_missed_offers_in_a_row(view->missed_offers_in_a_row);
  *info->mutable_idle_since() = ToProto(view->idle_since);
  return true;
}

grpc::Status Engine::Login(const acd::v1::LoginRequest& request, acd::v1::AgentInfo* response) {
  auto existing = logins_.find(request.agent_id());
  if (existing != logins_.end()) {
    if (google::protobuf::util::MessageDifferencer::Equals(existing->second, request)) {
      FillAgentInfo(request.agent_id(), response);  // a retry of the same login
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                        absl::StrCat("agent '", request.agent_id(),
                                     "' is already logged in with other settings; log out first"));
  }
  routing::AgentSpec spec;
  spec.agent_id = request.agent_id();
  for (const auto& s : request.skills()) spec.skills.push_back({s.skill(), s.proficiency()});
  spec.languages.assign(request.languages().begin(), request.languages().end());
  for (const auto& c : request.capacity()) {
    if (c.channel() == acd::v1::CHANNEL_UNSPECIFIED || !acd::v1::Channel_IsValid(c.channel())) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "capacity: name the channel (voice, chat, email, sms, social, video)");
    }
    spec.capacity.emplace_back(routing::ChannelFromProto(c.channel()), c.max());
  }
  spec.queues.assign(request.queues().begin(), request.queues().end());
  spec.ready = request.ready();
  absl::Status status = router_.Login(spec, Now());
  if (!status.ok()) return ToGrpcStatus(status);
  logins_[request.agent_id()] = request;
  FillAgentInfo(request.agent_id(), response);
  AfterEvent();
  return grpc::Status::OK;
}

grpc::Status Engine::SetAgentState(const acd::v1::SetAgentStateRequest& request,
                                   acd::v1::AgentInfo* response) {
  absl::Status status;
  switch (request.change_case()) {
    case acd::v1::SetAgentStateRequest::kReady:
      status = router_.SetReady(request.agent_id(), Now());
      break;
    case acd::v1::SetAgentStateRequest::kNotReady:
      status = router_.SetNotReady(request.agent_id(), request.not_ready().reason(), Now());
      break;
    case acd::v1::SetAgentStateRequest::kEndWrapUp:
      status = router_.EndWrapUp(request.agent_id(), Now());
      break;
    case acd::v1::SetAgentStateRequest::CHANGE_NOT_SET:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "change: set one of ready, not_ready, end_wrap_up");
  }
  if (!status.ok()) return ToGrpcStatus(status);
  AfterEvent();
  FillAgentInfo(request.agent_id(), response);
  return grpc::Status::OK;
}

grpc::Status Engine::Logout(const acd::v1::LogoutRequest& request) {
  absl::Status status = router_.Logout(request.agent_id(), Now());
  if (!status.ok()) return ToGrpcStatus(status);
  logins_.erase(request.agent_id());
  AfterEvent();
  return grpc::Status::OK;
}

// ---------------------------------------------------------------------------------------------
// Operations.

grpc::Status Engine::ListQueues(acd::v1::ListQueuesResponse* response) {
  const absl::Time now = Now();
  *response->mutable_at() = ToProto(now);
  for (const routing::CompiledQueue& queue : router_.policy().queues) {
    absl::StatusOr<routing::QueueView> view = router_.Queue(queue.name);
    if (!view.ok()) continue;
    acd::v1::QueueInfo* info = response->add_queues();
    info->set_queue(queue.name);
    info->set_channel(queue.source.channel() == acd::v1::CHANNEL_UNSPECIFIED
                          ? acd::v1::CHANNEL_VOICE
                          : queue.source.channel());
    info->set_calls_waiting(view->calls_waiting);
    info->set_oldest_wait_seconds(
        view->oldest_arrival ? absl::ToDoubleSeconds(now - *view->oldest_arrival) : 0);
    info->set_expected_wait_seconds(
        view->expected_wait_for_new_call ? absl::ToDoubleSeconds(*view->expected_wait_for_new_call)
                                         : -1);
    info->set_staffed_agents(view->staffed_agents);
    info->set_mean_handle_seconds(view->mean_handle_seconds);
    info->set_abandonment_rate_per_second(view->abandonment_rate_per_second);
    info->set_callbacks_waiting(view->callbacks_waiting);
    for (int k = 1; k < static_cast<int>(view->prompts_played.size()); ++k) {
      (*info->mutable_prompts_played())[std::string(
          PromptKindName(static_cast<Decision::PromptKind>(k)))] = view->prompts_played[k];
    }
    info->set_callbacks_accepted(view->callbacks_accepted);
    info->set_callbacks_gave_up(view->callbacks_gave_up);
    info->set_hold_overruns(view->hold_overruns);
    for (int s = 0; s < routing::kAgentStateCount; ++s) {
      if (view->agents_by_state[s] == 0) continue;
      (*info->mutable_agents_by_state())[std::string(
          routing::AgentStateName(static_cast<routing::AgentState>(s)))] = view->agents_by_state[s];
    }
  }
  return grpc::Status::OK;
}

grpc::Status Engine::ListAgents(const acd::v1::ListAgentsRequest& request,
                                acd::v1::ListAgentsResponse* response) {
  if (!request.queue().empty() && !router_.policy().FindQueue(request.queue())) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("queue '", request.queue(), "' does not exist"));
  }
  std::vector<std::string> ids;
  for (const auto& [agent_id, login] : logins_) ids.push_back(agent_id);
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) {
    acd::v1::AgentInfo info;
    if (!FillAgentInfo(id, &info)) continue;
    if (!request.queue().empty() &&
        std::find(info.queues().begin(), info.queues().end(), request.queue()) ==
            info.queues().end()) {
      continue;
    }
    *response->add_agents() = std::move(info);
  }
  return grpc::Status::OK;
}

grpc::Status Engine::GetCall(const acd::v1::GetCallRequest& request, acd::v1::CallInfo* response) {
  auto it = calls_.find(request.call_id());
  if (it == calls_.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no call '", request.call_id(),
                                     "' (finished calls are kept for ",
                                     absl::FormatDuration(options_.call_retention), ")"));
  }
  FillCallInfo(it->first, it->second, response);
  return grpc::Status::OK;
}

grpc::Status Engine::GetPolicy(acd::v1::PolicyInfo* response) {
  *response->mutable_policy() = router_.policy().source;
  response->set_yaml(routing::PolicyToYaml(router_.policy().source));
  *response->mutable_applied_at() = ToProto(policy_applied_at_);
  response->set_source(policy_source_);
  return grpc::Status::OK;
}

grpc::Status Engine::ApplyPolicy(std::shared_ptr<const routing::CompiledPolicy> policy,
                                 const std::string& source) {
  absl::Status status = router_.ReplacePolicy(std::move(policy), Now());
  if (!status.ok()) return ToGrpcStatus(status);
  metrics_.SetQueues(router_.policy());
  const std::string replaced = policy_source_;
  policy_source_ = source;
  policy_applied_at_ = Now();
  AfterEvent();
  Log(absl::StrCat("policy '", router_.policy().source.name(), "' from ", source,
                   " applied, replacing the one from ", replaced));
  return grpc::Status::OK;
}

grpc::Status Engine::SetPolicy(const acd::v1::SetPolicyRequest& request,
                               acd::v1::SetPolicyResponse* response) {
  acd::v1::Policy proto;
  std::vector<routing::PolicyProblem> problems;
  routing::PolicySourceMap where;
  switch (request.source_case()) {
    case acd::v1::SetPolicyRequest::kPolicy:
      proto = request.policy();
      break;
    case acd::v1::SetPolicyRequest::kYaml:
      routing::ParsePolicyYaml(request.yaml(), &proto, &problems, &where);
      break;
    case acd::v1::SetPolicyRequest::SOURCE_NOT_SET:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "source: give policy or yaml");
  }
  if (problems.empty()) {
    problems = routing::ValidatePolicy(proto);
    where.Annotate(&problems);
  }
  std::shared_ptr<const routing::CompiledPolicy> compiled;
  if (problems.empty()) {
    // A dry run answers what the apply would: the policy must also fit the calls live now.
    absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> c = routing::CompilePolicy(proto);
    if (!c.ok()) return ToGrpcStatus(c.status());
    compiled = *c;
    if (absl::Status fits = router_.CanReplacePolicy(*compiled); !fits.ok()) {
      if (!request.validate_only()) return ToGrpcStatus(fits);
      problems.push_back(routing::PolicyProblem{"", std::string(fits.message())});
    }
  }
  for (const routing::PolicyProblem& p : problems) {
    acd::v1::PolicyProblem* out = response->add_problems();
    out->set_path(p.path);
    out->set_message(p.message);
    out->set_line(p.line);
    out->set_column(p.column);
  }
  if (problems.empty()) {
    response->set_diff(UnifiedDiff(routing::PolicyToYaml(router_.policy().source),
                                   routing::PolicyToYaml(proto), "running", "new"));
  }
  if (request.validate_only()) return grpc::Status::OK;
  if (!problems.empty()) {
    return ToGrpcStatus(routing::PolicyProblemsToStatus(problems, "policy"));
  }
  grpc::Status applied = ApplyPolicy(compiled, "admin api");
  response->set_applied(applied.ok());
  return applied;
}

void Engine::ReloadPolicyText(const std::string& yaml, const std::string& source) {
  absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> compiled =
      routing::CompilePolicyText(yaml, source);
  if (!compiled.ok()) {
    Log(absl::StrCat("reload refused, the running policy stays: ", compiled.status().message()));
    return;
  }
  grpc::Status applied = ApplyPolicy(*compiled, source);
  if (!applied.ok()) {
    Log(absl::StrCat("reload refused, the running policy stays: ", applied.error_message()));
  }
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
    ListQueues(&snapshot);
    stream->Send(std::move(snapshot));
  }
  it->second.timer->expires_after(absl::ToChronoNanoseconds(it->second.interval));
  it->second.timer->async_wait([this, stream](const asio::error_code& error) {
    if (!error && !stopping_) TickWatch(stream);
  });
}

size_t Engine::open_streams() const {
  size_t open = watches_.size();
  for (const auto& [switch_id, link] : switches_) open += link.stream != nullptr;
  return open;
}

void Engine::BeginDrain() {
  draining_ = true;
  for (auto& [switch_id, link] : switches_) {
    if (link.stream != nullptr) link.stream->Close(grpc::Status::OK);
  }
  for (auto& [stream, watch] : watches_) {
    watch.timer->cancel();
    stream->Close(grpc::Status::OK);
  }
  Log("draining: no new calls; streams closed");
}

}  // namespace acd::daemon
