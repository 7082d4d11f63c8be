// Core::SaveSnapshot and Core::RestoreSnapshot: the core's whole state as acd.journal.v1 snapshot
// parts (proto/acd/journal/v1/snapshot.proto) and back. The router saves and restores itself
// (routing/router_snapshot.cc); this file adds what the core keeps beside it: the policy's source
// and time, the settings, the call book, the outboxes and the logins. Calls are saved finished
// ones first, in the order they left (their retention runs in that order), then live ones by id,
// so that the same state always gives the same bytes.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/core.h"
#include "daemon/core_input.h"
#include "daemon/log.h"
#include "routing/compiled_policy.h"
#include "routing/quote.h"

namespace acd::daemon {
namespace {

using acd::journal::v1::CallRecordState;
using acd::journal::v1::SnapshotPart;

constexpr int64_t kQuarterNanosPerSecond = 4'000'000'000;

// absl::Duration as whole seconds and quarter nanoseconds, exactly (floor division, so that the
// remainder is never negative).
template <typename Message>
void SetSpan(absl::Duration d, Message* out) {
  absl::Duration rem;
  int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &rem);
  if (rem < absl::ZeroDuration()) {
    --seconds;
    rem += absl::Seconds(1);
  }
  out->set_unix_seconds(seconds);
  out->set_quarter_nanos(static_cast<uint32_t>(absl::IDivDuration(rem, absl::Nanoseconds(1) / 4, &rem)));
}

template <typename Message>
absl::Duration SpanOf(const Message& in) {
  return absl::Seconds(in.unix_seconds()) +
         (absl::Nanoseconds(1) / 4) * static_cast<int64_t>(in.quarter_nanos());
}

acd::journal::v1::Instant InstantOf(absl::Time t) {
  acd::journal::v1::Instant out;
  SetSpan(t - absl::UnixEpoch(), &out);
  return out;
}
absl::Time TimeOfInstant(const acd::journal::v1::Instant& in) {
  return absl::UnixEpoch() + SpanOf(in);
}

// Span's fields are named as Instant's are not; a small adapter keeps one conversion.
struct SpanFields {
  acd::journal::v1::Span* span;
  void set_unix_seconds(int64_t s) { span->set_seconds(s); }
  void set_quarter_nanos(uint32_t q) { span->set_quarter_nanos(q); }
};
struct ConstSpanFields {
  const acd::journal::v1::Span& span;
  int64_t unix_seconds() const { return span.seconds(); }
  uint32_t quarter_nanos() const { return span.quarter_nanos(); }
};

bool InRange(const acd::journal::v1::Instant& in) {
  return in.quarter_nanos() < kQuarterNanosPerSecond;
}

void SaveRecord(const std::string& call_id, const CallRecord& record,
                std::optional<absl::Time> left_at, CallRecordState* out) {
  out->set_call_id(call_id);
  out->set_switch_id(record.switch_id());
  out->set_request(record.request);
  *out->mutable_first_response() = record.first_response;
  for (const HistoryEntry& entry : record.history) {
    CallRecordState::HistoryLine* line = out->add_history();
    *line->mutable_at() = InstantOf(entry.at);
    line->set_what(entry.what);
    line->set_detail(entry.detail);
  }
  for (const CallAnswers::Answer& answer : record.answers.answers()) {
    CallRecordState::Answer* saved = out->add_answers();
    saved->set_event(static_cast<int32_t>(answer.event));
    saved->set_agent_id(answer.agent_id);
    saved->set_subject(answer.subject);
    saved->set_state(answer.state);
  }
  if (record.transfer_context) *out->mutable_transfer_context() = *record.transfer_context;
  if (record.context_before_consult) {
    *out->mutable_context_before_consult() = *record.context_before_consult;
  }
  out->set_connected_sequence(record.connected_sequence);
  out->set_consults(record.consults);
  for (const std::string& id : record.hold_ids) out->add_hold_ids(id);
  out->set_current_hold_id(record.current_hold_id);
  out->set_callback_number(record.callback_number);
  out->set_agent_rung(record.agent_rung);
  if (record.finished) {
    CallRecordState::Finished* finished = out->mutable_finished();
    finished->set_state(record.finished->state);
    finished->set_queue(record.finished->queue);
    *finished->mutable_arrived() = InstantOf(record.finished->arrived);
    finished->set_agent_id(record.finished->agent_id);
    finished->set_holds(record.finished->holds);
    SpanFields hold_time{finished->mutable_hold_time()};
    SetSpan(record.finished->hold_time, &hold_time);
    *finished->mutable_left_at() = InstantOf(*left_at);
  }
}

absl::Status RestoreRecord(const CallRecordState& in, CallRecord& record) {
  const std::string& id = in.call_id();
  record.request = in.request();
  record.first_response = in.first_response();
  for (const CallRecordState::HistoryLine& line : in.history()) {
    const char* what = HistoryWord(line.what());
    if (what == nullptr || !InRange(line.at())) {
      return absl::DataLossError(absl::StrCat(
          "call ", id, ": history line ", routing::Quote(line.what()), " is not one acdd writes"));
    }
    record.history.push_back({TimeOfInstant(line.at()), what, line.detail()});
  }
  for (const CallRecordState::Answer& answer : in.answers()) {
    if (!acd::v1::CallEvent::GetDescriptor()->FindFieldByNumber(answer.event()) ||
        !acd::v1::CallState_IsValid(answer.state())) {
      return absl::DataLossError(absl::StrCat("call ", id, ": an answer to an unknown event"));
    }
    record.answers.Restore({static_cast<acd::v1::CallEvent::EventCase>(answer.event()),
                            answer.agent_id(), answer.subject(), answer.state()});
  }
  if (in.has_transfer_context()) *record.mutable_context() = in.transfer_context();
  if (in.has_context_before_consult()) {
    record.context_before_consult =
        std::make_unique<acd::v1::CallContext>(in.context_before_consult());
  }
  record.connected_sequence = in.connected_sequence();
  record.consults = in.consults();
  record.hold_ids.assign(in.hold_ids().begin(), in.hold_ids().end());
  record.current_hold_id = in.current_hold_id();
  record.callback_number = in.callback_number();
  record.agent_rung = in.agent_rung();
  if (in.has_finished()) {
    const CallRecordState::Finished& f = in.finished();
    if (!InRange(f.arrived()) || !InRange(f.left_at()) ||
        f.hold_time().quarter_nanos() >= kQuarterNanosPerSecond) {
      return absl::DataLossError(absl::StrCat("call ", id, ": a time out of range"));
    }
    record.finished = std::make_unique<FinishedCall>(FinishedCall{
        .state = f.state(),
        .queue = f.queue(),
        .arrived = TimeOfInstant(f.arrived()),
        .agent_id = f.agent_id(),
        .holds = f.holds(),
        .hold_time = SpanOf(ConstSpanFields{f.hold_time()}),
    });
  }
  return absl::OkStatus();
}

}  // namespace

Core::Core(std::shared_ptr<const routing::CompiledPolicy> policy,
           std::unique_ptr<routing::Router> router, CoreOptions options,
           metrics::CallObserver* observer)
    : options_(options),
      observer_(observer),
      router_(std::move(router)),
      book_(options.call_retention, options.max_finished_calls),
      outboxes_(options.max_outbox) {
  router_->KeepCallFacts(true);
  if (observer_ != nullptr) observer_->SetPolicy(std::move(policy));
}

absl::Status Core::SaveSnapshot(
    const std::function<absl::Status(const SnapshotPart&)>& emit) const {
  owner_.Check("Core::SaveSnapshot");
  if (!notices_.empty()) Crash("Core::SaveSnapshot with notices not taken");
  SnapshotPart part;
  acd::journal::v1::CoreHead* head = part.mutable_core();
  *head->mutable_settings() = SettingsOf(options_);
  *head->mutable_policy() = router_->policy().source;
  head->set_policy_source(policy_source_);
  *head->mutable_policy_applied_at() = InstantOf(policy_applied_at_);
  head->set_draining(draining_);
  if (absl::Status s = emit(part); !s.ok()) return s;

  part.set_router(router_->SaveState());
  if (absl::Status s = emit(part); !s.ok()) return s;
  part.clear_router();

  acd::journal::v1::SnapshotEnd end;
  absl::Status status;
  book_.ForEachFinished([&](const std::string& call_id, absl::Time left_at,
                            const CallRecord& record) {
    if (!status.ok()) return;
    part.mutable_call()->Clear();
    SaveRecord(call_id, record, left_at, part.mutable_call());
    status = emit(part);
    end.set_calls(end.calls() + 1);
  });
  if (!status.ok()) return status;
  std::vector<std::pair<const std::string*, const CallRecord*>> live;
  book_.ForEach([&](const std::string& call_id, const CallRecord& record) {
    if (!record.finished) live.emplace_back(&call_id, &record);
  });
  std::sort(live.begin(), live.end(), [](const auto& a, const auto& b) { return *a.first < *b.first; });
  for (const auto& [call_id, record] : live) {
    part.mutable_call()->Clear();
    SaveRecord(*call_id, *record, std::nullopt, part.mutable_call());
    if (absl::Status s = emit(part); !s.ok()) return s;
    end.set_calls(end.calls() + 1);
  }

  for (acd::journal::v1::OutboxState& outbox : outboxes_.Save()) {
    *part.mutable_outbox() = std::move(outbox);
    if (absl::Status s = emit(part); !s.ok()) return s;
    end.set_outboxes(end.outboxes() + 1);
  }

  std::vector<std::pair<std::string, std::string>> logins(logins_.begin(), logins_.end());
  std::sort(logins.begin(), logins.end());
  for (auto& [agent_id, login] : logins) {
    part.mutable_login()->set_agent_id(std::move(agent_id));
    part.mutable_login()->set_login(std::move(login));
    if (absl::Status s = emit(part); !s.ok()) return s;
    end.set_logins(end.logins() + 1);
  }
  *part.mutable_end() = end;
  return emit(part);
}

absl::StatusOr<std::unique_ptr<Core>> Core::RestoreSnapshot(
    const std::function<absl::StatusOr<bool>(SnapshotPart*)>& next,
    metrics::CallObserver* observer) {
  SnapshotPart part;
  // The next part, which must be of kind `want` (kPartNotSet: any kind).
  auto read = [&](SnapshotPart::PartCase want, const char* what) -> absl::Status {
    absl::StatusOr<bool> more = next(&part);
    if (!more.ok()) return more.status();
    if (!*more) return absl::DataLossError(absl::StrCat("snapshot: ends before its ", what));
    if (want != SnapshotPart::PART_NOT_SET && part.part_case() != want) {
      return absl::DataLossError(absl::StrCat("snapshot: part ", part.part_case(), " where its ",
                                              what, " was due"));
    }
    return absl::OkStatus();
  };

  if (absl::Status s = read(SnapshotPart::kCore, "core head"); !s.ok()) return s;
  const acd::journal::v1::CoreHead head = part.core();
  const CoreOptions options = OptionsOf(head.settings());
  if (options.max_finished_calls < 1 || options.max_outbox < 1 ||
      !InRange(head.policy_applied_at())) {
    return absl::DataLossError("snapshot: the core's settings are not ones acdd writes");
  }
  absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> policy =
      routing::CompilePolicy(head.policy());
  if (!policy.ok()) {
    return absl::DataLossError(
        absl::StrCat("snapshot: its policy does not compile: ", policy.status().message()));
  }
  if (absl::Status s = read(SnapshotPart::kRouter, "router"); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<routing::Router>> router =
      routing::Router::RestoreState(*policy, part.router());
  if (!router.ok()) {
    return absl::DataLossError(absl::StrCat("snapshot: router: ", router.status().message()));
  }
  std::unique_ptr<Core> core(new Core(*policy, *std::move(router), options, observer));
  core->policy_source_ = head.policy_source();
  core->policy_applied_at_ = TimeOfInstant(head.policy_applied_at());
  core->draining_ = head.draining();

  acd::journal::v1::SnapshotEnd counted;
  for (;;) {
    if (absl::Status s = read(SnapshotPart::PART_NOT_SET, "end"); !s.ok()) return s;
    if (part.has_call()) {
      const CallRecordState& call = part.call();
      if (call.call_id().empty() || core->book_.Find(call.call_id()) != nullptr) {
        return absl::DataLossError(
            absl::StrCat("snapshot: call ", routing::Quote(call.call_id()), " twice"));
      }
      if (counted.outboxes() + counted.logins() > 0 ||
          (call.has_finished() && counted.calls() > core->book_.finished())) {
        return absl::DataLossError("snapshot: calls out of their order");
      }
      if (call.switch_id().empty()) {
        return absl::DataLossError(absl::StrCat("snapshot: call ", call.call_id(), " has no switch"));
      }
      std::optional<absl::Time> left_at;
      if (call.has_finished()) left_at = TimeOfInstant(call.finished().left_at());
      CallRecord& record = core->book_.Restore(call.call_id(), call.switch_id(), left_at);
      if (absl::Status s = RestoreRecord(call, record); !s.ok()) return s;
      // A live record is the router's call, and the other way round (checked below).
      if (!call.has_finished() && !core->router_->HasCall(call.call_id())) {
        return absl::DataLossError(absl::StrCat("snapshot: live call ", call.call_id(),
                                                " is not in the router"));
      }
      counted.set_calls(counted.calls() + 1);
    } else if (part.has_outbox()) {
      if (counted.logins() > 0) return absl::DataLossError("snapshot: outboxes out of order");
      if (absl::Status s = core->outboxes_.Restore(part.outbox()); !s.ok()) return s;
      counted.set_outboxes(counted.outboxes() + 1);
    } else if (part.has_login()) {
      if (!core->logins_.emplace(part.login().agent_id(), part.login().login()).second ||
          !core->router_->HasAgent(part.login().agent_id())) {
        return absl::DataLossError(absl::StrCat(
            "snapshot: login of agent ", routing::Quote(part.login().agent_id()), " is not one"));
      }
      counted.set_logins(counted.logins() + 1);
    } else if (part.has_end()) {
      break;
    } else {
      return absl::DataLossError(absl::StrCat("snapshot: part ", part.part_case(), " out of place"));
    }
  }
  const acd::journal::v1::SnapshotEnd& end = part.end();
  if (end.calls() != counted.calls() || end.outboxes() != counted.outboxes() ||
      end.logins() != counted.logins()) {
    return absl::DataLossError("snapshot: its end does not count what came before it");
  }
  if (core->router_->call_count() + core->book_.finished() != core->book_.size() ||
      core->router_->agent_count() != core->logins_.size()) {
    return absl::DataLossError("snapshot: the call book or the logins disagree with the router");
  }
  if (absl::StatusOr<bool> more = next(&part); !more.ok() || *more) {
    return more.ok() ? absl::DataLossError("snapshot: parts after its end") : more.status();
  }
  return core;
}

}  // namespace acd::daemon
