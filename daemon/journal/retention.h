// Retention of a data dir. Snapshots: the newest few stay (so that a damaged newest one has an
// older one to fall back on), and for the history, one about every retention / kHistorySnapshots
// while younger than the retention, and the newest one taken at or before the retention's start:
// the journal's history serves reports and replays (reports/), which start from a snapshot, so
// every moment it retains can be replayed from one no more than that spacing earlier. The others
// go. Journal segments go once the oldest snapshot kept covers every record in them and they are
// older than the retention time. A segment's age is the time of the first record after it, so the
// current segment always stays. The journal stays whole from its first segment on: segments go
// oldest first, and a segment that must stay keeps every later one.
//   auto removed = ApplyRetention("/var/lib/acd", {.journal = absl::Hours(72)}, clock.Now());
#ifndef ACD_DAEMON_JOURNAL_RETENTION_H_
#define ACD_DAEMON_JOURNAL_RETENTION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace acd::daemon::journal {

// Snapshots kept across the retention for the history (72 h: one every 3 hours).
inline constexpr int kHistorySnapshots = 24;

struct RetentionPolicy {
  absl::Duration journal = absl::Hours(72);  // how long records are kept after they are covered
  int snapshots = 2;                         // how many snapshots stay (at least 1)
};

struct Removed {
  std::vector<std::string> segments;   // paths, oldest first
  std::vector<std::string> snapshots;  // paths
  uint64_t bytes = 0;                  // of both
};

// The time of the state snapshot `path` holds, from its head part alone (the rest is neither read
// nor checked: for choosing among snapshots, before loading one).
absl::StatusOr<absl::Time> SnapshotTime(const std::string& path);

absl::StatusOr<Removed> ApplyRetention(const std::string& dir, const RetentionPolicy& policy,
                                       absl::Time now);

}  // namespace acd::daemon::journal

#endif  // ACD_DAEMON_JOURNAL_RETENTION_H_
