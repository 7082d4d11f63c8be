// FileJournal appends acdd's journal records to segment files in a data dir, on a thread of its
// own: the engine thread hands it a record (Append copies it into a buffer under a short lock and
// returns its sequence) and never waits for the disk. The journal thread writes whatever has
// gathered since its last write in one go (group commit), makes it durable as `sync` says, and
// reports the highest durable sequence through `durable`; the engine releases the replies and
// commands of inputs up to it (output commit). On a standby the leader's records come from the
// follower's thread, which writes them itself while the journal thread is idle (WriteFramed,
// with SyncMode::kWrite): one thread wake-up fewer on the way to the standby's acknowledgement.
// The engine never writes itself: a write() to the page cache can block (dirty-page throttling),
// and the way to write without that risk is not there on ext4 (pwritev2 with RWF_NOWAIT on a
// buffered file gives EOPNOTSUPP on this machine's Linux 6.18; io_uring hands such a write to a
// kernel worker, a wake-up again). A throwaway prototype of the engine writing while this thread
// was idle, side by side in one run (acdload --mode session, 2,000 calls/s, 3 rounds): `write`
// p99 1.48-1.62x the in-memory run, the prototype 0.99-1.45x, and 1.07-1.12x with the snapshot
// taker stopped as well: the taker's passes are the other half of the journal's tail.
//
// When a write fails (a full or read-only disk, a file size limit), what was not written stays
// buffered, `trouble` reports why, and the thread tries again every `retry_every` until it works
// (then `trouble` reports OK). A failed fdatasync is not retried: the kernel may have dropped the
// pages it could not write, so nothing after it could honestly be called durable; the journal
// stays failed until acdd restarts and recovers from what is on disk.
//   FileJournalOptions options{.dir = "/var/lib/acd"};
//   auto journal = FileJournal::Start(options, scan, &metrics.journal, events);
//   uint64_t seq = (*journal)->Append(payload);   // engine thread
#ifndef ACD_DAEMON_JOURNAL_FILE_JOURNAL_H_
#define ACD_DAEMON_JOURNAL_FILE_JOURNAL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/journal/journal_reader.h"
#include "metrics/acd_metrics.h"

namespace acd::daemon::journal {

// How far a record must get before its input's effects may leave acdd.
enum class SyncMode {
  kWrite,  // written to the OS: survives acdd being killed (kill -9, OOM), not a power loss
  kFsync,  // fdatasync'd: survives a power loss too
};

struct FileJournalOptions {
  std::string dir;
  SyncMode sync = SyncMode::kWrite;
  // A new segment starts when the current one has reached this size.
  uint64_t segment_bytes = 64ull << 20;
  absl::Duration retry_every = absl::Seconds(1);
};

// Called on the journal thread; an engine posts them to its own thread.
struct JournalEvents {
  std::function<void(uint64_t durable_sequence)> durable;
  std::function<void(const absl::Status& trouble)> trouble;  // OK: writing works again
};

// Creates `dir` (and its parents) if it is missing and checks that a file can be created in it.
absl::Status PrepareDataDir(const std::string& dir);

class FileJournal {
 public:
  // Opens the journal `scan` describes for appending (after CutJournal; a scan of an empty dir
  // starts a new journal) and starts the journal thread. Fails when the dir cannot be created or
  // written now: acdd refuses to start on a data dir it cannot write.
  static absl::StatusOr<std::unique_ptr<FileJournal>> Start(FileJournalOptions options,
                                                            const JournalScan& scan,
                                                            metrics::JournalSeries* metrics,
                                                            JournalEvents events);
  // Writes what is buffered (one try) and stops the thread.
  ~FileJournal();
  FileJournal(const FileJournal&) = delete;
  FileJournal& operator=(const FileJournal&) = delete;

  // One thread (the engine's): frames `payload` as the next record and buffers it.
  uint64_t Append(absl::string_view payload);
  // The same thread, on a standby: buffers records another acdd framed (AppendRecord's bytes,
  // sequences `first` through `last`, each already checked), as they are. `first` must be
  // next_sequence(), and their epoch at least epoch(); the journal takes on the last one's epoch.
  void AppendFramed(absl::string_view records, uint64_t first, uint64_t last, uint64_t epoch);
  // As AppendFramed, from a standby's follower (its one appending thread, never an engine's):
  // with SyncMode::kWrite, when the journal thread holds nothing, the caller writes the records
  // itself, at once, and true says they are durable; `durable` is not told (the caller reports
  // them: a standby acknowledges to the leader without waking another thread). False: they wait
  // for the journal thread as AppendFramed's do (kFsync, whose syncs the thread groups; or it
  // holds earlier records; or this write failed, and the thread counts it, tells `trouble` why
  // and retries it as any batch), and `durable` reports them.
  bool WriteFramed(absl::string_view records, uint64_t first, uint64_t last, uint64_t epoch);
  // The same thread, on becoming the leader: records appended from now on carry `epoch`, which
  // must be higher than any before.
  void RaiseEpoch(uint64_t epoch);
  // The same thread: every record appended from now on (framed, as it goes to the segment) is
  // also handed to `tap`, inside Append: for the replication to a standby. Null: none.
  using Tap = std::function<void(absl::string_view framed, uint64_t sequence)>;
  void SetTap(Tap tap) { tap_ = std::move(tap); }
  // The sequence the next Append gets, and the epoch records are written with.
  uint64_t next_sequence() const { return next_sequence_; }
  uint64_t epoch() const { return epoch_; }
  // Any thread: the highest sequence durable so far (what `durable` last said, or a later
  // WriteFramed that returned true).
  uint64_t durable_sequence() const { return durable_.load(std::memory_order_acquire); }
  SyncMode sync() const { return options_.sync; }

 private:
  FileJournal(FileJournalOptions options, uint64_t next_sequence, uint64_t epoch,
              metrics::JournalSeries* metrics, JournalEvents events);
  void Run();
  // Crashes unless framed records `first`..`last` of `epoch` come next; then they are next.
  void TakeFramed(uint64_t first, uint64_t last, uint64_t epoch);
  // Buffers framed records for the journal thread.
  void BufferLocked(absl::string_view records, uint64_t first, uint64_t last)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes `batch_` (whose first record is `batch_first_`) to the segment, starting a new one
  // first when the current one is full, and syncs it.
  absl::Status WriteBatch();
  // `batch_` is durable: counted, emptied, and its last sequence published (and returned).
  uint64_t BatchDurable();
  absl::Status OpenSegment(uint64_t first_sequence);
  absl::Status OpenTail(const std::string& path, uint64_t good_bytes);

  const FileJournalOptions options_;
  metrics::JournalSeries* const metrics_;
  const JournalEvents events_;
  uint64_t epoch_;          // the appending thread's
  uint64_t next_sequence_;  // the appending thread's
  Tap tap_;                 // the appending thread's
  std::atomic<uint64_t> durable_{0};

  absl::Mutex mu_;
  std::string pending_ ABSL_GUARDED_BY(mu_);  // framed records not yet taken by the thread
  uint64_t pending_first_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t pending_last_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t pending_records_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The journal thread holds a batch not yet durable (a write of its own, or one WriteFramed
  // failed and handed over): WriteFramed leaves the writing to it.
  bool thread_has_batch_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status handed_failure_ ABSL_GUARDED_BY(mu_);  // why WriteFramed handed its batch over

  // The batch being written and the segment: the journal thread's while thread_has_batch_, else
  // WriteFramed's under mu_.
  std::string batch_;
  uint64_t batch_first_ = 0, batch_last_ = 0, batch_records_ = 0;
  size_t batch_written_ = 0;  // bytes of batch_ already in the segment
  int fd_ = -1;
  std::string segment_path_;
  uint64_t segment_size_ = 0;
  bool sync_failed_ = false;
  std::thread thread_;
};

}  // namespace acd::daemon::journal

#endif  // ACD_DAEMON_JOURNAL_FILE_JOURNAL_H_
