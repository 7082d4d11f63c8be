// FileJournal appends acdd's journal records to segment files in a data dir. The engine thread
// hands it each record (Append) and never waits for the disk; the journal thread owns the files.
//
// With --journal_sync=write (SyncMode::kWrite) a record is durable once it is in the page cache,
// and the appender puts it there itself, in Append, with a memcpy: the journal thread keeps the
// current segment mapped (MAP_SHARED) and, ahead of the last record, a window of it allocated
// (fallocate) and already dirty in the page cache (it wrote each page), so the copy neither makes
// a system call nor takes a page fault, and the record is durable when Append returns: no thread
// is woken and the engine releases what the input caused at once. When the window runs low the
// appender asks the thread (once per half window) to allocate the next part. A segment therefore
// ends in zeros where its window was never filled; readers take an all-zero record header as the
// segment's end (journal_reader.h). A copy can still fault where the kernel wrote a dirty page of
// the window back to the disk before the appender reached it (its dirty pages expire after 30 s,
// and a snapshot's fdatasync writes them all): then the copy waits for that one page, as any
// page fault of the engine's would. Where the window cannot be had (it is full and not yet
// extended, the segment is full, the filesystem refuses fallocate, the disk is full), records go
// the other way, as with `fsync`:
//
// The appender buffers the record under a short lock; the journal thread writes whatever has
// gathered since its last write in one go (group commit), makes it durable as `sync` says, and
// reports the highest durable sequence through `durable`; the engine releases the replies and
// commands of inputs up to it (output commit). On a standby the leader's records come from the
// follower's thread, which copies them into the window the same way (WriteFramed), or, with
// window_bytes 0, writes them itself while the journal thread is idle: one thread wake-up fewer on
// the way to the standby's acknowledgement.
// The appender never calls write() itself: a write() to the page cache can block (dirty-page
// throttling), and the way to write without that risk is not there on ext4 (pwritev2 with
// RWF_NOWAIT on a buffered file gives EOPNOTSUPP on this machine's Linux 6.18; io_uring hands such
// a write to a kernel worker, a wake-up again). The window's pages are dirtied by the journal
// thread, which takes the throttling if there is any.
//
// When a write fails (a full or read-only disk, a file size limit), what was not written stays
// buffered, `trouble` reports why, and the thread tries again every `retry_every` until it works
// (then `trouble` reports OK). A failed fdatasync is not retried: the kernel may have dropped the
// pages it could not write, so nothing after it could honestly be called durable; the journal
// stays failed until acdd restarts and recovers from what is on disk. A live segment is never cut
// shorter (a reader may have it mapped); a new one starts after the unused part of the last one's
// window was given back to the filesystem (FALLOC_FL_PUNCH_HOLE), and acdd's start cuts the zeros
// off the end of the last one (CutJournal).
//   FileJournalOptions options{.dir = "/var/lib/acd"};
//   auto journal = FileJournal::Start(options, scan, &metrics.journal, events);
//   uint64_t seq = (*journal)->Append(payload);   // engine thread
//   if ((*journal)->durable_sequence() >= seq) { /* copied: durable already */ }
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
  // kWrite: how far ahead of the last record the journal thread keeps the segment ready for the
  // appender's copies (it extends the window by half of this when half is left). 0: no window,
  // every record goes through the journal thread.
  uint64_t window_bytes = 2ull << 20;
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

  // One thread (the engine's): frames `payload` as the next record and copies it into the window
  // (durable at once: durable_sequence() says so, and `durable` is not told) or buffers it for
  // the journal thread.
  uint64_t Append(absl::string_view payload);
  // The same thread, on a standby: buffers records another acdd framed (AppendRecord's bytes,
  // sequences `first` through `last`, each already checked), as they are. `first` must be
  // next_sequence(), and their epoch at least epoch(); the journal takes on the last one's epoch.
  void AppendFramed(absl::string_view records, uint64_t first, uint64_t last, uint64_t epoch);
  // As AppendFramed, from a standby's follower (its one appending thread, never an engine's):
  // with SyncMode::kWrite, when the journal thread holds nothing, the caller copies the records
  // into the window (or, when window_bytes is 0, writes them itself), at once, and true says
  // they are durable; `durable` is not told (the caller reports them: a standby acknowledges to
  // the leader without waking another thread). False: they wait for the journal
  // thread as AppendFramed's do (kFsync, whose syncs the thread groups; or it holds earlier
  // records; or the window has no room; or this write failed, and the thread counts it, tells
  // `trouble` why and retries it as any batch), and `durable` reports them.
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
  // Copies framed records `first`..`last` into the window and makes them durable, if the window
  // has room for them and the journal thread holds nothing; false otherwise.
  bool CopyIntoWindowLocked(absl::string_view records, uint64_t first, uint64_t last)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The journal thread: allocates and dirties the segment from the window's end (or the
  // segment's, if a write went past it) to `window_bytes` past its last record, then opens it to
  // the appender. A failure leaves the window as it was (the records take the thread's way).
  void ExtendWindow();
  // Whether segments get a window (kWrite, window_bytes, fallocate supported): the thread's.
  bool Windowed() const;
  // Maps the current segment for a window and opens one (no-op without).
  void MapSegment();
  // Unmaps the current segment and gives the unfilled part of its window back to the filesystem.
  void ReleaseWindow();
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

  // The window: the appender copies into [segment_size_, window_end_) under mu_ while the thread
  // holds no batch; the thread extends it past window_end_ (set under mu_) without the lock.
  uint64_t window_end_ ABSL_GUARDED_BY(mu_) = 0;
  bool window_wanted_ ABSL_GUARDED_BY(mu_) = false;    // the appender asks for more
  uint64_t window_asked_at_ ABSL_GUARDED_BY(mu_) = 0;  // the window_end_ it last asked at
  bool window_refused_ = false;  // the filesystem cannot fallocate: no window (the thread's)
  // The current segment, mapped map_bytes_ long: the thread changes them only while it holds a
  // batch (or before it starts, or after it stopped); the appender reads them under mu_ else.
  char* map_ = nullptr;
  uint64_t map_bytes_ = 0;
  std::string framing_;  // Append's scratch for a record (the appending thread's)

  // The batch being written and the segment: the journal thread's while thread_has_batch_, else
  // WriteFramed's under mu_ (without a window; with one, only the thread writes the segment).
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
