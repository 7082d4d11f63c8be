// How acdd's threads are scheduled: RequestSchedulerSlice, and BackgroundScheduling below.
//
// RequestSchedulerSlice asks Linux to run the calling thread, and every thread it starts from then
// on, with scheduler slices of `slice`: sched_setattr's sched_runtime for a SCHED_OTHER thread,
// which the EEVDF scheduler honours since Linux 6.12 (older kernels take the call and keep their
// default, a few milliseconds). A thread with a short slice gets a CPU sooner when it wakes beside
// busy ones. acdd's threads wake tens of thousands of times a second, each for a few
// microseconds (the engine, the journal, gRPC's pollers), so on a loaded machine their wait for a
// CPU is most of a switch's tail latency (measured in README, "The journal's cost"). acdd calls it
// first thing in main, before any other thread starts, so that all of them inherit it.
//   absl::StatusOr<std::string> outcome = RequestSchedulerSlice(absl::Microseconds(100));
//   if (outcome.ok()) Log(*outcome);   // what the kernel did with it
#ifndef ACD_DAEMON_SCHED_SLICE_H_
#define ACD_DAEMON_SCHED_SLICE_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace acd::daemon {

// The slices Linux accepts for a SCHED_OTHER thread; zero asks for nothing.
inline constexpr absl::Duration kShortestSlice = absl::Microseconds(100);
inline constexpr absl::Duration kLongestSlice = absl::Milliseconds(100);

// Zero: nothing is asked. An error for a slice out of [kShortestSlice, kLongestSlice]; else a line
// for the log saying what the kernel did with it (a kernel that refuses the call leaves acdd on
// its default slices: that is said, not an error). A thread that runs under another policy than
// SCHED_OTHER or SCHED_BATCH (chrt) is left as it is; its nice value is kept.
absl::StatusOr<std::string> RequestSchedulerSlice(absl::Duration slice);

// BackgroundScheduling moves the thread that made it into the background (SCHED_IDLE: it gets a
// CPU only when no other thread wants one, bar a small share, and gives way at once to any thread
// that wakes) and back to the scheduling it had (policy, nice and slice as they were). For work
// that must not delay a switch's answers on a busy machine and can catch up later: the snapshot
// taker's copy.
//   BackgroundScheduling background;   // on the thread to move
//   if (absl::Status s = background.Set(true); !s.ok()) Log(s.message());   // it stays as it was
// Any thread may call Set; it moves the thread that made this. That thread stays as it is, and
// Set(true) says why, when it runs under a real-time policy (chrt), or when it could not come
// back: leaving SCHED_IDLE needs CAP_SYS_NICE or an RLIMIT_NICE that allows the thread's nice
// value (the constructor tries the way there and back on a thread of its own).
class BackgroundScheduling {
 public:
  BackgroundScheduling();
  // Into the background (true) or back to the scheduling the thread had when this was made.
  absl::Status Set(bool background);
  bool background() const;

 private:
  // Sets `thread`'s scheduling (the constructor's probe is a thread of its own).
  absl::Status Apply(bool background, pid_t thread) const;

  const pid_t thread_;
  // The thread's scheduling when this was made, and why it may not go into the background: the
  // constructor's, then only read.
  absl::Status refused_;
  uint32_t policy_ = 0;
  int32_t nice_ = 0;
  uint64_t slice_ = 0;
  mutable absl::Mutex mu_;
  bool background_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_SCHED_SLICE_H_
