// ReadJournal reads a data dir's journal segments in sequence order and hands each record to a
// visitor: recovery replays them into a core, `acdctl journal` prints and checks them. It only
// reads; what must be cut before appending (a torn tail, or everything from a corrupt record on
// when the operator asked for that) it reports in the scan, and CutJournal does it.
//
// A segment may end in zeros: the part of it the journal had prepared for records and never
// filled (FileJournal's window), or an unsynced end after a power loss. Where nothing but zeros
// follows, the segment ends, quietly; the records go on in the next one (a gap in the sequences
// would be caught there), and the last segment's zeros are reported as to be cut.
// A record that fails its checks at the very end of what the last segment holds (zeros after it
// aside) is a write that a crash cut short: it is reported as torn and recovery goes on without
// it. One that fails anywhere else is corruption: an error naming the file and offset, unless
// `mode` is kTruncate, in which case the journal is read up to there and the rest is reported as
// to be cut.
//   auto scan = ReadJournal(dir, RecoverMode::kStop, 1, [&](const DecodedRecord& r) { ... });
//   if (scan.ok()) CutJournal(*scan);
#ifndef ACD_DAEMON_JOURNAL_JOURNAL_READER_H_
#define ACD_DAEMON_JOURNAL_JOURNAL_READER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/journal/files.h"
#include "daemon/journal/record_format.h"

namespace acd::daemon::journal {

enum class RecoverMode { kStop, kTruncate };

struct JournalScan {
  std::string dir;              // the data dir read
  uint64_t first_sequence = 0;  // of the first record visited; 0: none
  // Of the last good record, or, when the first segment read holds none, the one its name says
  // came before it; 0: the journal has none.
  uint64_t last_sequence = 0;
  uint64_t epoch = 0;           // of the last good record
  uint64_t records = 0;         // records read (visited or skipped as before `from`)
  uint64_t bytes = 0;           // bytes of good records read
  int segments = 0;
  // Where appending continues: the last segment and the length of its good part ("" when there is
  // no segment to continue).
  std::string tail_segment;
  uint64_t tail_good_bytes = 0;
  // What CutJournal removes: bytes past tail_good_bytes in tail_segment, and whole segments after
  // it (paths).
  uint64_t cut_bytes = 0;
  std::vector<std::string> cut_segments;
  // For the operator's log: each cut, with file, offset and why.
  std::vector<std::string> notes;
};

// The segments of `dir` (full paths) in sequence order.
absl::StatusOr<std::vector<std::string>> ListSegments(const std::string& dir);

// Reads the records of `dir` with sequence >= `from` into `visit`, in order; a visitor's error
// stops the read and is returned. A dir without segments reads as an empty journal. The record
// `stop_before` and all after it are not read but reported as to be cut (the operator's way past
// a record that crashes acdd on every replay).
inline constexpr uint64_t kReadToTheEnd = ~uint64_t{0};
absl::StatusOr<JournalScan> ReadJournal(const std::string& dir, RecoverMode mode, uint64_t from,
                                        const std::function<absl::Status(const DecodedRecord&)>& visit,
                                        uint64_t stop_before = kReadToTheEnd);

// Removes the snapshots of records past the journal's good end, truncates the tail segment to its
// good part and removes the segments after it.
absl::Status CutJournal(const JournalScan& scan);

}  // namespace acd::daemon::journal

#endif  // ACD_DAEMON_JOURNAL_JOURNAL_READER_H_
