// Retention of a data dir: old snapshots go at once (the newest few stay, so that a damaged newest
// one has an older one to fall back on), and journal segments go once the oldest snapshot kept
// covers every record in them and they are older than the retention time (the journal's history
// serves reports and replays, so it is kept a while even when recovery no longer needs it). A
// segment's age is the time of the first record after it, so the current segment always stays.
// The journal stays whole from its first segment on: segments go oldest first, and a segment that
// must stay keeps every later one.
//   auto removed = ApplyRetention("/var/lib/acd", {.journal = absl::Hours(72)}, clock.Now());
#ifndef ACD_DAEMON_JOURNAL_RETENTION_H_
#define ACD_DAEMON_JOURNAL_RETENTION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace acd::daemon::journal {

struct RetentionPolicy {
  absl::Duration journal = absl::Hours(72);  // how long records are kept after they are covered
  int snapshots = 2;                         // how many snapshots stay (at least 1)
};

struct Removed {
  std::vector<std::string> segments;   // paths, oldest first
  std::vector<std::string> snapshots;  // paths
  uint64_t bytes = 0;                  // of both
};

absl::StatusOr<Removed> ApplyRetention(const std::string& dir, const RetentionPolicy& policy,
                                       absl::Time now);

}  // namespace acd::daemon::journal

#endif  // ACD_DAEMON_JOURNAL_RETENTION_H_
