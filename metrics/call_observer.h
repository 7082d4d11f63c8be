// CallObserver turns what happens to calls into acdd's figures (metrics/README.md lists them): the
// daemon's core reports each fact here as it learns it, and once a second Refresh() sets the live
// queue gauges, recomputes the rolling windows and publishes the wallboard's JSON. Engine thread
// only; it reads no clock (every report carries its time) and never blocks a scrape.
//   CallObserver observer(&metrics);
//   observer.SetPolicy(policy);                           // on start and on each reload
//   observer.Answered("sales", absl::Seconds(12), now);   // a caller reached an agent
//   observer.Refresh(router, now);                        // once a second
#ifndef ACD_METRICS_CALL_OBSERVER_H_
#define ACD_METRICS_CALL_OBSERVER_H_

#include <memory>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "metrics/acd_metrics.h"
#include "routing/compiled_policy.h"
#include "routing/prompt_kind.h"
#include "routing/router.h"

namespace acd::metrics {

class CallObserver {
 public:
  explicit CallObserver(AcdMetrics* metrics) : metrics_(metrics) {}

  // The policy whose queues the figures are kept for (AcdMetrics::SetQueues follows it). A queue
  // unknown to it is not counted.
  void SetPolicy(std::shared_ptr<const routing::CompiledPolicy> policy);

  // A caller left the line to an agent after waiting `waited` in `queue`.
  void Answered(absl::string_view queue, absl::Duration waited, absl::Time at);
  // A caller hung up in line (waiting or ringing) after `waited`.
  void Abandoned(absl::string_view queue, absl::Duration waited, absl::Time at);
  // A caller left the line otherwise: overflowed, took a callback, or went to a fallback.
  void LeftLine(absl::string_view queue, Outcome outcome);
  // An agent's part of a call answered in `queue` ended after `talk` (holds included); the
  // queue's wrap-up follows it in the handle time.
  void TalkEnded(absl::string_view queue, absl::Duration talk, absl::Time at);
  void HoldEnded(absl::string_view queue, absl::Duration held);
  // reason: "expected" or "max".
  void HoldOverrun(absl::string_view queue, absl::string_view reason);
  void Prompted(absl::string_view queue, routing::PromptKind kind);
  void Transferred(absl::string_view from_queue, routing::TransferKind kind);
  void Callback(absl::string_view queue, CallbackOutcome outcome);

  // The live gauges of every queue from `router`'s views, the rolling windows, and the
  // wallboard's JSON, as of `now`.
  void Refresh(const routing::Router& router, absl::Time now);

 private:
  QueueSeries* SeriesOf(absl::string_view queue);

  AcdMetrics* const metrics_;
  std::shared_ptr<const routing::CompiledPolicy> policy_;
};

}  // namespace acd::metrics

#endif  // ACD_METRICS_CALL_OBSERVER_H_
