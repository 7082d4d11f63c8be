// RecordFeed keeps the leader's most recent journal records, framed as in the segment files, for
// the standbys that follow it: the engine thread adds each record as it is appended (the journal's
// tap), and each follower's sender takes the records after the last one it sent, waiting for more
// when it has them all. What it keeps is bounded in bytes; a follower that falls further behind
// than that reads the older records from the segment files instead (Take says so).
//   RecordFeed feed(64 << 20);
//   journal->SetTap([&](absl::string_view framed, uint64_t seq) { feed.Add(framed, seq); });
//   RecordFeed::Taken t = feed.Take(sent + 1, absl::Milliseconds(100), 1 << 20);  // sender thread
#ifndef ACD_DAEMON_HA_RECORD_FEED_H_
#define ACD_DAEMON_HA_RECORD_FEED_H_

#include <cstdint>
#include <deque>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace acd::daemon::ha {

class RecordFeed {
 public:
  explicit RecordFeed(size_t max_bytes) : max_bytes_(max_bytes) {}

  // One thread (the engine's): the record `sequence`, the one after the last added (the first
  // added may have any sequence).
  void Add(absl::string_view framed, uint64_t sequence);

  struct Taken {
    enum Outcome {
      kRecords,  // `records` holds first..last
      kNothing,  // no record after `from` - 1 came before the wait ended (or Close)
      kTooOld,   // `from` is before the oldest record kept: read it from the segment files
    } outcome = kNothing;
    std::string records;
    uint64_t first = 0, last = 0;
  };
  // Any thread: the records from `from` on, at most about `max_bytes` of them (at least one),
  // waiting up to `wait` for the first when there is none yet.
  Taken Take(uint64_t from, absl::Duration wait, size_t max_bytes) const;
  // The oldest and the last record kept (0, 0 when none).
  uint64_t oldest() const;
  uint64_t last() const;
  // Wakes every Take waiting, and makes later ones return at once.
  void Close();

 private:
  struct Record {
    uint64_t sequence;
    std::string framed;
  };
  const size_t max_bytes_;
  mutable absl::Mutex mu_;
  std::deque<Record> records_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace acd::daemon::ha

#endif  // ACD_DAEMON_HA_RECORD_FEED_H_
