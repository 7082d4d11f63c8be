// RecoverCore rebuilds acdd's core from a data dir: from the newest snapshot that loads (an older
// one when it is damaged), or else from the journal's first record, which creates it; the records
// after that are replayed into it through ApplyInput, in sequence, with their own times. Those
// records are read, checked and parsed on a second thread (JournalPrefetch), which starts while
// the snapshot is still loading; the calling thread applies them. It only reads the data dir; what the scan says must be cut (a torn last write; or, with
// RecoverMode::kTruncate, everything from a corrupt record on) the caller cuts with CutJournal
// before appending.
//   absl::StatusOr<Recovered> r = RecoverCore("/var/lib/acd", RecoverMode::kStop, &observer);
//   if (r.ok() && r->core == nullptr) ... an empty data dir: start a new journal
#ifndef ACD_DAEMON_RECOVERY_H_
#define ACD_DAEMON_RECOVERY_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "acd/v1/policy.pb.h"
#include "daemon/core.h"
#include "daemon/journal/journal_reader.h"
#include "metrics/call_observer.h"

namespace acd::daemon {

struct Recovered {
  std::unique_ptr<Core> core;  // null: the data dir holds no journal yet
  journal::JournalScan scan;
  // The policy the startup file (or the built-in one) gave the last time acdd started or
  // reloaded it, to tell whether the file changed while acdd was down.
  std::optional<acd::v1::Policy> file_policy;
  uint64_t replayed = 0;
  absl::Time last_time = absl::InfinitePast();  // of the last record replayed
  // The snapshot recovery started from, and its size; 0: it replayed the journal from its start.
  uint64_t snapshot_sequence = 0;
  uint64_t snapshot_bytes = 0;
  absl::Duration snapshot_load;  // how long loading it took
  // For the operator's log: snapshots passed over, and why.
  std::vector<std::string> notes;
  // Snapshots that did not load (damaged, foreign, or not the state their name says): acdd sets
  // them aside (journal::SetAsideSnapshot) so that retention never keeps one in place of a whole
  // one.
  std::vector<std::string> damaged_snapshots;
};

// The core must then be used on the calling thread (it was made there).
// Records from `stop_before` on are left out (and reported as to be cut).
// `before_record`, when given, runs before each record after the state's start is replayed into
// the core (the snapshot's core, or the one the first record created).
absl::StatusOr<Recovered> RecoverCore(
    const std::string& data_dir, journal::RecoverMode mode, metrics::CallObserver* observer,
    uint64_t stop_before = journal::kReadToTheEnd,
    const std::function<void(Core&, uint64_t sequence)>& before_record = nullptr);

// The sequence of the record being replayed on this process's recovery, 0 when none is: what a
// crash handler names, so that the operator can start past it (--journal_stop_before).
uint64_t SequenceBeingReplayed();

}  // namespace acd::daemon

#endif  // ACD_DAEMON_RECOVERY_H_
