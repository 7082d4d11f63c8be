// RequestSchedulerSlice: a slice in range is asked of the kernel for this thread and the threads it
// starts; where the kernel applies it (Linux 6.12 or later), a thread started afterwards runs with
// it; zero asks for nothing; a slice out of range is refused before anything is asked.
// BackgroundScheduling: a thread goes into SCHED_IDLE and comes back with its policy, nice and
// slice as they were; a thread that could not come back (no CAP_SYS_NICE, an RLIMIT_NICE that
// forbids its nice value) is never sent there, and Set says why.
#include "daemon/sched_slice.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace acd::daemon {
namespace {

using ::testing::HasSubstr;

// The calling thread's slice in nanoseconds, as /proc shows it (nullopt: this kernel does not).
std::optional<int64_t> SliceOfThisThread() {
  std::ifstream sched(absl::StrCat("/proc/self/task/", syscall(SYS_gettid), "/sched"));
  std::string line;
  while (std::getline(sched, line)) {
    std::vector<std::string> parts = absl::StrSplit(line, ':');
    if (parts.size() != 2 || absl::StripAsciiWhitespace(parts[0]) != "se.slice") continue;
    int64_t ns;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(parts[1]), &ns)) return ns;
  }
  return std::nullopt;
}

TEST(SchedulerSlice, ZeroAsksForNothing) {
  const std::optional<int64_t> before = SliceOfThisThread();
  absl::StatusOr<std::string> outcome = RequestSchedulerSlice(absl::ZeroDuration());
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_THAT(*outcome, HasSubstr("the kernel's default"));
  EXPECT_EQ(SliceOfThisThread(), before);
}

TEST(SchedulerSlice, ASliceOutOfRangeIsRefusedNamingTheRange) {
  for (absl::Duration slice :
       {absl::Microseconds(50), absl::Milliseconds(101), absl::Seconds(-1)}) {
    absl::StatusOr<std::string> outcome = RequestSchedulerSlice(slice);
    ASSERT_FALSE(outcome.ok()) << absl::FormatDuration(slice);
    EXPECT_EQ(outcome.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(outcome.status().message(), HasSubstr("100us to 100ms"));
  }
}

TEST(SchedulerSlice, ThreadsStartedAfterwardRunWithItWhereTheKernelAppliesIt) {
  absl::StatusOr<std::string> outcome = RequestSchedulerSlice(absl::Microseconds(300));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  std::optional<int64_t> in_thread;
  std::thread([&] { in_thread = SliceOfThisThread(); }).join();
  if (absl::StrContains(*outcome, "for every thread")) {
    EXPECT_EQ(SliceOfThisThread(), 300'000);
    EXPECT_EQ(in_thread, 300'000);
  } else {
    // The kernel took the call and kept its own slices: the outcome says so, and nothing changed.
    EXPECT_THAT(*outcome, HasSubstr("this kernel keeps its own"));
    EXPECT_NE(in_thread, 300'000);
  }
}

TEST(BackgroundScheduling, AnotherThreadMovesItIntoTheBackgroundAndBackAsItWas) {
  std::optional<absl::Status> refused;
  std::thread([&] {
    ASSERT_TRUE(RequestSchedulerSlice(absl::Microseconds(300)).ok());
    ASSERT_EQ(setpriority(PRIO_PROCESS, 0, 3), 0);  // this thread's nice
    const std::optional<int64_t> slice = SliceOfThisThread();
    BackgroundScheduling scheduling;
    EXPECT_FALSE(scheduling.background());
    // Another thread moves this one, as the snapshot taker's watchdog does.
    auto from_elsewhere = [&](bool background) {
      absl::Status s;
      std::thread([&] { s = scheduling.Set(background); }).join();
      return s;
    };

    const absl::Status there = from_elsewhere(true);
    if (there.code() == absl::StatusCode::kPermissionDenied) {
      refused = there;  // no CAP_SYS_NICE here (a container's root, say): the next test's case
      EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
      return;
    }
    ASSERT_TRUE(there.ok()) << there;
    EXPECT_TRUE(scheduling.background());
    EXPECT_EQ(sched_getscheduler(0), SCHED_IDLE) << "this thread, not the one that asked";
    EXPECT_TRUE(from_elsewhere(true).ok()) << "asking twice changes nothing";

    ASSERT_TRUE(from_elsewhere(false).ok());
    EXPECT_FALSE(scheduling.background());
    EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
    EXPECT_EQ(getpriority(PRIO_PROCESS, 0), 3) << "nice as it was";
    EXPECT_EQ(SliceOfThisThread(), slice) << "slice as it was";
  }).join();
  if (refused) GTEST_SKIP() << "this process may not leave SCHED_IDLE: " << *refused;
}

TEST(BackgroundScheduling, AThreadThatCouldNotComeBackStaysWhereItIsAndSaysWhy) {
  // In a child, so that the process keeps its privileges: a user who is not root, with the default
  // RLIMIT_NICE of 0, may enter SCHED_IDLE but not leave it at nice 0.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const rlimit no_nice{0, 0};
    if (setrlimit(RLIMIT_NICE, &no_nice) != 0) _exit(10);
    if (geteuid() == 0 && setuid(65534) != 0) _exit(77);  // nobody: no CAP_SYS_NICE
    BackgroundScheduling scheduling;
    const absl::Status s = scheduling.Set(true);
    if (s.ok()) _exit(12);
    if (!absl::StrContains(s.message(), "LimitNICE=")) _exit(13);
    if (scheduling.background() || sched_getscheduler(0) != SCHED_OTHER) _exit(14);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "root here cannot become nobody";
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10: setrlimit, 12: it went into the background, 13: the reason does not name "
         "LimitNICE, 14: it moved";
}

}  // namespace
}  // namespace acd::daemon
