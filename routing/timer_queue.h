// TimerQueue holds the router's deadlines (offer timeouts, escalation steps, max waits, preferred
// agent windows, wrap-up and cooldown ends) in due-time order. Cancelling is lazy: each timer
// carries the epoch of what it belongs to, and the router ignores timers whose epoch has moved on.
//   timers.Schedule({due, TimerKind::kOfferTimeout, slot, epoch});
//   while (auto t = timers.PopDue(now)) Handle(*t);
#ifndef ACD_ROUTING_TIMER_QUEUE_H_
#define ACD_ROUTING_TIMER_QUEUE_H_

#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

#include "absl/time/time.h"

namespace acd::routing {

enum class TimerKind : uint8_t {
  kOfferTimeout,       // call slot: the offer was not answered in time
  kEscalationStep,     // call slot: the next escalation step of its queue is due
  kMaxWait,            // call slot: the call has waited the queue's maximum
  kPreferredAgentEnd,  // call slot: the preferred agent's exclusive window ends
  kAgentAvailable,     // agent slot: wrap-up or offer cooldown ends
};

struct Timer {
  absl::Time due;
  TimerKind kind;
  uint32_t slot;
  uint64_t epoch;
  uint64_t seq = 0;  // set by Schedule: equal due times fire in scheduling order
};

class TimerQueue {
 public:
  void Schedule(Timer timer) {
    timer.seq = next_seq_++;
    heap_.push(timer);
  }
  // The earliest timer due at or before `now`, removed from the queue.
  std::optional<Timer> PopDue(absl::Time now) {
    if (heap_.empty() || heap_.top().due > now) return std::nullopt;
    Timer t = heap_.top();
    heap_.pop();
    return t;
  }
  std::optional<absl::Time> Earliest() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.top().due;
  }
  void PopEarliest() { heap_.pop(); }
  const Timer& Top() const { return heap_.top(); }
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }

 private:
  struct Later {
    bool operator()(const Timer& a, const Timer& b) const {
      return a.due != b.due ? a.due > b.due : a.seq > b.seq;
    }
  };
  std::priority_queue<Timer, std::vector<Timer>, Later> heap_;
  uint64_t next_seq_ = 0;
};

}  // namespace acd::routing

#endif  // ACD_ROUTING_TIMER_QUEUE_H_
