// Fence is the leader's own deadline for acknowledging anything: the end of its etcd lease as the
// leader can prove it, minus a margin. Each renewal that etcd answers with a live lease moves it to
// (when that renewal was sent) + (the granted TTL) − margin: etcd expires a lease no earlier than
// TTL after it processed the renewal, which is after it was sent. Every place that lets an effect
// leave acdd (a reply, a command, a stream message) asks Open() first, at that moment: a leader
// paused past its lease (SIGSTOP, a swap storm) finds the fence shut as it wakes up, before any
// timer of its own has had a chance to run.
//
// Times come from the BootClock (CLOCK_BOOTTIME): it keeps counting while the host is suspended,
// as etcd's clock does, which CLOCK_MONOTONIC does not.
//   Fence fence;
//   fence.ExtendTo(sent + lease.ttl - margin);     // leadership thread
//   if (!fence.Open(boot_clock.Now())) refuse();   // any thread
#ifndef ACD_DAEMON_HA_FENCE_H_
#define ACD_DAEMON_HA_FENCE_H_

#include <time.h>

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace acd::daemon::ha {

// Time since boot, suspended time included. A fake in tests.
class BootClock {
 public:
  virtual ~BootClock() = default;
  virtual absl::Duration Now() const {
    timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return absl::DurationFromTimespec(ts);
  }
};

class Fence {
 public:
  // Any thread: whether acknowledging at `now` is allowed.
  bool Open(absl::Duration now) const {
    return absl::Nanoseconds(deadline_ns_.load(std::memory_order_acquire)) > now;
  }
  // How long the fence stays open after `now` (zero when shut).
  absl::Duration Remaining(absl::Duration now) const {
    const absl::Duration left =
        absl::Nanoseconds(deadline_ns_.load(std::memory_order_acquire)) - now;
    return left > absl::ZeroDuration() ? left : absl::ZeroDuration();
  }
  // The leadership's thread: opens the fence up to `deadline`, never moving it back.
  void ExtendTo(absl::Duration deadline) {
    const int64_t ns = absl::ToInt64Nanoseconds(deadline);
    int64_t old = deadline_ns_.load(std::memory_order_relaxed);
    while (old < ns && !deadline_ns_.compare_exchange_weak(old, ns, std::memory_order_acq_rel)) {
    }
  }
  // Shut at once (stepping down).
  void Shut() { deadline_ns_.store(0, std::memory_order_release); }

 private:
  std::atomic<int64_t> deadline_ns_{0};
};

}  // namespace acd::daemon::ha

#endif  // ACD_DAEMON_HA_FENCE_H_
