// IntervalReport turns the history into the per-queue interval figures workforce planning reads:
// for each queue and each 15, 30 or 60-minute interval, calls offered, answered, abandoned (and
// short abandons), service level, ASA, AHT, the longest wait and the agents staffed on average,
// as CSV. The definitions are the wallboard's (metrics/queue_figures.h):
// - a call counts in the interval it entered the queue (overflowing or being sent to another
//   queue enters that one anew), and its answer, abandon and handle time count there too;
// - service level = answered within the threshold / (answered + abandoned after the threshold);
//   ASA = wait of answered calls / answered; AHT = (talk, holds included, + the queue's wrap-up)
//   / calls whose talk ended; short abandons hung up within `short_abandon`;
// - agents staffed: logged in, serving the queue, and not paused (busy and wrapping up count), on
//   average over the interval.
// The threshold and wrap-up are the queue's as the policy stood when the call was answered or its
// talk ended (`rules`).
//   IntervalReport report({.interval = absl::Minutes(15), .from = from, .to = to}, rules);
//   ReplayHistory(data_dir, {from, to}, &report);
//   std::cout << report.Csv();
#ifndef ACD_REPORTS_INTERVAL_REPORT_H_
#define ACD_REPORTS_INTERVAL_REPORT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "daemon/history_sink.h"
#include "routing/sim/what_if.h"

namespace acd::reports {

struct IntervalOptions {
  absl::Duration interval = absl::Minutes(15);  // aligned on the UTC clock (:00, :15, ...)
  absl::Time from = absl::InfinitePast();       // default: the first event's interval
  absl::Time to = absl::InfiniteFuture();       // default: the end of the last event's interval
  absl::Duration short_abandon = absl::Seconds(5);
};

// A queue's rules as they stand: its service-level threshold and its wrap-up.
struct QueueRules {
  absl::Duration service_level_threshold = absl::Seconds(20);
  absl::Duration wrap_up;
};

class IntervalReport : public daemon::HistorySink {
 public:
  IntervalReport(IntervalOptions options,
                 std::function<QueueRules(const std::string& queue)> rules);

  void Record(const daemon::HistoryEvent& event) override;

  struct Row {
    absl::Time start;
    // The queue's figures in the interval (`sent_on`: overflowed, sent to a fallback, or took a
    // callback; `staffed_seconds`: agent-time staffed in the interval).
    routing::sim::WhatIfFigures figures;
    uint64_t short_abandoned = 0;
  };
  // Every interval of the range, for every queue the history named, in time then queue order;
  // staffing counted up to `end` (the history's last moment when the range is open-ended).
  std::vector<Row> Rows(absl::Time end);
  // The rows as CSV with a header line; figures with nothing to count are left empty.
  std::string Csv(absl::Time end);

 private:
  struct Visit {  // the call's stay in a queue, counted in the interval it entered
    std::string queue;
    absl::Time interval;
    std::string entering_next;  // a blind transfer's queue, entered when the talk ends
  };
  absl::Time IntervalOf(absl::Time t) const;
  bool InRange(absl::Time interval) const;
  Row& RowOf(absl::Time interval, const std::string& queue);
  void Enter(const std::string& call_id, const std::string& queue, absl::Time at);
  // From `at` on the agent serves `queues` (none: logged out), staffing them or not.
  void Staff(const std::string& agent_id, const std::vector<std::string>& queues, bool staffing,
             absl::Time at);
  // Adds each queue's staffed agent-time up to `until`.
  void AccrueStaffing(absl::Time until);

  const IntervalOptions options_;
  const std::function<QueueRules(const std::string&)> rules_;
  std::map<std::pair<absl::Time, std::string>, Row> rows_;
  absl::flat_hash_map<std::string, Visit> calls_;
  // Agents logged in: the queues each one serves and whether it staffs them now (not paused);
  // each queue's count of staffing agents since `accrued_until_`.
  struct Member {
    std::vector<std::string> queues;
    bool staffing = false;
  };
  absl::flat_hash_map<std::string, Member> members_;
  std::map<std::string, int> staffed_now_;
  std::set<std::string> queues_;  // every queue the history named
  absl::Time accrued_until_ = absl::InfinitePast();
  absl::Time first_event_ = absl::InfiniteFuture();
  absl::Time last_event_ = absl::InfinitePast();
};

}  // namespace acd::reports

#endif  // ACD_REPORTS_INTERVAL_REPORT_H_
