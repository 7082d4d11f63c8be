#include "daemon/snapshot_taker.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/journal/files.h"
#include "daemon/journal/record_format.h"
#include "daemon/journal/snapshot_file.h"
#include "daemon/snapshot_io.h"

namespace acd::daemon {
namespace {

// How long the journal may take to be durable through a snapshot's record before the snapshot is
// given up; and how long after a failed snapshot the next one may start.
constexpr absl::Duration kJournalWait = absl::Minutes(1);
constexpr absl::Duration kRetryAfterFailure = absl::Minutes(1);

// The child: writes the snapshot and exits, telling the parent through `pipe` what went wrong.
[[noreturn]] void WriteInChild(const Core& core, const acd::journal::v1::SnapshotHead& head,
                               const std::string& temporary, int pipe, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(2);  // acdd died before the line above
  // acdd's handlers (shutdown, reload, its crash report) are not the child's: a signal sent to
  // acdd's process group must not reach them through a copy of acdd.
  for (int sig : {SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2, SIGSEGV, SIGBUS, SIGFPE,
                  SIGILL, SIGABRT}) {
    signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, nullptr);
  // The engine comes first: the child runs only on a CPU nothing else wants, and its writes go
  // to the disk when nothing else does (SCHED_IDLE, the idle I/O class).
  const sched_param idle{};
  sched_setscheduler(0, SCHED_IDLE, &idle);
  constexpr int kIoprioWhoProcess = 1, kIoprioClassIdle = 3, kIoprioClassShift = 13;
  syscall(SYS_ioprio_set, kIoprioWhoProcess, 0, kIoprioClassIdle << kIoprioClassShift);
  absl::StatusOr<uint64_t> written = WriteSnapshot(core, head, temporary);
  if (!written.ok()) {
    const std::string words(written.status().message());
    (void)!write(pipe, words.data(), words.size());
  }
  _exit(written.ok() ? 0 : 1);
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

SnapshotTaker::SnapshotTaker(std::string dir, SnapshotOptions options, const Clock* clock,
                             journal::FileJournal* journal, metrics::JournalSeries* metrics,
                             uint64_t last_sequence, absl::Time now,
                             std::function<void(const SnapshotReport&)> done)
    : dir_(std::move(dir)),
      options_(options),
      clock_(clock),
      journal_(journal),
      metrics_(metrics),
      done_(std::move(done)),
      last_sequence_(last_sequence),
      last_time_(now),
      synced_through_(last_sequence),
      thread_([this] { Run(); }) {}

SnapshotTaker::~SnapshotTaker() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (child_ && !child_->reaped) kill(child_->pid, SIGKILL);
  }
  thread_.join();
}

bool SnapshotTaker::Due(uint64_t sequence, absl::Time now) const {
  if (in_flight_ || sequence <= last_sequence_ || now < not_before_) return false;
  return (options_.every_records > 0 && sequence - last_sequence_ >= options_.every_records) ||
         (options_.every > absl::ZeroDuration() && now - last_time_ >= options_.every);
}

absl::StatusOr<absl::Duration> SnapshotTaker::Take(const Core& core,
                                                   const acd::journal::v1::SnapshotHead& head,
                                                   absl::Time now) {
  last_time_ = now;
  const std::string path = absl::StrCat(dir_, "/", journal::SnapshotFileName(head.sequence()));
  const std::string temporary = absl::StrCat(path, ".tmp");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    not_before_ = now + kRetryAfterFailure;
    return journal::ErrnoStatus("snapshot: cannot make a pipe", errno);
  }
  const pid_t parent = getpid();
  const auto started = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    WriteInChild(core, head, temporary, fds[1], parent);
  }
  const absl::Duration pause = absl::FromChrono(std::chrono::steady_clock::now() - started);
  const int error = errno;
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    not_before_ = now + kRetryAfterFailure;
    metrics_->snapshots_failed.Add(1);
    return journal::ErrnoStatus("snapshot: cannot fork", error);
  }
  metrics_->snapshot_pause_seconds.Observe(absl::ToDoubleSeconds(pause));
  in_flight_ = true;
  absl::MutexLock lock(&mu_);
  child_ = Child{.pid = pid, .pipe = fds[0], .sequence = head.sequence(),
                 .temporary = temporary, .path = path, .started = now};
  return pause;
}

void SnapshotTaker::Done(const SnapshotReport& report, absl::Time now) {
  in_flight_ = false;
  if (report.status.ok()) {
    last_sequence_ = report.sequence;
  } else {
    not_before_ = now + kRetryAfterFailure;
  }
}

void SnapshotTaker::Run() {
  for (;;) {
    Child child;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](SnapshotTaker* t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t->mu_) {
            return t->stopping_ || t->child_.has_value();
          },
          this));
      if (!child_) return;  // stopping, nothing in flight
      child = *child_;
    }
    const SnapshotReport report = Finish(child);
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      child_.reset();
      stopping = stopping_;
    }
    if (report.status.ok()) {
      metrics_->snapshots_taken.Add(1);
      metrics_->snapshot_seconds.Observe(absl::ToDoubleSeconds(report.took));
      metrics_->snapshot_bytes.Set(static_cast<double>(report.bytes));
      metrics_->snapshot_sequence.Set(static_cast<double>(report.sequence));
      metrics_->snapshot_timestamp_seconds.Set(absl::ToDoubleSeconds(
          clock_->Now() - absl::UnixEpoch()));
      metrics_->retention_removed_bytes.Add(report.removed.bytes);
    } else {
      metrics_->snapshots_failed.Add(1);
    }
    if (stopping) return;
    done_(report);
  }
}

SnapshotReport SnapshotTaker::Finish(const Child& child) {
  SnapshotReport report;
  report.sequence = child.sequence;
  // The child's last words; the pipe ends when it exits.
  std::string words;
  char buffer[512];
  for (;;) {
    const ssize_t n = read(child.pipe, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    words.append(buffer, static_cast<size_t>(n));
  }
  close(child.pipe);
  int status = 0;
  {
    absl::MutexLock lock(&mu_);
    while (waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
    }
    child_->reaped = true;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    report.status = absl::InternalError(
        !words.empty() ? words
        : WIFSIGNALED(status)
            ? absl::StrCat("the process writing it was killed (signal ", WTERMSIG(status), ")")
            : absl::StrCat("the process writing it exited with status ", WEXITSTATUS(status)));
  } else if (absl::Status s = SyncJournalThrough(child.sequence); !s.ok()) {
    report.status = s;
  } else {
    report.bytes = FileSize(child.temporary);
    report.status = journal::PublishSnapshot(child.temporary, child.path);
  }
  if (!report.status.ok()) {
    unlink(child.temporary.c_str());
    report.took = clock_->Now() - child.started;
    return report;
  }
  report.took = clock_->Now() - child.started;
  absl::StatusOr<journal::Removed> removed =
      journal::ApplyRetention(dir_, options_.retention, clock_->Now());
  if (removed.ok()) {
    report.removed = *std::move(removed);
  } else {
    report.retention = removed.status();
  }
  return report;
}

absl::Status SnapshotTaker::SyncJournalThrough(uint64_t sequence) {
  const absl::Time deadline = clock_->Now() + kJournalWait;
  while (journal_->durable_sequence() < sequence) {
    if (clock_->Now() > deadline) {
      return absl::UnavailableError(absl::StrCat("the journal did not write record ", sequence,
                                                 " within ", absl::FormatDuration(kJournalWait)));
    }
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(10))) {
      return absl::CancelledError("acdd is stopping");
    }
  }
  if (journal_->sync() == journal::SyncMode::kFsync) return absl::OkStatus();  // synced already
  // Written to the OS but perhaps not to the disk: the segments holding records after the last
  // sync up to `sequence` are synced now.
  absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> segments =
      journal::ListNumberedFiles(dir_, journal::SegmentFirstSequence);
  if (!segments.ok()) return segments.status();
  for (size_t i = 0; i < segments->size(); ++i) {
    const auto& [first, path] = (*segments)[i];
    const bool holds_newer = i + 1 == segments->size() || (*segments)[i + 1].first - 1 > synced_through_;
    if (first > sequence || !holds_newer) continue;
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return journal::ErrnoStatus(absl::StrCat("cannot open ", path), errno);
    const int rc = fdatasync(fd);
    const int error = errno;
    close(fd);
    if (rc != 0) return journal::ErrnoStatus(absl::StrCat("cannot fdatasync ", path), error);
  }
  synced_through_ = sequence;
  return absl::OkStatus();
}

}  // namespace acd::daemon
