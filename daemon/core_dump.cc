// Core::Dump: the core's state as canonical text. What the API shows of every queue, agent and
// call (finished ones included), plus what it does not: each call record's request, first answer,
// retry ledger and hold ids, each agent's login, every switch's outbox, the policy and its source.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "daemon/core.h"
#include "google/protobuf/text_format.h"

namespace acd::daemon {
namespace {

std::string OneLine(const google::protobuf::Message& message) {
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  std::string text;
  printer.PrintToString(message, &text);
  return text;
}

}  // namespace

std::string Core::Dump() const {
  owner_.Check("Core::Dump");
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
  outboxes_.Describe(&out);
  return out;
}

}  // namespace acd::daemon
