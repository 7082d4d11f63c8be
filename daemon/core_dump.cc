// Core::Dump: the core's state as canonical text. What the API shows of every queue, agent and
// call (finished ones included), plus what it does not: each call record's request, first answer,
// retry ledger and hold ids, each agent's login, every switch's outbox, the policy and its source.
// And Core::CheckInvariants: the router's invariants, and the book, logins and outboxes in step
// with it. Both walk the whole state: for tests, fuzzers and tools.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "daemon/core.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/text_format.h"
#include "routing/quote.h"

namespace acd::daemon {
namespace {

// `message` as Dump writes it in `style`.
std::string Written(Core::DumpStyle style, const google::protobuf::Message& message) {
  std::string text;
  if (style == Core::DumpStyle::kWire) {
    google::protobuf::io::StringOutputStream stream(&text);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  } else {
    google::protobuf::TextFormat::Printer printer;
    printer.SetSingleLineMode(true);
    printer.PrintToString(message, &text);
  }
  return text;
}

}  // namespace

std::string Core::Dump(DumpStyle style) const {
  owner_.Check("Core::Dump");
  auto OneLine = [style](const google::protobuf::Message& message) {
    return Written(style, message);
  };
  const absl::Time now = router_->now();
  std::string out;
  absl::StrAppend(&out, "now ", absl::FormatTime(now), "\n");
  absl::StrAppend(&out, "policy from ", policy_source_, " applied ",
                  absl::FormatTime(policy_applied_at_), ": ", OneLine(router_->policy().source),
                  "\n");
  absl::StrAppend(&out, "draining ", draining_, " retention ",
                  absl::FormatDuration(options_.call_retention), " max_finished ",
                  options_.max_finished_calls, " max_outbox ", options_.max_outbox, "\n");

  acd::v1::ListQueuesResponse queues;
  (void)ListQueues(&queues, now);
  for (const acd::v1::QueueInfo& queue : queues.queues()) {
    absl::StrAppend(&out, "queue ", OneLine(queue), "\n");
  }

  std::vector<std::string> agent_ids;
  for (const auto& [agent_id, login] : logins_) agent_ids.push_back(agent_id);
  std::sort(agent_ids.begin(), agent_ids.end());
  for (const std::string& agent_id : agent_ids) {
    acd::v1::AgentInfo info;
    FillAgentInfo(agent_id, &info);
    acd::v1::LoginRequest login;
    login.ParseFromString(logins_.at(agent_id));
    absl::StrAppend(&out, "agent ", OneLine(info), "\n  login ", OneLine(login), "\n");
  }

  std::vector<std::pair<std::string, const CallRecord*>> calls;
  book_.ForEach([&](const std::string& call_id, const CallRecord& record) {
    calls.emplace_back(call_id, &record);
  });
  std::sort(calls.begin(), calls.end());
  for (const auto& [call_id, record] : calls) {
    acd::v1::CallInfo info;
    FillCallInfo(call_id, *record, now, &info);
    absl::StrAppend(&out, "call ", OneLine(info), "\n  request ", OneLine(record->Request()),
                    "\n  first_response ", OneLine(record->first_response), "\n");
    for (const CallAnswers::Answer& answer : record->answers.answers()) {
      absl::StrAppend(&out, "  answered ", static_cast<int>(answer.event), " ", answer.agent_id,
                      " ", answer.subject, " ", acd::v1::CallState_Name(answer.state), "\n");
    }
    absl::StrAppend(&out, "  connected_sequence ", record->connected_sequence, " consults ",
                    record->consults, " hold_ids ", absl::StrJoin(record->hold_ids, ","),
                    " current_hold ", record->current_hold_id, " callback_number ",
                    record->callback_number, " agent_rung ", record->agent_rung, "\n");
    if (record->context_before_consult) {
      absl::StrAppend(&out, "  context_before_consult ", OneLine(*record->context_before_consult),
                      "\n");
    }
  }
  for (const acd::journal::v1::OutboxState& outbox : outboxes_.Save()) {
    absl::StrAppend(&out, "switch ", outbox.switch_id(), " next_sequence ", outbox.next_sequence(),
                    "\n");
    for (const acd::v1::Command& command : outbox.unwritten()) {
      absl::StrAppend(&out, "  unwritten ", OneLine(command), "\n");
    }
    for (const auto& offer : outbox.offers()) {
      absl::StrAppend(&out, "  offer ", offer.call_id(),
                      offer.written() ? " written " : " unwritten ", OneLine(offer.offer()), "\n");
    }
  }
  return out;
}

absl::Status Core::CheckInvariants() const {
  owner_.Check("Core::CheckInvariants");
  if (absl::Status s = router_->CheckInvariants(); !s.ok()) return s;
  absl::Status broken;
  auto fail = [&](const auto&... what) {
    if (broken.ok()) broken = absl::InternalError(absl::StrCat("core invariant broken: ", what...));
  };
  // A record is live exactly while the router holds its call, and a call rings exactly while its
  // switch's outbox keeps the offer outstanding, naming the agent the router reserved.
  size_t live = 0;
  book_.ForEach([&](const std::string& call_id, const CallRecord& record) {
    const std::string call = absl::StrCat("call ", routing::Quote(call_id));
    const std::optional<routing::CallView> view = router_->FindCall(call_id);
    live += record.finished == nullptr;
    if (record.finished == nullptr && !book_.ListedLive(call_id, record)) {
      fail(call, " is live but ListCalls would not list it");
    }
    if ((record.finished == nullptr) != view.has_value()) {
      fail(call, view ? " has left acd by its record but the router holds it"
                      : " has a live record but the router does not hold it");
      return;
    }
    const acd::v1::Command* offer = outboxes_.OutstandingOffer(record.switch_id(), call_id);
    const bool ringing = view && view->state == routing::CallState::kOffered;
    if ((offer != nullptr) != ringing) {
      fail(call, ringing ? " rings with no offer outstanding at its switch"
                         : " has an offer outstanding at its switch but does not ring");
    } else if (ringing && (offer->has_offer_call() ? offer->offer_call().agent_id()
                                                   : offer->start_callback().agent_id()) !=
                              view->agent_id) {
      fail(call, "'s outstanding offer names another agent than the one it rings");
    }
  });
  if (live != router_->call_count()) fail("the router holds calls the book has no live record of");
  if (live != book_.listed_live()) fail("ListCalls would list calls that have left acd");
  if (logins_.size() != router_->agent_count()) fail("logins kept differ from the agents logged in");
  for (const auto& [agent_id, login] : logins_) {
    if (!router_->HasAgent(agent_id)) {
      fail("agent ", routing::Quote(agent_id), " is not logged in but its login is kept");
    }
  }
  return broken;
}

}  // namespace acd::daemon
