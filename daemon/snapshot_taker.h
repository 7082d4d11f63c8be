// SnapshotTaker takes acdd's periodic snapshots without holding the engine up for more than a
// fork(). On the engine thread, between two inputs, Take() forks the process: the child holds a
// copy-on-write image of the core as it stands after the last journaled record, writes it to
// `snapshot-<sequence>.snap.tmp` at idle CPU and I/O priority, and exits; the engine goes on at
// once (its cost then: the pages it changes meanwhile are copied first; README's figures).
// A thread of the taker's own waits for the child, then for the journal through that sequence to
// be on disk (fdatasync'd, whatever --journal_sync says, so that no power loss leaves a snapshot
// ahead of its journal), publishes the file under its final name, applies retention (old
// snapshots, and journal segments covered and past --journal_retention), and reports.
//
// Fork and the engine's threads: the child runs only the forking (engine) thread. It reads the
// core, allocates (glibc's malloc is reset for a child), writes one file and calls _exit; it
// touches no lock another thread may hold, no gRPC, no asio. It dies with acdd (PR_SET_PDEATHSIG),
// so it never outlives it holding the data dir or the ports.
//   SnapshotTaker taker(options, &clock, journal.get(), &metrics.journal,
//                       [&](SnapshotReport r) { engine.Post([=] { taker.Done(r); }); });
//   if (taker.Due(last_sequence, now)) taker.Take(core, head);  // engine thread
#ifndef ACD_DAEMON_SNAPSHOT_TAKER_H_
#define ACD_DAEMON_SNAPSHOT_TAKER_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "acd/journal/v1/snapshot.pb.h"
#include "daemon/clock.h"
#include "daemon/core.h"
#include "daemon/journal/file_journal.h"
#include "daemon/journal/retention.h"
#include "metrics/acd_metrics.h"

namespace acd::daemon {

struct SnapshotOptions {
  // A snapshot is due once this many records were journaled since the last one (0: never by
  // count), or once this long has passed with any record since (zero: never by time).
  uint64_t every_records = 1'000'000;
  absl::Duration every = absl::Minutes(10);
  journal::RetentionPolicy retention;
};

// What became of one snapshot (the taker's thread reports it).
struct SnapshotReport {
  absl::Status status;
  uint64_t sequence = 0;
  uint64_t bytes = 0;
  absl::Duration took;
  journal::Removed removed;
  absl::Status retention;  // retention failed (the snapshot itself is published)
};

class SnapshotTaker {
 public:
  // `journal` (not owned) is the journal the snapshots cover; `last_sequence` is the sequence of
  // the snapshot recovery started from (0: none), at `now`. `done` runs on the taker's thread.
  SnapshotTaker(std::string dir, SnapshotOptions options, const Clock* clock,
                journal::FileJournal* journal, metrics::JournalSeries* metrics,
                uint64_t last_sequence, absl::Time now,
                std::function<void(const SnapshotReport&)> done);
  // Kills a child still writing (its file is left unpublished and removed at the next start).
  ~SnapshotTaker();
  SnapshotTaker(const SnapshotTaker&) = delete;
  SnapshotTaker& operator=(const SnapshotTaker&) = delete;

  // --- Engine thread ---
  // Whether a snapshot should start now that `sequence` is the last journaled record.
  bool Due(uint64_t sequence, absl::Time now) const;
  // Forks the child that writes `core` with `head` (its sequence: the last journaled record).
  // Returns how long the engine stood still. REQUIRES: no snapshot in flight.
  absl::StatusOr<absl::Duration> Take(const Core& core, const acd::journal::v1::SnapshotHead& head,
                                      absl::Time now);
  // The engine heard `report` (posted from `done`) at `now`: the next one may start (after a
  // failure, not for a minute).
  void Done(const SnapshotReport& report, absl::Time now);
  bool in_flight() const { return in_flight_; }

 private:
  struct Child {
    pid_t pid;
    int pipe;  // the child's last words: its error, if any
    uint64_t sequence;
    std::string temporary, path;
    absl::Time started;
    bool reaped = false;  // waited for: its pid may belong to another process now
  };
  void Run();
  SnapshotReport Finish(const Child& child);
  // Waits (up to a minute) until the journal is durable through `sequence`, and fdatasyncs the
  // segments that hold records after the previous snapshot up to it.
  absl::Status SyncJournalThrough(uint64_t sequence);

  const std::string dir_;
  const SnapshotOptions options_;
  const Clock* const clock_;
  journal::FileJournal* const journal_;
  metrics::JournalSeries* const metrics_;
  const std::function<void(const SnapshotReport&)> done_;

  // Engine thread.
  uint64_t last_sequence_;
  absl::Time last_time_;
  absl::Time not_before_ = absl::InfinitePast();
  bool in_flight_ = false;

  absl::Mutex mu_;
  std::optional<Child> child_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t synced_through_ = 0;  // the taker's thread's
  std::thread thread_;
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_SNAPSHOT_TAKER_H_
