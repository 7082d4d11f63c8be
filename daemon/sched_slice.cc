#include "daemon/sched_slice.h"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace acd::daemon {
namespace {

// The kernel's struct sched_attr (linux/sched/types.h, which clashes with glibc's sched.h), as of
// its first version; glibc 2.36 has no wrappers for the calls.
struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;  // SCHED_OTHER/SCHED_BATCH since Linux 6.12: the slice
  uint64_t sched_deadline;
  uint64_t sched_period;
};
static_assert(sizeof(SchedAttr) == 48, "SCHED_ATTR_SIZE_VER0");

int GetAttr(SchedAttr* attr) {
  return static_cast<int>(syscall(SYS_sched_getattr, 0, attr, sizeof(*attr), 0));
}
// The policies whose threads acdd may reschedule: the fair scheduler's, not real-time ones (chrt).
bool FairPolicy(uint32_t policy) { return policy == SCHED_OTHER || policy == SCHED_BATCH; }

int SetAttr(SchedAttr* attr, pid_t thread = 0) {
  return static_cast<int>(syscall(SYS_sched_setattr, thread, attr, 0));
}

}  // namespace

absl::StatusOr<std::string> RequestSchedulerSlice(absl::Duration slice) {
  if (slice == absl::ZeroDuration()) return std::string("scheduler slice: the kernel's default");
  if (slice < kShortestSlice || slice > kLongestSlice) {
    return absl::InvalidArgumentError(absl::StrCat("--sched_slice ", absl::FormatDuration(slice),
                                                   " is out of range: 0 (the kernel's default) or ",
                                                   absl::FormatDuration(kShortestSlice), " to ",
                                                   absl::FormatDuration(kLongestSlice)));
  }
  SchedAttr attr;
  std::memset(&attr, 0, sizeof(attr));
  if (GetAttr(&attr) != 0) {
    return absl::StrCat(
        "scheduler slice: the kernel's default (sched_getattr: ", std::strerror(errno), ")");
  }
  if (!FairPolicy(attr.sched_policy)) {
    return absl::StrCat("scheduler slice: left alone, acdd runs under scheduling policy ",
                        attr.sched_policy, " (chrt), not SCHED_OTHER or SCHED_BATCH");
  }
  const uint64_t wanted = static_cast<uint64_t>(absl::ToInt64Nanoseconds(slice));
  attr.size = sizeof(attr);
  attr.sched_flags = 0;
  attr.sched_runtime = wanted;  // policy and nice as they were
  if (SetAttr(&attr) != 0) {
    return absl::StrCat(
        "scheduler slice: the kernel's default (sched_setattr: ", std::strerror(errno), ")");
  }
  std::memset(&attr, 0, sizeof(attr));
  const bool applied = GetAttr(&attr) == 0 && attr.sched_runtime == wanted;
  return absl::StrCat("scheduler slice ", absl::FormatDuration(slice),
                      applied ? " for every thread"
                              : ": this kernel keeps its own (Linux 6.12 or later applies it)");
}

BackgroundScheduling::BackgroundScheduling() : thread_(static_cast<pid_t>(syscall(SYS_gettid))) {
  SchedAttr attr;
  std::memset(&attr, 0, sizeof(attr));
  if (GetAttr(&attr) != 0) {
    refused_ = absl::UnavailableError(
        absl::StrCat("sched_getattr: ", std::strerror(errno), ": the thread stays as it is"));
    return;
  }
  policy_ = attr.sched_policy;
  nice_ = attr.sched_nice;
  slice_ = attr.sched_runtime;
  if (!FairPolicy(policy_)) {
    refused_ = absl::FailedPreconditionError(absl::StrCat(
        "the thread runs under scheduling policy ", policy_, " (chrt), and stays there"));
    return;
  }
  // Leaving SCHED_IDLE is a privilege (CAP_SYS_NICE, or an RLIMIT_NICE that allows the thread's
  // nice value), so a thread of its own tries the way there and back first: a thread that could
  // not come back would stay in the background however far behind it fell.
  std::thread([this] {
    const pid_t probe = static_cast<pid_t>(syscall(SYS_gettid));
    if (absl::Status there = Apply(true, probe); !there.ok()) {
      refused_ = there;
    } else if (absl::Status back = Apply(false, probe); !back.ok()) {
      refused_ = absl::PermissionDeniedError(absl::StrCat(
          back.message(), " (leaving SCHED_IDLE needs CAP_SYS_NICE or an RLIMIT_NICE of at least ",
          20 - nice_, ": systemd's LimitNICE=", nice_ >= 0 ? "+" : "", nice_, ")"));
    }
  }).join();
}

absl::Status BackgroundScheduling::Apply(bool background, pid_t thread) const {
  SchedAttr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.size = sizeof(attr);
  attr.sched_policy = background ? SCHED_IDLE : policy_;
  attr.sched_nice = nice_;
  attr.sched_runtime = background ? 0 : slice_;
  if (SetAttr(&attr, thread) != 0) {
    return absl::UnavailableError(
        absl::StrCat(background ? "into" : "out of",
                     " the background (SCHED_IDLE): sched_setattr: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status BackgroundScheduling::Set(bool background) {
  absl::MutexLock lock(&mu_);
  if (background == background_) return absl::OkStatus();
  if (!refused_.ok()) return refused_;
  if (absl::Status s = Apply(background, thread_); !s.ok()) return s;
  background_ = background;
  return absl::OkStatus();
}

bool BackgroundScheduling::background() const {
  absl::MutexLock lock(&mu_);
  return background_;
}

}  // namespace acd::daemon
