#include "reports/call_records.h"

#include "absl/strings/str_cat.h"
#include "routing/json_text.h"

namespace acd::reports {
namespace {

using daemon::HistoryEvent;
using routing::JsonNumber;
using routing::JsonString;

std::string Rfc3339(absl::Time t) {
  return JsonString(absl::FormatTime("%Y-%m-%d%ET%H:%M:%E3SZ", t, absl::UTCTimeZone()));
}
std::string Seconds(absl::Duration d) { return JsonNumber(absl::ToDoubleSeconds(d)); }
std::string Names(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i)
    absl::StrAppend(&out, i ? "," : "", JsonString(names[i]));
  return out + "]";
}

}  // namespace

void CallRecords::Visit(Call& call, const std::string& queue) {
  if (call.queues.empty() || call.queues.back() != queue) call.queues.push_back(queue);
}

void CallRecords::Record(const HistoryEvent& e) {
  if (e.kind == HistoryEvent::kEntered) {
    if (e.at < from_ || e.at >= to_) return;
    Call& call = calls_[e.call_id];
    call = Call{.entered = e.at};
    Visit(call, e.queue);
    return;
  }
  if (e.call_id.empty()) return;  // an agent's event
  auto it = calls_.find(e.call_id);
  if (it == calls_.end()) {
    // Its entering was not seen (the history began after it): what its leaving says, if it
    // entered in range.
    const absl::Time entered = e.at - e.duration;
    if (e.kind == HistoryEvent::kLeft && entered >= from_ && entered < to_) {
      Call call{.entered = entered, .queues = {e.queue}};
      write_(Line(e.call_id, call, e, /*complete=*/false));
    }
    return;
  }
  Call& call = it->second;
  switch (e.kind) {
    case HistoryEvent::kOffered:
      ++call.offers;
      Visit(call, e.queue);
      return;
    case HistoryEvent::kConnected:
      call.waited += e.duration;
      if (!call.answered_after) call.answered_after = e.duration;
      Visit(call, e.queue);
      call.agents.push_back(e.agent_id);
      return;
    case HistoryEvent::kTransferCompleted:
      Visit(call, e.queue);
      call.agents.push_back(e.agent_id);
      return;
    case HistoryEvent::kAbandoned:
      call.waited += e.duration;
      return;
    case HistoryEvent::kTalkEnded:
      call.talked += e.duration;
      return;
    case HistoryEvent::kHoldStarted:
      ++call.holds;
      return;
    case HistoryEvent::kHoldEnded:
      call.held += e.duration;
      return;
    case HistoryEvent::kOverflowed:
      Visit(call, e.queue);
      return;
    case HistoryEvent::kTransferred:
      ++call.transfers;
      return;
    case HistoryEvent::kSentToFallback:
      call.fallback = e.other;
      return;
    case HistoryEvent::kCallbackAccepted:
      call.callback = true;
      return;
    case HistoryEvent::kPrompted:
      for (int k = 0; k < routing::kPromptKindCount; ++k) {
        if (e.reason == routing::PromptKindName(static_cast<routing::PromptKind>(k))) {
          ++call.prompts[k];
        }
      }
      return;
    case HistoryEvent::kLeft:
      write_(Line(e.call_id, call, e, /*complete=*/true));
      calls_.erase(it);
      return;
    default:
      return;
  }
}

std::string CallRecords::Line(const std::string& call_id, const Call& call,
                              const HistoryEvent& left, bool complete) const {
  std::string out = absl::StrCat(
      "{\"call_id\":", JsonString(call_id), ",\"entered\":", Rfc3339(call.entered),
      ",\"left\":", Rfc3339(left.at), ",\"outcome\":", JsonString(left.reason),
      ",\"queues\":", Names(call.queues), ",\"agents\":", Names(call.agents),
      ",\"offers\":", call.offers, ",\"wait_seconds\":", Seconds(call.waited),
      ",\"answered_after_seconds\":", call.answered_after ? Seconds(*call.answered_after) : "null",
      ",\"talk_seconds\":", Seconds(call.talked), ",\"holds\":", call.holds,
      ",\"hold_seconds\":", Seconds(call.held), ",\"transfers\":", call.transfers,
      ",\"callback\":", call.callback ? "true" : "false",
      ",\"fallback\":", call.fallback.empty() ? "null" : JsonString(call.fallback),
      ",\"prompts\":{");
  for (int k = 1; k < routing::kPromptKindCount; ++k) {  // kNone is never played
    absl::StrAppend(&out, k > 1 ? "," : "",
                    JsonString(routing::PromptKindName(static_cast<routing::PromptKind>(k))), ":",
                    call.prompts[k]);
  }
  return absl::StrCat(out, "},\"complete\":", complete ? "true" : "false", "}");
}

}  // namespace acd::reports
