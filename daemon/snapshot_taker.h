// SnapshotTaker takes acdd's periodic snapshots without the engine: a thread of its own keeps a
// second copy of the core, which it recovers from the data dir in the background at start and then
// keeps up to date by reading the journal's durable records from the segment files, applying each
// through ApplyInput as recovery does (so every snapshot is also a check that the journal on disk
// replays). When a snapshot is due (every --snapshot_every_records records or --snapshot_every)
// it writes that copy to `snapshot-<sequence>.snap.tmp`, makes sure the journal through that
// record is on the disk (fdatasync, whatever --journal_sync says, so that no power loss leaves a
// snapshot ahead of its journal), publishes the file under its final name, applies retention (old
// snapshots, and journal segments covered and past --journal_retention), and reports. The engine
// never stops for it; the price is the copy's memory and the CPU to apply every record twice.
// The copy follows in the background (SCHED_IDLE, see BackgroundScheduling) while its passes come
// on time, so that on a busy machine they give way to the threads a switch's answers wait for.
// When a pass is more than kLatePass overdue (the machine leaves the background no CPU, or a pass
// runs that long), the copy goes back to acdd's normal priority for kCatchUpFor, then tries the
// background again. A watchdog thread of the taker's own, at normal priority, makes these moves (a
// starved thread could not notice it is starved); it shares no lock of acdd's with the copy (the
// copy only publishes when its next pass is due), so it never waits for it. The feeds' flush and
// the writing of a snapshot, which may take seconds, are not watched. Catch-ups are logged (at
// most a line every 10 minutes); acd_snapshot_copy_behind_records shows how many records the last
// pass found waiting. The copy still takes locks other threads take (the allocator's, asio's to
// post a report); preempted while holding one, it holds them up until the watchdog's next look
// moves it (at most about 375 ms, on a machine with no CPU to spare).
// The copy also tells acdd's live feeds (SnapshotOptions::feed) what each durable record made
// happen, and flushes them after each pass; while they cannot be written, no snapshot is taken.
//   SnapshotTaker taker(dir, options, &clock, journal.get(), &metrics.journal,
//                       [&](const SnapshotReport& r) { engine.Post([=] { Log(r); }); });
#ifndef ACD_DAEMON_SNAPSHOT_TAKER_H_
#define ACD_DAEMON_SNAPSHOT_TAKER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "acd/v1/policy.pb.h"
#include "daemon/clock.h"
#include "daemon/core.h"
#include "daemon/history_sink.h"
#include "daemon/journal/file_journal.h"
#include "daemon/journal/retention.h"
#include "daemon/sched_slice.h"
#include "metrics/acd_metrics.h"

namespace acd::daemon {

struct SnapshotOptions {
  // A snapshot is due once this many records were journaled since the last one (0: never by
  // count), or once this long has passed with any record since (zero: never by time).
  uint64_t every_records = 500'000;
  absl::Duration every = absl::Minutes(10);
  journal::RetentionPolicy retention;
  // Told what each durable record made happen (acdd's live feeds), when given; not owned, it
  // outlives the taker.
  HistoryFeed* feed = nullptr;
};

// How late a pass may start before the copy leaves the background, and for how long it then
// follows at normal priority.
inline constexpr absl::Duration kLatePass = absl::Milliseconds(250);
inline constexpr absl::Duration kCatchUpFor = absl::Seconds(10);

// Whether the copy follows in the background, given whether it does now, how late the pass about
// to start is, and how long ago the copy last left the background.
bool FollowInBackground(bool background_now, absl::Duration pass_late_by,
                        absl::Duration since_left);

// What became of one snapshot, or of the copy's start (sequence 0) when it could not recover.
struct SnapshotReport {
  absl::Status status;
  uint64_t sequence = 0;
  uint64_t bytes = 0;
  absl::Duration took;
  journal::Removed removed;
  absl::Status retention;  // retention failed (the snapshot itself is published)
  // Not a snapshot: the live feeds started failing (`status`), or are written again (OK).
  bool feed = false;
};

class SnapshotTaker {
 public:
  // `journal` (not owned, outliving the taker) is the journal the snapshots cover, already open
  // on `dir`; the copy recovers once its records through `start_after` (the last one the engine
  // journaled at its own start) are durable. `done` runs on the taker's thread.
  SnapshotTaker(std::string dir, SnapshotOptions options, const Clock* clock,
                journal::FileJournal* journal, metrics::JournalSeries* metrics,
                uint64_t start_after, std::function<void(const SnapshotReport&)> done);
  // Stops the thread; a snapshot being written is left unpublished (removed at the next start).
  ~SnapshotTaker();
  SnapshotTaker(const SnapshotTaker&) = delete;
  SnapshotTaker& operator=(const SnapshotTaker&) = delete;

 private:
  void Run();
  // Applies the durable records after the copy's, reading on from where the last read stopped.
  absl::Status FollowJournal();
  bool Due(absl::Time now) const;
  // The taker's thread: the next pass is due at `due` (a pass under way: when it started;
  // InfiniteFuture: nothing is watched).
  void PassDueAt(absl::Time due);
  // The watchdog's thread, until the taker stops: the copy's scheduling as FollowInBackground
  // says, every half kLatePass.
  void WatchPasses();
  void Reschedule(absl::Time now);
  SnapshotReport Take();
  // fdatasyncs the segments holding records after the previous snapshot up to `sequence`.
  absl::Status SyncJournalThrough(uint64_t sequence);
  // Waits `d` unless the taker is stopping; returns whether it is.
  bool StoppingAfter(absl::Duration d);

  const std::string dir_;
  const SnapshotOptions options_;
  const Clock* const clock_;
  journal::FileJournal* const journal_;
  metrics::JournalSeries* const metrics_;
  const uint64_t start_after_;
  const std::function<void(const SnapshotReport&)> done_;

  // The taker's thread's own.
  std::unique_ptr<Core> copy_;
  uint64_t sequence_ = 0;  // the last record applied to the copy
  uint64_t epoch_ = 0;
  absl::Time last_time_;   // that record's time
  std::optional<acd::v1::Policy> file_policy_;
  std::string segment_;    // where the next record is read: this segment, from this offset
  uint64_t offset_ = 0;
  uint64_t snapshot_sequence_ = 0;  // of the last snapshot (recovered from or taken)
  absl::Time snapshot_time_;
  absl::Time not_before_ = absl::InfinitePast();  // after a failure
  uint64_t synced_through_ = 0;
  bool feed_ok_ = true;  // the feed's last flush succeeded

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // When the copy's next pass is due (the taker's thread writes it; the largest value: nothing is
  // watched), in nanoseconds of clock_'s Unix time.
  std::atomic<int64_t> pass_due_ns_{std::numeric_limits<int64_t>::max()};

  // The watchdog's own: its stop flag, and the copy's scheduling.
  absl::Mutex watch_mu_;
  bool watch_stopping_ ABSL_GUARDED_BY(watch_mu_) = false;
  std::unique_ptr<BackgroundScheduling>
      scheduling_;                   // made on the taker's thread, before it starts
  bool background_refused_ = false;  // it stays at normal priority
  absl::Time left_background_ = absl::InfinitePast();
  absl::Time catch_up_logged_ = absl::InfinitePast();
  int catch_ups_unlogged_ = 0;

  std::thread thread_;
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_SNAPSHOT_TAKER_H_
