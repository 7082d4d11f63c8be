// The core's operations side: what the admin API and a resyncing switch read (queues, agents, one
// call's story, the live calls of a switch), and the policy: shown, validated, diffed, applied.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "daemon/api_convert.h"
#include "daemon/core.h"
#include "daemon/log.h"
#include "daemon/policy_request.h"
#include "daemon/text_diff.h"
#include "routing/policy_text.h"
#include "routing/policy_validator.h"
#include "routing/quote.h"

namespace acd::daemon {

acd::v1::CallState Core::StateOf(absl::string_view call_id, const CallRecord& record) const {
  if (record.finished) return record.finished->state;
  std::optional<routing::CallState> state = router_->CallStateOf(call_id);
  return state ? CallStateToProto(*state) : acd::v1::CALL_STATE_UNSPECIFIED;
}

// A live call as the router sees it now; a finished one as it was when it left.
void Core::FillCallInfo(absl::string_view call_id, const CallRecord& record, absl::Time now,
                        acd::v1::CallInfo* info) const {
  info->set_call_id(call_id.data(), call_id.size());
  info->set_switch_id(record.switch_id());
  info->set_state(StateOf(call_id, record));
  info->set_expected_wait_seconds(-1);
  if (record.finished) {
    const FinishedCall& finished = *record.finished;
    info->set_queue(finished.queue);
    *info->mutable_arrived() = TimestampOf(finished.arrived);
    info->set_agent_id(finished.agent_id);
    info->set_hold_count(finished.holds);
    info->set_hold_seconds(absl::ToDoubleSeconds(finished.hold_time));
  } else if (std::optional<routing::CallView> view = router_->FindCall(call_id)) {
    *info->mutable_arrived() = TimestampOf(view->arrived);
    info->set_queue(view->queue);
    info->set_position(view->position);
    info->set_agent_id(view->agent_id);
    info->set_priority(view->priority);
    info->set_expected_wait_seconds(SecondsOrUnknown(view->expected_wait));
    info->set_callback(view->callback);
    info->set_callback_attempts(view->callback_attempts);
    info->set_consulting_agent(view->consulting_agent);
    info->set_prompts_played(view->prompts_played);
    info->set_on_hold(view->on_hold);
    info->set_hold_count(view->holds);
    // The view is as of the router's last event; a hold still going on has lasted until now.
    const absl::Duration since = view->on_hold ? now - router_->now() : absl::ZeroDuration();
    info->set_hold_seconds(absl::ToDoubleSeconds(view->hold_time + since));
  }
  for (const HistoryEntry& entry : record.history) {
    acd::v1::CallHistoryEntry* out = info->add_history();
    *out->mutable_at() = TimestampOf(entry.at);
    out->set_what(entry.what);
    out->set_detail(entry.detail);
  }
  *info->mutable_context() = record.context();
  info->set_callback_number(record.callback_number);
  *info->mutable_attributes() = record.Request().attributes();
}

bool Core::FillAgentInfo(const std::string& agent_id, acd::v1::AgentInfo* info) const {
  std::optional<routing::AgentView> view = router_->FindAgent(agent_id);
  if (!view) return false;
  daemon::FillAgentInfo(*view, info);
  return true;
}

absl::Status Core::ListCalls(const acd::v1::ListCallsRequest& request,
                             acd::v1::ListCallsResponse* response, absl::Time now) const {
  owner_.Check("Core::ListCalls");
  const int page_size =
      request.page_size() <= 0 ? kDefaultCallsPage : std::min(request.page_size(), kMaxCallsPage);
  response->mutable_calls()->Reserve(std::min(page_size, 64));
  size_t bytes = 0;
  book_.ForEachLiveOf(request.switch_id(), request.page_token(),
                      [&](absl::string_view call_id, const CallRecord& record) {
                        if (response->calls_size() == page_size || bytes >= kCallsPageBytes) {
                          const int last = response->calls_size() - 1;
                          response->set_next_page_token(response->calls(last).call_id());
                          return false;
                        }
                        acd::v1::CallInfo* info = response->add_calls();
                        FillCallInfo(call_id, record, now, info);
                        bytes += info->ByteSizeLong();
                        return true;
                      });
  return absl::OkStatus();
}

absl::Status Core::ListQueues(acd::v1::ListQueuesResponse* response, absl::Time now) const {
  owner_.Check("Core::ListQueues");
  *response->mutable_at() = TimestampOf(now);
  for (const routing::CompiledQueue& queue : router_->policy().queues) {
    absl::StatusOr<routing::QueueView> view = router_->Queue(queue.name);
    if (view.ok()) FillQueueInfo(queue, *view, now, response->add_queues());
  }
  return absl::OkStatus();
}

absl::Status Core::ListAgents(const acd::v1::ListAgentsRequest& request,
                              acd::v1::ListAgentsResponse* response) const {
  owner_.Check("Core::ListAgents");
  if (!request.queue().empty() && !router_->policy().FindQueue(request.queue())) {
    return absl::NotFoundError(
        absl::StrCat("queue ", routing::Quote(request.queue()), " does not exist"));
  }
  std::vector<std::string> ids;
  ids.reserve(logins_.size());
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
  return absl::OkStatus();
}

absl::Status Core::GetCall(const acd::v1::GetCallRequest& request, acd::v1::CallInfo* response,
                           absl::Time now) const {
  owner_.Check("Core::GetCall");
  const CallRecord* record = book_.Find(request.call_id());
  if (record == nullptr) {
    return absl::NotFoundError(absl::StrCat("no call ", routing::Quote(request.call_id()),
                                            " (finished calls are kept for ",
                                            absl::FormatDuration(book_.retention()), ")"));
  }
  FillCallInfo(request.call_id(), *record, now, response);
  return absl::OkStatus();
}

absl::Status Core::GetPolicy(acd::v1::PolicyInfo* response) const {
  owner_.Check("Core::GetPolicy");
  *response->mutable_policy() = router_->policy().source;
  response->set_yaml(router_->policy().yaml());
  *response->mutable_applied_at() = TimestampOf(policy_applied_at_);
  response->set_source(policy_source_);
  return absl::OkStatus();
}

absl::Status Core::ApplyPolicy(std::shared_ptr<const routing::CompiledPolicy> policy,
                               const std::string& source, absl::Time now) {
  CatchUp(now);  // what fell due under the running policy is settled under it
  absl::Status status = router_->ReplacePolicy(policy, now);
  if (!status.ok()) {
    Settle();
    return status;
  }
  if (observer_) observer_->SetPolicy(std::move(policy));
  const std::string replaced = policy_source_;
  policy_source_ = source;
  policy_applied_at_ = now;
  Settle();
  AddNotice("policy", absl::StrCat("policy '", router_->policy().source.name(), "' from ", source,
                                   " applied, replacing the one from ", replaced));
  return absl::OkStatus();
}

absl::Status Core::SetPolicy(const acd::v1::SetPolicyRequest& request,
                             acd::v1::SetPolicyResponse* response, absl::Time now,
                             const PolicyRequestPrepared* prepared) {
  owner_.Check("Core::SetPolicy");
  absl::StatusOr<PolicyRequestPrepared> here;
  if (prepared == nullptr) {
    here = PreparePolicyRequest(request);
    if (!here.ok()) return here.status();
    prepared = &*here;
  }
  std::vector<routing::PolicyProblem> problems = prepared->problems;
  std::shared_ptr<const routing::CompiledPolicy> compiled;
  if (problems.empty()) {
    compiled = prepared->compiled;
    // A dry run answers what the apply would: the policy must also fit the calls live now.
    if (absl::Status fits = router_->CanReplacePolicy(*compiled); !fits.ok()) {
      if (!request.validate_only()) return fits;
      problems.push_back(routing::PolicyProblem{"", std::string(fits.message())});
    }
  }
  acd::v1::SetPolicyResponse unread;  // a replay's answer, which no one reads
  if (!problems.empty()) return AnswerProblems(request, problems, response ? response : &unread);
  if (response != nullptr) {
    // The diff made off this thread when it was made from the policy in force; a replay has none.
    response->set_diff(
        prepared->diff_base.get() == &router_->policy()
            ? prepared->diff
            : UnifiedDiff(router_->policy().yaml(), compiled->yaml(), "running", "new"));
  }
  if (request.validate_only()) return absl::OkStatus();
  absl::Status applied = ApplyPolicy(compiled, "admin api", now);
  if (response != nullptr) response->set_applied(applied.ok());
  return applied;
}

absl::Status Core::ApplyPolicyText(
    const std::string& yaml, const std::string& source, absl::Time now,
    const absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>>* compiled) {
  owner_.Check("Core::ApplyPolicyText");
  absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> here;
  if (compiled == nullptr) {
    here = routing::CompilePolicyText(yaml, source);
    compiled = &here;
  }
  absl::Status status = compiled->ok() ? ApplyPolicy(**compiled, source, now) : compiled->status();
  if (!status.ok()) {
    AddNotice("policy",
              absl::StrCat("reload refused, the running policy stays: ", status.message()));
  }
  return status;
}

absl::Status Core::ApplyStartupPolicy(const acd::v1::Policy& policy, const std::string& source,
                                      absl::Time now) {
  owner_.Check("Core::ApplyStartupPolicy");
  absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> compiled =
      routing::CompilePolicy(policy);
  absl::Status status =
      compiled.ok() ? ApplyPolicy(*compiled, source, now) : compiled.status();
  if (!status.ok()) {
    AddNotice("policy", absl::StrCat("the policy acdd started with (", source,
                                     ") changed since it last ran but is refused; the policy in "
                                     "force stays: ",
                                     status.message()));
  }
  return status;
}

std::optional<acd::v1::LoginRequest> Core::LoginOf(const std::string& agent_id) const {
  owner_.Check("Core::LoginOf");
  auto it = logins_.find(agent_id);
  if (it == logins_.end()) return std::nullopt;
  acd::v1::LoginRequest login;
  if (!login.ParseFromString(it->second)) return std::nullopt;
  return login;
}

}  // namespace acd::daemon
