// QL-m with online rates; see wait_estimator.h.
//
// Choices, measured with acdsim (routing/sim/README.md):
// - One hour half-life. Longer lowers the noise of the learned handle time (at 0.5 h the
//   estimate of M/M/100 wobbles enough to add ~1.5% to RMSE/mean wait), shorter follows a change
//   in the work sooner; an hour still weighs the last ~40 minutes' calls as much as all before.
//   Arrivals need no learning at all: the callers ahead are counted, not predicted, which is why
//   QL-m follows load that alternates every 10 minutes where delay-history estimators lag.
// - theta is the censored maximum-likelihood rate of exponential patience: abandonments divided by
//   the time everyone who left the line spent in it (served callers count as exposure without an
//   abandonment). A small prior exposure keeps the first hang-up after a few seconds of waiting
//   from claiming that callers give up within seconds.
// - The sum has a closed form in digamma, so a line of 10,000 callers costs what a line of 10 does.
// - The estimate is for a caller who is answered, which is what callers who reach an agent live
//   through and what acdsim scores. Without conditioning on the caller's own patience, a small
//   center with impatient callers (M/M/2, patience 4 min) was told waits 60% too long on average;
//   with it, 4% (routing/sim/README.md).
#include "routing/wait_estimator.h"

#include <algorithm>
#include <cmath>

namespace acd::routing {
namespace {

constexpr double kHalfLifeSeconds = 3600;
// As if one caller had waited two minutes and been served before anything was seen.
constexpr double kPriorExposureSeconds = 120;
// Below this weight decayed sums are scaled back up (keeping their ratio) so that a queue idle
// for months does not underflow to "no data".
constexpr double kMinWeight = 1e-9;
// Lines up to this long are summed term by term; longer ones use the digamma closed form.
constexpr int kDirectSumLimit = 64;

double DecayFactor(absl::Duration elapsed) {
  const double s = absl::ToDoubleSeconds(elapsed);
  return s <= 0 ? 1.0 : std::exp2(-s / kHalfLifeSeconds);
}

void KeepRatio(double& sum, double& weight) {
  if (weight > 0 && weight < kMinWeight) {
    sum *= kMinWeight / weight;
    weight = kMinWeight;
  }
}

// psi(x) for x > 0: recurrence up to 6, then the asymptotic series (error < 1e-12 there).
double Digamma(double x) {
  double result = 0;
  while (x < 6) {
    result -= 1 / x;
    x += 1;
  }
  const double inv = 1 / x, inv2 = inv * inv;
  return result + std::log(x) - 0.5 * inv -
         inv2 * (1.0 / 12 - inv2 * (1.0 / 120 - inv2 * (1.0 / 252 - inv2 * (1.0 / 240 -
                                                                              inv2 / 132))));
}

}  // namespace

// sum over j = 0..k of 1 / (service + j x theta), in seconds.
double QlmSum(int k, double service, double theta) {
  if (theta <= 0 || k * theta < 1e-9 * service) return (k + 1) / service;
  if (k <= kDirectSumLimit) {
    double wait = 0;
    for (int j = 0; j <= k; ++j) wait += 1.0 / (service + j * theta);
    return wait;
  }
  const double x = service / theta;
  return (Digamma(x + k + 1) - Digamma(x)) / theta;
}

void QueueWaitEstimator::Decay(absl::Time now) {
  if (as_of_ == absl::InfinitePast()) {
    as_of_ = now;
    return;
  }
  if (now <= as_of_) return;
  const double f = DecayFactor(now - as_of_);
  talk_sum_ *= f;
  talk_weight_ *= f;
  abandons_ *= f;
  waiting_seconds_ *= f;
  KeepRatio(talk_sum_, talk_weight_);
  if (abandons_ > 0) KeepRatio(waiting_seconds_, abandons_);
  as_of_ = now;
}

void QueueWaitEstimator::Served(absl::Duration waited, absl::Time now) {
  Decay(now);
  waiting_seconds_ += std::max(0.0, absl::ToDoubleSeconds(waited));
  last_served_wait_ = std::max(waited, absl::ZeroDuration());
}

void QueueWaitEstimator::Abandoned(absl::Duration waited, absl::Time now) {
  Decay(now);
  waiting_seconds_ += std::max(0.0, absl::ToDoubleSeconds(waited));
  abandons_ += 1;
}

void QueueWaitEstimator::LeftLine(absl::Duration waited, absl::Time now) {
  Decay(now);
  waiting_seconds_ += std::max(0.0, absl::ToDoubleSeconds(waited));
}

void QueueWaitEstimator::HandleEnded(absl::Duration talk, absl::Time now) {
  Decay(now);
  talk_sum_ += std::max(0.0, absl::ToDoubleSeconds(talk));
  talk_weight_ += 1;
  calls_ended_++;
}

double QueueWaitEstimator::mean_talk_seconds() const {
  return talk_weight_ > 0 ? talk_sum_ / talk_weight_ : 0;
}

double QueueWaitEstimator::recent_calls_ended(absl::Time now) const {
  return now > as_of_ ? talk_weight_ * DecayFactor(now - as_of_) : talk_weight_;
}

double QueueWaitEstimator::abandonment_rate_per_second() const {
  return abandons_ > 0 ? abandons_ / (waiting_seconds_ + kPriorExposureSeconds) : 0;
}

std::optional<absl::Duration> QueueWaitEstimator::Estimate(const Line& line,
                                                           absl::Time now) const {
  const double handle = mean_talk_seconds() + absl::ToDoubleSeconds(line.wrap_up);
  if (line.servers > 0 && calls_ended_ > 0 && handle > 0) {
    // The line moves at servers x mu while all servers are busy, plus j x theta while j callers
    // ahead may still hang up; given this caller is answered, their own patience (theta too)
    // outlasted every stage, which conditions each stage to end at theta more.
    const double service = line.servers / handle;
    const double theta = abandonment_rate_per_second();
    return absl::Seconds(QlmSum(std::max(0, line.ahead), service + theta, theta));
  }
  // Staffing says nothing (no call has ended here, or nobody staffs the queue): the delay
  // history does. The last caller to reach an agent waited this long; failing that, the head of
  // the line has waited this long so far.
  if (last_served_wait_) return *last_served_wait_;
  if (line.head_wait && *line.head_wait > absl::ZeroDuration()) return *line.head_wait;
  return std::nullopt;
}

}  // namespace acd::routing
