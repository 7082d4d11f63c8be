// What-if on recorded traffic: ReplayTrace runs a Trace (trace.h: the calls that arrived, their
// talk and patience, the agents' logins and pauses) through the real Router under a policy and
// returns each queue's figures; FiguresBook computes the same figures from whatever tells it what
// happened (the replay here, or the recorded history in reports/recorded_traffic.h), so the
// recorded day, its replay under the policy that ran, and its replay under a candidate compare
// figure for figure.
//
// The replay: each call arrives when it did, asking what it asked; as many of its offers as went
// unanswered in the recording ring out, then an offered agent answers after the ring the call's
// answering agent took (the queue's mean for calls never answered) and talks
// for the recorded talk (a draw from the queue's recorded talks for callers who never reached an
// agent); a caller who hung up waits as long as they did, and one who did not is known only to
// wait longer: their patience is their wait plus a draw from the queue's exponential patience
// fitted on the recording (abandons / total wait in line; none: they never hang up). Agents log
// in, pause and log out when they did, and one who cut a wrap-up short after a call does so after
// the same call; wrap-up, offers, overflow and every other rule are the policy's. Transfers and
// callbacks are not replayed as such: a call's talk is all its legs'.
//   absl::StatusOr<std::vector<WhatIfFigures>> replay = ReplayTrace(trace, candidate, 7);
#ifndef ACD_ROUTING_SIM_WHAT_IF_H_
#define ACD_ROUTING_SIM_WHAT_IF_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "routing/compiled_policy.h"
#include "routing/sim/trace.h"

namespace acd::routing::sim {

// One queue's figures over a span, by the wallboard's definitions (metrics/queue_figures.h): the
// what-if's columns, and each row of the interval report (reports/interval_report.h).
struct WhatIfFigures {
  std::string queue;
  uint64_t offered = 0;  // calls that entered it
  uint64_t answered = 0;
  uint64_t answered_within_threshold = 0;
  uint64_t abandoned = 0;
  uint64_t abandoned_after_threshold = 0;
  uint64_t sent_on = 0;  // overflowed, sent to the fallback, or took a callback
  uint64_t handled = 0;  // calls whose talk ended
  double wait_answered_seconds = 0;
  double longest_wait_seconds = 0;
  // Talk + wrap-up of the calls handled: the queue's wrap-up, or (in a what-if, which knows)
  // less when the agent cut it short.
  double handle_seconds = 0;
  double staffed_seconds = 0;  // agent-time staffed (logged in, not paused) on the queue

  // answered within / (answered + abandoned after the threshold); nullopt: nothing to count.
  std::optional<double> service_level() const;
  std::optional<double> asa_seconds() const;
  std::optional<double> aht_seconds() const;
  std::optional<double> abandon_rate() const;  // abandoned / (answered + abandoned)
  std::optional<double> occupancy() const;     // handle / staffed
};

// Accumulates the figures of the queues of `policy` (their thresholds and wrap-ups), times in
// seconds from 0: what happened, and which agents staffed which queues when.
class FiguresBook {
 public:
  explicit FiguresBook(std::shared_ptr<const CompiledPolicy> policy) : policy_(std::move(policy)) {}

  void Offered(const std::string& queue);
  void Answered(const std::string& queue, double wait);
  void Abandoned(const std::string& queue, double wait);
  void SentOn(const std::string& queue);
  // The talk and the queue's wrap-up, or the `wrap_up` the agent took when it cut it short.
  void TalkEnded(const std::string& queue, double talk,
                 std::optional<double> wrap_up = std::nullopt);
  // An agent cut the wrap-up after a talk already counted short to `wrap_up` seconds.
  void WrapUpCut(const std::string& queue, double wrap_up);
  // From `t` on, `agent` staffs `queues` (empty: none, paused or logged out).
  void Staff(const std::string& agent, const std::vector<std::string>& queues, double t);

  // Queues with any call, in the policy's order (a queue the policy lacks, after, by name), with
  // staffing counted up to `end`.
  std::vector<WhatIfFigures> Figures(double end);

 private:
  WhatIfFigures& Of(const std::string& queue);
  double WrapUpOf(const std::string& queue) const;
  void Accrue(double t);

  std::shared_ptr<const CompiledPolicy> policy_;
  std::map<std::string, WhatIfFigures> figures_;
  absl::flat_hash_map<std::string, std::vector<std::string>> staffing_;  // agent -> queues
  std::map<std::string, int> staffed_now_;
  double accrued_until_ = 0;
};

// The replay; INVALID_ARGUMENT names what the trace asks that the policy cannot take at all (a
// queue it lacks), never a crash. Same trace, policy and seed: same figures.
absl::StatusOr<std::vector<WhatIfFigures>> ReplayTrace(const Trace& trace,
                                                       std::shared_ptr<const CompiledPolicy> policy,
                                                       uint64_t seed);

}  // namespace acd::routing::sim

#endif  // ACD_ROUTING_SIM_WHAT_IF_H_
