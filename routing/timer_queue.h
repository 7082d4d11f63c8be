// TimerQueue holds the router's deadlines (offer timeouts, escalation steps, max waits, preferred
// agent windows, prompts, hold reminders, callback retries, wrap-up and cooldown ends) in due-time
// order. Cancelling is eager, so the queue only ever holds live timers: its size is bounded by the
// calls and agents in the router, and a wake-up time it reports always has something to do.
//   TimerHandle h = timers.Schedule(due, TimerKind::kOfferTimeout, slot);
//   timers.Cancel(&h);                       // the offer was answered
//   while (auto t = timers.PopDue(now)) Handle(*t);
#ifndef ACD_ROUTING_TIMER_QUEUE_H_
#define ACD_ROUTING_TIMER_QUEUE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"

namespace acd::routing {

enum class TimerKind : uint8_t {
  kOfferTimeout,       // call slot: the offer was not answered in time
  kEscalationStep,     // call slot: the next escalation step of its queue is due
  kMaxWait,            // call slot: the call has waited the queue's maximum
  kPreferredAgentEnd,  // call slot: the preferred agent's exclusive window ends
  kAvoidEnd,           // call slot: the agent who transferred it away may take it again
  kPromptDue,          // call slot: the caller in line is due an update prompt
  kHoldReminder,       // call slot: remind the held caller and the agent
  kHoldOverrun,        // call slot: the hold passes its expected duration or the queue's maximum
  kCallbackRetry,      // call slot: a callback whose customer was not reached takes its place again
  kAgentAvailable,     // agent slot: wrap-up or offer cooldown ends
};
inline constexpr int kCallTimerKinds = 9;  // the kinds owned by a call (they come first)

struct Timer {
  absl::Time due;
  uint64_t seq;  // unique; equal due times fire in scheduling order
  TimerKind kind;
  uint32_t slot;
};

// Names a scheduled timer so its owner can cancel it; inactive when default-constructed.
struct TimerHandle {
  absl::Time due;
  uint64_t seq = 0;
  bool active() const { return seq != 0; }
};

class TimerQueue {
 public:
  TimerHandle Schedule(absl::Time due, TimerKind kind, uint32_t slot) {
    const uint64_t seq = next_seq_++;
    timers_.insert(Timer{due, seq, kind, slot});
    return TimerHandle{due, seq};
  }
  // Cancels the timer if it is still pending and leaves the handle inactive.
  void Cancel(TimerHandle* handle) {
    if (!handle->active()) return;
    timers_.erase(Timer{handle->due, handle->seq, TimerKind::kOfferTimeout, 0});
    *handle = TimerHandle{};
  }
  // The earliest timer due at or before `now`, removed from the queue.
  std::optional<Timer> PopDue(absl::Time now) {
    if (timers_.empty() || timers_.begin()->due > now) return std::nullopt;
    Timer t = *timers_.begin();
    timers_.erase(timers_.begin());
    return t;
  }
  std::optional<absl::Time> Earliest() const {
    if (timers_.empty()) return std::nullopt;
    return timers_.begin()->due;
  }
  size_t size() const { return timers_.size(); }

  // For snapshots (router_snapshot.cc): the pending timers in due order and the next seq, and
  // putting them back into an empty queue. Restore returns false, leaving the queue empty, when a
  // seq repeats or is not below next_seq.
  std::vector<Timer> Pending() const { return {timers_.begin(), timers_.end()}; }
  uint64_t next_seq() const { return next_seq_; }
  bool Restore(const std::vector<Timer>& timers, uint64_t next_seq) {
    timers_.clear();
    absl::flat_hash_set<uint64_t> seqs;
    for (const Timer& t : timers) {
      if (t.seq == 0 || t.seq >= next_seq || !seqs.insert(t.seq).second) {
        timers_.clear();
        return false;
      }
      timers_.insert(t);
    }
    next_seq_ = next_seq;
    return true;
  }

 private:
  struct Earlier {
    bool operator()(const Timer& a, const Timer& b) const {
      return a.due != b.due ? a.due < b.due : a.seq < b.seq;
    }
  };
  absl::btree_set<Timer, Earlier> timers_;
  uint64_t next_seq_ = 1;
};

}  // namespace acd::routing

#endif  // ACD_ROUTING_TIMER_QUEUE_H_
