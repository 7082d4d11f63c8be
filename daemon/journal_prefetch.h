// JournalPrefetch reads a data dir's journal from a sequence on, checks each record and parses its
// input, on a thread of its own, a batch at a time, so that recovery's one thread only applies:
// the reading and parsing (a fifth of a replay's work) run on the other core, and begin while the
// snapshot is still loading. What it has parsed and not yet handed over is bounded
// (`max_bytes_ahead`, counted in the arenas that hold the batches); the reader waits when it is
// reached.
//
// It reads with journal::ReadJournal, so the journal's rules hold unchanged: a torn last write is
// reported in the scan, a corrupt record stops the read (or cuts it, with RecoverMode::kTruncate).
//   JournalPrefetch prefetch(dir, RecoverMode::kStop, snapshot_sequence + 1);
//   ... load the snapshot meanwhile ...
//   while (std::unique_ptr<JournalPrefetch::Batch> batch = prefetch.Next()) {
//     for (const JournalPrefetch::Record& r : batch->records) Apply(r.sequence, *r.input);
//   }
//   absl::StatusOr<journal::JournalScan> scan = prefetch.Finish();
// Destroying it stops the reader (between two records) and waits for it.
#ifndef ACD_DAEMON_JOURNAL_PREFETCH_H_
#define ACD_DAEMON_JOURNAL_PREFETCH_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "acd/journal/v1/journal.pb.h"
#include "daemon/journal/journal_reader.h"
#include "google/protobuf/arena.h"

namespace acd::daemon {

class JournalPrefetch {
 public:
  struct Record {
    uint64_t sequence;
    const acd::journal::v1::Input* input;  // on the batch's arena
  };
  struct Batch {
    std::unique_ptr<google::protobuf::Arena> arena;
    std::vector<Record> records;
  };

  inline static constexpr size_t kDefaultMaxBytesAhead = size_t{256} << 20;
  inline static constexpr size_t kRecordsPerBatch = 1024;

  JournalPrefetch(std::string dir, journal::RecoverMode mode, uint64_t from,
                  uint64_t stop_before = journal::kReadToTheEnd,
                  size_t max_bytes_ahead = kDefaultMaxBytesAhead);
  ~JournalPrefetch();
  JournalPrefetch(const JournalPrefetch&) = delete;
  JournalPrefetch& operator=(const JournalPrefetch&) = delete;

  // The next batch of records in sequence, waiting for it; null once the read has ended (at the
  // journal's end, at a record it cannot read or parse, or at `stop_before`).
  std::unique_ptr<Batch> Next();
  // How the read ended: the scan, or the error that stopped it. Waits for the reader.
  absl::StatusOr<journal::JournalScan> Finish();

 private:
  void Read(const std::string& dir, journal::RecoverMode mode, uint64_t from,
            uint64_t stop_before);
  // Hands `batch` over, waiting while too much is ahead; false when asked to stop.
  bool Hand(std::unique_ptr<Batch> batch);

  const size_t max_bytes_ahead_;
  absl::Mutex mu_;
  std::deque<std::unique_ptr<Batch>> ready_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ahead_ ABSL_GUARDED_BY(mu_) = 0;  // the arenas of ready_
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // How the read ended, once it has.
  std::optional<absl::StatusOr<journal::JournalScan>> result_ ABSL_GUARDED_BY(mu_);
  std::thread reader_;
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_JOURNAL_PREFETCH_H_
