// A core to and from a snapshot file: the core's parts (Core::SaveSnapshot) framed by
// daemon/journal/snapshot_file.h, after a head saying which journal record the state ends at and
// what recovery needs beside the core.
//   acd::journal::v1::SnapshotHead head;  head.set_sequence(journal.next_sequence() - 1); ...
//   absl::StatusOr<uint64_t> bytes = WriteSnapshot(core, head, temporary_path);
//   absl::StatusOr<LoadedSnapshot> loaded = LoadSnapshot(path, &observer);
#ifndef ACD_DAEMON_SNAPSHOT_IO_H_
#define ACD_DAEMON_SNAPSHOT_IO_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "acd/journal/v1/snapshot.pb.h"
#include "daemon/core.h"
#include "metrics/call_observer.h"

namespace acd::daemon {

// Writes `head` and `core`'s state to `path` (created or emptied) and syncs it; returns its size.
// The file is not yet published (see journal::PublishSnapshot).
absl::StatusOr<uint64_t> WriteSnapshot(const Core& core, const acd::journal::v1::SnapshotHead& head,
                                       const std::string& path);

struct LoadedSnapshot {
  std::unique_ptr<Core> core;
  acd::journal::v1::SnapshotHead head;
  uint64_t bytes = 0;
};
// The core a snapshot file holds, and its head. DATA_LOSS for a damaged or foreign file; the core
// must then be used on the calling thread.
absl::StatusOr<LoadedSnapshot> LoadSnapshot(const std::string& path,
                                            metrics::CallObserver* observer);

}  // namespace acd::daemon

#endif  // ACD_DAEMON_SNAPSHOT_IO_H_
