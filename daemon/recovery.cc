#include "daemon/recovery.h"

#include <atomic>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "daemon/core_input.h"
#include "daemon/journal_prefetch.h"
#include "daemon/journal/snapshot_file.h"
#include "daemon/snapshot_io.h"

namespace acd::daemon {
namespace {

std::atomic<uint64_t> replaying{0};

// Applies the records `prefetch` reads into `out` (whose core is null when the read starts at
// record 1: the first record creates it).
absl::StatusOr<journal::JournalScan> Replay(
    JournalPrefetch& prefetch, metrics::CallObserver* observer,
    const std::function<void(Core&, uint64_t)>& before_record, Recovered& out) {
  auto apply = [&](uint64_t sequence, const JournalInput& input) -> absl::Status {
    replaying.store(sequence, std::memory_order_relaxed);
    absl::Status answered;
    if (out.core == nullptr) {
      if (sequence != 1) {
        return absl::DataLossError(absl::StrCat(
            "journal: it begins at record ", sequence, ", the records before it "
            "having been removed as covered by a snapshot, and no snapshot can be used"));
      }
      absl::StatusOr<std::unique_ptr<Core>> core = CreateCore(input, observer);
      if (!core.ok()) return core.status();
      out.core = *std::move(core);
    } else {
      if (before_record) before_record(*out.core, sequence);
      // What the core answered was answered when the input was journaled.
      answered = ApplyInput(*out.core, input);
      if (answered.code() == absl::StatusCode::kDataLoss) {
        return absl::DataLossError(
            absl::StrCat("journal record ", sequence, ": ", answered.message()));
      }
    }
    FollowFilePolicy(input, answered, *out.core, &out.file_policy);
    out.last_time = TimeOf(input);
    (void)out.core->TakeCommands();  // they wait in the outboxes for the switches' reconnects
    (void)out.core->TakeNotices();   // logged when they happened
    ++out.replayed;
    return absl::OkStatus();
  };
  absl::Status applied;
  while (applied.ok()) {
    std::unique_ptr<JournalPrefetch::Batch> batch = prefetch.Next();
    if (batch == nullptr) break;
    for (const JournalPrefetch::Record& record : batch->records) {
      applied = apply(record.sequence, *record.input);
      if (!applied.ok()) break;
    }
  }
  replaying.store(0, std::memory_order_relaxed);
  if (!applied.ok()) return applied;  // the reader stops when prefetch goes
  return prefetch.Finish();
}

}  // namespace

uint64_t SequenceBeingReplayed() { return replaying.load(std::memory_order_relaxed); }

absl::StatusOr<Recovered> RecoverCore(const std::string& data_dir, journal::RecoverMode mode,
                                      metrics::CallObserver* observer, uint64_t stop_before,
                                      const std::function<void(Core&, uint64_t)>& before_record) {
  absl::StatusOr<std::vector<journal::SnapshotFile>> snapshots = journal::ListSnapshots(data_dir);
  if (!snapshots.ok()) return snapshots.status();
  std::vector<std::string> passed_over, damaged;
  for (const journal::SnapshotFile& snapshot : *snapshots) {
    if (snapshot.sequence >= stop_before) {
      passed_over.push_back(absl::StrCat("journal: snapshot ", snapshot.path,
                                         " passed over: it includes record ", stop_before,
                                         ", which --journal_stop_before leaves out"));
      continue;
    }
    // The journal after the snapshot is read and parsed on another thread while it loads.
    JournalPrefetch prefetch(data_dir, mode, snapshot.sequence + 1, stop_before);
    // How long loading takes is a figure for the operator's log, not an input: the steady clock.
    const auto load_started = std::chrono::steady_clock::now();
    absl::StatusOr<LoadedSnapshot> loaded = LoadSnapshot(snapshot.path, observer);
    const absl::Duration load_took =
        absl::FromChrono(std::chrono::steady_clock::now() - load_started);
    if (loaded.ok() && loaded->head.sequence() != snapshot.sequence) {
      loaded = absl::DataLossError(absl::StrCat("it holds the state at record ",
                                                loaded->head.sequence(), ", not the one its name says"));
    }
    if (!loaded.ok()) {
      passed_over.push_back(absl::StrCat("journal: snapshot ", snapshot.path, " passed over: ",
                                         loaded.status().message()));
      damaged.push_back(snapshot.path);
      continue;
    }
    Recovered out;
    out.core = std::move(loaded->core);
    if (loaded->head.has_file_policy()) out.file_policy = loaded->head.file_policy();
    out.last_time = absl::FromUnixMicros(loaded->head.time_unix_micros());
    out.snapshot_sequence = snapshot.sequence;
    out.snapshot_bytes = loaded->bytes;
    out.snapshot_load = load_took;
    absl::StatusOr<journal::JournalScan> scan = Replay(prefetch, observer, before_record, out);
    if (!scan.ok()) return scan.status();
    if (scan->segments == 0 || (scan->epoch == 0 && scan->last_sequence == snapshot.sequence)) {
      // No record beside it: no segment at all (a standby resynced from its leader's snapshot),
      // or only the empty one started right after it. The journal goes on from the record the
      // snapshot ends at, in that record's epoch.
      scan->last_sequence = snapshot.sequence;
      scan->epoch = loaded->head.epoch();
    }
    if (scan->last_sequence < snapshot.sequence) {
      // Appending would leave a gap after the journal's end: an older snapshot that the journal
      // does reach is the way back.
      passed_over.push_back(absl::StrCat("journal: snapshot ", snapshot.path,
                                         " passed over: the journal ends before it, at record ",
                                         scan->last_sequence));
      continue;
    }
    out.scan = *std::move(scan);
    out.notes = std::move(passed_over);
    out.damaged_snapshots = std::move(damaged);
    return out;
  }

  Recovered out;
  JournalPrefetch prefetch(data_dir, mode, 1, stop_before);
  absl::StatusOr<journal::JournalScan> scan = Replay(prefetch, observer, before_record, out);
  if (!scan.ok()) {
    if (passed_over.empty()) return scan.status();
    return absl::Status(scan.status().code(),
                        absl::StrCat(scan.status().message(), "; ", absl::StrJoin(passed_over, "; ")));
  }
  if (out.core == nullptr && (!snapshots->empty() || scan->last_sequence > 0)) {
    return absl::DataLossError(absl::StrCat(
        "journal: ", data_dir, " holds no record that creates the state (its journal begins at "
        "record ", scan->last_sequence + 1, ") and no snapshot it can start from",
        passed_over.empty() ? "" : ": ", absl::StrJoin(passed_over, "; ")));
  }
  out.scan = *std::move(scan);
  out.notes = std::move(passed_over);
  out.damaged_snapshots = std::move(damaged);
  return out;
}

}  // namespace acd::daemon
