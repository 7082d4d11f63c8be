// QueueWaitEstimator learns, online and per queue, how fast callers are served and how fast they
// give up, and turns that into the expected wait of one caller at one place in line: the
// queue-length estimator with abandonment ("QL-m", Ibrahim & Whitt). A caller with k callers
// ahead, all `servers` busy, leaves the line after k+1 exponential stages; in the stage with j
// callers still ahead the line moves at servers x service rate + j x abandonment rate. Given the
// caller is answered (their own patience outlasted every stage), each stage ends at theta more:
//   E[wait | k ahead, answered] = sum over j = 0..k of 1 / (servers x mu + (j + 1) x theta).
// mu is 1 / (learned handle time + the queue's wrap-up); theta is the censored maximum-likelihood
// patience rate: abandonments / total time spent waiting by everyone who left the line. Both
// forget old calls with a half-life, so a change in the day's traffic shows within minutes.
// Where staffing gives no signal (no call has ended here yet, or nobody staffs the queue) it falls
// back to the delay-history estimators: last-to-enter-service, then head-of-line.
//   QueueWaitEstimator est;
//   est.Served(absl::Seconds(40), now);            // a caller left the line to an agent
//   est.HandleEnded(absl::Seconds(180), now);      // a call ended after 180 s of talk
//   est.Estimate({.ahead = 3, .servers = 10, .wrap_up = absl::Seconds(10)}, now);
#ifndef ACD_ROUTING_WAIT_ESTIMATOR_H_
#define ACD_ROUTING_WAIT_ESTIMATOR_H_

#include <cstdint>
#include <optional>

#include "absl/time/time.h"

namespace acd::routing {

// The QL-m sum for `ahead` callers ahead: sum over j = 0..ahead of 1 / (service + j x theta), in
// seconds, where `service` is servers x mu per second and `theta` the abandonment rate per second.
// Constant time for any `ahead` (closed form in digamma for long lines).
// REQUIRES: ahead >= 0, service > 0, theta >= 0.
double QlmSum(int ahead, double service, double theta);

class QueueWaitEstimator {
 public:
  // What the line looks like for the caller being estimated.
  struct Line {
    int ahead = 0;                        // callers ahead of this one in the queue
    int servers = 0;                      // calls the queue's staffed agents hold at once
    absl::Duration wrap_up;               // the queue's wrap-up, added to learned talk time
    std::optional<absl::Duration> head_wait;  // how long the head of the line has waited so far
  };

  // A caller left the line to an agent (connected) after waiting `waited` in this queue.
  void Served(absl::Duration waited, absl::Time now);
  // A caller hung up while waiting, after `waited`.
  void Abandoned(absl::Duration waited, absl::Time now);
  // A caller left the line neither served nor hanging up (sent to a fallback, overflowed to
  // another queue, took a callback) after `waited`: time they stayed patient, with no abandon.
  void LeftLine(absl::Duration waited, absl::Time now);
  // A connected call of this queue ended after `talk` (hold included, wrap-up not).
  void HandleEnded(absl::Duration talk, absl::Time now);

  // Expected wait for the caller described by `line`, or nullopt when nothing honest can be said
  // (nobody staffs the queue and no caller has been served or waited yet).
  std::optional<absl::Duration> Estimate(const Line& line, absl::Time now) const;

  // What has been learned, for views and metrics.
  double mean_talk_seconds() const;           // 0 until a call ended
  // Calls ended here, each weighing less as it ages (the talk times' half-life), as of `now`:
  // how much of a shared agent's work this queue's calls make up lately.
  double recent_calls_ended(absl::Time now) const;
  uint64_t calls_ended() const { return calls_ended_; }
  double abandonment_rate_per_second() const;  // theta; 0 until a caller has waited
  std::optional<absl::Duration> last_served_wait() const { return last_served_wait_; }

 private:
  // Saves and restores what was learned (router_snapshot.cc).
  template <typename Archive, typename Estimator>
  friend void EstimatorFields(Archive& ar, Estimator& estimator);

  // Exponentially decayed sums (half-life kHalfLife) as of `as_of_`.
  void Decay(absl::Time now);

  absl::Time as_of_ = absl::InfinitePast();
  double talk_sum_ = 0, talk_weight_ = 0;       // decayed talk seconds and call count
  double abandons_ = 0, waiting_seconds_ = 0;   // decayed abandonments and seconds waited
  uint64_t calls_ended_ = 0;
  std::optional<absl::Duration> last_served_wait_;
};

}  // namespace acd::routing

#endif  // ACD_ROUTING_WAIT_ESTIMATOR_H_
