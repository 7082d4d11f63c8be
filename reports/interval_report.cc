#include "reports/interval_report.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace acd::reports {
namespace {

using daemon::HistoryEvent;

// A figure with three decimals; one with nothing to count is an empty field.
std::string Figure(std::optional<double> value) {
  return value ? absl::StrFormat("%.3f", *value) : "";
}

}  // namespace

IntervalReport::IntervalReport(IntervalOptions options,
                               std::function<QueueRules(const std::string& queue)> rules)
    : options_(options), rules_(std::move(rules)) {}

absl::Time IntervalReport::IntervalOf(absl::Time t) const {
  const int64_t step = absl::ToInt64Seconds(options_.interval);
  const int64_t seconds = absl::ToUnixSeconds(t);
  const int64_t floor =
      seconds >= 0 ? seconds / step * step : -((-seconds + step - 1) / step) * step;
  return absl::FromUnixSeconds(floor);
}

bool IntervalReport::InRange(absl::Time interval) const {
  return interval + options_.interval > options_.from && interval < options_.to;
}

IntervalReport::Row& IntervalReport::RowOf(absl::Time interval, const std::string& queue) {
  Row& row = rows_[{interval, queue}];
  row.start = interval;
  row.figures.queue = queue;
  return row;
}

void IntervalReport::Enter(const std::string& call_id, const std::string& queue, absl::Time at) {
  queues_.insert(queue);
  const absl::Time interval = IntervalOf(at);
  if (at < options_.from || at >= options_.to) {
    calls_.erase(call_id);  // its stay here is outside the report
    return;
  }
  calls_[call_id] = Visit{queue, interval};
  RowOf(interval, queue).figures.offered++;
}

void IntervalReport::AccrueStaffing(absl::Time until) {
  until = std::min(until, options_.to);
  if (accrued_until_ == absl::InfinitePast()) accrued_until_ = std::max(until, options_.from);
  while (accrued_until_ < until) {
    const absl::Time interval = IntervalOf(accrued_until_);
    const absl::Time stop = std::min(until, interval + options_.interval);
    for (const auto& [queue, count] : staffed_now_) {
      if (count > 0) {
        RowOf(interval, queue).figures.staffed_seconds +=
            count * absl::ToDoubleSeconds(stop - accrued_until_);
      }
    }
    accrued_until_ = stop;
  }
}

void IntervalReport::Staff(const std::string& agent_id, const std::vector<std::string>& queues,
                           bool staffing, absl::Time at) {
  if (at >= options_.from) AccrueStaffing(at);
  Member& member = members_[agent_id];
  if (member.staffing) {
    for (const std::string& queue : member.queues) staffed_now_[queue]--;
  }
  member = Member{queues, staffing};
  for (const std::string& queue : queues) {
    queues_.insert(queue);
    if (staffing) staffed_now_[queue]++;
  }
  if (queues.empty()) members_.erase(agent_id);
}

void IntervalReport::Record(const HistoryEvent& e) {
  first_event_ = std::min(first_event_, e.at);
  last_event_ = std::max(last_event_, e.at);
  switch (e.kind) {
    case HistoryEvent::kLoggedIn:
      Staff(e.agent_id, e.queues, e.reason.empty(), e.at);
      return;
    case HistoryEvent::kReady:
    case HistoryEvent::kNotReady:
      Staff(e.agent_id, e.queues, e.kind == HistoryEvent::kReady, e.at);
      return;
    case HistoryEvent::kLoggedOut:
      Staff(e.agent_id, {}, false, e.at);
      return;
    case HistoryEvent::kEntered:
      Enter(e.call_id, e.queue, e.at);
      return;
    case HistoryEvent::kOverflowed:
    case HistoryEvent::kTransferred:
    case HistoryEvent::kSentToFallback:
    case HistoryEvent::kCallbackAccepted:
    case HistoryEvent::kConnected:
    case HistoryEvent::kAbandoned:
    case HistoryEvent::kTalkEnded:
    case HistoryEvent::kLeft:
      break;
    default:
      return;
  }
  auto it = calls_.find(e.call_id);
  if (it == calls_.end()) {
    // A call that entered before the report may still overflow into a queue inside it.
    if (e.kind == HistoryEvent::kOverflowed) Enter(e.call_id, e.queue, e.at);
    return;
  }
  Visit& visit = it->second;
  Row& row = RowOf(visit.interval, visit.queue);
  routing::sim::WhatIfFigures& f = row.figures;
  const double seconds = absl::ToDoubleSeconds(e.duration);
  const QueueRules rules = rules_(visit.queue);
  switch (e.kind) {
    case HistoryEvent::kOverflowed:
      f.sent_on++;
      Enter(e.call_id, e.queue, e.at);
      return;
    case HistoryEvent::kTransferred:
      // A blind transfer to a queue enters it once the agent's talk (counted here) has ended.
      if (!e.warm && e.other.rfind("queue ", 0) == 0) visit.entering_next = e.other.substr(6);
      return;
    case HistoryEvent::kSentToFallback:
    case HistoryEvent::kCallbackAccepted:
      if (e.queue == visit.queue) f.sent_on++;
      return;
    case HistoryEvent::kConnected:
      if (e.queue != visit.queue) return;
      f.answered++;
      f.wait_answered_seconds += seconds;
      f.longest_wait_seconds = std::max(f.longest_wait_seconds, seconds);
      if (e.duration <= rules.service_level_threshold) f.answered_within_threshold++;
      return;
    case HistoryEvent::kAbandoned:
      if (e.queue != visit.queue) return;
      f.abandoned++;
      f.longest_wait_seconds = std::max(f.longest_wait_seconds, seconds);
      if (e.duration > rules.service_level_threshold) f.abandoned_after_threshold++;
      if (e.duration < options_.short_abandon) row.short_abandoned++;
      return;
    case HistoryEvent::kTalkEnded:
      if (e.queue != visit.queue) return;
      f.handled++;
      f.handle_seconds += absl::ToDoubleSeconds(e.duration + rules.wrap_up);
      if (!visit.entering_next.empty()) Enter(e.call_id, visit.entering_next, e.at);
      return;
    case HistoryEvent::kLeft:
      calls_.erase(it);
      return;
    default:
      return;
  }
}

std::vector<IntervalReport::Row> IntervalReport::Rows(absl::Time end) {
  std::vector<Row> out;
  if (first_event_ == absl::InfiniteFuture() && options_.from == absl::InfinitePast()) return out;
  const absl::Time stop = options_.to != absl::InfiniteFuture() ? options_.to : end;
  AccrueStaffing(stop);
  const absl::Time start =
      IntervalOf(options_.from != absl::InfinitePast() ? options_.from : first_event_);
  for (absl::Time interval = start; interval < stop; interval += options_.interval) {
    for (const std::string& queue : queues_) {
      auto it = rows_.find({interval, queue});
      if (it != rows_.end()) {
        out.push_back(it->second);
      } else {
        out.push_back(Row{.start = interval, .figures = {.queue = queue}});
      }
    }
  }
  return out;
}

std::string IntervalReport::Csv(absl::Time end) {
  std::string out =
      "interval_start,queue,offered,answered,answered_within_threshold,abandoned,"
      "short_abandoned,left_otherwise,service_level,asa_seconds,aht_seconds,"
      "longest_wait_seconds,average_agents_staffed\n";
  const double interval_seconds = absl::ToDoubleSeconds(options_.interval);
  for (const Row& r : Rows(end)) {
    const routing::sim::WhatIfFigures& f = r.figures;
    absl::StrAppend(
        &out, absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", r.start, absl::UTCTimeZone()), ",", f.queue,
        ",", f.offered, ",", f.answered, ",", f.answered_within_threshold, ",", f.abandoned, ",",
        r.short_abandoned, ",", f.sent_on, ",", Figure(f.service_level()), ",",
        Figure(f.asa_seconds()), ",", Figure(f.aht_seconds()), ",",
        Figure(f.answered + f.abandoned == 0 ? std::nullopt
                                             : std::optional<double>(f.longest_wait_seconds)),
        ",", Figure(f.staffed_seconds / interval_seconds), "\n");
  }
  return out;
}

}  // namespace acd::reports
