#include "reports/queue_log.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace acd::reports {
namespace {

using daemon::HistoryEvent;

std::string Seconds(absl::Duration d) {
  return absl::StrCat(absl::ToInt64Seconds(std::max(d, absl::ZeroDuration())));
}
std::string Millis(absl::Duration d) {
  return absl::StrCat(absl::ToInt64Milliseconds(std::max(d, absl::ZeroDuration())));
}
// "queue sales" -> ("sales", "queue"); "agent a7" -> ("a7", "agent"); a fallback's target as is.
std::pair<std::string, std::string> ExtensionAndContext(const std::string& target) {
  for (const char* context : {"queue", "agent"}) {
    const std::string prefix = absl::StrCat(context, " ");
    if (target.rfind(prefix, 0) == 0) return {target.substr(prefix.size()), context};
  }
  return {target, "fallback"};
}

}  // namespace

void QueueLog::Line(absl::Time at, const std::string& call_id, const std::string& queue,
                    const std::string& agent_id, const char* verb, const std::string& data) {
  if (at < from_ || at >= to_) return;
  write_(absl::StrCat(absl::ToUnixSeconds(at), "|", call_id.empty() ? "NONE" : call_id, "|",
                      queue.empty() ? "NONE" : queue, "|", agent_id.empty() ? "NONE" : agent_id,
                      "|", verb, "|", data));
}

void QueueLog::Enter(Call& call, const std::string& call_id, const std::string& queue, int position,
                     absl::Time at) {
  call.queue = queue;
  call.original_position = std::max(position, 1);
  call.entered = at;
  // url|callerid: acd has no URL for a call, and keeps the caller's number out of its logs.
  Line(at, call_id, queue, "", "ENTERQUEUE", "|");
}

absl::Duration QueueLog::StopRinging(Call& call, absl::Time at) {
  const absl::Time since = call.ringing_since;
  call.ringing_since = absl::InfinitePast();
  return since == absl::InfinitePast() ? absl::ZeroDuration() : at - since;
}

void QueueLog::Agent(const HistoryEvent& event, const char* verb, const std::string& data) {
  for (const std::string& queue : event.queues)
    Line(event.at, "", queue, event.agent_id, verb, data);
}

void QueueLog::Record(const HistoryEvent& e) {
  switch (e.kind) {
    case HistoryEvent::kLoggedIn:
      Agent(e, "ADDMEMBER", "");
      if (!e.reason.empty() && paused_.insert(e.agent_id).second) Agent(e, "PAUSE", e.reason);
      return;
    case HistoryEvent::kLoggedOut:
      paused_.erase(e.agent_id);
      Agent(e, "REMOVEMEMBER", "");
      return;
    case HistoryEvent::kNotReady:
      if (paused_.insert(e.agent_id).second) Agent(e, "PAUSE", e.reason);
      return;
    case HistoryEvent::kReady:
      if (paused_.erase(e.agent_id) > 0) Agent(e, "UNPAUSE", "");
      return;
    default:
      break;
  }
  if (e.kind == HistoryEvent::kEntered) {
    Enter(calls_[e.call_id], e.call_id, e.queue, e.position, e.at);
    return;
  }
  // A call already in acd when the history began is taken as it is found.
  auto [it, found_now] = calls_.try_emplace(e.call_id);
  Call& call = it->second;
  if (found_now) {
    call.queue = e.kind == HistoryEvent::kOverflowed ? e.other : e.queue;
    call.entered = e.at;
  }
  // The call is somewhere new without a word of how it got there: it entered that queue.
  const bool moving = !call.transferred_to.empty() || call.consulting;
  if (!moving && e.queue != call.queue && e.kind != HistoryEvent::kOverflowed &&
      e.kind != HistoryEvent::kTalkEnded && e.kind != HistoryEvent::kLeft) {
    Enter(call, e.call_id, e.queue, 0, e.at);
  }
  switch (e.kind) {
    case HistoryEvent::kOffered:
      call.ringing_since = e.at;
      if (call.consulting || !call.transferred_to.empty()) call.next_queue = e.queue;
      return;
    case HistoryEvent::kOfferEnded: {
      const absl::Duration rang = StopRinging(call, e.at);
      Line(e.at, e.call_id, e.queue, e.agent_id,
           e.reason == "abandoned" ? "RINGCANCELED" : "RINGNOANSWER", Millis(rang));
      return;
    }
    case HistoryEvent::kConnected: {
      const absl::Duration rang = StopRinging(call, e.at);
      call.waited = e.duration;
      call.talking = true;
      // holdtime|bridgedchanneluniqueid|ringtime: the agent's leg is the call's in acd.
      Line(e.at, e.call_id, e.queue, e.agent_id, "CONNECT",
           absl::StrCat(Seconds(e.duration), "|", e.call_id, "|", Seconds(rang)));
      return;
    }
    case HistoryEvent::kCallerHungUp:
      call.caller_hung_up = true;
      return;
    case HistoryEvent::kTalkEnded: {
      call.talking = false;
      const std::string times =
          absl::StrCat(Seconds(call.waited), "|", Seconds(e.duration), "|", call.original_position);
      if (!call.transferred_to.empty()) {
        // extension|context|holdtime|calltime|origposition
        auto [extension, context] = ExtensionAndContext(call.transferred_to);
        Line(e.at, e.call_id, e.queue, e.agent_id, "TRANSFER",
             absl::StrCat(extension, "|", context, "|", times));
        call.transferred_to.clear();
        if (!call.next_queue.empty() && call.next_queue != call.queue) {
          Enter(call, e.call_id, call.next_queue, 0, e.at);
        }
        call.next_queue.clear();
        if (!call.next_agent.empty()) {  // a warm transfer: the caller is with them already
          Line(e.at, e.call_id, call.queue, call.next_agent, "CONNECT",
               absl::StrCat("0|", e.call_id, "|0"));
          call.waited = absl::ZeroDuration();
          call.talking = true;
          call.next_agent.clear();
        }
        return;
      }
      call.consulting = false;
      Line(e.at, e.call_id, e.queue, e.agent_id,
           call.caller_hung_up ? "COMPLETECALLER" : "COMPLETEAGENT", times);
      return;
    }
    case HistoryEvent::kAbandoned:
      // position|origposition|waittime; a caller who hung up while ringing was first in line.
      Line(e.at, e.call_id, e.queue, e.agent_id, "ABANDON",
           absl::StrCat(std::max(e.position, 1), "|", call.original_position, "|",
                        Seconds(e.duration)));
      return;
    case HistoryEvent::kOverflowed:
      // position|origposition|waittime; the place in line at that moment is not kept (0).
      Line(e.at, e.call_id, e.other, "", "EXITWITHTIMEOUT",
           absl::StrCat("0|", call.original_position, "|", Seconds(e.at - call.entered)));
      Enter(call, e.call_id, e.queue, 0, e.at);
      return;
    case HistoryEvent::kSentToFallback:
      if (call.talking) {  // over the transfer limit: the agent's part ends as a transfer
        call.transferred_to = e.other;
        return;
      }
      Line(e.at, e.call_id, e.queue, "", e.reason == "queue_full" ? "FULL" : "EXITWITHTIMEOUT",
           absl::StrCat("0|", call.original_position, "|", Seconds(e.at - call.entered)));
      return;
    case HistoryEvent::kTransferred:
      if (e.warm) {
        call.consulting = true;
      } else {
        call.transferred_to = e.other;
        if (auto [queue, context] = ExtensionAndContext(e.other); context == std::string("queue")) {
          call.next_queue = queue;
        }
      }
      return;
    case HistoryEvent::kTransferCompleted:
      call.consulting = false;
      call.transferred_to = absl::StrCat("agent ", e.agent_id);
      call.next_queue = e.queue;
      call.next_agent = e.agent_id;
      return;
    case HistoryEvent::kCallbackAccepted:
      // key|position|origposition|waittime: the caller left the line for a callback.
      Line(e.at, e.call_id, e.queue, "", "EXITWITHKEY",
           absl::StrCat("callback|0|", call.original_position, "|", Seconds(e.at - call.entered)));
      return;
    case HistoryEvent::kLeft:
      calls_.erase(it);
      return;
    default:
      return;  // holds, prompts and a callback's attempts have no queue_log verb
  }
}

}  // namespace acd::reports
