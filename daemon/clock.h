// Clock is where acdd's time comes from. The shell reads it once per input and hands that time to
// the core, which never reads a clock itself; timers are armed from it too. RealClock is the wall
// time at start plus steady time since, so it never jumps backwards; FakeClock is moved by hand.
//   RealClock clock;
//   core.EnqueueCall(request, &response, clock.Now());
//   FakeClock fake(absl::FromUnixSeconds(1'800'000'000));
//   fake.Advance(absl::Seconds(5));
#ifndef ACD_DAEMON_CLOCK_H_
#define ACD_DAEMON_CLOCK_H_

#include <chrono>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace acd::daemon {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // The steady-clock instant at which this clock reads `t`, for arming asio timers.
  virtual std::chrono::steady_clock::time_point ToSteady(absl::Time t) const = 0;
};

// Immutable after construction: any thread may read it.
class RealClock final : public Clock {
 public:
  RealClock() : steady_start_(std::chrono::steady_clock::now()), wall_start_(absl::Now()) {}
  absl::Time Now() const override {
    return wall_start_ + absl::FromChrono(std::chrono::steady_clock::now() - steady_start_);
  }
  std::chrono::steady_clock::time_point ToSteady(absl::Time t) const override {
    return steady_start_ + absl::ToChronoNanoseconds(t - wall_start_);
  }

 private:
  const std::chrono::steady_clock::time_point steady_start_;
  const absl::Time wall_start_;
};

// A clock that moves only when told to (tests). Timers armed from it fire when the real steady
// clock reaches the same distance from now.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  std::chrono::steady_clock::time_point ToSteady(absl::Time t) const override {
    return std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(t - Now());
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_CLOCK_H_
