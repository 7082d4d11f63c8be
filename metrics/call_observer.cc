#include "metrics/call_observer.h"

#include <cmath>
#include <utility>

#include "metrics/wallboard_json.h"

namespace acd::metrics {

void CallObserver::SetPolicy(std::shared_ptr<const routing::CompiledPolicy> policy) {
  policy_ = std::move(policy);
  metrics_->SetQueues(*policy_);
}

QueueSeries* CallObserver::SeriesOf(absl::string_view queue) {
  if (policy_ == nullptr) return nullptr;
  std::optional<routing::QueueId> id = policy_->FindQueue(queue);
  return id ? metrics_->queue(*id) : nullptr;
}

void CallObserver::Answered(absl::string_view queue, absl::Duration waited, absl::Time at) {
  QueueSeries* q = SeriesOf(queue);
  if (q == nullptr) return;
  q->calls[static_cast<int>(Outcome::kAnswered)].Add(1);
  q->wait.Observe(absl::ToDoubleSeconds(waited));
  q->answered_wait.Observe(absl::ToDoubleSeconds(waited));
  q->figures.Answered(waited, at);
}

void CallObserver::Abandoned(absl::string_view queue, absl::Duration waited, absl::Time at) {
  QueueSeries* q = SeriesOf(queue);
  if (q == nullptr) return;
  q->calls[static_cast<int>(Outcome::kAbandoned)].Add(1);
  q->wait.Observe(absl::ToDoubleSeconds(waited));
  q->figures.Abandoned(waited, at);
}

void CallObserver::LeftLine(absl::string_view queue, Outcome outcome) {
  if (QueueSeries* q = SeriesOf(queue)) q->calls[static_cast<int>(outcome)].Add(1);
}

void CallObserver::TalkEnded(absl::string_view queue, absl::Duration talk, absl::Time at) {
  QueueSeries* q = SeriesOf(queue);
  if (q == nullptr) return;
  q->handle.Observe(absl::ToDoubleSeconds(talk));
  q->figures.Handled(talk + policy_->queues[*policy_->FindQueue(queue)].wrap_up, at);
}

void CallObserver::HoldEnded(absl::string_view queue, absl::Duration held) {
  if (QueueSeries* q = SeriesOf(queue)) q->hold.Observe(absl::ToDoubleSeconds(held));
}

void CallObserver::HoldOverrun(absl::string_view queue, absl::string_view reason) {
  if (QueueSeries* q = SeriesOf(queue)) q->hold_overruns[reason == "max" ? 1 : 0].Add(1);
}

void CallObserver::Prompted(absl::string_view queue, routing::PromptKind kind) {
  if (kind == routing::PromptKind::kNone) return;
  if (QueueSeries* q = SeriesOf(queue)) q->prompts[static_cast<int>(kind)].Add(1);
}

void CallObserver::Transferred(absl::string_view from_queue, routing::TransferKind kind) {
  if (QueueSeries* q = SeriesOf(from_queue)) q->transfers[static_cast<int>(kind)].Add(1);
}

void CallObserver::Callback(absl::string_view queue, CallbackOutcome outcome) {
  if (QueueSeries* q = SeriesOf(queue)) q->callbacks[static_cast<int>(outcome)].Add(1);
}

void CallObserver::Refresh(const routing::Router& router, absl::Time now) {
  for (const routing::CompiledQueue& queue : router.policy().queues) {
    absl::StatusOr<routing::QueueView> view = router.Queue(queue.name);
    QueueSeries* q = metrics_->queue(queue.id);
    if (!view.ok() || q == nullptr) continue;
    q->calls_waiting.Set(view->calls_waiting);
    q->callbacks_waiting.Set(view->callbacks_waiting);
    q->oldest_wait_seconds.Set(
        view->oldest_arrival ? absl::ToDoubleSeconds(now - *view->oldest_arrival) : 0);
    q->ewt_seconds.Set(view->expected_wait_for_new_call
                           ? absl::ToDoubleSeconds(*view->expected_wait_for_new_call)
                           : std::nan(""));
    q->staffed_agents.Set(view->staffed_agents);
    for (int s = 0; s < routing::kAgentStateCount; ++s) {
      q->agents_by_state[s].Set(view->agents_by_state[s]);
    }
  }
  metrics_->RefreshWindows(now);
  metrics_->PublishQueuesJson(WallboardJson(router.policy(), *metrics_, now));
}

}  // namespace acd::metrics
