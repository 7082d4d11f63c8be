// RequestSchedulerSlice: a slice in range is asked of the kernel for this thread and the threads it
// starts; where the kernel applies it (Linux 6.12 or later), a thread started afterwards runs with
// it; zero asks for nothing; a slice out of range is refused before anything is asked.
#include "daemon/sched_slice.h"

#include <sys/syscall.h>
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

}  // namespace
}  // namespace acd::daemon
