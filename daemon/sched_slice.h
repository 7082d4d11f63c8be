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

#include <string>

#include "absl/status/statusor.h"
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

}  // namespace acd::daemon

#endif  // ACD_DAEMON_SCHED_SLICE_H_
